/* Checkpoints of a training model (MindSpore .ckpt) and the ModelCheckpoint policies of seed 003:
 * when to save (steps or seconds), how files are named (PREFIX[_N]-EPOCH_STEP.ckpt,
 * PREFIX[_N]-graph.meta) and which are kept (keep_checkpoint_max, keep_checkpoint_per_n_minutes). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "format/ckpt.h"
#include "format/ms_write.h"
#include "runtime/session_internal.h"

#define CK_GLOBAL_STEP "global_step"
#define CK_LR "learning_rate"

/* --- model <-> checkpoint values ------------------------------------------------------------- */

/* Runtime conv weights are KHWC [O,H,W,I]; the source model (and MindSpore) has OIHW. */
static int is_khwc(const ir_tensor *t) { return t->format == IR_FMT_KHWC && t->ndim == 4; }

static void khwc_to_oihw(const uint8_t *src, uint8_t *dst, const int64_t *d, size_t es) {
  size_t O = (size_t)d[0], H = (size_t)d[1], W = (size_t)d[2], I = (size_t)d[3];
  for (size_t o = 0; o < O; o++)
    for (size_t h = 0; h < H; h++)
      for (size_t w = 0; w < W; w++)
        for (size_t i = 0; i < I; i++)
          memcpy(dst + (((o * I + i) * H + h) * W + w) * es, src + (((o * H + h) * W + w) * I + i) * es, es);
}

static void oihw_to_khwc(const uint8_t *src, uint8_t *dst, const int64_t *d, size_t es) {
  size_t O = (size_t)d[0], H = (size_t)d[1], W = (size_t)d[2], I = (size_t)d[3];
  for (size_t o = 0; o < O; o++)
    for (size_t h = 0; h < H; h++)
      for (size_t w = 0; w < W; w++)
        for (size_t i = 0; i < I; i++)
          memcpy(dst + (((o * H + h) * W + w) * I + i) * es, src + (((o * I + i) * H + h) * W + w) * es, es);
}

/* The shape a tensor has in a checkpoint. */
static void ckpt_dims(const ir_tensor *t, int64_t *dims) {
  for (int d = 0; d < t->ndim; d++) dims[d] = t->dims[d];
  if (is_khwc(t)) {
    dims[1] = t->dims[3];
    dims[2] = t->dims[1];
    dims[3] = t->dims[2];
  }
}

static int is_ckpt_param(const ir_tensor *t) { return t->kind == IR_TENSOR_PARAM && t->data && t->ndim >= 0; }

/* Serializes m's parameters, global step and learning rate into out. */
static tod_status model_to_ckpt(tod_model *m, int64_t global_step, pb_buf *out) {
  ir_graph *g = &m->g;
  int n = 0;
  for (int i = 0; i < g->n_tensors; i++) n += is_ckpt_param(&g->tensors[i]);
  ckpt_value *v = calloc((size_t)n + 2, sizeof *v);
  void **tmp = calloc((size_t)n + 1, sizeof *tmp);
  tod_status st = TOD_OK;
  if (!v || !tmp) st = session_fail(m, TOD_MEMORY_FAILED, "out of memory");
  int k = 0, has_gs = 0, has_lr = 0;
  for (int i = 0; st == TOD_OK && i < g->n_tensors; i++) {
    const ir_tensor *t = &g->tensors[i];
    if (!is_ckpt_param(t)) continue;
    if (!t->name || !t->name[0]) {
      st = session_fail(m, TOD_NOT_SUPPORT, "parameter tensor %d has no name: it cannot be checkpointed", i);
      break;
    }
    has_gs |= strcmp(t->name, CK_GLOBAL_STEP) == 0;
    has_lr |= strcmp(t->name, CK_LR) == 0;
    ckpt_value *cv = &v[k];
    cv->name = t->name;
    cv->dtype = t->dtype;
    cv->ndim = t->ndim;
    ckpt_dims(t, cv->dims);
    int64_t numel = ir_tensor_numel(t);
    size_t es = ir_dtype_size(t->dtype);
    cv->nbytes = numel < 0 ? 0 : (size_t)numel * es;
    if (cv->nbytes > t->nbytes) {
      st = session_fail(m, TOD_GRAPH_FILE_ERR, "parameter %s holds fewer bytes than its shape needs", t->name);
      break;
    }
    cv->data = t->data;
    if (is_khwc(t) && cv->nbytes) {
      tmp[k] = malloc(cv->nbytes);
      if (!tmp[k]) {
        st = session_fail(m, TOD_MEMORY_FAILED, "out of memory");
        break;
      }
      khwc_to_oihw(t->data, tmp[k], t->dims, es);
      cv->data = tmp[k];
    }
    k++;
  }
  int32_t gs32 = (int32_t)global_step;
  int64_t gs64 = global_step;
  float lr = tod_model_get_lr(m);
  if (st == TOD_OK && !has_gs) {
    ckpt_value *cv = &v[k++];
    cv->name = CK_GLOBAL_STEP;
    cv->ndim = 1;
    cv->dims[0] = 1;
    if (global_step >= INT32_MIN && global_step <= INT32_MAX) cv->dtype = IR_DT_INT32, cv->data = &gs32, cv->nbytes = 4;
    else cv->dtype = IR_DT_INT64, cv->data = &gs64, cv->nbytes = 8;
  }
  if (st == TOD_OK && !has_lr) {
    ckpt_value *cv = &v[k++];
    cv->name = CK_LR;
    cv->dtype = IR_DT_FLOAT32;
    cv->ndim = 1;
    cv->dims[0] = 1;
    cv->data = &lr;
    cv->nbytes = 4;
  }
  if (st == TOD_OK) {
    char err[512] = "";
    st = ckpt_serialize(v, k, out, err, sizeof err);
    if (st != TOD_OK) session_fail(m, st, "%s", err);
  }
  for (int i = 0; tmp && i < n; i++) free(tmp[i]);
  free(tmp);
  free(v);
  return st;
}

static tod_status write_durable(const char *path, const void *data, size_t len, char *err, size_t errlen) {
  tod_status st = tod_write_file_atomic(path, data, len, err, errlen);
  if (st == TOD_OK) st = ckpt_sync_dir_of(path, err, errlen);
  return st;
}

tod_status tod_model_save_checkpoint(tod_model *m, const char *path, int64_t global_step) {
  if (!m || !path) return TOD_NULL_PTR;
  if (!m->trainable) return session_fail(m, TOD_NOT_SUPPORT, "checkpoints hold a training model's parameters; this model has no optimizer");
  pb_buf b = {0};
  tod_status st = model_to_ckpt(m, global_step, &b);
  if (st == TOD_OK) {
    char err[512] = "";
    st = write_durable(path, b.data, b.len, err, sizeof err);
    if (st != TOD_OK) session_fail(m, st, "cannot save checkpoint: %s", err);
  }
  pb_buf_free(&b);
  return st;
}

static int has_param(const tod_model *m, const char *name) {
  for (int i = 0; i < m->g.n_tensors; i++)
    if (is_ckpt_param(&m->g.tensors[i]) && strcmp(m->g.tensors[i].name, name) == 0) return 1;
  return 0;
}

static int64_t scalar_int(const ckpt_value *v, int *ok) {
  int64_t n = 1;
  for (int d = 0; d < v->ndim; d++) n *= v->dims[d];
  *ok = n == 1 && (v->dtype == IR_DT_INT32 || v->dtype == IR_DT_INT64);
  if (!*ok) return 0;
  if (v->dtype == IR_DT_INT32) {
    int32_t x;
    memcpy(&x, v->data, 4);
    return x;
  }
  int64_t x;
  memcpy(&x, v->data, 8);
  return x;
}

tod_status tod_model_load_checkpoint(tod_model *m, const char *path, int64_t *global_step) {
  if (!m || !path) return TOD_NULL_PTR;
  if (global_step) *global_step = 0;
  if (!m->trainable)
    return session_fail(m, TOD_NOT_SUPPORT,
                        "checkpoints load into a training model (converter_lite --trainModel=true); "
                        "export it inference-only afterwards");
  ckpt_file f;
  char err[512] = "";
  tod_status st = ckpt_read_file(path, &f, err, sizeof err);
  if (st != TOD_OK) return session_fail(m, st, "cannot load checkpoint: %s", err);
  ir_graph *g = &m->g;
  /* Check everything before changing anything. */
  for (int i = 0; st == TOD_OK && i < g->n_tensors; i++) {
    const ir_tensor *t = &g->tensors[i];
    if (!is_ckpt_param(t)) continue;
    const ckpt_value *v = ckpt_find(&f, t->name);
    int64_t dims[IR_MAX_DIMS];
    ckpt_dims(t, dims);
    int same = v && v->dtype == t->dtype && v->ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = v->dims[d] == dims[d];
    if (!v)
      st = session_fail(m, TOD_INPUT_PARAM_INVALID, "checkpoint %s has no parameter %s: it is not a checkpoint of this model",
                        path, t->name);
    else if (!same || v->nbytes > t->nbytes)
      st = session_fail(m, TOD_INPUT_PARAM_INVALID, "checkpoint %s: parameter %s has another type or shape than the model's",
                        path, t->name);
  }
  int64_t gs = 0;
  const ckpt_value *gv = ckpt_find(&f, CK_GLOBAL_STEP);
  if (st == TOD_OK && gv) {
    int ok;
    gs = scalar_int(gv, &ok);
    if (!ok || gs < 0) st = session_fail(m, TOD_GRAPH_FILE_ERR, "checkpoint %s: bad global_step", path);
  }
  const ckpt_value *lv = ckpt_find(&f, CK_LR);
  float lr = -1.0f;
  if (st == TOD_OK && lv && lv->dtype == IR_DT_FLOAT32 && lv->nbytes == 4) memcpy(&lr, lv->data, 4);
  for (int i = 0; st == TOD_OK && i < g->n_tensors; i++) {
    ir_tensor *t = &g->tensors[i];
    if (!is_ckpt_param(t)) continue;
    const ckpt_value *v = ckpt_find(&f, t->name);
    if (is_khwc(t)) oihw_to_khwc(v->data, (uint8_t *)t->data, t->dims, ir_dtype_size(t->dtype));
    else if (v->nbytes) memcpy((void *)t->data, v->data, v->nbytes);
  }
  /* Micro-batches accumulated before the load belong to other weights. */
  if (st == TOD_OK && m->vstep > 0) {
    for (int i = 0; i < g->n_nodes; i++) free(m->grad_acc[i]), m->grad_acc[i] = NULL;
    m->vstep = 0;
  }
  if (st == TOD_OK && lr >= 0.0f && !has_param(m, CK_LR)) st = tod_model_set_lr(m, lr);
  ckpt_file_free(&f);
  if (st == TOD_OK && global_step) *global_step = gs;
  return st;
}

/* --- ModelCheckpoint ------------------------------------------------------------------------- */

typedef struct {
  char *path;
  int keeper; /* first file of its keep_checkpoint_per_n_minutes window */
} ck_file;

struct tod_checkpointer {
  tod_checkpoint_config cfg;
  char *dir, *prefix;
  double t0, last_time;
  int64_t last_trigger; /* step the step policy counts from */
  int64_t last_saved;   /* step of the last save (start step before any) */
  int64_t last_window;  /* keep_checkpoint_per_n_minutes window of the last keeper, -1 */
  int meta_written;
  ck_file *files;
  int n_files, cap_files;
  char last_path[4096];
  char err[512];
};

static tod_status ck_fail(tod_checkpointer *c, tod_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err, sizeof c->err, fmt, ap);
  va_end(ap);
  return st;
}

static double default_clock(void *ctx) {
  (void)ctx;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double ck_now(const tod_checkpointer *c) { return c->cfg.clock(c->cfg.clock_ctx); }

void tod_checkpoint_config_default(tod_checkpoint_config *c) {
  if (!c) return;
  memset(c, 0, sizeof *c);
  c->save_checkpoint_steps = 1;
  c->keep_checkpoint_max = 5;
  c->prefix = "checkpoint";
  c->directory = ".";
}

/* mkdir -p. */
static int make_dirs(const char *dir) {
  char p[4096];
  if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) return -1;
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    if (mkdir(p, 0755) != 0 && errno != EEXIST) return -1;
    *s = '/';
  }
  if (mkdir(p, 0755) != 0 && errno != EEXIST) return -1;
  struct stat sb;
  return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode) ? 0 : -1;
}

/* MindSpore's rule for a second run with the same prefix: among DIR's .ckpt files starting with
 * PREFIX followed by a non-letter, "PREFIX-..." counts as run 0 and "PREFIX_N-..." as run N; the
 * new run takes PREFIX_(max+1), or PREFIX when there is none. */
static int next_run_number(const char *dir, const char *prefix) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  size_t pl = strlen(prefix);
  int next = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *f = e->d_name;
    size_t fl = strlen(f);
    if (fl < 5 || strcmp(f + fl - 5, ".ckpt") != 0) continue;
    if (fl <= pl || strncmp(f, prefix, pl) != 0) continue;
    char ch = f[pl];
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) continue;
    const char *dash = strchr(f + pl, '-');
    if (!dash) continue;
    if (dash == f + pl) {
      if (next < 1) next = 1;
      continue;
    }
    if (f[pl] != '_') continue;
    const char *num = f + pl + 1;
    int all_digits = num < dash;
    for (const char *q = num; q < dash; q++) all_digits &= *q >= '0' && *q <= '9';
    if (!all_digits || dash - num > 9) continue;
    int v = atoi(num);
    if (v + 1 > next) next = v + 1;
  }
  closedir(d);
  return next;
}

tod_status tod_checkpointer_create(const tod_checkpoint_config *cfg, int64_t start_step, tod_checkpointer **out,
                                   char *err, size_t errlen) {
  char dummy[8];
  if (!err) err = dummy, errlen = sizeof dummy;
  if (!out) {
    snprintf(err, errlen, "no place for the checkpointer (out is NULL)");
    return TOD_NULL_PTR;
  }
  *out = NULL;
  tod_checkpoint_config def;
  if (!cfg) {
    tod_checkpoint_config_default(&def);
    cfg = &def;
  }
  const char *prefix = cfg->prefix && cfg->prefix[0] ? cfg->prefix : "checkpoint";
  const char *dir = cfg->directory && cfg->directory[0] ? cfg->directory : ".";
  if (strchr(prefix, '/')) {
    snprintf(err, errlen, "the checkpoint prefix must not contain '/': %s", prefix);
    return TOD_INPUT_PARAM_INVALID;
  }
  if (cfg->save_checkpoint_steps < 0 || cfg->save_checkpoint_seconds < 0 || cfg->keep_checkpoint_max < 0 ||
      cfg->keep_checkpoint_per_n_minutes < 0 || start_step < 0) {
    snprintf(err, errlen, "checkpoint policy values must be >= 0");
    return TOD_INPUT_PARAM_INVALID;
  }
  if (make_dirs(dir) != 0) {
    snprintf(err, errlen, "cannot create the checkpoint directory %s: %s", dir, strerror(errno));
    return TOD_ERROR;
  }
  tod_checkpointer *c = calloc(1, sizeof *c);
  if (!c) return TOD_MEMORY_FAILED;
  c->cfg = *cfg;
  if (!c->cfg.clock) c->cfg.clock = default_clock;
  int run = next_run_number(dir, prefix);
  size_t pl = strlen(prefix) + 16;
  c->dir = strdup(dir);
  c->prefix = malloc(pl);
  if (!c->dir || !c->prefix) {
    tod_checkpointer_free(c);
    return TOD_MEMORY_FAILED;
  }
  if (run > 0) snprintf(c->prefix, pl, "%s_%d", prefix, run);
  else snprintf(c->prefix, pl, "%s", prefix);
  c->cfg.prefix = c->prefix;
  c->cfg.directory = c->dir;
  c->t0 = c->last_time = ck_now(c);
  int n = c->cfg.save_checkpoint_steps;
  c->last_trigger = n > 0 ? start_step - start_step % n : start_step;
  c->last_saved = start_step;
  c->last_window = -1;
  *out = c;
  return TOD_OK;
}

void tod_checkpointer_free(tod_checkpointer *c) {
  if (!c) return;
  for (int i = 0; i < c->n_files; i++) free(c->files[i].path);
  free(c->files);
  free(c->dir);
  free(c->prefix);
  free(c);
}

const char *tod_checkpointer_prefix(const tod_checkpointer *c) { return c ? c->prefix : ""; }
const char *tod_checkpointer_last_path(const tod_checkpointer *c) { return c ? c->last_path : ""; }
const char *tod_checkpointer_error(const tod_checkpointer *c) { return c ? c->err : "no checkpointer"; }

static void drop_file(tod_checkpointer *c, int i) {
  if (unlink(c->files[i].path) != 0 && errno != ENOENT) { /* keep going: retention is best effort */
  }
  free(c->files[i].path);
  memmove(&c->files[i], &c->files[i + 1], sizeof *c->files * (size_t)(c->n_files - i - 1));
  c->n_files--;
}

/* Deletes the oldest files beyond keep_checkpoint_max, sparing the first file of every
 * keep_checkpoint_per_n_minutes window and always the newest. With no maximum but a window,
 * only the keepers and the newest stay. */
static void apply_retention(tod_checkpointer *c) {
  int max = c->cfg.keep_checkpoint_max;
  int windows = c->cfg.keep_checkpoint_per_n_minutes > 0;
  if (max > 0) {
    while (c->n_files > max) {
      int victim = -1;
      for (int i = 0; i < c->n_files - 1 && victim < 0; i++)
        if (!c->files[i].keeper) victim = i;
      if (victim < 0) break;
      drop_file(c, victim);
    }
  } else if (windows) {
    for (int i = c->n_files - 2; i >= 0; i--)
      if (!c->files[i].keeper) drop_file(c, i);
  }
}

static void names_for_step(const tod_checkpointer *c, int64_t gs, int64_t *epoch, int64_t *step) {
  int64_t spe = c->cfg.steps_per_epoch;
  if (spe <= 0 || gs <= 0) {
    *epoch = 1;
    *step = gs;
    return;
  }
  *epoch = (gs - 1) / spe + 1;
  *step = (gs - 1) % spe + 1;
}

tod_status tod_checkpointer_save(tod_checkpointer *c, tod_model *m, int64_t global_step) {
  if (!c || !m) return TOD_NULL_PTR;
  if (!m->trainable) return ck_fail(c, TOD_NOT_SUPPORT, "the model has no optimizer: nothing to checkpoint");
  char err[512] = "";
  tod_status st;
  if (!c->meta_written) {
    char meta[4096];
    snprintf(meta, sizeof meta, "%s/%s-graph.meta", c->dir, c->prefix);
    uint8_t *buf = NULL;
    size_t len = 0;
    st = ms_serialize(&m->g, &buf, &len, err, sizeof err);
    if (st == TOD_OK) st = write_durable(meta, buf, len, err, sizeof err);
    free(buf);
    if (st != TOD_OK) return ck_fail(c, st, "cannot write %s: %s", meta, err);
    c->meta_written = 1;
  }
  int64_t e, s;
  names_for_step(c, global_step, &e, &s);
  char path[4096];
  if (snprintf(path, sizeof path, "%s/%s-%lld_%lld.ckpt", c->dir, c->prefix, (long long)e, (long long)s) >=
      (int)sizeof path)
    return ck_fail(c, TOD_INPUT_PARAM_INVALID, "checkpoint path too long");
  pb_buf b = {0};
  st = model_to_ckpt(m, global_step, &b);
  if (st != TOD_OK) {
    pb_buf_free(&b);
    return ck_fail(c, st, "%s", tod_model_error(m));
  }
  st = write_durable(path, b.data, b.len, err, sizeof err);
  pb_buf_free(&b);
  if (st != TOD_OK) return ck_fail(c, st, "cannot save checkpoint: %s", err);
  double now = ck_now(c);
  c->last_time = now;
  c->last_saved = global_step;
  snprintf(c->last_path, sizeof c->last_path, "%s", path);
  /* Saving the same step twice rewrites its file: it stays one entry. */
  if (c->n_files > 0 && strcmp(c->files[c->n_files - 1].path, path) == 0) return TOD_OK;
  if (c->n_files == c->cap_files) {
    int cap = c->cap_files ? c->cap_files * 2 : 16;
    ck_file *nf = realloc(c->files, sizeof *nf * (size_t)cap);
    if (!nf) return ck_fail(c, TOD_MEMORY_FAILED, "out of memory");
    c->files = nf;
    c->cap_files = cap;
  }
  ck_file *f = &c->files[c->n_files];
  f->path = strdup(path);
  if (!f->path) return ck_fail(c, TOD_MEMORY_FAILED, "out of memory");
  f->keeper = 0;
  if (c->cfg.keep_checkpoint_per_n_minutes > 0) {
    int64_t w = (int64_t)floor((now - c->t0) / (c->cfg.keep_checkpoint_per_n_minutes * 60.0));
    if (w != c->last_window) {
      f->keeper = 1;
      c->last_window = w;
    }
  }
  c->n_files++;
  apply_retention(c);
  return TOD_OK;
}

tod_status tod_checkpointer_step_end(tod_checkpointer *c, tod_model *m, int64_t global_step) {
  if (!c || !m) return TOD_NULL_PTR;
  int due = 0;
  if (c->cfg.save_checkpoint_steps > 0) {
    due = global_step - c->last_trigger >= c->cfg.save_checkpoint_steps;
    if (due) c->last_trigger = global_step;
  } else if (c->cfg.save_checkpoint_seconds > 0) {
    due = ck_now(c) - c->last_time >= c->cfg.save_checkpoint_seconds;
  }
  return due ? tod_checkpointer_save(c, m, global_step) : TOD_OK;
}

tod_status tod_checkpointer_train_end(tod_checkpointer *c, tod_model *m, int64_t global_step) {
  if (!c || !m) return TOD_NULL_PTR;
  /* Nothing trained since the last save (or since the start of a resumed run). */
  if (global_step == c->last_saved) return TOD_OK;
  return tod_checkpointer_save(c, m, global_step);
}
