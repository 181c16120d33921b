/* ONNX operator translation, third part: operators added for ONNX backend-test coverage after
 * onnx_ops_ext.c, and ONNX operators without a MindSpore Lite primitive, stored as Custom nodes
 * (type = the ONNX operator name, attributes as a trailing float64 constant; src/ir/custom_ops.h).
 * Same contract as onnx_ops.c: docs/ops.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/onnx_internal.h"
#include "ir/custom_ops.h"

static tod_status need(onnx_ctx *c, const onnx_node *n, int k) {
  if (n->n_in < k) return onnx_bad(c, n, "has %d inputs, needs %d", n->n_in, k);
  for (int i = 0; i < k; i++)
    if (n->in[i] < 0) return onnx_bad(c, n, "lacks input %d", i);
  return TOD_OK;
}
static int dtype_of(onnx_ctx *c, int t) { return c->g->tensors[t].dtype; }

/* A float64 1-D constant "<node>/<suffix>". */
static tod_status const_f64(onnx_ctx *c, const onnx_node *n, const char *suffix, const double *v,
                            int count, int *idx) {
  onnx_const k;
  memset(&k, 0, sizeof k);
  k.dtype = IR_DT_FLOAT64;
  k.ndim = 1;
  k.dims[0] = count;
  k.nbytes = sizeof(double) * (size_t)count;
  k.owned = malloc(k.nbytes ? k.nbytes : 1);
  if (!k.owned) return onnx_oom(c);
  if (count) memcpy(k.owned, v, k.nbytes);
  k.data = k.owned;
  char name[600];
  snprintf(name, sizeof name, "%s/%s", n->name, suffix);
  return onnx_add_const(c, name, &k, idx);
}

/* A Custom node of the given type on the node's first n_data inputs, with attrs. */
static tod_status custom(onnx_ctx *c, onnx_node *n, int type, const double *attrs, int n_attrs,
                         int out_dtype) {
  int nd = custom_ops[type].n_data;
  TRY(need(c, n, nd));
  if (n->n_out < 1) return onnx_bad(c, n, "has no output");
  int in[4], out;
  for (int i = 0; i < nd; i++) in[i] = n->in[i];
  if (n_attrs) TRY(const_f64(c, n, "attrs", attrs, n_attrs, &in[nd]));
  TRY(onnx_out(c, n, 0, &out));
  ir_node *node = NULL;
  TRY(onnx_emit(c, IR_OP_Custom, n->name, in, nd + (n_attrs ? 1 : 0), &out, 1, &node));
  if (ir_attr_set_string(node, "type", custom_ops[type].name) != TOD_OK) return onnx_oom(c);
  c->g->tensors[out].dtype = out_dtype ? out_dtype : dtype_of(c, n->in[0]);
  return TOD_OK;
}

static int is_float(int dt) { return dt == IR_DT_FLOAT32 || dt == IR_DT_FLOAT64 || dt == IR_DT_FLOAT16; }

static tod_status custom_unary(onnx_ctx *c, onnx_node *n) {
  int type = custom_type_of(n->op_type);
  TRY(need(c, n, 1));
  if (!is_float(dtype_of(c, n->in[0])))
    return onnx_unsupported(c, n, "on %s tensors", ir_dtype_name(dtype_of(c, n->in[0])));
  if (type == CUSTOM_IsNaN) return custom(c, n, type, NULL, 0, IR_DT_BOOL);
  if (type == CUSTOM_IsInf) {
    double a[2] = {(double)onnx_attr_i(n, "detect_positive", 1), (double)onnx_attr_i(n, "detect_negative", 1)};
    return custom(c, n, type, a, 2, IR_DT_BOOL);
  }
  if (type == CUSTOM_Shrink) {
    double a[2] = {onnx_attr_f(n, "bias", 0.f), onnx_attr_f(n, "lambd", 0.5f)};
    return custom(c, n, type, a, 2, 0);
  }
  return custom(c, n, type, NULL, 0, 0);
}

static tod_status shrink(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 1));
  double a[2] = {onnx_attr_f(n, "bias", 0.f), onnx_attr_f(n, "lambd", 0.5f)};
  return custom(c, n, CUSTOM_Shrink, a, 2, 0);
}

static tod_status bitshift(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 2));
  double left = onnx_attr_s_is(n, "direction", "LEFT", 0);
  if (!left && !onnx_attr_s_is(n, "direction", "RIGHT", 0)) return onnx_bad(c, n, "has no direction LEFT/RIGHT");
  return custom(c, n, CUSTOM_BitShift, &left, 1, 0);
}

static tod_status eyelike(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 1));
  int dt = dtype_of(c, n->in[0]);
  const onnx_attr *d = onnx_attr_get(n, "dtype");
  if (d) {
    dt = onnx_dtype_to_ir(d->i);
    if (dt == IR_DT_UNKNOWN) return onnx_unsupported(c, n, "with dtype %lld", (long long)d->i);
  }
  double a[2] = {(double)onnx_attr_i(n, "k", 0), (double)dt};
  return custom(c, n, CUSTOM_EyeLike, a, 2, dt);
}

/* Mod where FloorMod's kernel does not apply: fmod=1 (truncated), or integer widths other than
 * int32/int64. */
static tod_status mod(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 2));
  double fm = (double)onnx_attr_i(n, "fmod", 0);
  int dt = dtype_of(c, n->in[0]);
  if (fm == 0 && (dt == IR_DT_INT32 || dt == IR_DT_INT64 || is_float(dt))) return TOD_NOT_FIND_OP;
  return custom(c, n, CUSTOM_Mod, &fm, 1, 0);
}

static tod_status hardmax(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 1));
  double a[2] = {(double)onnx_attr_i(n, "axis", c->opset < 13 ? 1 : -1), c->opset < 13};
  return custom(c, n, CUSTOM_Hardmax, a, 2, 0);
}

/* "<node>/<suffix>" node of op on in, output a new temporary (or *out when >= 0). */
static tod_status sub(onnx_ctx *c, const onnx_node *n, const char *suffix, int op, const int *in,
                      int n_in, int *out, ir_node **nd) {
  char name[600];
  snprintf(name, sizeof name, "%s/%s", n->name, suffix);
  if (*out < 0) TRY(onnx_tmp(c, n, suffix, out));
  return onnx_emit(c, op, name, in, n_in, out, 1, nd);
}

/* An INTS attribute of exactly k values (dflt each when absent). */
static tod_status ints_k(onnx_ctx *c, const onnx_node *n, const char *key, int k, int64_t dflt, int64_t *out) {
  const int64_t *v;
  int cnt = onnx_attr_ints(n, key, &v);
  for (int i = 0; i < k; i++) out[i] = cnt < 0 ? dflt : 0;
  if (cnt < 0) return TOD_OK;
  if (cnt != k) return onnx_bad(c, n, "has %d %s for %d spatial dims", cnt, key, k / (strcmp(key, "pads") ? 1 : 2));
  memcpy(out, v, sizeof(int64_t) * (size_t)k);
  return TOD_OK;
}

/* ConvTranspose (1-D and 2-D) -> Conv2dTransposeFusion with explicit pads (output_shape and
 * auto_pad resolved here from the input's known spatial size). 1-D runs as [N,C,1,L]. */
static tod_status conv_transpose(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 2));
  const ir_tensor *xt = &c->g->tensors[n->in[0]], *wt = &c->g->tensors[n->in[1]];
  int r = xt->ndim;
  if (r != 3 && r != 4) return onnx_unsupported(c, n, "on a rank-%d input (only 1-D and 2-D are)", r);
  if (wt->ndim != r) return onnx_unsupported(c, n, "with a weight of rank %d", wt->ndim);
  if (dtype_of(c, n->in[0]) != IR_DT_FLOAT32) return onnx_unsupported(c, n, "on %s tensors", ir_dtype_name(dtype_of(c, n->in[0])));
  int nk = r - 2;
  int64_t ks[2], st[2], dl[2], pads[4], op[2], os[2], in_sz[2];
  TRY(ints_k(c, n, "kernel_shape", nk, 0, ks));
  if (!onnx_attr_get(n, "kernel_shape")) for (int i = 0; i < nk; i++) ks[i] = wt->dims[2 + i];
  TRY(ints_k(c, n, "strides", nk, 1, st));
  TRY(ints_k(c, n, "dilations", nk, 1, dl));
  TRY(ints_k(c, n, "pads", 2 * nk, 0, pads));
  TRY(ints_k(c, n, "output_padding", nk, 0, op));
  TRY(ints_k(c, n, "output_shape", nk, -1, os));
  int64_t group = onnx_attr_i(n, "group", 1);
  if (group < 1) return onnx_bad(c, n, "has group %lld", (long long)group);
  char ap[32];
  onnx_attr_s(n, "auto_pad", ap, sizeof ap);
  int same = strcmp(ap, "SAME_UPPER") == 0 ? 1 : strcmp(ap, "SAME_LOWER") == 0 ? 2 : 0;
  int has_os = onnx_attr_get(n, "output_shape") != NULL;
  if (ap[0] && !same && strcmp(ap, "NOTSET") && strcmp(ap, "VALID")) return onnx_unsupported(c, n, "with auto_pad %s", ap);
  for (int i = 0; i < nk; i++) {
    in_sz[i] = xt->dims[2 + i];
    if (!has_os && !same) continue;
    if (in_sz[i] < 0) return onnx_unsupported(c, n, "with output_shape/auto_pad on an input of unknown size");
    int64_t target = has_os ? os[i] : in_sz[i] * st[i];
    int64_t total = st[i] * (in_sz[i] - 1) + op[i] + (ks[i] - 1) * dl[i] + 1 - target;
    if (total < 0) { /* a larger output_shape: the extra rows/columns are output padding */
      op[i] -= total;
      total = 0;
    }
    int upper = same == 1;
    pads[i] = upper ? total / 2 : total - total / 2;
    pads[nk + i] = total - pads[i];
  }
  /* 2-D attributes: [t,b,l,r] pads (ONNX is [begins..., ends...]). */
  int64_t k2[2] = {1, 1}, s2[2] = {1, 1}, d2[2] = {1, 1}, o2[2] = {0, 0}, p4[4] = {0, 0, 0, 0};
  for (int i = 0; i < nk; i++) {
    int j = i + 2 - nk;
    k2[j] = ks[i], s2[j] = st[i], d2[j] = dl[i], o2[j] = op[i];
    p4[2 * j] = pads[i], p4[2 * j + 1] = pads[nk + i];
  }
  int x = n->in[0], w = n->in[1];
  if (nk == 1) {
    int64_t ax = 2;
    ir_node *nd = NULL;
    int xu = -1, wu = -1;
    TRY(sub(c, n, "x_2d", IR_OP_Unsqueeze, &x, 1, &xu, &nd));
    TRY(setis(c, nd, "axis", &ax, 1));
    c->g->tensors[xu].dtype = IR_DT_FLOAT32;
    int64_t d4[4] = {xt->dims[0], xt->dims[1], 1, xt->dims[2]};
    ir_tensor_set_shape(&c->g->tensors[xu], 4, d4);
    wt = &c->g->tensors[w];
    if (wt->kind == IR_TENSOR_CONST && wt->data) {
      int64_t w4[4] = {wt->dims[0], wt->dims[1], 1, wt->dims[2]};
      TRY(onnx_const_f32(c, n, "w_2d", wt->data, (int)ir_tensor_numel(wt), 1, &wu));
      ir_tensor_set_shape(&c->g->tensors[wu], 4, w4);
    } else {
      TRY(sub(c, n, "w_2d", IR_OP_Unsqueeze, &w, 1, &wu, &nd));
      TRY(setis(c, nd, "axis", &ax, 1));
      c->g->tensors[wu].dtype = IR_DT_FLOAT32;
      int64_t w4[4] = {wt->dims[0], wt->dims[1], 1, wt->dims[2]};
      ir_tensor_set_shape(&c->g->tensors[wu], 4, w4);
    }
    x = xu, w = wu;
  }
  int in[3] = {x, w, n->n_in > 2 ? n->in[2] : -1}, out = -1, y;
  TRY(onnx_out(c, n, 0, &y));
  if (nk == 2) out = y;
  ir_node *nd = NULL;
  TRY(sub(c, n, "deconv", IR_OP_Conv2dTransposeFusion, in, in[2] >= 0 ? 3 : 2, &out, &nd));
  c->g->tensors[out].dtype = IR_DT_FLOAT32;
  TRY(seti(c, nd, "format", IR_FMT_NCHW));
  TRY(setis(c, nd, "kernel_size", k2, 2));
  TRY(setis(c, nd, "stride", s2, 2));
  TRY(setis(c, nd, "dilation", d2, 2));
  TRY(seti(c, nd, "pad_mode", 0));
  TRY(setis(c, nd, "pad_list", p4, 4));
  TRY(setis(c, nd, "output_paddings", o2, 2));
  TRY(seti(c, nd, "group", group));
  TRY(seti(c, nd, "activation_type", 0));
  if (nk == 2) return TOD_OK;
  int64_t ax = 2;
  TRY(sub(c, n, "from_2d", IR_OP_Squeeze, &out, 1, &y, &nd));
  return setis(c, nd, "axis", &ax, 1);
}

static tod_status emit_cast(onnx_ctx *c, const onnx_node *n, const char *suffix, int x, int dt, int *out) {
  int32_t to = dt;
  int in[2] = {x, -1};
  char tn[80];
  snprintf(tn, sizeof tn, "%s_to", suffix);
  TRY(onnx_const_i32(c, n, tn, &to, 1, 0, &in[1]));
  TRY(sub(c, n, suffix, IR_OP_Cast, in, 2, out, NULL));
  c->g->tensors[*out].dtype = dt;
  return TOD_OK;
}

/* float64 operators tod computes in float32 (within the backend's rtol 1e-3): Cast the float64
 * inputs down, translate as usual, Cast output 0 back. */
static tod_status via_f32(onnx_ctx *c, onnx_node *n) {
  int any = 0;
  for (int i = 0; i < n->n_in; i++) any |= n->in[i] >= 0 && dtype_of(c, n->in[i]) == IR_DT_FLOAT64;
  if (!any || n->n_out != 1 || n->n_in > 8) return TOD_NOT_FIND_OP;
  onnx_node m = *n;
  int in[8];
  for (int i = 0; i < n->n_in; i++) {
    in[i] = n->in[i];
    if (in[i] < 0 || dtype_of(c, in[i]) != IR_DT_FLOAT64) continue;
    char sfx[32];
    snprintf(sfx, sizeof sfx, "in%d_f32", i);
    in[i] = -1;
    TRY(emit_cast(c, n, sfx, n->in[i], IR_DT_FLOAT32, &in[i]));
  }
  m.in = in;
  tod_status st = onnx_translate_ext(c, &m);
  if (st == TOD_NOT_FIND_OP) st = onnx_translate_node(c, &m);
  TRY(st);
  int t = onnx_name_get(c, n->out_names[0]);
  ir_graph *g = c->g;
  if (t < 0 || g->n_nodes < 1 || g->nodes[g->n_nodes - 1].out[0] != t)
    return onnx_fail(c, TOD_ERROR, "%s node '%s': float32 form did not produce its output", n->op_type, n->name);
  int y32;
  TRY(onnx_tmp(c, n, "y_f32", &y32));
  g->tensors[y32].dtype = IR_DT_FLOAT32;
  g->nodes[g->n_nodes - 1].out[0] = y32;
  return emit_cast(c, n, "to_f64", y32, IR_DT_FLOAT64, &t);
}

static tod_status castlike(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 2));
  int out;
  TRY(onnx_out(c, n, 0, &out));
  return emit_cast(c, n, "cast", n->in[0], dtype_of(c, n->in[1]), &out);
}

/* Gemm with alpha/beta and non-constant B/C: Gemm(alpha=1, beta=1) on alpha*A and beta*C. */
static tod_status gemm_scaled(onnx_ctx *c, onnx_node *n) {
  float alpha = onnx_attr_f(n, "alpha", 1.f), beta = onnx_attr_f(n, "beta", 1.f);
  if (n->n_in < 2 || n->n_in > 3 || n->in[0] < 0 || n->in[1] < 0) return TOD_NOT_FIND_OP;
  /* onnx_ops.c folds alpha into a constant B and beta into a constant C itself. */
  int dyn_b = alpha != 1.f && c->g->tensors[n->in[1]].kind != IR_TENSOR_CONST;
  int has_c = n->n_in > 2 && n->in[2] >= 0;
  int dyn_c = has_c && beta != 1.f && c->g->tensors[n->in[2]].kind != IR_TENSOR_CONST;
  /* beta 0 ignores C; a one-element C broadcasts (MatMulFusion's bias needs N values). */
  int drop_c = has_c && beta == 0.f;
  int one_c = has_c && !drop_c && ir_tensor_numel(&c->g->tensors[n->in[2]]) == 1;
  if ((!dyn_b && !dyn_c && !drop_c && !one_c) || dtype_of(c, n->in[0]) != IR_DT_FLOAT32) return TOD_NOT_FIND_OP;
  onnx_node m = *n;
  int in[3] = {n->in[0], n->in[1], n->n_in > 2 ? n->in[2] : -1};
  float scale[2] = {alpha, beta};
  for (int i = 0; i < 2; i++) {
    int j = i ? 2 : 0;
    if (scale[i] == 1.f || in[j] < 0 || (i && drop_c)) continue;
    int k, out = -1, bin[2];
    TRY(onnx_const_f32(c, n, i ? "beta" : "alpha", &scale[i], 1, 0, &k));
    bin[0] = in[j], bin[1] = k;
    ir_node *nd = NULL;
    TRY(sub(c, n, i ? "beta_c" : "alpha_a", IR_OP_MulFusion, bin, 2, &out, &nd));
    TRY(seti(c, nd, "activation_type", 0));
    c->g->tensors[out].dtype = IR_DT_FLOAT32;
    in[j] = out;
  }
  onnx_attr attrs[16];
  if (n->n_attrs > 16) return TOD_NOT_FIND_OP;
  memcpy(attrs, n->attrs, sizeof(onnx_attr) * (size_t)n->n_attrs);
  for (int i = 0; i < n->n_attrs; i++)
    if (onnx_span_eq(attrs[i].name, "alpha") || onnx_span_eq(attrs[i].name, "beta")) attrs[i].f = 1.f;
  m.attrs = attrs;
  m.in = in;
  if (drop_c) m.n_in = 2;
  if (!one_c) return onnx_translate_node(c, &m);
  /* Gemm without C, then AddFusion of the (scaled) one-element C. */
  m.n_in = 2;
  TRY(onnx_translate_node(c, &m));
  int t = onnx_name_get(c, n->out_names[0]);
  ir_graph *g = c->g;
  if (t < 0 || g->n_nodes < 1 || g->nodes[g->n_nodes - 1].out[0] != t)
    return onnx_fail(c, TOD_ERROR, "Gemm node '%s': product did not produce its output", n->name);
  int prod = -1;
  TRY(onnx_tmp(c, n, "product", &prod));
  g->tensors[prod].dtype = IR_DT_FLOAT32;
  g->nodes[g->n_nodes - 1].out[0] = prod;
  int ain[2] = {prod, in[2]};
  ir_node *nd = NULL;
  TRY(sub(c, n, "add_c", IR_OP_AddFusion, ain, 2, &t, &nd));
  return seti(c, nd, "activation_type", 0);
}

/* Clip on dtypes the Clip kernel lacks, or with min absent and max present: Maximum/Minimum. */
static tod_status clip_minmax(onnx_ctx *c, onnx_node *n) {
  if (c->opset < 11 || n->n_in < 2 || n->in[0] < 0) return TOD_NOT_FIND_OP;
  int lo = n->in[1], hi = n->n_in > 2 ? n->in[2] : -1;
  if ((lo < 0 && hi < 0) || (dtype_of(c, n->in[0]) == IR_DT_FLOAT32 && !(lo < 0 && hi >= 0))) return TOD_NOT_FIND_OP;
  int x = n->in[0], y;
  TRY(onnx_out(c, n, 0, &y));
  int dt = dtype_of(c, x);
  if (lo >= 0) {
    int out = hi >= 0 ? -1 : y, in[2] = {x, lo};
    TRY(sub(c, n, "min", IR_OP_Maximum, in, 2, &out, NULL));
    c->g->tensors[out].dtype = dt;
    x = out;
  }
  if (hi >= 0) {
    int in[2] = {x, hi};
    TRY(sub(c, n, "max", IR_OP_Minimum, in, 2, &y, NULL));
  }
  return TOD_OK;
}

static tod_status reshape_to(onnx_ctx *c, const onnx_node *n, const char *suffix, int x, const int64_t *d,
                             int r, int *out) {
  int32_t v[IR_MAX_DIMS];
  for (int i = 0; i < r; i++) v[i] = (int32_t)d[i];
  char sn[64];
  snprintf(sn, sizeof sn, "%s_shape", suffix);
  int in[2] = {x, -1};
  TRY(onnx_const_i32(c, n, sn, v, r, 1, &in[1]));
  TRY(sub(c, n, suffix, IR_OP_Reshape, in, 2, out, NULL));
  c->g->tensors[*out].dtype = dtype_of(c, x);
  return TOD_OK;
}

/* DepthToSpace / SpaceToDepth on a 4-D input of known shape: Reshape to 6-D, Transpose,
 * Reshape back (ONNX's own definition). */
static tod_status depth_space(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 1));
  const ir_tensor *xt = &c->g->tensors[n->in[0]];
  int64_t bs = onnx_attr_i(n, "blocksize", 0);
  if (xt->ndim != 4) return onnx_unsupported(c, n, "on an input of rank %d", xt->ndim);
  for (int i = 0; i < 4; i++)
    if (xt->dims[i] < 0) return onnx_unsupported(c, n, "on an input of unknown shape");
  int64_t N = xt->dims[0], C = xt->dims[1], H = xt->dims[2], W = xt->dims[3];
  int d2s = strcmp(n->op_type, "DepthToSpace") == 0;
  int crd = d2s && onnx_attr_s_is(n, "mode", "CRD", 0);
  if (bs < 1 || (d2s && C % (bs * bs)) || (!d2s && (H % bs || W % bs))) return onnx_bad(c, n, "has blocksize %lld for its input", (long long)bs);
  int64_t d6[6], fin[4];
  int64_t perm[6];
  if (d2s && !crd) {
    int64_t a[6] = {N, bs, bs, C / (bs * bs), H, W}, p[6] = {0, 3, 4, 1, 5, 2};
    memcpy(d6, a, sizeof a), memcpy(perm, p, sizeof p);
  } else if (d2s) {
    int64_t a[6] = {N, C / (bs * bs), bs, bs, H, W}, p[6] = {0, 1, 4, 2, 5, 3};
    memcpy(d6, a, sizeof a), memcpy(perm, p, sizeof p);
  } else {
    int64_t a[6] = {N, C, H / bs, bs, W / bs, bs}, p[6] = {0, 3, 5, 1, 2, 4};
    memcpy(d6, a, sizeof a), memcpy(perm, p, sizeof p);
  }
  if (d2s) fin[0] = N, fin[1] = C / (bs * bs), fin[2] = H * bs, fin[3] = W * bs;
  else fin[0] = N, fin[1] = C * bs * bs, fin[2] = H / bs, fin[3] = W / bs;
  int r6 = -1, t6 = -1, y;
  TRY(reshape_to(c, n, "to_6d", n->in[0], d6, 6, &r6));
  int32_t p32[6];
  for (int i = 0; i < 6; i++) p32[i] = (int32_t)perm[i];
  int tin[2] = {r6, -1};
  TRY(onnx_const_i32(c, n, "perm", p32, 6, 1, &tin[1]));
  TRY(sub(c, n, "transpose", IR_OP_Transpose, tin, 2, &t6, NULL));
  c->g->tensors[t6].dtype = dtype_of(c, n->in[0]);
  TRY(onnx_out(c, n, 0, &y));
  return reshape_to(c, n, "to_4d", t6, fin, 4, &y);
}

/* OneHot(indices, depth, values[off, on]) -> OneHot(indices, depth, on, off). */
static tod_status onehot(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 3));
  int in[4] = {n->in[0], n->in[1], -1, -1}, y;
  for (int i = 0; i < 2; i++) {
    int32_t which = i ? 0 : 1, zero = 0;
    int gin[3] = {n->in[2], -1, -1};
    TRY(onnx_const_i32(c, n, i ? "off_idx" : "on_idx", &which, 1, 0, &gin[1]));
    TRY(onnx_const_i32(c, n, i ? "off_axis" : "on_axis", &zero, 1, 0, &gin[2]));
    TRY(sub(c, n, i ? "off" : "on", IR_OP_Gather, gin, 3, &in[2 + i], NULL));
    c->g->tensors[in[2 + i]].dtype = dtype_of(c, n->in[2]);
  }
  TRY(onnx_out(c, n, 0, &y));
  ir_node *nd = NULL;
  TRY(onnx_emit(c, IR_OP_OneHot, n->name, in, 4, &y, 1, &nd));
  c->g->tensors[y].dtype = dtype_of(c, n->in[2]);
  return seti(c, nd, "axis", onnx_attr_i(n, "axis", -1));
}

/* TopK (opset 10+: k input) -> TopKFusion, int32 indices cast to int64. */
static tod_status topk(onnx_ctx *c, onnx_node *n) {
  if (c->opset < 10) return TOD_NOT_FIND_OP;
  TRY(need(c, n, 2));
  if (n->n_out < 1) return onnx_bad(c, n, "has no output");
  int vals, idx32 = -1, idx;
  TRY(onnx_out(c, n, 0, &vals));
  int outs[2] = {vals, -1};
  TRY(onnx_tmp(c, n, "indices_i32", &outs[1]));
  c->g->tensors[outs[1]].dtype = IR_DT_INT32;
  idx32 = outs[1];
  ir_node *nd = NULL;
  TRY(onnx_emit(c, IR_OP_TopKFusion, n->name, n->in, 2, outs, 2, &nd));
  TRY(seti(c, nd, "axis", onnx_attr_i(n, "axis", -1)));
  TRY(seti(c, nd, "largest", onnx_attr_i(n, "largest", 1)));
  if (ir_attr_set_int(nd, "sorted", 1) != TOD_OK) return onnx_oom(c);
  c->g->tensors[vals].dtype = dtype_of(c, n->in[0]);
  if (n->n_out < 2 || !n->out_names[1].n) return TOD_OK;
  TRY(onnx_out(c, n, 1, &idx));
  return emit_cast(c, n, "indices", idx32, IR_DT_INT64, &idx);
}

static tod_status gathernd(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 2));
  if (onnx_attr_i(n, "batch_dims", 0) != 0) return onnx_unsupported(c, n, "with batch_dims != 0");
  int y;
  TRY(onnx_out(c, n, 0, &y));
  return onnx_emit(c, IR_OP_GatherNd, n->name, n->in, 2, &y, 1, NULL);
}

static tod_status scatter_elements(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 3));
  char red[16];
  onnx_attr_s(n, "reduction", red, sizeof red);
  if (red[0] && strcmp(red, "none")) return onnx_unsupported(c, n, "with reduction %s", red);
  int y;
  ir_node *nd = NULL;
  TRY(onnx_out(c, n, 0, &y));
  TRY(onnx_emit(c, IR_OP_ScatterElements, n->name, n->in, 3, &y, 1, &nd));
  return seti(c, nd, "axis", onnx_attr_i(n, "axis", 0));
}

static tod_status scatter_nd(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 3));
  char red[16];
  onnx_attr_s(n, "reduction", red, sizeof red);
  int op = !red[0] || !strcmp(red, "none") ? IR_OP_ScatterNdUpdate : !strcmp(red, "add") ? IR_OP_TensorScatterAdd : -1;
  if (op < 0) return onnx_unsupported(c, n, "with reduction %s", red);
  int y;
  TRY(onnx_out(c, n, 0, &y));
  return onnx_emit(c, op, n->name, n->in, 3, &y, 1, NULL);
}

static tod_status instance_norm(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 3));
  if (dtype_of(c, n->in[0]) != IR_DT_FLOAT32) return onnx_unsupported(c, n, "on %s tensors", ir_dtype_name(dtype_of(c, n->in[0])));
  if (c->g->tensors[n->in[0]].ndim != 4) return onnx_unsupported(c, n, "on a rank-%d input (only 4-D is)", c->g->tensors[n->in[0]].ndim);
  int y;
  ir_node *nd = NULL;
  TRY(onnx_out(c, n, 0, &y));
  TRY(onnx_emit(c, IR_OP_InstanceNorm, n->name, n->in, 3, &y, 1, &nd));
  return ir_attr_set_float(nd, "epsilon", onnx_attr_f(n, "epsilon", 1e-5f)) == TOD_OK ? TOD_OK : onnx_oom(c);
}

/* Dropout in inference (or training with ratio 0) with its mask output: y is x, the mask all
 * true, BroadcastTo(true, Shape(x)). Without a mask onnx.c removes the node. */
static tod_status dropout_mask(onnx_ctx *c, onnx_node *n) {
  int mask = n->n_out > 1 && n->out_names[1].n;
  double training = 0, ratio = 0.5;
  int has_tr = n->n_in > 2 && n->in[2] >= 0;
  if (has_tr && (!onnx_const_scalar(c, n->in[2], &training))) return TOD_NOT_FIND_OP;
  if (training != 0) {
    if (n->n_in > 1 && n->in[1] >= 0 && !onnx_const_scalar(c, n->in[1], &ratio)) return TOD_NOT_FIND_OP;
    if (n->n_in < 2 || n->in[1] < 0) ratio = 0.5;
    if (ratio != 0) return TOD_NOT_FIND_OP; /* onnx.c reports training mode */
  }
  if (!mask && training == 0) return TOD_NOT_FIND_OP;
  if (c->opset < 12 && mask) return onnx_unsupported(c, n, "with a mask output before opset 12");
  TRY(need(c, n, 1));
  TRY(onnx_name_put(c, n->out_names[0], n->in[0]));
  if (!mask) return TOD_OK;
  int s32 = -1, m, t;
  TRY(sub(c, n, "shape", IR_OP_Shape, n->in, 1, &s32, NULL));
  c->g->tensors[s32].dtype = IR_DT_INT32;
  onnx_const k;
  memset(&k, 0, sizeof k);
  k.dtype = IR_DT_BOOL;
  k.ndim = 0;
  k.nbytes = 1;
  k.owned = malloc(1);
  if (!k.owned) return onnx_oom(c);
  *(uint8_t *)k.owned = 1;
  k.data = k.owned;
  char name[600];
  snprintf(name, sizeof name, "%s/true", n->name);
  TRY(onnx_add_const(c, name, &k, &t));
  TRY(onnx_out(c, n, 1, &m));
  int in[2] = {t, s32};
  TRY(sub(c, n, "mask", IR_OP_BroadcastTo, in, 2, &m, NULL));
  c->g->tensors[m].dtype = IR_DT_BOOL;
  return TOD_OK;
}

/* 3-D Conv / MaxPool / AveragePool (rank-5 input of known spatial size) -> Custom nodes on
 * NCDHW; auto_pad is resolved here. Other ranks go to onnx_ops.c. */
static tod_status window3d(onnx_ctx *c, onnx_node *n) {
  if (n->n_in < 1 || n->in[0] < 0 || c->g->tensors[n->in[0]].ndim != 5) return TOD_NOT_FIND_OP;
  const ir_tensor *xt = &c->g->tensors[n->in[0]];
  int conv = strcmp(n->op_type, "Conv") == 0, avg = strcmp(n->op_type, "AveragePool") == 0;
  if (xt->dtype != IR_DT_FLOAT32) return onnx_unsupported(c, n, "(3-D) on %s tensors", ir_dtype_name(xt->dtype));
  if (n->n_out > 1 && n->out_names[1].n) return onnx_unsupported(c, n, "with an Indices output");
  double a[24] = {0};
  int64_t k[3], st[3], dl[3], pads[6];
  TRY(ints_k(c, n, "kernel_shape", 3, 0, k));
  const ir_tensor *wt = conv ? &c->g->tensors[n->in[1]] : NULL;
  if (conv && (n->n_in < 2 || wt->ndim != 5)) return onnx_unsupported(c, n, "(3-D) without a 5-D weight");
  if (!onnx_attr_get(n, "kernel_shape")) {
    if (!conv) return onnx_bad(c, n, "has no kernel_shape");
    for (int i = 0; i < 3; i++) k[i] = wt->dims[2 + i];
  }
  TRY(ints_k(c, n, "strides", 3, 1, st));
  TRY(ints_k(c, n, "dilations", 3, 1, dl));
  TRY(ints_k(c, n, "pads", 6, 0, pads));
  if (onnx_attr_i(n, "storage_order", 0)) return onnx_unsupported(c, n, "with storage_order 1");
  char ap[32];
  onnx_attr_s(n, "auto_pad", ap, sizeof ap);
  int ceil_mode = (int)onnx_attr_i(n, "ceil_mode", 0);
  for (int i = 0; i < 3; i++) {
    if (k[i] < 1 || st[i] < 1 || dl[i] < 1) return onnx_bad(c, n, "has a bad kernel/stride/dilation");
    int64_t in = xt->dims[2 + i];
    if (!strcmp(ap, "VALID")) pads[i] = pads[3 + i] = 0;
    else if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
      if (in < 0) return onnx_unsupported(c, n, "with auto_pad on an input of unknown size");
      int64_t o = (in + st[i] - 1) / st[i], total = (o - 1) * st[i] + (k[i] - 1) * dl[i] + 1 - in;
      if (total < 0) total = 0;
      pads[i] = !strcmp(ap, "SAME_UPPER") ? total / 2 : total - total / 2;
      pads[3 + i] = total - pads[i];
    } else if (ap[0] && strcmp(ap, "NOTSET")) return onnx_unsupported(c, n, "with auto_pad %s", ap);
    a[i] = (double)k[i], a[3 + i] = (double)st[i], a[6 + i] = (double)dl[i];
    a[9 + i] = (double)pads[i], a[12 + i] = (double)pads[3 + i];
  }
  if (conv) {
    int64_t g = onnx_attr_i(n, "group", 1);
    if (g < 1) return onnx_bad(c, n, "has group %lld", (long long)g);
    a[15] = (double)g;
    int in[4] = {n->in[0], n->in[1], n->n_in > 2 ? n->in[2] : -1, -1}, y;
    if (in[2] < 0) { /* Custom inputs are positional: an absent bias becomes zeros */
      int64_t o = wt->dims[0];
      if (o < 1 || o > (1 << 20)) return onnx_unsupported(c, n, "(3-D) with a weight of unknown shape");
      float *z = calloc((size_t)o, sizeof(float));
      if (!z) return onnx_oom(c);
      tod_status st2 = onnx_const_f32(c, n, "zero_bias", z, (int)o, 1, &in[2]);
      free(z);
      TRY(st2);
    }
    TRY(const_f64(c, n, "attrs", a, 16, &in[3]));
    TRY(onnx_out(c, n, 0, &y));
    ir_node *nd = NULL;
    TRY(onnx_emit(c, IR_OP_Custom, n->name, in, 4, &y, 1, &nd));
    c->g->tensors[y].dtype = IR_DT_FLOAT32;
    return ir_attr_set_string(nd, "type", custom_ops[CUSTOM_Conv3D].name) == TOD_OK ? TOD_OK : onnx_oom(c);
  }
  a[15] = ceil_mode;
  a[16] = avg ? (double)onnx_attr_i(n, "count_include_pad", 0) : 0;
  return custom(c, n, avg ? CUSTOM_AvgPool3D : CUSTOM_MaxPool3D, a, 17, IR_DT_FLOAT32);
}

/* BatchNormalization on [N,C,D,H,W] of known shape: runs on [N,C,D*H,W] and reshapes back. */
static tod_status batchnorm_5d(onnx_ctx *c, onnx_node *n) {
  if (n->n_in < 5 || n->in[0] < 0 || n->n_in > 8 || c->g->tensors[n->in[0]].ndim != 5) return TOD_NOT_FIND_OP;
  const ir_tensor *xt = &c->g->tensors[n->in[0]];
  int64_t d[5], d4[4];
  for (int i = 0; i < 5; i++) {
    d[i] = xt->dims[i];
    if (d[i] < 0) return onnx_unsupported(c, n, "on a 5-D input of unknown shape");
  }
  d4[0] = d[0], d4[1] = d[1], d4[2] = d[2] * d[3], d4[3] = d[4];
  int x4 = -1;
  TRY(reshape_to(c, n, "to_4d", n->in[0], d4, 4, &x4));
  c->g->tensors[x4].ndim = 4;
  memcpy(c->g->tensors[x4].dims, d4, sizeof d4);
  onnx_node m = *n;
  int in[8];
  memcpy(in, n->in, sizeof(int) * (size_t)n->n_in);
  in[0] = x4;
  m.in = in;
  TRY(onnx_translate_node(c, &m));
  int t = onnx_name_get(c, n->out_names[0]);
  ir_graph *g = c->g;
  if (t < 0 || g->n_nodes < 1 || g->nodes[g->n_nodes - 1].out[0] != t)
    return onnx_fail(c, TOD_ERROR, "%s node '%s': 4-D form did not produce its output", n->op_type, n->name);
  int y4;
  TRY(onnx_tmp(c, n, "y_4d", &y4));
  g->tensors[y4].dtype = xt->dtype;
  g->nodes[g->n_nodes - 1].out[0] = y4;
  return reshape_to(c, n, "to_5d", y4, d, 5, &t);
}

static tod_status transpose_to(onnx_ctx *c, const onnx_node *n, const char *suffix, int x, const int32_t *perm,
                               int r, int *out) {
  char pn[64];
  snprintf(pn, sizeof pn, "%s_perm", suffix);
  int in[2] = {x, -1};
  TRY(onnx_const_i32(c, n, pn, perm, r, 1, &in[1]));
  TRY(sub(c, n, suffix, IR_OP_Transpose, in, 2, out, NULL));
  c->g->tensors[*out].dtype = dtype_of(c, x);
  return TOD_OK;
}

/* LSTM -> LSTM, GRU -> GRU, RNN -> Custom "RNN", all with ONNX inputs (absent optional ones as
 * empty constants) and default activations; layout=1 transposes around the node. */
static tod_status rnn_family(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 3));
  int lstm = !strcmp(n->op_type, "LSTM"), gru = !strcmp(n->op_type, "GRU");
  char dir[32];
  onnx_attr_s(n, "direction", dir, sizeof dir);
  int bidi = !strcmp(dir, "bidirectional");
  if (dir[0] && !bidi && strcmp(dir, "forward")) return onnx_unsupported(c, n, "with direction %s", dir);
  if (onnx_attr_get(n, "activations") || onnx_attr_get(n, "clip") || onnx_attr_i(n, "input_forget", 0) ||
      onnx_attr_i(n, "linear_before_reset", 0))
    return onnx_unsupported(c, n, "with activations/clip/input_forget/linear_before_reset");
  if (dtype_of(c, n->in[0]) != IR_DT_FLOAT32) return onnx_unsupported(c, n, "on %s tensors", ir_dtype_name(dtype_of(c, n->in[0])));
  int layout = (int)onnx_attr_i(n, "layout", 0);
  int nin = lstm ? 8 : 6, in[8];
  static const int32_t p3[3] = {1, 0, 2}, p4[4] = {2, 0, 1, 3};
  for (int i = 0; i < nin; i++) {
    in[i] = i < n->n_in ? n->in[i] : -1;
    if (in[i] >= 0) continue;
    char sfx[16];
    snprintf(sfx, sizeof sfx, "no_input%d", i);
    if (i == 4) TRY(onnx_const_i32(c, n, sfx, NULL, 0, 1, &in[i]));
    else TRY(onnx_const_f32(c, n, sfx, NULL, 0, 1, &in[i]));
  }
  if (layout) {
    int t = -1;
    TRY(transpose_to(c, n, "x_seq_major", in[0], p3, 3, &t));
    in[0] = t;
    for (int i = 5; i <= 6 && i < nin; i++) {
      if (i >= n->n_in || n->in[i] < 0) continue;
      t = -1;
      TRY(transpose_to(c, n, i == 5 ? "h0_t" : "c0_t", in[i], p3, 3, &t));
      in[i] = t;
    }
  }
  int nout = lstm ? 3 : 2, outs[3];
  for (int j = 0; j < nout; j++) {
    int present = j < n->n_out && n->out_names[j].n;
    if (present && !layout) TRY(onnx_out(c, n, j, &outs[j]));
    else {
      char sfx[16];
      snprintf(sfx, sizeof sfx, "out%d", j);
      TRY(onnx_tmp(c, n, sfx, &outs[j]));
    }
    c->g->tensors[outs[j]].dtype = IR_DT_FLOAT32;
  }
  ir_node *nd = NULL;
  int op = lstm ? IR_OP_LSTM : gru ? IR_OP_GRU : IR_OP_Custom;
  TRY(onnx_emit(c, op, n->name, in, nin, outs, nout, &nd));
  if (op == IR_OP_Custom) {
    if (ir_attr_set_string(nd, "type", custom_ops[CUSTOM_RNN].name) != TOD_OK) return onnx_oom(c);
  } else if (ir_attr_set_int(nd, "bidirectional", bidi) != TOD_OK) {
    return onnx_oom(c);
  }
  if (lstm) {
    TRY(seti(c, nd, "hidden_size", onnx_attr_i(n, "hidden_size", 0)));
    TRY(seti(c, nd, "num_directions", bidi ? 2 : 1));
    TRY(seti(c, nd, "num_layers", 1));
    TRY(seti(c, nd, "has_bias", n->n_in > 3 && n->in[3] >= 0));
  }
  for (int j = 0; layout && j < nout && j < n->n_out; j++) {
    if (!n->out_names[j].n) continue;
    int y;
    TRY(onnx_out(c, n, j, &y));
    char sfx[16];
    snprintf(sfx, sizeof sfx, "out%d_batch", j);
    TRY(transpose_to(c, n, sfx, outs[j], j ? p3 : p4, j ? 3 : 4, &y));
  }
  return TOD_OK;
}

/* LRN with an odd size: depth_radius (size-1)/2, alpha/size (ONNX divides alpha by size). */
static tod_status lrn(onnx_ctx *c, onnx_node *n) {
  TRY(need(c, n, 1));
  int64_t size = onnx_attr_i(n, "size", 0);
  if (size < 1 || size % 2 == 0) return onnx_unsupported(c, n, "with size %lld (only odd sizes are)", (long long)size);
  if (c->g->tensors[n->in[0]].ndim != 4) return onnx_unsupported(c, n, "on a rank-%d input (only 4-D is)", c->g->tensors[n->in[0]].ndim);
  int y;
  ir_node *nd = NULL;
  TRY(onnx_out(c, n, 0, &y));
  TRY(onnx_emit(c, IR_OP_LRN, n->name, n->in, 1, &y, 1, &nd));
  TRY(seti(c, nd, "depth_radius", (size - 1) / 2));
  if (ir_attr_set_float(nd, "bias", onnx_attr_f(n, "bias", 1.f)) != TOD_OK ||
      ir_attr_set_float(nd, "alpha", (double)onnx_attr_f(n, "alpha", 1e-4f) / (double)size) != TOD_OK ||
      ir_attr_set_float(nd, "beta", onnx_attr_f(n, "beta", 0.75f)) != TOD_OK ||
      ir_attr_set_string(nd, "norm_region", "ACROSS_CHANNELS") != TOD_OK)
    return onnx_oom(c);
  return TOD_OK;
}

/* Einsum -> Custom "Einsum" on all inputs, the equation as character codes in attrs. */
static tod_status einsum(onnx_ctx *c, onnx_node *n) {
  char eq[CUSTOM_MAX_ATTRS + 2];
  onnx_attr_s(n, "equation", eq, sizeof eq);
  size_t len = strlen(eq);
  if (!len || len > CUSTOM_MAX_ATTRS) return onnx_unsupported(c, n, "with an equation of %zu characters", len);
  if (n->n_in < 1 || n->n_in > 8 || n->n_out < 1) return onnx_bad(c, n, "has %d inputs", n->n_in);
  TRY(need(c, n, n->n_in));
  double a[CUSTOM_MAX_ATTRS];
  for (size_t i = 0; i < len; i++) a[i] = (unsigned char)eq[i];
  int in[9], y;
  memcpy(in, n->in, sizeof(int) * (size_t)n->n_in);
  TRY(const_f64(c, n, "attrs", a, (int)len, &in[n->n_in]));
  TRY(onnx_out(c, n, 0, &y));
  ir_node *nd = NULL;
  TRY(onnx_emit(c, IR_OP_Custom, n->name, in, n->n_in + 1, &y, 1, &nd));
  c->g->tensors[y].dtype = dtype_of(c, n->in[0]);
  return ir_attr_set_string(nd, "type", custom_ops[CUSTOM_Einsum].name) == TOD_OK ? TOD_OK : onnx_oom(c);
}

/* Resize with pytorch_half_pixel: tod maps it to half_pixel, which differs for an output extent
 * of 1; with sizes/scales known only at run time that cannot be checked here, so it is refused. */
static tod_status resize_check(onnx_ctx *c, onnx_node *n) {
  if (!onnx_attr_s_is(n, "coordinate_transformation_mode", "pytorch_half_pixel", 0)) return TOD_NOT_FIND_OP;
  for (int i = 2; i < 4 && i < n->n_in; i++)
    if (n->in[i] >= 0 && c->g->tensors[n->in[i]].kind != IR_TENSOR_CONST && ir_tensor_numel(&c->g->tensors[n->in[i]]) != 0)
      return onnx_unsupported(c, n, "with pytorch_half_pixel and sizes/scales known only at run time");
  return TOD_NOT_FIND_OP;
}

typedef struct {
  const char *name;
  tod_status (*fn)(onnx_ctx *c, onnx_node *n);
} nn_entry;

static const nn_entry nn_ops[] = {
    {"Tan", custom_unary},   {"Sinh", custom_unary},  {"Cosh", custom_unary},
    {"Asin", custom_unary},  {"Acos", custom_unary},  {"Atan", custom_unary},
    {"Asinh", custom_unary}, {"Acosh", custom_unary}, {"Atanh", custom_unary},
    {"IsNaN", custom_unary}, {"IsInf", custom_unary}, {"Shrink", shrink},
    {"BitShift", bitshift},  {"EyeLike", eyelike},    {"Hardmax", hardmax},
    {"ConvTranspose", conv_transpose},
    {"ReduceLogSumExp", via_f32}, {"ReduceLogSum", via_f32},
    {"DepthToSpace", depth_space}, {"SpaceToDepth", depth_space},
    {"OneHot", onehot},         {"TopK", topk},             {"GatherND", gathernd},
    {"ScatterElements", scatter_elements}, {"Scatter", scatter_elements}, {"ScatterND", scatter_nd},
    {"InstanceNormalization", instance_norm},
    {"Dropout", dropout_mask},
    {"Conv", window3d},         {"MaxPool", window3d},      {"AveragePool", window3d},
    {"BatchNormalization", batchnorm_5d},
    {"LSTM", rnn_family},       {"GRU", rnn_family},        {"RNN", rnn_family},
    {"Resize", resize_check},
    {"LRN", lrn},               {"Einsum", einsum},
    {"Mod", mod},               {"CastLike", castlike},     {"Gemm", gemm_scaled},      {"Clip", clip_minmax},
};

tod_status onnx_translate_nn(onnx_ctx *c, onnx_node *n) {
  for (size_t i = 0; i < sizeof nn_ops / sizeof nn_ops[0]; i++)
    if (strcmp(nn_ops[i].name, n->op_type) == 0) return nn_ops[i].fn(c, n);
  return TOD_NOT_FIND_OP;
}
