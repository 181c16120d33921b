/* ONNX operator -> MindSpore Lite primitive translation, exactly as docs/ops.md specifies.
 *
 * Each translator reads one onnx_node (inputs already resolved to tensor indices), creates the
 * output tensors under their ONNX names and emits one or more IR nodes. Hyper-parameters that
 * MindSpore Lite takes as inputs (perm, axes, paddings, Cast's `to`, ...) become constant tensors
 * named "<node>/<what>". Anything whose meaning tod would change is refused with
 * TOD_NOT_SUPPORT and a message naming the node, rather than approximated. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/onnx_internal.h"



/* Inputs 0..k-1 must be present. */
static tod_status need(onnx_ctx *c, const onnx_node *n, int k) {
  if (n->n_in < k) return onnx_bad(c, n, "has %d inputs, needs %d", n->n_in, k);
  for (int i = 0; i < k; i++)
    if (n->in[i] < 0) return onnx_bad(c, n, "lacks input %d", i);
  return TOD_OK;
}

static int opt_in(const onnx_node *n, int i) { return i < n->n_in ? n->in[i] : -1; }

static const ir_tensor *T(onnx_ctx *c, int idx) { return &c->g->tensors[idx]; }

/* Emits op over the first k inputs with output 0 under the node's name. */
static tod_status simple(onnx_ctx *c, const onnx_node *n, int op, int k, ir_node **nd) {
  int out;
  TRY(need(c, n, k));
  TRY(onnx_out(c, n, 0, &out));
  return onnx_emit(c, op, n->name, n->in, k, &out, 1, nd);
}

/* Emits an auxiliary node named "<node>/<suffix>". */
static tod_status emit_sub(onnx_ctx *c, const onnx_node *n, const char *suffix, int op,
                           const int *in, int n_in, const int *out, int n_out, ir_node **nd) {
  size_t len = strlen(n->name) + strlen(suffix) + 2;
  char *nm = malloc(len);
  if (!nm) return onnx_oom(c);
  snprintf(nm, len, "%s/%s", n->name, suffix);
  tod_status st = onnx_emit(c, op, nm, in, n_in, out, n_out, nd);
  free(nm);
  return st;
}

/* --- elementwise -------------------------------------------------------------------------- */

static tod_status unary(onnx_ctx *c, onnx_node *n, int op) {
  ir_node *nd = NULL;
  TRY(simple(c, n, op, 1, &nd));
  if (op == IR_OP_ExpFusion) {
    /* ExpFusion computes base^(scale*x+shift); base -1 means e. */
    TRY(setf(c, nd, "base", -1.0));
    TRY(setf(c, nd, "scale", 1.0));
    TRY(setf(c, nd, "shift", 0.0));
  }
  return TOD_OK;
}

static tod_status activation(onnx_ctx *c, onnx_node *n, int type, int has_alpha, double alpha) {
  ir_node *nd = NULL;
  TRY(simple(c, n, IR_OP_Activation, 1, &nd));
  TRY(seti(c, nd, "activation_type", type));
  if (has_alpha) TRY(setf(c, nd, "alpha", alpha));
  return TOD_OK;
}

static int is_fusion_binary(int op) {
  return op == IR_OP_AddFusion || op == IR_OP_SubFusion || op == IR_OP_MulFusion ||
         op == IR_OP_DivFusion;
}

static tod_status binary_attrs(onnx_ctx *c, ir_node *nd, int op) {
  if (is_fusion_binary(op)) return seti(c, nd, "activation_type", IR_ACT_NONE);
  if (op == IR_OP_PowFusion) {
    TRY(setf(c, nd, "scale", 1.0));
    return setf(c, nd, "shift", 0.0);
  }
  return TOD_OK;
}

static tod_status binary(onnx_ctx *c, onnx_node *n, int op) {
  ir_node *nd = NULL;
  TRY(onnx_legacy_broadcast(c, n));
  TRY(simple(c, n, op, 2, &nd));
  return binary_attrs(c, nd, op);
}

static tod_status compare(onnx_ctx *c, onnx_node *n, int op, int k) {
  TRY(simple(c, n, op, k, NULL));
  c->g->tensors[c->g->nodes[c->g->n_nodes - 1].out[0]].dtype = IR_DT_BOOL;
  return TOD_OK;
}

/* Max/Min/Sum take any number of inputs: a chain of binary nodes, the last one named after the
 * ONNX node; a single input is an alias. */
static tod_status variadic(onnx_ctx *c, onnx_node *n, int op) {
  if (n->n_in < 1) return onnx_bad(c, n, "has no inputs");
  TRY(need(c, n, n->n_in));
  if (n->n_in == 1) {
    if (n->n_out < 1 || !n->out_names[0].n) return onnx_bad(c, n, "has no output");
    return onnx_name_put(c, n->out_names[0], n->in[0]);
  }
  int acc = n->in[0];
  for (int i = 1; i < n->n_in; i++) {
    int out, in[2] = {acc, n->in[i]};
    ir_node *nd = NULL;
    char step[40];
    int last = i == n->n_in - 1;
    if (last) {
      TRY(onnx_out(c, n, 0, &out));
    } else {
      snprintf(step, sizeof step, "partial%d", i);
      TRY(onnx_tmp(c, n, step, &out));
    }
    if (last) {
      TRY(onnx_emit(c, op, n->name, in, 2, &out, 1, &nd));
    } else {
      TRY(emit_sub(c, n, step, op, in, 2, &out, 1, &nd));
    }
    TRY(binary_attrs(c, nd, op));
    acc = out;
  }
  return TOD_OK;
}

static tod_status clip(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 1));
  double lo = -FLT_MAX, hi = FLT_MAX;
  int known = 1, lo_in = -1, hi_in = -1;
  if (c->opset < 11) {
    lo = onnx_attr_f(n, "min", -FLT_MAX);
    hi = onnx_attr_f(n, "max", FLT_MAX);
  } else {
    lo_in = opt_in(n, 1);
    hi_in = opt_in(n, 2);
    if (lo_in >= 0 && !onnx_const_scalar(c, lo_in, &lo)) known = 0;
    if (hi_in >= 0 && !onnx_const_scalar(c, hi_in, &hi)) known = 0;
  }
  if (known && lo == 0 && hi == 6) return activation(c, n, IR_ACT_RELU6, 0, 0);
  if (known && lo == 0 && hi >= FLT_MAX) return activation(c, n, IR_ACT_RELU, 0, 0);
  int out;
  ir_node *nd = NULL;
  TRY(onnx_out(c, n, 0, &out));
  if (known) {
    TRY(onnx_emit(c, IR_OP_Clip, n->name, n->in, 1, &out, 1, &nd));
  } else {
    int in[3] = {n->in[0], lo_in, hi_in};
    TRY(onnx_emit(c, IR_OP_Clip, n->name, in, hi_in >= 0 ? 3 : 2, &out, 1, &nd));
  }
  TRY(setf(c, nd, "min", lo));
  return setf(c, nd, "max", hi);
}

/* --- convolution, matmul, normalisation, pooling ------------------------------------------- */

static tod_status pads_tblr(onnx_ctx *c, const onnx_node *n, int64_t out[4]) {
  const int64_t *p;
  int np = onnx_attr_ints(n, "pads", &p);
  out[0] = out[1] = out[2] = out[3] = 0;
  if (np < 0) return TOD_OK;
  if (np != 4) return onnx_bad(c, n, "has %d pads for 2 spatial dims", np);
  for (int i = 0; i < 4; i++)
    if (p[i] < 0) return onnx_unsupported(c, n, "has negative pads");
  /* ONNX [x1_begin, x2_begin, x1_end, x2_end] = [t, l, b, r] -> MindSpore [t, b, l, r]. */
  out[0] = p[0];
  out[1] = p[2];
  out[2] = p[1];
  out[3] = p[3];
  return TOD_OK;
}

/* auto_pad -> pad_mode (0 explicit, 1 SAME_UPPER, 2 VALID). */
static tod_status pad_mode(onnx_ctx *c, const onnx_node *n, int *mode) {
  char s[32];
  onnx_attr_s(n, "auto_pad", s, sizeof s);
  if (!s[0] || strcmp(s, "NOTSET") == 0) *mode = 0;
  else if (strcmp(s, "SAME_UPPER") == 0) *mode = 1;
  else if (strcmp(s, "VALID") == 0) *mode = 2;
  else return onnx_unsupported(c, n, "has auto_pad %s", s);
  return TOD_OK;
}

/* A 2-element INTS attribute (strides, dilations) with a default of dflt each. */
static tod_status pair_attr(onnx_ctx *c, const onnx_node *n, const char *key, int64_t dflt,
                            int64_t out[2]) {
  const int64_t *v;
  int k = onnx_attr_ints(n, key, &v);
  out[0] = out[1] = dflt;
  if (k < 0) return TOD_OK;
  if (k != 2) return onnx_unsupported(c, n, "has %d %s (only 2-D is)", k, key);
  for (int i = 0; i < 2; i++) {
    if (v[i] < 1) return onnx_bad(c, n, "has %s %lld", key, (long long)v[i]);
    out[i] = v[i];
  }
  return TOD_OK;
}

static tod_status conv(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 2));
  const ir_tensor *w = T(c, n->in[1]);
  int64_t ks[2], st[2], dil[2], pads[4];
  const int64_t *k;
  int nk = onnx_attr_ints(n, "kernel_shape", &k);
  if (nk < 0 && w->ndim >= 0) {
    nk = w->ndim - 2;
    k = w->dims + 2;
  }
  if (nk < 0) return onnx_unsupported(c, n, "without kernel_shape or a weight of known shape");
  if (nk == 1 && T(c, n->in[0])->ndim == 3) return onnx_as_2d(c, n, conv);
  if (nk != 2) return onnx_unsupported(c, n, "is %d-D (only 1-D and 2-D convolution are)", nk);
  if (w->ndim >= 0 && w->ndim != 4) return onnx_bad(c, n, "has a weight of rank %d", w->ndim);
  ks[0] = k[0];
  ks[1] = k[1];
  TRY(pair_attr(c, n, "strides", 1, st));
  TRY(pair_attr(c, n, "dilations", 1, dil));
  TRY(pads_tblr(c, n, pads));
  int mode;
  TRY(pad_mode(c, n, &mode));
  if (mode) pads[0] = pads[1] = pads[2] = pads[3] = 0;
  int64_t group = onnx_attr_i(n, "group", 1);
  if (group < 1) return onnx_bad(c, n, "has group %lld", (long long)group);
  int out;
  ir_node *nd = NULL;
  TRY(onnx_out(c, n, 0, &out));
  int nin = opt_in(n, 2) >= 0 ? 3 : 2;
  TRY(onnx_emit(c, IR_OP_Conv2DFusion, n->name, n->in, nin, &out, 1, &nd));
  TRY(seti(c, nd, "format", IR_FMT_NCHW));
  TRY(setis(c, nd, "kernel_size", ks, 2));
  TRY(setis(c, nd, "stride", st, 2));
  TRY(setis(c, nd, "dilation", dil, 2));
  TRY(seti(c, nd, "pad_mode", mode));
  TRY(setis(c, nd, "pad_list", pads, 4));
  TRY(seti(c, nd, "group", group));
  w = T(c, n->in[1]);
  if (w->ndim == 4 && w->dims[0] >= 0 && w->dims[1] >= 0) {
    TRY(seti(c, nd, "in_channel", w->dims[1] * group));
    TRY(seti(c, nd, "out_channel", w->dims[0]));
  }
  return seti(c, nd, "activation_type", IR_ACT_NONE);
}

/* A float32 constant scaled by s, as a new constant "<node>/<suffix>"; -1 when src is not a
 * float32 constant. ndim_override >= 0 replaces the shape by [numel] (bias vectors). */
static tod_status scaled_const(onnx_ctx *c, const onnx_node *n, int src, double s,
                               const char *suffix, int flatten, int *idx) {
  const ir_tensor *t = T(c, src);
  int64_t numel = ir_tensor_numel(t);
  *idx = -1;
  if (t->kind != IR_TENSOR_CONST || t->dtype != IR_DT_FLOAT32 || numel < 0 ||
      (size_t)numel * 4 != t->nbytes)
    return TOD_OK;
  float *v = malloc(t->nbytes ? t->nbytes : 4);
  if (!v) return onnx_oom(c);
  if (t->nbytes) memcpy(v, t->data, t->nbytes);
  for (int64_t i = 0; i < numel; i++) v[i] = (float)(v[i] * s);
  tod_status st = onnx_const_f32(c, n, suffix, v, (int)numel, 1, idx);
  free(v);
  TRY(st);
  if (!flatten) {
    ir_tensor *d = &c->g->tensors[*idx];
    const ir_tensor *srct = T(c, src);
    ir_tensor_set_shape(d, srct->ndim, srct->dims);
  }
  return TOD_OK;
}

static tod_status gemm(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 2));
  double alpha = onnx_attr_f(n, "alpha", 1.f), beta = onnx_attr_f(n, "beta", 1.f);
  int64_t ta = onnx_attr_i(n, "transA", 0), tb = onnx_attr_i(n, "transB", 0);
  int a = n->in[0], b = n->in[1], bias = opt_in(n, 2);
  if (alpha != 1.0) {
    int s;
    TRY(scaled_const(c, n, b, alpha, "B_scaled", 0, &s));
    if (s < 0) return onnx_unsupported(c, n, "has alpha %g with a non-constant B", alpha);
    b = s;
  }
  /* The bias goes into MatMulFusion's third input when it is one row ([N] or [1,N]);
   * anything else (an [M,N] matrix, a scalar, a computed tensor) becomes an AddFusion. */
  int bias_vec = -1;
  if (bias >= 0) {
    const ir_tensor *ct = T(c, bias);
    int row = ct->kind == IR_TENSOR_CONST &&
              (ct->ndim == 1 || (ct->ndim == 2 && ct->dims[0] == 1));
    if (beta != 1.0 || (row && ct->ndim == 2)) {
      int s;
      TRY(scaled_const(c, n, bias, beta, "C_scaled", row, &s));
      if (s < 0) return onnx_unsupported(c, n, "has beta %g with a non-constant C", beta);
      bias = s;
    }
    if (row) bias_vec = bias;
  }
  int out, in[3] = {a, b, bias_vec};
  ir_node *nd = NULL;
  int direct = bias < 0 || bias_vec >= 0;
  if (direct) {
    TRY(onnx_out(c, n, 0, &out));
    TRY(onnx_emit(c, IR_OP_MatMulFusion, n->name, in, bias_vec >= 0 ? 3 : 2, &out, 1, &nd));
  } else {
    TRY(onnx_tmp(c, n, "matmul", &out));
    TRY(emit_sub(c, n, "mm", IR_OP_MatMulFusion, in, 2, &out, 1, &nd));
  }
  TRY(seti(c, nd, "transpose_a", ta != 0));
  TRY(seti(c, nd, "transpose_b", tb != 0));
  TRY(seti(c, nd, "activation_type", IR_ACT_NONE));
  if (!direct) {
    int y, in2[2] = {out, bias};
    TRY(onnx_out(c, n, 0, &y));
    TRY(onnx_emit(c, IR_OP_AddFusion, n->name, in2, 2, &y, 1, &nd));
    TRY(seti(c, nd, "activation_type", IR_ACT_NONE));
  }
  return TOD_OK;
}

static tod_status matmul(onnx_ctx *c, onnx_node *n) {
  ir_node *nd = NULL;
  TRY(simple(c, n, IR_OP_MatMulFusion, 2, &nd));
  TRY(seti(c, nd, "transpose_a", 0));
  TRY(seti(c, nd, "transpose_b", 0));
  return seti(c, nd, "activation_type", IR_ACT_NONE);
}

static tod_status batchnorm(onnx_ctx *c, onnx_node *n) {
  if (n->n_in >= 1 && n->in[0] >= 0 && (T(c, n->in[0])->ndim == 2 || T(c, n->in[0])->ndim == 3))
    return onnx_as_2d(c, n, batchnorm);
  if (onnx_attr_i(n, "training_mode", 0)) return onnx_unsupported(c, n, "in training mode");
  if (!onnx_attr_i(n, "spatial", 1)) return onnx_unsupported(c, n, "with spatial=0");
  for (int i = 1; i < n->n_out; i++)
    if (n->out_names[i].n) return onnx_unsupported(c, n, "with running-statistics outputs");
  ir_node *nd = NULL;
  TRY(simple(c, n, IR_OP_FusedBatchNorm, 5, &nd));
  TRY(setf(c, nd, "epsilon", onnx_attr_f(n, "epsilon", 1e-5f)));
  TRY(setf(c, nd, "momentum", onnx_attr_f(n, "momentum", 0.9f)));
  return seti(c, nd, "mode", 0);
}

static tod_status pool_attrs(onnx_ctx *c, ir_node *nd, const int64_t *ks, const int64_t *st,
                             const int64_t *pads, int mode, int ceil, int global) {
  if (ks) TRY(setis(c, nd, "kernel_size", ks, 2));
  if (st) TRY(setis(c, nd, "strides", st, 2));
  if (pads) TRY(setis(c, nd, "pad", pads, 4));
  TRY(seti(c, nd, "pad_mode", mode));
  TRY(seti(c, nd, "round_mode", ceil));
  TRY(seti(c, nd, "format", IR_FMT_NCHW));
  TRY(seti(c, nd, "global", global));
  return seti(c, nd, "activation_type", IR_ACT_NONE);
}

static tod_status maxpool2d(onnx_ctx *c, onnx_node *n);
static tod_status avgpool2d(onnx_ctx *c, onnx_node *n);

static tod_status pool(onnx_ctx *c, onnx_node *n, int op) {
  TRY(need(c, n, 1));
  const int64_t *k;
  int nk = onnx_attr_ints(n, "kernel_shape", &k);
  if (nk < 0) return onnx_bad(c, n, "has no kernel_shape");
  if (nk == 1 && T(c, n->in[0])->ndim == 3)
    return onnx_as_2d(c, n, op == IR_OP_MaxPoolFusion ? maxpool2d : avgpool2d);
  if (nk != 2) return onnx_unsupported(c, n, "is %d-D (only 1-D and 2-D pooling are)", nk);
  int64_t ks[2] = {k[0], k[1]}, st[2], dil[2], pads[4];
  if (ks[0] < 1 || ks[1] < 1) return onnx_bad(c, n, "has kernel_shape [%lld,%lld]", (long long)ks[0], (long long)ks[1]);
  TRY(pair_attr(c, n, "strides", 1, st));
  TRY(pair_attr(c, n, "dilations", 1, dil));
  if (dil[0] != 1 || dil[1] != 1)
    return onnx_unsupported(c, n, "has dilations [%lld,%lld]", (long long)dil[0], (long long)dil[1]);
  TRY(pads_tblr(c, n, pads));
  int mode;
  TRY(pad_mode(c, n, &mode));
  if (mode) pads[0] = pads[1] = pads[2] = pads[3] = 0;
  int ceil = onnx_attr_i(n, "ceil_mode", 0) != 0;
  if (onnx_attr_i(n, "storage_order", 0)) return onnx_unsupported(c, n, "with storage_order 1");
  if (n->n_out > 1 && n->out_names[1].n) return onnx_unsupported(c, n, "with an Indices output");
  int x = n->in[0];
  int padded = pads[0] || pads[1] || pads[2] || pads[3];
  if (op == IR_OP_AvgPoolFusion && onnx_attr_i(n, "count_include_pad", 0)) {
    if (mode == 1) return onnx_unsupported(c, n, "with count_include_pad=1 and auto_pad SAME");
    if (padded) {
      /* tod's AvgPool divides by the in-input count, so padding that counts becomes real
       * zeros in front of an unpadded pool. */
      int32_t p[8] = {0, 0, 0, 0, (int32_t)pads[0], (int32_t)pads[1], (int32_t)pads[2], (int32_t)pads[3]};
      int pt, y;
      ir_node *nd = NULL;
      TRY(onnx_const_i32(c, n, "paddings", p, 8, 1, &pt));
      int64_t pd[2] = {4, 2};
      ir_tensor_set_shape(&c->g->tensors[pt], 2, pd);
      TRY(onnx_tmp(c, n, "padded", &y));
      int in[2] = {x, pt};
      TRY(emit_sub(c, n, "pad", IR_OP_PadFusion, in, 2, &y, 1, &nd));
      TRY(seti(c, nd, "padding_mode", 0));
      TRY(setf(c, nd, "constant_value", 0.0));
      x = y;
      pads[0] = pads[1] = pads[2] = pads[3] = 0;
    }
  }
  int out;
  ir_node *nd = NULL;
  TRY(onnx_out(c, n, 0, &out));
  TRY(onnx_emit(c, op, n->name, &x, 1, &out, 1, &nd));
  return pool_attrs(c, nd, ks, st, pads, mode, ceil, 0);
}

static tod_status maxpool2d(onnx_ctx *c, onnx_node *n) { return pool(c, n, IR_OP_MaxPoolFusion); }
static tod_status avgpool2d(onnx_ctx *c, onnx_node *n) { return pool(c, n, IR_OP_AvgPoolFusion); }

static tod_status global_pool(onnx_ctx *c, onnx_node *n, int op) {
  ir_node *nd = NULL;
  TRY(simple(c, n, op, 1, &nd));
  return pool_attrs(c, nd, NULL, NULL, NULL, 0, 0, 1);
}

/* --- shape manipulation ------------------------------------------------------------------- */

static tod_status flatten(onnx_ctx *c, onnx_node *n) {
  ir_node *nd = NULL;
  TRY(simple(c, n, IR_OP_Flatten, 1, &nd));
  return seti(c, nd, "axis", onnx_attr_i(n, "axis", 1));
}

static tod_status reshape(onnx_ctx *c, onnx_node *n) {
  if (onnx_attr_i(n, "allowzero", 0)) return onnx_unsupported(c, n, "with allowzero=1");
  return simple(c, n, IR_OP_Reshape, 2, NULL);
}

/* Appends a constant int32 1-D input "<node>/<suffix>" from int64 values (range-checked). */
static tod_status ints_const(onnx_ctx *c, const onnx_node *n, const char *suffix,
                             const int64_t *v, int count, int *idx) {
  int32_t *tmp = malloc(sizeof(int32_t) * (size_t)(count ? count : 1));
  if (!tmp) return onnx_oom(c);
  for (int i = 0; i < count; i++)
    tmp[i] = v[i] > INT32_MAX ? INT32_MAX : v[i] < INT32_MIN ? INT32_MIN : (int32_t)v[i];
  tod_status st = onnx_const_i32(c, n, suffix, tmp, count, 1, idx);
  free(tmp);
  return st;
}

static tod_status transpose(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 1));
  const int64_t *p;
  int np = onnx_attr_ints(n, "perm", &p);
  int64_t rev[IR_MAX_DIMS];
  if (np < 0) {
    int r = T(c, n->in[0])->ndim;
    if (r < 0) return onnx_unsupported(c, n, "without perm on an input of unknown rank");
    for (int i = 0; i < r; i++) rev[i] = r - 1 - i;
    p = rev;
    np = r;
  }
  if (np > IR_MAX_DIMS) return onnx_unsupported(c, n, "of rank %d", np);
  for (int i = 0; i < np; i++)
    if (p[i] < 0 || p[i] >= np) return onnx_bad(c, n, "has perm value %lld", (long long)p[i]);
  int pt, out;
  TRY(ints_const(c, n, "perm", p, np, &pt));
  TRY(onnx_out(c, n, 0, &out));
  int in[2] = {n->in[0], pt};
  return onnx_emit(c, IR_OP_Transpose, n->name, in, 2, &out, 1, NULL);
}

static tod_status concat(onnx_ctx *c, onnx_node *n) {
  if (!onnx_attr_get(n, "axis") && c->opset >= 4) return onnx_bad(c, n, "has no axis");
  if (n->n_in < 1) return onnx_bad(c, n, "has no inputs");
  ir_node *nd = NULL;
  TRY(simple(c, n, IR_OP_Concat, n->n_in, &nd));
  return seti(c, nd, "axis", onnx_attr_i(n, "axis", 1));
}

/* Axes/split values from an attribute (before opset `since`) or a constant input. Returns 1 and
 * a malloc'd array when present, 0 when absent. */
static tod_status list_arg(onnx_ctx *c, const onnx_node *n, const char *key, int since,
                           int input, int64_t **v, int *count, int *present) {
  *v = NULL;
  *count = 0;
  *present = 0;
  if (c->opset < since) {
    const int64_t *a;
    int k = onnx_attr_ints(n, key, &a);
    if (k < 0) return TOD_OK;
    *v = malloc(sizeof(int64_t) * (size_t)(k ? k : 1));
    if (!*v) return onnx_oom(c);
    if (k) memcpy(*v, a, sizeof(int64_t) * (size_t)k);
    *count = k;
    *present = 1;
    return TOD_OK;
  }
  int t = opt_in(n, input);
  if (t < 0) return TOD_OK;
  int64_t cnt;
  int r = onnx_const_ints(c, t, v, &cnt);
  if (r < 0) return onnx_oom(c);
  if (r == 0) return onnx_unsupported(c, n, "with a non-constant %s input", key);
  if (cnt > 1024) {
    free(*v);
    *v = NULL;
    return onnx_unsupported(c, n, "with %lld %s", (long long)cnt, key);
  }
  *count = (int)cnt;
  *present = 1;
  return TOD_OK;
}

static tod_status split(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 1));
  if (n->n_out < 1) return onnx_bad(c, n, "has no outputs");
  int64_t *sp;
  int nsp, present;
  TRY(list_arg(c, n, "split", 13, 1, &sp, &nsp, &present));
  tod_status st = TOD_OK;
  int *outs = malloc(sizeof(int) * (size_t)n->n_out);
  ir_node *nd = NULL;
  if (!outs) st = onnx_oom(c);
  if (st == TOD_OK && present && nsp != n->n_out)
    st = onnx_bad(c, n, "has %d split sizes for %d outputs", nsp, n->n_out);
  for (int i = 0; st == TOD_OK && i < n->n_out; i++) st = onnx_out(c, n, i, &outs[i]);
  if (st == TOD_OK) st = onnx_emit(c, IR_OP_Split, n->name, n->in, 1, outs, n->n_out, &nd);
  if (st == TOD_OK) st = seti(c, nd, "output_num", n->n_out);
  if (st == TOD_OK && present) st = setis(c, nd, "size_splits", sp, nsp);
  if (st == TOD_OK) st = seti(c, nd, "axis", onnx_attr_i(n, "axis", 0));
  free(sp);
  free(outs);
  return st;
}

static tod_status squeeze(onnx_ctx *c, onnx_node *n, int op) {
  TRY(need(c, n, 1));
  int64_t *ax;
  int nax, present;
  TRY(list_arg(c, n, "axes", 13, 1, &ax, &nax, &present));
  tod_status st = TOD_OK;
  ir_node *nd = NULL;
  if (op == IR_OP_Unsqueeze && !present) st = onnx_bad(c, n, "has no axes");
  if (st == TOD_OK) st = simple(c, n, op, 1, &nd);
  if (st == TOD_OK) st = setis(c, nd, "axis", ax, nax);
  free(ax);
  return st;
}

static tod_status gather(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 2));
  int32_t axis = (int32_t)onnx_attr_i(n, "axis", 0);
  int at, out;
  TRY(onnx_const_i32(c, n, "axis", &axis, 1, 0, &at));
  TRY(onnx_out(c, n, 0, &out));
  int in[3] = {n->in[0], n->in[1], at};
  return onnx_emit(c, IR_OP_Gather, n->name, in, 3, &out, 1, NULL);
}

/* Cast of x to dtype into out: the node is named after n, or "<node>/<suffix>" when given. */
static tod_status emit_cast(onnx_ctx *c, const onnx_node *n, const char *suffix, int x, int dtype,
                            int out) {
  int32_t to = dtype;
  int tt;
  TRY(onnx_const_i32(c, n, "to", &to, 1, 0, &tt));
  int in[2] = {x, tt};
  if (suffix) TRY(emit_sub(c, n, suffix, IR_OP_Cast, in, 2, &out, 1, NULL));
  else TRY(onnx_emit(c, IR_OP_Cast, n->name, in, 2, &out, 1, NULL));
  c->g->tensors[out].dtype = dtype;
  return TOD_OK;
}

static tod_status shape(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 1));
  const onnx_attr *s = onnx_attr_get(n, "start"), *e = onnx_attr_get(n, "end");
  if ((s && s->i != 0) || e) return onnx_shape_slice(c, n);
  /* MindSpore's Shape yields int32; ONNX consumers expect int64, hence the Cast. */
  int s32, out;
  TRY(onnx_tmp(c, n, "shape_i32", &s32));
  c->g->tensors[s32].dtype = IR_DT_INT32;
  TRY(onnx_emit(c, IR_OP_Shape, n->name, n->in, 1, &s32, 1, NULL));
  TRY(onnx_out(c, n, 0, &out));
  return emit_cast(c, n, "to_int64", s32, IR_DT_INT64, out);
}

static tod_status cast(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 1));
  int64_t to = onnx_attr_i(n, "to", 0);
  int dt = onnx_dtype_to_ir(to);
  if (dt == IR_DT_UNKNOWN) return onnx_unsupported(c, n, "to ONNX type %lld", (long long)to);
  int out;
  TRY(onnx_out(c, n, 0, &out));
  return emit_cast(c, n, NULL, n->in[0], dt, out);
}

static tod_status slice(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 1));
  int rank = T(c, n->in[0])->ndim;
  int64_t *st = NULL, *en = NULL, *ax = NULL, *sp = NULL;
  int nst = 0, nen = 0, nax = 0, nsp = 0, p1, p2, p3, p4;
  tod_status s = TOD_OK;
  if (c->opset < 10) {
    s = list_arg(c, n, "starts", 10, 0, &st, &nst, &p1);
    if (s == TOD_OK) s = list_arg(c, n, "ends", 10, 0, &en, &nen, &p2);
    if (s == TOD_OK) s = list_arg(c, n, "axes", 10, 0, &ax, &nax, &p3);
    p4 = 0;
  } else {
    s = list_arg(c, n, "starts", 10, 1, &st, &nst, &p1);
    if (s == TOD_OK) s = list_arg(c, n, "ends", 10, 2, &en, &nen, &p2);
    if (s == TOD_OK) s = list_arg(c, n, "axes", 10, 3, &ax, &nax, &p3);
    if (s == TOD_OK) s = list_arg(c, n, "steps", 10, 4, &sp, &nsp, &p4);
  }
  int64_t b[IR_MAX_DIMS], e[IR_MAX_DIMS], k[IR_MAX_DIMS];
  char seen[IR_MAX_DIMS] = {0};
  if (s != TOD_OK) goto out;
  if (!p1 || !p2 || nst != nen || (p3 && nax != nst) || (p4 && nsp != nst)) {
    s = onnx_bad(c, n, "has inconsistent starts/ends/axes/steps");
    goto out;
  }
  if (rank < 0) {
    /* Unknown rank: begin/end/strides up to the largest (non-negative) axis suffice, as
     * StridedSlice takes the remaining axes whole. */
    rank = 0;
    for (int i = 0; i < nst; i++) {
      int64_t a = p3 ? ax[i] : i;
      if (a < 0 || a >= IR_MAX_DIMS) {
        s = onnx_unsupported(c, n, "with axis %lld on an input of unknown rank", (long long)a);
        goto out;
      }
      if (a + 1 > rank) rank = (int)a + 1;
    }
  }
  for (int i = 0; i < rank; i++) {
    b[i] = 0;
    e[i] = INT32_MAX;
    k[i] = 1;
  }
  for (int i = 0; i < nst; i++) {
    int64_t a = p3 ? ax[i] : i;
    if (a < 0) a += rank;
    if (a < 0 || a >= rank || seen[a]) {
      s = onnx_bad(c, n, "has a bad or repeated axis");
      goto out;
    }
    seen[a] = 1;
    b[a] = st[i];
    e[a] = en[i];
    k[a] = p4 ? sp[i] : 1;
    if (k[a] == 0) {
      s = onnx_bad(c, n, "has step 0");
      goto out;
    }
  }
  int bt, et, kt, outt;
  ir_node *nd = NULL;
  s = ints_const(c, n, "begin", b, rank, &bt);
  if (s == TOD_OK) s = ints_const(c, n, "end", e, rank, &et);
  if (s == TOD_OK) s = ints_const(c, n, "strides", k, rank, &kt);
  if (s == TOD_OK) s = onnx_out(c, n, 0, &outt);
  if (s == TOD_OK) {
    int in[4] = {n->in[0], bt, et, kt};
    s = onnx_emit(c, IR_OP_StridedSlice, n->name, in, 4, &outt, 1, &nd);
  }
  static const char *masks[] = {"begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask",
                                "shrink_axis_mask"};
  for (int i = 0; s == TOD_OK && i < 5; i++) s = seti(c, nd, masks[i], 0);
out:
  free(st);
  free(en);
  free(ax);
  free(sp);
  return s;
}

static tod_status softmax(onnx_ctx *c, onnx_node *n, int op) {
  TRY(need(c, n, 1));
  int64_t axis = onnx_attr_i(n, "axis", c->opset < 13 ? 1 : -1);
  int rank = T(c, n->in[0])->ndim;
  if (c->opset < 13) {
    /* Before opset 13 the input is coerced to 2-D at `axis`: that equals a softmax over one
     * axis only when `axis` is the last one. */
    int last = axis == -1 || (rank >= 0 && (axis == rank - 1 || axis + rank == rank - 1));
    if (!last)
      return onnx_unsupported(c, n, "with axis %lld on an input of %s rank (opset %lld flattens)",
                              (long long)axis, rank < 0 ? "unknown" : "higher", (long long)c->opset);
  }
  ir_node *nd = NULL;
  TRY(simple(c, n, op, 1, &nd));
  if (op == IR_OP_Softmax) return setis(c, nd, "axis", &axis, 1);
  return seti(c, nd, "axis", axis);
}

static tod_status reduce(onnx_ctx *c, onnx_node *n, int mode) {
  TRY(need(c, n, 1));
  int64_t *ax;
  int nax, present;
  /* ReduceSum moved axes to an input in opset 13; the others only in 18. */
  int since = strcmp(n->op_type, "ReduceSum") == 0 ? 13 : 18;
  TRY(list_arg(c, n, "axes", since, 1, &ax, &nax, &present));
  tod_status st = TOD_OK;
  if (!nax && onnx_attr_i(n, "noop_with_empty_axes", 0))
    st = onnx_unsupported(c, n, "with noop_with_empty_axes and no axes");
  int at = -1, out;
  ir_node *nd = NULL;
  if (st == TOD_OK) st = ints_const(c, n, "axes", ax, nax, &at);
  free(ax);
  TRY(st);
  TRY(onnx_out(c, n, 0, &out));
  int in[2] = {n->in[0], at};
  TRY(onnx_emit(c, IR_OP_ReduceFusion, n->name, in, 2, &out, 1, &nd));
  TRY(seti(c, nd, "keep_dims", onnx_attr_i(n, "keepdims", 1) != 0));
  TRY(seti(c, nd, "mode", mode));
  TRY(seti(c, nd, "reduce_to_end", 0));
  return setf(c, nd, "coeff", 1.0);
}

static tod_status pad(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 1));
  char m[32];
  onnx_attr_s(n, "mode", m, sizeof m);
  int pm;
  if (!m[0] || strcmp(m, "constant") == 0) pm = 0;
  else if (strcmp(m, "reflect") == 0) pm = 1;
  else return onnx_unsupported(c, n, "with mode %s", m);
  int64_t *p;
  int np, present;
  TRY(list_arg(c, n, "pads", 11, 1, &p, &np, &present));
  double value = onnx_attr_f(n, "value", 0.f);
  tod_status st = TOD_OK;
  if (!present || np % 2 || np / 2 > IR_MAX_DIMS) st = onnx_bad(c, n, "has %d pads", np);
  int vt = opt_in(n, 2);
  if (st == TOD_OK && c->opset >= 11 && vt >= 0 && !onnx_const_scalar(c, vt, &value))
    st = onnx_unsupported(c, n, "with a non-constant pad value");
  int r = np / 2;
  int32_t pp[2 * IR_MAX_DIMS];
  for (int i = 0; st == TOD_OK && i < r; i++) {
    if (p[i] < 0 || p[i + r] < 0) st = onnx_unsupported(c, n, "with negative pads");
    else if (p[i] > INT32_MAX || p[i + r] > INT32_MAX) st = onnx_bad(c, n, "has huge pads");
    else {
      pp[2 * i] = (int32_t)p[i];
      pp[2 * i + 1] = (int32_t)p[i + r];
    }
  }
  free(p);
  TRY(st);
  int pt, out;
  ir_node *nd = NULL;
  TRY(onnx_const_i32(c, n, "paddings", pp, 2 * r, 1, &pt));
  int64_t pd[2] = {r, 2};
  ir_tensor_set_shape(&c->g->tensors[pt], 2, pd);
  TRY(onnx_out(c, n, 0, &out));
  int in[2] = {n->in[0], pt};
  TRY(onnx_emit(c, IR_OP_PadFusion, n->name, in, 2, &out, 1, &nd));
  TRY(seti(c, nd, "padding_mode", pm));
  return setf(c, nd, "constant_value", value);
}

static tod_status resize(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 1));
  int upsample = strcmp(n->op_type, "Upsample") == 0;
  int legacy = upsample || c->opset < 11; /* Upsample and Resize-10: asymmetric, floor */
  char mode[32], ctm[48], nm[32];
  onnx_attr_s(n, "mode", mode, sizeof mode);
  int method;
  if (!mode[0] || strcmp(mode, "nearest") == 0) method = 1;
  else if (strcmp(mode, "linear") == 0 || strcmp(mode, "bilinear") == 0) method = 0;
  else if (strcmp(mode, "cubic") == 0 && !legacy) method = 2;
  else return onnx_unsupported(c, n, "with mode %s", mode);
  int coord = 0, nearest = 3;
  if (!legacy) {
    onnx_attr_s(n, "coordinate_transformation_mode", ctm, sizeof ctm);
    /* pytorch_half_pixel differs from half_pixel only for an output extent of 1. */
    if (!ctm[0] || strcmp(ctm, "half_pixel") == 0 || strcmp(ctm, "pytorch_half_pixel") == 0) coord = 2;
    else if (strcmp(ctm, "align_corners") == 0) coord = 1;
    else if (strcmp(ctm, "asymmetric") == 0) coord = 0;
    else return onnx_unsupported(c, n, "with coordinate_transformation_mode %s", ctm);
    onnx_attr_s(n, "nearest_mode", nm, sizeof nm);
    if (!nm[0] || strcmp(nm, "round_prefer_floor") == 0) nearest = 1;
    else if (strcmp(nm, "round_prefer_ceil") == 0) nearest = 2;
    else if (strcmp(nm, "floor") == 0) nearest = 3;
    else if (strcmp(nm, "ceil") == 0) nearest = 4;
    else return onnx_unsupported(c, n, "with nearest_mode %s", nm);
  }
  int src = -1; /* the scales or sizes tensor */
  int is_sizes = 0;
  if (upsample && c->opset < 9) {
    const float *sc;
    int ns = onnx_attr_floats(n, "scales", &sc);
    if (ns < 0) return onnx_bad(c, n, "has no scales");
    TRY(onnx_const_f32(c, n, "scales", sc, ns, 1, &src));
  } else if (legacy) {
    TRY(need(c, n, 2));
    src = n->in[1];
  } else {
    int sizes = opt_in(n, 3), scales = opt_in(n, 2);
    if (sizes >= 0 && ir_tensor_numel(T(c, sizes)) != 0) {
      src = sizes;
      is_sizes = 1;
    } else {
      src = scales;
    }
    if (src < 0) return onnx_bad(c, n, "has neither scales nor sizes");
  }
  const ir_tensor *s = T(c, src);
  int64_t numel = ir_tensor_numel(s);
  if (numel >= 0 && numel != 4) return onnx_unsupported(c, n, "on a rank-%lld input (only 4-D is)", (long long)numel);
  int64_t nh = -1, nw = -1;
  if (!is_sizes && s->kind == IR_TENSOR_CONST && s->dtype == IR_DT_FLOAT32 && s->nbytes == 16) {
    float sc[4];
    memcpy(sc, s->data, 16);
    if (sc[0] != 1.f || sc[1] != 1.f) return onnx_unsupported(c, n, "scaling N or C");
  } else if (is_sizes) {
    int64_t *sz, cnt;
    int r = onnx_const_ints(c, src, &sz, &cnt);
    if (r < 0) return onnx_oom(c);
    if (r && cnt == 4) {
      nh = sz[2];
      nw = sz[3];
    }
    free(sz);
  }
  int out;
  ir_node *nd = NULL;
  TRY(onnx_out(c, n, 0, &out));
  int in[2] = {n->in[0], src};
  TRY(onnx_emit(c, IR_OP_Resize, n->name, in, 2, &out, 1, &nd));
  TRY(seti(c, nd, "format", IR_FMT_NCHW));
  TRY(seti(c, nd, "method", method));
  if (nh >= 0) TRY(seti(c, nd, "new_height", nh));
  if (nw >= 0) TRY(seti(c, nd, "new_width", nw));
  TRY(seti(c, nd, "coordinate_transform_mode", coord));
  TRY(seti(c, nd, "nearest_mode", nearest));
  TRY(setf(c, nd, "cubic_coeff", onnx_attr_f(n, "cubic_coeff_a", -0.75f)));
  TRY(seti(c, nd, "exclude_outside", onnx_attr_i(n, "exclude_outside", 0)));
  return setf(c, nd, "extrapolation_value", onnx_attr_f(n, "extrapolation_value", 0.f));
}

static tod_status constant_of_shape(onnx_ctx *c, onnx_node *n) {
  int dtype = IR_DT_FLOAT32;
  float value = 0.f;
  const onnx_attr *a = onnx_attr_get(n, "value");
  if (a && a->has_t) {
    onnx_const k;
    TRY(onnx_decode_tensor(c, &a->t_parent, &a->t, &k));
    size_t esz = ir_dtype_size(k.dtype);
    double v = 0;
    int ok = k.nbytes == esz;
    if (ok) {
      const uint8_t *p = k.data;
      switch (k.dtype) {
        case IR_DT_FLOAT32: { float x; memcpy(&x, p, 4); v = x; break; }
        case IR_DT_FLOAT64: { double x; memcpy(&x, p, 8); v = x; break; }
        case IR_DT_INT32: { int32_t x; memcpy(&x, p, 4); v = x; break; }
        case IR_DT_INT64: { int64_t x; memcpy(&x, p, 8); v = (double)x; break; }
        case IR_DT_BOOL: case IR_DT_UINT8: v = p[0]; break;
        case IR_DT_INT8: v = (int8_t)p[0]; break;
        default: ok = 0; break;
      }
    }
    dtype = k.dtype;
    onnx_const_free(&k);
    if (!ok) return onnx_unsupported(c, n, "with a %s value", ir_dtype_name(dtype));
    value = (float)v;
  }
  ir_node *nd = NULL;
  TRY(simple(c, n, IR_OP_ConstantOfShape, 1, &nd));
  TRY(seti(c, nd, "data_type", dtype));
  TRY(setfs(c, nd, "value", &value, 1));
  c->g->tensors[nd->out[0]].dtype = dtype;
  return TOD_OK;
}

static tod_status expand(onnx_ctx *c, onnx_node *n) {
  ir_node *nd = NULL;
  TRY(simple(c, n, IR_OP_BroadcastTo, 2, &nd));
  int64_t *v, cnt;
  int r = onnx_const_ints(c, n->in[1], &v, &cnt);
  if (r < 0) return onnx_oom(c);
  /* Re-fetch: onnx_const_ints adds no node, so nd is still valid. */
  tod_status st = r && cnt <= IR_MAX_DIMS ? setis(c, nd, "shape", v, (int)cnt) : TOD_OK;
  free(v);
  return st;
}

/* --- dispatch ---------------------------------------------------------------------------- */

typedef enum { K_UNARY, K_ACT, K_BINARY, K_VARIADIC, K_COMPARE, K_FN, K_POOL, K_GPOOL, K_SOFTMAX, K_REDUCE, K_SQUEEZE } kind;

typedef struct {
  const char *name;
  kind k;
  int arg; /* primitive, activation type or reduce mode */
  tod_status (*fn)(onnx_ctx *, onnx_node *);
} op_entry;

static tod_status hardsigmoid(onnx_ctx *c, onnx_node *n) {
  float alpha = onnx_attr_f(n, "alpha", 0.2f), beta = onnx_attr_f(n, "beta", 0.5f);
  /* Only the relu6(x+3)/6 form MindSpore's HSIGMOID computes. */
  if (fabsf(alpha - 1.f / 6.f) > 1e-6f || beta != 0.5f) return onnx_hardsigmoid_general(c, n);
  return activation(c, n, IR_ACT_HSIGMOID, 0, 0);
}

static tod_status leakyrelu(onnx_ctx *c, onnx_node *n) {
  return activation(c, n, IR_ACT_LEAKY_RELU, 1, onnx_attr_f(n, "alpha", 0.01f));
}

static tod_status elu(onnx_ctx *c, onnx_node *n) {
  return activation(c, n, IR_ACT_ELU, 1, onnx_attr_f(n, "alpha", 1.f));
}

static tod_status gelu(onnx_ctx *c, onnx_node *n) {
  char a[16];
  onnx_attr_s(n, "approximate", a, sizeof a);
  if (a[0] && strcmp(a, "none") && strcmp(a, "tanh")) return onnx_unsupported(c, n, "with approximate %s", a);
  ir_node *nd = NULL;
  TRY(simple(c, n, IR_OP_Activation, 1, &nd));
  TRY(seti(c, nd, "activation_type", IR_ACT_GELU));
  return seti(c, nd, "approximate", strcmp(a, "tanh") == 0);
}

static tod_status range(onnx_ctx *c, onnx_node *n) {
  ir_node *nd = NULL;
  TRY(simple(c, n, IR_OP_Range, 3, &nd));
  int dt = c->g->tensors[nd->in[0]].dtype;
  c->g->tensors[nd->out[0]].dtype = dt;
  return seti(c, nd, "d_type", dt);
}

static tod_status where(onnx_ctx *c, onnx_node *n) { return simple(c, n, IR_OP_Where, 3, NULL); }

static const op_entry ops[] = {
    {"Conv", K_FN, 0, conv},
    {"Gemm", K_FN, 0, gemm},
    {"MatMul", K_FN, 0, matmul},
    {"BatchNormalization", K_FN, 0, batchnorm},
    {"Add", K_BINARY, IR_OP_AddFusion, NULL},
    {"Sub", K_BINARY, IR_OP_SubFusion, NULL},
    {"Mul", K_BINARY, IR_OP_MulFusion, NULL},
    {"Div", K_BINARY, IR_OP_DivFusion, NULL},
    {"Pow", K_BINARY, IR_OP_PowFusion, NULL},
    {"Max", K_VARIADIC, IR_OP_Maximum, NULL},
    {"Min", K_VARIADIC, IR_OP_Minimum, NULL},
    {"Sum", K_VARIADIC, IR_OP_AddFusion, NULL},
    {"Relu", K_ACT, IR_ACT_RELU, NULL},
    {"Sigmoid", K_ACT, IR_ACT_SIGMOID, NULL},
    {"Tanh", K_ACT, IR_ACT_TANH, NULL},
    {"HardSwish", K_ACT, IR_ACT_HSWISH, NULL},
    {"Softplus", K_ACT, IR_ACT_SOFTPLUS, NULL},
    {"HardSigmoid", K_FN, 0, hardsigmoid},
    {"LeakyRelu", K_FN, 0, leakyrelu},
    {"Elu", K_FN, 0, elu},
    {"Gelu", K_FN, 0, gelu},
    {"Clip", K_FN, 0, clip},
    {"Erf", K_UNARY, IR_OP_Erf, NULL},
    {"Sqrt", K_UNARY, IR_OP_Sqrt, NULL},
    {"Exp", K_UNARY, IR_OP_ExpFusion, NULL},
    {"Log", K_UNARY, IR_OP_Log, NULL},
    {"Neg", K_UNARY, IR_OP_Neg, NULL},
    {"Abs", K_UNARY, IR_OP_Abs, NULL},
    {"Reciprocal", K_UNARY, IR_OP_Reciprocal, NULL},
    {"Floor", K_UNARY, IR_OP_Floor, NULL},
    {"Ceil", K_UNARY, IR_OP_Ceil, NULL},
    {"Sin", K_UNARY, IR_OP_Sin, NULL},
    {"Cos", K_UNARY, IR_OP_Cos, NULL},
    {"Not", K_COMPARE, IR_OP_LogicalNot, NULL},
    {"Equal", K_COMPARE, IR_OP_Equal, NULL},
    {"Less", K_COMPARE, IR_OP_Less, NULL},
    {"Greater", K_COMPARE, IR_OP_Greater, NULL},
    {"LessOrEqual", K_COMPARE, IR_OP_LessEqual, NULL},
    {"GreaterOrEqual", K_COMPARE, IR_OP_GreaterEqual, NULL},
    {"And", K_COMPARE, IR_OP_LogicalAnd, NULL},
    {"Or", K_COMPARE, IR_OP_LogicalOr, NULL},
    {"MaxPool", K_POOL, IR_OP_MaxPoolFusion, NULL},
    {"AveragePool", K_POOL, IR_OP_AvgPoolFusion, NULL},
    {"GlobalAveragePool", K_GPOOL, IR_OP_AvgPoolFusion, NULL},
    {"GlobalMaxPool", K_GPOOL, IR_OP_MaxPoolFusion, NULL},
    {"Flatten", K_FN, 0, flatten},
    {"Reshape", K_FN, 0, reshape},
    {"Transpose", K_FN, 0, transpose},
    {"Concat", K_FN, 0, concat},
    {"Split", K_FN, 0, split},
    {"Squeeze", K_SQUEEZE, IR_OP_Squeeze, NULL},
    {"Unsqueeze", K_SQUEEZE, IR_OP_Unsqueeze, NULL},
    {"Gather", K_FN, 0, gather},
    {"Shape", K_FN, 0, shape},
    {"Slice", K_FN, 0, slice},
    {"Softmax", K_SOFTMAX, IR_OP_Softmax, NULL},
    {"LogSoftmax", K_SOFTMAX, IR_OP_LogSoftmax, NULL},
    {"ReduceMean", K_REDUCE, 0, NULL},
    {"ReduceMax", K_REDUCE, 1, NULL},
    {"ReduceMin", K_REDUCE, 2, NULL},
    {"ReduceProd", K_REDUCE, 3, NULL},
    {"ReduceSum", K_REDUCE, 4, NULL},
    {"ReduceSumSquare", K_REDUCE, 5, NULL},
    {"ReduceL1", K_REDUCE, 6, NULL},
    {"ReduceL2", K_REDUCE, 8, NULL},
    {"Pad", K_FN, 0, pad},
    {"Cast", K_FN, 0, cast},
    {"Resize", K_FN, 0, resize},
    {"Upsample", K_FN, 0, resize},
    {"ConstantOfShape", K_FN, 0, constant_of_shape},
    {"Expand", K_FN, 0, expand},
    {"Range", K_FN, 0, range},
    {"Where", K_FN, 0, where},
};

tod_status onnx_translate_node(onnx_ctx *c, onnx_node *n) {
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    const op_entry *e = &ops[i];
    if (strcmp(e->name, n->op_type) != 0) continue;
    switch (e->k) {
      case K_UNARY: return unary(c, n, e->arg);
      case K_ACT: return activation(c, n, e->arg, 0, 0);
      case K_BINARY: return binary(c, n, e->arg);
      case K_VARIADIC: return variadic(c, n, e->arg);
      case K_COMPARE: return compare(c, n, e->arg, e->arg == IR_OP_LogicalNot ? 1 : 2);
      case K_POOL: return pool(c, n, e->arg);
      case K_GPOOL: return global_pool(c, n, e->arg);
      case K_SOFTMAX: return softmax(c, n, e->arg);
      case K_REDUCE: return reduce(c, n, e->arg);
      case K_SQUEEZE: return squeeze(c, n, e->arg);
      case K_FN: return e->fn(c, n);
    }
  }
  tod_status ext = onnx_translate_ext(c, n);
  if (ext != TOD_NOT_FIND_OP) return ext;
  return onnx_fail(c, TOD_NOT_SUPPORT, "%s node '%s': operator %s is not supported", n->op_type,
                   n->name, n->op_type);
}
