/* Request validation for tasks. Paths are checked twice: here at creation, and again by the
 * worker right before it converts, since the files may change in between. */
#include "service/tasks.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "service/text.h"

static int is_name_letter(uint32_t cp) {
  if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') || cp == '-' || cp == '_')
    return 1;
  /* CJK Unified Ideographs and extension A (seed 004 names are Chinese) */
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf);
}

int tod_task_name_valid(const char *name, char *err, size_t errlen) {
  size_t n = strlen(name);
  long chars = 0;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    size_t l = tod_utf8_decode(name + i, n - i, &cp);
    if (!l) {
      snprintf(err, errlen, "name is not valid UTF-8");
      return 0;
    }
    if (!is_name_letter(cp)) {
      snprintf(err, errlen, "name may hold only letters, digits, '-' and '_' (character %ld is not allowed)",
               chars + 1);
      return 0;
    }
    i += l;
    chars++;
  }
  if (chars < 1 || chars > TOD_NAME_MAX_CHARS) {
    snprintf(err, errlen, "name must be 1 to %d characters long, not %ld", TOD_NAME_MAX_CHARS, chars);
    return 0;
  }
  return 1;
}

static int inside(const char *root_real, const char *real) {
  size_t rl = strlen(root_real);
  if (rl == 1 && root_real[0] == '/') return real[0] == '/';
  return strncmp(real, root_real, rl) == 0 && (real[rl] == 0 || real[rl] == '/');
}

int tod_path_confine(const char *root_real, const char *rel, int must_exist, char *abs, char *norm, size_t n,
                     char *err, size_t errlen) {
  size_t len = strlen(rel);
  if (len == 0) {
    snprintf(err, errlen, "is empty");
    return 0;
  }
  if (len > TOD_PATH_MAX_BYTES) {
    snprintf(err, errlen, "is longer than %d bytes", TOD_PATH_MAX_BYTES);
    return 0;
  }
  if (tod_utf8_length(rel) < 0) {
    snprintf(err, errlen, "is not valid UTF-8");
    return 0;
  }
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)rel[i] < 0x20 || rel[i] == 0x7f) {
      snprintf(err, errlen, "holds a control character");
      return 0;
    }
  if (rel[0] == '/') {
    snprintf(err, errlen, "'%.200s' is absolute; give a path relative to --root", rel);
    return 0;
  }
  /* normalise: drop empty and "." components, refuse ".." even when it would stay inside */
  char clean[TOD_PATH_MAX_BYTES + 2];
  size_t cl = 0;
  for (const char *p = rel; *p;) {
    const char *e = strchr(p, '/');
    size_t cn = e ? (size_t)(e - p) : strlen(p);
    if (cn == 2 && p[0] == '.' && p[1] == '.') {
      snprintf(err, errlen, "'%.200s' holds '..'; paths may not climb out of their directory", rel);
      return 0;
    }
    if (cn && !(cn == 1 && p[0] == '.')) {
      if (cl) clean[cl++] = '/';
      memcpy(clean + cl, p, cn);
      cl += cn;
    }
    p += cn + (e ? 1 : 0);
  }
  clean[cl] = 0;
  if (!cl) strcpy(clean, ".");
  if (norm) snprintf(norm, n, "%s", clean);

  char joined[PATH_MAX * 2];
  snprintf(joined, sizeof joined, "%s/%s", root_real, clean);
  char real[PATH_MAX];
  if (realpath(joined, real)) {
    if (!inside(root_real, real)) {
      snprintf(err, errlen, "'%.200s' leaves --root through a symlink", rel);
      return 0;
    }
    if (strlen(real) >= n) {
      snprintf(err, errlen, "is too long");
      return 0;
    }
    snprintf(abs, n, "%s", real);
    return 1;
  }
  if (errno != ENOENT || must_exist) {
    snprintf(err, errlen, "'%.200s' %s", rel, errno == ENOENT ? "does not exist" : strerror(errno));
    return 0;
  }
  /* not there yet: the deepest existing ancestor must be inside, and nothing below it a symlink */
  char probe[PATH_MAX * 2];
  snprintf(probe, sizeof probe, "%s", joined);
  size_t rootlen = strlen(root_real);
  for (;;) {
    char *slash = strrchr(probe, '/');
    if (!slash || (size_t)(slash - probe) < rootlen) {
      snprintf(err, errlen, "'%.200s' cannot be resolved", rel);
      return 0;
    }
    struct stat st;
    if (lstat(probe, &st) == 0) {
      /* exists but realpath failed: a dangling symlink */
      snprintf(err, errlen, "'%.200s' goes through a symlink that points nowhere or outside --root", rel);
      return 0;
    }
    *slash = 0;
    if (realpath(probe[0] ? probe : "/", real)) {
      if (!inside(root_real, real)) {
        snprintf(err, errlen, "'%.200s' leaves --root through a symlink", rel);
        return 0;
      }
      struct stat ds;
      if (stat(real, &ds) != 0 || !S_ISDIR(ds.st_mode)) {
        snprintf(err, errlen, "'%.200s' goes through something that is not a directory", rel);
        return 0;
      }
      int w = snprintf(abs, n, "%s%s", real, joined + strlen(probe));
      if (w < 0 || (size_t)w >= n) {
        snprintf(err, errlen, "is too long");
        return 0;
      }
      return 1;
    }
    if (errno != ENOENT) {
      snprintf(err, errlen, "'%.200s': %s", rel, strerror(errno));
      return 0;
    }
  }
}

static const char *const model_exts[] = {".onnx", ".mindir", ".pb", ".caffemodel", ".tflite", ".pt", ".pth", NULL};

static const char *model_ext(const char *name) {
  const char *dot = strrchr(name, '.');
  if (!dot || dot == name) return NULL;
  for (const char *const *e = model_exts; *e; e++)
    if (strcasecmp(dot, *e) == 0) return *e;
  return NULL;
}

int tod_input_dir_check(const char *root_real, const char *rel, const tod_template *t, char *model_abs, size_t n,
                        char *err, size_t errlen) {
  char dir[PATH_MAX], why[512];
  if (!tod_path_confine(root_real, rel, 1, dir, NULL, sizeof dir, why, sizeof why)) {
    snprintf(err, errlen, "input_dir %s", why);
    return 0;
  }
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "input_dir '%.200s' is not a directory", rel);
    return 0;
  }
  DIR *d = opendir(dir);
  if (!d) {
    snprintf(err, errlen, "input_dir '%.200s' cannot be read: %s", rel, strerror(errno));
    return 0;
  }
  int found = 0, entries = 0, ok = 1;
  char names[256] = "", other[256] = "";
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (++entries > 10000) {
      snprintf(err, errlen, "input_dir '%.200s' holds more than 10000 entries", rel);
      ok = 0;
      break;
    }
    const char *ext = model_ext(e->d_name);
    if (!ext) continue; /* READMEs, configs and subdirectories are not model files */
    if (strcasecmp(ext, t->format) != 0) {
      if (!other[0]) snprintf(other, sizeof other, "%.200s", e->d_name);
      continue;
    }
    char path[PATH_MAX * 2], real[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (!realpath(path, real) || !inside(root_real, real)) {
      snprintf(err, errlen, "model file '%.200s' in input_dir is a symlink that points nowhere or outside --root",
               e->d_name);
      ok = 0;
      break;
    }
    if (stat(real, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (found++ == 0) snprintf(model_abs, n, "%s", real);
    snprintf(names + strlen(names), sizeof names - strlen(names), "%s%.100s", found > 1 ? ", " : "", e->d_name);
  }
  closedir(d);
  if (!ok) return 0;
  if (found == 0) {
    snprintf(err, errlen, "missing model file: input_dir '%.200s' holds no %s file; template %s takes exactly one", rel,
             t->format, t->id);
    return 0;
  }
  if (found > 1) {
    snprintf(err, errlen, "extra model files: input_dir '%.200s' holds %d %s files (%s); template %s takes exactly one",
             rel, found, t->format, names, t->id);
    return 0;
  }
  if (other[0]) {
    snprintf(err, errlen, "extra model file: '%s' in input_dir is not a %s file; template %s takes one %s file and no other model",
             other, t->format, t->id, t->format);
    return 0;
  }
  return 1;
}

static const char *const create_fields[] = {"name", "description", "template_id", "input_dir", "output_dir", "options",
                                            NULL};

static const cJSON *string_field(const cJSON *body, const char *key, int required, char *err, size_t errlen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
  if (!v || cJSON_IsNull(v)) {
    if (required) snprintf(err, errlen, "%s is required", key);
    return NULL;
  }
  if (!cJSON_IsString(v)) {
    snprintf(err, errlen, "%s must be a string", key);
    return NULL;
  }
  return v;
}

cJSON *tod_task_request_validate(const cJSON *body, const char *root_real, char *err, size_t errlen) {
  if (!cJSON_IsObject(body)) {
    snprintf(err, errlen, "the body must be a JSON object");
    return NULL;
  }
  for (const cJSON *f = body->child; f; f = f->next) {
    int known = 0;
    for (const char *const *k = create_fields; *k; k++) known |= strcmp(*k, f->string) == 0;
    if (!known) {
      snprintf(err, errlen, "unknown field '%.64s'", f->string);
      return NULL;
    }
    for (const cJSON *g = body->child; g != f; g = g->next)
      if (strcmp(g->string, f->string) == 0) {
        snprintf(err, errlen, "field '%.64s' is given twice", f->string);
        return NULL;
      }
  }
  char why[512];
  err[0] = 0;
  const cJSON *name = string_field(body, "name", 1, err, errlen);
  if (!name) return NULL;
  if (!tod_task_name_valid(name->valuestring, err, errlen)) return NULL;
  const cJSON *desc = string_field(body, "description", 0, err, errlen);
  if (!desc && err[0]) return NULL;
  if (desc) {
    long dl = tod_utf8_length(desc->valuestring);
    if (dl < 0 || dl > TOD_DESCRIPTION_MAX_CHARS) {
      snprintf(err, errlen, "description must be valid UTF-8 of at most %d characters", TOD_DESCRIPTION_MAX_CHARS);
      return NULL;
    }
    for (const char *p = desc->valuestring; *p; p++)
      if (((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f) {
        snprintf(err, errlen, "description holds a control character");
        return NULL;
      }
  }
  const cJSON *tid = string_field(body, "template_id", 1, err, errlen);
  if (!tid) return NULL;
  const tod_template *t = tod_template_find(tid->valuestring);
  if (!t) {
    snprintf(err, errlen, "unknown template '%.64s'", tid->valuestring);
    return NULL;
  }
  const cJSON *in = string_field(body, "input_dir", 1, err, errlen);
  if (!in) return NULL;
  const cJSON *out = string_field(body, "output_dir", 1, err, errlen);
  if (!out) return NULL;
  char in_abs[PATH_MAX], in_norm[PATH_MAX], out_abs[PATH_MAX], out_norm[PATH_MAX], model[PATH_MAX];
  if (!tod_path_confine(root_real, in->valuestring, 1, in_abs, in_norm, sizeof in_abs, why, sizeof why)) {
    snprintf(err, errlen, "input_dir %s", why);
    return NULL;
  }
  if (!tod_input_dir_check(root_real, in_norm, t, model, sizeof model, err, errlen)) return NULL;
  if (!tod_path_confine(root_real, out->valuestring, 0, out_abs, out_norm, sizeof out_abs, why, sizeof why)) {
    snprintf(err, errlen, "output_dir %s", why);
    return NULL;
  }
  struct stat st;
  if (stat(out_abs, &st) == 0 && !S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "output_dir '%.200s' exists and is not a directory", out_norm);
    return NULL;
  }
  char oerr[256];
  cJSON *opts = tod_template_options_resolve(t, cJSON_GetObjectItemCaseSensitive(body, "options"), oerr, sizeof oerr);
  if (!opts) {
    snprintf(err, errlen, "options: %s", oerr);
    return NULL;
  }
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "name", name->valuestring);
  cJSON_AddStringToObject(r, "description", desc ? desc->valuestring : "");
  cJSON_AddStringToObject(r, "template_id", t->id);
  cJSON_AddStringToObject(r, "input_dir", in_norm);
  cJSON_AddStringToObject(r, "output_dir", out_norm);
  cJSON_AddItemToObject(r, "options", opts);
  return r;
}
