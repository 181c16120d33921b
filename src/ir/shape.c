/* Shape inference: entry point, shared helpers and the elementwise family (unary, binary with
 * numpy broadcasting, comparisons, Where, activations, Softmax, Clip). Spatial and tensor
 * manipulation operators live in shape_nn.c and shape_tensor.c. */
#include "ir/shape.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ir/shape_internal.h"

#ifndef TOD_TERSE_ERRORS
tod_status shape_fail(const shape_ctx *c, tod_status code, const char *fmt, ...) {
  if (!c->err || c->errlen == 0) return code;
  const char *opn = ir_op_name(c->n->op);
  int k = snprintf(c->err, c->errlen, "node '%s' (%s): ", c->n->name ? c->n->name : "",
                   opn ? opn : "?");
  if (k >= 0 && (size_t)k < c->errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + k, c->errlen - (size_t)k, fmt, ap);
    va_end(ap);
  }
  return code;
}
#else
tod_status shape_fail_status(const shape_ctx *c, tod_status code) {
  const char *opn = ir_op_name(c->n->op);
  if (c->err && c->errlen)
    snprintf(c->err, c->errlen, "node '%s' (%s): %s", c->n->name ? c->n->name : "", opn ? opn : "?",
             tod_status_name(code));
  return code;
}
#endif

tod_status shape_need(const shape_ctx *c, int min_in) {
  if (c->n_in < min_in)
    return shape_fail(c, TOD_INFER_ERR, "needs %d inputs, has %d", min_in, c->n_in);
  if (c->n_out < 1) return shape_fail(c, TOD_INFER_ERR, "has no output");
  for (int i = 0; i < min_in; i++) {
    if (c->in[i].ndim < 0)
      return shape_fail(c, TOD_INFER_INVALID, "rank of input %d is unknown", i);
    if (c->in[i].ndim > IR_MAX_DIMS)
      return shape_fail(c, TOD_INFER_ERR, "input %d has rank %d > %d", i, c->in[i].ndim,
                        IR_MAX_DIMS);
  }
  return TOD_OK;
}

void shape_copy(tod_view *out, const tod_view *in) {
  out->dtype = in->dtype;
  out->ndim = in->ndim;
  for (int i = 0; i < in->ndim && i < IR_MAX_DIMS; i++) out->dims[i] = in->dims[i];
}

static int is_float_dtype(int dt) {
  return dt == IR_DT_FLOAT32 || dt == IR_DT_FLOAT16 || dt == IR_DT_FLOAT64;
}

/* Broadcasts inputs [0, k) into out[0] with dtype dt. */
static tod_status infer_broadcast(const shape_ctx *c, int k, int dt) {
  tod_status st = shape_need(c, k);
  if (st) return st;
  int64_t dims[IR_MAX_DIMS];
  int r = c->in[0].ndim;
  memcpy(dims, c->in[0].dims, sizeof(int64_t) * (size_t)r);
  for (int i = 1; i < k; i++) {
    int64_t tmp[IR_MAX_DIMS];
    int rt;
    if (shape_broadcast(dims, r, c->in[i].dims, c->in[i].ndim, tmp, &rt) != 0) {
      char a[96], b[96];
      tod_view va = {0, r, {0}, NULL};
      memcpy(va.dims, dims, sizeof(int64_t) * (size_t)r);
      return shape_fail(c, TOD_INFER_ERR, "cannot broadcast %s with input %d %s",
                        shape_str(&va, a, sizeof a), i, shape_str(&c->in[i], b, sizeof b));
    }
    r = rt;
    memcpy(dims, tmp, sizeof(int64_t) * (size_t)r);
  }
  c->out[0].dtype = dt;
  c->out[0].ndim = r;
  memcpy(c->out[0].dims, dims, sizeof(int64_t) * (size_t)r);
  return TOD_OK;
}

static tod_status infer_binary(const shape_ctx *c, int out_bool) {
  tod_status st = shape_need(c, 2);
  if (st) return st;
  if (c->in[0].dtype != c->in[1].dtype)
    return shape_fail(c, TOD_INFER_ERR, "input dtypes differ: %s and %s",
                      ir_dtype_name(c->in[0].dtype), ir_dtype_name(c->in[1].dtype));
  return infer_broadcast(c, 2, out_bool ? IR_DT_BOOL : c->in[0].dtype);
}

static tod_status infer_unary(const shape_ctx *c) {
  tod_status st = shape_need(c, 1);
  if (st) return st;
  shape_copy(&c->out[0], &c->in[0]);
  return TOD_OK;
}

static tod_status infer_float_unary(const shape_ctx *c) {
  tod_status st = infer_unary(c);
  if (st) return st;
  if (!is_float_dtype(c->in[0].dtype))
    return shape_fail(c, TOD_INFER_ERR, "needs a float input, got %s",
                      ir_dtype_name(c->in[0].dtype));
  return TOD_OK;
}

static tod_status infer_softmax(const shape_ctx *c) {
  tod_status st = infer_float_unary(c);
  if (st) return st;
  int64_t axis = -1;
  const int64_t *ax;
  if (ir_attr_ints(c->n, "axis", &ax) >= 1) axis = ax[0];
  else axis = ir_attr_int(c->n, "axis", -1);
  int a;
  int rank = c->in[0].ndim;
  if (!shape_norm_axis(axis, rank == 0 ? 1 : rank, &a))
    return shape_fail(c, TOD_INFER_ERR, "axis %lld out of range for rank %d", (long long)axis,
                      rank);
  return TOD_OK;
}

static tod_status infer_where(const shape_ctx *c) {
  if (c->n_in == 1)
    return shape_fail(c, TOD_NOT_SUPPORT, "single-input Where (NonZero) is not supported");
  tod_status st = shape_need(c, 3);
  if (st) return st;
  if (c->in[1].dtype != c->in[2].dtype)
    return shape_fail(c, TOD_INFER_ERR, "x and y dtypes differ: %s and %s",
                      ir_dtype_name(c->in[1].dtype), ir_dtype_name(c->in[2].dtype));
  return infer_broadcast(c, 3, c->in[1].dtype);
}

static tod_status infer_batchnorm(const shape_ctx *c) {
  tod_status st = shape_need(c, 5);
  if (st) return st;
  const tod_view *x = &c->in[0];
  if (x->ndim < 1) return shape_fail(c, TOD_INFER_ERR, "input must have rank >= 1");
  int64_t ch = x->dims[x->ndim - 1];
  for (int i = 1; i < 5; i++) {
    int64_t k = shape_numel(&c->in[i]);
    if (ch >= 0 && k >= 0 && k != ch) {
      char b[96];
      return shape_fail(c, TOD_INFER_ERR, "input %d has %lld values for %lld channels (x %s)", i,
                        (long long)k, (long long)ch, shape_str(x, b, sizeof b));
    }
  }
  shape_copy(&c->out[0], x);
  /* Training-mode outputs (mean, variance, ...) have the channel shape. */
  for (int i = 1; i < c->n_out; i++) {
    c->out[i].dtype = x->dtype;
    c->out[i].ndim = 1;
    c->out[i].dims[0] = ch;
  }
  return TOD_OK;
}

static tod_status infer_elementwise(const shape_ctx *c) {
  switch (c->n->op) {
    case IR_OP_AddFusion:
    case IR_OP_SubFusion:
    case IR_OP_MulFusion:
    case IR_OP_DivFusion:
    case IR_OP_RealDiv:
    case IR_OP_Maximum:
    case IR_OP_Minimum:
    case IR_OP_PowFusion:
    case IR_OP_SquaredDifference:
    case IR_OP_FloorDiv:
    case IR_OP_FloorMod:
    case IR_OP_Mod: return infer_binary(c, 0);
    case IR_OP_Equal:
    case IR_OP_NotEqual:
    case IR_OP_Less:
    case IR_OP_LessEqual:
    case IR_OP_Greater:
    case IR_OP_GreaterEqual:
    case IR_OP_LogicalAnd:
    case IR_OP_LogicalOr: return infer_binary(c, 1);
    case IR_OP_Where:
    case IR_OP_Select: return infer_where(c);
    case IR_OP_LogicalNot: {
      tod_status st = infer_unary(c);
      if (!st) c->out[0].dtype = IR_DT_BOOL;
      return st;
    }
    case IR_OP_Abs:
    case IR_OP_Neg:
    case IR_OP_Clip:
    case IR_OP_Square: return infer_unary(c);
    case IR_OP_Activation:
    case IR_OP_Sqrt:
    case IR_OP_Rsqrt:
    case IR_OP_ExpFusion:
    case IR_OP_Log:
    case IR_OP_Floor:
    case IR_OP_Ceil:
    case IR_OP_Round:
    case IR_OP_Erf:
    case IR_OP_Sin:
    case IR_OP_Cos:
    case IR_OP_Reciprocal:
    case IR_OP_Elu:
    case IR_OP_LeakyRelu: return infer_float_unary(c);
    case IR_OP_Softmax:
    case IR_OP_LogSoftmax: return infer_softmax(c);
    case IR_OP_FusedBatchNorm: return infer_batchnorm(c);
    default: return TOD_NOT_FIND_OP;
  }
}

tod_status ir_infer_node(const ir_node *n, const tod_view *in, int n_in, tod_view *out, int n_out,
                         char *err, size_t errlen) {
  shape_ctx c = {n, in, n_in, out, n_out, err, errlen};
  if (err && errlen) err[0] = 0;
  if (!n || (n_in > 0 && !in) || (n_out > 0 && !out)) return TOD_NULL_PTR;
  if (n_out < 1) return shape_fail(&c, TOD_INFER_ERR, "has no output");
  tod_status st = infer_elementwise(&c);
  if (st == TOD_NOT_FIND_OP) st = shape_infer_nn(&c);
  if (st == TOD_NOT_FIND_OP) st = shape_infer_tensor(&c);
  if (st == TOD_NOT_FIND_OP) st = shape_infer_ext(&c);
#ifndef TOD_NO_TRAIN /* the inference-only build has no training operators */
  if (st == TOD_NOT_FIND_OP) st = shape_infer_train(&c);
#endif
  if (st == TOD_NOT_FIND_OP) st = shape_infer_more(&c);
  if (st == TOD_NOT_FIND_OP) {
    const char *opn = ir_op_name(n->op);
    return shape_fail(&c, TOD_NOT_FIND_OP, "no shape inference for operator %s (%d)",
                      opn ? opn : "?", n->op);
  }
  if (st == TOD_OK) {
    /* A common final check so no family can hand out a shape kernels would overflow on. */
    for (int i = 0; i < n_out; i++) {
      if (out[i].ndim > IR_MAX_DIMS)
        return shape_fail(&c, TOD_INFER_ERR, "output %d has rank %d > %d", i, out[i].ndim,
                          IR_MAX_DIMS);
      for (int d = 0; d < out[i].ndim; d++)
        if (out[i].dims[d] < -1)
          return shape_fail(&c, TOD_INFER_ERR, "output %d has negative dimension %lld", i,
                            (long long)out[i].dims[d]);
    }
  }
  return st;
}

int ir_is_shape_computation(const ir_node *n, const tod_view *in, int n_in, const tod_view *out,
                            int n_out) {
  if (!n || n_out < 1) return 0;
  /* Shape reads only its input's dims, never the data: computable once the shape is known,
   * which is what starts every Shape -> Gather -> Concat -> Reshape chain. */
  int skip_values = n->op == IR_OP_Shape;
  if (skip_values && (n_in < 1 || shape_numel(&in[0]) < 0)) return 0;
  for (int i = 0; i < n_in && !skip_values; i++) {
    /* Absent optional inputs do not block; present ones must have a value. */
    if (n->in && i < n->n_in && n->in[i] < 0) continue;
    if (!in[i].data && shape_numel(&in[i]) != 0) return 0;
  }
  for (int i = 0; i < n_out; i++) {
    int dt = out[i].dtype;
    if (dt != IR_DT_INT32 && dt != IR_DT_INT64 && dt != IR_DT_BOOL) return 0;
    int64_t k = shape_numel(&out[i]);
    if (k < 0 || k > 64) return 0;
  }
  return 1;
}
