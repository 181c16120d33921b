/* The converter's config file: `[section]` headers, `key=value` lines, `#` or `;` comments. */
#include "convert/train_config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/file_io.h"

void tod_train_config_init(tod_train_config *c) {
  memset(c, 0, sizeof *c);
  ir_train_spec_init(&c->spec);
  c->bit_num = -1;
  c->min_quant_weight_size = c->min_quant_weight_channel = -1;
}

/* [common_quant_param] keys (MindSpore Lite's names and ranges, ms-quant.md §6). */
static tod_status set_quant_key(tod_train_config *c, const char *k, const char *v, int line, char *err,
                                size_t errlen) {
  if (strcmp(k, "quant_type") == 0) {
    if (strcmp(v, "WEIGHT_QUANT") == 0) {
      c->quant_weight = 1;
      return TOD_OK;
    }
    if (strcmp(v, "FULL_QUANT") == 0 || strcmp(v, "DYNAMIC_QUANT") == 0) {
      snprintf(err, errlen, "config line %d: quant_type=%s is not supported (only WEIGHT_QUANT)", line, v);
      return TOD_NOT_SUPPORT;
    }
    snprintf(err, errlen, "config line %d: key 'quant_type' has an unknown value '%s' (WEIGHT_QUANT)", line, v);
    return TOD_PARAM_INVALID;
  }
  long lo = 0, hi = 65535, *dst = NULL;
  if (strcmp(k, "bit_num") == 0) lo = 1, hi = 16;
  else if (strcmp(k, "min_quant_weight_size") == 0) dst = &c->min_quant_weight_size;
  else if (strcmp(k, "min_quant_weight_channel") == 0) dst = &c->min_quant_weight_channel;
  else {
    snprintf(err, errlen,
             "config line %d: unknown key '%s' in [common_quant_param] (known: quant_type, bit_num, "
             "min_quant_weight_size, min_quant_weight_channel)",
             line, k);
    return TOD_PARAM_INVALID;
  }
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || *end || x < lo || x > hi) {
    if (!dst && strcmp(v, "0") == 0) {
      snprintf(err, errlen, "config line %d: bit_num=0 (mixed bit) is not supported", line);
      return TOD_NOT_SUPPORT;
    }
    snprintf(err, errlen, "config line %d: key '%s' must be an integer in [%ld, %ld], not '%s'", line, k, lo, hi, v);
    return TOD_PARAM_INVALID;
  }
  if (dst) *dst = x;
  else c->bit_num = (int)x;
  return TOD_OK;
}

void tod_train_config_free(tod_train_config *c) {
  for (int i = 0; i < c->n_globs; i++) free(c->globs[i]);
  free(c->globs);
  for (int i = 0; i < c->n_quant; i++) {
    free(c->quant[i].key);
    free(c->quant[i].value);
  }
  free(c->quant);
  memset(c, 0, sizeof *c);
}

static char *dup_range(const char *a, const char *b) {
  char *s = malloc((size_t)(b - a) + 1);
  if (!s) return NULL;
  memcpy(s, a, (size_t)(b - a));
  s[b - a] = 0;
  return s;
}

static void trim(const char **a, const char **b) {
  while (*a < *b && isspace((unsigned char)**a)) (*a)++;
  while (*b > *a && isspace((unsigned char)(*b)[-1])) (*b)--;
}

static int parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (!*s || *end || errno || !isfinite(v)) return 0;
  *out = v;
  return 1;
}

/* Comma-separated globs; `which` 0 = trainable, 1 = frozen. Rebuilds the spec's arrays so that
 * trainable globs come first in c->globs. */
static tod_status add_globs(tod_train_config *c, const char *v, int which, char *err, size_t errlen,
                            int line) {
  /* Keep the two lists separately while parsing: count existing ones. */
  int nt = c->spec.n_trainable, nf = c->spec.n_frozen;
  int add = 0;
  for (const char *p = v;;) {
    const char *q = strchr(p, ',');
    const char *e = q ? q : p + strlen(p);
    const char *a = p, *b = e;
    trim(&a, &b);
    if (a == b) {
      snprintf(err, errlen, "config line %d: key '%s' has an empty glob", line, which ? "frozen" : "trainable");
      return TOD_PARAM_INVALID;
    }
    add++;
    if (!q) break;
    p = q + 1;
  }
  char **ng = realloc(c->globs, sizeof(char *) * (size_t)(c->n_globs + add));
  if (!ng) return TOD_MEMORY_FAILED;
  c->globs = ng;
  /* New entries go at the end of their list: trainable ones before the frozen block. */
  int pos = which == 0 ? nt : nt + nf;
  memmove(c->globs + pos + add, c->globs + pos, sizeof(char *) * (size_t)(c->n_globs - pos));
  int k = pos;
  for (const char *p = v;;) {
    const char *q = strchr(p, ',');
    const char *e = q ? q : p + strlen(p);
    const char *a = p, *b = e;
    trim(&a, &b);
    c->globs[k] = dup_range(a, b);
    if (!c->globs[k]) {
      /* Keep the array consistent: fill the rest with empty strings that match nothing. */
      for (int j = k; j < pos + add; j++) c->globs[j] = NULL;
      c->n_globs += add;
      return TOD_MEMORY_FAILED;
    }
    k++;
    if (!q) break;
    p = q + 1;
  }
  c->n_globs += add;
  if (which == 0) nt += add;
  else nf += add;
  c->spec.trainable = (const char *const *)c->globs;
  c->spec.n_trainable = nt;
  c->spec.frozen = (const char *const *)(c->globs + nt);
  c->spec.n_frozen = nf;
  return TOD_OK;
}

static tod_status set_train_key(tod_train_config *c, const char *k, const char *v, int line,
                                char *err, size_t errlen) {
  ir_train_spec *s = &c->spec;
  double d;
  if (strcmp(k, "loss") == 0) {
    if (strcmp(v, "softmax_cross_entropy") == 0) s->loss = IR_LOSS_SOFTMAX_CE;
    else if (strcmp(v, "mse") == 0) s->loss = IR_LOSS_MSE;
    else if (strcmp(v, "binary_cross_entropy") == 0) s->loss = IR_LOSS_BCE_LOGITS;
    else goto bad_value;
    return TOD_OK;
  }
  if (strcmp(k, "label_type") == 0) {
    if (strcmp(v, "class") == 0) s->label_type = IR_LABEL_CLASS;
    else if (strcmp(v, "onehot") == 0) s->label_type = IR_LABEL_ONEHOT;
    else goto bad_value;
    return TOD_OK;
  }
  if (strcmp(k, "optimizer") == 0) {
    if (strcmp(v, "sgd") == 0) s->optimizer = IR_OPT_SGD;
    else if (strcmp(v, "momentum") == 0) s->optimizer = IR_OPT_MOMENTUM;
    else if (strcmp(v, "nesterov") == 0) s->optimizer = IR_OPT_NESTEROV;
    else if (strcmp(v, "adam") == 0) s->optimizer = IR_OPT_ADAM;
    else if (strcmp(v, "adamw") == 0) s->optimizer = IR_OPT_ADAMW;
    else goto bad_value;
    return TOD_OK;
  }
  if (strcmp(k, "trainable") == 0) return add_globs(c, v, 0, err, errlen, line);
  if (strcmp(k, "frozen") == 0) return add_globs(c, v, 1, err, errlen, line);
  /* Numeric hyper-parameters with their valid ranges (torch.optim's checks). */
  static const struct {
    const char *key;
    size_t off;
    double lo, hi;
    int lo_open, hi_open;
  } nums[] = {
      {"learning_rate", offsetof(ir_train_spec, learning_rate), 0, INFINITY, 0, 1},
      {"momentum", offsetof(ir_train_spec, momentum), 0, 1, 0, 1},
      {"beta1", offsetof(ir_train_spec, beta1), 0, 1, 0, 1},
      {"beta2", offsetof(ir_train_spec, beta2), 0, 1, 0, 1},
      {"epsilon", offsetof(ir_train_spec, epsilon), 0, INFINITY, 0, 1},
      {"weight_decay", offsetof(ir_train_spec, weight_decay), 0, INFINITY, 0, 1},
  };
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
    if (strcmp(k, nums[i].key) != 0) continue;
    if (!parse_double(v, &d) || d < nums[i].lo || (nums[i].hi_open ? d >= nums[i].hi : d > nums[i].hi)) {
      snprintf(err, errlen, "config line %d: key '%s' must be a number in [%g, %g), not '%s'", line, k,
               nums[i].lo, nums[i].hi, v);
      return TOD_PARAM_INVALID;
    }
    *(double *)((char *)s + nums[i].off) = d;
    return TOD_OK;
  }
  snprintf(err, errlen,
           "config line %d: unknown key '%s' in [train] (known: loss, label_type, optimizer, learning_rate, "
           "momentum, beta1, beta2, epsilon, weight_decay, trainable, frozen)",
           line, k);
  return TOD_PARAM_INVALID;
bad_value:
  snprintf(err, errlen, "config line %d: key '%s' has an unknown value '%s'", line, k, v);
  return TOD_PARAM_INVALID;
}

tod_status tod_train_config_parse(tod_train_config *c, const char *text, size_t len, char *err,
                                  size_t errlen) {
  enum { SEC_NONE, SEC_TRAIN, SEC_QUANT } sec = SEC_NONE;
  const char *p = text, *end = text + len;
  int line = 0;
  char key[128], val[4096];
  while (p < end) {
    const char *e = memchr(p, '\n', (size_t)(end - p));
    if (!e) e = end;
    line++;
    const char *a = p, *b = e;
    p = e < end ? e + 1 : end;
    trim(&a, &b);
    if (a == b || *a == '#' || *a == ';') continue;
    if (*a == '[') {
      if (b[-1] != ']') {
        snprintf(err, errlen, "config line %d: malformed section header", line);
        return TOD_PARAM_INVALID;
      }
      const char *na = a + 1, *nb = b - 1;
      trim(&na, &nb);
      size_t n = (size_t)(nb - na);
      if (n == 5 && memcmp(na, "train", 5) == 0) {
        sec = SEC_TRAIN;
        c->has_train = 1;
      } else if (n == 18 && memcmp(na, "common_quant_param", 18) == 0) {
        sec = SEC_QUANT;
        c->has_quant = 1;
      } else {
        snprintf(err, errlen, "config line %d: unknown section [%.*s] (known: [train], [common_quant_param])",
                 line, (int)(n > 100 ? 100 : n), na);
        return TOD_PARAM_INVALID;
      }
      continue;
    }
    const char *eq = memchr(a, '=', (size_t)(b - a));
    if (!eq) {
      snprintf(err, errlen, "config line %d: expected key=value", line);
      return TOD_PARAM_INVALID;
    }
    const char *ka = a, *kb = eq, *va = eq + 1, *vb = b;
    trim(&ka, &kb);
    trim(&va, &vb);
    if (ka == kb || (size_t)(kb - ka) >= sizeof key || (size_t)(vb - va) >= sizeof val) {
      snprintf(err, errlen, "config line %d: bad key or value length", line);
      return TOD_PARAM_INVALID;
    }
    memcpy(key, ka, (size_t)(kb - ka));
    key[kb - ka] = 0;
    memcpy(val, va, (size_t)(vb - va));
    val[vb - va] = 0;
    if (sec == SEC_NONE) {
      snprintf(err, errlen, "config line %d: key '%s' outside a section", line, key);
      return TOD_PARAM_INVALID;
    }
    if (!val[0]) {
      snprintf(err, errlen, "config line %d: key '%s' has an empty value", line, key);
      return TOD_PARAM_INVALID;
    }
    tod_status st;
    if (sec == SEC_TRAIN) {
      st = set_train_key(c, key, val, line, err, errlen);
    } else {
      tod_config_kv *q = realloc(c->quant, sizeof *q * (size_t)(c->n_quant + 1));
      if (!q) return TOD_MEMORY_FAILED;
      c->quant = q;
      q[c->n_quant].key = strdup(key);
      q[c->n_quant].value = strdup(val);
      c->n_quant++;
      st = q[c->n_quant - 1].key && q[c->n_quant - 1].value ? TOD_OK : TOD_MEMORY_FAILED;
      if (st == TOD_OK) st = set_quant_key(c, key, val, line, err, errlen);
    }
    if (st == TOD_MEMORY_FAILED) snprintf(err, errlen, "out of memory reading the config file");
    if (st != TOD_OK) return st;
  }
  return TOD_OK;
}

tod_status tod_train_config_load(tod_train_config *c, const char *path, char *err, size_t errlen) {
  tod_mapped_file f;
  tod_status st = tod_map_file(path, &f, err, errlen);
  if (st != TOD_OK) {
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", err);
    snprintf(err, errlen, "--configFile: %s", tmp);
    return TOD_PARAM_INVALID;
  }
  st = tod_train_config_parse(c, (const char *)f.data, f.size, err, errlen);
  if (st == TOD_PARAM_INVALID) {
    char tmp[900];
    snprintf(tmp, sizeof tmp, "%s", err);
    snprintf(err, errlen, "%s: %s", path, tmp);
  }
  tod_unmap_file(&f);
  return st;
}
