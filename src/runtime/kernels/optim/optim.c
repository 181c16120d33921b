/* Optimizer updates and Assign, float32, elementwise over the weight's flat memory
 * (MindSpore Lite's formulas, ms-training.md §4). Input 0 (the weight) and the state inputs are
 * parameters: they are updated IN PLACE through the input views (the runtime maps training
 * models copy-on-write), never packed or copied at create.
 *
 *  Adam            w m v beta1_power beta2_power lr beta1 beta2 epsilon grad   (use_nesterov)
 *  ApplyMomentum   w accum lr grad momentum                                   (use_nesterov)
 *  SGD             w grad lr accum momentum stat                  (nesterov, dampening, weight_decay)
 *  AdamWeightDecay w m v lr beta1 beta2 epsilon decay grad
 *  Assign          variable value
 * The learning rate is read from its input once at create and cached (optim_set_lr changes the
 * cache); every other hyper-parameter is read from element 0 of its input at each run, so a
 * graph that computes them (Adam's beta powers) works. Output 0, when present, gets a zero. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "runtime/kernels/common/kutil.h"
#include "runtime/kernels/optim/optim.h"

typedef struct {
  int lr_idx, grad_idx, n_in_min;
  int nesterov;
  float dampening, weight_decay;
  float lr;
  int lr_known; /* 0: the lr input had no constant value at create; read it at the first run */
  int64_t n;
} opt_state;

/* Which inputs are per-element (must hold n values) and which are scalars, per primitive. */
typedef struct {
  int op, n_in, lr_idx, grad_idx;
  const char *vec;    /* per input: 'v' vector, 's' scalar */
} opt_layout;

static const opt_layout layouts[] = {
    {IR_OP_Adam, 10, 5, 9, "vvvssssssv"},
    {IR_OP_ApplyMomentum, 5, 2, 3, "vvsvs"},
    {IR_OP_SGD, 6, 2, 1, "vvsvss"},
    {IR_OP_AdamWeightDecay, 9, 3, 8, "vvvsssssv"},
    {IR_OP_Assign, 2, -1, -1, "vv"},
};

static const opt_layout *layout_of(int op) {
  for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++)
    if (layouts[i].op == op) return &layouts[i];
  return NULL;
}

static void opt_destroy(kernel *k) {
  free(k->state);
  k->state = NULL;
}

static tod_status opt_create_i(kernel *k, const ir_graph *g, const ir_node *n) {
  opt_state *s = calloc(1, sizeof *s);
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  k->state = s;
  const opt_layout *L = layout_of(n->op);
  if (!L) return kfail(k, TOD_NOT_SUPPORT, "not an optimizer");
  if (n->n_in < L->n_in) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs %d inputs, has %d", L->n_in, n->n_in);
  for (int i = 0; i < L->n_in; i++)
    if (n->in[i] < 0) return kfail(k, TOD_INPUT_TENSOR_ERROR, "input %d is missing", i);
  s->lr_idx = L->lr_idx;
  s->grad_idx = L->grad_idx;
  s->n_in_min = L->n_in;
  s->nesterov = ir_attr_int(n, n->op == IR_OP_SGD ? "nesterov" : "use_nesterov", 0) != 0;
  s->dampening = (float)ir_attr_float(n, "dampening", 0.0);
  s->weight_decay = (float)ir_attr_float(n, "weight_decay", 0.0);
  if (n->op == IR_OP_SGD && (s->dampening < 0.0f || (s->nesterov && s->dampening > 0.0f)))
    return kfail(k, TOD_INVALID_OP_ATTR, "dampening must be >= 0 and 0 with nesterov");
  if (s->lr_idx >= 0) {
    const ir_tensor *t = &g->tensors[n->in[s->lr_idx]];
    if (t->dtype != IR_DT_FLOAT32) return kfail(k, TOD_NOT_SUPPORT, "lr must be float32");
    if ((t->kind == IR_TENSOR_CONST || t->kind == IR_TENSOR_PARAM) && t->data &&
        t->nbytes >= sizeof(float)) {
      memcpy(&s->lr, t->data, sizeof(float));
      s->lr_known = 1;
    }
  }
  return TOD_OK;
}
KCREATE_GUARDED(opt_create, opt_create_i, opt_destroy)

static tod_status opt_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                            int n_out, size_t *scratch) {
  opt_state *s = k->state;
  const opt_layout *L = layout_of(k->node->op);
  *scratch = 0;
  s->n = knumel(&in[0]);
  const int assign = k->node->op == IR_OP_Assign;
  for (int i = 0; i < L->n_in; i++) {
    if (assign) {
      if (ir_dtype_size(in[i].dtype) != ir_dtype_size(in[0].dtype) || !ir_dtype_size(in[0].dtype))
        return kfail(k, TOD_INPUT_TENSOR_ERROR, "variable and value differ in element size");
    } else if (in[i].dtype != IR_DT_FLOAT32) {
      return kfail(k, TOD_NOT_SUPPORT, "input %d: only float32 is supported", i);
    }
    const int64_t cnt = knumel(&in[i]);
    if (L->vec[i] == 'v' && cnt != s->n)
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "input %d has %lld values, the weight %lld", i,
                   (long long)cnt, (long long)s->n);
    if (L->vec[i] == 's' && cnt < 1)
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "scalar input %d is empty", i);
  }
  for (int i = 0; i < n_out; i++)
    if (out[i].dtype == IR_DT_FLOAT32 && knumel(&out[i]) < 1)
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "output %d is empty", i);
  return TOD_OK;
}

static float scalar(const tod_view *v) { return ((const float *)v->data)[0]; }

static void zero_outputs(tod_view *out, int n_out) {
  for (int i = 0; i < n_out; i++)
    if (out[i].data && out[i].dtype == IR_DT_FLOAT32) ((float *)out[i].data)[0] = 0.0f;
}

typedef struct {
  float *w, *m, *v;
  const float *g;
  float lr, k, b1, b2, eps, mu, damp, wd, decay;
  int nesterov, first;
} opt_job;

/* The hot updates run 4 lanes at a time in SSE2 (the x86-64 baseline): the same IEEE
 * operations in the same order as the scalar tails, so results are bit-identical. */
static void adam_range(void *ctx, int64_t b, int64_t e) {
  const opt_job *j = ctx;
  int64_t i = b;
#if defined(__SSE2__)
  const __m128 c1 = _mm_set1_ps(1.0f - j->b1), c2 = _mm_set1_ps(1.0f - j->b2);
  const __m128 vb1 = _mm_set1_ps(j->b1), veps = _mm_set1_ps(j->eps), vk = _mm_set1_ps(j->k);
  for (; i + 4 <= e; i += 4) {
    const __m128 g = _mm_loadu_ps(j->g + i);
    __m128 m = _mm_loadu_ps(j->m + i), v = _mm_loadu_ps(j->v + i);
    m = _mm_add_ps(m, _mm_mul_ps(_mm_sub_ps(g, m), c1));
    v = _mm_add_ps(v, _mm_mul_ps(_mm_sub_ps(_mm_mul_ps(g, g), v), c2));
    _mm_storeu_ps(j->m + i, m);
    _mm_storeu_ps(j->v + i, v);
    const __m128 den = _mm_add_ps(_mm_sqrt_ps(v), veps);
    const __m128 num = j->nesterov ? _mm_add_ps(_mm_mul_ps(vb1, m), _mm_mul_ps(c1, g)) : m;
    _mm_storeu_ps(j->w + i, _mm_sub_ps(_mm_loadu_ps(j->w + i), _mm_div_ps(_mm_mul_ps(vk, num), den)));
  }
#endif
  for (; i < e; i++) {
    const float g = j->g[i];
    j->m[i] += (g - j->m[i]) * (1.0f - j->b1);
    j->v[i] += (g * g - j->v[i]) * (1.0f - j->b2);
    const float den = sqrtf(j->v[i]) + j->eps;
    if (j->nesterov)
      j->w[i] -= j->k * (j->b1 * j->m[i] + (1.0f - j->b1) * g) / den;
    else
      j->w[i] -= j->k * j->m[i] / den;
  }
}

static void adamw_range(void *ctx, int64_t b, int64_t e) {
  const opt_job *j = ctx;
  for (int64_t i = b; i < e; i++) {
    const float g = j->g[i];
    j->m[i] += (g - j->m[i]) * (1.0f - j->b1);
    j->v[i] += (g * g - j->v[i]) * (1.0f - j->b2);
    j->w[i] -= j->lr * (j->m[i] / (sqrtf(j->v[i]) + j->eps) + j->decay * j->w[i]);
  }
}

static void momentum_range(void *ctx, int64_t b, int64_t e) {
  const opt_job *j = ctx;
  int64_t i = b;
#if defined(__SSE2__)
  const __m128 mu = _mm_set1_ps(j->mu), lr = _mm_set1_ps(j->lr);
  for (; i + 4 <= e; i += 4) {
    const __m128 g = _mm_loadu_ps(j->g + i);
    const __m128 m = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(j->m + i), mu), g);
    _mm_storeu_ps(j->m + i, m);
    const __m128 step = j->nesterov ? _mm_mul_ps(lr, _mm_add_ps(_mm_mul_ps(m, mu), g)) : _mm_mul_ps(lr, m);
    _mm_storeu_ps(j->w + i, _mm_sub_ps(_mm_loadu_ps(j->w + i), step));
  }
#endif
  for (; i < e; i++) {
    const float g = j->g[i];
    j->m[i] = j->m[i] * j->mu + g;
    j->w[i] -= j->nesterov ? j->lr * (j->m[i] * j->mu + g) : j->lr * j->m[i];
  }
}

static void sgd_range(void *ctx, int64_t b, int64_t e) {
  const opt_job *j = ctx;
  for (int64_t i = b; i < e; i++) {
    const float g = j->wd > 0.0f ? j->g[i] + j->wd * j->w[i] : j->g[i];
    if (j->first) { /* stat > 0: the accumulator starts as the gradient */
      j->m[i] = g;
      j->w[i] -= j->nesterov ? j->lr * (j->mu * g + g) : j->lr * g;
    } else if (j->mu > 0.0f) {
      j->m[i] = j->mu * j->m[i] + (1.0f - j->damp) * g;
      j->w[i] -= j->nesterov ? j->lr * (j->mu * j->m[i] + g) : j->lr * j->m[i];
    } else {
      j->w[i] -= j->lr * g;
    }
  }
}

static tod_status opt_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                          void *scratch, tod_threadpool *tp) {
  opt_state *s = k->state;
  const int op = k->node->op;
  if (op == IR_OP_Assign) {
    if (in[0].data != in[1].data)
      memmove(in[0].data, in[1].data, (size_t)s->n * ir_dtype_size(in[0].dtype));
    zero_outputs(out, n_out);
    return TOD_OK;
  }
  if (!s->lr_known) { /* a computed lr: cache its first value, as the constant case does */
    s->lr = scalar(&in[s->lr_idx]);
    s->lr_known = 1;
  }
  opt_job j;
  memset(&j, 0, sizeof j);
  j.w = in[0].data;
  j.g = in[s->grad_idx].data;
  j.lr = s->lr;
  j.nesterov = s->nesterov;
  kpar_fn fn = NULL;
  if (op == IR_OP_Adam) {
    const float b1p = scalar(&in[3]), b2p = scalar(&in[4]);
    if (!(1.0f - b1p > 0.0f) || !(1.0f - b2p >= 0.0f))
      return kfail(k, TOD_ERROR, "beta powers out of range (beta1_power %g, beta2_power %g)",
                   (double)b1p, (double)b2p);
    j.m = in[1].data;
    j.v = in[2].data;
    j.b1 = scalar(&in[6]);
    j.b2 = scalar(&in[7]);
    j.eps = scalar(&in[8]);
    j.k = (float)((double)s->lr * sqrt(1.0 - (double)b2p) / (1.0 - (double)b1p));
    fn = adam_range;
  } else if (op == IR_OP_AdamWeightDecay) {
    j.m = in[1].data;
    j.v = in[2].data;
    j.b1 = scalar(&in[4]);
    j.b2 = scalar(&in[5]);
    j.eps = scalar(&in[6]);
    j.decay = scalar(&in[7]);
    fn = adamw_range;
  } else if (op == IR_OP_ApplyMomentum) {
    j.m = in[1].data;
    j.mu = scalar(&in[4]);
    fn = momentum_range;
  } else { /* SGD */
    float *stat = in[5].data;
    j.m = in[3].data;
    j.mu = scalar(&in[4]);
    j.damp = s->dampening;
    j.wd = s->weight_decay;
    j.first = stat[0] > 0.0f;
    fn = sgd_range;
    kpar_for(tp, s->n, 16384, fn, &j);
    if (j.first) stat[0] = 0.0f;
    zero_outputs(out, n_out);
    return TOD_OK;
  }
  kpar_for(tp, s->n, 16384, fn, &j);
  zero_outputs(out, n_out);
  return TOD_OK;
}

const kernel_ops kernel_Adam = {IR_OP_Adam, opt_create, opt_setup, opt_run, opt_destroy};
const kernel_ops kernel_ApplyMomentum = {IR_OP_ApplyMomentum, opt_create, opt_setup, opt_run,
                                         opt_destroy};
const kernel_ops kernel_SGD = {IR_OP_SGD, opt_create, opt_setup, opt_run, opt_destroy};
const kernel_ops kernel_AdamWeightDecay = {IR_OP_AdamWeightDecay, opt_create, opt_setup, opt_run,
                                           opt_destroy};
const kernel_ops kernel_Assign = {IR_OP_Assign, opt_create, opt_setup, opt_run, opt_destroy};

int optim_is_optimizer(const kernel *k) {
  return k && k->state &&
         (k->ops == &kernel_Adam || k->ops == &kernel_ApplyMomentum || k->ops == &kernel_SGD ||
          k->ops == &kernel_AdamWeightDecay);
}

void optim_set_lr(kernel *k, float lr) {
  if (!optim_is_optimizer(k)) return;
  opt_state *s = k->state;
  s->lr = lr;
  s->lr_known = 1;
}

float optim_get_lr(const kernel *k) {
  if (!optim_is_optimizer(k)) return 0.0f;
  return ((const opt_state *)k->state)->lr;
}
