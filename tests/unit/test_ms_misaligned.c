/* test_ms_load_from_misaligned_buffer: MindSpore Lite's own lenet_tod_infer.ms, placed at every
 * offset 0..7 of a buffer, reads into the same graph (ms_read: constant data of any alignment
 * ends up at an address suited to its dtype, byte for byte the file's) and runs through
 * tod_model_load_buffer to exactly the outputs of the mmap'd file (tod_model_load, which the
 * PyTorch fixture test holds against PyTorch). A training model (lenet_tod.ms) loaded from a
 * misaligned buffer trains on its own copy: the caller's bytes stay unchanged and the step's
 * loss equals the mmap'd model's. On 32-bit Arm this runs under qemu, where an unaligned
 * float load would fault. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/ms_read.h"
#include "ir/ir.h"
#include "tod/tod.h"
#include "test_file.h"

static int failures = 0;
#define CHECK(c, ...)                                                                              \
  do {                                                                                             \
    if (!(c)) {                                                                                    \
      printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                  \
      printf(__VA_ARGS__);                                                                         \
      printf("\n");                                                                                \
      failures++;                                                                                  \
    }                                                                                              \
  } while (0)

/* Runs batch 2 of x through m; copies output 0 (10 floats per image) into y. */
static int infer(tod_model *m, const float *x, float *y) {
  if (tod_model_set_input(m, 0, x, 2 * 32 * 32 * sizeof(float)) != TOD_OK) return -1;
  if (tod_model_run(m) != TOD_OK) return -1;
  const void *out;
  size_t nb;
  if (tod_model_output(m, 0, &out, &nb) != TOD_OK || nb != 20 * sizeof(float)) return -1;
  memcpy(y, out, nb);
  return 0;
}

static void check_graph(const uint8_t *file, size_t size, const ir_graph *ref, int off) {
  uint8_t *block = malloc(size + 16);
  memcpy(block + off, file, size);
  ir_graph g;
  char err[256];
  tod_status st = ms_read(block + off, size, &g, err, sizeof err);
  CHECK(st == TOD_OK, "offset %d: ms_read failed: %s", off, err);
  if (st != TOD_OK) {
    free(block);
    return;
  }
  CHECK(g.n_tensors == ref->n_tensors && g.n_nodes == ref->n_nodes, "offset %d: graph differs", off);
  int consts = 0;
  for (int i = 0; i < g.n_tensors && i < ref->n_tensors; i++) {
    const ir_tensor *t = &g.tensors[i], *r = &ref->tensors[i];
    if (!t->data) continue;
    consts++;
    size_t es = ir_dtype_size(t->dtype);
    CHECK(es == 0 || (uintptr_t)t->data % es == 0, "offset %d: tensor %s data at %p, dtype size %zu",
          off, t->name, (const void *)t->data, es);
    CHECK(t->nbytes == r->nbytes && memcmp(t->data, r->data, t->nbytes) == 0,
          "offset %d: tensor %s bytes differ", off, t->name);
  }
  CHECK(consts >= 10, "offset %d: only %d constant tensors", off, consts);
  ir_graph_free(&g);
  free(block);
}

int main(void) {
  const char *shared = getenv("TOD_SHARED");
  char path[1024], train_path[1024], xpath[1024];
  snprintf(path, sizeof path, "%s/fixtures/mindspore/lenet_tod_infer.ms", shared ? shared : "../shared");
  snprintf(train_path, sizeof train_path, "%s/fixtures/mindspore/lenet_tod.ms", shared ? shared : "../shared");
  snprintf(xpath, sizeof xpath, "%s/fixtures/mindspore/x_lenet.bin", shared ? shared : "../shared");
  size_t size = 0, xsize = 0, tsize = 0;
  uint8_t *file = test_read_file(path, &size), *xs = test_read_file(xpath, &xsize);
  uint8_t *tfile = test_read_file(train_path, &tsize);
  if (!file || !xs || !tfile || xsize < 32 * 32 * 32 * 4) {
    printf("FAIL cannot read the fixtures under %s\n", shared ? shared : "../shared");
    return 1;
  }
  float x[2 * 32 * 32];
  memcpy(x, xs + 4 * 32 * 32 * 4, sizeof x); /* images 4 and 5 */

  /* Reference: the file mapped by tod_model_load (page-aligned). */
  char err[512];
  tod_model *ref = NULL;
  tod_status st = tod_model_load(path, NULL, &ref, err, sizeof err);
  CHECK(st == TOD_OK, "tod_model_load: %s", err);
  float want[20];
  CHECK(ref && infer(ref, x, want) == 0, "reference run failed");
  ir_graph gref;
  CHECK(ms_read(file, size, &gref, err, sizeof err) == TOD_OK, "ms_read (aligned): %s", err);

  for (int off = 0; off < 8; off++) {
    check_graph(file, size, &gref, off);
    uint8_t *block = malloc(size + 16);
    memcpy(block + off, file, size);
    tod_model *m = NULL;
    st = tod_model_load_buffer(block + off, size, NULL, &m, err, sizeof err);
    CHECK(st == TOD_OK, "offset %d: tod_model_load_buffer: %s", off, err);
    float got[20];
    if (st == TOD_OK) {
      CHECK(infer(m, x, got) == 0, "offset %d: run failed: %s", off, tod_model_error(m));
      CHECK(memcmp(got, want, sizeof got) == 0, "offset %d: outputs differ from the mmap'd model (%g vs %g)",
            off, got[0], want[0]);
      tod_model_free(m);
    }
    free(block);
  }
  ir_graph_free(&gref);
  tod_model_free(ref);

  /* A training model from a misaligned buffer: one step, the same loss, the buffer untouched. */
  tod_model *tref = NULL, *tm = NULL;
  uint8_t *tblock = malloc(tsize + 16);
  memcpy(tblock + 3, tfile, tsize);
  st = tod_model_load(train_path, NULL, &tref, err, sizeof err);
  CHECK(st == TOD_OK, "tod_model_load(lenet_tod.ms): %s", err);
  st = tod_model_load_buffer(tblock + 3, tsize, NULL, &tm, err, sizeof err);
  CHECK(st == TOD_OK, "tod_model_load_buffer(lenet_tod.ms): %s", err);
  if (tref && tm) {
    float loss[2] = {0, 0};
    int32_t labels[32];
    for (int i = 0; i < 32; i++) labels[i] = i % 10;
    tod_model *ms[2] = {tref, tm};
    for (int k = 0; k < 2; k++) {
      CHECK(tod_model_is_trainable(ms[k]), "model %d is not trainable", k);
      CHECK(tod_model_set_input(ms[k], 0, xs, 32 * 32 * 32 * 4) == TOD_OK, "set_input: %s", tod_model_error(ms[k]));
      CHECK(tod_model_set_input(ms[k], 1, labels, sizeof labels) == TOD_OK, "set labels: %s", tod_model_error(ms[k]));
      CHECK(tod_model_train_step(ms[k], &loss[k]) == TOD_OK, "train step: %s", tod_model_error(ms[k]));
    }
    CHECK(loss[0] == loss[1] && loss[0] > 0, "losses differ: %g (mmap) vs %g (buffer)", loss[0], loss[1]);
    CHECK(memcmp(tblock + 3, tfile, tsize) == 0, "training wrote into the caller's buffer");
  }
  tod_model_free(tref);
  tod_model_free(tm);
  free(tblock);
  free(file);
  free(tfile);
  free(xs);
  if (failures) {
    printf("%d check(s) failed\n", failures);
    return 1;
  }
  printf("ok: lenet_tod_infer.ms at offsets 0..7 reads and runs as the mmap'd file; training from a buffer copies it\n");
  return 0;
}
