/* Tensors made from scalars: Fill (value input replicated), ConstantOfShape (value attribute
 * in the output dtype) and Range (start, limit, delta inputs or attributes). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"

static tod_status fill_create(kernel *k, const ir_graph *g, const ir_node *n) {
  (void)g;
  if (n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs an output");
  if ((n->op == IR_OP_Fill && n->n_in < 2) || (n->op == IR_OP_ConstantOfShape && n->n_in < 1))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "missing inputs");
  return TOD_OK;
}

static tod_status fill_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                             int n_out, size_t *scratch) {
  *scratch = 0;
  int dt = out[0].dtype;
  if (!ir_dtype_size(dt)) return kfail(k, TOD_NOT_SUPPORT, "dtype %s", ir_dtype_name(dt));
  if (k->node->op == IR_OP_Fill && (in[0].dtype != dt || knumel(&in[0]) != 1))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "value must be one %s", ir_dtype_name(dt));
  if (k->node->op == IR_OP_ConstantOfShape && dt != IR_DT_FLOAT32 && dt != IR_DT_FLOAT64 &&
      dt != IR_DT_INT32 && dt != IR_DT_INT64 && dt != IR_DT_BOOL && dt != IR_DT_INT8 &&
      dt != IR_DT_UINT8)
    return kfail(k, TOD_NOT_SUPPORT, "dtype %s", ir_dtype_name(dt));
  if (k->node->op == IR_OP_Range) {
    if (out[0].ndim != 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "output must be 1-D");
    if (dt != IR_DT_FLOAT32 && dt != IR_DT_INT32 && dt != IR_DT_INT64)
      return kfail(k, TOD_NOT_SUPPORT, "dtype %s", ir_dtype_name(dt));
    for (int i = 0; i < n_in && i < 3; i++)
      if (in[i].dtype != dt || knumel(&in[i]) != 1)
        return kfail(k, TOD_INPUT_TENSOR_ERROR, "input %d must be one %s", i, ir_dtype_name(dt));
  }
  return TOD_OK;
}

static void replicate(void *dst, const void *val, size_t es, int64_t n) {
  char *d = dst;
  for (int64_t i = 0; i < n; i++) memcpy(d + (size_t)i * es, val, es);
}

static double scalar(const tod_view *v) {
  int64_t iv;
  if (v->dtype == IR_DT_FLOAT32) return ((const float *)v->data)[0];
  if (v->dtype == IR_DT_FLOAT64) return ((const double *)v->data)[0];
  return shape_read_int(v, 0, &iv) ? (double)iv : 0.0;
}

static tod_status fill_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                           void *scratch, tod_threadpool *tp) {
  const ir_node *n = k->node;
  int dt = out[0].dtype;
  size_t es = ir_dtype_size(dt);
  int64_t cnt = knumel(&out[0]);
  if (n->op == IR_OP_Fill) {
    replicate(out[0].data, in[0].data, es, cnt);
  } else if (n->op == IR_OP_ConstantOfShape) {
    const float *fv;
    double v = ir_attr_floats(n, "value", &fv) >= 1 ? fv[0] : 0.0;
    unsigned char buf[8];
    switch (dt) {
      case IR_DT_FLOAT32: { float f = (float)v; memcpy(buf, &f, 4); break; }
      case IR_DT_FLOAT64: memcpy(buf, &v, 8); break;
      case IR_DT_INT32: { int32_t t = (v != v || fabs(v) > 2147483647.0) ? 0 : (int32_t)v; memcpy(buf, &t, 4); break; }
      case IR_DT_INT64: { int64_t t = (v != v || fabs(v) > 9.2e18) ? 0 : (int64_t)v; memcpy(buf, &t, 8); break; }
      case IR_DT_INT8: { int8_t t = (v != v || fabs(v) > 127.0) ? 0 : (int8_t)v; memcpy(buf, &t, 1); break; }
      default: buf[0] = (v != v || v < 0 || v > 255.0) ? (v != 0) : (unsigned char)v;
        if (dt == IR_DT_BOOL) buf[0] = v != 0.0;
        break;
    }
    replicate(out[0].data, buf, es, cnt);
  } else {
    double start, delta;
    if (n_in >= 3) start = scalar(&in[0]), delta = scalar(&in[2]);
    else start = (double)ir_attr_int(n, "start", 0), delta = (double)ir_attr_int(n, "delta", 1);
    for (int64_t i = 0; i < cnt; i++) {
      if (dt == IR_DT_FLOAT32) {
        /* float ranges accumulate like PyTorch/numpy: start + i * delta, in float. */
        ((float *)out[0].data)[i] = (float)start + (float)i * (float)delta;
      } else {
        double v = start + (double)i * delta;
        if (dt == IR_DT_INT32) ((int32_t *)out[0].data)[i] = (int32_t)(int64_t)v;
        else ((int64_t *)out[0].data)[i] = (int64_t)v;
      }
    }
  }
  return TOD_OK;
}

const kernel_ops kernel_Fill = {IR_OP_Fill, fill_create, fill_setup, fill_run, NULL};
const kernel_ops kernel_ConstantOfShape = {IR_OP_ConstantOfShape, fill_create, fill_setup, fill_run, NULL};
const kernel_ops kernel_Range = {IR_OP_Range, fill_create, fill_setup, fill_run, NULL};
