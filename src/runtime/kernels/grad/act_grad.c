/* Elementwise gradients and the bias pair: ActivationGrad, AbsGrad, BiasAdd, BiasAddGrad.
 *
 * ActivationGrad(dy, t): t is the forward OUTPUT for RELU, RELU6, SIGMOID and TANH (their
 * derivatives are cheapest from the output, and MindSpore feeds the output) and the forward
 * INPUT for every other type (docs/training.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"

typedef struct {
  int type;
  float alpha;
  int64_t n, c; /* elements; BiasAdd/BiasAddGrad: channels (last axis) */
} eg_state;

static void eg_destroy(kernel *k) {
  free(k->state);
  k->state = NULL;
}

static tod_status eg_create_i(kernel *k, const ir_graph *g, const ir_node *n) {
  eg_state *s = calloc(1, sizeof *s);
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  k->state = s;
  int need = n->op == IR_OP_BiasAddGrad ? 1 : 2;
  if (n->n_in < need || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs %d inputs", need);
  for (int i = 0; i < need; i++)
    if (n->in[i] < 0 || g->tensors[n->in[i]].dtype != IR_DT_FLOAT32)
      return kfail(k, TOD_NOT_SUPPORT, "only float32 is supported");
  if (n->op == IR_OP_ActivationGrad) {
    s->type = (int)ir_attr_int(n, "activation_type", 0);
    s->alpha = (float)ir_attr_float(n, "alpha", 0.0);
    switch (s->type) {
      case IR_ACT_RELU:
      case IR_ACT_RELU6:
      case IR_ACT_SIGMOID:
      case IR_ACT_TANH:
      case IR_ACT_HSWISH:
      case IR_ACT_HSIGMOID:
      case IR_ACT_LEAKY_RELU:
      case IR_ACT_ELU:
      case IR_ACT_GELU:
      case IR_ACT_SWISH:
      case IR_ACT_SOFTPLUS: break;
      default: return kfail(k, TOD_NOT_SUPPORT, "activation type %d has no gradient", s->type);
    }
  }
  return TOD_OK;
}
KCREATE_GUARDED(eg_create, eg_create_i, eg_destroy)

static tod_status check_f32(kernel *k, const tod_view *v) {
  if (v->dtype != IR_DT_FLOAT32) return kfail(k, TOD_NOT_SUPPORT, "only float32 is supported");
  return TOD_OK;
}

/* ActivationGrad, AbsGrad: dy, t (or x) and dx all have the same shape. */
static tod_status eg_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                           int n_out, size_t *scratch) {
  eg_state *s = k->state;
  *scratch = 0;
  if (check_f32(k, &in[0]) || check_f32(k, &in[1]) || check_f32(k, &out[0]))
    return TOD_NOT_SUPPORT;
  if (knumel(&in[0]) != knumel(&in[1]) || knumel(&out[0]) != knumel(&in[0]))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "inputs and output must have the same element count");
  s->n = knumel(&out[0]);
  return TOD_OK;
}

typedef struct {
  const eg_state *s;
  const float *a, *b;
  float *y;
} eg_job;

static float act_grad(int type, float alpha, float dy, float t) {
  switch (type) {
    case IR_ACT_RELU: return t > 0.0f ? dy : 0.0f;
    case IR_ACT_RELU6: return t > 0.0f && t < 6.0f ? dy : 0.0f;
    case IR_ACT_SIGMOID: return dy * t * (1.0f - t);
    case IR_ACT_TANH: return dy * (1.0f - t * t);
    /* from here on t is the forward input x */
    case IR_ACT_HSWISH:
      return t < -3.0f ? 0.0f : t <= 3.0f ? dy * (2.0f * t + 3.0f) / 6.0f : dy;
    case IR_ACT_HSIGMOID: return t > -3.0f && t < 3.0f ? dy / 6.0f : 0.0f;
    case IR_ACT_LEAKY_RELU: return t > 0.0f ? dy : dy * alpha;
    case IR_ACT_ELU: return t > 0.0f ? dy : dy * alpha * expf(t);
    case IR_ACT_GELU: { /* exact (erf) GELU: Φ(x) + x·φ(x) */
      const double x = t;
      const double cdf = 0.5 * (1.0 + erf(x * 0.70710678118654752440));
      const double pdf = 0.39894228040143267794 * exp(-0.5 * x * x);
      return (float)(dy * (cdf + x * pdf));
    }
    case IR_ACT_SWISH: {
      const float sg = 1.0f / (1.0f + expf(-t));
      return dy * (sg + t * sg * (1.0f - sg));
    }
    case IR_ACT_SOFTPLUS: return dy / (1.0f + expf(-t));
    default: return 0.0f;
  }
}

static void act_grad_range(void *ctx, int64_t b, int64_t e) {
  const eg_job *j = ctx;
  const int type = j->s->type;
  const float alpha = j->s->alpha;
  for (int64_t i = b; i < e; i++) j->y[i] = act_grad(type, alpha, j->a[i], j->b[i]);
}

static tod_status act_grad_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                               void *scratch, tod_threadpool *tp) {
  eg_job j = {k->state, in[0].data, in[1].data, out[0].data};
  kpar_for(tp, ((eg_state *)k->state)->n, 16384, act_grad_range, &j);
  return TOD_OK;
}

/* AbsGrad(x, dy): dy·sign(x), 0 at x == 0 (MindSpore's kernel). */
static void abs_grad_range(void *ctx, int64_t b, int64_t e) {
  const eg_job *j = ctx;
  for (int64_t i = b; i < e; i++) {
    const float x = j->a[i], g = j->b[i];
    j->y[i] = x > 0.0f ? g : x < 0.0f ? -g : 0.0f;
  }
}

static tod_status abs_grad_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                               void *scratch, tod_threadpool *tp) {
  eg_job j = {k->state, in[0].data, in[1].data, out[0].data};
  kpar_for(tp, ((eg_state *)k->state)->n, 16384, abs_grad_range, &j);
  return TOD_OK;
}

/* BiasAdd(x, b): b has the last axis' length. */
static tod_status bias_add_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                                 int n_out, size_t *scratch) {
  eg_state *s = k->state;
  *scratch = 0;
  if (check_f32(k, &in[0]) || check_f32(k, &in[1]) || check_f32(k, &out[0]))
    return TOD_NOT_SUPPORT;
  if (in[0].ndim < 1 || !kshape_equal(&in[0], &out[0]))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "x must have rank >= 1 and match the output");
  s->c = in[0].dims[in[0].ndim - 1];
  if (knumel(&in[1]) != s->c)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "bias has %lld values for %lld channels",
                 (long long)knumel(&in[1]), (long long)s->c);
  s->n = s->c > 0 ? knumel(&in[0]) / s->c : 0;
  return TOD_OK;
}

static void bias_add_rows(void *ctx, int64_t b, int64_t e) {
  const eg_job *j = ctx;
  const int64_t c = j->s->c;
  for (int64_t r = b; r < e; r++)
    for (int64_t i = 0; i < c; i++) j->y[r * c + i] = j->a[r * c + i] + j->b[i];
}

static tod_status bias_add_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                               void *scratch, tod_threadpool *tp) {
  const eg_state *s = k->state;
  eg_job j = {s, in[0].data, in[1].data, out[0].data};
  int64_t grain = s->c > 0 ? 16384 / s->c : 1;
  kpar_for(tp, s->n, grain < 1 ? 1 : grain, bias_add_rows, &j);
  return TOD_OK;
}

/* BiasAddGrad(dy): db[c] = Σ over all other axes. */
static tod_status bias_grad_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                                  int n_out, size_t *scratch) {
  eg_state *s = k->state;
  *scratch = 0;
  if (check_f32(k, &in[0]) || check_f32(k, &out[0])) return TOD_NOT_SUPPORT;
  if (in[0].ndim < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "dy must have rank >= 1");
  s->c = in[0].dims[in[0].ndim - 1];
  if (knumel(&out[0]) != s->c)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "output has %lld values for %lld channels",
                 (long long)knumel(&out[0]), (long long)s->c);
  s->n = s->c > 0 ? knumel(&in[0]) / s->c : 0;
  return TOD_OK;
}

/* Channel ranges: each task owns its output values; sums in double so a long batch does not
 * lose the small terms. */
static void bias_grad_chan(void *ctx, int64_t b, int64_t e) {
  const eg_job *j = ctx;
  const int64_t c = j->s->c, rows = j->s->n;
  for (int64_t ch = b; ch < e; ch++) {
    double sum = 0.0;
    for (int64_t r = 0; r < rows; r++) sum += j->a[r * c + ch];
    j->y[ch] = (float)sum;
  }
}

static tod_status bias_grad_run(kernel *k, const tod_view *in, int n_in, tod_view *out,
                                int n_out, void *scratch, tod_threadpool *tp) {
  const eg_state *s = k->state;
  eg_job j = {s, in[0].data, NULL, out[0].data};
  int64_t grain = s->n > 0 ? 65536 / s->n : s->c;
  kpar_for(tp, s->c, grain < 1 ? 1 : grain, bias_grad_chan, &j);
  return TOD_OK;
}

const kernel_ops kernel_ActivationGrad = {IR_OP_ActivationGrad, eg_create, eg_setup, act_grad_run,
                                          eg_destroy};
const kernel_ops kernel_AbsGrad = {IR_OP_AbsGrad, eg_create, eg_setup, abs_grad_run, eg_destroy};
const kernel_ops kernel_BiasAdd = {IR_OP_BiasAdd, eg_create, bias_add_setup, bias_add_run,
                                   eg_destroy};
const kernel_ops kernel_BiasAddGrad = {IR_OP_BiasAddGrad, eg_create, bias_grad_setup,
                                       bias_grad_run, eg_destroy};
