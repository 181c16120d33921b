/* Gradient rules, one per forward operator family, on the NHWC graph (docs/training.md fixes
 * the training primitives' inputs and semantics). Each rule reads the forward node, appends
 * gradient nodes named "Gradients/Default/<forward node>/..." and accumulates the gradient of
 * every input that needs one. Shapes of new tensors are set here (the forward shapes are known),
 * so the file carries them without a shape pass over training primitives. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/autodiff_internal.h"

#define MAXIO 64

typedef struct {
  int op, n_in, n_out;
  int in[MAXIO], out[MAXIO];
  const char *name;
} fwd;

static void load(ad_ctx *c, int i, fwd *f) {
  const ir_node *n = AD_N(c, i);
  f->op = n->op;
  f->n_in = n->n_in < MAXIO ? n->n_in : MAXIO;
  f->n_out = n->n_out < MAXIO ? n->n_out : MAXIO;
  memcpy(f->in, n->in, sizeof(int) * (size_t)f->n_in);
  memcpy(f->out, n->out, sizeof(int) * (size_t)f->n_out);
  f->name = n->name;
}

static int req(ad_ctx *c, const fwd *f, int j) { return j < f->n_in && f->in[j] >= 0 && c->req[f->in[j]]; }

static tod_status unsupported(ad_ctx *c, int i, const char *why) {
  ad_fail(c, TOD_NOT_SUPPORT, "training: no gradient for node %s (%s)%s%s", AD_N(c, i)->name,
          ir_op_name(AD_N(c, i)->op), why ? ": " : "", why ? why : "");
  return c->st;
}

static int no_activation(ad_ctx *c, int i) {
  return ir_attr_int(AD_N(c, i), "activation_type", 0) == IR_ACT_NONE;
}

/* Constant int32 vector named after the current gradient scope. */
static int ints(ad_ctx *c, const char *what, const int32_t *v, int n) {
  char name[1024];
  ad_gname(c, name, sizeof name, what);
  return ad_const_i32(c, name, v, n);
}

static int scalar(ad_ctx *c, const char *what, float v) {
  char name[1024];
  ad_gname(c, name, sizeof name, what);
  return ad_scalar_f32(c, name, v);
}

/* Reads a constant integer tensor (int32 or int64) into v; returns the count or -1. */
static int read_ints(ad_ctx *c, int t, int64_t *v, int max) {
  if (t < 0) return -1;
  const ir_tensor *x = AD_T(c, t);
  if ((x->kind != IR_TENSOR_CONST && x->kind != IR_TENSOR_PARAM) || !x->data) return -1;
  int64_t n = x->ndim == 0 ? 1 : ir_tensor_numel(x);
  if (n < 0 || n > max) return -1;
  for (int64_t k = 0; k < n; k++) {
    if (x->dtype == IR_DT_INT32) {
      int32_t a;
      memcpy(&a, (const char *)x->data + k * 4, 4);
      v[k] = a;
    } else if (x->dtype == IR_DT_INT64) {
      memcpy(&v[k], (const char *)x->data + k * 8, 8);
    } else {
      return -1;
    }
  }
  return (int)n;
}

static int read_f32_scalar(ad_ctx *c, int t, double *v) {
  if (t < 0) return 0;
  const ir_tensor *x = AD_T(c, t);
  if (x->kind != IR_TENSOR_CONST || !x->data || x->dtype != IR_DT_FLOAT32 || x->nbytes < 4) return 0;
  float f;
  memcpy(&f, x->data, 4);
  *v = f;
  return 1;
}

/* --- forward rewrites -------------------------------------------------------------------- */

static void pad_max_pool(ad_ctx *c, int i) {
  const int64_t *pad;
  int np = ir_attr_ints(AD_N(c, i), "pad", &pad);
  if (ir_attr_int(AD_N(c, i), "global", 0) || ir_attr_int(AD_N(c, i), "pad_mode", 0) != 0 || np != 4) return;
  if (!pad[0] && !pad[1] && !pad[2] && !pad[3]) return;
  if (ir_attr_int(AD_N(c, i), "round_mode", 0) != 0) {
    unsupported(c, i, "ceil_mode with explicit pads");
    return;
  }
  int32_t p[8] = {0, 0, (int32_t)pad[0], (int32_t)pad[1], (int32_t)pad[2], (int32_t)pad[3], 0, 0};
  int x = AD_N(c, i)->in[0];
  char name[1024], cn[1100];
  snprintf(name, sizeof name, "%s/pad", AD_N(c, i)->name);
  snprintf(cn, sizeof cn, "%s/paddings", name);
  int pt = ad_const_i32(c, cn, p, 8);
  if (pt < 0) return;
  int64_t pd[2] = {4, 2};
  ir_tensor_set_shape(AD_T(c, pt), 2, pd);
  ir_tensor xt = *AD_T(c, x);
  int xp = ad_tensor_like(c, name, x);
  if (xp < 0) return;
  if (xt.ndim == 4) {
    AD_T(c, xp)->dims[1] = xt.dims[1] < 0 ? -1 : xt.dims[1] + p[2] + p[3];
    AD_T(c, xp)->dims[2] = xt.dims[2] < 0 ? -1 : xt.dims[2] + p[4] + p[5];
  }
  int in[2] = {x, pt};
  int n = ad_node(c, IR_OP_PadFusion, name, in, 2, &xp, 1);
  ad_seti(c, n, "padding_mode", 0);
  ad_setf(c, n, "constant_value", -FLT_MAX);
  if (c->st) return;
  int64_t zero[4] = {0, 0, 0, 0};
  AD_N(c, i)->in[0] = xp;
  ad_setis(c, i, "pad", zero, 4);
  ad_seti(c, i, "pad_mode", 2);
}

static void bn_train_mode(ad_ctx *c, int i) {
  ir_node *n = AD_N(c, i);
  if (n->n_in < 5 || n->n_out != 1) return;
  if (!c->trainable[n->in[1]] && !c->trainable[n->in[2]]) return; /* frozen layer: inference mode */
  int scale = n->in[1], mean = n->in[3], var = n->in[4];
  char name[1024];
  static const char *what[4] = {"scale", "bias", "batch_mean", "batch_var"};
  int outs[5];
  outs[0] = n->out[0];
  for (int k = 0; k < 4; k++) {
    snprintf(name, sizeof name, "%s:%d/%s", AD_N(c, i)->name, k + 1, what[k]);
    outs[k + 1] = ad_tensor_like(c, name, scale);
    if (outs[k + 1] < 0) return;
    AD_T(c, outs[k + 1])->kind = IR_TENSOR_ACT;
    AD_T(c, outs[k + 1])->format = IR_FMT_NCHW;
  }
  n = AD_N(c, i);
  int *o = realloc(n->out, sizeof outs);
  if (!o) {
    ad_fail(c, TOD_MEMORY_FAILED, "out of memory");
    return;
  }
  memcpy(o, outs, sizeof outs);
  n->out = o;
  n->n_out = 5;
  /* PyTorch's BatchNorm momentum 0.1: running <- 0.9 running + 0.1 batch. */
  ad_setf(c, i, "momentum", 0.1);
  ad_seti(c, i, "mode", 1);
  if (AD_T(c, mean)->kind == IR_TENSOR_CONST) AD_T(c, mean)->kind = IR_TENSOR_PARAM;
  if (AD_T(c, var)->kind == IR_TENSOR_CONST) AD_T(c, var)->kind = IR_TENSOR_PARAM;
}

static void dropout_mask(ad_ctx *c, int i) {
  ir_node *n = AD_N(c, i);
  if (n->n_out != 1) return;
  char name[1024];
  snprintf(name, sizeof name, "%s:1/mask", n->name);
  int m = ad_tensor_like(c, name, n->out[0]);
  if (m < 0) return;
  n = AD_N(c, i);
  int *o = realloc(n->out, sizeof(int) * 2);
  if (!o) {
    ad_fail(c, TOD_MEMORY_FAILED, "out of memory");
    return;
  }
  o[1] = m;
  n->out = o;
  n->n_out = 2;
}

tod_status ad_rewrite_forward(ad_ctx *c) {
  int n0 = c->g->n_nodes;
  for (int i = 0; i < n0 && c->st == TOD_OK; i++) {
    const ir_node *n = AD_N(c, i);
    int x = n->n_in > 0 ? n->in[0] : -1;
    switch (n->op) {
      case IR_OP_MaxPoolFusion:
        if (x >= 0 && c->req[x]) pad_max_pool(c, i);
        break;
      case IR_OP_FusedBatchNorm: bn_train_mode(c, i); break;
      case IR_OP_Dropout:
        if (x >= 0 && c->req[x]) dropout_mask(c, i);
        break;
      default: break;
    }
  }
  return c->st;
}

/* --- rules ------------------------------------------------------------------------------- */

static const char *const CONV_ATTRS[] = {"kernel_size", "stride", "dilation", "pad_mode", "pad_list",
                                         "mode", "group", "in_channel", "out_channel"};

static void conv_attrs(ad_ctx *c, int dst, int src) {
  for (size_t k = 0; k < sizeof CONV_ATTRS / sizeof CONV_ATTRS[0]; k++) ad_copy_attr(c, dst, src, CONV_ATTRS[k]);
  ad_seti(c, dst, "format", IR_FMT_NHWC);
  ad_seti(c, dst, "activation_type", IR_ACT_NONE);
}

static tod_status conv(ad_ctx *c, int i, const fwd *f, const int *dy) {
  if (!no_activation(c, i)) return unsupported(c, i, "fused activation");
  int x = f->in[0], w = f->in[1], g = dy[0];
  if (req(c, f, 1)) {
    const ir_tensor *wt = AD_T(c, w);
    if (wt->ndim != 4) return unsupported(c, i, "weight is not 4-D");
    int32_t fs[4] = {(int32_t)wt->dims[0], (int32_t)wt->dims[1], (int32_t)wt->dims[2], (int32_t)wt->dims[3]};
    int fst = ints(c, "filter_shape", fs, 4);
    int in[3] = {g, x, fst};
    int dw = ad_op1(c, IR_OP_Conv2DBackpropFilterFusion, "Conv2DBackpropFilter", in, 3, w);
    conv_attrs(c, c->g->n_nodes - 1, i);
    ad_accum(c, w, dw);
  }
  if (req(c, f, 0)) {
    int sz = ad_shape(c, x); /* NHWC input_size read at run time: any batch size works */
    int in[3] = {g, w, sz};
    int dx = ad_op1(c, IR_OP_Conv2DBackpropInputFusion, "Conv2DBackpropInput", in, 3, x);
    int nd = c->g->n_nodes - 1;
    conv_attrs(c, nd, i);
    ad_copy_attr(c, nd, i, "pad_list");
    const int64_t *pl;
    int npl = ir_attr_ints(AD_N(c, i), "pad_list", &pl);
    if (npl > 0) ad_setis(c, nd, "pad", pl, npl);
    ad_accum(c, x, dx);
  }
  if (req(c, f, 2)) {
    int db = ad_op1(c, IR_OP_BiasAddGrad, "BiasAddGrad", &g, 1, f->in[2]);
    ad_accum(c, f->in[2], db);
  }
  return c->st;
}

static int matmul(ad_ctx *c, int a, int b, int ta, int tb, int like) {
  int in[2] = {a, b};
  int o = ad_op1(c, IR_OP_MatMulFusion, "MatMul", in, 2, like);
  int nd = c->g->n_nodes - 1;
  ad_seti(c, nd, "transpose_a", ta);
  ad_seti(c, nd, "transpose_b", tb);
  ad_seti(c, nd, "activation_type", IR_ACT_NONE);
  return c->st ? -1 : o;
}

static int reshape_const(ad_ctx *c, int x, const int64_t *dims, int r, int like_dtype_from, const char *what) {
  int32_t s[IR_MAX_DIMS];
  for (int k = 0; k < r; k++) s[k] = (int32_t)dims[k];
  int st = ints(c, "shape", s, r);
  char name[1024];
  ad_gname(c, name, sizeof name, what);
  int64_t d[IR_MAX_DIMS];
  memcpy(d, dims, sizeof(int64_t) * (size_t)r);
  int o = ad_tensor(c, name, AD_T(c, like_dtype_from)->dtype, r, d);
  int in[2] = {x, st};
  if (ad_node(c, IR_OP_Reshape, name, in, 2, &o, 1) < 0) return -1;
  return o;
}

static tod_status matmul_rule(ad_ctx *c, int i, const fwd *f, const int *dy) {
  if (!no_activation(c, i)) return unsupported(c, i, "fused activation");
  int a = f->in[0], b = f->in[1], g = dy[0];
  int ta = (int)ir_attr_int(AD_N(c, i), "transpose_a", 0), tb = (int)ir_attr_int(AD_N(c, i), "transpose_b", 0);
  int ra = AD_T(c, a)->ndim, rb = AD_T(c, b)->ndim;
  if (req(c, f, 0) || req(c, f, 1)) {
    if (ra == 2 && rb == 2) {
      if (req(c, f, 0)) ad_accum(c, a, ta ? matmul(c, b, g, tb, 1, a) : matmul(c, g, b, 0, !tb, a));
      if (req(c, f, 1)) ad_accum(c, b, tb ? matmul(c, g, a, 1, ta, b) : matmul(c, a, g, !ta, 0, b));
    } else if (rb == 2 && ra > 2 && !ta) {
      if (req(c, f, 0)) ad_accum(c, a, matmul(c, g, b, 0, !tb, a));
      if (req(c, f, 1)) {
        /* Batch dims of a weight's product fold into rows: [.., M, K] -> [-1, K]. */
        int64_t k = AD_T(c, a)->dims[ra - 1], nout = AD_T(c, g)->dims[AD_T(c, g)->ndim - 1];
        int64_t da[2] = {-1, k}, dg[2] = {-1, nout};
        int a2 = reshape_const(c, a, da, 2, a, "Reshape");
        int g2 = reshape_const(c, g, dg, 2, g, "Reshape");
        if (c->st) return c->st;
        ad_accum(c, b, tb ? matmul(c, g2, a2, 1, 0, b) : matmul(c, a2, g2, 1, 0, b));
      }
    } else {
      return unsupported(c, i, "batched matrix products with a trainable operand");
    }
  }
  if (req(c, f, 2)) ad_accum(c, f->in[2], ad_op1(c, IR_OP_BiasAddGrad, "BiasAddGrad", &g, 1, f->in[2]));
  return c->st;
}

static tod_status activation(ad_ctx *c, int i, const fwd *f, const int *dy) {
  if (!req(c, f, 0)) return TOD_OK;
  int64_t t = ir_attr_int(AD_N(c, i), "activation_type", 0);
  int use_out;
  switch (t) {
    case IR_ACT_RELU:
    case IR_ACT_RELU6:
    case IR_ACT_SIGMOID:
    case IR_ACT_TANH: use_out = 1; break;
    case IR_ACT_HSWISH:
    case IR_ACT_HSIGMOID:
    case IR_ACT_LEAKY_RELU:
    case IR_ACT_ELU:
    case IR_ACT_SWISH:
    case IR_ACT_SOFTPLUS: use_out = 0; break;
    case IR_ACT_GELU:
      if (ir_attr_int(AD_N(c, i), "approximate", 0)) return unsupported(c, i, "tanh-approximated GELU");
      use_out = 0;
      break;
    default: return unsupported(c, i, "activation type without ActivationGrad");
  }
  int in[2] = {dy[0], use_out ? f->out[0] : f->in[0]};
  int dx = ad_op1(c, IR_OP_ActivationGrad, "ActivationGrad", in, 2, f->in[0]);
  int nd = c->g->n_nodes - 1;
  ad_seti(c, nd, "activation_type", t);
  ad_setf(c, nd, "alpha", ir_attr_float(AD_N(c, i), "alpha", 0));
  ad_accum(c, f->in[0], dx);
  return c->st;
}

static tod_status elementwise(ad_ctx *c, int i, const fwd *f, const int *dy) {
  if (!no_activation(c, i)) return unsupported(c, i, "fused activation");
  int a = f->in[0], b = f->in[1], y = f->out[0], g = dy[0];
  switch (f->op) {
    case IR_OP_AddFusion:
      if (req(c, f, 0)) ad_accum(c, a, ad_unbroadcast(c, g, y, a));
      if (req(c, f, 1)) ad_accum(c, b, ad_unbroadcast(c, g, y, b));
      break;
    case IR_OP_SubFusion:
      if (req(c, f, 0)) ad_accum(c, a, ad_unbroadcast(c, g, y, a));
      if (req(c, f, 1)) ad_accum(c, b, ad_unbroadcast(c, ad_mul(c, g, scalar(c, "neg_one", -1.f), y, "Neg"), y, b));
      break;
    case IR_OP_MulFusion:
      if (req(c, f, 0)) ad_accum(c, a, ad_unbroadcast(c, ad_mul(c, g, b, y, "Mul"), y, a));
      if (req(c, f, 1)) ad_accum(c, b, ad_unbroadcast(c, ad_mul(c, g, a, y, "Mul"), y, b));
      break;
    case IR_OP_DivFusion:
      if (req(c, f, 0)) ad_accum(c, a, ad_unbroadcast(c, ad_div(c, g, b, y, "RealDiv"), y, a));
      if (req(c, f, 1)) {
        /* d(a/b)/db = -y/b */
        int t = ad_div(c, ad_mul(c, g, y, y, "Mul"), b, y, "RealDiv");
        ad_accum(c, b, ad_unbroadcast(c, ad_mul(c, t, scalar(c, "neg_one", -1.f), y, "Neg"), y, b));
      }
      break;
    default: break;
  }
  return c->st;
}

static void pool_attrs(ad_ctx *c, int nd, int i, int global, int x) {
  if (global) {
    int64_t ks[2] = {AD_T(c, x)->dims[1], AD_T(c, x)->dims[2]}, st[2] = {1, 1};
    ad_setis(c, nd, "kernel_size", ks, 2);
    ad_setis(c, nd, "strides", st, 2);
    ad_seti(c, nd, "pad_mode", 2);
  } else {
    ad_copy_attr(c, nd, i, "kernel_size");
    ad_copy_attr(c, nd, i, "strides");
    int64_t m = ir_attr_int(AD_N(c, i), "pad_mode", 0);
    ad_seti(c, nd, "pad_mode", m == 0 ? 2 : m); /* explicit pads are all zero by now */
  }
  ad_seti(c, nd, "format", IR_FMT_NHWC);
}

static int zero_pads(ad_ctx *c, int i) {
  const int64_t *p;
  int np = ir_attr_ints(AD_N(c, i), "pad", &p);
  for (int k = 0; k < np; k++)
    if (p[k]) return 0;
  return 1;
}

static tod_status pool(ad_ctx *c, int i, const fwd *f, const int *dy) {
  if (!req(c, f, 0)) return TOD_OK;
  if (!no_activation(c, i)) return unsupported(c, i, "fused activation");
  int x = f->in[0], y = f->out[0];
  int global = (int)ir_attr_int(AD_N(c, i), "global", 0);
  if (global && (AD_T(c, x)->ndim != 4 || AD_T(c, x)->dims[1] < 1 || AD_T(c, x)->dims[2] < 1))
    return unsupported(c, i, "global pooling over unknown spatial dims");
  if (!global && ir_attr_int(AD_N(c, i), "pad_mode", 0) == 0 && !zero_pads(c, i))
    return unsupported(c, i, "average pooling with explicit pads");
  if (f->op == IR_OP_AvgPoolFusion && global) {
    /* Global average: dx = dy (broadcast over H, W) / (H*W), as one broadcasting Mul. */
    int64_t h = AD_T(c, x)->dims[1], w = AD_T(c, x)->dims[2];
    int64_t d[4] = {1, h, w, 1};
    float *v = malloc(sizeof(float) * (size_t)(h * w));
    if (!v) return ad_fail(c, TOD_MEMORY_FAILED, "out of memory"), c->st;
    for (int64_t k = 0; k < h * w; k++) v[k] = (float)(1.0 / (double)(h * w));
    char name[1024];
    ad_gname(c, name, sizeof name, "inv_area");
    int k = ad_const_f32(c, name, v, 4, d);
    free(v);
    if (k >= 0) AD_T(c, k)->format = IR_FMT_NHWC;
    ad_accum(c, x, ad_mul(c, dy[0], k, x, "AvgPoolGrad"));
    return c->st;
  }
  int in[3] = {x, y, dy[0]};
  int op = f->op == IR_OP_MaxPoolFusion ? IR_OP_MaxPoolGrad : IR_OP_AvgPoolGrad;
  int dx = ad_op1(c, op, op == IR_OP_MaxPoolGrad ? "MaxPoolGrad" : "AvgPoolGrad", in, 3, x);
  pool_attrs(c, c->g->n_nodes - 1, i, global, x);
  ad_accum(c, x, dx);
  return c->st;
}

static tod_status batchnorm(ad_ctx *c, int i, const fwd *f, const int *dy) {
  int x = f->in[0], scale = f->in[1], bias = f->in[2], var = f->in[4];
  double eps = ir_attr_float(AD_N(c, i), "epsilon", 1e-5);
  if (ir_attr_int(AD_N(c, i), "mode", 0) != 0 && f->n_out >= 5) {
    char name[1024];
    ad_gname(c, name, sizeof name, "BatchNormGrad");
    int dx = ad_tensor_like(c, name, x);
    char n2[1100];
    snprintf(n2, sizeof n2, "%s:1", name);
    int ds = ad_tensor_like(c, n2, scale);
    snprintf(n2, sizeof n2, "%s:2", name);
    int dbias = ad_tensor_like(c, n2, bias);
    if (c->st) return c->st;
    AD_T(c, ds)->format = AD_T(c, dbias)->format = IR_FMT_NCHW;
    int in[5] = {dy[0], x, scale, f->out[3], f->out[4]}, out[3] = {dx, ds, dbias};
    int nd = ad_node(c, IR_OP_BatchNormGrad, name, in, 5, out, 3);
    ad_setf(c, nd, "epsilon", eps);
    ad_seti(c, nd, "is_training", 1);
    if (req(c, f, 0)) ad_accum(c, x, dx);
    if (c->trainable[scale]) ad_accum(c, scale, ds);
    if (c->trainable[bias]) ad_accum(c, bias, dbias);
    return c->st;
  }
  if (!req(c, f, 0)) return TOD_OK;
  /* Inference-mode (frozen) BatchNorm is affine with fixed statistics: dx = dy * s with
   * s = scale / sqrt(var + eps) per channel, folded here. */
  const ir_tensor *st = AD_T(c, scale), *vt = AD_T(c, var);
  int64_t ch = ir_tensor_numel(st);
  if (st->kind != IR_TENSOR_CONST || vt->kind != IR_TENSOR_CONST || !st->data || !vt->data || ch < 1 ||
      ir_tensor_numel(vt) != ch || st->dtype != IR_DT_FLOAT32 || vt->dtype != IR_DT_FLOAT32)
    return unsupported(c, i, "inference BatchNorm without constant scale/variance");
  float *s = malloc(sizeof(float) * (size_t)ch);
  if (!s) return ad_fail(c, TOD_MEMORY_FAILED, "out of memory"), c->st;
  for (int64_t k = 0; k < ch; k++) {
    float a, v;
    memcpy(&a, (const char *)st->data + k * 4, 4);
    memcpy(&v, (const char *)vt->data + k * 4, 4);
    s[k] = (float)(a / sqrt((double)v + eps));
  }
  char name[1024];
  ad_gname(c, name, sizeof name, "bn_scale");
  int k = ad_const_f32(c, name, s, 1, &ch);
  free(s);
  ad_accum(c, x, ad_mul(c, dy[0], k, x, "Mul"));
  return c->st;
}

static tod_status softmax(ad_ctx *c, int i, const fwd *f, const int *dy) {
  if (!req(c, f, 0)) return TOD_OK;
  int y = f->out[0], g = dy[0], r = AD_T(c, y)->ndim;
  int64_t a;
  const int64_t *av;
  if (f->op == IR_OP_Softmax && ir_attr_ints(AD_N(c, i), "axis", &av) == 1) a = av[0];
  else a = ir_attr_int(AD_N(c, i), "axis", -1);
  if (a < 0) a += r;
  if (a < 0 || a >= r) return unsupported(c, i, "bad axis");
  int32_t ax = (int32_t)a;
  int at = ints(c, "axis", &ax, 1);
  char name[1024];
  int64_t kd[IR_MAX_DIMS];
  for (int k = 0; k < r; k++) kd[k] = AD_T(c, y)->dims[k];
  kd[a] = 1;
  int src = f->op == IR_OP_Softmax ? ad_mul(c, g, y, y, "Mul") : g;
  ad_gname(c, name, sizeof name, "ReduceSum");
  int s = ad_tensor(c, name, IR_DT_FLOAT32, r, kd);
  int in[2] = {src, at};
  int nd = ad_node(c, IR_OP_ReduceFusion, name, in, 2, &s, 1);
  ad_seti(c, nd, "keep_dims", 1);
  ad_seti(c, nd, "mode", 4);
  ad_seti(c, nd, "reduce_to_end", 0);
  ad_setf(c, nd, "coeff", 1.0);
  int dx;
  if (f->op == IR_OP_Softmax) {
    /* dx = y * (dy - sum(dy * y)) */
    int in2[2] = {g, s};
    int d = ad_op1(c, IR_OP_SubFusion, "Sub", in2, 2, y);
    ad_seti(c, c->g->n_nodes - 1, "activation_type", IR_ACT_NONE);
    dx = ad_mul(c, d, y, y, "Mul");
  } else {
    /* LogSoftmax: dx = dy - exp(y) * sum(dy) */
    int e = ad_op1(c, IR_OP_ExpFusion, "Exp", &y, 1, y);
    int en = c->g->n_nodes - 1;
    ad_setf(c, en, "base", -1);
    ad_setf(c, en, "scale", 1);
    ad_setf(c, en, "shift", 0);
    int m = ad_mul(c, e, s, y, "Mul");
    int in2[2] = {g, m};
    dx = ad_op1(c, IR_OP_SubFusion, "Sub", in2, 2, y);
    ad_seti(c, c->g->n_nodes - 1, "activation_type", IR_ACT_NONE);
  }
  ad_accum(c, f->in[0], dx);
  return c->st;
}

static tod_status transpose(ad_ctx *c, int i, const fwd *f, const int *dy) {
  if (!req(c, f, 0)) return TOD_OK;
  int64_t p[IR_MAX_DIMS];
  int r = read_ints(c, f->n_in > 1 ? f->in[1] : -1, p, IR_MAX_DIMS);
  if (r < 1) return unsupported(c, i, "permutation is not constant");
  int32_t inv[IR_MAX_DIMS];
  for (int k = 0; k < r; k++) {
    int64_t q = p[k] < 0 ? p[k] + r : p[k];
    if (q < 0 || q >= r) return unsupported(c, i, "bad permutation");
    inv[q] = k;
  }
  int pt = ints(c, "perm", inv, r);
  int in[2] = {dy[0], pt};
  ad_accum(c, f->in[0], ad_op1(c, IR_OP_Transpose, "Transpose", in, 2, f->in[0]));
  return c->st;
}

static tod_status concat(ad_ctx *c, int i, const fwd *f, const int *dy) {
  int r = AD_T(c, f->out[0])->ndim;
  int64_t a = ir_attr_int(AD_N(c, i), "axis", 0);
  if (a < 0) a += r;
  if (a < 0 || a >= r) return unsupported(c, i, "bad axis");
  int32_t off = 0;
  for (int j = 0; j < f->n_in; j++) {
    int64_t len = AD_T(c, f->in[j])->dims[a];
    if (len < 0) return unsupported(c, i, "unknown size on the concat axis");
    if (req(c, f, j)) {
      int32_t sz = (int32_t)len;
      int bt = ints(c, "begin", &off, 1), st = ints(c, "size", &sz, 1);
      int in[3] = {dy[0], bt, st};
      int dx = ad_op1(c, IR_OP_SliceFusion, "Slice", in, 3, f->in[j]);
      ad_setis(c, c->g->n_nodes - 1, "axes", &a, 1);
      ad_accum(c, f->in[j], dx);
    }
    off += (int32_t)len;
  }
  return c->st;
}

static tod_status pad(ad_ctx *c, int i, const fwd *f, const int *dy) {
  if (!req(c, f, 0)) return TOD_OK;
  if (ir_attr_int(AD_N(c, i), "padding_mode", 0) != 0) return unsupported(c, i, "non-constant padding");
  int x = f->in[0], r = AD_T(c, x)->ndim;
  int64_t p[2 * IR_MAX_DIMS];
  if (read_ints(c, f->n_in > 1 ? f->in[1] : -1, p, 2 * IR_MAX_DIMS) != 2 * r)
    return unsupported(c, i, "paddings are not constant");
  int32_t b[IR_MAX_DIMS], s[IR_MAX_DIMS];
  int64_t axes[IR_MAX_DIMS];
  int na = 0;
  for (int k = 0; k < r; k++) {
    if (!p[2 * k] && !p[2 * k + 1]) continue;
    if (p[2 * k] < 0 || p[2 * k + 1] < 0) return unsupported(c, i, "negative pads");
    int64_t d = AD_T(c, x)->dims[k];
    if (d < 0 && p[2 * k + 1]) return unsupported(c, i, "padded axis of unknown size");
    b[na] = (int32_t)p[2 * k];
    s[na] = p[2 * k + 1] ? (int32_t)d : -1;
    axes[na++] = k;
  }
  if (na == 0) {
    ad_accum(c, x, dy[0]);
    return c->st;
  }
  int bt = ints(c, "begin", b, na), st = ints(c, "size", s, na);
  int in[3] = {dy[0], bt, st};
  int dx = ad_op1(c, IR_OP_SliceFusion, "Slice", in, 3, x);
  ad_setis(c, c->g->n_nodes - 1, "axes", axes, na);
  ad_accum(c, x, dx);
  return c->st;
}

static tod_status clip(ad_ctx *c, int i, const fwd *f, const int *dy) {
  if (!req(c, f, 0)) return TOD_OK;
  double lo = ir_attr_float(AD_N(c, i), "min", -FLT_MAX), hi = ir_attr_float(AD_N(c, i), "max", FLT_MAX);
  if (f->n_in > 1 && f->in[1] >= 0 && !read_f32_scalar(c, f->in[1], &lo)) return unsupported(c, i, "computed min");
  if (f->n_in > 2 && f->in[2] >= 0 && !read_f32_scalar(c, f->in[2], &hi)) return unsupported(c, i, "computed max");
  /* torch.clamp's gradient passes where min <= x <= max. */
  int x = f->in[0];
  int lt = scalar(c, "min", (float)lo), ht = scalar(c, "max", (float)hi);
  char name[1024];
  int m[2];
  for (int k = 0; k < 2; k++) {
    ad_gname(c, name, sizeof name, k ? "LessEqual" : "GreaterEqual");
    m[k] = ad_tensor_like(c, name, x);
    if (m[k] < 0) return c->st;
    AD_T(c, m[k])->dtype = IR_DT_BOOL;
    int in[2] = {x, k ? ht : lt};
    ad_node(c, k ? IR_OP_LessEqual : IR_OP_GreaterEqual, name, in, 2, &m[k], 1);
  }
  ad_gname(c, name, sizeof name, "LogicalAnd");
  int both = ad_tensor_like(c, name, m[0]);
  ad_node(c, IR_OP_LogicalAnd, name, m, 2, &both, 1);
  ad_gname(c, name, sizeof name, "Cast");
  char tn[1100];
  snprintf(tn, sizeof tn, "%s/to", name);
  int to = ad_const_i32(c, tn, (const int32_t[]){IR_DT_FLOAT32}, 1);
  if (to >= 0) ir_tensor_set_shape(AD_T(c, to), 0, NULL);
  int mf = ad_tensor_like(c, name, x);
  int cin[2] = {both, to};
  ad_node(c, IR_OP_Cast, name, cin, 2, &mf, 1);
  ad_accum(c, x, ad_mul(c, dy[0], mf, x, "Mul"));
  return c->st;
}

static tod_status reduce(ad_ctx *c, int i, const fwd *f, const int *dy) {
  if (!req(c, f, 0)) return TOD_OK;
  int64_t mode = ir_attr_int(AD_N(c, i), "mode", 0);
  if ((mode != 0 && mode != 4) || ir_attr_int(AD_N(c, i), "reduce_to_end", 0))
    return unsupported(c, i, "only ReduceMean and ReduceSum have gradients");
  int x = f->in[0], r = AD_T(c, x)->ndim;
  int64_t ax[IR_MAX_DIMS];
  int na = f->n_in > 1 && f->in[1] >= 0 ? read_ints(c, f->in[1], ax, IR_MAX_DIMS) : 0;
  if (na < 0) return unsupported(c, i, "axes are not constant");
  int mask[IR_MAX_DIMS] = {0};
  for (int k = 0; k < r; k++) mask[k] = na == 0;
  for (int k = 0; k < na; k++) mask[ax[k] < 0 ? ax[k] + r : ax[k]] = 1;
  int64_t kd[IR_MAX_DIMS], cd[IR_MAX_DIMS], count = 1;
  for (int k = 0; k < r; k++) {
    int64_t d = AD_T(c, x)->dims[k];
    if (mask[k] && (d < 0 || (k == 0 && c->dynamic_batch)))
      return unsupported(c, i, "reduction over an axis of unknown size");
    kd[k] = mask[k] ? 1 : (k == 0 && c->dynamic_batch ? -1 : d);
    cd[k] = mask[k] ? d : 1;
    if (mask[k]) count *= d;
  }
  int g = dy[0];
  if (!ir_attr_int(AD_N(c, i), "keep_dims", 0)) g = reshape_const(c, g, kd, r, g, "Reshape");
  int64_t n = 1;
  for (int k = 0; k < r; k++) n *= cd[k];
  float *v = malloc(sizeof(float) * (size_t)(n ? n : 1));
  if (!v) return ad_fail(c, TOD_MEMORY_FAILED, "out of memory"), c->st;
  for (int64_t k = 0; k < n; k++) v[k] = mode == 0 ? (float)(1.0 / (double)count) : 1.0f;
  char name[1024];
  ad_gname(c, name, sizeof name, "broadcast");
  int kt = ad_const_f32(c, name, v, r, cd);
  free(v);
  ad_accum(c, x, ad_mul(c, g, kt, x, "Mul"));
  return c->st;
}

tod_status ad_backward_node(ad_ctx *c, int i, const int *dy) {
  fwd f;
  load(c, i, &f);
  switch (f.op) {
    case IR_OP_Conv2DFusion: return conv(c, i, &f, dy);
    case IR_OP_MatMulFusion: return matmul_rule(c, i, &f, dy);
    case IR_OP_Activation: return activation(c, i, &f, dy);
    case IR_OP_AddFusion:
    case IR_OP_SubFusion:
    case IR_OP_MulFusion:
    case IR_OP_DivFusion: return elementwise(c, i, &f, dy);
    case IR_OP_MaxPoolFusion:
    case IR_OP_AvgPoolFusion: return pool(c, i, &f, dy);
    case IR_OP_FusedBatchNorm: return batchnorm(c, i, &f, dy);
    case IR_OP_Softmax:
    case IR_OP_LogSoftmax: return softmax(c, i, &f, dy);
    case IR_OP_Reshape:
    case IR_OP_Flatten:
    case IR_OP_Squeeze:
    case IR_OP_Unsqueeze:
    case IR_OP_ExpandDims:
      if (req(c, &f, 0)) ad_accum(c, f.in[0], ad_reshape_like(c, dy[0], f.in[0], "Reshape"));
      return c->st;
    case IR_OP_Transpose: return transpose(c, i, &f, dy);
    case IR_OP_Concat: return concat(c, i, &f, dy);
    case IR_OP_PadFusion: return pad(c, i, &f, dy);
    case IR_OP_Clip: return clip(c, i, &f, dy);
    case IR_OP_ReduceFusion: return reduce(c, i, &f, dy);
    case IR_OP_Dropout:
      if (!req(c, &f, 0)) return TOD_OK;
      if (f.n_out < 2) return unsupported(c, i, "no mask output");
      {
        int in[2] = {dy[0], f.out[1]};
        int dx = ad_op1(c, IR_OP_DropoutGrad, "DropoutGrad", in, 2, f.in[0]);
        ad_copy_attr(c, c->g->n_nodes - 1, i, "keep_prob");
        ad_accum(c, f.in[0], dx);
      }
      return c->st;
    default: return unsupported(c, i, NULL);
  }
}
