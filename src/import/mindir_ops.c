/* MindSpore primitive -> MindSpore Lite primitive translation for the MINDIR importer.
 *
 * Attributes follow ../shared/formats/mindir.md (C++ names: `format`, `pad_mode` strings, Conv2D
 * stride/dilation as 4-tuples, pooling kernel_size/strides as 4-tuples). Forward operators stay
 * NCHW (the layout pass makes them channel-last, as for ONNX); gradient operators, which the
 * runtime only has channel-last, read their NCHW activations through Transposes and write NCHW
 * results, except weight gradients, which come out KHWC like the weights after the layout pass. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "import/mindir_internal.h"

#define TRY(x)                             \
  do {                                     \
    tod_status try_st_ = (x);              \
    if (try_st_ != TOD_OK) return try_st_; \
  } while (0)

static const int TO_NHWC[4] = {0, 2, 3, 1};
static const int TO_NCHW[4] = {0, 3, 1, 2};

int mindir_is_optimizer(int op) {
  return op == IR_OP_Adam || op == IR_OP_ApplyMomentum || op == IR_OP_SGD || op == IR_OP_AdamWeightDecay;
}

static tod_status seti(mctx *c, ir_node *nd, const char *k, int64_t v) {
  return ir_attr_set_int(nd, k, v) == TOD_OK ? TOD_OK : ms_oom(c);
}
static tod_status setf(mctx *c, ir_node *nd, const char *k, double v) {
  return ir_attr_set_float(nd, k, v) == TOD_OK ? TOD_OK : ms_oom(c);
}
static tod_status setis(mctx *c, ir_node *nd, const char *k, const int64_t *v, int n) {
  return ir_attr_set_ints(nd, k, v, n) == TOD_OK ? TOD_OK : ms_oom(c);
}

static tod_status need(mctx *c, const mnode *n, int k) {
  if (ms_n_data_in(n) < k) return ms_bad(c, n, "has %d inputs, needs %d", ms_n_data_in(n), k);
  for (int i = 0; i < k; i++)
    if (n->args[i].kind != MV_TENSOR) return ms_bad(c, n, "input %d is not a tensor", i);
  return TOD_OK;
}

static void ins(const mnode *n, int *in, int k) {
  for (int i = 0; i < k; i++) in[i] = n->args[i].t;
}

static tod_status tensor_res(int t, mval *res) {
  res->kind = MV_TENSOR;
  res->t = t;
  return TOD_OK;
}

/* op over the first k inputs, one output under the node's name. */
static tod_status simple(mctx *c, const mnode *n, int op, int k, ir_node **nd, mval *res) {
  int in[16], out;
  if (k > 16) return ms_bad(c, n, "has too many inputs");
  TRY(need(c, n, k));
  ins(n, in, k);
  TRY(ms_out(c, n, 0, &out));
  TRY(ms_emit(c, op, n->irname, in, k, &out, 1, nd));
  return tensor_res(out, res);
}

/* Last two values of a 2- or 4-tuple attribute (kernel_size, stride, ...). */
static tod_status pair(mctx *c, const mnode *n, const char *key, int64_t dflt, int64_t out[2]) {
  int64_t v[8];
  int k = ms_attr_ints(n, key, v, 8);
  out[0] = out[1] = dflt;
  if (k < 0) return TOD_OK;
  if (k == 1) out[0] = out[1] = v[0];
  else if (k == 2) out[0] = v[0], out[1] = v[1];
  else if (k == 4) out[0] = v[2], out[1] = v[3];
  else return ms_unsupported(c, n, "with %d values of %s", k, key);
  return TOD_OK;
}

/* pad_mode: strings (any case) or the enum value; 0 PAD, 1 SAME, 2 VALID. */
static tod_status pad_mode(mctx *c, const mnode *n, int dflt, int *mode) {
  char s[32];
  ms_attr_str(n, "pad_mode", s, sizeof s);
  *mode = dflt;
  if (s[0]) {
    if (!strcasecmp(s, "pad")) *mode = 0;
    else if (!strcasecmp(s, "same")) *mode = 1;
    else if (!strcasecmp(s, "valid")) *mode = 2;
    else return ms_unsupported(c, n, "with pad_mode %s", s);
  } else if (ms_attr(n, "pad_mode")) {
    int64_t v = ms_attr_int(n, "pad_mode", dflt);
    if (v < 0 || v > 2) return ms_unsupported(c, n, "with pad_mode %lld", (long long)v);
    *mode = (int)v;
  }
  return TOD_OK;
}

static tod_status check_nchw(mctx *c, const mnode *n) {
  char s[16];
  ms_attr_str(n, "format", s, sizeof s);
  if ((s[0] && strcmp(s, "NCHW") != 0) || (!s[0] && ms_attr(n, "format") && ms_attr_int(n, "format", 0) != 0))
    return ms_unsupported(c, n, "with a channel-last format");
  return TOD_OK;
}

/* Conv attributes shared by Conv2DFusion and its gradients. */
static tod_status conv_attrs(mctx *c, const mnode *n, ir_node *nd, int64_t in_ch, int64_t out_ch) {
  int64_t ks[2], st[2], dil[2], pads[4] = {0, 0, 0, 0}, v[8];
  TRY(pair(c, n, "kernel_size", 1, ks));
  TRY(pair(c, n, "stride", 1, st));
  if (!ms_attr(n, "stride")) TRY(pair(c, n, "strides", 1, st));
  TRY(pair(c, n, "dilation", 1, dil));
  if (!ms_attr(n, "dilation")) TRY(pair(c, n, "dilations", 1, dil));
  int mode;
  TRY(pad_mode(c, n, 2, &mode));
  if (mode == 0) {
    int k = ms_attr_ints(n, "pad_list", v, 8);
    if (k != 4) k = ms_attr_ints(n, "pad", v, 8);
    if (k == 1) pads[0] = pads[1] = pads[2] = pads[3] = v[0];
    else if (k == 4) memcpy(pads, v, sizeof pads);
    else if (k > 0) return ms_unsupported(c, n, "with %d pad values", k);
  }
  int64_t group = ms_attr_int(n, "group", ms_attr_int(n, "groups", 1));
  if (group < 1) return ms_bad(c, n, "has group %lld", (long long)group);
  TRY(seti(c, nd, "format", IR_FMT_NCHW));
  TRY(setis(c, nd, "kernel_size", ks, 2));
  TRY(setis(c, nd, "stride", st, 2));
  TRY(setis(c, nd, "dilation", dil, 2));
  TRY(seti(c, nd, "pad_mode", mode));
  TRY(setis(c, nd, "pad_list", pads, 4));
  TRY(seti(c, nd, "mode", 1));
  TRY(seti(c, nd, "group", group));
  if (in_ch > 0) TRY(seti(c, nd, "in_channel", in_ch));
  if (out_ch > 0) TRY(seti(c, nd, "out_channel", out_ch));
  return seti(c, nd, "activation_type", IR_ACT_NONE);
}

static tod_status conv2d(mctx *c, mnode *n, mval *res) {
  ir_node *nd;
  TRY(check_nchw(c, n));
  TRY(simple(c, n, IR_OP_Conv2DFusion, 2, &nd, res));
  const ir_tensor *w = &c->g->tensors[n->args[1].t];
  int64_t group = ms_attr_int(n, "group", ms_attr_int(n, "groups", 1));
  int64_t ic = w->ndim == 4 && w->dims[1] > 0 ? w->dims[1] * (group > 0 ? group : 1) : -1;
  int64_t oc = w->ndim == 4 ? w->dims[0] : ms_attr_int(n, "out_channel", -1);
  nd = &c->g->nodes[c->g->n_nodes - 1];
  return conv_attrs(c, n, nd, ic, oc);
}

/* Reads NCHW tensor t channel-last for a gradient node (a Transpose named after the node). */
static tod_status nhwc(mctx *c, const mnode *n, int t, const char *what, int *out) {
  if (ms_rank(c, t) != 4) return ms_unsupported(c, n, "with a %s of rank %d (only 4-D)", what, ms_rank(c, t));
  return ms_transpose(c, n, what, t, TO_NHWC, -1, out);
}

/* Emits op channel-last into a temporary and transposes the result back to NCHW output 0. */
static tod_status emit_nhwc(mctx *c, const mnode *n, int op, const int *in, int k, ir_node **nd, mval *res) {
  int tmp, out, t;
  TRY(ms_tmp(c, n, "nhwc", &tmp));
  TRY(ms_emit(c, op, n->irname, in, k, &tmp, 1, nd));
  int node = c->g->n_nodes - 1;
  TRY(ms_out(c, n, 0, &out));
  TRY(ms_transpose(c, n, "nchw", tmp, TO_NCHW, out, &t));
  *nd = &c->g->nodes[node];
  return tensor_res(out, res);
}

static tod_status conv_backprop_input(mctx *c, mnode *n, mval *res) {
  TRY(check_nchw(c, n));
  TRY(need(c, n, 3));
  int dy, sz = n->args[2].t, w = n->args[1].t;
  TRY(nhwc(c, n, n->args[0].t, "dout", &dy));
  int64_t v[4];
  if (ms_const_ints(c, sz, v, 4) != 4) return ms_unsupported(c, n, "without a constant 4-D input size");
  int32_t s32[4] = {(int32_t)v[0], (int32_t)v[1], (int32_t)v[2], (int32_t)v[3]};
  int szt;
  TRY(ms_const_i32(c, n, "input_size", s32, 4, 1, &szt));
  int in[3] = {dy, w, szt};
  ir_node *nd;
  TRY(emit_nhwc(c, n, IR_OP_Conv2DBackpropInputFusion, in, 3, &nd, res));
  const ir_tensor *wt = &c->g->tensors[w];
  int64_t group = ms_attr_int(n, "group", ms_attr_int(n, "groups", 1));
  TRY(conv_attrs(c, n, nd, wt->ndim == 4 ? wt->dims[1] * (group > 0 ? group : 1) : -1, wt->ndim == 4 ? wt->dims[0] : -1));
  nd = &c->g->nodes[c->g->n_nodes - 2];
  const int64_t *pl;
  int k = ir_attr_ints(nd, "pad_list", &pl);
  if (k == 4) {
    int64_t p[4] = {pl[0], pl[1], pl[2], pl[3]};
    TRY(setis(c, nd, "pad", p, 4));
  }
  return seti(c, nd, "format", IR_FMT_NCHW); /* input_size is NCHW-ordered */
}

static tod_status conv_backprop_filter(mctx *c, mnode *n, mval *res) {
  TRY(check_nchw(c, n));
  TRY(need(c, n, 3));
  int dy, x;
  TRY(nhwc(c, n, n->args[0].t, "dout", &dy));
  TRY(nhwc(c, n, n->args[1].t, "x", &x));
  int64_t v[4];
  if (ms_const_ints(c, n->args[2].t, v, 4) != 4) return ms_unsupported(c, n, "without a constant 4-D filter size");
  int32_t fs[4] = {(int32_t)v[0], (int32_t)v[2], (int32_t)v[3], (int32_t)v[1]}; /* KHWC */
  int fst, out;
  TRY(ms_const_i32(c, n, "filter_shape", fs, 4, 1, &fst));
  TRY(ms_out(c, n, 0, &out));
  ir_tensor *o = &c->g->tensors[out];
  int64_t od[4] = {v[0], v[2], v[3], v[1]};
  ir_tensor_set_shape(o, 4, od);
  o->dtype = IR_DT_FLOAT32;
  o->format = IR_FMT_KHWC;
  int in[3] = {dy, x, fst};
  ir_node *nd;
  TRY(ms_emit(c, IR_OP_Conv2DBackpropFilterFusion, n->irname, in, 3, &out, 1, &nd));
  TRY(conv_attrs(c, n, nd, v[1], v[0]));
  nd = &c->g->nodes[c->g->n_nodes - 1];
  TRY(seti(c, nd, "format", IR_FMT_NHWC));
  return tensor_res(out, res);
}

/* Explicit pooling pads (pad_mode PAD): `pad` or `pad_list` (top, bottom, left, right, or one
 * value for all), rounding from `round_mode` (0 floor, 1 ceil) or `ceil_mode`. */
static tod_status pool_pads(mctx *c, const mnode *n, int64_t pads[4], int *ceil) {
  int64_t v[8];
  int k = ms_attr_ints(n, "pad", v, 8);
  if (k != 1 && k != 4) k = ms_attr_ints(n, "pad_list", v, 8);
  pads[0] = pads[1] = pads[2] = pads[3] = 0;
  if (k == 1) pads[0] = pads[1] = pads[2] = pads[3] = v[0];
  else if (k == 4) memcpy(pads, v, sizeof(int64_t) * 4);
  else if (k > 0) return ms_unsupported(c, n, "with %d pad values", k);
  for (int i = 0; i < 4; i++)
    if (pads[i] < 0 || pads[i] > (1 << 24)) return ms_bad(c, n, "has pad %lld", (long long)pads[i]);
  *ceil = ms_attr_int(n, "round_mode", ms_attr_int(n, "ceil_mode", 0)) != 0;
  return TOD_OK;
}

static tod_status pool_attrs(mctx *c, const mnode *n, ir_node *nd, int fusion, const int64_t pads[4], int ceil) {
  int64_t ks[2], st[2];
  TRY(pair(c, n, "kernel_size", 1, ks));
  TRY(pair(c, n, "strides", 1, st));
  int mode;
  TRY(pad_mode(c, n, 2, &mode));
  if (mode == 0 && !fusion) return ms_unsupported(c, n, "with explicit padding");
  TRY(setis(c, nd, "kernel_size", ks, 2));
  TRY(setis(c, nd, "strides", st, 2));
  TRY(seti(c, nd, "pad_mode", mode));
  if (!fusion) return seti(c, nd, "format", IR_FMT_NHWC);
  TRY(setis(c, nd, "pad", pads, 4));
  TRY(seti(c, nd, "round_mode", ceil));
  TRY(seti(c, nd, "format", IR_FMT_NCHW));
  TRY(seti(c, nd, "global", 0));
  return seti(c, nd, "activation_type", IR_ACT_NONE);
}

/* MaxPool/AvgPool; an AvgPool whose padding counts (count_include_pad, MindSpore's default)
 * reads explicit zeros instead, since tod's AvgPool divides by the in-input count. */
static tod_status pool(mctx *c, mnode *n, int op, mval *res) {
  TRY(check_nchw(c, n));
  TRY(need(c, n, 1));
  int mode, ceil = 0, x = n->args[0].t, out;
  int64_t pads[4] = {0, 0, 0, 0};
  TRY(pad_mode(c, n, 2, &mode));
  if (mode == 0) TRY(pool_pads(c, n, pads, &ceil));
  if (op == IR_OP_AvgPoolFusion && mode == 0 && (pads[0] || pads[1] || pads[2] || pads[3]) &&
      ms_attr_int(n, "count_include_pad", 1) != 0) {
    if (ms_rank(c, x) != 4) return ms_unsupported(c, n, "counting its padding on an input of rank %d", ms_rank(c, x));
    int32_t p[8] = {0, 0, 0, 0, (int32_t)pads[0], (int32_t)pads[1], (int32_t)pads[2], (int32_t)pads[3]};
    int pt, y;
    ir_node *pd;
    TRY(ms_const_i32(c, n, "paddings", p, 8, 1, &pt));
    int64_t shp[2] = {4, 2};
    ir_tensor_set_shape(&c->g->tensors[pt], 2, shp);
    TRY(ms_tmp(c, n, "padded", &y));
    int in[2] = {x, pt};
    TRY(ms_emit_sub(c, n, "pad", IR_OP_PadFusion, in, 2, &y, 1, &pd));
    TRY(seti(c, pd, "padding_mode", 0));
    TRY(setf(c, pd, "constant_value", 0.0));
    x = y;
    pads[0] = pads[1] = pads[2] = pads[3] = 0;
  }
  ir_node *nd;
  TRY(ms_out(c, n, 0, &out));
  TRY(ms_emit(c, op, n->irname, &x, 1, &out, 1, &nd));
  TRY(pool_attrs(c, n, nd, 1, pads, ceil));
  return tensor_res(out, res);
}

static tod_status pool_grad(mctx *c, mnode *n, int op, mval *res) {
  TRY(check_nchw(c, n));
  TRY(need(c, n, 3));
  int x, y, dy;
  TRY(nhwc(c, n, n->args[0].t, "x", &x));
  TRY(nhwc(c, n, n->args[1].t, "y", &y));
  TRY(nhwc(c, n, n->args[2].t, "dout", &dy));
  int in[3] = {x, y, dy};
  ir_node *nd;
  TRY(emit_nhwc(c, n, op, in, 3, &nd, res));
  static const int64_t zero[4] = {0, 0, 0, 0};
  return pool_attrs(c, n, nd, 0, zero, 0);
}

static tod_status activation(mctx *c, mnode *n, int type, mval *res) {
  ir_node *nd;
  TRY(simple(c, n, IR_OP_Activation, 1, &nd, res));
  TRY(seti(c, nd, "activation_type", type));
  if (type == IR_ACT_LEAKY_RELU) TRY(setf(c, nd, "alpha", ms_attr_float(n, "alpha", 0.2)));
  if (type == IR_ACT_ELU) TRY(setf(c, nd, "alpha", ms_attr_float(n, "alpha", 1.0)));
  return TOD_OK;
}

/* ActivationGrad(dy, t); MindSpore's SigmoidGrad/TanhGrad take (y, dy). */
static tod_status act_grad(mctx *c, mnode *n, int type, int swapped, mval *res) {
  TRY(need(c, n, 2));
  int in[2] = {n->args[swapped ? 1 : 0].t, n->args[swapped ? 0 : 1].t}, out;
  ir_node *nd;
  TRY(ms_out(c, n, 0, &out));
  TRY(ms_emit(c, IR_OP_ActivationGrad, n->irname, in, 2, &out, 1, &nd));
  TRY(seti(c, nd, "activation_type", type));
  TRY(setf(c, nd, "alpha", 0.0));
  return tensor_res(out, res);
}

static tod_status binary(mctx *c, mnode *n, int op, mval *res) {
  ir_node *nd;
  TRY(simple(c, n, op, 2, &nd, res));
  if (op == IR_OP_AddFusion || op == IR_OP_SubFusion || op == IR_OP_MulFusion || op == IR_OP_DivFusion)
    TRY(seti(c, nd, "activation_type", IR_ACT_NONE));
  return TOD_OK;
}

/* Boolean attribute that 2.x PRIMITIVE_FUNCTION exports may pass as a Constant input k. */
static int flag(mctx *c, const mnode *n, const char *key, int k) {
  int64_t v;
  if (k < ms_n_data_in(n) && n->args[k].kind == MV_TENSOR && ms_const_ints(c, n->args[k].t, &v, 1) == 1) return v != 0;
  return ms_attr_int(n, key, 0) != 0;
}

static tod_status matmul(mctx *c, mnode *n, mval *res) {
  ir_node *nd;
  int ta = flag(c, n, "transpose_a", 2), tb = flag(c, n, "transpose_b", 3);
  if (!ms_attr(n, "transpose_a")) ta = flag(c, n, "transpose_x1", 2);
  if (!ms_attr(n, "transpose_b")) tb = flag(c, n, "transpose_x2", 3);
  TRY(simple(c, n, IR_OP_MatMulFusion, 2, &nd, res));
  TRY(seti(c, nd, "transpose_a", ta));
  TRY(seti(c, nd, "transpose_b", tb));
  return seti(c, nd, "activation_type", IR_ACT_NONE);
}

/* Dense(x, w[, b]) (2.x): x·wᵀ + b. */
static tod_status dense(mctx *c, mnode *n, mval *res) {
  int k = ms_n_data_in(n) >= 3 && n->args[2].kind == MV_TENSOR ? 3 : 2;
  ir_node *nd;
  TRY(simple(c, n, IR_OP_MatMulFusion, k, &nd, res));
  TRY(seti(c, nd, "transpose_a", 0));
  TRY(seti(c, nd, "transpose_b", 1));
  return seti(c, nd, "activation_type", IR_ACT_NONE);
}

static int rank_of(mctx *c, int t) {
  int r = ms_rank(c, t);
  if (r >= 0) return r;
  int p = ir_producer(c->g, t);
  if (p >= 0) {
    int op = c->g->nodes[p].op;
    if (op == IR_OP_Conv2DFusion || op == IR_OP_MaxPoolFusion || op == IR_OP_AvgPoolFusion) return 4;
  }
  return -1;
}

static tod_status bias_add(mctx *c, mnode *n, mval *res) {
  TRY(check_nchw(c, n));
  TRY(need(c, n, 2));
  int r = rank_of(c, n->args[0].t);
  ir_node *nd;
  if (r == 4) {
    TRY(simple(c, n, IR_OP_BiasAdd, 2, &nd, res));
    c->g->tensors[res->t].ndim = 4;
    return ms_note_bias4d(c, c->g->n_nodes - 1);
  }
  if (r != 2) return ms_unsupported(c, n, "on an input of rank %d (2 and 4 are)", r);
  return simple(c, n, IR_OP_BiasAdd, 2, &nd, res);
}

static tod_status bias_add_grad(mctx *c, mnode *n, mval *res) {
  TRY(need(c, n, 1));
  int r = rank_of(c, n->args[0].t), dy = n->args[0].t, out;
  if (r == 4) TRY(nhwc(c, n, dy, "dout", &dy));
  else if (r != 2) return ms_unsupported(c, n, "on an input of rank %d (2 and 4 are)", r);
  TRY(ms_out(c, n, 0, &out));
  TRY(ms_emit(c, IR_OP_BiasAddGrad, n->irname, &dy, 1, &out, 1, NULL));
  return tensor_res(out, res);
}

/* Op(x, const int tuple) with the tuple as an int32 input (Reshape shape, Transpose perm, ...). */
static tod_status with_ints(mctx *c, mnode *n, int op, const char *what, mval *res) {
  TRY(need(c, n, 2));
  int64_t v[IR_MAX_DIMS];
  int k = ms_const_ints(c, n->args[1].t, v, IR_MAX_DIMS);
  int in[2] = {n->args[0].t, n->args[1].t}, out;
  if (k >= 0 && k <= IR_MAX_DIMS && c->g->tensors[in[1]].dtype != IR_DT_INT32) {
    int32_t v32[IR_MAX_DIMS];
    for (int i = 0; i < k; i++) v32[i] = (int32_t)v[i];
    TRY(ms_const_i32(c, n, what, v32, k, 1, &in[1]));
  }
  TRY(ms_out(c, n, 0, &out));
  TRY(ms_emit(c, op, n->irname, in, 2, &out, 1, NULL));
  return tensor_res(out, res);
}

static tod_status reduce(mctx *c, mnode *n, int mode, mval *res) {
  TRY(need(c, n, 1));
  int in[2] = {n->args[0].t, -1}, out;
  int64_t v[IR_MAX_DIMS];
  int k = 0;
  if (ms_n_data_in(n) >= 2 && n->args[1].kind == MV_TENSOR) {
    k = ms_const_ints(c, n->args[1].t, v, IR_MAX_DIMS);
    if (k < 0 || k > IR_MAX_DIMS) return ms_unsupported(c, n, "with non-constant axes");
  } else {
    k = ms_attr_ints(n, "axis", v, IR_MAX_DIMS);
    if (k < 0) k = 0;
    if (k > IR_MAX_DIMS) return ms_unsupported(c, n, "with %d axes", k);
  }
  int r = ms_rank(c, in[0]);
  if (k == 0 && r > 0) /* () means every axis */
    for (k = 0; k < r; k++) v[k] = k;
  int32_t v32[IR_MAX_DIMS];
  for (int i = 0; i < k; i++) v32[i] = (int32_t)v[i];
  TRY(ms_const_i32(c, n, "axes", v32, k, 1, &in[1]));
  ir_node *nd;
  TRY(ms_out(c, n, 0, &out));
  TRY(ms_emit(c, IR_OP_ReduceFusion, n->irname, in, 2, &out, 1, &nd));
  TRY(seti(c, nd, "keep_dims", flag(c, n, "keep_dims", 2)));
  TRY(seti(c, nd, "mode", mode));
  TRY(seti(c, nd, "reduce_to_end", 0));
  TRY(setf(c, nd, "coeff", 1.0));
  return tensor_res(out, res);
}

/* BatchNorm: FusedBatchNorm; training mode (5 outputs, batch statistics) only in train graphs. */
static tod_status batchnorm(mctx *c, mnode *n, mval *res) {
  TRY(check_nchw(c, n));
  TRY(need(c, n, 5));
  int training = c->train && ms_attr_int(n, "is_training", 0) != 0;
  int in[5], out[5];
  ins(n, in, 5);
  int nout = training ? 5 : 1;
  for (int k = 0; k < nout; k++) TRY(ms_out(c, n, k, &out[k]));
  ir_node *nd;
  TRY(ms_emit(c, IR_OP_FusedBatchNorm, n->irname, in, 5, out, nout, &nd));
  TRY(setf(c, nd, "epsilon", ms_attr_float(n, "epsilon", 1e-5)));
  TRY(setf(c, nd, "momentum", ms_attr_float(n, "momentum", 0.1)));
  TRY(seti(c, nd, "mode", training));
  /* MindSpore: (y, batch_mean, batch_var, reserve_1, reserve_2); IR: y, scale, bias, mean, var. */
  mval *items = ms_vals(c, 5);
  if (!items) return ms_oom(c);
  static const int map[5] = {0, 3, 4, 3, 4};
  for (int k = 0; k < 5; k++) {
    items[k].kind = MV_TENSOR;
    items[k].t = out[training ? map[k] : 0];
  }
  res->kind = MV_TUPLE;
  res->n = 5;
  res->items = items;
  return TOD_OK;
}

static tod_status batchnorm_grad(mctx *c, mnode *n, mval *res) {
  TRY(need(c, n, 5));
  int dy, x, out[3], tmp[3], t;
  TRY(nhwc(c, n, n->args[0].t, "dout", &dy));
  TRY(nhwc(c, n, n->args[1].t, "x", &x));
  int in[5] = {dy, x, n->args[2].t, n->args[3].t, n->args[4].t};
  TRY(ms_tmp(c, n, "nhwc", &tmp[0]));
  for (int k = 0; k < 3; k++) TRY(ms_out(c, n, k, &out[k]));
  tmp[1] = out[1];
  tmp[2] = out[2];
  ir_node *nd;
  TRY(ms_emit(c, IR_OP_BatchNormGrad, n->irname, in, 5, tmp, 3, &nd));
  TRY(setf(c, nd, "epsilon", ms_attr_float(n, "epsilon", 1e-5)));
  TRY(seti(c, nd, "is_training", 1));
  TRY(ms_transpose(c, n, "nchw", tmp[0], TO_NCHW, out[0], &t));
  mval *items = ms_vals(c, 5);
  if (!items) return ms_oom(c);
  for (int k = 0; k < 5; k++) items[k].kind = MV_TENSOR, items[k].t = out[k < 3 ? k : 0];
  res->kind = MV_TUPLE;
  res->n = 5;
  res->items = items;
  return TOD_OK;
}

static tod_status softmax_ce(mctx *c, mnode *n, mval *res) {
  TRY(need(c, n, 2));
  int in[2] = {n->args[0].t, n->args[1].t}, out[2];
  TRY(ms_out(c, n, 0, &out[0]));
  TRY(ms_out(c, n, 1, &out[1]));
  TRY(ms_emit(c, IR_OP_SoftmaxCrossEntropyWithLogits, n->irname, in, 2, out, 2, NULL));
  mval *items = ms_vals(c, 2);
  if (!items) return ms_oom(c);
  items[0].kind = items[1].kind = MV_TENSOR;
  items[0].t = out[0];
  items[1].t = out[1];
  res->kind = MV_TUPLE;
  res->n = 2;
  res->items = items;
  return TOD_OK;
}

static tod_status sparse_ce(mctx *c, mnode *n, mval *res) {
  ir_node *nd;
  TRY(simple(c, n, IR_OP_SparseSoftmaxCrossEntropyWithLogits, 2, &nd, res));
  return seti(c, nd, "is_grad", ms_attr_int(n, "is_grad", 0) != 0);
}

/* Conv weights become KHWC in the layout pass; optimizer state of such a weight follows. */
static tod_status permute_state(mctx *c, int w, int s) {
  ir_graph *g = c->g;
  int conv_w = 0;
  for (int i = 0; i < g->n_nodes && !conv_w; i++)
    if ((g->nodes[i].op == IR_OP_Conv2DFusion || g->nodes[i].op == IR_OP_Conv2DBackpropInputFusion) &&
        g->nodes[i].n_in > 1 && g->nodes[i].in[1] == w)
      conv_w = 1;
  ir_tensor *t = &g->tensors[s];
  if (!conv_w || t->ndim != 4 || !t->data || t->dtype != IR_DT_FLOAT32 || t->format == IR_FMT_KHWC) return TOD_OK;
  int64_t O = t->dims[0], I = t->dims[1], H = t->dims[2], W = t->dims[3], numel = ir_tensor_numel(t);
  if (numel < 0 || (size_t)numel * 4 != t->nbytes) return TOD_OK;
  float *buf = malloc(t->nbytes ? t->nbytes : 4);
  if (!buf) return ms_oom(c);
  const float *in = t->data;
  for (int64_t o = 0; o < O; o++)
    for (int64_t i = 0; i < I; i++)
      for (int64_t h = 0; h < H; h++)
        for (int64_t x = 0; x < W; x++) buf[((o * H + h) * W + x) * I + i] = in[((o * I + i) * H + h) * W + x];
  int64_t d[4] = {O, H, W, I};
  ir_tensor_set_data_owned(t, buf, t->nbytes);
  ir_tensor_set_shape(t, 4, d);
  t->format = IR_FMT_KHWC;
  return TOD_OK;
}

static tod_status optimizer(mctx *c, mnode *n, int op, int nin, mval *res) {
  if (ms_n_data_in(n) < nin) return ms_bad(c, n, "has %d inputs, needs %d", ms_n_data_in(n), nin);
  TRY(need(c, n, nin));
  int in[16], out;
  ins(n, in, nin);
  static const int adam_state[] = {1, 2}, mom_state[] = {1}, sgd_state[] = {3, 5};
  const int *st = op == IR_OP_Adam || op == IR_OP_AdamWeightDecay ? adam_state : op == IR_OP_ApplyMomentum ? mom_state : sgd_state;
  int ns = op == IR_OP_ApplyMomentum ? 1 : 2;
  for (int k = 0; k < ns; k++) TRY(permute_state(c, in[0], in[st[k]]));
  ir_node *nd;
  TRY(ms_out(c, n, 0, &out));
  c->g->tensors[out].dtype = IR_DT_FLOAT32;
  {
    int64_t one = 1;
    ir_tensor_set_shape(&c->g->tensors[out], 1, &one);
  }
  TRY(ms_emit(c, op, n->irname, in, nin, &out, 1, &nd));
  if (op == IR_OP_Adam) {
    TRY(seti(c, nd, "use_locking", ms_attr_int(n, "use_locking", 0) != 0));
    TRY(seti(c, nd, "use_nesterov", ms_attr_int(n, "use_nesterov", 0) != 0));
  } else if (op == IR_OP_ApplyMomentum) {
    TRY(seti(c, nd, "use_nesterov", ms_attr_int(n, "use_nesterov", 0) != 0));
    TRY(seti(c, nd, "use_locking", ms_attr_int(n, "use_locking", 0) != 0));
    TRY(setf(c, nd, "gradient_scale", ms_attr_float(n, "gradient_scale", 1.0)));
  } else if (op == IR_OP_SGD) {
    TRY(seti(c, nd, "nesterov", ms_attr_int(n, "nesterov", 0) != 0));
    TRY(setf(c, nd, "dampening", ms_attr_float(n, "dampening", 0.0)));
    TRY(setf(c, nd, "weight_decay", ms_attr_float(n, "weight_decay", 0.0)));
  }
  mval *items = ms_vals(c, 3);
  if (!items) return ms_oom(c);
  for (int k = 0; k < 3; k++) items[k].kind = MV_TENSOR, items[k].t = out;
  res->kind = MV_TUPLE;
  res->n = 3;
  res->items = items;
  return TOD_OK;
}

/* Assign(variable, value, U): the runtime writes value into variable after the step's readers
 * and before the optimizers (docs/training.md); its value is the variable. */
static tod_status assign(mctx *c, mnode *n, mval *res) {
  TRY(need(c, n, 2));
  int in[2] = {n->args[0].t, n->args[1].t}, out;
  if (ir_tensor_numel(&c->g->tensors[in[0]]) != ir_tensor_numel(&c->g->tensors[in[1]]) && c->g->tensors[in[1]].ndim >= 0)
    return ms_bad(c, n, "writes a value of another size into its variable");
  TRY(ms_out(c, n, 0, &out));
  ir_tensor *o = &c->g->tensors[out];
  int64_t one = 1;
  o->dtype = IR_DT_FLOAT32;
  ir_tensor_set_shape(o, 1, &one);
  TRY(ms_emit(c, IR_OP_Assign, n->irname, in, 2, &out, 1, NULL));
  return tensor_res(in[0], res);
}

/* Two integers of a nested tuple element ((begin, end) of Pad's paddings). */
static int int_pair(const mattr *e, int64_t v[2]) {
  if (e->n_ints == 2) {
    v[0] = e->ints[0], v[1] = e->ints[1];
    return 1;
  }
  if (e->n_values != 2) return 0;
  for (int j = 0; j < 2; j++) {
    const mattr *x = &e->values[j];
    if (x->n_ints) v[j] = x->ints[0];
    else if (x->has_i) v[j] = x->i;
    else return 0;
  }
  return 1;
}

/* Pad(x) with attribute paddings ((begin, end) per axis): zero padding. */
static tod_status pad(mctx *c, mnode *n, mval *res) {
  TRY(need(c, n, 1));
  const mattr *a = ms_attr(n, "paddings");
  int r = ms_rank(c, n->args[0].t);
  if (!a || a->n_values < 1 || a->n_values > IR_MAX_DIMS || (r >= 0 && a->n_values != r))
    return ms_unsupported(c, n, "without one (begin, end) pair of paddings per axis");
  int32_t p[2 * IR_MAX_DIMS];
  for (int i = 0; i < a->n_values; i++) {
    int64_t v[2];
    if (!int_pair(&a->values[i], v) || v[0] < 0 || v[1] < 0 || v[0] > INT32_MAX || v[1] > INT32_MAX)
      return ms_bad(c, n, "has a bad paddings pair at axis %d", i);
    p[2 * i] = (int32_t)v[0], p[2 * i + 1] = (int32_t)v[1];
  }
  int pt, out, in[2];
  TRY(ms_const_i32(c, n, "paddings", p, 2 * a->n_values, 1, &pt));
  int64_t shp[2] = {a->n_values, 2};
  ir_tensor_set_shape(&c->g->tensors[pt], 2, shp);
  in[0] = n->args[0].t, in[1] = pt;
  ir_node *nd;
  TRY(ms_out(c, n, 0, &out));
  TRY(ms_emit(c, IR_OP_PadFusion, n->irname, in, 2, &out, 1, &nd));
  TRY(seti(c, nd, "padding_mode", 0));
  TRY(setf(c, nd, "constant_value", 0.0));
  return tensor_res(out, res);
}

static tod_status softmax(mctx *c, mnode *n, mval *res) {
  ir_node *nd;
  int64_t ax[1] = {-1};
  if (ms_attr_ints(n, "axis", ax, 1) < 0) ax[0] = -1;
  TRY(simple(c, n, IR_OP_Softmax, 1, &nd, res));
  return setis(c, nd, "axis", ax, 1);
}

static tod_status flatten(mctx *c, mnode *n, mval *res) {
  ir_node *nd;
  TRY(simple(c, n, IR_OP_Flatten, 1, &nd, res));
  return seti(c, nd, "axis", 1);
}

static tod_status concat(mctx *c, mnode *n, mval *res) {
  /* Concat((a, b, ...)) takes one tuple. */
  if (ms_n_data_in(n) < 1 || n->args[0].kind != MV_TUPLE) return ms_bad(c, n, "needs a tuple input");
  const mval *t = &n->args[0];
  int in[64], out;
  if (t->n < 1 || t->n > 64) return ms_unsupported(c, n, "with %d inputs", t->n);
  for (int i = 0; i < t->n; i++) {
    if (t->items[i].kind != MV_TENSOR) return ms_bad(c, n, "input %d is not a tensor", i);
    in[i] = t->items[i].t;
  }
  ir_node *nd;
  TRY(ms_out(c, n, 0, &out));
  TRY(ms_emit(c, IR_OP_Concat, n->irname, in, t->n, &out, 1, &nd));
  TRY(seti(c, nd, "axis", ms_attr_int(n, "axis", 0)));
  return tensor_res(out, res);
}

static tod_status cast(mctx *c, mnode *n, mval *res) {
  /* The target dtype is a Constant type value (no data): keep the computation in float32 and
   * cast only when a numeric target tensor is given. */
  TRY(need(c, n, 1));
  if (ms_n_data_in(n) < 2 || n->args[1].kind != MV_TENSOR) return tensor_res(n->args[0].t, res);
  ir_node *nd;
  return simple(c, n, IR_OP_Cast, 2, &nd, res);
}

typedef struct {
  const char *name;
  int kind;
  int arg;
} prim_entry;

enum { P_BIN, P_UN, P_ACT, P_ACTGRAD, P_ACTGRAD_SW, P_POOL, P_POOLGRAD, P_OPT, P_REDUCE, P_INTS, P_FN };

typedef tod_status (*prim_fn)(mctx *, mnode *, mval *);

static const prim_entry prims[] = {
    {"Add", P_BIN, IR_OP_AddFusion}, {"Sub", P_BIN, IR_OP_SubFusion}, {"Mul", P_BIN, IR_OP_MulFusion},
    {"RealDiv", P_BIN, IR_OP_RealDiv}, {"Div", P_BIN, IR_OP_DivFusion}, {"Maximum", P_BIN, IR_OP_Maximum},
    {"Minimum", P_BIN, IR_OP_Minimum}, {"Pow", P_BIN, IR_OP_PowFusion}, {"SquaredDifference", P_BIN, IR_OP_SquaredDifference},
    {"Sqrt", P_UN, IR_OP_Sqrt}, {"Rsqrt", P_UN, IR_OP_Rsqrt}, {"Exp", P_UN, IR_OP_ExpFusion}, {"Log", P_UN, IR_OP_Log},
    {"Neg", P_UN, IR_OP_Neg}, {"Abs", P_UN, IR_OP_Abs}, {"Square", P_UN, IR_OP_Square}, {"Reciprocal", P_UN, IR_OP_Reciprocal},
    {"OnesLike", P_UN, IR_OP_OnesLike}, {"ZerosLike", P_UN, IR_OP_ZerosLike},
    {"ReLU", P_ACT, IR_ACT_RELU}, {"ReLU6", P_ACT, IR_ACT_RELU6}, {"Sigmoid", P_ACT, IR_ACT_SIGMOID},
    {"Tanh", P_ACT, IR_ACT_TANH}, {"HSwish", P_ACT, IR_ACT_HSWISH}, {"SiLU", P_ACT, IR_ACT_SWISH}, {"HSigmoid", P_ACT, IR_ACT_HSIGMOID},
    {"Elu", P_ACT, IR_ACT_ELU}, {"LeakyReLU", P_ACT, IR_ACT_LEAKY_RELU}, {"GeLU", P_ACT, IR_ACT_GELU},
    {"ReluGrad", P_ACTGRAD, IR_ACT_RELU}, {"ReLU6Grad", P_ACTGRAD, IR_ACT_RELU6},
    {"SigmoidGrad", P_ACTGRAD_SW, IR_ACT_SIGMOID}, {"TanhGrad", P_ACTGRAD_SW, IR_ACT_TANH}, {"AbsGrad", P_BIN, IR_OP_AbsGrad},
    {"MaxPool", P_POOL, IR_OP_MaxPoolFusion}, {"AvgPool", P_POOL, IR_OP_AvgPoolFusion},
    {"MaxPoolGrad", P_POOLGRAD, IR_OP_MaxPoolGrad}, {"AvgPoolGrad", P_POOLGRAD, IR_OP_AvgPoolGrad},
    {"Adam", P_OPT, IR_OP_Adam}, {"ApplyMomentum", P_OPT, IR_OP_ApplyMomentum}, {"SGD", P_OPT, IR_OP_SGD},
    {"AdamWeightDecay", P_OPT, IR_OP_AdamWeightDecay},
    {"ReduceMean", P_REDUCE, 0}, {"ReduceMax", P_REDUCE, 1}, {"ReduceMin", P_REDUCE, 2}, {"ReduceSum", P_REDUCE, 4},
    {"Reshape", P_INTS, IR_OP_Reshape}, {"Transpose", P_INTS, IR_OP_Transpose}, {"Tile", P_INTS, IR_OP_TileFusion},
};

static const struct {
  const char *name;
  prim_fn fn;
} fns[] = {
    {"Conv2D", conv2d}, {"Conv2DBackpropInput", conv_backprop_input}, {"Conv2DBackpropFilter", conv_backprop_filter},
    {"MatMul", matmul}, {"Dense", dense}, {"BiasAdd", bias_add}, {"BiasAddGrad", bias_add_grad},
    {"BatchNorm", batchnorm}, {"BatchNormGrad", batchnorm_grad}, {"SoftmaxCrossEntropyWithLogits", softmax_ce},
    {"SparseSoftmaxCrossEntropyWithLogits", sparse_ce}, {"Softmax", softmax}, {"Flatten", flatten},
    {"Concat", concat}, {"Cast", cast}, {"Assign", assign}, {"Pad", pad},
};

tod_status mindir_translate(mctx *c, mnode *n, mval *res) {
  ir_node *nd;
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
    if (strcmp(n->prim, fns[i].name) == 0) return fns[i].fn(c, n, res);
  for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++) {
    const prim_entry *e = &prims[i];
    if (strcmp(n->prim, e->name) != 0) continue;
    switch (e->kind) {
      case P_BIN: return binary(c, n, e->arg, res);
      case P_UN:
        TRY(simple(c, n, e->arg, 1, &nd, res));
        if (e->arg == IR_OP_ExpFusion) {
          TRY(setf(c, nd, "base", -1.0));
          TRY(setf(c, nd, "scale", 1.0));
          TRY(setf(c, nd, "shift", 0.0));
        }
        return TOD_OK;
      case P_ACT: return activation(c, n, e->arg, res);
      case P_ACTGRAD: return act_grad(c, n, e->arg, 0, res);
      case P_ACTGRAD_SW: return act_grad(c, n, e->arg, 1, res);
      case P_POOL: return pool(c, n, e->arg, res);
      case P_POOLGRAD: return pool_grad(c, n, e->arg, res);
      case P_OPT: {
        int nin = e->arg == IR_OP_Adam ? 10 : e->arg == IR_OP_ApplyMomentum ? 5 : e->arg == IR_OP_SGD ? 6 : 9;
        return optimizer(c, n, e->arg, nin, res);
      }
      case P_REDUCE: return reduce(c, n, e->arg, res);
      case P_INTS: {
        const char *what = e->arg == IR_OP_Reshape ? "shape" : e->arg == IR_OP_Transpose ? "perm" : "multiples";
        return with_ints(c, n, e->arg, what, res);
      }
      default: break;
    }
  }
  return TOD_NOT_FIND_OP;
}
