/* ONNX operator translation, second part (operator coverage for ONNX's backend test suite):
 * activations with parameters, ArgMax/ArgMin, Size, GatherElements, LayerNormalization, Trilu,
 * Xor, Mod, Mean, PRelu, NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (decomposed into
 * primitives), legacy (opset < 7) forms. Same contract as onnx_ops.c: docs/ops.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/onnx_internal.h"

static tod_status need(onnx_ctx *c, const onnx_node *n, int k) {
  if (n->n_in < k) return onnx_bad(c, n, "has %d inputs, needs %d", n->n_in, k);
  for (int i = 0; i < k; i++)
    if (n->in[i] < 0) return onnx_bad(c, n, "lacks input %d", i);
  return TOD_OK;
}
static int opt_in(const onnx_node *n, int i) { return i < n->n_in ? n->in[i] : -1; }
static int has_out(const onnx_node *n, int k) { return k < n->n_out && n->out_names[k].n; }

/* Emits a node: named after the ONNX node when suffix is NULL, else "<node>/<suffix>". */
static tod_status emit(onnx_ctx *c, const onnx_node *n, const char *suffix, int op, const int *in,
                       int n_in, const int *out, int n_out, ir_node **nd) {
  if (!suffix) return onnx_emit(c, op, n->name, in, n_in, out, n_out, nd);
  size_t len = strlen(n->name) + strlen(suffix) + 2;
  char *nm = malloc(len);
  if (!nm) return onnx_oom(c);
  snprintf(nm, len, "%s/%s", n->name, suffix);
  tod_status st = onnx_emit(c, op, nm, in, n_in, out, n_out, nd);
  free(nm);
  return st;
}

/* Output tensor: the ONNX output 0 when suffix is NULL, else a temporary "<node>/<suffix>". */
static tod_status dst(onnx_ctx *c, const onnx_node *n, const char *suffix, int *t) {
  return suffix ? onnx_tmp(c, n, suffix, t) : onnx_out(c, n, 0, t);
}

/* One-input / two-input steps producing a temporary (suffix) or the node's output (NULL). */
static tod_status step(onnx_ctx *c, const onnx_node *n, const char *suffix, int op, const int *in,
                       int n_in, int *out, ir_node **nd) {
  TRY(dst(c, n, suffix, out));
  return emit(c, n, suffix, op, in, n_in, out, 1, nd);
}

static tod_status binop(onnx_ctx *c, const onnx_node *n, const char *suffix, int op, int a, int b,
                        int *out) {
  int in[2] = {a, b};
  ir_node *nd = NULL;
  TRY(step(c, n, suffix, op, in, 2, out, &nd));
  if (op == IR_OP_AddFusion || op == IR_OP_SubFusion || op == IR_OP_MulFusion || op == IR_OP_DivFusion)
    TRY(seti(c, nd, "activation_type", IR_ACT_NONE));
  return TOD_OK;
}

static tod_status act(onnx_ctx *c, const onnx_node *n, const char *suffix, int x, int type,
                      double alpha, int *out) {
  ir_node *nd = NULL;
  TRY(step(c, n, suffix, IR_OP_Activation, &x, 1, out, &nd));
  TRY(seti(c, nd, "activation_type", type));
  return setf(c, nd, "alpha", alpha);
}

/* A scalar constant of the same float dtype as tensor like (float32 or float64 / float16 via
 * a float32 constant and Cast are not needed: callers only use float32 graphs). */
static tod_status scalar_f(onnx_ctx *c, const onnx_node *n, const char *suffix, double v, int *t) {
  float f = (float)v;
  return onnx_const_f32(c, n, suffix, &f, 1, 0, t);
}

static tod_status scalar_i(onnx_ctx *c, const onnx_node *n, const char *suffix, int64_t v, int dtype,
                           int *t) {
  int32_t i = (int32_t)v;
  TRY(onnx_const_i32(c, n, suffix, &i, 1, 0, t));
  if (dtype == IR_DT_INT64) {
    ir_tensor *tt = &c->g->tensors[*t];
    int64_t w = v;
    if (ir_tensor_set_data_copy(tt, &w, 8) != TOD_OK) return onnx_oom(c);
    tt->dtype = IR_DT_INT64;
  }
  return TOD_OK;
}

static int dtype_of(onnx_ctx *c, int t) { return c->g->tensors[t].dtype; }

static tod_status need_f32(onnx_ctx *c, const onnx_node *n, int t) {
  if (dtype_of(c, t) != IR_DT_FLOAT32)
    return onnx_unsupported(c, n, "on %s tensors (only float32 is)", ir_dtype_name(dtype_of(c, t)));
  return TOD_OK;
}

/* --- activations with parameters ---------------------------------------------------------- */

static tod_status selu(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 1));
  TRY(need_f32(c, n, n->in[0]));
  double alpha = onnx_attr_f(n, "alpha", 1.67326319217681884765625f);
  double gamma = onnx_attr_f(n, "gamma", 1.05070102214813232421875f);
  int e, g, out;
  /* selu(x) = gamma * elu_alpha(x). */
  TRY(act(c, n, "elu", n->in[0], IR_ACT_ELU, alpha, &e));
  TRY(scalar_f(c, n, "gamma", gamma, &g));
  return binop(c, n, NULL, IR_OP_MulFusion, e, g, &out);
}

static tod_status celu(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 1));
  TRY(need_f32(c, n, n->in[0]));
  double alpha = onnx_attr_f(n, "alpha", 1.f);
  if (alpha == 0) return onnx_bad(c, n, "has alpha 0");
  int ia, a, s, e, out;
  /* celu(x) = alpha * elu_1(x / alpha). */
  TRY(scalar_f(c, n, "inv_alpha", 1.0 / alpha, &ia));
  TRY(scalar_f(c, n, "alpha", alpha, &a));
  TRY(binop(c, n, "scaled", IR_OP_MulFusion, n->in[0], ia, &s));
  TRY(act(c, n, "elu", s, IR_ACT_ELU, 1.0, &e));
  return binop(c, n, NULL, IR_OP_MulFusion, e, a, &out);
}

static tod_status softsign(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 1));
  TRY(need_f32(c, n, n->in[0]));
  int out;
  return act(c, n, NULL, n->in[0], IR_ACT_SOFTSIGN, 0, &out);
}

static tod_status thresholded_relu(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 1));
  TRY(need_f32(c, n, n->in[0]));
  int out;
  return act(c, n, NULL, n->in[0], IR_ACT_THRESHOLDRELU, onnx_attr_f(n, "alpha", 1.f), &out);
}

static tod_status sign(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 1));
  TRY(need_f32(c, n, n->in[0]));
  int out;
  return act(c, n, NULL, n->in[0], IR_ACT_SIGN, 0, &out);
}

/* HardSigmoid in general: clip(alpha*x + beta, 0, 1). */
static tod_status hardsigmoid_general(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 1));
  TRY(need_f32(c, n, n->in[0]));
  double alpha = onnx_attr_f(n, "alpha", 0.2f), beta = onnx_attr_f(n, "beta", 0.5f);
  int a, b, m, s, out;
  ir_node *nd = NULL;
  TRY(scalar_f(c, n, "alpha", alpha, &a));
  TRY(scalar_f(c, n, "beta", beta, &b));
  TRY(binop(c, n, "mul", IR_OP_MulFusion, n->in[0], a, &m));
  TRY(binop(c, n, "add", IR_OP_AddFusion, m, b, &s));
  TRY(step(c, n, NULL, IR_OP_Clip, &s, 1, &out, &nd));
  TRY(setf(c, nd, "min", 0.0));
  return setf(c, nd, "max", 1.0);
}

/* PRelu: relu(x) + slope * min(x, 0), slope broadcast to x (numpy rules; before opset 7 a
 * 1-D slope of x's channel count is per channel). */
static tod_status prelu(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 2));
  TRY(need_f32(c, n, n->in[0]));
  int x = n->in[0], slope = n->in[1];
  const ir_tensor *xt = &c->g->tensors[x], *st = &c->g->tensors[slope];
  if (c->opset < 7 && st->ndim == 1 && xt->ndim >= 3 && st->dims[0] == xt->dims[1] && st->dims[0] != 1) {
    int64_t ax[IR_MAX_DIMS];
    int k = xt->ndim - 2;
    for (int i = 0; i < k; i++) ax[i] = 1 + i;
    int u;
    ir_node *nd = NULL;
    TRY(step(c, n, "slope_per_channel", IR_OP_Unsqueeze, &slope, 1, &u, &nd));
    TRY(setis(c, nd, "axis", ax, k));
    slope = u;
  }
  int r, zero, mn, prod, out;
  TRY(act(c, n, "relu", x, IR_ACT_RELU, 0, &r));
  TRY(scalar_f(c, n, "zero", 0.0, &zero));
  TRY(binop(c, n, "neg_part", IR_OP_Minimum, x, zero, &mn));
  TRY(binop(c, n, "scaled", IR_OP_MulFusion, mn, slope, &prod));
  return binop(c, n, NULL, IR_OP_AddFusion, r, prod, &out);
}

/* Mean of any number of inputs: a chain of AddFusion, then one division. */
static tod_status mean(onnx_ctx *c, onnx_node *n) {
  if (n->n_in < 1) return onnx_bad(c, n, "has no inputs");
  TRY(need(c, n, n->n_in));
  TRY(need_f32(c, n, n->in[0]));
  if (n->n_in == 1) return onnx_name_put(c, n->out_names[0], n->in[0]);
  int acc = n->in[0];
  for (int i = 1; i < n->n_in; i++) {
    char sfx[32];
    snprintf(sfx, sizeof sfx, "sum%d", i);
    TRY(binop(c, n, sfx, IR_OP_AddFusion, acc, n->in[i], &acc));
  }
  int k, out;
  TRY(scalar_f(c, n, "count", (double)n->n_in, &k));
  return binop(c, n, NULL, IR_OP_DivFusion, acc, k, &out);
}

/* --- comparisons, arithmetic -------------------------------------------------------------- */

static tod_status xor_op(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 2));
  int out;
  /* On booleans, xor is inequality. */
  TRY(binop(c, n, NULL, IR_OP_NotEqual, n->in[0], n->in[1], &out));
  c->g->tensors[out].dtype = IR_DT_BOOL;
  return TOD_OK;
}

static tod_status mod(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 2));
  int fm = (int)onnx_attr_i(n, "fmod", 0);
  int dt = dtype_of(c, n->in[0]);
  int fl = dt == IR_DT_FLOAT32 || dt == IR_DT_FLOAT64 || dt == IR_DT_FLOAT16;
  if (fl && !fm) return onnx_bad(c, n, "has fmod=0 on floating-point inputs");
  /* tod's Mod kernel computes the floored remainder like FloorMod (docs/ops.md). */
  if (fm) return onnx_unsupported(c, n, "with fmod=1 (truncated remainder)");
  int out;
  /* fmod=0: the remainder has the divisor's sign = FloorMod. */
  return binop(c, n, NULL, IR_OP_FloorMod, n->in[0], n->in[1], &out);
}

/* --- reductions to an index, sizes -------------------------------------------------------- */

static tod_status argminmax(onnx_ctx *c, onnx_node *n, int op) {
  TRY(need(c, n, 1));
  int last = onnx_attr_i(n, "select_last_index", 0) != 0;
  int64_t axis = onnx_attr_i(n, "axis", 0), dim = -1;
  int x = n->in[0];
  if (last) {
    /* The last extreme index is dim-1 minus the first one in the reversed input. */
    const ir_tensor *xt = &c->g->tensors[x];
    int a = (int)(axis < 0 ? axis + xt->ndim : axis);
    if (xt->ndim < 0 || a < 0 || a >= xt->ndim || xt->dims[a] < 0)
      return onnx_unsupported(c, n, "with select_last_index=1 on an input of unknown shape");
    dim = xt->dims[a];
    int64_t av = a;
    int rv;
    ir_node *rn = NULL;
    TRY(step(c, n, "reversed", IR_OP_ReverseV2, &x, 1, &rv, &rn));
    TRY(setis(c, rn, "axis", &av, 1));
    c->g->tensors[rv].dtype = xt->dtype;
    x = rv;
  }
  int i32, out;
  ir_node *nd = NULL;
  TRY(onnx_tmp(c, n, "index_i32", &i32));
  c->g->tensors[i32].dtype = IR_DT_INT32;
  TRY(onnx_emit(c, op, n->name, &x, 1, &i32, 1, &nd));
  TRY(seti(c, nd, "axis", axis));
  TRY(seti(c, nd, "top_k", 1));
  TRY(seti(c, nd, "keep_dims", onnx_attr_i(n, "keepdims", 1) != 0));
  TRY(seti(c, nd, "out_max_value", 0));
  int32_t to = IR_DT_INT64;
  int tt, i64;
  TRY(onnx_const_i32(c, n, "to", &to, 1, 0, &tt));
  int in[2] = {i32, tt};
  if (!last) {
    TRY(dst(c, n, NULL, &out));
    TRY(emit(c, n, "to_int64", IR_OP_Cast, in, 2, &out, 1, NULL));
    c->g->tensors[out].dtype = IR_DT_INT64;
    return TOD_OK;
  }
  TRY(step(c, n, "to_int64", IR_OP_Cast, in, 2, &i64, NULL));
  c->g->tensors[i64].dtype = IR_DT_INT64;
  int top;
  TRY(scalar_i(c, n, "last", dim - 1, IR_DT_INT64, &top));
  TRY(binop(c, n, NULL, IR_OP_SubFusion, top, i64, &out));
  c->g->tensors[out].dtype = IR_DT_INT64;
  return TOD_OK;
}

static tod_status argmax(onnx_ctx *c, onnx_node *n) { return argminmax(c, n, IR_OP_ArgMaxFusion); }
static tod_status argmin(onnx_ctx *c, onnx_node *n) { return argminmax(c, n, IR_OP_ArgMinFusion); }

static tod_status size(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 1));
  int s32, out;
  TRY(onnx_tmp(c, n, "size_i32", &s32));
  c->g->tensors[s32].dtype = IR_DT_INT32;
  TRY(onnx_emit(c, IR_OP_Size, n->name, n->in, 1, &s32, 1, NULL));
  TRY(dst(c, n, NULL, &out));
  int32_t to = IR_DT_INT64;
  int tt;
  TRY(onnx_const_i32(c, n, "to", &to, 1, 0, &tt));
  int in[2] = {s32, tt};
  TRY(emit(c, n, "to_int64", IR_OP_Cast, in, 2, &out, 1, NULL));
  c->g->tensors[out].dtype = IR_DT_INT64;
  return TOD_OK;
}

/* GatherElements(x, indices, axis) -> GatherD(x, dim, indices). */
static tod_status gather_d(onnx_ctx *c, const onnx_node *n, const char *suffix, int x, int idx,
                           int64_t axis, int *out) {
  int at;
  int32_t a = (int32_t)axis;
  TRY(onnx_const_i32(c, n, suffix ? "gather_dim" : "dim", &a, 1, 0, &at));
  int in[3] = {x, at, idx};
  TRY(step(c, n, suffix, IR_OP_GatherD, in, 3, out, NULL));
  c->g->tensors[*out].dtype = dtype_of(c, x);
  return TOD_OK;
}

static tod_status gather_elements(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 2));
  int out;
  return gather_d(c, n, NULL, n->in[0], n->in[1], onnx_attr_i(n, "axis", 0), &out);
}

static tod_status layernorm(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 2));
  if (onnx_attr_i(n, "stash_type", 1) != 1) return onnx_unsupported(c, n, "with stash_type != 1");
  int64_t axis = onnx_attr_i(n, "axis", -1);
  int r = c->g->tensors[n->in[0]].ndim;
  if (axis < 0) {
    if (r < 0) return onnx_unsupported(c, n, "with a negative axis on an input of unknown rank");
    axis += r;
  }
  int in[3] = {n->in[0], n->in[1], opt_in(n, 2)};
  int outs[3], n_out = has_out(n, 1) || has_out(n, 2) ? 3 : 1;
  double eps = onnx_attr_f(n, "epsilon", 1e-5f);
  ir_node *nd = NULL;
  if (in[2] < 0) {
    /* LayerNormFusion's affine form takes gamma and beta: beta = 0 of gamma's shape. */
    int zero, b;
    TRY(scalar_f(c, n, "zero", 0.0, &zero));
    TRY(binop(c, n, "beta", IR_OP_MulFusion, n->in[1], zero, &b));
    in[2] = b;
  }
  TRY(onnx_out(c, n, 0, &outs[0]));
  if (n_out == 3) {
    if (has_out(n, 1)) TRY(onnx_out(c, n, 1, &outs[1]));
    else TRY(onnx_tmp(c, n, "mean", &outs[1]));
    TRY(onnx_tmp(c, n, "variance", &outs[2]));
  }
  TRY(onnx_emit(c, IR_OP_LayerNormFusion, n->name, in, 3, outs, n_out, &nd));
  TRY(seti(c, nd, "begin_norm_axis", axis));
  TRY(seti(c, nd, "begin_params_axis", axis));
  TRY(setf(c, nd, "epsilon", eps));
  TRY(seti(c, nd, "elementwise_affine", 1));
  if (n_out == 3 && has_out(n, 2)) {
    /* MindSpore's third output is the variance; ONNX wants 1 / sqrt(variance + epsilon). */
    int e, ve, inv;
    TRY(scalar_f(c, n, "epsilon", eps, &e));
    TRY(binop(c, n, "var_eps", IR_OP_AddFusion, outs[2], e, &ve));
    TRY(onnx_out(c, n, 2, &inv));
    TRY(emit(c, n, "rsqrt", IR_OP_Rsqrt, &ve, 1, &inv, 1, NULL));
  }
  return TOD_OK;
}

static tod_status trilu(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 1));
  int upper = (int)onnx_attr_i(n, "upper", 1);
  int in[2] = {n->in[0], opt_in(n, 1)};
  int out;
  TRY(onnx_out(c, n, 0, &out));
  return onnx_emit(c, upper ? IR_OP_Triu : IR_OP_Tril, n->name, in, in[1] >= 0 ? 2 : 1, &out, 1, NULL);
}

/* --- losses, decomposed --------------------------------------------------------------------- */

static int reduction_of(const onnx_node *n) {
  char r[16];
  onnx_attr_s(n, "reduction", r, sizeof r);
  if (!r[0] || strcmp(r, "mean") == 0) return 0;
  if (strcmp(r, "sum") == 0) return 1;
  if (strcmp(r, "none") == 0) return 2;
  return -1;
}

/* ReduceFusion over all axes (keep_dims 0). */
static tod_status reduce_all(onnx_ctx *c, const onnx_node *n, const char *suffix, int x, int mode,
                             int *out) {
  int at;
  int32_t none = 0;
  TRY(onnx_const_i32(c, n, suffix ? suffix : "axes", &none, 0, 1, &at));
  int in[2] = {x, at};
  ir_node *nd = NULL;
  TRY(step(c, n, suffix, IR_OP_ReduceFusion, in, 2, out, &nd));
  TRY(seti(c, nd, "keep_dims", 0));
  TRY(seti(c, nd, "mode", mode));
  TRY(seti(c, nd, "reduce_to_end", 0));
  return setf(c, nd, "coeff", 1.0);
}

/* loss = -logp[n, t[n,...], ...] * w[t] (0 where t == ignore_index), reduced. logp [N,C,...]
 * float32, target [N,...] int32/int64, weight [C] or -1. The result goes to output 0. */
static tod_status nll(onnx_ctx *c, const onnx_node *n, int logp, int target, int weight) {
  int red = reduction_of(n);
  if (red < 0) return onnx_bad(c, n, "has an unknown reduction");
  TRY(need_f32(c, n, logp));
  int tdt = dtype_of(c, target);
  if (tdt != IR_DT_INT64 && tdt != IR_DT_INT32) return onnx_unsupported(c, n, "with %s targets", ir_dtype_name(tdt));
  const onnx_attr *iia = onnx_attr_get(n, "ignore_index");
  int tgt = target, w = -1;
  if (iia) {
    int iic, eq, zero, keep, wm;
    TRY(scalar_i(c, n, "ignore_index", iia->i, tdt, &iic));
    TRY(binop(c, n, "ignored", IR_OP_Equal, target, iic, &eq));
    c->g->tensors[eq].dtype = IR_DT_BOOL;
    TRY(scalar_i(c, n, "zero_index", 0, tdt, &zero));
    int win[3] = {eq, zero, target};
    TRY(step(c, n, "safe_target", IR_OP_Where, win, 3, &tgt, NULL));
    c->g->tensors[tgt].dtype = tdt;
    float f0 = 0.f, f1 = 1.f;
    int c0, c1;
    TRY(onnx_const_f32(c, n, "w_zero", &f0, 1, 0, &c0));
    TRY(onnx_const_f32(c, n, "w_one", &f1, 1, 0, &c1));
    int win2[3] = {eq, c0, c1};
    TRY(step(c, n, "keep", IR_OP_Where, win2, 3, &keep, NULL));
    w = keep;
    if (weight >= 0) {
      int gw;
      int32_t z = 0;
      int at;
      TRY(onnx_const_i32(c, n, "weight_axis", &z, 1, 0, &at));
      int gin[3] = {weight, tgt, at};
      TRY(step(c, n, "class_weight", IR_OP_Gather, gin, 3, &gw, NULL));
      TRY(binop(c, n, "weight", IR_OP_MulFusion, gw, keep, &wm));
      w = wm;
    }
  } else if (weight >= 0) {
    int32_t z = 0;
    int at;
    TRY(onnx_const_i32(c, n, "weight_axis", &z, 1, 0, &at));
    int gin[3] = {weight, tgt, at};
    TRY(step(c, n, "class_weight", IR_OP_Gather, gin, 3, &w, NULL));
  }
  /* picked = GatherD(logp, 1, unsqueeze(target, 1)), squeezed back. */
  int64_t one = 1;
  int u, g, sq, negl;
  ir_node *nd = NULL;
  TRY(step(c, n, "target_1", IR_OP_Unsqueeze, &tgt, 1, &u, &nd));
  TRY(setis(c, nd, "axis", &one, 1));
  c->g->tensors[u].dtype = tdt;
  TRY(gather_d(c, n, "picked", logp, u, 1, &g));
  TRY(step(c, n, "picked_sq", IR_OP_Squeeze, &g, 1, &sq, &nd));
  TRY(setis(c, nd, "axis", &one, 1));
  int loss_src = sq;
  if (w >= 0) TRY(binop(c, n, "weighted", IR_OP_MulFusion, sq, w, &loss_src));
  int out;
  if (red == 2) {
    TRY(dst(c, n, NULL, &out));
    return emit(c, n, "neg", IR_OP_Neg, &loss_src, 1, &out, 1, NULL);
  }
  TRY(step(c, n, "neg", IR_OP_Neg, &loss_src, 1, &negl, NULL));
  if (red == 1) return reduce_all(c, n, NULL, negl, 4, &out);
  if (w < 0) return reduce_all(c, n, NULL, negl, 0, &out);
  int sl, sw;
  TRY(reduce_all(c, n, "loss_sum", negl, 4, &sl));
  TRY(reduce_all(c, n, "weight_sum", w, 4, &sw));
  return binop(c, n, NULL, IR_OP_DivFusion, sl, sw, &out);
}

static tod_status nllloss(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 2));
  return nll(c, n, n->in[0], n->in[1], opt_in(n, 2));
}

static tod_status sce(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 2));
  TRY(need_f32(c, n, n->in[0]));
  int logp;
  ir_node *nd = NULL;
  if (has_out(n, 1)) {
    TRY(onnx_out(c, n, 1, &logp));
    TRY(emit(c, n, "log_softmax", IR_OP_LogSoftmax, &n->in[0], 1, &logp, 1, &nd));
  } else {
    TRY(step(c, n, "log_softmax", IR_OP_LogSoftmax, &n->in[0], 1, &logp, &nd));
  }
  TRY(seti(c, nd, "axis", 1));
  return nll(c, n, logp, n->in[1], opt_in(n, 2));
}

/* --- more reductions, shape slices, simple mappings ---------------------------------------- */

/* ReduceLogSum = Log(ReduceSum), ReduceLogSumExp = Log(ReduceSum(Exp)); axes as attribute
 * (before opset 18) or constant input. */
static tod_status reduce_log(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 1));
  TRY(need_f32(c, n, n->in[0]));
  int lse = strcmp(n->op_type, "ReduceLogSumExp") == 0;
  int64_t *ax = NULL, cnt = 0;
  if (c->opset < 18) {
    const int64_t *a;
    int k = onnx_attr_ints(n, "axes", &a);
    if (k > 0) {
      ax = malloc(sizeof(int64_t) * (size_t)k);
      if (!ax) return onnx_oom(c);
      memcpy(ax, a, sizeof(int64_t) * (size_t)k);
      cnt = k;
    }
  } else if (opt_in(n, 1) >= 0) {
    int r = onnx_const_ints(c, n->in[1], &ax, &cnt);
    if (r < 0) return onnx_oom(c);
    if (r == 0) return onnx_unsupported(c, n, "with a non-constant axes input");
  }
  if (!cnt && onnx_attr_i(n, "noop_with_empty_axes", 0)) {
    free(ax);
    return onnx_unsupported(c, n, "with noop_with_empty_axes and no axes");
  }
  int32_t a32[IR_MAX_DIMS];
  tod_status st = cnt > IR_MAX_DIMS ? onnx_bad(c, n, "has %lld axes", (long long)cnt) : TOD_OK;
  for (int64_t i = 0; st == TOD_OK && i < cnt; i++) a32[i] = (int32_t)ax[i];
  free(ax);
  TRY(st);
  int at, x = n->in[0], sum, out;
  TRY(onnx_const_i32(c, n, "axes", a32, (int)cnt, 1, &at));
  if (lse) {
    ir_node *en = NULL;
    TRY(step(c, n, "exp", IR_OP_ExpFusion, &x, 1, &x, &en));
    TRY(setf(c, en, "base", -1.0));
    TRY(setf(c, en, "scale", 1.0));
    TRY(setf(c, en, "shift", 0.0));
  }
  int in[2] = {x, at};
  ir_node *nd = NULL;
  TRY(step(c, n, "sum", IR_OP_ReduceFusion, in, 2, &sum, &nd));
  TRY(seti(c, nd, "keep_dims", onnx_attr_i(n, "keepdims", 1) != 0));
  TRY(seti(c, nd, "mode", 4));
  TRY(seti(c, nd, "reduce_to_end", 0));
  TRY(setf(c, nd, "coeff", 1.0));
  return step(c, n, NULL, IR_OP_Log, &sum, 1, &out, NULL);
}

/* Shape with start/end: Shape, then a StridedSlice of the int32 shape, then Cast to int64. */
tod_status onnx_shape_slice(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 1));
  const onnx_attr *e = onnx_attr_get(n, "end");
  int32_t b = (int32_t)onnx_attr_i(n, "start", 0), en = e ? (int32_t)e->i : INT32_MAX, one = 1;
  int s32, sl, bt, et, kt, out;
  TRY(onnx_tmp(c, n, "shape_i32", &s32));
  c->g->tensors[s32].dtype = IR_DT_INT32;
  TRY(onnx_emit(c, IR_OP_Shape, n->name, n->in, 1, &s32, 1, NULL));
  TRY(onnx_const_i32(c, n, "begin", &b, 1, 1, &bt));
  TRY(onnx_const_i32(c, n, "end", &en, 1, 1, &et));
  TRY(onnx_const_i32(c, n, "strides", &one, 1, 1, &kt));
  int in[4] = {s32, bt, et, kt};
  ir_node *nd = NULL;
  TRY(step(c, n, "slice", IR_OP_StridedSlice, in, 4, &sl, &nd));
  c->g->tensors[sl].dtype = IR_DT_INT32;
  static const char *masks[] = {"begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask"};
  for (int i = 0; i < 5; i++) TRY(seti(c, nd, masks[i], 0));
  int32_t to = IR_DT_INT64;
  int tt;
  TRY(onnx_const_i32(c, n, "to", &to, 1, 0, &tt));
  int cin[2] = {sl, tt};
  TRY(dst(c, n, NULL, &out));
  TRY(emit(c, n, "to_int64", IR_OP_Cast, cin, 2, &out, 1, NULL));
  c->g->tensors[out].dtype = IR_DT_INT64;
  return TOD_OK;
}

static tod_status round_op(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 1));
  TRY(need_f32(c, n, n->in[0]));
  int out;
  return step(c, n, NULL, IR_OP_Round, n->in, 1, &out, NULL);
}

static tod_status tile(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 2));
  if (c->opset < 6) return onnx_unsupported(c, n, "before opset 6 (tiles/axis inputs)");
  int out;
  ir_node *nd = NULL;
  return step(c, n, NULL, IR_OP_TileFusion, n->in, 2, &out, &nd);
}

static tod_status cumsum(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 2));
  int out;
  ir_node *nd = NULL;
  TRY(step(c, n, NULL, IR_OP_CumSum, n->in, 2, &out, &nd));
  TRY(seti(c, nd, "exclusive", onnx_attr_i(n, "exclusive", 0) != 0));
  return seti(c, nd, "reverse", onnx_attr_i(n, "reverse", 0) != 0);
}

/* --- dispatch ------------------------------------------------------------------------------ */

typedef struct {
  const char *name;
  tod_status (*fn)(onnx_ctx *, onnx_node *);
} ext_entry;

static const ext_entry ext_ops[] = {
    {"Selu", selu},
    {"Celu", celu},
    {"Softsign", softsign},
    {"ThresholdedRelu", thresholded_relu},
    {"Sign", sign},
    {"PRelu", prelu},
    {"Mean", mean},
    {"Xor", xor_op},
    {"Mod", mod},
    {"ArgMax", argmax},
    {"ArgMin", argmin},
    {"Size", size},
    {"GatherElements", gather_elements},
    {"LayerNormalization", layernorm},
    {"Trilu", trilu},
    {"NegativeLogLikelihoodLoss", nllloss},
    {"SoftmaxCrossEntropyLoss", sce},
    {"ReduceLogSum", reduce_log},
    {"ReduceLogSumExp", reduce_log},
    {"Round", round_op},
    {"Tile", tile},
    {"CumSum", cumsum},
};

tod_status onnx_translate_ext(onnx_ctx *c, onnx_node *n) {
  for (size_t i = 0; i < sizeof ext_ops / sizeof ext_ops[0]; i++)
    if (strcmp(ext_ops[i].name, n->op_type) == 0) return ext_ops[i].fn(c, n);
  return TOD_NOT_FIND_OP;
}

tod_status onnx_hardsigmoid_general(onnx_ctx *c, onnx_node *n) { return hardsigmoid_general(c, n); }

/* Before opset 7, binary operators broadcast B only with broadcast=1, aligned to A starting at
 * `axis` (default: trailing, which is numpy's rule). A non-trailing axis becomes trailing
 * size-1 dims on B, so numpy broadcasting then computes the same. Rewrites n->in[1]. */
tod_status onnx_legacy_broadcast(onnx_ctx *c, onnx_node *n) {
  if (strcmp(n->op_type, "Pow") == 0 && n->n_in >= 2 && n->in[0] >= 0 && n->in[1] >= 0 &&
      dtype_of(c, n->in[0]) != dtype_of(c, n->in[1])) {
    /* Pow's exponent may have another numeric type than the base: cast it to the base's. */
    int dt = dtype_of(c, n->in[0]), e;
    int32_t to = dt;
    int tt;
    TRY(onnx_const_i32(c, n, "exponent_to", &to, 1, 0, &tt));
    int in[2] = {n->in[1], tt};
    TRY(step(c, n, "exponent_cast", IR_OP_Cast, in, 2, &e, NULL));
    c->g->tensors[e].dtype = dt;
    n->in[1] = e;
  }
  if (c->opset >= 7 || n->n_in < 2 || n->in[0] < 0 || n->in[1] < 0) return TOD_OK;
  if (!onnx_attr_i(n, "broadcast", 0) || !onnx_attr_get(n, "axis")) return TOD_OK;
  int ra = c->g->tensors[n->in[0]].ndim, rb = c->g->tensors[n->in[1]].ndim;
  int64_t axis = onnx_attr_i(n, "axis", 0);
  if (ra < 0 || rb < 0) return onnx_unsupported(c, n, "with legacy broadcast on tensors of unknown rank");
  if (axis < 0) axis += ra;
  int extra = ra - (int)axis - rb;
  if (axis < 0 || extra < 0) return onnx_bad(c, n, "has broadcast axis %lld out of range", (long long)axis);
  if (extra == 0) return TOD_OK;
  int64_t ax[IR_MAX_DIMS];
  if (rb + extra > IR_MAX_DIMS) return onnx_unsupported(c, n, "of rank > %d", IR_MAX_DIMS);
  for (int i = 0; i < extra; i++) ax[i] = rb + i;
  int u;
  ir_node *nd = NULL;
  TRY(step(c, n, "legacy_broadcast", IR_OP_Unsqueeze, &n->in[1], 1, &u, &nd));
  TRY(setis(c, nd, "axis", ax, extra));
  c->g->tensors[u].dtype = c->g->tensors[n->in[1]].dtype;
  n->in[1] = u;
  return TOD_OK;
}

/* 1-D Conv / MaxPool / AveragePool and BatchNormalization on rank-2/3 inputs run as their 2-D
 * forms: x [N,C,L] becomes [N,C,1,L] ([N,C] becomes [N,C,1,1]), a 1-D weight [O,I,k] becomes
 * [O,I,1,k], spatial attributes get a leading 1 (pads a leading 0 pair), and the result is
 * squeezed back. fn is the 2-D translator; it must emit the node producing output 0 last. */
tod_status onnx_as_2d(onnx_ctx *c, onnx_node *n, tod_status (*fn)(onnx_ctx *, onnx_node *)) {
  TRY(need(c, n, 1));
  int r = c->g->tensors[n->in[0]].ndim;
  int is_bn = strcmp(n->op_type, "BatchNormalization") == 0;
  if (r != 3 && !(is_bn && r == 2)) return onnx_unsupported(c, n, "on a rank-%d input", r);
  if (n->n_out < 1 || !n->out_names[0].n || n->n_in > 8) return onnx_bad(c, n, "has no output");
  int64_t axes[2] = {2, 3};
  int n_axes = 4 - r, xu;
  ir_node *nd = NULL;
  TRY(step(c, n, "to_2d", IR_OP_Unsqueeze, &n->in[0], 1, &xu, &nd));
  TRY(setis(c, nd, "axis", axes, n_axes));
  c->g->tensors[xu].dtype = dtype_of(c, n->in[0]);
  onnx_node m = *n;
  int in[8];
  memcpy(in, n->in, sizeof(int) * (size_t)n->n_in);
  in[0] = xu;
  m.in = in;
  if (!is_bn && n->n_in >= 2 && n->in[1] >= 0) {
    const ir_tensor *w = &c->g->tensors[n->in[1]];
    if (w->kind != IR_TENSOR_CONST || w->dtype != IR_DT_FLOAT32 || w->ndim != 3 ||
        (size_t)ir_tensor_numel(w) * 4 != w->nbytes)
      return onnx_unsupported(c, n, "(1-D) with a weight that is not a 3-D float32 constant");
    int64_t d4[4] = {w->dims[0], w->dims[1], 1, w->dims[2]};
    int wt;
    TRY(onnx_const_f32(c, n, "weight_2d", w->data, (int)ir_tensor_numel(w), 1, &wt));
    ir_tensor_set_shape(&c->g->tensors[wt], 4, d4);
    in[1] = wt;
  }
  onnx_attr attrs[32];
  int64_t vals[32][4];
  if (n->n_attrs > 32) return onnx_unsupported(c, n, "with %d attributes", n->n_attrs);
  memcpy(attrs, n->attrs, sizeof(onnx_attr) * (size_t)n->n_attrs);
  for (int i = 0; i < n->n_attrs && !is_bn; i++) {
    onnx_attr *a = &attrs[i];
    int pads = onnx_span_eq(a->name, "pads");
    if (!pads && !onnx_span_eq(a->name, "kernel_shape") && !onnx_span_eq(a->name, "strides") &&
        !onnx_span_eq(a->name, "dilations"))
      continue;
    if (a->n_ints != (pads ? 2 : 1)) return onnx_bad(c, n, "has a 1-D attribute of the wrong size");
    if (pads) {
      vals[i][0] = 0, vals[i][1] = a->ints[0], vals[i][2] = 0, vals[i][3] = a->ints[1];
    } else {
      vals[i][0] = 1, vals[i][1] = a->ints[0];
    }
    a->ints = vals[i];
    a->n_ints = pads ? 4 : 2;
  }
  m.attrs = attrs;
  TRY(fn(c, &m));
  int t = onnx_name_get(c, n->out_names[0]);
  ir_graph *g = c->g;
  if (t < 0 || g->n_nodes < 1 || g->nodes[g->n_nodes - 1].out[0] != t)
    return onnx_fail(c, TOD_ERROR, "%s node '%s': 2-D form did not produce its output", n->op_type, n->name);
  int y2;
  TRY(onnx_tmp(c, n, "y_2d", &y2));
  g->tensors[y2].dtype = g->tensors[t].dtype;
  g->nodes[g->n_nodes - 1].out[0] = y2;
  TRY(emit(c, n, "from_2d", IR_OP_Squeeze, &y2, 1, &t, 1, &nd));
  return setis(c, nd, "axis", axes, n_axes);
}
