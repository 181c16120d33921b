/* Binary elementwise operators with numpy broadcasting: arithmetic (Add/Sub/Mul/Div/RealDiv,
 * Maximum, Minimum, PowFusion, SquaredDifference, FloorDiv, FloorMod/Mod) on float32, int32
 * and int64, and comparisons / logic (Equal, NotEqual, Less[Equal], Greater[Equal],
 * LogicalAnd/Or) producing bool.
 *
 * setup picks one of five layouts so the hot loops stay simple enough to auto-vectorise:
 * same shape, scalar on either side, a per-channel vector along the last axis on either side,
 * and a general N-d fallback that walks output rows with inner strides 0 or 1. Integer
 * arithmetic wraps (through unsigned) instead of overflowing, because shape computations in
 * untrusted models can ask for anything and signed overflow is undefined. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"

typedef void (*bin_loop)(const void *a, const void *b, void *y, int64_t n);
typedef struct {
  bin_loop vv, vs, sv; /* vector-vector, vector-scalar(b), scalar(a)-vector */
} bin_fns;

/* Defines NAME_vv/_vs/_sv computing y = EXPR with x = a element and z = b element. */
#define DEF3(NAME, TA, TY, EXPR)                                                              \
  static void NAME##_vv(const void *pa, const void *pb, void *py, int64_t n) {                \
    const TA *restrict a = pa;                                                                \
    const TA *restrict b = pb;                                                                \
    TY *restrict y = py;                                                                      \
    for (int64_t i = 0; i < n; i++) {                                                         \
      TA x = a[i], z = b[i];                                                                  \
      y[i] = (TY)(EXPR);                                                                      \
    }                                                                                         \
  }                                                                                           \
  static void NAME##_vs(const void *pa, const void *pb, void *py, int64_t n) {                \
    const TA *restrict a = pa;                                                                \
    const TA z = *(const TA *)pb;                                                             \
    TY *restrict y = py;                                                                      \
    for (int64_t i = 0; i < n; i++) {                                                         \
      TA x = a[i];                                                                            \
      y[i] = (TY)(EXPR);                                                                      \
    }                                                                                         \
  }                                                                                           \
  static void NAME##_sv(const void *pa, const void *pb, void *py, int64_t n) {                \
    const TA x = *(const TA *)pa;                                                             \
    const TA *restrict b = pb;                                                                \
    TY *restrict y = py;                                                                      \
    for (int64_t i = 0; i < n; i++) {                                                         \
      TA z = b[i];                                                                            \
      y[i] = (TY)(EXPR);                                                                      \
    }                                                                                         \
  }
#define FNS(NAME) {NAME##_vv, NAME##_vs, NAME##_sv}

static inline float f_floormod(float x, float z) {
  float r = fmodf(x, z);
  if (r != 0.0f && ((r < 0.0f) != (z < 0.0f))) r += z;
  return r;
}

/* Integer division helpers: b == 0 is rejected before the loop runs; b == -1 is special-cased
 * because INT_MIN / -1 traps. */
#define INT_HELPERS(T, U, SFX)                                                                \
  static inline T div_##SFX(T x, T z) {                                                       \
    return z == 0 ? 0 : z == -1 ? (T)(0 - (U)x) : (T)(x / z);                                 \
  }                                                                                           \
  static inline T floordiv_##SFX(T x, T z) {                                                  \
    if (z == 0) return 0;                                                                     \
    if (z == -1) return (T)(0 - (U)x);                                                        \
    T q = (T)(x / z);                                                                         \
    return (x % z != 0 && ((x < 0) != (z < 0))) ? (T)(q - 1) : q;                             \
  }                                                                                           \
  static inline T floormod_##SFX(T x, T z) {                                                  \
    if (z == 0 || z == -1) return 0;                                                          \
    T r = (T)(x % z);                                                                         \
    return (r != 0 && ((r < 0) != (z < 0))) ? (T)(r + z) : r;                                 \
  }
INT_HELPERS(int32_t, uint32_t, i32)
INT_HELPERS(int64_t, uint64_t, i64)

DEF3(add_f32, float, float, x + z)
DEF3(sub_f32, float, float, x - z)
DEF3(mul_f32, float, float, x *z)
DEF3(div_f32, float, float, x / z)
DEF3(max_f32, float, float, x > z ? x : z)
DEF3(min_f32, float, float, x < z ? x : z)
DEF3(pow_f32, float, float, powf(x, z))
DEF3(sqd_f32, float, float, (x - z) * (x - z))
DEF3(fdiv_f32, float, float, floorf(x / z))
DEF3(fmod_f32, float, float, f_floormod(x, z))

#define INT_ARITH(T, U, SFX)                                                                  \
  DEF3(add_##SFX, T, T, (U)x + (U)z)                                                          \
  DEF3(sub_##SFX, T, T, (U)x - (U)z)                                                          \
  DEF3(mul_##SFX, T, T, (U)x *(U)z)                                                           \
  DEF3(div_##SFX, T, T, div_##SFX(x, z))                                                      \
  DEF3(max_##SFX, T, T, x > z ? x : z)                                                        \
  DEF3(min_##SFX, T, T, x < z ? x : z)                                                        \
  DEF3(sqd_##SFX, T, T, ((U)x - (U)z) * ((U)x - (U)z))                                        \
  DEF3(fdiv_##SFX, T, T, floordiv_##SFX(x, z))                                                \
  DEF3(fmod_##SFX, T, T, floormod_##SFX(x, z))
INT_ARITH(int32_t, uint32_t, i32)
INT_ARITH(int64_t, uint64_t, i64)

#define CMP(T, SFX)                                                                           \
  DEF3(eq_##SFX, T, uint8_t, x == z)                                                          \
  DEF3(ne_##SFX, T, uint8_t, x != z)                                                          \
  DEF3(lt_##SFX, T, uint8_t, x < z)                                                           \
  DEF3(le_##SFX, T, uint8_t, x <= z)                                                          \
  DEF3(gt_##SFX, T, uint8_t, x > z)                                                           \
  DEF3(ge_##SFX, T, uint8_t, x >= z)
CMP(float, f32)
CMP(int32_t, i32)
CMP(int64_t, i64)
CMP(uint8_t, u8)
DEF3(and_u8, uint8_t, uint8_t, (x != 0) & (z != 0))
DEF3(or_u8, uint8_t, uint8_t, (x != 0) | (z != 0))

enum { DT_F32, DT_I32, DT_I64, DT_U8, DT_N };

static int dt_index(int dtype) {
  switch (dtype) {
    case IR_DT_FLOAT32: return DT_F32;
    case IR_DT_INT32: return DT_I32;
    case IR_DT_INT64: return DT_I64;
    case IR_DT_BOOL:
    case IR_DT_UINT8: return DT_U8;
    default: return -1;
  }
}

/* The loops for an operator and input dtype; NULL when unsupported. */
static const bin_fns *fns_for(int op, int dt) {
#define ROW3(F, I, L) {FNS(F), FNS(I), FNS(L), {0, 0, 0}}
  static const bin_fns add[DT_N] = ROW3(add_f32, add_i32, add_i64);
  static const bin_fns sub[DT_N] = ROW3(sub_f32, sub_i32, sub_i64);
  static const bin_fns mul[DT_N] = ROW3(mul_f32, mul_i32, mul_i64);
  static const bin_fns dv[DT_N] = ROW3(div_f32, div_i32, div_i64);
  static const bin_fns mx[DT_N] = ROW3(max_f32, max_i32, max_i64);
  static const bin_fns mn[DT_N] = ROW3(min_f32, min_i32, min_i64);
  static const bin_fns sqd[DT_N] = ROW3(sqd_f32, sqd_i32, sqd_i64);
  static const bin_fns fdv[DT_N] = ROW3(fdiv_f32, fdiv_i32, fdiv_i64);
  static const bin_fns fmd[DT_N] = ROW3(fmod_f32, fmod_i32, fmod_i64);
  static const bin_fns pw[DT_N] = {FNS(pow_f32), {0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
  static const bin_fns eq[DT_N] = {FNS(eq_f32), FNS(eq_i32), FNS(eq_i64), FNS(eq_u8)};
  static const bin_fns ne[DT_N] = {FNS(ne_f32), FNS(ne_i32), FNS(ne_i64), FNS(ne_u8)};
  static const bin_fns lt[DT_N] = {FNS(lt_f32), FNS(lt_i32), FNS(lt_i64), FNS(lt_u8)};
  static const bin_fns le[DT_N] = {FNS(le_f32), FNS(le_i32), FNS(le_i64), FNS(le_u8)};
  static const bin_fns gt[DT_N] = {FNS(gt_f32), FNS(gt_i32), FNS(gt_i64), FNS(gt_u8)};
  static const bin_fns ge[DT_N] = {FNS(ge_f32), FNS(ge_i32), FNS(ge_i64), FNS(ge_u8)};
  static const bin_fns land[DT_N] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}, FNS(and_u8)};
  static const bin_fns lor[DT_N] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}, FNS(or_u8)};
#undef ROW3
  const bin_fns *row;
  switch (op) {
    case IR_OP_AddFusion: row = add; break;
    case IR_OP_SubFusion: row = sub; break;
    case IR_OP_MulFusion: row = mul; break;
    case IR_OP_DivFusion:
    case IR_OP_RealDiv: row = dv; break;
    case IR_OP_Maximum: row = mx; break;
    case IR_OP_Minimum: row = mn; break;
    case IR_OP_PowFusion: row = pw; break;
    case IR_OP_SquaredDifference: row = sqd; break;
    case IR_OP_FloorDiv: row = fdv; break;
    case IR_OP_FloorMod:
    case IR_OP_Mod: row = fmd; break;
    case IR_OP_Equal: row = eq; break;
    case IR_OP_NotEqual: row = ne; break;
    case IR_OP_Less: row = lt; break;
    case IR_OP_LessEqual: row = le; break;
    case IR_OP_Greater: row = gt; break;
    case IR_OP_GreaterEqual: row = ge; break;
    case IR_OP_LogicalAnd: row = land; break;
    case IR_OP_LogicalOr: row = lor; break;
    default: return NULL;
  }
  return row[dt].vv ? &row[dt] : NULL;
}

static int is_compare(int op) {
  switch (op) {
    case IR_OP_Equal:
    case IR_OP_NotEqual:
    case IR_OP_Less:
    case IR_OP_LessEqual:
    case IR_OP_Greater:
    case IR_OP_GreaterEqual:
    case IR_OP_LogicalAnd:
    case IR_OP_LogicalOr: return 1;
    default: return 0;
  }
}

enum { M_SAME, M_B_SCALAR, M_A_SCALAR, M_B_CHANNEL, M_A_CHANNEL, M_GENERAL };

typedef struct {
  kact act;
  float scale, shift; /* PowFusion: pow(scale * a + shift, b) */
  int pow_affine;
  const bin_fns *fns;
  size_t esz_in, esz_out;
  int int_div; /* integer division family: b == 0 is an error */
  int mode;
  int64_t n_out, inner, rows;
  /* General mode: output dims and per-output-axis element strides of a and b (0 = broadcast). */
  int rank;
  int64_t dims[IR_MAX_DIMS], sa[IR_MAX_DIMS], sb[IR_MAX_DIMS];
} bin_state;

static tod_status bin_create_impl(kernel *k, const ir_graph *g, const ir_node *n) {
  (void)g;
  bin_state *s = calloc(1, sizeof *s);
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  k->state = s;
  if (n->n_in < 2 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs 2 inputs");
  kact_from_node(n, &s->act);
  if (!kact_supported(s->act.type))
    return kfail(k, TOD_NOT_SUPPORT, "activation_type %d is not supported", s->act.type);
  s->scale = 1.0f, s->shift = 0.0f;
  if (n->op == IR_OP_PowFusion) {
    s->scale = (float)ir_attr_float(n, "scale", 1.0);
    s->shift = (float)ir_attr_float(n, "shift", 0.0);
    s->pow_affine = s->scale != 1.0f || s->shift != 0.0f;
  }
  return TOD_OK;
}

/* Strides of x over the output's axes (x right-aligned; broadcast axes get 0). */
static void bcast_strides(const tod_view *x, const tod_view *out, int64_t *st) {
  int64_t acc = 1;
  for (int i = out->ndim - 1; i >= 0; i--) {
    int xi = i - (out->ndim - x->ndim);
    int64_t d = xi >= 0 ? x->dims[xi] : 1;
    st[i] = (d == 1 && out->dims[i] != 1) ? 0 : acc;
    acc *= d;
  }
}

/* Whether x is a vector along the output's last axis only ([..., 1, C]). */
static int is_channel_vector(const tod_view *x, const tod_view *out) {
  if (out->ndim < 1 || x->ndim < 1) return 0;
  int64_t c = out->dims[out->ndim - 1];
  return x->dims[x->ndim - 1] == c && knumel(x) == c;
}

static tod_status bin_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                            int n_out, size_t *scratch) {
  bin_state *s = k->state;
  const tod_view *a = &in[0], *b = &in[1], *y = &out[0];
  *scratch = 0;
  int op = k->node->op;
  int dt = dt_index(a->dtype);
  if (a->dtype != b->dtype || dt < 0 || !(s->fns = fns_for(op, dt)))
    return kfail(k, TOD_NOT_SUPPORT, "input dtypes %s/%s are not supported",
                 ir_dtype_name(a->dtype), ir_dtype_name(b->dtype));
  int cmp = is_compare(op);
  if (y->dtype != (cmp ? IR_DT_BOOL : a->dtype) && !(cmp && y->dtype == IR_DT_UINT8))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "output dtype %s does not match",
                 ir_dtype_name(y->dtype));
  if ((cmp || dt != DT_F32) && s->act.type != IR_ACT_NONE)
    return kfail(k, TOD_NOT_SUPPORT, "fused activation needs float32");
  s->esz_in = ir_dtype_size(a->dtype);
  s->esz_out = ir_dtype_size(y->dtype);
  s->int_div = dt != DT_F32 && (op == IR_OP_DivFusion || op == IR_OP_RealDiv ||
                                op == IR_OP_FloorDiv || op == IR_OP_FloorMod || op == IR_OP_Mod);
  /* The output shape must be exactly the broadcast of the inputs, or loops would overrun. */
  int64_t bd[IR_MAX_DIMS];
  int br;
  if (shape_broadcast(a->dims, a->ndim, b->dims, b->ndim, bd, &br) != 0 || br != y->ndim ||
      memcmp(bd, y->dims, sizeof(int64_t) * (size_t)br) != 0)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "output shape is not the broadcast of the inputs");
  int64_t na = knumel(a), nb = knumel(b);
  s->n_out = knumel(y);
  s->inner = y->ndim ? y->dims[y->ndim - 1] : 1;
  s->rows = s->inner ? s->n_out / s->inner : 0;
  if (na == s->n_out && nb == s->n_out) s->mode = M_SAME;
  else if (nb == 1 && na == s->n_out) s->mode = M_B_SCALAR;
  else if (na == 1 && nb == s->n_out) s->mode = M_A_SCALAR;
  else if (na == s->n_out && is_channel_vector(b, y)) s->mode = M_B_CHANNEL;
  else if (nb == s->n_out && is_channel_vector(a, y)) s->mode = M_A_CHANNEL;
  else s->mode = M_GENERAL;
  s->rank = y->ndim;
  memcpy(s->dims, y->dims, sizeof(int64_t) * (size_t)y->ndim);
  bcast_strides(a, y, s->sa);
  bcast_strides(b, y, s->sb);
  if (s->pow_affine) *scratch = (size_t)na * sizeof(float);
  return TOD_OK;
}

typedef struct {
  const bin_state *s;
  const char *a, *b;
  char *y;
} bin_job;

static void bin_post(const bin_state *s, char *y, int64_t b, int64_t e) {
  if (s->act.type != IR_ACT_NONE) {
    float *f = (float *)y;
    kact_apply(&s->act, f + b, f + b, e - b);
  }
}

/* Flat modes: [b, e) are element indices. */
static void bin_flat(void *ctx, int64_t b, int64_t e) {
  const bin_job *j = ctx;
  const bin_state *s = j->s;
  const size_t ei = s->esz_in, eo = s->esz_out;
  switch (s->mode) {
    case M_SAME: s->fns->vv(j->a + b * ei, j->b + b * ei, j->y + b * eo, e - b); break;
    case M_B_SCALAR: s->fns->vs(j->a + b * ei, j->b, j->y + b * eo, e - b); break;
    default: s->fns->sv(j->a, j->b + b * ei, j->y + b * eo, e - b); break;
  }
  bin_post(s, j->y, b, e);
}

/* Row modes: [b, e) are rows of the output's last axis. */
static void bin_rows(void *ctx, int64_t b, int64_t e) {
  const bin_job *j = ctx;
  const bin_state *s = j->s;
  const size_t ei = s->esz_in, eo = s->esz_out;
  const int64_t c = s->inner;
  for (int64_t r = b; r < e; r++) {
    char *y = j->y + r * c * eo;
    if (s->mode == M_B_CHANNEL) {
      s->fns->vv(j->a + r * c * ei, j->b, y, c);
    } else if (s->mode == M_A_CHANNEL) {
      s->fns->vv(j->a, j->b + r * c * ei, y, c);
    } else {
      int64_t oa = 0, ob = 0, rem = r;
      for (int d = s->rank - 2; d >= 0; d--) {
        int64_t idx = rem % s->dims[d];
        rem /= s->dims[d];
        oa += idx * s->sa[d];
        ob += idx * s->sb[d];
      }
      const char *pa = j->a + oa * (int64_t)ei, *pb = j->b + ob * (int64_t)ei;
      int64_t ia = s->sa[s->rank - 1], ib = s->sb[s->rank - 1];
      if (ia && ib) s->fns->vv(pa, pb, y, c);
      else if (ia) s->fns->vs(pa, pb, y, c);
      else if (ib) s->fns->sv(pa, pb, y, c);
      else s->fns->vs(pa, pb, y, c); /* c == 1 */
    }
  }
  bin_post(s, j->y, b * c, e * c);
}

static int has_zero(const tod_view *v) {
  int64_t n = knumel(v);
  if (v->dtype == IR_DT_INT32) {
    const int32_t *p = v->data;
    for (int64_t i = 0; i < n; i++)
      if (p[i] == 0) return 1;
  } else {
    const int64_t *p = v->data;
    for (int64_t i = 0; i < n; i++)
      if (p[i] == 0) return 1;
  }
  return 0;
}

static tod_status bin_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                          void *scratch, tod_threadpool *tp) {
  const bin_state *s = k->state;
  if (s->int_div && has_zero(&in[1])) return kfail(k, TOD_OP_EXECUTE_FAILURE, "integer division by zero");
  bin_job j = {s, in[0].data, in[1].data, out[0].data};
  if (s->pow_affine) {
    /* pow(scale * a + shift, b): transform a once into scratch, then the plain loops. */
    float *t = scratch;
    const float *a = in[0].data;
    int64_t na = knumel(&in[0]);
    for (int64_t i = 0; i < na; i++) t[i] = s->scale * a[i] + s->shift;
    j.a = (const char *)t;
  }
  if (s->mode <= M_A_SCALAR) {
    kpar_for(tp, s->n_out, 16384, bin_flat, &j);
  } else {
    int64_t grain = s->inner > 0 ? 16384 / s->inner : 1;
    kpar_for(tp, s->rows, grain < 1 ? 1 : grain, bin_rows, &j);
  }
  return TOD_OK;
}

static void bin_destroy(kernel *k) {
  free(k->state);
  k->state = NULL;
}

KCREATE_GUARDED(bin_create, bin_create_impl, bin_destroy)

#define BIN_KERNEL(OP) \
  const kernel_ops kernel_##OP = {IR_OP_##OP, bin_create, bin_setup, bin_run, bin_destroy};
BIN_KERNEL(AddFusion)
BIN_KERNEL(SubFusion)
BIN_KERNEL(MulFusion)
BIN_KERNEL(DivFusion)
BIN_KERNEL(RealDiv)
BIN_KERNEL(Maximum)
BIN_KERNEL(Minimum)
BIN_KERNEL(PowFusion)
BIN_KERNEL(SquaredDifference)
BIN_KERNEL(FloorDiv)
BIN_KERNEL(FloorMod)
BIN_KERNEL(Mod)
BIN_KERNEL(Equal)
BIN_KERNEL(NotEqual)
BIN_KERNEL(Less)
BIN_KERNEL(LessEqual)
BIN_KERNEL(Greater)
BIN_KERNEL(GreaterEqual)
BIN_KERNEL(LogicalAnd)
BIN_KERNEL(LogicalOr)
