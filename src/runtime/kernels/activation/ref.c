/* Activation (every ops.fbs ActivationType tod supports) and the fused-activation helper the
 * other float kernels call. libm's expf/tanhf/erff keep results within ~1 ulp of PyTorch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "runtime/kernels/activation/vec.h"
#include "runtime/kernels/common/kutil.h"

void kact_from_node(const ir_node *n, kact *a) {
  memset(a, 0, sizeof *a);
  a->type = (int)ir_attr_int(n, "activation_type", IR_ACT_NONE);
  /* Schema defaults are 0, which would make ELU/LeakyReLU/HardTanh degenerate; when the
   * attribute is absent use the framework defaults instead. */
  int leaky = a->type == IR_ACT_LEAKY_RELU;
  a->alpha = (float)ir_attr_float(n, "alpha", a->type == IR_ACT_ELU ? 1.0 : leaky ? 0.01 : 0.0);
  a->min_val = (float)ir_attr_float(n, "min_val", -1.0);
  a->max_val = (float)ir_attr_float(n, "max_val", 1.0);
  a->approximate = ir_attr_int(n, "approximate", 0) != 0;
}

int kact_supported(int type) {
  return type >= IR_ACT_NONE && type <= IR_ACT_FAST_GELU;
}

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

/* y = min(max(x, 0), hi), NaN -> 0 (fminf(fmaxf(x, 0), hi)). Branch-free in SSE2 (the x86-64
 * baseline): a compare-and-branch per element mispredicts on real activations, half of
 * which are negative. */
static void clamp_act(const float *x, float *y, int64_t n, float hi) {
  int64_t i = 0;
#if defined(__SSE2__)
  const __m128 zero = _mm_setzero_ps(), vhi = _mm_set1_ps(hi);
  for (; i + 8 <= n; i += 8) {
    /* maxps returns its second operand when the first is NaN */
    _mm_storeu_ps(y + i, _mm_min_ps(_mm_max_ps(_mm_loadu_ps(x + i), zero), vhi));
    _mm_storeu_ps(y + i + 4, _mm_min_ps(_mm_max_ps(_mm_loadu_ps(x + i + 4), zero), vhi));
  }
#endif
  for (; i < n; i++) {
    const float v = x[i] > 0.0f ? x[i] : 0.0f;
    y[i] = v < hi ? v : hi;
  }
}

void kact_apply(const kact *a, const float *x, float *y, int64_t n) {
  const float al = a->alpha;
  switch (a->type) {
    case IR_ACT_NONE:
    case IR_ACT_LINEAR:
      if (x != y) memcpy(y, x, (size_t)n * sizeof(float));
      break;
    case IR_ACT_RELU:
    case IR_ACT_RELU6:
    case IR_ACT_RELU1:
      clamp_act(x, y, n, a->type == IR_ACT_RELU6 ? 6.0f : a->type == IR_ACT_RELU1 ? 1.0f : INFINITY);
      break;
    case IR_ACT_SIGMOID:
      act_vec_config_get()->sigmoid(x, y, (size_t)n);
      break;
    case IR_ACT_TANH:
      for (int64_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
      break;
    case IR_ACT_ELU:
      for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : al * expm1f(x[i]);
      break;
    case IR_ACT_LEAKY_RELU:
      for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : al * x[i];
      break;
    case IR_ACT_ABS:
      for (int64_t i = 0; i < n; i++) y[i] = fabsf(x[i]);
      break;
    case IR_ACT_SOFTSIGN:
      for (int64_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + fabsf(x[i]));
      break;
    case IR_ACT_SOFTPLUS:
      /* PyTorch's threshold: above 20 log1p(exp(x)) == x in float. */
      for (int64_t i = 0; i < n; i++) y[i] = x[i] > 20.0f ? x[i] : log1pf(expf(x[i]));
      break;
    case IR_ACT_SELU: {
      const float scale = 1.0507009873554804934f, alpha = 1.6732632423543772848f;
      for (int64_t i = 0; i < n; i++)
        y[i] = x[i] > 0.0f ? scale * x[i] : scale * alpha * expm1f(x[i]);
      break;
    }
    case IR_ACT_HSWISH:
      act_vec_config_get()->hswish(x, y, (size_t)n);
      break;
    case IR_ACT_HSIGMOID:
      act_vec_config_get()->hsigmoid(x, y, (size_t)n);
      break;
    case IR_ACT_THRESHOLDRELU:
      for (int64_t i = 0; i < n; i++) y[i] = x[i] > al ? x[i] : 0.0f;
      break;
    case IR_ACT_HARD_TANH: {
      const float lo = a->min_val, hi = a->max_val;
      for (int64_t i = 0; i < n; i++) y[i] = fminf(fmaxf(x[i], lo), hi);
      break;
    }
    case IR_ACT_SIGN:
      for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? 1.0f : x[i] < 0.0f ? -1.0f : 0.0f;
      break;
    case IR_ACT_SWISH:
      act_vec_config_get()->swish(x, y, (size_t)n);
      break;
    case IR_ACT_GELU:
      if (a->approximate) {
        const float k = 0.7978845608028654f; /* sqrt(2/pi) */
        for (int64_t i = 0; i < n; i++) {
          float v = x[i];
          y[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
        }
      } else {
        for (int64_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
      }
      break;
    case IR_ACT_FAST_GELU:
      for (int64_t i = 0; i < n; i++) y[i] = x[i] * sigmoidf(1.702f * x[i]);
      break;
    default:
      /* Rejected at create; keep the output defined anyway. */
      if (x != y) memcpy(y, x, (size_t)n * sizeof(float));
      break;
  }
}

/* --- the Activation operator --------------------------------------------------------------- */

typedef struct {
  kact act;
} act_state;

static tod_status act_create_impl(kernel *k, const ir_graph *g, const ir_node *n) {
  (void)g;
  act_state *s = calloc(1, sizeof *s);
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  kact_from_node(n, &s->act);
  if (n->op == IR_OP_Elu) s->act.type = IR_ACT_ELU;
  if (n->op == IR_OP_Elu) s->act.alpha = (float)ir_attr_float(n, "alpha", 1.0);
  if (n->op == IR_OP_LeakyRelu) {
    s->act.type = IR_ACT_LEAKY_RELU;
    s->act.alpha = (float)ir_attr_float(n, "negative_slope", 0.01);
  }
  k->state = s;
  if (!kact_supported(s->act.type))
    return kfail(k, TOD_NOT_SUPPORT, "activation_type %d is not supported", s->act.type);
  if (n->n_in < 1 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs 1 input and output");
  return TOD_OK;
}

static tod_status act_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                            int n_out, size_t *scratch) {
  *scratch = 0;
  if (in[0].dtype != IR_DT_FLOAT32 || out[0].dtype != IR_DT_FLOAT32)
    return kfail(k, TOD_NOT_SUPPORT, "only float32 is supported, got %s", ir_dtype_name(in[0].dtype));
  if (knumel(&in[0]) != knumel(&out[0])) return kfail(k, TOD_INPUT_TENSOR_ERROR, "shape mismatch");
  return TOD_OK;
}

typedef struct {
  const kact *a;
  const float *x;
  float *y;
} act_job;

static void act_chunk(void *ctx, int64_t b, int64_t e) {
  const act_job *j = ctx;
  kact_apply(j->a, j->x + b, j->y + b, e - b);
}

static tod_status act_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                          void *scratch, tod_threadpool *tp) {
  act_state *s = k->state;
  act_job j = {&s->act, in[0].data, out[0].data};
  kpar_for(tp, knumel(&out[0]), 16384, act_chunk, &j);
  return TOD_OK;
}

static void act_destroy(kernel *k) {
  free(k->state);
  k->state = NULL;
}

KCREATE_GUARDED(act_create, act_create_impl, act_destroy)

const kernel_ops kernel_Activation = {IR_OP_Activation, act_create, act_setup, act_run, act_destroy};
const kernel_ops kernel_Elu = {IR_OP_Elu, act_create, act_setup, act_run, act_destroy};
const kernel_ops kernel_LeakyRelu = {IR_OP_LeakyRelu, act_create, act_setup, act_run, act_destroy};
