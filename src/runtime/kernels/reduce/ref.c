/* ReduceFusion: Mean, Max, Min, Prod, Sum, SumSquare, ASum, All, L2 over any set of axes.
 * Accumulates in double in scratch (one slot per output element) while walking the input
 * once in memory order, so any axis set costs one pass; float32, float64, int32 and int64 (and bool
 * for All). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"

enum { R_MEAN, R_MAX, R_MIN, R_PROD, R_SUM, R_SUMSQ, R_ASUM, R_ALL, R_L2 };

typedef struct {
  int mode;
  double coeff;
  int rank;
  int64_t dims[IR_MAX_DIMS], ostr[IR_MAX_DIMS]; /* output stride per input axis; 0 if reduced */
  int64_t n_out, group; /* elements folded into each output */
} rd_state;

static void rd_destroy(kernel *k) {
  free(k->state);
  k->state = NULL;
}

static tod_status rd_create_impl(kernel *k, const ir_graph *g, const ir_node *n) {
  (void)g;
  rd_state *s = calloc(1, sizeof *s);
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  k->state = s;
  if (n->n_in < 1 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs an input");
  s->mode = (int)ir_attr_int(n, "mode", R_MEAN);
  if (s->mode < R_MEAN || s->mode > R_L2) return kfail(k, TOD_NOT_SUPPORT, "reduce mode %d", s->mode);
  /* coeff scales the result; the schema default 0 would zero it, so 0/absent means 1. */
  s->coeff = ir_attr_float(n, "coeff", 1.0);
  if (s->coeff == 0.0) s->coeff = 1.0;
  return TOD_OK;
}
KCREATE_GUARDED(rd_create, rd_create_impl, rd_destroy)

static tod_status rd_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                           int n_out, size_t *scratch) {
  rd_state *s = k->state;
  const tod_view *x = &in[0];
  int dt = x->dtype;
  int ok = s->mode == R_ALL ? (dt == IR_DT_BOOL || dt == IR_DT_UINT8)
                            : (dt == IR_DT_FLOAT32 || dt == IR_DT_FLOAT64 || dt == IR_DT_INT32 || dt == IR_DT_INT64);
  if (!ok || out[0].dtype != dt) return kfail(k, TOD_NOT_SUPPORT, "dtype %s", ir_dtype_name(dt));
  int mask[IR_MAX_DIMS];
  if (shape_reduce_axes(k->node, in, n_in, x->ndim, mask))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "axes must be known and in range");
  s->rank = x->ndim;
  int64_t acc = 1;
  s->group = 1;
  for (int i = x->ndim - 1; i >= 0; i--) {
    s->dims[i] = x->dims[i];
    if (mask[i]) {
      s->ostr[i] = 0;
      s->group *= x->dims[i];
    } else {
      s->ostr[i] = acc;
      acc *= x->dims[i];
    }
  }
  s->n_out = acc;
  if (knumel(&out[0]) != s->n_out) return kfail(k, TOD_INPUT_TENSOR_ERROR, "output size mismatch");
  *scratch = (size_t)s->n_out * sizeof(double);
  return TOD_OK;
}

static double rd_init(int mode) {
  switch (mode) {
    case R_MAX: return -INFINITY;
    case R_MIN: return INFINITY;
    case R_PROD:
    case R_ALL: return 1.0;
    default: return 0.0;
  }
}

static inline double rd_step(int mode, double a, double v) {
  switch (mode) {
    case R_MAX: return v > a || v != v ? v : a;
    case R_MIN: return v < a || v != v ? v : a;
    case R_PROD: return a * v;
    case R_SUMSQ:
    case R_L2: return a + v * v;
    case R_ASUM: return a + fabs(v);
    case R_ALL: return (a != 0.0 && v != 0.0) ? 1.0 : 0.0;
    default: return a + v;
  }
}

static tod_status rd_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                         void *scratch, tod_threadpool *tp) {
  const rd_state *s = k->state;
  double *acc = scratch;
  const int mode = s->mode, r = s->rank, dt = in[0].dtype;
  for (int64_t i = 0; i < s->n_out; i++) acc[i] = rd_init(mode);
  int64_t total = knumel(&in[0]);
  if (total > 0) {
    int64_t inner = r ? s->dims[r - 1] : 1, rows = total / inner, so = r ? s->ostr[r - 1] : 0;
    int64_t idx[IR_MAX_DIMS] = {0};
    for (int64_t row = 0; row < rows; row++) {
      int64_t base = 0;
      for (int d = 0; d < r - 1; d++) base += idx[d] * s->ostr[d];
      int64_t x0 = row * inner;
      for (int64_t t = 0; t < inner; t++) {
        double v;
        if (dt == IR_DT_FLOAT32) v = ((const float *)in[0].data)[x0 + t];
        else if (dt == IR_DT_FLOAT64) v = ((const double *)in[0].data)[x0 + t];
        else if (dt == IR_DT_INT32) v = ((const int32_t *)in[0].data)[x0 + t];
        else if (dt == IR_DT_INT64) v = (double)((const int64_t *)in[0].data)[x0 + t];
        else v = ((const uint8_t *)in[0].data)[x0 + t] != 0;
        double *a = &acc[base + t * so];
        *a = rd_step(mode, *a, v);
      }
      for (int d = r - 2; d >= 0; d--) {
        if (++idx[d] < s->dims[d]) break;
        idx[d] = 0;
      }
    }
  }
  for (int64_t i = 0; i < s->n_out; i++) {
    double v = acc[i];
    if (mode == R_MEAN) v = s->group ? v / (double)s->group : NAN;
    if (mode == R_L2) v = sqrt(v);
    v *= s->coeff;
    switch (dt) {
      case IR_DT_FLOAT32: ((float *)out[0].data)[i] = (float)v; break;
      case IR_DT_FLOAT64: ((double *)out[0].data)[i] = v; break;
      case IR_DT_INT32:
        ((int32_t *)out[0].data)[i] = v != v ? 0 : v >= 2147483647.0 ? INT32_MAX : v <= -2147483648.0 ? INT32_MIN : (int32_t)v;
        break;
      case IR_DT_INT64:
        ((int64_t *)out[0].data)[i] = v != v ? 0 : v >= 9.2233720368547758e18 ? INT64_MAX : v <= -9.2233720368547758e18 ? INT64_MIN : (int64_t)v;
        break;
      default: ((uint8_t *)out[0].data)[i] = v != 0.0; break;
    }
  }
  return TOD_OK;
}

const kernel_ops kernel_ReduceFusion = {IR_OP_ReduceFusion, rd_create, rd_setup, rd_run, rd_destroy};
