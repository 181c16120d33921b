/* Dropout and DropoutGrad (MindSpore Lite semantics, ms-training.md §3).
 *
 * Train mode (k->train): mask_i ~ Bernoulli(keep_prob), y = x·mask/keep_prob, output 1 = mask
 * as float. Eval mode: y = x (and a mask of ones). The random stream is xorshift64*, seeded from
 * k->seed (set by the session; reseeded whenever the session changes it) and advancing across
 * runs, so a seeded training run is reproducible. Serial: the stream is sequential by nature
 * and the cost is tiny next to the layers around it. */
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"

typedef struct {
  float keep_prob;
  int64_t n;
  uint64_t rng, seeded_with;
  int seeded;
} drop_state;

static void drop_destroy(kernel *k) {
  free(k->state);
  k->state = NULL;
}

static tod_status drop_create_i(kernel *k, const ir_graph *g, const ir_node *n) {
  drop_state *s = calloc(1, sizeof *s);
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  k->state = s;
  int need = n->op == IR_OP_DropoutGrad ? 2 : 1;
  if (n->n_in < need || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs %d inputs", need);
  s->keep_prob = (float)ir_attr_float(n, "keep_prob", 0.5);
  if (!(s->keep_prob > 0.0f))
    return kfail(k, TOD_INVALID_OP_ATTR, "keep_prob must be > 0, got %g", (double)s->keep_prob);
  /* keep_prob >= 1 keeps everything unscaled. */
  if (s->keep_prob > 1.0f) s->keep_prob = 1.0f;
  return TOD_OK;
}
KCREATE_GUARDED(drop_create, drop_create_i, drop_destroy)

static tod_status drop_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                             int n_out, size_t *scratch) {
  drop_state *s = k->state;
  *scratch = 0;
  const int need = k->node && k->node->op == IR_OP_DropoutGrad ? 2 : 1;
  s->n = knumel(&in[0]);
  for (int i = 0; i < need; i++)
    if (in[i].dtype != IR_DT_FLOAT32 || knumel(&in[i]) != s->n)
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "inputs must be float32 with %lld values",
                   (long long)s->n);
  for (int i = 0; i < n_out && i < 2; i++)
    if (out[i].dtype != IR_DT_FLOAT32 || knumel(&out[i]) != s->n)
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "outputs must be float32 with %lld values",
                   (long long)s->n);
  return TOD_OK;
}

/* splitmix64: turns any seed (0 included) into a well-mixed non-zero xorshift state. */
static uint64_t mix_seed(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return z ? z : 0x2545F4914F6CDD1Dull;
}

static tod_status drop_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                           void *scratch, tod_threadpool *tp) {
  drop_state *s = k->state;
  const float *x = in[0].data;
  float *y = out[0].data, *mask = n_out > 1 ? out[1].data : NULL;
  if (!k->train || s->keep_prob >= 1.0f) {
    if (y != x) memcpy(y, x, (size_t)s->n * sizeof(float));
    if (mask)
      for (int64_t i = 0; i < s->n; i++) mask[i] = 1.0f;
    return TOD_OK;
  }
  if (!s->seeded || s->seeded_with != k->seed) {
    s->rng = mix_seed(k->seed);
    s->seeded_with = k->seed;
    s->seeded = 1;
  }
  const float scale = 1.0f / s->keep_prob;
  uint64_t r = s->rng;
  for (int64_t i = 0; i < s->n; i++) {
    r ^= r >> 12;
    r ^= r << 25;
    r ^= r >> 27;
    /* 24 high bits of xorshift64* -> uniform in [0, 1) exactly representable as float. */
    const float u = (float)((r * 0x2545F4914F6CDD1Dull) >> 40) * (1.0f / 16777216.0f);
    const float m = u < s->keep_prob ? 1.0f : 0.0f;
    if (mask) mask[i] = m;
    y[i] = x[i] * m * scale;
  }
  s->rng = r;
  return TOD_OK;
}

typedef struct {
  const float *dy, *mask;
  float *dx, scale;
} dg_job;

static void drop_grad_range(void *ctx, int64_t b, int64_t e) {
  const dg_job *j = ctx;
  for (int64_t i = b; i < e; i++) j->dx[i] = j->dy[i] * j->mask[i] * j->scale;
}

static tod_status drop_grad_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                                void *scratch, tod_threadpool *tp) {
  const drop_state *s = k->state;
  dg_job j = {in[0].data, in[1].data, out[0].data, 1.0f / s->keep_prob};
  kpar_for(tp, s->n, 16384, drop_grad_range, &j);
  return TOD_OK;
}

const kernel_ops kernel_Dropout = {IR_OP_Dropout, drop_create, drop_setup, drop_run, drop_destroy};
const kernel_ops kernel_DropoutGrad = {IR_OP_DropoutGrad, drop_create, drop_setup, drop_grad_run,
                                       drop_destroy};
