/* Transpose with any permutation and element size. Axes that stay adjacent and in order are
 * merged first (NCHW<->NHWC becomes a 3-D problem), then each thread walks output rows and
 * gathers along the input stride of the output's last axis. */
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"

typedef struct {
  int rank;
  int64_t odims[IR_MAX_DIMS]; /* merged output dims */
  int64_t istr[IR_MAX_DIMS];  /* input element stride of each merged output axis */
  int64_t rows, inner;
  size_t esz;
  int identity;
  int n_perm; /* >= 0: perm read from a constant at create */
  int64_t perm[IR_MAX_DIMS];
} tr_state;

static tod_status tr_create_impl(kernel *k, const ir_graph *g, const ir_node *n) {
  if (n->n_in < 1 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs 1 input");
  tr_state *s = calloc(1, sizeof(tr_state));
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  k->state = s;
  s->n_perm = kconst_ints(g, n, 1, s->perm, IR_MAX_DIMS);
  if (s->n_perm == -2) return kfail(k, TOD_INPUT_TENSOR_ERROR, "perm has too many values");
  return TOD_OK;
}

static tod_status tr_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                           int n_out, size_t *scratch) {
  tr_state *s = k->state;
  const tod_view *x = &in[0];
  int r = x->ndim;
  int64_t perm[IR_MAX_DIMS];
  *scratch = 0;
  if (s->n_perm >= 0) {
    if (s->n_perm != r) return kfail(k, TOD_INPUT_TENSOR_ERROR, "perm must hold %d values", r);
    memcpy(perm, s->perm, sizeof(int64_t) * (size_t)r);
  } else if (n_in >= 2 && in[1].ndim >= 0) {
    int cnt = shape_read_ints(&in[1], perm, IR_MAX_DIMS);
    if (cnt != r) return kfail(k, TOD_INPUT_TENSOR_ERROR, "perm must hold %d known integers", r);
  } else {
    for (int i = 0; i < r; i++) perm[i] = r - 1 - i;
  }
  int seen[IR_MAX_DIMS] = {0}, p[IR_MAX_DIMS];
  for (int i = 0; i < r; i++) {
    if (!shape_norm_axis(perm[i], r, &p[i]) || seen[p[i]]++)
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "perm is not a permutation");
    if (out[0].ndim != r || out[0].dims[i] != x->dims[p[i]])
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "output shape does not match the permutation");
  }
  s->esz = ir_dtype_size(x->dtype);
  if (!s->esz || out[0].dtype != x->dtype) return kfail(k, TOD_NOT_SUPPORT, "bad dtype");
  int64_t istride[IR_MAX_DIMS];
  int64_t acc = 1;
  for (int i = r - 1; i >= 0; i--) istride[i] = acc, acc *= x->dims[i];
  /* Merge output axes i-1, i when they are consecutive input axes; drop size-1 axes. */
  int m = 0;
  for (int i = 0; i < r; i++) {
    int64_t d = x->dims[p[i]];
    if (d == 1) continue;
    if (m > 0 && s->istr[m - 1] == istride[p[i]] * d) {
      s->odims[m - 1] *= d;
      s->istr[m - 1] = istride[p[i]];
    } else {
      s->odims[m] = d, s->istr[m] = istride[p[i]];
      m++;
    }
  }
  if (m == 0) s->odims[0] = 1, s->istr[0] = 1, m = 1;
  s->rank = m;
  s->identity = m == 1 && s->istr[0] == 1;
  s->inner = s->odims[m - 1];
  s->rows = s->inner ? knumel(x) / s->inner : 0;
  return TOD_OK;
}

typedef struct {
  const tr_state *s;
  const char *x;
  char *y;
} tr_job;

#define GATHER(T)                                                 \
  do {                                                            \
    const T *restrict src = (const T *)(j->x) + off;              \
    T *restrict dst = (T *)(j->y) + r * c;                        \
    for (int64_t t = 0; t < c; t++) dst[t] = src[t * st];         \
  } while (0)

/* A 2-D transpose (NCHW -> NHWC of a model's input): consecutive output rows start at
 * consecutive input elements, so blocks of 16 rows read each input row contiguously and
 * write a 16 x c block that stays in L1, instead of one strided gather per row. */
static int tr_rows_blocked(const tr_job *j, int64_t r0, int64_t r1) {
  const tr_state *s = j->s;
  if (s->rank < 2 || s->istr[s->rank - 2] != 1 || s->esz != 4) return 0;
  const int64_t c = s->inner, st = s->istr[s->rank - 1], rdim = s->odims[s->rank - 2];
  const float *restrict x = (const float *)(const void *)j->x;
  float *restrict y = (float *)(void *)j->y;
  for (int64_t r = r0; r < r1;) {
    /* The block ends at r1 or at the end of this outer index's rows. */
    int64_t b = r1 - r < 16 ? r1 - r : 16;
    if (rdim - r % rdim < b) b = rdim - r % rdim;
    int64_t off = r % rdim, rem = r / rdim;
    for (int d = s->rank - 3; d >= 0; d--) {
      off += (rem % s->odims[d]) * s->istr[d];
      rem /= s->odims[d];
    }
    float *dst = y + r * c;
    for (int64_t t = 0; t < c; t++) {
      const float *src = x + off + t * st;
      for (int64_t q = 0; q < b; q++) dst[q * c + t] = src[q];
    }
    r += b;
  }
  return 1;
}

static void tr_rows(void *ctx, int64_t r0, int64_t r1) {
  const tr_job *j = ctx;
  const tr_state *s = j->s;
  const int64_t c = s->inner, st = s->istr[s->rank - 1];
  if (c > 1 && c <= 64 && tr_rows_blocked(j, r0, r1)) return;
  for (int64_t r = r0; r < r1; r++) {
    int64_t off = 0, rem = r;
    for (int d = s->rank - 2; d >= 0; d--) {
      off += (rem % s->odims[d]) * s->istr[d];
      rem /= s->odims[d];
    }
    switch (s->esz) {
      case 1: GATHER(uint8_t); break;
      case 2: GATHER(uint16_t); break;
      case 4: GATHER(uint32_t); break;
      default: GATHER(uint64_t); break;
    }
  }
}

static tod_status tr_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                         void *scratch, tod_threadpool *tp) {
  const tr_state *s = k->state;
  if (s->identity) {
    size_t bytes = (size_t)knumel(&in[0]) * s->esz;
    if (out[0].data != in[0].data && bytes) memmove(out[0].data, in[0].data, bytes);
    return TOD_OK;
  }
  tr_job j = {s, in[0].data, out[0].data};
  int64_t grain = s->inner > 0 ? 16384 / s->inner : 1;
  kpar_for(tp, s->rows, grain < 1 ? 1 : grain, tr_rows, &j);
  return TOD_OK;
}

static void tr_destroy(kernel *k) {
  free(k->state);
  k->state = NULL;
}

KCREATE_GUARDED(tr_create, tr_create_impl, tr_destroy)

const kernel_ops kernel_Transpose = {IR_OP_Transpose, tr_create, tr_setup, tr_run, tr_destroy};
