/* Deferred weights (src/ir/deferred.c) and filled flatbuffer vectors: the KCHW -> KHWC relayout
 * against its definition dst[o][hw][i] = src[o][i][hw] for every tile shape (full 8 x 8 tiles,
 * edges, 1x1, depthwise) from unaligned sources; ir_tensor_fill at any offset and length (partial
 * output channels included); settling and cloning a deferred tensor; and a .ms built with a
 * deferred weight (in memory and through a file) byte for byte equal to the one built from the
 * same weight relaid out beforehand; unchanged bytes copied from the source file into the output
 * (tod_atomic_copy), with and without copy_file_range. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format/file_io.h"
#include "format/ms_write.h"
#include "ir/deferred.h"
#include "ir/ir.h"
#include "ir/ir_op.h"
#include "test_file.h"

static int failures;
#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);      \
      failures++;                                                                   \
    }                                                                               \
  } while (0)

static uint32_t next_word(uint32_t *s) {
  *s = *s * 1664525u + 1013904223u;
  return *s;
}

/* The definition, element by element. */
static void relayout_ref(uint32_t *dst, const uint32_t *src, size_t O, size_t I, size_t HW) {
  for (size_t o = 0; o < O; o++)
    for (size_t i = 0; i < I; i++)
      for (size_t hw = 0; hw < HW; hw++) dst[(o * HW + hw) * I + i] = src[(o * I + i) * HW + hw];
}

static void test_relayout_shapes(void) {
  static const size_t Is[] = {1, 2, 3, 7, 8, 9, 13, 16, 17, 64};
  static const size_t HWs[] = {1, 2, 4, 8, 9, 15, 16, 25, 49};
  uint32_t seed = 1;
  for (size_t a = 0; a < sizeof Is / sizeof Is[0]; a++)
    for (size_t b = 0; b < sizeof HWs / sizeof HWs[0]; b++)
      for (size_t O = 1; O <= 3; O++) {
        const size_t I = Is[a], HW = HWs[b], n = O * I * HW;
        uint32_t *src = malloc(n * 4), *want = malloc(n * 4), *got = malloc(n * 4);
        uint8_t *raw = malloc(n * 4 + 3);
        for (size_t k = 0; k < n; k++) src[k] = next_word(&seed);
        relayout_ref(want, src, O, I, HW);
        for (size_t mis = 0; mis < 4; mis++) { /* every source alignment */
          memcpy(raw + mis, src, n * 4);
          memset(got, 0xA5, n * 4);
          ir_relayout_kchw_khwc(got, raw + mis, O, I, HW);
          if (memcmp(got, want, n * 4) != 0) {
            fprintf(stderr, "relayout O=%zu I=%zu HW=%zu misalign=%zu differs\n", O, I, HW, mis);
            failures++;
          }
        }
        free(src), free(want), free(got), free(raw);
      }
}

/* A KHWC [O, H, W, I] tensor deferred on a KCHW source at byte offset mis of raw. */
static void make_deferred(ir_tensor *t, const uint8_t *src, int64_t O, int64_t I, int64_t H, int64_t W) {
  memset(t, 0, sizeof *t);
  t->name = (char *)"w";
  t->dtype = IR_DT_FLOAT32;
  t->kind = IR_TENSOR_CONST;
  const int64_t d[4] = {O, H, W, I};
  ir_tensor_set_shape(t, 4, d);
  t->format = IR_FMT_KHWC;
  t->nbytes = (size_t)(O * I * H * W) * 4;
  ir_tensor_defer(t, src, IR_SRC_KCHW);
}

static void test_fill_any_range(void) {
  const size_t O = 5, I = 11, H = 3, W = 3, n = O * I * H * W;
  uint32_t seed = 7, *src = malloc(n * 4), *want = malloc(n * 4), *got = malloc(n * 4);
  uint8_t *raw = malloc(n * 4 + 1);
  for (size_t k = 0; k < n; k++) src[k] = next_word(&seed);
  memcpy(raw + 1, src, n * 4);
  relayout_ref(want, src, O, I, H * W);
  ir_tensor t;
  make_deferred(&t, raw + 1, (int64_t)O, (int64_t)I, (int64_t)H, (int64_t)W);
  CHECK(ir_tensor_fill_unit(&t) == I * H * W * 4);
  CHECK(ir_tensor_bytes(&t) == NULL); /* a relayout that moves data: produced by fill only */
  /* every (offset, length) in elements over a window that crosses two output channels */
  int bad = 0;
  for (size_t off = 0; off < n; off += 13)
    for (size_t len = 0; off + len <= n && len < 3 * I * H * W; len += 7) {
      memset(got, 0, len * 4);
      ir_tensor_fill(&t, off * 4, len * 4, got);
      if (memcmp(got, want + off, len * 4) != 0) bad++;
    }
  CHECK(bad == 0);
  /* A relayout of 1x1 or depthwise weights moves nothing: written from the source as it is. */
  ir_tensor one;
  make_deferred(&one, raw + 1, 5, 11, 1, 1);
  CHECK(ir_tensor_bytes(&one) == raw + 1);
  make_deferred(&one, raw + 1, 11, 1, 5, 1);
  CHECK(ir_tensor_bytes(&one) == raw + 1);

  /* Settling: an owned tensor with the same bytes, no longer deferred. */
  ir_graph g;
  ir_graph_init(&g);
  int ti = ir_add_tensor(&g, "w");
  CHECK(ti >= 0);
  if (ti >= 0) {
    ir_tensor *x = &g.tensors[ti];
    const int64_t d[4] = {(int64_t)O, (int64_t)H, (int64_t)W, (int64_t)I};
    x->dtype = IR_DT_FLOAT32;
    x->kind = IR_TENSOR_CONST;
    ir_tensor_set_shape(x, 4, d);
    x->nbytes = n * 4;
    ir_tensor_defer(x, raw + 1, IR_SRC_KCHW);
    ir_graph clone;
    CHECK(ir_graph_clone(&g, &clone) == TOD_OK);
    CHECK(clone.n_tensors == 1 && clone.tensors[0].data && !clone.tensors[0].src &&
          memcmp(clone.tensors[0].data, want, n * 4) == 0);
    ir_graph_free(&clone);
    CHECK(ir_graph_settle(&g) == TOD_OK);
    x = &g.tensors[ti];
    CHECK(!x->src && x->owned && x->data == x->owned && x->nbytes == n * 4);
    CHECK(x->data && memcmp(x->data, want, n * 4) == 0);
  }
  ir_graph_free(&g);
  free(src), free(want), free(got), free(raw);
}

/* input -> Conv2DFusion(weight) -> output; the weight deferred on src or relaid out already. */
static int conv_graph(ir_graph *g, const uint8_t *src, const uint32_t *khwc, int64_t O, int64_t I, int64_t K) {
  ir_graph_init(g);
  g->name = malloc(8);
  if (!g->name) return -1;
  snprintf(g->name, 8, "conv");
  int x = ir_add_tensor(g, "x"), w = ir_add_tensor(g, "w"), y = ir_add_tensor(g, "y");
  if (x < 0 || w < 0 || y < 0) return -1;
  const int64_t xd[4] = {1, 9, 9, I}, yd[4] = {1, 9 - K + 1, 9 - K + 1, O}, wd[4] = {O, K, K, I};
  ir_tensor_set_shape(&g->tensors[x], 4, xd);
  g->tensors[x].kind = IR_TENSOR_INPUT;
  g->tensors[x].format = IR_FMT_NHWC;
  ir_tensor_set_shape(&g->tensors[y], 4, yd);
  g->tensors[y].format = IR_FMT_NHWC;
  const size_t nb = (size_t)(O * I * K * K) * 4;
  if (src) {
    g->tensors[w].kind = IR_TENSOR_CONST;
    g->tensors[w].nbytes = nb;
    ir_tensor_defer(&g->tensors[w], src, IR_SRC_KCHW);
  } else if (ir_tensor_set_data_copy(&g->tensors[w], khwc, nb) != TOD_OK) {
    return -1;
  }
  ir_tensor_set_shape(&g->tensors[w], 4, wd);
  g->tensors[w].format = IR_FMT_KHWC;
  const int in[2] = {x, w};
  int n = ir_add_node(g, IR_OP_Conv2DFusion, "conv", in, 2, &y, 1);
  if (n < 0) return -1;
  const int64_t k2[2] = {K, K}, s2[2] = {1, 1}, pads[4] = {0, 0, 0, 0};
  ir_node *nd = &g->nodes[n];
  if (ir_attr_set_ints(nd, "kernel_size", k2, 2) || ir_attr_set_ints(nd, "stride", s2, 2) ||
      ir_attr_set_ints(nd, "dilation", s2, 2) || ir_attr_set_ints(nd, "pad_list", pads, 4) ||
      ir_attr_set_int(nd, "in_channel", I) || ir_attr_set_int(nd, "out_channel", O) ||
      ir_attr_set_int(nd, "group", 1))
    return -1;
  if (ir_add_input(g, x) != TOD_OK || ir_add_output(g, y) != TOD_OK) return -1;
  return 0;
}

static void test_ms_with_deferred_weight(void) {
  /* 3 x 3 x 300 floats (10.8 KB) per output channel; 70 of them (756 KB) make the file writer
   * produce two pieces (at most 512 KB of whole output channels each). */
  const int64_t O = 70, I = 300, K = 3;
  const size_t n = (size_t)(O * I * K * K);
  uint32_t seed = 3, *kchw = malloc(n * 4), *khwc = malloc(n * 4);
  uint8_t *raw = malloc(n * 4 + 2);
  for (size_t k = 0; k < n; k++) kchw[k] = next_word(&seed);
  memcpy(raw + 2, kchw, n * 4);
  relayout_ref(khwc, kchw, (size_t)O, (size_t)I, (size_t)(K * K));
  ir_graph eager, lazy;
  CHECK(conv_graph(&eager, NULL, khwc, O, I, K) == 0);
  CHECK(conv_graph(&lazy, raw + 2, NULL, O, I, K) == 0);
  uint8_t *a = NULL, *b = NULL;
  size_t na = 0, nb = 0;
  char err[256] = "";
  CHECK(ms_serialize(&eager, &a, &na, err, sizeof err) == TOD_OK);
  CHECK(ms_serialize(&lazy, &b, &nb, err, sizeof err) == TOD_OK);
  CHECK(a && b && na == nb && memcmp(a, b, na) == 0);
  char path[64];
  snprintf(path, sizeof path, "/tmp/tod_deferred_%ld.ms", (long)getpid());
  CHECK(ms_write_file(&lazy, path, err, sizeof err) == TOD_OK);
  size_t nf = 0;
  uint8_t *f = test_read_file(path, &nf);
  CHECK(f && a && nf == na && memcmp(f, a, na) == 0);
  unlink(path);
  free(f), free(a), free(b);
  ir_graph_free(&eager);
  ir_graph_free(&lazy);
  free(kchw), free(khwc), free(raw);
}

/* Unchanged weights are copied from the source file in the kernel (tod_atomic_copy): the output
 * holds the file's bytes, also where copy_file_range cannot be used (a pipe, a bad descriptor)
 * and the mapped bytes are written instead. */
static void test_atomic_copy(void) {
  char src[64], dst[64];
  snprintf(src, sizeof src, "/tmp/tod_copy_src_%ld", (long)getpid());
  snprintf(dst, sizeof dst, "/tmp/tod_copy_dst_%ld.ms", (long)getpid());
  const size_t n = (3 << 20) + 4097;
  uint8_t *bytes = malloc(n);
  uint32_t seed = 11;
  for (size_t k = 0; k < n; k++) bytes[k] = (uint8_t)(next_word(&seed) >> 24);
  FILE *f = fopen(src, "wb");
  CHECK(f && fwrite(bytes, 1, n, f) == n);
  if (f) fclose(f);
  int pipefd[2];
  CHECK(pipe(pipefd) == 0);
  const int bad_fds[3] = {-2, pipefd[0], -1}; /* -2: the mapped file itself */
  for (int v = 0; v < 3; v++) {
    tod_mapped_file m;
    int fd = -1;
    char err[256] = "";
    CHECK(tod_map_file_fd(src, &m, &fd, err, sizeof err) == TOD_OK && fd >= 0 && m.size == n);
    tod_atomic_file out;
    CHECK(tod_atomic_open(&out, dst, err, sizeof err) == TOD_OK);
    const int from = bad_fds[v] == -2 ? fd : bad_fds[v];
    /* a head written normally, then two copies at odd offsets */
    CHECK(tod_atomic_write(&out, m.data, 100) == TOD_OK);
    CHECK(tod_atomic_copy(&out, from, 100, m.data + 100, (2 << 20) + 3) == TOD_OK);
    CHECK(tod_atomic_copy(&out, from, (2 << 20) + 103, m.data + (2 << 20) + 103, n - ((2 << 20) + 103)) == TOD_OK);
    CHECK(tod_atomic_commit(&out) == TOD_OK);
    size_t got_n = 0;
    uint8_t *got = test_read_file(dst, &got_n);
    CHECK(got && got_n == n && memcmp(got, bytes, n) == 0);
    free(got);
    tod_unmap_file(&m);
    close(fd);
    unlink(dst);
  }
  close(pipefd[0]);
  close(pipefd[1]);
  unlink(src);
  free(bytes);
}

int main(void) {
  test_atomic_copy();
  test_relayout_shapes();
  test_fill_any_range();
  test_ms_with_deferred_weight();
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("all checks passed\n");
  return 0;
}
