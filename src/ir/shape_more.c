/* Shape inference for operators added after shape_ext.c: Custom nodes (custom_ops.h),
 * Conv2dTransposeFusion and the ONNX-coverage primitives documented in docs/ops.md. */
#include <string.h>

#include "ir/custom_ops.h"
#include "ir/shape_internal.h"

/* LSTM / GRU / Custom RNN (docs/ops.md): Y [seq, dirs, batch, H], Y_h (and LSTM's Y_c) [dirs, batch, H]. */
static tod_status infer_rnn(const shape_ctx *c) {
  tod_status st = shape_need(c, 3);
  if (st) return st;
  const tod_view *x = &c->in[0], *w = &c->in[1], *r = &c->in[2];
  if (x->ndim != 3 || w->ndim != 3 || r->ndim != 3) return shape_fail(c, TOD_INFER_ERR, "X, W, R must be 3-D");
  int64_t d4[4] = {x->dims[0], w->dims[0], x->dims[1], r->dims[2]};
  for (int j = 0; j < c->n_out; j++) {
    tod_view *o = &c->out[j];
    o->dtype = x->dtype;
    o->ndim = j ? 3 : 4;
    for (int i = 0; i < o->ndim; i++) o->dims[i] = d4[j ? i + 1 : i];
  }
  return TOD_OK;
}

static tod_status infer_custom(const shape_ctx *c) {
  const ir_attr *a = ir_attr_find(c->n, "type");
  int type = custom_type_of(a && a->type == IR_ATTR_STRING ? a->s : NULL);
  if (type < 0) return shape_fail(c, TOD_NOT_SUPPORT, "custom type %s is not supported", a && a->s ? a->s : "(none)");
  if (type == CUSTOM_RNN) return infer_rnn(c);
  if (type == CUSTOM_Einsum) {
    int nd = c->n_in - 1, ranks[8];
    tod_status st = shape_need(c, c->n_in);
    if (st) return st;
    const tod_view *at = &c->in[nd];
    if (nd < 1 || nd > 8 || !at->data || at->dtype != IR_DT_FLOAT64) return shape_fail(c, TOD_INFER_ERR, "needs inputs and its equation");
    for (int t = 0; t < nd; t++) ranks[t] = c->in[t].ndim;
    custom_einsum e;
    if (custom_einsum_parse(at->data, (int)shape_numel(at), nd, ranks, &e)) return shape_fail(c, TOD_INFER_ERR, "bad equation");
    int64_t size[64];
    for (int l = 0; l < e.n_labels; l++) size[l] = 1;
    for (int t = 0; t < nd; t++)
      for (int j = 0; j < e.rank[t]; j++)
        if (size[e.label[t][j]] == 1) size[e.label[t][j]] = c->in[t].dims[j];
    tod_view *o = &c->out[0];
    o->dtype = c->in[0].dtype;
    o->ndim = e.out_rank;
    for (int j = 0; j < e.out_rank; j++) o->dims[j] = size[e.out_label[j]];
    return TOD_OK;
  }
  int nd = custom_n_data(type);
  tod_status st = shape_need(c, nd);
  if (st) return st;
  tod_view *o = &c->out[0];
  shape_copy(o, &c->in[0]);
  if (type == CUSTOM_IsNaN || type == CUSTOM_IsInf) o->dtype = IR_DT_BOOL;
  if (type == CUSTOM_BitShift || type == CUSTOM_Mod) {
    int r;
    if (shape_broadcast(c->in[0].dims, c->in[0].ndim, c->in[1].dims, c->in[1].ndim, o->dims, &r))
      return shape_fail(c, TOD_INFER_ERR, "inputs do not broadcast");
    o->ndim = r;
  }
  if (type == CUSTOM_Conv3D || type == CUSTOM_MaxPool3D || type == CUSTOM_AvgPool3D) {
    const tod_view *x = &c->in[0], *at = c->n_in > nd ? &c->in[nd] : NULL;
    if (x->ndim != 5 || !at || !at->data || at->dtype != IR_DT_FLOAT64 || shape_numel(at) < 16)
      return shape_fail(c, TOD_INFER_ERR, "needs a 5-D input and its attrs");
    const double *a = at->data;
    int ceil_mode = type != CUSTOM_Conv3D && a[15] != 0;
    if (type == CUSTOM_Conv3D) {
      const tod_view *w = &c->in[1];
      if (w->ndim != 5 || a[15] < 1 || x->dims[1] != w->dims[1] * (int64_t)a[15] || w->dims[0] % (int64_t)a[15])
        return shape_fail(c, TOD_INFER_ERR, "weight does not match the input channels / group");
      o->dims[1] = w->dims[0];
    }
    for (int i = 0; i < 3; i++) {
      long long v = custom_window_out(x->dims[2 + i], (long long)a[i], (long long)a[3 + i], (long long)a[6 + i],
                                      (long long)a[9 + i], (long long)a[12 + i], ceil_mode);
      if (v < 1) return shape_fail(c, TOD_INFER_ERR, "window does not fit the input");
      o->dims[2 + i] = v;
    }
  }
  if (type == CUSTOM_EyeLike && c->n_in > nd && c->in[nd].data && c->in[nd].dtype == IR_DT_FLOAT64 &&
      shape_numel(&c->in[nd]) >= 2) {
    double dt = ((const double *)c->in[nd].data)[1];
    if (dt > 0 && dt < 64 && ir_dtype_size((int)dt)) o->dtype = (int)dt;
  }
  return TOD_OK;
}

/* x NHWC [N,H,W,Cin], w [Cin, kh, kw, Cout/group] (docs/ops.md), explicit pad_list [t,b,l,r]:
 * out = (in-1)*stride - pads + dilation*(k-1) + 1 + output_padding. */
static tod_status infer_deconv(const shape_ctx *c) {
  tod_status st = shape_need(c, 2);
  if (st) return st;
  const tod_view *x = &c->in[0], *w = &c->in[1];
  if (x->ndim != 4 || w->ndim != 4) return shape_fail(c, TOD_INFER_ERR, "needs 4-D input and weight");
  const int64_t *ks, *sv, *dv, *pv, *ov;
  int nk = ir_attr_ints(c->n, "kernel_size", &ks), ns = ir_attr_ints(c->n, "stride", &sv);
  int nd = ir_attr_ints(c->n, "dilation", &dv), np = ir_attr_ints(c->n, "pad_list", &pv);
  int no = ir_attr_ints(c->n, "output_paddings", &ov);
  int64_t group = ir_attr_int(c->n, "group", 1);
  if (group < 1 || x->dims[3] != w->dims[0] || w->dims[0] % group)
    return shape_fail(c, TOD_INFER_ERR, "input channels %lld do not match the weight's %lld (group %lld)",
                      (long long)x->dims[3], (long long)w->dims[0], (long long)group);
  tod_view *o = &c->out[0];
  o->dtype = x->dtype;
  o->ndim = 4;
  o->dims[0] = x->dims[0];
  o->dims[3] = w->dims[3] * group;
  for (int i = 0; i < 2; i++) {
    int64_t k = nk == 2 ? ks[i] : w->dims[1 + i], s = ns == 2 ? sv[i] : 1, d = nd == 2 ? dv[i] : 1;
    int64_t p = np == 4 ? pv[2 * i] + pv[2 * i + 1] : 0, op = no == 2 ? ov[i] : 0;
    if (k != w->dims[1 + i] || s < 1 || d < 1 || op < 0 || op >= (s > d ? s : d))
      return shape_fail(c, TOD_INFER_ERR, "bad kernel_size/stride/dilation/output_paddings");
    int64_t in = x->dims[1 + i];
    o->dims[1 + i] = in < 0 ? -1 : (in - 1) * s - p + d * (k - 1) + 1 + op;
    if (in >= 0 && o->dims[1 + i] < 0) return shape_fail(c, TOD_INFER_ERR, "negative output size");
  }
  return TOD_OK;
}

/* A scalar (or one-element) input value as double; INFER_INVALID when unknown. */
static tod_status scalar_value(const shape_ctx *c, int i, double *v) {
  const tod_view *t = &c->in[i];
  if (shape_numel(t) != 1) return shape_fail(c, TOD_INFER_ERR, "input %d must hold one value", i);
  if (!t->data) return shape_fail(c, TOD_INFER_INVALID, "value of input %d is unknown", i);
  switch (t->dtype) {
    case IR_DT_FLOAT32: *v = ((const float *)t->data)[0]; return TOD_OK;
    case IR_DT_FLOAT64: *v = ((const double *)t->data)[0]; return TOD_OK;
    default: {
      int64_t x;
      if (!shape_read_int(t, 0, &x)) return shape_fail(c, TOD_INFER_ERR, "input %d has an unsupported dtype", i);
      *v = (double)x;
      return TOD_OK;
    }
  }
}

/* OneHot: indices, depth, on_value, off_value; depth inserted at axis. */
static tod_status infer_onehot(const shape_ctx *c) {
  tod_status st = shape_need(c, 4);
  if (st) return st;
  double depth;
  if ((st = scalar_value(c, 1, &depth))) return st;
  const tod_view *x = &c->in[0];
  int r = x->ndim + 1, a;
  if (r > IR_MAX_DIMS || depth < 1 || depth > (1 << 24)) return shape_fail(c, TOD_INFER_ERR, "bad rank or depth");
  if (!shape_norm_axis(ir_attr_int(c->n, "axis", -1), r, &a)) return shape_fail(c, TOD_INFER_ERR, "axis out of range");
  tod_view *o = &c->out[0];
  o->dtype = c->in[2].dtype;
  o->ndim = r;
  for (int i = 0, j = 0; i < r; i++) o->dims[i] = i == a ? (int64_t)depth : x->dims[j++];
  return TOD_OK;
}

/* TopKFusion: x, k -> values, int32 indices with dim[axis] = k. */
static tod_status infer_topk(const shape_ctx *c) {
  tod_status st = shape_need(c, 2);
  if (st) return st;
  double k;
  if ((st = scalar_value(c, 1, &k))) return st;
  const tod_view *x = &c->in[0];
  int a;
  if (!shape_norm_axis(ir_attr_int(c->n, "axis", -1), x->ndim, &a)) return shape_fail(c, TOD_INFER_ERR, "axis out of range");
  if (k < 0 || (x->dims[a] >= 0 && k > (double)x->dims[a])) return shape_fail(c, TOD_INFER_ERR, "k %g out of range", k);
  for (int j = 0; j < c->n_out && j < 2; j++) {
    shape_copy(&c->out[j], x);
    c->out[j].dims[a] = (int64_t)k;
  }
  if (c->n_out > 1) c->out[1].dtype = IR_DT_INT32;
  return TOD_OK;
}

/* GatherNd: x, indices [..., q] -> indices.shape[:-1] + x.shape[q:]. */
static tod_status infer_gathernd(const shape_ctx *c) {
  tod_status st = shape_need(c, 2);
  if (st) return st;
  const tod_view *x = &c->in[0], *idx = &c->in[1];
  if (idx->ndim < 1) return shape_fail(c, TOD_INFER_ERR, "indices must have rank >= 1");
  int64_t q = idx->dims[idx->ndim - 1];
  int r = idx->ndim - 1 + x->ndim - (int)q;
  if (q < 1 || q > x->ndim || r > IR_MAX_DIMS) return shape_fail(c, TOD_INFER_ERR, "indices' last dim %lld does not fit", (long long)q);
  tod_view *o = &c->out[0];
  o->dtype = x->dtype;
  o->ndim = 0;
  for (int i = 0; i < idx->ndim - 1; i++) o->dims[o->ndim++] = idx->dims[i];
  for (int i = (int)q; i < x->ndim; i++) o->dims[o->ndim++] = x->dims[i];
  return TOD_OK;
}

tod_status shape_infer_more(const shape_ctx *c) {
  switch (c->n->op) {
    case IR_OP_Custom: return infer_custom(c);
    case IR_OP_Conv2dTransposeFusion: return infer_deconv(c);
    case IR_OP_OneHot: return infer_onehot(c);
    case IR_OP_LSTM:
    case IR_OP_GRU: return infer_rnn(c);
    case IR_OP_TopKFusion: return infer_topk(c);
    case IR_OP_GatherNd: return infer_gathernd(c);
    case IR_OP_InstanceNorm:
    case IR_OP_LRN:
    case IR_OP_ScatterElements:
    case IR_OP_ScatterNdUpdate:
    case IR_OP_TensorScatterAdd: {
      tod_status st = shape_need(c, 1);
      if (st == TOD_OK) shape_copy(&c->out[0], &c->in[0]);
      return st;
    }
    default: return TOD_NOT_FIND_OP;
  }
}
