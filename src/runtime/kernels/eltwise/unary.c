/* Unary elementwise operators: Sqrt, Rsqrt, ExpFusion, Log, Neg, Abs, Floor, Ceil, Round, Erf,
 * Sin, Cos, Reciprocal, Square, LogicalNot and Clip. Float32 everywhere; Neg, Abs, Square and
 * Clip also take int32/int64 because shape computations use them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"

typedef struct {
  int op;
  int dtype;
  float base_log, scale, shift; /* ExpFusion: base^(scale*x+shift) = exp(ln(base)*(...)) */
  int exp_natural;
  /* Clip bounds from attributes; inputs 1/2 override them at run when present. */
  double lo, hi;
  int has_lo_in, has_hi_in;
} un_state;

static tod_status un_create_impl(kernel *k, const ir_graph *g, const ir_node *n) {
  (void)g;
  un_state *s = calloc(1, sizeof *s);
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  k->state = s;
  if (n->n_in < 1 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs 1 input");
  s->op = n->op;
  if (n->op == IR_OP_ExpFusion) {
    double base = ir_attr_float(n, "base", -1.0);
    s->scale = (float)ir_attr_float(n, "scale", 1.0);
    s->shift = (float)ir_attr_float(n, "shift", 0.0);
    s->exp_natural = base == -1.0;
    if (!s->exp_natural && !(base > 0.0))
      return kfail(k, TOD_INVALID_OP_ATTR, "base %g must be positive (or -1 for e)", base);
    s->base_log = s->exp_natural ? 1.0f : (float)log(base);
  }
  if (n->op == IR_OP_Clip) {
    /* Absent attributes mean unbounded (the schema's 0 default would clamp everything). */
    s->lo = ir_attr_find(n, "min") ? ir_attr_float(n, "min", 0) : -INFINITY;
    s->hi = ir_attr_find(n, "max") ? ir_attr_float(n, "max", 0) : INFINITY;
    s->has_lo_in = n->n_in >= 2 && n->in[1] >= 0;
    s->has_hi_in = n->n_in >= 3 && n->in[2] >= 0;
  }
  return TOD_OK;
}

static int int_ok(int op) {
  return op == IR_OP_Neg || op == IR_OP_Abs || op == IR_OP_Square || op == IR_OP_Clip;
}

static tod_status un_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                           int n_out, size_t *scratch) {
  un_state *s = k->state;
  *scratch = 0;
  int dt = in[0].dtype;
  int ok = s->op == IR_OP_LogicalNot
               ? (dt == IR_DT_BOOL || dt == IR_DT_UINT8)
               : (dt == IR_DT_FLOAT32 || (int_ok(s->op) && (dt == IR_DT_INT32 || dt == IR_DT_INT64)));
  if (!ok) return kfail(k, TOD_NOT_SUPPORT, "dtype %s is not supported", ir_dtype_name(dt));
  if (knumel(&in[0]) != knumel(&out[0]) ||
      ir_dtype_size(out[0].dtype) != ir_dtype_size(dt))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "output does not match the input");
  for (int i = 1; i < n_in && s->op == IR_OP_Clip; i++) {
    if ((i == 1 && !s->has_lo_in) || (i == 2 && !s->has_hi_in)) continue;
    if (in[i].dtype != dt || knumel(&in[i]) != 1)
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "clip bound %d must be a %s scalar", i,
                   ir_dtype_name(dt));
  }
  s->dtype = dt;
  return TOD_OK;
}

typedef struct {
  const un_state *s;
  const void *x;
  void *y;
  double lo, hi;
} un_job;

#define LOOP(EXPR)                                  \
  for (int64_t i = b; i < e; i++) {                 \
    float v = x[i];                                 \
    y[i] = (EXPR);                                  \
  }

static void un_f32(const un_job *j, int64_t b, int64_t e) {
  const float *restrict x = j->x;
  float *restrict y = j->y;
  const un_state *s = j->s;
  switch (s->op) {
    case IR_OP_Sqrt: LOOP(sqrtf(v)) break;
    case IR_OP_Rsqrt: LOOP(1.0f / sqrtf(v)) break;
    case IR_OP_ExpFusion: {
      const float m = s->base_log * s->scale, c = s->base_log * s->shift;
      if (m == 1.0f && c == 0.0f) {
        LOOP(expf(v))
      } else {
        LOOP(expf(m * v + c))
      }
      break;
    }
    case IR_OP_Log: LOOP(logf(v)) break;
    case IR_OP_Neg: LOOP(-v) break;
    case IR_OP_Abs: LOOP(fabsf(v)) break;
    case IR_OP_Floor: LOOP(floorf(v)) break;
    case IR_OP_Ceil: LOOP(ceilf(v)) break;
    case IR_OP_Round: LOOP(rintf(v)) break; /* half to even, as ONNX and PyTorch */
    case IR_OP_Erf: LOOP(erff(v)) break;
    case IR_OP_Sin: LOOP(sinf(v)) break;
    case IR_OP_Cos: LOOP(cosf(v)) break;
    case IR_OP_Reciprocal: LOOP(1.0f / v) break;
    case IR_OP_Square: LOOP(v * v) break;
    case IR_OP_Clip: {
      const float lo = (float)j->lo, hi = (float)j->hi;
      LOOP(v < lo ? lo : v > hi ? hi : v)
      break;
    }
    default: break;
  }
}
#undef LOOP

#define INT_UNARY(T, U, SFX)                                                                  \
  static void un_##SFX(const un_job *j, int64_t b, int64_t e) {                               \
    const T *restrict x = j->x;                                                               \
    T *restrict y = j->y;                                                                     \
    switch (j->s->op) {                                                                       \
      case IR_OP_Neg:                                                                         \
        for (int64_t i = b; i < e; i++) y[i] = (T)(0 - (U)x[i]);                              \
        break;                                                                                \
      case IR_OP_Abs:                                                                         \
        for (int64_t i = b; i < e; i++) y[i] = x[i] < 0 ? (T)(0 - (U)x[i]) : x[i];            \
        break;                                                                                \
      case IR_OP_Square:                                                                      \
        for (int64_t i = b; i < e; i++) y[i] = (T)((U)x[i] * (U)x[i]);                        \
        break;                                                                                \
      case IR_OP_Clip: {                                                                      \
        /* Bounds beyond the type's range clamp nothing on that side. */                      \
        double lo = j->lo, hi = j->hi;                                                        \
        for (int64_t i = b; i < e; i++) {                                                     \
          double v = (double)x[i];                                                            \
          y[i] = v < lo ? (T)lo : v > hi ? (T)hi : x[i];                                      \
        }                                                                                     \
        break;                                                                                \
      }                                                                                       \
      default: break;                                                                         \
    }                                                                                         \
  }
INT_UNARY(int32_t, uint32_t, i32)
INT_UNARY(int64_t, uint64_t, i64)

static void un_chunk(void *ctx, int64_t b, int64_t e) {
  const un_job *j = ctx;
  switch (j->s->dtype) {
    case IR_DT_FLOAT32: un_f32(j, b, e); break;
    case IR_DT_INT32: un_i32(j, b, e); break;
    case IR_DT_INT64: un_i64(j, b, e); break;
    default: {
      const uint8_t *x = j->x;
      uint8_t *y = j->y;
      for (int64_t i = b; i < e; i++) y[i] = !x[i];
    }
  }
}

/* Reads a scalar clip bound as double. */
static double scalar_of(const tod_view *v) {
  int64_t iv;
  if (v->dtype == IR_DT_FLOAT32) return ((const float *)v->data)[0];
  if (shape_read_int(v, 0, &iv)) return (double)iv;
  return 0;
}

static tod_status un_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                         void *scratch, tod_threadpool *tp) {
  const un_state *s = k->state;
  un_job j = {s, in[0].data, out[0].data, s->lo, s->hi};
  if (s->op == IR_OP_Clip) {
    if (s->has_lo_in && n_in >= 2 && in[1].data) j.lo = scalar_of(&in[1]);
    if (s->has_hi_in && n_in >= 3 && in[2].data) j.hi = scalar_of(&in[2]);
    if (s->dtype != IR_DT_FLOAT32) {
      /* Keep the (T) casts in the loop defined: the bounds must be representable. */
      double tmin = s->dtype == IR_DT_INT32 ? -2147483648.0 : -9223372036854775808.0;
      double tmax = s->dtype == IR_DT_INT32 ? 2147483647.0 : 9223372036854774784.0;
      if (!(j.lo >= tmin)) j.lo = tmin;
      if (!(j.hi <= tmax)) j.hi = tmax;
    }
  }
  kpar_for(tp, knumel(&out[0]), 16384, un_chunk, &j);
  return TOD_OK;
}

static void un_destroy(kernel *k) {
  free(k->state);
  k->state = NULL;
}

KCREATE_GUARDED(un_create, un_create_impl, un_destroy)

#define UN_KERNEL(OP) \
  const kernel_ops kernel_##OP = {IR_OP_##OP, un_create, un_setup, un_run, un_destroy};
UN_KERNEL(Sqrt)
UN_KERNEL(Rsqrt)
UN_KERNEL(ExpFusion)
UN_KERNEL(Log)
UN_KERNEL(Neg)
UN_KERNEL(Abs)
UN_KERNEL(Floor)
UN_KERNEL(Ceil)
UN_KERNEL(Round)
UN_KERNEL(Erf)
UN_KERNEL(Sin)
UN_KERNEL(Cos)
UN_KERNEL(Reciprocal)
UN_KERNEL(Square)
UN_KERNEL(LogicalNot)
UN_KERNEL(Clip)
