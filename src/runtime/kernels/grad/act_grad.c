/* Elementwise gradients and the bias pair: ActivationGrad, AbsGrad, BiasAdd, BiasAddGrad.
 *
 * ActivationGrad(dy, t): t is the forward OUTPUT for RELU, RELU6, SIGMOID and TANH (their
 * derivatives are cheapest from the output, and MindSpore feeds the output) and the forward
 * INPUT for every other type (docs/training.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "runtime/kernels/common/kutil.h"
#include "runtime/kernels/gemm/gemm.h"

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

/* dy where lo < t < hi, else 0 (RELU: hi = inf; RELU6: hi = 6): the training hot path, in
 * SSE2 (the x86-64 baseline) with the scalar formula for tails and other targets. */
static void clip_grad(const float *dy, const float *t, float *y, int64_t n, float hi) {
  int64_t i = 0;
#if defined(__SSE2__)
  const __m128 vlo = _mm_setzero_ps(), vhi = _mm_set1_ps(hi);
  for (; i + 8 <= n; i += 8) {
    const __m128 t0 = _mm_loadu_ps(t + i), t1 = _mm_loadu_ps(t + i + 4);
    const __m128 m0 = _mm_and_ps(_mm_cmpgt_ps(t0, vlo), _mm_cmplt_ps(t0, vhi));
    const __m128 m1 = _mm_and_ps(_mm_cmpgt_ps(t1, vlo), _mm_cmplt_ps(t1, vhi));
    _mm_storeu_ps(y + i, _mm_and_ps(m0, _mm_loadu_ps(dy + i)));
    _mm_storeu_ps(y + i + 4, _mm_and_ps(m1, _mm_loadu_ps(dy + i + 4)));
  }
#endif
  for (; i < n; i++) y[i] = t[i] > 0.0f && t[i] < hi ? dy[i] : 0.0f;
}

static void act_grad_range(void *ctx, int64_t b, int64_t e) {
  const eg_job *j = ctx;
  const int type = j->s->type;
  const float alpha = j->s->alpha;
  if (type == IR_ACT_RELU || type == IR_ACT_RELU6) {
    clip_grad(j->a + b, j->b + b, j->y + b, e - b, type == IR_ACT_RELU ? INFINITY : 6.0f);
    return;
  }
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

/* BiasAddGrad(dy): db[c] = Σ over all other axes. Rows are split over the threads; each sums
 * blocks of BG_BLOCK rows in float (vectorised along the channels, rows in memory order)
 * and adds each block's sums into its private double accumulators, which are added at the
 * end. Scratch: per slot, c doubles and c floats. A channel count dividing 48 (LeNet's 6 and
 * 16) sums the task's rows as one flat run, 48 values (12 vectors, lane i is channel i % c) at
 * a time, each lane BG_BLOCK values in float before they go to double: per-row sums of a few
 * channels would be a chain of dependent adds through memory. */
#define BG_BLOCK 64
#define BG_FLAT 48

static size_t bg_slot_bytes(int64_t c) {
  return ((size_t)c * (sizeof(double) + sizeof(float)) + 63) / 64 * 64;
}

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
  *scratch = gemm_scratch_slots() * bg_slot_bytes(s->c);
  return TOD_OK;
}

typedef struct {
  const eg_state *s;
  const float *dy;
  char *scratch;
} bg_job;

static void bias_grad_tasks(void *ctx, size_t slot, size_t begin, size_t end) {
  const bg_job *j = ctx;
  const int64_t c = j->s->c;
  double *acc = (double *)(void *)(j->scratch + slot * bg_slot_bytes(c));
  float *f = (float *)(acc + c);
#if defined(__SSE2__)
  if (c > 0 && BG_FLAT % c == 0) {
    /* Runs of BG_BLOCK * BG_FLAT values (a multiple of c): each lane sums BG_BLOCK values in
     * float, as a row block does below. */
    const int64_t rb = (int64_t)begin * BG_BLOCK;
    const int64_t re = (int64_t)end * BG_BLOCK < j->s->n ? (int64_t)end * BG_BLOCK : j->s->n;
    const size_t total = rb < re ? (size_t)(re - rb) * (size_t)c : 0;
    for (size_t s0 = 0; s0 < total; s0 += BG_BLOCK * BG_FLAT) {
      const float *a = j->dy + (size_t)rb * (size_t)c + s0;
      const size_t n = total - s0 < BG_BLOCK * BG_FLAT ? total - s0 : BG_BLOCK * BG_FLAT;
      __m128 v[BG_FLAT / 4];
      for (int q = 0; q < BG_FLAT / 4; q++) v[q] = _mm_setzero_ps();
      size_t i = 0;
      for (; i + BG_FLAT <= n; i += BG_FLAT)
#pragma GCC unroll 12
        for (int q = 0; q < BG_FLAT / 4; q++) v[q] = _mm_add_ps(v[q], _mm_loadu_ps(a + i + 4 * (size_t)q));
      float lanes[BG_FLAT];
      for (int q = 0; q < BG_FLAT / 4; q++) _mm_storeu_ps(lanes + 4 * q, v[q]);
      memset(f, 0, (size_t)c * sizeof(float));
      /* i is a multiple of c here, as is every lane run: channels restart at 0 */
      for (size_t l = 0, ch = 0; l < BG_FLAT; l++, ch = ch + 1 == (size_t)c ? 0 : ch + 1) f[ch] += lanes[l];
      for (size_t ch = 0; i < n; i++, ch = ch + 1 == (size_t)c ? 0 : ch + 1) f[ch] += a[i];
      for (int64_t q = 0; q < c; q++) acc[q] += f[q];
    }
    return;
  }
#endif
  for (int64_t r0 = (int64_t)begin * BG_BLOCK; r0 < (int64_t)end * BG_BLOCK && r0 < j->s->n;
       r0 += BG_BLOCK) {
    const int64_t r1 = r0 + BG_BLOCK < j->s->n ? r0 + BG_BLOCK : j->s->n;
    memset(f, 0, (size_t)c * sizeof(float));
    for (int64_t r = r0; r < r1; r++) {
      const float *a = j->dy + r * c;
      int64_t i = 0;
#if defined(__SSE2__)
      for (; i + 4 <= c; i += 4) _mm_storeu_ps(f + i, _mm_add_ps(_mm_loadu_ps(f + i), _mm_loadu_ps(a + i)));
#endif
      for (; i < c; i++) f[i] += a[i];
    }
    for (int64_t i = 0; i < c; i++) acc[i] += f[i];
  }
}

static tod_status bias_grad_run(kernel *k, const tod_view *in, int n_in, tod_view *out,
                                int n_out, void *scratch, tod_threadpool *tp) {
  const eg_state *s = k->state;
  const int64_t c = s->c;
  bg_job j = {s, in[0].data, scratch};
  const size_t blocks = (size_t)((s->n + BG_BLOCK - 1) / BG_BLOCK);
  /* Small tensors on one thread: waking the pool would cost more than the sum. */
  size_t slots = s->n * c < 16384 ? 1 : gemm_scratch_slots();
  if (slots > blocks) slots = blocks ? blocks : 1;
  float *db = out[0].data;
  if (blocks == 0) {
    for (int64_t i = 0; i < c; i++) db[i] = 0.0f;
    return TOD_OK;
  }
  for (size_t sl = 0; sl < slots; sl++)
    memset((char *)scratch + sl * bg_slot_bytes(c), 0, (size_t)c * sizeof(double));
  gemm_run_slots(tp, slots, blocks, bias_grad_tasks, &j);
  for (int64_t i = 0; i < c; i++) {
    double sum = 0.0;
    for (size_t sl = 0; sl < slots; sl++)
      sum += ((const double *)(const void *)((const char *)scratch + sl * bg_slot_bytes(c)))[i];
    db[i] = (float)sum;
  }
  return TOD_OK;
}

const kernel_ops kernel_ActivationGrad = {IR_OP_ActivationGrad, eg_create, eg_setup, act_grad_run,
                                          eg_destroy};
const kernel_ops kernel_AbsGrad = {IR_OP_AbsGrad, eg_create, eg_setup, abs_grad_run, eg_destroy};
const kernel_ops kernel_BiasAdd = {IR_OP_BiasAdd, eg_create, bias_add_setup, bias_add_run,
                                   eg_destroy};
const kernel_ops kernel_BiasAddGrad = {IR_OP_BiasAddGrad, eg_create, bias_grad_setup,
                                       bias_grad_run, eg_destroy};
