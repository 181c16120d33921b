/* LRN (ACROSS_CHANNELS), float32, channel-last: y = x / (bias + alpha * sum of x^2 over channels
 * [c - depth_radius, c + depth_radius])^beta (MindSpore/TensorFlow form; the ONNX importer maps
 * ONNX's alpha/size onto alpha). */
#include <math.h>

#include "runtime/kernels/common/kutil.h"

static tod_status lrn_create(kernel *k, const ir_graph *g, const ir_node *n) {
  (void)g;
  if (n->n_in < 1 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs x");
  if (ir_attr_int(n, "depth_radius", 5) < 0) return kfail(k, TOD_INVALID_OP_ATTR, "negative depth_radius");
  return TOD_OK;
}

static tod_status lrn_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out, int n_out,
                            size_t *scratch) {
  *scratch = 0;
  if (in[0].dtype != IR_DT_FLOAT32 || in[0].ndim < 1) return kfail(k, TOD_NOT_SUPPORT, "only float32 is supported");
  return TOD_OK;
}

static tod_status lrn_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                          void *scratch, tod_threadpool *tp) {
  const float *x = in[0].data;
  float *y = out[0].data;
  int64_t r = ir_attr_int(k->node, "depth_radius", 5), c = in[0].dims[in[0].ndim - 1];
  double bias = ir_attr_float(k->node, "bias", 1.0), alpha = ir_attr_float(k->node, "alpha", 1.0),
         beta = ir_attr_float(k->node, "beta", 0.5);
  int64_t rows = c ? knumel(&in[0]) / c : 0;
  for (int64_t p = 0; p < rows; p++) {
    const float *xp = x + p * c;
    for (int64_t ch = 0; ch < c; ch++) {
      double s = 0;
      for (int64_t j = ch - r; j <= ch + r; j++)
        if (j >= 0 && j < c) s += (double)xp[j] * xp[j];
      y[p * c + ch] = (float)(xp[ch] / pow(bias + alpha * s, beta));
    }
  }
  return TOD_OK;
}

const kernel_ops kernel_LRN = {IR_OP_LRN, lrn_create, lrn_setup, lrn_run, NULL};
