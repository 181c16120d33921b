/* Shape inference for the operators added for ONNX backend-test coverage: ArgMaxFusion,
 * ArgMinFusion, Size, GatherD, Triu, Tril, ReverseV2, CumSum (semantics in docs/ops.md). */
#include <string.h>

#include "ir/shape_internal.h"

/* A scalar integer input value (constant or eagerly computed); 0 when absent. */
static tod_status scalar_input(const shape_ctx *c, int i, int64_t dflt, int64_t *v) {
  *v = dflt;
  if (i >= c->n_in || c->in[i].ndim < 0) return TOD_OK;
  if (!c->in[i].data) return shape_fail(c, TOD_INFER_INVALID, "value of input %d is unknown", i);
  if (shape_read_ints(&c->in[i], v, 1) != 1)
    return shape_fail(c, TOD_INFER_ERR, "input %d must hold one integer", i);
  return TOD_OK;
}

static tod_status infer_argminmax(const shape_ctx *c) {
  tod_status st = shape_need(c, 1);
  if (st) return st;
  const tod_view *x = &c->in[0];
  int64_t axis = ir_attr_int(c->n, "axis", 0), topk = ir_attr_int(c->n, "top_k", 1);
  int keep = ir_attr_int(c->n, "keep_dims", 0) != 0, a;
  if (topk != 1) return shape_fail(c, TOD_NOT_SUPPORT, "top_k %lld (only 1 is supported)", (long long)topk);
  if (ir_attr_int(c->n, "out_max_value", 0))
    return shape_fail(c, TOD_NOT_SUPPORT, "out_max_value is not supported");
  if (!shape_norm_axis(axis, x->ndim, &a))
    return shape_fail(c, TOD_INFER_ERR, "axis %lld out of range for rank %d", (long long)axis, x->ndim);
  tod_view *o = &c->out[0];
  o->dtype = IR_DT_INT32;
  o->ndim = 0;
  for (int i = 0; i < x->ndim; i++) {
    if (i == a) {
      if (keep) o->dims[o->ndim++] = 1;
    } else {
      o->dims[o->ndim++] = x->dims[i];
    }
  }
  return TOD_OK;
}

static tod_status infer_size(const shape_ctx *c) {
  tod_status st = shape_need(c, 1);
  if (st) return st;
  c->out[0].dtype = IR_DT_INT32;
  c->out[0].ndim = 0;
  return TOD_OK;
}

static tod_status infer_gather_d(const shape_ctx *c) {
  tod_status st = shape_need(c, 3);
  if (st) return st;
  const tod_view *x = &c->in[0], *idx = &c->in[2];
  int64_t dim;
  if ((st = scalar_input(c, 1, 0, &dim))) return st;
  int a;
  if (!shape_norm_axis(dim, x->ndim, &a))
    return shape_fail(c, TOD_INFER_ERR, "dim %lld out of range for rank %d", (long long)dim, x->ndim);
  if (idx->ndim != x->ndim)
    return shape_fail(c, TOD_INFER_ERR, "index rank %d differs from input rank %d", idx->ndim, x->ndim);
  if (idx->dtype != IR_DT_INT32 && idx->dtype != IR_DT_INT64)
    return shape_fail(c, TOD_INFER_ERR, "index must be int32/int64, is %s", ir_dtype_name(idx->dtype));
  shape_copy(&c->out[0], idx);
  c->out[0].dtype = x->dtype;
  return TOD_OK;
}

static tod_status infer_trilu(const shape_ctx *c) {
  tod_status st = shape_need(c, 1);
  if (st) return st;
  if (c->in[0].ndim < 2) return shape_fail(c, TOD_INFER_ERR, "needs rank >= 2, got %d", c->in[0].ndim);
  shape_copy(&c->out[0], &c->in[0]);
  return TOD_OK;
}

/* ReverseV2, CumSum: the output is the input's shape and dtype. */
static tod_status infer_same(const shape_ctx *c) {
  tod_status st = shape_need(c, 1);
  if (st) return st;
  shape_copy(&c->out[0], &c->in[0]);
  return TOD_OK;
}

tod_status shape_infer_ext(const shape_ctx *c) {
  switch (c->n->op) {
    case IR_OP_ArgMaxFusion:
    case IR_OP_ArgMinFusion: return infer_argminmax(c);
    case IR_OP_Size: return infer_size(c);
    case IR_OP_GatherD: return infer_gather_d(c);
    case IR_OP_Triu:
    case IR_OP_Tril: return infer_trilu(c);
    case IR_OP_ReverseV2:
    case IR_OP_CumSum: return infer_same(c);
    default: return TOD_NOT_FIND_OP;
  }
}
