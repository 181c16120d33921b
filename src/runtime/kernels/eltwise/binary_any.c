/* Binary arithmetic on the dtypes the fast kernels (binary.c: float32, int32, int64, uint8/bool
 * for some ops) leave out: float64, float16, int8/16, uint16/32/64 and uint8 arithmetic. Each
 * kernel here wraps binary.c's kernel for the same operator and uses it whenever it accepts
 * the dtypes; otherwise it computes with numpy broadcasting in double (floats) or 64-bit
 * integers (integer dtypes, wrapping as C unsigned arithmetic; Div truncates toward zero and
 * fails on a zero divisor). No fused activation on these dtypes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"
#include "runtime/kernels/common/kvalue.h"

extern const kernel_ops kernel_AddFusion, kernel_SubFusion, kernel_MulFusion, kernel_DivFusion,
    kernel_Maximum, kernel_Minimum, kernel_PowFusion;

typedef struct {
  const kernel_ops *inner;
  void *inner_state;
  int generic, dt, rank;
  int64_t dims[IR_MAX_DIMS], sa[IR_MAX_DIMS], sb[IR_MAX_DIMS];
} ba_state;

static const kernel_ops *inner_of(int op) {
  switch (op) {
    case IR_OP_AddFusion: return &kernel_AddFusion;
    case IR_OP_SubFusion: return &kernel_SubFusion;
    case IR_OP_MulFusion: return &kernel_MulFusion;
    case IR_OP_DivFusion: return &kernel_DivFusion;
    case IR_OP_Maximum: return &kernel_Maximum;
    case IR_OP_Minimum: return &kernel_Minimum;
    case IR_OP_PowFusion: return &kernel_PowFusion;
    default: return NULL;
  }
}

static void ba_destroy(kernel *k) {
  ba_state *s = k->state;
  if (!s) return;
  if (s->inner && s->inner->destroy) {
    k->state = s->inner_state;
    s->inner->destroy(k);
  }
  free(s);
  k->state = NULL;
}

static tod_status ba_create(kernel *k, const ir_graph *g, const ir_node *n) {
  ba_state *s = calloc(1, sizeof *s);
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  s->inner = inner_of(n->op);
  if (!s->inner) {
    free(s);
    return kfail(k, TOD_NOT_SUPPORT, "no binary kernel for this operator");
  }
  k->state = NULL;
  tod_status st = s->inner->create(k, g, n); /* frees its own state on failure */
  if (st != TOD_OK) {
    free(s);
    k->state = NULL;
    return st;
  }
  s->inner_state = k->state;
  k->state = s;
  return TOD_OK;
}

static int is_float(int dt) { return dt == IR_DT_FLOAT16 || dt == IR_DT_FLOAT32 || dt == IR_DT_FLOAT64; }

static void strides_of(const tod_view *x, const tod_view *out, int64_t *st) {
  int64_t acc = 1;
  for (int i = out->ndim - 1; i >= 0; i--) {
    int xi = i - (out->ndim - x->ndim);
    int64_t d = xi >= 0 ? x->dims[xi] : 1;
    st[i] = (d == 1 && out->dims[i] != 1) ? 0 : acc;
    acc *= d;
  }
}

static tod_status ba_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out, int n_out,
                           size_t *scratch) {
  ba_state *s = k->state;
  k->state = s->inner_state;
  tod_status st = s->inner->setup ? s->inner->setup(k, in, n_in, out, n_out, scratch) : TOD_OK;
  s->inner_state = k->state;
  k->state = s;
  s->generic = 0;
  if (st != TOD_NOT_SUPPORT) return st;
  const tod_view *a = &in[0], *b = &in[1], *y = &out[0];
  int dt = a->dtype;
  if (b->dtype != dt || y->dtype != dt || !kv_supported(dt) || dt == IR_DT_BOOL)
    return st; /* keep the inner kernel's message */
  if (ir_attr_int(k->node, "activation_type", IR_ACT_NONE) != IR_ACT_NONE)
    return kfail(k, TOD_NOT_SUPPORT, "fused activation needs float32");
  int64_t bd[IR_MAX_DIMS];
  int br;
  if (shape_broadcast(a->dims, a->ndim, b->dims, b->ndim, bd, &br) != 0 || br != y->ndim ||
      memcmp(bd, y->dims, sizeof(int64_t) * (size_t)br) != 0)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "output shape is not the broadcast of the inputs");
  k->err[0] = 0;
  *scratch = 0;
  s->generic = 1;
  s->dt = dt;
  s->rank = y->ndim;
  memcpy(s->dims, y->dims, sizeof(int64_t) * (size_t)y->ndim);
  strides_of(a, y, s->sa);
  strides_of(b, y, s->sb);
  return TOD_OK;
}

static double fop(int op, double x, double z) {
  switch (op) {
    case IR_OP_AddFusion: return x + z;
    case IR_OP_SubFusion: return x - z;
    case IR_OP_MulFusion: return x * z;
    case IR_OP_DivFusion: return x / z;
    case IR_OP_Maximum: return isnan(x) || isnan(z) ? NAN : x > z ? x : z;
    case IR_OP_Minimum: return isnan(x) || isnan(z) ? NAN : x < z ? x : z;
    case IR_OP_PowFusion: return pow(x, z);
    default: return 0;
  }
}

/* Integer ops in 64 bits; unsigned dtypes compare as unsigned. Returns 0 on a zero divisor. */
static int iop(int op, int uns, int64_t x, int64_t z, int64_t *r) {
  uint64_t ux = (uint64_t)x, uz = (uint64_t)z;
  switch (op) {
    case IR_OP_AddFusion: *r = (int64_t)(ux + uz); return 1;
    case IR_OP_SubFusion: *r = (int64_t)(ux - uz); return 1;
    case IR_OP_MulFusion: *r = (int64_t)(ux * uz); return 1;
    case IR_OP_DivFusion:
      if (z == 0) return 0;
      if (uns) *r = (int64_t)(ux / uz);
      else if (z == -1) *r = (int64_t)(0 - ux);
      else *r = x / z;
      return 1;
    case IR_OP_Maximum: *r = uns ? (ux > uz ? x : z) : (x > z ? x : z); return 1;
    case IR_OP_Minimum: *r = uns ? (ux < uz ? x : z) : (x < z ? x : z); return 1;
    case IR_OP_PowFusion: {
      uint64_t acc = 1, base = ux;
      if (!uns && z < 0) {
        *r = x == 1 ? 1 : x == -1 ? ((z & 1) ? -1 : 1) : 0;
        return 1;
      }
      for (uint64_t e = uz; e; e >>= 1) {
        if (e & 1) acc *= base;
        base *= base;
      }
      *r = (int64_t)acc;
      return 1;
    }
    default: *r = 0; return 1;
  }
}

static void istore(int dt, void *p, int64_t i, int64_t v) {
  switch (dt) {
    case IR_DT_INT8: ((int8_t *)p)[i] = (int8_t)v; break;
    case IR_DT_UINT8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case IR_DT_INT16: ((int16_t *)p)[i] = (int16_t)v; break;
    case IR_DT_UINT16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case IR_DT_INT32: ((int32_t *)p)[i] = (int32_t)v; break;
    case IR_DT_UINT32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    default: ((int64_t *)p)[i] = v; break;
  }
}

static tod_status ba_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                         void *scratch, tod_threadpool *tp) {
  ba_state *s = k->state;
  if (!s->generic) {
    k->state = s->inner_state;
    tod_status st = s->inner->run(k, in, n_in, out, n_out, scratch, tp);
    s->inner_state = k->state;
    k->state = s;
    return st;
  }
  int op = k->node->op, dt = s->dt, fl = is_float(dt);
  int uns = dt == IR_DT_UINT8 || dt == IR_DT_UINT16 || dt == IR_DT_UINT32 || dt == IR_DT_UINT64;
  int64_t n = knumel(&out[0]), cnt[IR_MAX_DIMS] = {0}, ia = 0, ib = 0;
  for (int64_t i = 0; i < n; i++) {
    if (fl) {
      kv_store(dt, out[0].data, i, fop(op, kv_load(dt, in[0].data, ia), kv_load(dt, in[1].data, ib)));
    } else {
      int64_t r;
      if (!iop(op, uns, kv_load_i64(dt, in[0].data, ia), kv_load_i64(dt, in[1].data, ib), &r))
        return kfail(k, TOD_OP_EXECUTE_FAILURE, "integer division by zero");
      istore(dt, out[0].data, i, r);
    }
    for (int d = s->rank - 1; d >= 0; d--) {
      ia += s->sa[d];
      ib += s->sb[d];
      if (++cnt[d] < s->dims[d]) break;
      ia -= s->sa[d] * s->dims[d];
      ib -= s->sb[d] * s->dims[d];
      cnt[d] = 0;
    }
  }
  return TOD_OK;
}

#define BA_KERNEL(OP) \
  const kernel_ops kernel_##OP##_any = {IR_OP_##OP, ba_create, ba_setup, ba_run, ba_destroy};
BA_KERNEL(AddFusion)
BA_KERNEL(SubFusion)
BA_KERNEL(MulFusion)
BA_KERNEL(DivFusion)
BA_KERNEL(Maximum)
BA_KERNEL(Minimum)
BA_KERNEL(PowFusion)
