/* Shape inference for the training primitives (docs/training.md): activation, bias, conv,
 * pool, norm and loss gradients, Dropout, LayerNorm, optimizers and Assign.
 *
 * Gradients take the shape of the forward tensor they differentiate; the only value-dependent
 * one is Conv2DBackpropInputFusion (its input_size input), whose order depends on the `format`
 * attribute: NCHW in MindSpore Lite's files, NHWC in tod's (fed by a Shape node). */
#include <string.h>

#include "ir/shape_internal.h"

/* out[i] = in[j] for a list of (i, j) pairs, skipping outputs the node does not have. */
static void copy_to(const shape_ctx *c, int o, int i) {
  if (o < c->n_out && i < c->n_in) shape_copy(&c->out[o], &c->in[i]);
}

static void set_1d(tod_view *o, int dtype, int64_t n) {
  o->dtype = dtype;
  o->ndim = 1;
  o->dims[0] = n;
}

static tod_status infer_same_as(const shape_ctx *c, int min_in, int src) {
  tod_status st = shape_need(c, min_in);
  if (st) return st;
  copy_to(c, 0, src);
  return TOD_OK;
}

/* Optimizers and Assign: every output is a [1] float placeholder. The update itself happens
 * in place in the input tensors. */
static tod_status infer_update(const shape_ctx *c, int min_in) {
  if (c->n_in < min_in)
    return shape_fail(c, TOD_INFER_ERR, "needs %d inputs, has %d", min_in, c->n_in);
  for (int i = 0; i < c->n_out; i++) set_1d(&c->out[i], IR_DT_FLOAT32, 1);
  return TOD_OK;
}

static tod_status infer_bias_add_grad(const shape_ctx *c) {
  tod_status st = shape_need(c, 1);
  if (st) return st;
  const tod_view *dy = &c->in[0];
  if (dy->ndim < 1) return shape_fail(c, TOD_INFER_ERR, "dy must have rank >= 1");
  /* [C] as docs/training.md and current nnacl; MindSpore 1.2 files declare [1, C] (same
   * element count, which is all the optimizer that consumes it looks at). */
  set_1d(&c->out[0], dy->dtype, dy->dims[dy->ndim - 1]);
  return TOD_OK;
}

/* Reads a 2-value spatial attribute that may be stored with 1, 2 or 4 entries (4: NCHW
 * [1,1,h,w] or NHWC [1,h,w,1] order, per the node's format). */
static int attr_hw(const ir_node *n, const char *key, int64_t dflt, int64_t *h, int64_t *w) {
  const int64_t *v;
  int cnt = ir_attr_ints(n, key, &v);
  if (cnt == 0) {
    *h = *w = dflt;
    return 1;
  }
  if (cnt == 1) *h = *w = v[0];
  else if (cnt == 2) *h = v[0], *w = v[1];
  else if (cnt == 4 && ir_attr_int(n, "format", 0) == IR_FMT_NHWC) *h = v[1], *w = v[2];
  else if (cnt == 4) *h = v[2], *w = v[3];
  else return 0;
  return 1;
}

static tod_status infer_conv_filter_grad(const shape_ctx *c) {
  tod_status st = shape_need(c, 2);
  if (st) return st;
  const tod_view *dy = &c->in[0], *x = &c->in[1];
  if (dy->ndim != 4 || x->ndim != 4)
    return shape_fail(c, TOD_INFER_ERR, "dy and x must be 4-D NHWC");
  int64_t group = ir_attr_int(c->n, "group", 1), kh, kw;
  if (group <= 0) return shape_fail(c, TOD_INFER_ERR, "group must be positive");
  if (!attr_hw(c->n, "kernel_size", 0, &kh, &kw))
    return shape_fail(c, TOD_INFER_ERR, "kernel_size must have 1, 2 or 4 values");
  int64_t o = dy->dims[3], ig = x->dims[3] >= 0 ? x->dims[3] / group : -1;
  if (x->dims[3] >= 0 && x->dims[3] % group)
    return shape_fail(c, TOD_INFER_ERR, "%lld input channels not divisible by group %lld",
                      (long long)x->dims[3], (long long)group);
  /* filter_shape, when its value is known, is the authority (and must agree). */
  int64_t fs[4];
  if (c->n_in > 2 && shape_read_ints(&c->in[2], fs, 4) == 4) {
    int64_t fo = fs[0], fh, fw, fi;
    if (ir_attr_int(c->n, "format", 0) == IR_FMT_NHWC) fh = fs[1], fw = fs[2], fi = fs[3];
    else fi = fs[1], fh = fs[2], fw = fs[3];
    if ((o >= 0 && fo != o) || (ig >= 0 && fi != ig) || (kh > 0 && fh != kh) ||
        (kw > 0 && fw != kw) || fo <= 0 || fh <= 0 || fw <= 0 || fi <= 0)
      return shape_fail(c, TOD_INFER_ERR,
                        "filter_shape [%lld,%lld,%lld,%lld] does not match dy/x/kernel_size",
                        (long long)fs[0], (long long)fs[1], (long long)fs[2], (long long)fs[3]);
    kh = fh, kw = fw;
  }
  if (kh <= 0 || kw <= 0)
    return shape_fail(c, TOD_INFER_INVALID, "kernel size unknown (no kernel_size, no filter_shape)");
  tod_view *out = &c->out[0];
  out->dtype = dy->dtype;
  out->ndim = 4;
  out->dims[0] = o, out->dims[1] = kh, out->dims[2] = kw, out->dims[3] = ig;
  return TOD_OK;
}

static tod_status infer_conv_input_grad(const shape_ctx *c) {
  tod_status st = shape_need(c, 3);
  if (st) return st;
  const tod_view *dy = &c->in[0], *w = &c->in[1];
  if (dy->ndim != 4 || w->ndim != 4)
    return shape_fail(c, TOD_INFER_ERR, "dy must be 4-D NHWC and w 4-D KHWC");
  int64_t is[4];
  int cnt = shape_read_ints(&c->in[2], is, 4);
  if (cnt == -1) return shape_fail(c, TOD_INFER_INVALID, "input_size value unknown");
  if (cnt != 4) return shape_fail(c, TOD_INFER_ERR, "input_size must have 4 values");
  int64_t d[4];
  if (ir_attr_int(c->n, "format", 0) == IR_FMT_NHWC) memcpy(d, is, sizeof d);
  else d[0] = is[0], d[1] = is[2], d[2] = is[3], d[3] = is[1];
  int64_t group = ir_attr_int(c->n, "group", 1);
  if (group <= 0) return shape_fail(c, TOD_INFER_ERR, "group must be positive");
  for (int i = 0; i < 4; i++)
    if (d[i] <= 0 || d[i] > ((int64_t)1 << 31))
      return shape_fail(c, TOD_INFER_ERR, "input_size value %lld out of range", (long long)d[i]);
  if ((dy->dims[0] >= 0 && dy->dims[0] != d[0]) ||
      (w->dims[3] >= 0 && w->dims[3] * group != d[3]) ||
      (w->dims[0] >= 0 && dy->dims[3] >= 0 && w->dims[0] != dy->dims[3]))
    return shape_fail(c, TOD_INFER_ERR,
                      "input_size [%lld,%lld,%lld,%lld] (NHWC) does not match dy/w/group",
                      (long long)d[0], (long long)d[1], (long long)d[2], (long long)d[3]);
  tod_view *out = &c->out[0];
  out->dtype = dy->dtype;
  out->ndim = 4;
  memcpy(out->dims, d, sizeof d);
  return TOD_OK;
}

static tod_status infer_bn_grad(const shape_ctx *c) {
  tod_status st = shape_need(c, 5);
  if (st) return st;
  const tod_view *x = &c->in[1];
  if (x->ndim < 1) return shape_fail(c, TOD_INFER_ERR, "x must have rank >= 1");
  copy_to(c, 0, 1);
  for (int i = 1; i < c->n_out && i < 3; i++) set_1d(&c->out[i], x->dtype, x->dims[x->ndim - 1]);
  return TOD_OK;
}

static tod_status infer_sparse_ce(const shape_ctx *c) {
  tod_status st = shape_need(c, 2);
  if (st) return st;
  const tod_view *lg = &c->in[0], *lb = &c->in[1];
  if (lg->ndim != 2 || lb->ndim != 1)
    return shape_fail(c, TOD_INFER_ERR, "needs logits [N,C] and labels [N]");
  if (lb->dtype != IR_DT_INT32 && lb->dtype != IR_DT_INT64)
    return shape_fail(c, TOD_INFER_ERR, "labels must be int32 or int64, got %s",
                      ir_dtype_name(lb->dtype));
  if (lg->dims[0] >= 0 && lb->dims[0] >= 0 && lg->dims[0] != lb->dims[0])
    return shape_fail(c, TOD_INFER_ERR, "%lld logits rows but %lld labels",
                      (long long)lg->dims[0], (long long)lb->dims[0]);
  if (ir_attr_int(c->n, "is_grad", 0)) shape_copy(&c->out[0], lg);
  else set_1d(&c->out[0], lg->dtype, 1);
  return TOD_OK;
}

static int same_dims(const tod_view *a, const tod_view *b) {
  if (a->ndim != b->ndim) return 0;
  for (int i = 0; i < a->ndim; i++)
    if (a->dims[i] != b->dims[i]) return 0;
  return 1;
}

static tod_status infer_softmax_ce(const shape_ctx *c) {
  tod_status st = shape_need(c, 2);
  if (st) return st;
  const tod_view *lg = &c->in[0], *lb = &c->in[1];
  if (lg->ndim != 2 || !same_dims(lg, lb))
    return shape_fail(c, TOD_INFER_ERR, "needs logits [N,C] and labels of the same shape");
  set_1d(&c->out[0], lg->dtype, lg->dims[0]);
  copy_to(c, 1, 0);
  return TOD_OK;
}

static tod_status infer_dropout(const shape_ctx *c) {
  tod_status st = shape_need(c, 1);
  if (st) return st;
  copy_to(c, 0, 0);
  copy_to(c, 1, 0);
  return TOD_OK;
}

static tod_status infer_layer_norm(const shape_ctx *c) {
  tod_status st = shape_need(c, 1);
  if (st) return st;
  const tod_view *x = &c->in[0];
  int axis;
  if (!shape_norm_axis(ir_attr_int(c->n, "begin_norm_axis", 0), x->ndim, &axis))
    return shape_fail(c, TOD_INFER_ERR, "begin_norm_axis out of range for rank %d", x->ndim);
  copy_to(c, 0, 0);
  /* mean and variance keep the leading axes and 1 for each normalised one (MindSpore). */
  for (int o = 1; o < 3 && o < c->n_out; o++) {
    shape_copy(&c->out[o], x);
    for (int d = axis; d < x->ndim; d++) c->out[o].dims[d] = 1;
  }
  return TOD_OK;
}

static tod_status infer_layer_norm_grad(const shape_ctx *c) {
  tod_status st = shape_need(c, 5);
  if (st) return st;
  copy_to(c, 0, 0);
  copy_to(c, 1, 4);
  copy_to(c, 2, 4);
  return TOD_OK;
}

tod_status shape_infer_train(const shape_ctx *c) {
  switch (c->n->op) {
    case IR_OP_ActivationGrad:
    case IR_OP_BiasAdd:
    case IR_OP_MaxPoolGrad:
    case IR_OP_AvgPoolGrad:
    case IR_OP_SigmoidCrossEntropyWithLogits:
    case IR_OP_SigmoidCrossEntropyWithLogitsGrad:
    case IR_OP_DropoutGrad:
    case IR_OP_AbsGrad: return infer_same_as(c, 2, 0);
    case IR_OP_BiasAddGrad: return infer_bias_add_grad(c);
    case IR_OP_Conv2DBackpropFilterFusion: return infer_conv_filter_grad(c);
    case IR_OP_Conv2DBackpropInputFusion: return infer_conv_input_grad(c);
    case IR_OP_BatchNormGrad: return infer_bn_grad(c);
    case IR_OP_SparseSoftmaxCrossEntropyWithLogits: return infer_sparse_ce(c);
    case IR_OP_SoftmaxCrossEntropyWithLogits: return infer_softmax_ce(c);
    case IR_OP_Dropout: return infer_dropout(c);
    case IR_OP_LayerNormFusion: return infer_layer_norm(c);
    case IR_OP_LayerNormGrad: return infer_layer_norm_grad(c);
    case IR_OP_Adam: return infer_update(c, 10);
    case IR_OP_ApplyMomentum: return infer_update(c, 5);
    case IR_OP_SGD: return infer_update(c, 6);
    case IR_OP_AdamWeightDecay: return infer_update(c, 9);
    case IR_OP_Assign: return infer_update(c, 2);
    default: return TOD_NOT_FIND_OP;
  }
}
