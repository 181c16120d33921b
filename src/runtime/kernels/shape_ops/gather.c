/* Gather (ONNX semantics) along one axis, any dtype, int32/int64 indices. Negative indices
 * wrap once; anything still outside [0, dim) fails the run instead of reading out of bounds,
 * since indices may be data computed at run time. */
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"

typedef struct {
  int64_t axis_attr;
  int axis_const; /* axis known at create */
  int64_t outer, dim, inner, n_idx;
  size_t esz;
} ga_state;

static void ga_destroy(kernel *k) {
  free(k->state);
  k->state = NULL;
}

static tod_status ga_create_impl(kernel *k, const ir_graph *g, const ir_node *n) {
  ga_state *s = calloc(1, sizeof *s);
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  k->state = s;
  if (n->n_in < 2 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs x and indices");
  int64_t a[1];
  int cnt = n->n_in >= 3 ? kconst_ints(g, n, 2, a, 1) : -1;
  if (cnt == 1) s->axis_attr = a[0], s->axis_const = 1;
  else if (n->n_in < 3 || n->in[2] < 0) s->axis_attr = 0, s->axis_const = 1;
  else if (cnt != -1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "axis must be one integer");
  return TOD_OK;
}
KCREATE_GUARDED(ga_create, ga_create_impl, ga_destroy)

static tod_status ga_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                           int n_out, size_t *scratch) {
  ga_state *s = k->state;
  const tod_view *x = &in[0], *idx = &in[1];
  *scratch = 0;
  int64_t ax = s->axis_attr;
  if (!s->axis_const) {
    int64_t v[1];
    if (n_in < 3 || shape_read_ints(&in[2], v, 1) != 1)
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "axis must be one known integer");
    ax = v[0];
  }
  int a;
  if (!shape_norm_axis(ax, x->ndim, &a))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "axis %lld out of range for rank %d", (long long)ax, x->ndim);
  if (idx->dtype != IR_DT_INT32 && idx->dtype != IR_DT_INT64)
    return kfail(k, TOD_NOT_SUPPORT, "indices must be int32/int64, are %s", ir_dtype_name(idx->dtype));
  s->esz = ir_dtype_size(x->dtype);
  if (!s->esz || out[0].dtype != x->dtype) return kfail(k, TOD_NOT_SUPPORT, "bad dtype");
  s->outer = 1, s->inner = 1, s->dim = x->dims[a];
  for (int i = 0; i < a; i++) s->outer *= x->dims[i];
  for (int i = a + 1; i < x->ndim; i++) s->inner *= x->dims[i];
  s->n_idx = knumel(idx);
  if (knumel(&out[0]) != s->outer * s->n_idx * s->inner)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "output size does not match");
  return TOD_OK;
}

static tod_status ga_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                         void *scratch, tod_threadpool *tp) {
  const ga_state *s = k->state;
  const size_t blk = (size_t)s->inner * s->esz;
  const char *x = in[0].data;
  char *y = out[0].data;
  for (int64_t j = 0; j < s->n_idx; j++) {
    int64_t i;
    if (in[1].dtype == IR_DT_INT32) i = ((const int32_t *)in[1].data)[j];
    else i = ((const int64_t *)in[1].data)[j];
    if (i < 0) i += s->dim;
    if (i < 0 || i >= s->dim)
      return kfail(k, TOD_OP_EXECUTE_FAILURE, "index %lld out of range for axis size %lld",
                   (long long)(i < 0 ? i - s->dim : i), (long long)s->dim);
    for (int64_t o = 0; o < s->outer; o++)
      memcpy(y + ((size_t)(o * s->n_idx + j)) * blk, x + ((size_t)(o * s->dim + i)) * blk, blk);
  }
  return TOD_OK;
}

const kernel_ops kernel_Gather = {IR_OP_Gather, ga_create, ga_setup, ga_run, ga_destroy};
