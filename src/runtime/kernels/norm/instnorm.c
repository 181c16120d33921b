/* InstanceNorm, float32, channel-last x [N, spatial..., C], gamma/beta [C]: per image and
 * channel, y = gamma * (x - mean) / sqrt(var + epsilon) + beta over the spatial positions. */
#include <math.h>

#include "runtime/kernels/common/kutil.h"

static tod_status in_create(kernel *k, const ir_graph *g, const ir_node *n) {
  (void)g;
  if (n->n_in < 3 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs x, gamma, beta");
  return TOD_OK;
}

static tod_status in_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out, int n_out,
                           size_t *scratch) {
  *scratch = 0;
  for (int i = 0; i < 3; i++)
    if (in[i].dtype != IR_DT_FLOAT32) return kfail(k, TOD_NOT_SUPPORT, "only float32 is supported");
  if (in[0].ndim < 2) return kfail(k, TOD_INPUT_TENSOR_ERROR, "input rank < 2");
  int64_t ch = in[0].dims[in[0].ndim - 1];
  if (knumel(&in[1]) != ch || knumel(&in[2]) != ch) return kfail(k, TOD_INPUT_TENSOR_ERROR, "gamma/beta size");
  return TOD_OK;
}

static tod_status in_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                         void *scratch, tod_threadpool *tp) {
  const tod_view *x = &in[0];
  const float *xd = x->data, *gm = in[1].data, *bt = in[2].data;
  float *y = out[0].data;
  double eps = ir_attr_float(k->node, "epsilon", 1e-5);
  int64_t n = x->dims[0], c = x->dims[x->ndim - 1], sp = n && c ? knumel(x) / (n * c) : 0;
  for (int64_t b = 0; b < n; b++)
    for (int64_t ch = 0; ch < c; ch++) {
      const float *p = xd + b * sp * c + ch;
      double s = 0, s2 = 0;
      for (int64_t i = 0; i < sp; i++) s += p[i * c];
      double mean = sp ? s / (double)sp : 0;
      for (int64_t i = 0; i < sp; i++) s2 += (p[i * c] - mean) * (p[i * c] - mean);
      double inv = 1.0 / sqrt((sp ? s2 / (double)sp : 0) + eps);
      float *q = y + b * sp * c + ch;
      for (int64_t i = 0; i < sp; i++) q[i * c] = (float)(gm[ch] * (p[i * c] - mean) * inv + bt[ch]);
    }
  return TOD_OK;
}

const kernel_ops kernel_InstanceNorm = {IR_OP_InstanceNorm, in_create, in_setup, in_run, NULL};
