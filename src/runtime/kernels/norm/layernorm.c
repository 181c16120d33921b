/* LayerNormFusion (ONNX LayerNormalization): over the trailing dims from begin_norm_axis,
 * y = (x - mean) / sqrt(var + epsilon) * gamma + beta, gamma/beta holding the normalized
 * extent (elementwise_affine). float32; statistics accumulated in double. Optional outputs 1
 * and 2 are ONNX's Mean and InvStdDev (x's shape with the normalized dims set to 1). */
#include <math.h>
#include <stdlib.h>

#include "runtime/kernels/common/kutil.h"

typedef struct {
  int64_t outer, inner;
  float eps;
} ln_state;

static void ln_destroy(kernel *k) {
  free(k->state);
  k->state = NULL;
}

static tod_status ln_create_impl(kernel *k, const ir_graph *g, const ir_node *n) {
  (void)g;
  ln_state *s = calloc(1, sizeof *s);
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  k->state = s;
  if (n->n_in < 2 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs x and gamma");
  s->eps = (float)ir_attr_float(n, "epsilon", 1e-5);
  return TOD_OK;
}
KCREATE_GUARDED(ln_create, ln_create_impl, ln_destroy)

static tod_status ln_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out, int n_out,
                           size_t *scratch) {
  (void)n_out;
  ln_state *s = k->state;
  *scratch = 0;
  int a;
  if (!shape_norm_axis(ir_attr_int(k->node, "begin_norm_axis", -1), in[0].ndim, &a))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "begin_norm_axis out of range");
  for (int i = 0; i < n_in && i < 3; i++)
    if (in[i].ndim >= 0 && in[i].dtype != IR_DT_FLOAT32)
      return kfail(k, TOD_NOT_SUPPORT, "only float32 is supported");
  s->outer = s->inner = 1;
  for (int i = 0; i < a; i++) s->outer *= in[0].dims[i];
  for (int i = a; i < in[0].ndim; i++) s->inner *= in[0].dims[i];
  if (knumel(&in[1]) != s->inner || (n_in >= 3 && in[2].ndim >= 0 && knumel(&in[2]) != s->inner))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "gamma/beta must hold the normalized extent");
  if (!kshape_equal(&in[0], &out[0])) return kfail(k, TOD_INPUT_TENSOR_ERROR, "shape mismatch");
  for (int i = 1; i < n_out && i < 3; i++)
    if (out[i].dtype != IR_DT_FLOAT32 || knumel(&out[i]) != s->outer)
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "statistics output %d has the wrong size", i);
  return TOD_OK;
}

static tod_status ln_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                         void *scratch, tod_threadpool *tp) {
  (void)scratch, (void)tp;
  const ln_state *s = k->state;
  float *mo = n_out >= 2 ? out[1].data : NULL, *io = n_out >= 3 ? out[2].data : NULL;
  const float *x = in[0].data, *gm = in[1].data;
  const float *bt = n_in >= 3 && in[2].ndim >= 0 ? in[2].data : NULL;
  float *y = out[0].data;
  for (int64_t o = 0; o < s->outer; o++) {
    const float *xr = x + o * s->inner;
    float *yr = y + o * s->inner;
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < s->inner; i++) sum += xr[i];
    double mean = s->inner ? sum / (double)s->inner : 0;
    for (int64_t i = 0; i < s->inner; i++) sq += (xr[i] - mean) * (xr[i] - mean);
    double inv = 1.0 / sqrt((s->inner ? sq / (double)s->inner : 0) + s->eps);
    if (mo) mo[o] = (float)mean;
    if (io) io[o] = (float)inv;
    for (int64_t i = 0; i < s->inner; i++)
      yr[i] = (float)((xr[i] - mean) * inv * gm[i] + (bt ? bt[i] : 0.0));
  }
  return TOD_OK;
}

const kernel_ops kernel_LayerNormFusion = {IR_OP_LayerNormFusion, ln_create, ln_setup, ln_run, ln_destroy};
