/* ArgMaxFusion / ArgMinFusion (top_k 1): int32 index of the first maximum / minimum along one
 * axis, any numeric input dtype. keep_dims only changes the output shape. */
#include <stdlib.h>

#include "runtime/kernels/common/kutil.h"
#include "runtime/kernels/common/kvalue.h"

typedef struct {
  int64_t outer, dim, inner;
  int is_max;
} am_state;

static void am_destroy(kernel *k) {
  free(k->state);
  k->state = NULL;
}

static tod_status am_create_impl(kernel *k, const ir_graph *g, const ir_node *n) {
  (void)g;
  am_state *s = calloc(1, sizeof *s);
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  k->state = s;
  s->is_max = n->op == IR_OP_ArgMaxFusion;
  if (n->n_in < 1 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs 1 input and output");
  if (ir_attr_int(n, "top_k", 1) != 1 || ir_attr_int(n, "out_max_value", 0))
    return kfail(k, TOD_NOT_SUPPORT, "only top_k 1 without values is supported");
  return TOD_OK;
}
KCREATE_GUARDED(am_create, am_create_impl, am_destroy)

static tod_status am_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out, int n_out,
                           size_t *scratch) {
  (void)n_in, (void)n_out;
  am_state *s = k->state;
  *scratch = 0;
  int a;
  if (!shape_norm_axis(ir_attr_int(k->node, "axis", 0), in[0].ndim, &a))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "axis out of range");
  if (!kv_supported(in[0].dtype) || out[0].dtype != IR_DT_INT32)
    return kfail(k, TOD_NOT_SUPPORT, "dtype %s -> %s is not supported", ir_dtype_name(in[0].dtype),
                 ir_dtype_name(out[0].dtype));
  s->outer = s->inner = 1;
  s->dim = in[0].dims[a];
  for (int i = 0; i < a; i++) s->outer *= in[0].dims[i];
  for (int i = a + 1; i < in[0].ndim; i++) s->inner *= in[0].dims[i];
  if (s->dim < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "empty reduction axis");
  if (knumel(&out[0]) != s->outer * s->inner) return kfail(k, TOD_INPUT_TENSOR_ERROR, "output size");
  return TOD_OK;
}

static tod_status am_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                         void *scratch, tod_threadpool *tp) {
  (void)n_in, (void)n_out, (void)scratch, (void)tp;
  const am_state *s = k->state;
  int dt = in[0].dtype;
  int32_t *y = out[0].data;
  for (int64_t o = 0; o < s->outer; o++)
    for (int64_t i = 0; i < s->inner; i++) {
      int64_t base = o * s->dim * s->inner + i, best = 0;
      double bv = kv_load(dt, in[0].data, base);
      for (int64_t d = 1; d < s->dim; d++) {
        double v = kv_load(dt, in[0].data, base + d * s->inner);
        if (s->is_max ? v > bv : v < bv) bv = v, best = d;
      }
      y[o * s->inner + i] = (int32_t)best;
    }
  return TOD_OK;
}

const kernel_ops kernel_ArgMaxFusion = {IR_OP_ArgMaxFusion, am_create, am_setup, am_run, am_destroy};
const kernel_ops kernel_ArgMinFusion = {IR_OP_ArgMinFusion, am_create, am_setup, am_run, am_destroy};
