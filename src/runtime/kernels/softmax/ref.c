/* Softmax and LogSoftmax over one axis. The input is viewed as [outer, len, inner]; each of
 * the outer*inner lines is normalised independently (max-subtracted for stability), so lines
 * split cleanly across threads. */
#include <math.h>
#include <stdlib.h>

#include "runtime/kernels/common/kutil.h"

typedef struct {
  int log;
  int64_t axis_attr;
  int64_t outer, len, inner;
} sm_state;

static tod_status sm_create_impl(kernel *k, const ir_graph *g, const ir_node *n) {
  (void)g;
  sm_state *s = calloc(1, sizeof *s);
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  k->state = s;
  if (n->n_in < 1 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs 1 input");
  s->log = n->op == IR_OP_LogSoftmax;
  const int64_t *ax;
  if (ir_attr_ints(n, "axis", &ax) >= 1) s->axis_attr = ax[0];
  else s->axis_attr = ir_attr_int(n, "axis", -1);
  return TOD_OK;
}

static tod_status sm_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                           int n_out, size_t *scratch) {
  sm_state *s = k->state;
  const tod_view *x = &in[0];
  *scratch = 0;
  if (x->dtype != IR_DT_FLOAT32 || out[0].dtype != IR_DT_FLOAT32)
    return kfail(k, TOD_NOT_SUPPORT, "only float32 is supported");
  if (knumel(&out[0]) != knumel(x)) return kfail(k, TOD_INPUT_TENSOR_ERROR, "shape mismatch");
  int rank = x->ndim, a = 0;
  if (rank > 0 && !shape_norm_axis(s->axis_attr, rank, &a))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "axis %lld out of range for rank %d",
                 (long long)s->axis_attr, rank);
  s->outer = 1, s->len = rank ? x->dims[a] : 1, s->inner = 1;
  for (int i = 0; i < a; i++) s->outer *= x->dims[i];
  for (int i = a + 1; i < rank; i++) s->inner *= x->dims[i];
  return TOD_OK;
}

typedef struct {
  const sm_state *s;
  const float *x;
  float *y;
} sm_job;

static void sm_lines(void *ctx, int64_t l0, int64_t l1) {
  const sm_job *j = ctx;
  const int64_t len = j->s->len, inner = j->s->inner;
  for (int64_t l = l0; l < l1; l++) {
    int64_t o = l / inner, i = l % inner;
    const float *x = j->x + o * len * inner + i;
    float *y = j->y + o * len * inner + i;
    float m = -INFINITY;
    for (int64_t t = 0; t < len; t++) m = x[t * inner] > m ? x[t * inner] : m;
    float sum = 0.0f;
    if (j->s->log) {
      for (int64_t t = 0; t < len; t++) sum += expf(x[t * inner] - m);
      float ls = logf(sum);
      for (int64_t t = 0; t < len; t++) y[t * inner] = x[t * inner] - m - ls;
    } else {
      for (int64_t t = 0; t < len; t++) {
        float e = expf(x[t * inner] - m);
        y[t * inner] = e;
        sum += e;
      }
      float inv = 1.0f / sum;
      for (int64_t t = 0; t < len; t++) y[t * inner] *= inv;
    }
  }
}

static tod_status sm_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                         void *scratch, tod_threadpool *tp) {
  const sm_state *s = k->state;
  sm_job j = {s, in[0].data, out[0].data};
  int64_t grain = s->len > 0 ? 16384 / s->len : 1;
  kpar_for(tp, s->outer * s->inner, grain < 1 ? 1 : grain, sm_lines, &j);
  return TOD_OK;
}

static void sm_destroy(kernel *k) {
  free(k->state);
  k->state = NULL;
}

KCREATE_GUARDED(sm_create, sm_create_impl, sm_destroy)

const kernel_ops kernel_Softmax = {IR_OP_Softmax, sm_create, sm_setup, sm_run, sm_destroy};
const kernel_ops kernel_LogSoftmax = {IR_OP_LogSoftmax, sm_create, sm_setup, sm_run, sm_destroy};
