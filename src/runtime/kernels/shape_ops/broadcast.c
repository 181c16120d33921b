/* Broadcasting copies, any dtype: BroadcastTo (ONNX Expand), TileFusion, and Where/Select
 * (condition ? x : y with three-way numpy broadcasting). Each walks output rows and computes
 * source offsets from per-axis strides, where a broadcast axis has stride 0 and a tiled axis
 * wraps modulo the input dimension. */
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"

typedef struct {
  int rank;
  int64_t odims[IR_MAX_DIMS];
  int64_t idims[3][IR_MAX_DIMS]; /* input dims right-aligned to the output rank */
  int64_t istr[3][IR_MAX_DIMS];  /* element strides; 0 on broadcast axes */
  size_t esz;
  int n_src;
} bc_state;

static void bc_destroy(kernel *k) {
  free(k->state);
  k->state = NULL;
}

static tod_status bc_create_impl(kernel *k, const ir_graph *g, const ir_node *n) {
  (void)g;
  bc_state *s = calloc(1, sizeof *s);
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  k->state = s;
  int need = (n->op == IR_OP_Where || n->op == IR_OP_Select) ? 3 : n->op == IR_OP_TileFusion ? 2 : 1;
  if (n->n_in < need || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs %d inputs", need);
  return TOD_OK;
}
KCREATE_GUARDED(bc_create, bc_create_impl, bc_destroy)

static tod_status bc_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                           int n_out, size_t *scratch) {
  bc_state *s = k->state;
  int op = k->node->op;
  int where = op == IR_OP_Where || op == IR_OP_Select;
  const tod_view *y = &out[0];
  *scratch = 0;
  s->rank = y->ndim;
  memcpy(s->odims, y->dims, sizeof(int64_t) * (size_t)y->ndim);
  s->n_src = where ? 3 : 1;
  s->esz = ir_dtype_size(y->dtype);
  if (!s->esz) return kfail(k, TOD_NOT_SUPPORT, "dtype %s", ir_dtype_name(y->dtype));
  if (where) {
    if (in[0].dtype != IR_DT_BOOL && in[0].dtype != IR_DT_UINT8)
      return kfail(k, TOD_NOT_SUPPORT, "condition must be bool");
    if (in[1].dtype != y->dtype || in[2].dtype != y->dtype)
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "x/y dtype must match the output");
  } else if (in[0].dtype != y->dtype) {
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "dtype mismatch");
  }
  for (int t = 0; t < s->n_src; t++) {
    const tod_view *x = &in[t];
    if (x->ndim > y->ndim) return kfail(k, TOD_INPUT_TENSOR_ERROR, "input %d rank too large", t);
    int64_t acc = 1;
    for (int i = y->ndim - 1; i >= 0; i--) {
      int xi = i - (y->ndim - x->ndim);
      int64_t d = xi >= 0 ? x->dims[xi] : 1;
      s->idims[t][i] = d;
      if (op == IR_OP_TileFusion) {
        if (d <= 0 ? y->dims[i] != 0 : y->dims[i] % d != 0)
          return kfail(k, TOD_INPUT_TENSOR_ERROR, "output axis %d is not a multiple of the input", i);
      } else if (d != y->dims[i] && d != 1) {
        return kfail(k, TOD_INPUT_TENSOR_ERROR, "input %d does not broadcast to the output", t);
      }
      s->istr[t][i] = (d == 1 && op != IR_OP_TileFusion) ? 0 : acc;
      acc *= d;
    }
  }
  return TOD_OK;
}

static tod_status bc_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                         void *scratch, tod_threadpool *tp) {
  const bc_state *s = k->state;
  const int r = s->rank, tile = k->node->op == IR_OP_TileFusion;
  const size_t es = s->esz;
  int64_t total = knumel(&out[0]);
  if (total == 0) return TOD_OK;
  char *y = out[0].data;
  if (r == 0) {
    if (s->n_src == 3) memcpy(y, ((const uint8_t *)in[0].data)[0] ? in[1].data : in[2].data, es);
    else memcpy(y, in[0].data, es);
    return TOD_OK;
  }
  int64_t inner = s->odims[r - 1], rows = total / inner, idx[IR_MAX_DIMS] = {0};
  for (int64_t row = 0; row < rows; row++) {
    int64_t off[3] = {0, 0, 0};
    for (int t = 0; t < s->n_src; t++)
      for (int d = 0; d < r - 1; d++)
        off[t] += (tile ? idx[d] % s->idims[t][d] : idx[d]) * s->istr[t][d];
    char *dst = y + (size_t)(row * inner) * es;
    if (s->n_src == 3) {
      const uint8_t *c = (const uint8_t *)in[0].data + off[0];
      const char *a = (const char *)in[1].data + (size_t)off[1] * es;
      const char *b = (const char *)in[2].data + (size_t)off[2] * es;
      int64_t sc = s->istr[0][r - 1], sa = s->istr[1][r - 1], sb = s->istr[2][r - 1];
      for (int64_t t = 0; t < inner; t++)
        memcpy(dst + (size_t)t * es, c[t * sc] ? a + (size_t)(t * sa) * es : b + (size_t)(t * sb) * es, es);
    } else {
      const char *x = (const char *)in[0].data + (size_t)off[0] * es;
      int64_t d = s->idims[0][r - 1], st = s->istr[0][r - 1];
      if (tile) {
        for (int64_t t = 0; t < inner; t += d) memcpy(dst + (size_t)t * es, x, (size_t)d * es);
      } else if (st) {
        memcpy(dst, x, (size_t)inner * es);
      } else {
        for (int64_t t = 0; t < inner; t++) memcpy(dst + (size_t)t * es, x, es);
      }
    }
    for (int d = r - 2; d >= 0; d--) {
      if (++idx[d] < s->odims[d]) break;
      idx[d] = 0;
    }
  }
  return TOD_OK;
}

const kernel_ops kernel_BroadcastTo = {IR_OP_BroadcastTo, bc_create, bc_setup, bc_run, bc_destroy};
const kernel_ops kernel_TileFusion = {IR_OP_TileFusion, bc_create, bc_setup, bc_run, bc_destroy};
const kernel_ops kernel_Where = {IR_OP_Where, bc_create, bc_setup, bc_run, bc_destroy};
const kernel_ops kernel_Select = {IR_OP_Select, bc_create, bc_setup, bc_run, bc_destroy};
