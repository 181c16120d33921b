/* StridedSlice and SliceFusion, any dtype. The begin/end/strides values are resolved at run
 * (they may be computed tensors) with the same plan shape inference used, and the output size
 * is checked against that plan before anything is written. */
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"

typedef struct {
  int64_t bmask, emask, elmask, namask, smask;
  const int64_t *axes;
  int n_axes;
} sl_state;

static void sl_destroy(kernel *k) {
  free(k->state);
  k->state = NULL;
}

static tod_status sl_create_impl(kernel *k, const ir_graph *g, const ir_node *n) {
  (void)g;
  sl_state *s = calloc(1, sizeof *s);
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  k->state = s;
  if (n->n_in < 3 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs x, begin, end/size");
  s->bmask = ir_attr_int(n, "begin_mask", 0);
  s->emask = ir_attr_int(n, "end_mask", 0);
  s->elmask = ir_attr_int(n, "ellipsis_mask", 0);
  s->namask = ir_attr_int(n, "new_axis_mask", 0);
  s->smask = ir_attr_int(n, "shrink_axis_mask", 0);
  s->n_axes = ir_attr_ints(n, "axes", &s->axes);
  if (s->elmask || s->namask)
    return kfail(k, TOD_NOT_SUPPORT, "ellipsis_mask/new_axis_mask are not supported");
  return TOD_OK;
}
KCREATE_GUARDED(sl_create, sl_create_impl, sl_destroy)

static tod_status sl_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                           int n_out, size_t *scratch) {
  *scratch = 0;
  if (!ir_dtype_size(in[0].dtype) || out[0].dtype != in[0].dtype)
    return kfail(k, TOD_NOT_SUPPORT, "bad dtype");
  return TOD_OK;
}

/* Builds the plan from the run-time values. */
static tod_status sl_plan(kernel *k, const tod_view *in, int n_in, shape_slice_plan *p) {
  const sl_state *s = k->state;
  int64_t b[IR_MAX_DIMS], e[IR_MAX_DIMS], st[IR_MAX_DIMS];
  char why[128];
  if (k->node->op == IR_OP_StridedSlice && n_in >= 5) { /* x, starts, ends, axes, steps */
    if (shape_onnx_slice_full(in, n_in, in[0].ndim, b, e, st) != 0)
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "starts/ends/axes/steps must be known, valid integers");
    if (shape_strided_slice_plan(in[0].dims, in[0].ndim, b, e, st, in[0].ndim, 0, 0, 0, 0, 0, p, why, sizeof why))
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "%s", why);
    return TOD_OK;
  }
  int nb = shape_read_ints(&in[1], b, IR_MAX_DIMS), ne = shape_read_ints(&in[2], e, IR_MAX_DIMS);
  if (nb < 0 || ne != nb) return kfail(k, TOD_INPUT_TENSOR_ERROR, "begin/end must be known integers of equal length");
  if (k->node->op == IR_OP_SliceFusion) {
    if (shape_slice_fusion_plan(in[0].dims, in[0].ndim, b, e, nb, s->n_axes ? s->axes : NULL,
                                s->n_axes, p, why, sizeof why))
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "%s", why);
    return TOD_OK;
  }
  int ns = nb;
  if (n_in >= 4 && in[3].ndim >= 0) ns = shape_read_ints(&in[3], st, IR_MAX_DIMS);
  else for (int i = 0; i < nb; i++) st[i] = 1;
  if (ns != nb) return kfail(k, TOD_INPUT_TENSOR_ERROR, "strides must match begin");
  if (shape_strided_slice_plan(in[0].dims, in[0].ndim, b, e, st, nb, s->bmask, s->emask, 0, 0,
                               s->smask, p, why, sizeof why))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "%s", why);
  return TOD_OK;
}

static tod_status sl_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                         void *scratch, tod_threadpool *tp) {
  shape_slice_plan p;
  tod_status st = sl_plan(k, in, n_in, &p);
  if (st) return st;
  int64_t total = 1;
  for (int i = 0; i < p.rank; i++) total *= p.count[i];
  if (total != knumel(&out[0]))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "slice has %lld elements, output %lld",
                 (long long)total, (long long)knumel(&out[0]));
  if (total == 0) return TOD_OK;
  const int r = p.rank;
  const size_t es = ir_dtype_size(in[0].dtype);
  int64_t istr[IR_MAX_DIMS], acc = 1;
  for (int i = r - 1; i >= 0; i--) istr[i] = acc, acc *= in[0].dims[i];
  const char *x = in[0].data;
  char *y = out[0].data;
  if (r == 0) {
    memcpy(y, x, es);
    return TOD_OK;
  }
  /* Walk output rows (all axes but the last); the last axis is contiguous when its step is 1. */
  int64_t inner = p.count[r - 1], rows = total / inner, idx[IR_MAX_DIMS] = {0};
  for (int64_t row = 0; row < rows; row++) {
    int64_t off = 0;
    for (int d = 0; d < r - 1; d++) off += (p.start[d] + idx[d] * p.step[d]) * istr[d];
    off += p.start[r - 1];
    char *dst = y + (size_t)(row * inner) * es;
    if (p.step[r - 1] == 1) {
      memcpy(dst, x + (size_t)off * es, (size_t)inner * es);
    } else {
      for (int64_t t = 0; t < inner; t++)
        memcpy(dst + (size_t)t * es, x + (size_t)(off + t * p.step[r - 1]) * es, es);
    }
    for (int d = r - 2; d >= 0; d--) {
      if (++idx[d] < p.count[d]) break;
      idx[d] = 0;
    }
  }
  return TOD_OK;
}

const kernel_ops kernel_StridedSlice = {IR_OP_StridedSlice, sl_create, sl_setup, sl_run, sl_destroy};
const kernel_ops kernel_SliceFusion = {IR_OP_SliceFusion, sl_create, sl_setup, sl_run, sl_destroy};
