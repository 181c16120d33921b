/* Loss kernels (MindSpore Lite semantics, ms-training.md §5):
 *  - SparseSoftmaxCrossEntropyWithLogits(logits [N,C], labels [N] int32/int64): is_grad = 0:
 *    [1] mean of −log softmax[label]; is_grad = 1: [N,C] (softmax − onehot)/N;
 *  - SoftmaxCrossEntropyWithLogits(logits [N,C], labels [N,C]): [N] per-sample loss, and
 *    p − label in a second output when there is one;
 *  - SigmoidCrossEntropyWithLogits(x, z), elementwise, and its Grad (x, z, dloss).
 * Labels are untrusted values: a class index outside [0, C) fails the run. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"

typedef struct {
  int is_grad;
  int64_t n, c; /* rows, classes (elements for the sigmoid losses) */
  int dloss_scalar;
} loss_state;

static void loss_destroy(kernel *k) {
  free(k->state);
  k->state = NULL;
}

static tod_status loss_create_i(kernel *k, const ir_graph *g, const ir_node *n) {
  loss_state *s = calloc(1, sizeof *s);
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  k->state = s;
  int need = n->op == IR_OP_SigmoidCrossEntropyWithLogitsGrad ? 3 : 2;
  if (n->n_in < need || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs %d inputs", need);
  s->is_grad = n->op == IR_OP_SigmoidCrossEntropyWithLogitsGrad || ir_attr_int(n, "is_grad", 0) != 0;
  return TOD_OK;
}
KCREATE_GUARDED(loss_create, loss_create_i, loss_destroy)

static tod_status sparse_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                               int n_out, size_t *scratch) {
  loss_state *s = k->state;
  *scratch = 0;
  const tod_view *lg = &in[0], *lb = &in[1];
  if (lg->dtype != IR_DT_FLOAT32 || out[0].dtype != IR_DT_FLOAT32)
    return kfail(k, TOD_NOT_SUPPORT, "logits must be float32");
  if (lb->dtype != IR_DT_INT32 && lb->dtype != IR_DT_INT64)
    return kfail(k, TOD_NOT_SUPPORT, "labels must be int32 or int64");
  if (lg->ndim != 2 || knumel(lb) != lg->dims[0])
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs logits [N,C] and N labels");
  s->n = lg->dims[0];
  s->c = lg->dims[1];
  if (knumel(&out[0]) != (s->is_grad ? s->n * s->c : 1))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "output has the wrong size");
  return TOD_OK;
}

static int64_t label_at(const tod_view *lb, int64_t i) {
  return lb->dtype == IR_DT_INT64 ? ((const int64_t *)lb->data)[i]
                                  : (int64_t)((const int32_t *)lb->data)[i];
}

/* log-sum-exp of one row, shifted by its max for stability. */
static double row_lse(const float *x, int64_t c, float *mx) {
  float m = x[0];
  for (int64_t j = 1; j < c; j++) m = x[j] > m ? x[j] : m;
  double sum = 0.0;
  for (int64_t j = 0; j < c; j++) sum += exp((double)x[j] - m);
  *mx = m;
  return log(sum);
}

static tod_status sparse_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                             void *scratch, tod_threadpool *tp) {
  const loss_state *s = k->state;
  const float *x = in[0].data;
  float *y = out[0].data;
  const int64_t n = s->n, c = s->c;
  for (int64_t i = 0; i < n; i++) {
    const int64_t l = label_at(&in[1], i);
    if (l < 0 || l >= c)
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "label %lld of sample %lld is outside [0, %lld)",
                   (long long)l, (long long)i, (long long)c);
  }
  if (n == 0 || c == 0) {
    if (!s->is_grad) y[0] = 0.0f;
    return TOD_OK;
  }
  double total = 0.0;
  for (int64_t i = 0; i < n; i++) {
    const float *row = x + i * c;
    float m;
    const double lse = row_lse(row, c, &m);
    const int64_t l = label_at(&in[1], i);
    if (s->is_grad) {
      float *g = y + i * c;
      for (int64_t j = 0; j < c; j++)
        g[j] = (float)((exp((double)row[j] - m - lse) - (j == l ? 1.0 : 0.0)) / (double)n);
    } else {
      total += lse + m - row[l];
    }
  }
  if (!s->is_grad) y[0] = (float)(total / (double)n);
  return TOD_OK;
}

static tod_status softmax_ce_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                                   int n_out, size_t *scratch) {
  loss_state *s = k->state;
  *scratch = 0;
  if (in[0].dtype != IR_DT_FLOAT32 || in[1].dtype != IR_DT_FLOAT32 || out[0].dtype != IR_DT_FLOAT32)
    return kfail(k, TOD_NOT_SUPPORT, "only float32 is supported");
  if (in[0].ndim != 2 || !kshape_equal(&in[0], &in[1]))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs logits [N,C] and labels [N,C]");
  s->n = in[0].dims[0];
  s->c = in[0].dims[1];
  if (knumel(&out[0]) != s->n || (n_out > 1 && knumel(&out[1]) != s->n * s->c))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "outputs must be [N] and [N,C]");
  return TOD_OK;
}

static tod_status softmax_ce_run(kernel *k, const tod_view *in, int n_in, tod_view *out,
                                 int n_out, void *scratch, tod_threadpool *tp) {
  const loss_state *s = k->state;
  const float *x = in[0].data, *z = in[1].data;
  float *loss = out[0].data, *grad = n_out > 1 ? out[1].data : NULL;
  const int64_t c = s->c;
  for (int64_t i = 0; i < s->n; i++) {
    const float *row = x + i * c, *lab = z + i * c;
    float m;
    const double lse = c > 0 ? row_lse(row, c, &m) : 0.0;
    double l = 0.0;
    for (int64_t j = 0; j < c; j++) {
      const double logp = (double)row[j] - m - lse;
      const double p = exp(logp);
      /* MindSpore replaces a vanished probability by 1e-6 rather than taking log(0). */
      l -= (double)lab[j] * (p > 0.0 ? logp : log(1e-6));
      /* Written in eval mode too (MindSpore only writes it in train mode) so the tensor is
       * never left uninitialised. */
      if (grad) grad[i * c + j] = (float)(p - lab[j]);
    }
    loss[i] = (float)l;
  }
  return TOD_OK;
}

/* Sigmoid losses: x, z (and dloss) elementwise; dloss may be a single value. */
static tod_status sigmoid_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                                int n_out, size_t *scratch) {
  loss_state *s = k->state;
  *scratch = 0;
  const int is_grad = s->is_grad;
  for (int i = 0; i < (is_grad ? 3 : 2); i++)
    if (in[i].dtype != IR_DT_FLOAT32) return kfail(k, TOD_NOT_SUPPORT, "only float32 is supported");
  s->n = knumel(&in[0]);
  if (knumel(&in[1]) != s->n || knumel(&out[0]) != s->n || out[0].dtype != IR_DT_FLOAT32)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "logits, labels and output must match");
  if (is_grad) {
    int64_t nd = knumel(&in[2]);
    if (nd != 1 && nd != s->n)
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "dloss must have 1 or %lld values", (long long)s->n);
    s->dloss_scalar = nd == 1;
  }
  return TOD_OK;
}

typedef struct {
  const loss_state *s;
  const float *x, *z, *d;
  float *y;
} sig_job;

static void sigmoid_ce_range(void *ctx, int64_t b, int64_t e) {
  const sig_job *j = ctx;
  for (int64_t i = b; i < e; i++) {
    const float x = j->x[i];
    j->y[i] = fmaxf(x, 0.0f) - x * j->z[i] + log1pf(expf(-fabsf(x)));
  }
}

static void sigmoid_ce_grad_range(void *ctx, int64_t b, int64_t e) {
  const sig_job *j = ctx;
  for (int64_t i = b; i < e; i++) {
    const float sg = 1.0f / (1.0f + expf(-j->x[i]));
    j->y[i] = (sg - j->z[i]) * j->d[j->s->dloss_scalar ? 0 : i];
  }
}

static tod_status sigmoid_ce_run(kernel *k, const tod_view *in, int n_in, tod_view *out,
                                 int n_out, void *scratch, tod_threadpool *tp) {
  sig_job j = {k->state, in[0].data, in[1].data, NULL, out[0].data};
  kpar_for(tp, j.s->n, 16384, sigmoid_ce_range, &j);
  return TOD_OK;
}

static tod_status sigmoid_ce_grad_run(kernel *k, const tod_view *in, int n_in, tod_view *out,
                                      int n_out, void *scratch, tod_threadpool *tp) {
  sig_job j = {k->state, in[0].data, in[1].data, in[2].data, out[0].data};
  kpar_for(tp, j.s->n, 16384, sigmoid_ce_grad_range, &j);
  return TOD_OK;
}

const kernel_ops kernel_SparseSoftmaxCrossEntropyWithLogits = {
    IR_OP_SparseSoftmaxCrossEntropyWithLogits, loss_create, sparse_setup, sparse_run, loss_destroy};
const kernel_ops kernel_SoftmaxCrossEntropyWithLogits = {
    IR_OP_SoftmaxCrossEntropyWithLogits, loss_create, softmax_ce_setup, softmax_ce_run,
    loss_destroy};
const kernel_ops kernel_SigmoidCrossEntropyWithLogits = {
    IR_OP_SigmoidCrossEntropyWithLogits, loss_create, sigmoid_setup, sigmoid_ce_run, loss_destroy};
const kernel_ops kernel_SigmoidCrossEntropyWithLogitsGrad = {
    IR_OP_SigmoidCrossEntropyWithLogitsGrad, loss_create, sigmoid_setup, sigmoid_ce_grad_run,
    loss_destroy};
