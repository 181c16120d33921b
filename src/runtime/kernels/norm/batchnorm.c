/* FusedBatchNorm in inference form over the last (channel) axis:
 * y = scale * (x - mean) / sqrt(var + eps) + bias, folded to y = x * a[c] + b[c].
 * With constant parameters (the usual case) a and b are computed once at create; otherwise
 * each run recomputes them into scratch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"
#include "runtime/kernels/grad/grad.h"

typedef struct {
  float eps;
  int64_t channels; /* > 0 when ab holds precomputed coefficients */
  float *ab;        /* [2 * channels]: a then b */
  int64_t rows;
  int mode;       /* attr mode != 0: batch statistics when the kernel is in train mode */
  float momentum; /* running-statistics update factor (grad/norm_grad.c) */
} bn_state;

static void bn_fold(const float *scale, const float *bias, const float *mean, const float *var,
                    float eps, int64_t c, float *a, float *b) {
  for (int64_t i = 0; i < c; i++) {
    /* Double keeps the folding itself from adding error before the float multiply-add. */
    double inv = 1.0 / sqrt((double)var[i] + (double)eps);
    a[i] = (float)((double)scale[i] * inv);
    b[i] = (float)((double)bias[i] - (double)mean[i] * (double)scale[i] * inv);
  }
}

static tod_status bn_create_impl(kernel *k, const ir_graph *g, const ir_node *n) {
  bn_state *s = calloc(1, sizeof *s);
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  k->state = s;
  if (n->n_in < 5 || n->n_out < 1)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs x, scale, bias, mean, var");
  s->eps = (float)ir_attr_float(n, "epsilon", 1e-4);
  if (!(s->eps >= 0.0f)) return kfail(k, TOD_INVALID_OP_ATTR, "epsilon must be >= 0");
  s->mode = ir_attr_int(n, "mode", 0) != 0;
  s->momentum = (float)ir_attr_float(n, "momentum", 0.9);
  if (!(s->momentum >= 0.0f && s->momentum <= 1.0f))
    return kfail(k, TOD_INVALID_OP_ATTR, "momentum must be in [0, 1]");
  /* Training-capable: the statistics change between runs, so nothing is folded at create. */
  if (s->mode) return TOD_OK;
  const float *p[4];
  int64_t c = -1;
  for (int i = 0; i < 4; i++) {
    int t = n->in[1 + i];
    if (!g || t < 0 || t >= g->n_tensors) return TOD_OK;
    const ir_tensor *x = &g->tensors[t];
    if (x->kind != IR_TENSOR_CONST || !x->data || x->dtype != IR_DT_FLOAT32) return TOD_OK;
    int64_t cnt = (int64_t)(x->nbytes / sizeof(float));
    if (c >= 0 && cnt != c)
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "parameter %d has %lld values, expected %lld", 1 + i,
                   (long long)cnt, (long long)c);
    c = cnt;
    p[i] = x->data;
  }
  if (c <= 0) return TOD_OK;
  s->ab = malloc((size_t)c * 2 * sizeof(float));
  if (!s->ab) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  bn_fold(p[0], p[1], p[2], p[3], s->eps, c, s->ab, s->ab + c);
  s->channels = c;
  return TOD_OK;
}

static tod_status bn_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                           int n_out, size_t *scratch) {
  bn_state *s = k->state;
  const tod_view *x = &in[0];
  *scratch = 0;
  if (x->dtype != IR_DT_FLOAT32 || out[0].dtype != IR_DT_FLOAT32)
    return kfail(k, TOD_NOT_SUPPORT, "only float32 is supported");
  if (x->ndim < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "input must have rank >= 1");
  int64_t c = x->dims[x->ndim - 1];
  if (knumel(&out[0]) != knumel(x)) return kfail(k, TOD_INPUT_TENSOR_ERROR, "shape mismatch");
  if (s->channels > 0 && s->channels != c)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "%lld parameters for %lld channels",
                 (long long)s->channels, (long long)c);
  if (s->channels == 0) {
    for (int i = 1; i < 5; i++)
      if (in[i].dtype != IR_DT_FLOAT32 || knumel(&in[i]) != c)
        return kfail(k, TOD_INPUT_TENSOR_ERROR, "parameter %d must be %lld float32 values", i,
                     (long long)c);
    *scratch = (size_t)c * 2 * sizeof(float);
  }
  if (s->mode && n_in >= 5 && n_out >= 5) {
    for (int i = 1; i < 5; i++)
      if (knumel(&out[i]) != c || out[i].dtype != IR_DT_FLOAT32)
        return kfail(k, TOD_INPUT_TENSOR_ERROR, "output %d must be %lld float32 values", i,
                     (long long)c);
#ifndef TOD_NO_TRAIN /* the inference-only build (tod_min) never runs in train mode */
    size_t need = bn_train_scratch(c);
    if (need > *scratch) *scratch = need;
#endif
  }
  s->rows = c > 0 ? knumel(x) / c : 0;
  return TOD_OK;
}

typedef struct {
  const float *x, *a, *b;
  float *y;
  int64_t c;
  int clamp; /* a fused RELU / RELU6 (kernel.post_act): y = min(max(y, 0), hi), NaN -> 0 */
  float hi;
} bn_job;

static void bn_rows(void *ctx, int64_t r0, int64_t r1) {
  const bn_job *j = ctx;
  const int64_t c = j->c;
  const float *restrict a = j->a, *restrict b = j->b;
  for (int64_t r = r0; r < r1; r++) {
    const float *restrict x = j->x + r * c;
    float *restrict y = j->y + r * c;
    if (j->clamp)
      for (int64_t i = 0; i < c; i++) {
        const float v = x[i] * a[i] + b[i], p = v > 0.0f ? v : 0.0f;
        y[i] = p < j->hi ? p : j->hi;
      }
    else
      for (int64_t i = 0; i < c; i++) y[i] = x[i] * a[i] + b[i];
  }
}

static tod_status bn_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                         void *scratch, tod_threadpool *tp) {
  bn_state *s = k->state;
  int64_t c = in[0].ndim ? in[0].dims[in[0].ndim - 1] : 0;
  /* A RELU / RELU6 Activation the session folded in (runtime/fuse_residual.c): y goes to its
   * output, clamped. */
  float *y = k->post_out ? k->post_out->data : out[0].data;
  const int act = k->post_out ? k->post_act : IR_ACT_NONE;
#ifndef TOD_NO_TRAIN
  if (k->train && s->mode && n_in >= 5 && n_out >= 5) {
    bn_train_forward(in, out, n_out, s->eps, s->momentum, y, act, scratch, tp);
    return TOD_OK;
  }
#endif
  /* Eval with the training outputs present: pass the parameters through. */
  for (int i = 1; i < n_out && i < 5 && n_in >= 5; i++)
    if (out[i].data) memcpy(out[i].data, in[i].data, (size_t)c * sizeof(float));
  const float *ab = s->ab;
  if (s->channels == 0) {
    float *t = scratch;
    bn_fold(in[1].data, in[2].data, in[3].data, in[4].data, s->eps, c, t, t + c);
    ab = t;
  }
  bn_job j = {in[0].data, ab, ab + c, y, c, act == IR_ACT_RELU || act == IR_ACT_RELU6,
              act == IR_ACT_RELU6 ? 6.0f : INFINITY};
  int64_t grain = c > 0 ? 16384 / c : 1;
  kpar_for(tp, s->rows, grain < 1 ? 1 : grain, bn_rows, &j);
  return TOD_OK;
}

static void bn_destroy(kernel *k) {
  bn_state *s = k->state;
  if (s) free(s->ab);
  free(s);
  k->state = NULL;
}

KCREATE_GUARDED(bn_create, bn_create_impl, bn_destroy)

const kernel_ops kernel_FusedBatchNorm = {IR_OP_FusedBatchNorm, bn_create, bn_setup, bn_run,
                                          bn_destroy};
