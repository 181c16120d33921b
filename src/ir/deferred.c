/* Deferred constant data: see deferred.h. */
#include "ir/deferred.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ir/source_pages.h"

#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12)
/* 4 x 4 tiles in 128-bit vectors (compiler vector extensions: SSE2 on any x86-64, NEON on Arm, a
 * scalar lowering elsewhere): four loads, eight shuffles and four stores for 16 elements, where
 * one load and one store per element ran at ~5.7 GB/s, a quarter of resnet18's conversion. */
typedef uint32_t v4u __attribute__((vector_size(16)));
#define TILE 4

/* s at src[o][i0][hw0] (rows HW apart), d at dst[o][hw0][i0] (rows I apart). */
static void tile_full(uint32_t *d, size_t I, const uint8_t *s, size_t HW) {
  v4u a, b, c, e;
  memcpy(&a, s, 16);
  memcpy(&b, s + HW * 4, 16);
  memcpy(&c, s + 2 * HW * 4, 16);
  memcpy(&e, s + 3 * HW * 4, 16);
  const v4u ab0 = __builtin_shufflevector(a, b, 0, 4, 1, 5), ab1 = __builtin_shufflevector(a, b, 2, 6, 3, 7);
  const v4u ce0 = __builtin_shufflevector(c, e, 0, 4, 1, 5), ce1 = __builtin_shufflevector(c, e, 2, 6, 3, 7);
  const v4u r0 = __builtin_shufflevector(ab0, ce0, 0, 1, 4, 5), r1 = __builtin_shufflevector(ab0, ce0, 2, 3, 6, 7);
  const v4u r2 = __builtin_shufflevector(ab1, ce1, 0, 1, 4, 5), r3 = __builtin_shufflevector(ab1, ce1, 2, 3, 6, 7);
  memcpy(d, &r0, 16);
  memcpy(d + I, &r1, 16);
  memcpy(d + 2 * I, &r2, 16);
  memcpy(d + 3 * I, &r3, 16);
}
#else
#define TILE 8

static void tile_full(uint32_t *d, size_t I, const uint8_t *s, size_t HW) {
  uint32_t t[8][8];
  for (int a = 0; a < 8; a++) memcpy(t[a], s + (size_t)a * HW * 4, sizeof t[a]);
  for (int b = 0; b < 8; b++)
    for (int a = 0; a < 8; a++) d[(size_t)b * I + a] = t[a][b];
}
#endif

/* A partial tile at the right or bottom edge: ni rows of i, nh columns of hw. */
static void tile_edge(uint32_t *d, size_t I, const uint8_t *s, size_t HW, size_t ni, size_t nh) {
  for (size_t a = 0; a < ni; a++)
    for (size_t b = 0; b < nh; b++) memcpy(&d[b * I + a], s + (a * HW + b) * 4, 4);
}

void ir_relayout_kchw_khwc(void *dst, const void *src, size_t O, size_t I, size_t HW) {
  const size_t row = I * HW;
  if (I == 1 || HW == 1) { /* depthwise or 1x1: the layouts coincide */
    memcpy(dst, src, O * row * 4);
    return;
  }
  for (size_t o = 0; o < O; o++) {
    const uint8_t *so = (const uint8_t *)src + o * row * 4;
    uint32_t *dd = (uint32_t *)dst + o * row;
    for (size_t i0 = 0; i0 < I; i0 += TILE) {
      const size_t ni = I - i0 < TILE ? I - i0 : TILE;
      for (size_t h0 = 0; h0 < HW; h0 += TILE) {
        const size_t nh = HW - h0 < TILE ? HW - h0 : TILE;
        const uint8_t *s = so + (i0 * HW + h0) * 4;
        uint32_t *d = dd + h0 * I + i0;
        if (ni == TILE && nh == TILE) tile_full(d, I, s, HW);
        else tile_edge(d, I, s, HW, ni, nh);
      }
    }
  }
}

void ir_tensor_defer(ir_tensor *t, const void *src, int layout) {
  free(t->owned);
  t->owned = NULL;
  t->data = NULL;
  t->src = src;
  t->src_layout = layout;
}

/* KCHW source of a KHWC tensor: O, I and H*W (checked by the layout pass when it deferred). */
static void kchw_dims(const ir_tensor *t, size_t *O, size_t *I, size_t *HW) {
  *O = (size_t)t->dims[0];
  *HW = (size_t)(t->dims[1] * t->dims[2]);
  *I = (size_t)t->dims[3];
}

const void *ir_tensor_bytes(const ir_tensor *t) {
  if (!t->src) return t->data;
  if (t->src_layout != IR_SRC_KCHW) return t->src;
  size_t O, I, HW;
  kchw_dims(t, &O, &I, &HW);
  return I == 1 || HW == 1 ? t->src : NULL;
}

size_t ir_tensor_fill_unit(const ir_tensor *t) {
  if (!t->src || t->src_layout != IR_SRC_KCHW) return 4;
  size_t O, I, HW;
  kchw_dims(t, &O, &I, &HW);
  return I && HW ? I * HW * 4 : 4;
}

void ir_tensor_fill(const ir_tensor *t, size_t off, size_t len, void *dst) {
  if (!len) return;
  if (!t->src) {
    memcpy(dst, (const uint8_t *)t->data + off, len);
    return;
  }
  const uint8_t *src = t->src;
  if (t->src_layout != IR_SRC_KCHW) {
    memcpy(dst, src + off, len);
    return;
  }
  size_t O, I, HW;
  kchw_dims(t, &O, &I, &HW);
  const size_t row = I * HW * 4;
  uint8_t *d = dst;
  /* Whole output channels at once; any partial ones element by element. */
  while (len && (off % row || len < row)) {
    const size_t e = off / 4, o = e / (I * HW), r = e % (I * HW), hw = r / I, i = r % I;
    memcpy(d, src + ((o * I + i) * HW + hw) * 4, 4);
    off += 4, d += 4, len -= 4;
  }
  const size_t whole = len / row;
  if (whole) ir_relayout_kchw_khwc(d, src + off, whole, I, HW);
  off += whole * row, d += whole * row, len -= whole * row;
  while (len) {
    const size_t e = off / 4, o = e / (I * HW), r = e % (I * HW), hw = r / I, i = r % I;
    memcpy(d, src + ((o * I + i) * HW + hw) * 4, 4);
    off += 4, d += 4, len -= 4;
  }
}

tod_status ir_tensor_settle(ir_tensor *t) {
  if (!t->src) return TOD_OK;
  uint8_t *buf = ir_weights_malloc(t->nbytes);
  if (!buf) return TOD_MEMORY_FAILED;
  /* In pieces, giving the source mapping back as it goes (as every reader of borrowed bytes). */
  const size_t unit = ir_tensor_fill_unit(t);
  const size_t step = unit >= IR_SOURCE_RELEASE_STEP ? unit : IR_SOURCE_RELEASE_STEP / unit * unit;
  for (size_t off = 0; off < t->nbytes; off += step) {
    ir_tensor_fill(t, off, t->nbytes - off < step ? t->nbytes - off : step, buf + off);
    ir_source_release_around(t->src, t->nbytes - off < step ? t->nbytes - off : step);
  }
  const ir_tensor_kind kind = t->kind; /* a parameter stays one */
  ir_tensor_set_data_owned(t, buf, t->nbytes); /* clears src */
  t->kind = kind;
  return TOD_OK;
}

tod_status ir_graph_settle(ir_graph *g) {
  for (int i = 0; i < g->n_tensors; i++)
    if (ir_tensor_settle(&g->tensors[i]) != TOD_OK) return TOD_MEMORY_FAILED;
  return TOD_OK;
}
