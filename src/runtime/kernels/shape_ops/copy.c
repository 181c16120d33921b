/* Operators that only relabel the shape (Reshape, Flatten, Squeeze, Unsqueeze, ExpandDims):
 * the bytes are unchanged, so run is a memcpy unless the executor aliased output to input.
 * And Shape, which writes the input's dims. */
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"

static tod_status copy_create(kernel *k, const ir_graph *g, const ir_node *n) {
  (void)g;
  if (n->n_in < 1 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs 1 input");
  return TOD_OK;
}

static tod_status copy_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                             int n_out, size_t *scratch) {
  *scratch = 0;
  size_t ei = ir_dtype_size(in[0].dtype), eo = ir_dtype_size(out[0].dtype);
  if (!ei || ei != eo || knumel(&in[0]) != knumel(&out[0]))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "output (%s, %lld elements) does not match input (%s, %lld)",
                 ir_dtype_name(out[0].dtype), (long long)knumel(&out[0]),
                 ir_dtype_name(in[0].dtype), (long long)knumel(&in[0]));
  return TOD_OK;
}

static tod_status copy_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                           void *scratch, tod_threadpool *tp) {
  size_t bytes = (size_t)knumel(&in[0]) * ir_dtype_size(in[0].dtype);
  if (out[0].data != in[0].data && bytes) memmove(out[0].data, in[0].data, bytes);
  return TOD_OK;
}

#define COPY_KERNEL(OP) \
  const kernel_ops kernel_##OP = {IR_OP_##OP, copy_create, copy_setup, copy_run, NULL};
COPY_KERNEL(Reshape)
COPY_KERNEL(Flatten)
COPY_KERNEL(Squeeze)
COPY_KERNEL(Unsqueeze)
COPY_KERNEL(ExpandDims)

static tod_status shape_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                              int n_out, size_t *scratch) {
  *scratch = 0;
  if ((out[0].dtype != IR_DT_INT32 && out[0].dtype != IR_DT_INT64) || out[0].ndim != 1 ||
      out[0].dims[0] != in[0].ndim)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "output must be %d int32/int64 values", in[0].ndim);
  return TOD_OK;
}

static tod_status shape_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                            void *scratch, tod_threadpool *tp) {
  for (int i = 0; i < in[0].ndim; i++) {
    if (out[0].dtype == IR_DT_INT32) ((int32_t *)out[0].data)[i] = (int32_t)in[0].dims[i];
    else ((int64_t *)out[0].data)[i] = in[0].dims[i];
  }
  return TOD_OK;
}

const kernel_ops kernel_Shape = {IR_OP_Shape, copy_create, shape_setup, shape_run, NULL};
