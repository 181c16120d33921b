/* Every input that once broke a reader stays fixed (issue 10). tests/regress/<target>/ holds the
 * inputs a fuzzer (fuzz/fuzz_<target>.c) or a review found; each is replayed from an exact-size
 * heap copy (so ASan sees any read past its end) through the same reader and checks as the
 * fuzz target: refused with a status and a message, or accepted and valid; .ms inputs also
 * through tod_model_load (shapes, memory plan, kernels). The seeds of
 * fuzz/corpus/<target>/ (real files our tools, numpy and onnx wrote) must all be accepted. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert/train_config.h"
#include "format/ckpt.h"
#include "format/ms_read.h"
#include "format/npy.h"
#include "import/mindir.h"
#include "import/onnx.h"
#include "ir/ir.h"
#include "tod/convert.h"
#include "tod/tod.h"
#include "test_file.h"

static int failures, replayed, seeds;
#define CHECK(cond, ...)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);      \
      fprintf(stderr, __VA_ARGS__);                                                 \
      fprintf(stderr, "\n");                                                        \
      failures++;                                                                   \
    }                                                                               \
  } while (0)

/* A graph a reader accepted: valid, and every byte it claims readable. */
static int graph_ok(const ir_graph *g) {
  char msg[256];
  volatile uint8_t sink = 0;
  for (int i = 0; i < g->n_tensors; i++) {
    const ir_tensor *t = &g->tensors[i];
    if (t->nbytes && !t->data) return 0;
    for (size_t k = 0; k < t->nbytes; k++) sink ^= ((const uint8_t *)t->data)[k];
  }
  (void)sink;
  return ir_validate(g, msg, sizeof msg) == TOD_OK;
}

/* "passes": the whole ONNX conversion (import, passes, writer) from a temporary file. Accepted:
 * the .ms it wrote must read back as a valid graph; refused: no output file may remain. */
static tod_status convert_bytes(const uint8_t *d, size_t n, char *err, size_t errlen) {
  const char *tmp = getenv("TMPDIR");
  char in[4096], out[4200];
  snprintf(in, sizeof in, "%s/tod_regress_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  int fd = mkstemp(in);
  if (fd < 0) {
    snprintf(err, errlen, "mkstemp failed");
    return TOD_ERROR;
  }
  int wrote = n == 0 || write(fd, d, n) == (ssize_t)n;
  close(fd);
  snprintf(out, sizeof out, "%s.ms", in);
  tod_status st = TOD_ERROR;
  if (wrote) {
    tod_convert_options o;
    tod_convert_options_init(&o);
    o.model_file = in;
    o.output_file = out;
    st = tod_convert(&o, err, errlen);
  } else {
    snprintf(err, errlen, "cannot write %s", in);
  }
  size_t len = 0;
  uint8_t *ms = test_read_file(out, &len);
  if (st == TOD_OK) {
    ir_graph g;
    ir_graph_init(&g);
    char e[512];
    if (!ms || ms_read(ms, len, &g, e, sizeof e) != TOD_OK || !graph_ok(&g)) st = TOD_ERROR - 1000;
    ir_graph_free(&g);
  } else if (ms) {
    st = TOD_ERROR - 1000; /* a refused conversion left a file behind */
  }
  free(ms);
  unlink(out);
  unlink(in);
  return st;
}

/* Runs one input through the reader of target; returns the status, err holds the message. */
static tod_status replay(const char *target, const uint8_t *d, size_t n, char *err, size_t errlen) {
  err[0] = 0;
  tod_status st = TOD_NOT_SUPPORT;
  if (strcmp(target, "onnx") == 0 || strcmp(target, "ms") == 0 || strcmp(target, "mindir") == 0) {
    /* MINDIR: inference and training import; accepted when either mode accepts */
    int modes = strcmp(target, "mindir") == 0 ? 2 : 1, ok = 0;
    for (int mode = 0; mode < modes; mode++) {
      ir_graph g;
      ir_graph_init(&g);
      char e[512] = "";
      tod_status s = target[0] == 'o'   ? onnx_import(d, n, NULL, &g, e, sizeof e)
                     : target[1] == 's' ? ms_read(d, n, &g, e, sizeof e)
                                        : mindir_import(d, n, NULL, mode, &g, e, sizeof e);
      int valid = s != TOD_OK || graph_ok(&g);
      ir_graph_free(&g);
      if (!valid) return TOD_ERROR - 1000; /* accepted an invalid graph */
      if (s == TOD_OK) ok = 1;
      else if (mode == 0 || !err[0]) st = s, snprintf(err, errlen, "%s", e);
    }
    if (ok) st = TOD_OK;
  } else if (strcmp(target, "ckpt") == 0) {
    ckpt_file f;
    st = ckpt_parse(d, n, &f, err, errlen);
    for (int i = 0; st == TOD_OK && i < f.n; i++) {
      const uint8_t *p = f.values[i].data;
      if (f.values[i].nbytes && (p < d || p + f.values[i].nbytes > d + n)) st = TOD_ERROR - 1000;
    }
    ckpt_file_free(&f);
  } else if (strcmp(target, "npy") == 0) {
    tod_npy a;
    st = tod_npy_parse(d, n, "regress.npy", &a, err, errlen);
    if (st == TOD_OK) {
      size_t numel = 1;
      for (int i = 0; i < a.ndim; i++) numel *= (size_t)a.dims[i];
      if (numel * ir_dtype_size(a.dtype) != a.nbytes) st = TOD_ERROR - 1000;
      tod_npy_free(&a);
    }
  } else if (strcmp(target, "passes") == 0) {
    st = convert_bytes(d, n, err, errlen);
  } else if (strcmp(target, "config") == 0) {
    tod_train_config c;
    tod_train_config_init(&c);
    st = tod_train_config_parse(&c, (const char *)d, n, err, errlen);
    tod_train_config_free(&c);
  }
  return st;
}

static void run_dir(const char *root, const char *sub, const char *target, int must_accept) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/%s/%s", root, sub, target);
  DIR *dp = opendir(dir);
  if (!dp) return;
  struct dirent *e;
  while ((e = readdir(dp))) {
    if (e->d_name[0] == '.' || strcmp(e->d_name, "README.md") == 0) continue;
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    size_t n;
    uint8_t *d = test_read_file(path, &n);
    CHECK(d != NULL, "cannot read %s", path);
    if (!d) continue;
    char err[512];
    tod_status st = replay(target, d, n, err, sizeof err);
    CHECK(st > TOD_ERROR - 1000, "%s: accepted but invalid", path);
    if (must_accept) {
      CHECK(st == TOD_OK, "seed %s refused: %d %s", path, st, err);
      seeds++;
    } else {
      CHECK(st == TOD_OK || err[0], "%s: refused (%d) without a message", path, st);
      replayed++;
    }
    if (strcmp(target, "ms") == 0) {
      /* the whole runtime load (shapes, memory plan, kernels) without a memory limit */
      tod_model *m = NULL;
      tod_options o = {.num_threads = 1};
      err[0] = 0;
      st = tod_model_load(path, &o, &m, err, sizeof err);
      CHECK(st == TOD_OK || (m == NULL && err[0]), "%s: tod_model_load %d without a message", path, st);
      if (must_accept) CHECK(st == TOD_OK, "seed %s: tod_model_load %d %s", path, st, err);
      tod_model_free(m);
    }
    free(d);
  }
  closedir(dp);
}

int main(void) {
  const char *src = getenv("TOD_SOURCE");
  if (!src) src = ".";
  static const char *const targets[] = {"onnx", "ms", "mindir", "ckpt", "npy", "config", "passes"};
  for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
    run_dir(src, "fuzz/corpus", targets[i], 1);
    run_dir(src, "tests/regress", targets[i], 0);
  }
  CHECK(seeds >= 20, "only %d seeds found under %s/fuzz/corpus", seeds, src);
  printf("%d seeds accepted, %d regression inputs replayed\n", seeds, replayed);
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("all checks passed\n");
  return 0;
}
