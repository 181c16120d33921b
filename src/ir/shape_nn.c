/* Shape inference for the network operators: Conv2DFusion, MatMulFusion, pooling, Resize,
 * PadFusion and ReduceFusion. Spatial operators see channel-last (NHWC) activations and KHWC
 * weights (docs/ops.md). */
#include <string.h>

#include "ir/shape_internal.h"

/* Reads a 2-element attribute (kernel_size, stride, ...) with a default; 1 value means both. */
static int attr_pair(const ir_node *n, const char *key, int64_t dflt, int64_t *v) {
  const int64_t *a;
  int k = ir_attr_ints(n, key, &a);
  if (k == 0) {
    v[0] = v[1] = dflt;
    return 1;
  }
  if (k == 1) {
    v[0] = v[1] = a[0];
    return 1;
  }
  if (k != 2) return 0;
  v[0] = a[0], v[1] = a[1];
  return 1;
}

/* One spatial output size. in < 0 (unknown) gives -1. Returns -2 on a bad configuration. */
static int64_t conv_out(int64_t in, int64_t k_eff, int64_t s, int pad_mode, int64_t pb,
                        int64_t pe, int ceil_mode) {
  if (in < 0) return -1;
  if (pad_mode == 1) return (in + s - 1) / s; /* SAME_UPPER */
  if (pad_mode == 2) pb = pe = 0;             /* VALID */
  int64_t span = in + pb + pe - k_eff;
  if (span < 0) return -2;
  int64_t o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  /* ONNX / PyTorch ceil mode: a window that would start inside the end padding is dropped. */
  if (ceil_mode && (o - 1) * s >= in + pb) o--;
  return o;
}

static tod_status infer_conv(const shape_ctx *c) {
  tod_status st = shape_need(c, 2);
  if (st) return st;
  const ir_node *n = c->n;
  const tod_view *x = &c->in[0], *w = &c->in[1];
  char bx[96], bw[96];
  if (x->ndim != 4 || w->ndim != 4)
    return shape_fail(c, TOD_INFER_ERR, "needs NHWC input and KHWC weight, got x %s w %s",
                      shape_str(x, bx, sizeof bx), shape_str(w, bw, sizeof bw));
  int64_t ks[2], sd[2], dl[2];
  if (!attr_pair(n, "kernel_size", 0, ks) || !attr_pair(n, "stride", 1, sd) ||
      !attr_pair(n, "dilation", 1, dl))
    return shape_fail(c, TOD_INFER_ERR, "kernel_size/stride/dilation must have 2 values");
  if (ks[0] <= 0) ks[0] = w->dims[1];
  if (ks[1] <= 0) ks[1] = w->dims[2];
  if (ks[0] != w->dims[1] || ks[1] != w->dims[2])
    return shape_fail(c, TOD_INFER_ERR, "kernel_size [%lld,%lld] does not match weight %s",
                      (long long)ks[0], (long long)ks[1], shape_str(w, bw, sizeof bw));
  if (sd[0] <= 0 || sd[1] <= 0 || dl[0] <= 0 || dl[1] <= 0 || ks[0] <= 0 || ks[1] <= 0)
    return shape_fail(c, TOD_INFER_ERR, "kernel, stride and dilation must be positive");
  int64_t group = ir_attr_int(n, "group", 1);
  if (group <= 0) group = 1;
  int64_t cin = x->dims[3], cout = w->dims[0];
  if (cout <= 0 || w->dims[3] <= 0 || cout % group != 0 ||
      (cin >= 0 && cin != w->dims[3] * group))
    return shape_fail(c, TOD_INFER_ERR, "x %s does not match weight %s with group %lld",
                      shape_str(x, bx, sizeof bx), shape_str(w, bw, sizeof bw), (long long)group);
  if (c->n_in >= 3 && c->in[2].ndim >= 0) {
    int64_t nb = shape_numel(&c->in[2]);
    if (nb >= 0 && nb != cout)
      return shape_fail(c, TOD_INFER_ERR, "bias has %lld values for %lld output channels",
                        (long long)nb, (long long)cout);
  }
  int pad_mode = (int)ir_attr_int(n, "pad_mode", 0);
  int64_t pads[4] = {0, 0, 0, 0};
  const int64_t *pl;
  int np = ir_attr_ints(n, "pad_list", &pl);
  if (np == 4) memcpy(pads, pl, sizeof pads);
  else if (np != 0 && pad_mode == 0)
    return shape_fail(c, TOD_INFER_ERR, "pad_list has %d values, needs 4", np);
  for (int i = 0; i < 4; i++)
    if (pads[i] < 0 || pads[i] > (1 << 24))
      return shape_fail(c, TOD_INFER_ERR, "pad_list value %lld out of range", (long long)pads[i]);
  if (pad_mode < 0 || pad_mode > 2)
    return shape_fail(c, TOD_INFER_ERR, "pad_mode %d unknown", pad_mode);
  int64_t oh = conv_out(x->dims[1], dl[0] * (ks[0] - 1) + 1, sd[0], pad_mode, pads[0], pads[1], 0);
  int64_t ow = conv_out(x->dims[2], dl[1] * (ks[1] - 1) + 1, sd[1], pad_mode, pads[2], pads[3], 0);
  if (oh == -2 || ow == -2 || oh == 0 || ow == 0)
    return shape_fail(c, TOD_INFER_ERR, "kernel larger than padded input: x %s weight %s",
                      shape_str(x, bx, sizeof bx), shape_str(w, bw, sizeof bw));
  tod_view *o = &c->out[0];
  o->dtype = x->dtype;
  o->ndim = 4;
  o->dims[0] = x->dims[0], o->dims[1] = oh, o->dims[2] = ow, o->dims[3] = cout;
  return TOD_OK;
}

static tod_status infer_pool(const shape_ctx *c) {
  tod_status st = shape_need(c, 1);
  if (st) return st;
  const ir_node *n = c->n;
  const tod_view *x = &c->in[0];
  char bx[96];
  if (x->ndim != 4)
    return shape_fail(c, TOD_INFER_ERR, "needs an NHWC input, got %s", shape_str(x, bx, sizeof bx));
  tod_view *o = &c->out[0];
  o->dtype = x->dtype;
  o->ndim = 4;
  o->dims[0] = x->dims[0], o->dims[3] = x->dims[3];
  if (ir_attr_int(n, "global", 0)) {
    o->dims[1] = o->dims[2] = 1;
    return TOD_OK;
  }
  int64_t ks[2], sd[2];
  if (!attr_pair(n, "kernel_size", 0, ks) || !attr_pair(n, "strides", 1, sd))
    return shape_fail(c, TOD_INFER_ERR, "kernel_size/strides must have 2 values");
  if (ks[0] <= 0 || ks[1] <= 0 || sd[0] <= 0 || sd[1] <= 0)
    return shape_fail(c, TOD_INFER_ERR, "kernel_size and strides must be positive");
  int pad_mode = (int)ir_attr_int(n, "pad_mode", 0);
  int ceil_mode = ir_attr_int(n, "round_mode", 0) == 1;
  if (pad_mode < 0 || pad_mode > 2)
    return shape_fail(c, TOD_INFER_ERR, "pad_mode %d unknown", pad_mode);
  int64_t pads[4] = {0, 0, 0, 0};
  const int64_t *pl;
  int np = ir_attr_ints(n, "pad", &pl);
  if (np == 4) memcpy(pads, pl, sizeof pads);
  else if (np != 0 && pad_mode == 0)
    return shape_fail(c, TOD_INFER_ERR, "pad has %d values, needs 4", np);
  for (int i = 0; i < 4; i++)
    if (pads[i] < 0 || pads[i] > (1 << 24))
      return shape_fail(c, TOD_INFER_ERR, "pad value %lld out of range", (long long)pads[i]);
  int64_t oh = conv_out(x->dims[1], ks[0], sd[0], pad_mode, pads[0], pads[1], ceil_mode);
  int64_t ow = conv_out(x->dims[2], ks[1], sd[1], pad_mode, pads[2], pads[3], ceil_mode);
  if (oh == -2 || ow == -2 || oh == 0 || ow == 0)
    return shape_fail(c, TOD_INFER_ERR, "kernel [%lld,%lld] larger than padded input %s",
                      (long long)ks[0], (long long)ks[1], shape_str(x, bx, sizeof bx));
  o->dims[1] = oh, o->dims[2] = ow;
  return TOD_OK;
}

static tod_status infer_matmul(const shape_ctx *c) {
  tod_status st = shape_need(c, 2);
  if (st) return st;
  const tod_view *a = &c->in[0], *b = &c->in[1];
  char ba[96], bb[96];
  if (a->ndim < 1 || b->ndim < 1)
    return shape_fail(c, TOD_INFER_ERR, "inputs must have rank >= 1, got %s and %s",
                      shape_str(a, ba, sizeof ba), shape_str(b, bb, sizeof bb));
  int ta = ir_attr_int(c->n, "transpose_a", 0) != 0, tb = ir_attr_int(c->n, "transpose_b", 0) != 0;
  int64_t m, ka, kb, nn;
  /* numpy: a 1-D a is a row [1,K], a 1-D b a column [K,1]; that dim is dropped afterwards. */
  if (a->ndim == 1) m = 1, ka = a->dims[0];
  else if (ta) m = a->dims[a->ndim - 1], ka = a->dims[a->ndim - 2];
  else m = a->dims[a->ndim - 2], ka = a->dims[a->ndim - 1];
  if (b->ndim == 1) kb = b->dims[0], nn = 1;
  else if (tb) kb = b->dims[b->ndim - 1], nn = b->dims[b->ndim - 2];
  else kb = b->dims[b->ndim - 2], nn = b->dims[b->ndim - 1];
  if (ka >= 0 && kb >= 0 && ka != kb)
    return shape_fail(c, TOD_INFER_ERR, "inner dimensions differ: a %s%s, b %s%s",
                      shape_str(a, ba, sizeof ba), ta ? " (transposed)" : "",
                      shape_str(b, bb, sizeof bb), tb ? " (transposed)" : "");
  int ra = a->ndim > 2 ? a->ndim - 2 : 0, rb = b->ndim > 2 ? b->ndim - 2 : 0;
  int64_t batch[IR_MAX_DIMS];
  int r;
  if (shape_broadcast(a->dims, ra, b->dims, rb, batch, &r) != 0)
    return shape_fail(c, TOD_INFER_ERR, "batch dimensions of %s and %s do not broadcast",
                      shape_str(a, ba, sizeof ba), shape_str(b, bb, sizeof bb));
  tod_view *o = &c->out[0];
  o->dtype = a->dtype;
  o->ndim = 0;
  for (int i = 0; i < r; i++) o->dims[o->ndim++] = batch[i];
  if (a->ndim > 1) o->dims[o->ndim++] = m;
  if (b->ndim > 1) o->dims[o->ndim++] = nn;
  if (c->n_in >= 3 && c->in[2].ndim >= 0) {
    int64_t nb = shape_numel(&c->in[2]);
    if (nb >= 0 && nn >= 0 && nb != nn && nb != 1)
      return shape_fail(c, TOD_INFER_ERR, "bias has %lld values for %lld columns", (long long)nb,
                        (long long)nn);
  }
  return TOD_OK;
}

static tod_status infer_resize(const shape_ctx *c) {
  tod_status st = shape_need(c, 1);
  if (st) return st;
  const tod_view *x = &c->in[0];
  char bx[96];
  if (x->ndim != 4)
    return shape_fail(c, TOD_INFER_ERR, "needs an NHWC input, got %s", shape_str(x, bx, sizeof bx));
  int64_t oh, ow;
  int r = shape_resize_hw(c->n, c->in, c->n_in, &oh, &ow);
  if (r == -1) return shape_fail(c, TOD_INFER_INVALID, "value of the sizes/scales input is unknown");
  if (r != 0)
    return shape_fail(c, TOD_INFER_ERR,
                      "needs new_height/new_width or 2/4 positive scales or sizes (x %s)",
                      shape_str(x, bx, sizeof bx));
  tod_view *o = &c->out[0];
  shape_copy(o, x);
  o->dims[1] = oh, o->dims[2] = ow;
  return TOD_OK;
}

static tod_status infer_pad(const shape_ctx *c) {
  tod_status st = shape_need(c, 1);
  if (st) return st;
  const tod_view *x = &c->in[0];
  int64_t pads[2 * IR_MAX_DIMS];
  int r = shape_pad_amounts(c->n, c->in, c->n_in, x->ndim, pads);
  if (r == -1) return shape_fail(c, TOD_INFER_INVALID, "value of the paddings input is unknown");
  char bx[96];
  if (r != 0)
    return shape_fail(c, TOD_INFER_ERR, "paddings must hold 2 values per axis of %s",
                      shape_str(x, bx, sizeof bx));
  int mode = (int)ir_attr_int(c->n, "padding_mode", 0);
  if (mode < 0 || mode > 2) return shape_fail(c, TOD_INFER_ERR, "padding_mode %d unknown", mode);
  tod_view *o = &c->out[0];
  shape_copy(o, x);
  for (int i = 0; i < x->ndim; i++) {
    int64_t b = pads[2 * i], e = pads[2 * i + 1], d = x->dims[i];
    if (b < -(1 << 24) || e < -(1 << 24) || b > (1 << 24) || e > (1 << 24))
      return shape_fail(c, TOD_INFER_ERR, "padding %lld/%lld of axis %d out of range",
                        (long long)b, (long long)e, i);
    if (mode != 0 && (b < 0 || e < 0))
      return shape_fail(c, TOD_INFER_ERR, "negative padding needs constant mode");
    /* Reflect mirrors without the edge (needs pad < dim), symmetric with it (pad <= dim). */
    if (d >= 0 && mode == 1 && (b >= d || e >= d))
      return shape_fail(c, TOD_INFER_ERR, "reflect padding %lld/%lld >= dim %lld of axis %d",
                        (long long)b, (long long)e, (long long)d, i);
    if (d >= 0 && mode == 2 && (b > d || e > d))
      return shape_fail(c, TOD_INFER_ERR, "symmetric padding %lld/%lld > dim %lld of axis %d",
                        (long long)b, (long long)e, (long long)d, i);
    if (d < 0) continue;
    o->dims[i] = d + b + e;
    if (o->dims[i] < 0)
      return shape_fail(c, TOD_INFER_ERR, "padding %lld/%lld makes axis %d negative",
                        (long long)b, (long long)e, i);
  }
  return TOD_OK;
}

static tod_status infer_reduce(const shape_ctx *c) {
  tod_status st = shape_need(c, 1);
  if (st) return st;
  const tod_view *x = &c->in[0];
  int mask[IR_MAX_DIMS];
  int r = shape_reduce_axes(c->n, c->in, c->n_in, x->ndim, mask);
  if (r == -1) return shape_fail(c, TOD_INFER_INVALID, "value of the axes input is unknown");
  char bx[96];
  if (r != 0) return shape_fail(c, TOD_INFER_ERR, "bad axes for input %s", shape_str(x, bx, sizeof bx));
  int mode = (int)ir_attr_int(c->n, "mode", 0);
  if (mode < 0 || mode > 8) return shape_fail(c, TOD_INFER_ERR, "reduce mode %d unknown", mode);
  int keep = ir_attr_int(c->n, "keep_dims", 0) != 0;
  tod_view *o = &c->out[0];
  o->dtype = x->dtype;
  o->ndim = 0;
  for (int i = 0; i < x->ndim; i++) {
    if (!mask[i]) o->dims[o->ndim++] = x->dims[i];
    else if (keep) o->dims[o->ndim++] = 1;
  }
  return TOD_OK;
}

tod_status shape_infer_nn(const shape_ctx *c) {
  switch (c->n->op) {
    case IR_OP_Conv2DFusion: return infer_conv(c);
    case IR_OP_MaxPoolFusion:
    case IR_OP_AvgPoolFusion: return infer_pool(c);
    case IR_OP_MatMulFusion: return infer_matmul(c);
    case IR_OP_Resize: return infer_resize(c);
    case IR_OP_PadFusion: return infer_pad(c);
    case IR_OP_ReduceFusion: return infer_reduce(c);
    default: return TOD_NOT_FIND_OP;
  }
}
