/* The autodiff pass: inference graph -> MindSpore Lite style training graph.
 *
 * Runs on the NHWC graph after the layout pass and shape inference, so gradient operators are
 * channel-last like the kernels and every forward shape is known. Steps:
 *   1. parameters: float constants in weight positions whose source name the spec's globs
 *      select become trainable (IR_TENSOR_PARAM);
 *   2. requires-grad: a tensor needs a gradient when it depends on a trainable weight; nothing
 *      upstream of frozen-only subgraphs gets gradient nodes (a frozen backbone costs forward);
 *   3. forward rewrites (padded max pools, BatchNorm train mode);
 *   4. the label input and the loss on graph output 0, which seeds the gradient;
 *   5. reverse sweep over the forward nodes (autodiff_rules.c), fan-out summed by AddFusion;
 *   6. one optimizer node per trainable weight; graph outputs = loss, optimizer outputs.
 * Names follow docs/training.md so MindSpore Lite's TrainSession finds the roles. */
#include "ir/autodiff.h"

#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/autodiff_internal.h"
#include "ir/passes.h"

void ir_train_spec_init(ir_train_spec *s) {
  memset(s, 0, sizeof *s);
  s->loss = IR_LOSS_SOFTMAX_CE;
  s->label_type = IR_LABEL_CLASS;
  s->optimizer = IR_OPT_ADAM;
  s->learning_rate = 1e-3;
  s->momentum = 0.9;
  s->beta1 = 0.9;
  s->beta2 = 0.999;
  s->epsilon = 1e-8;
  s->weight_decay = 0;
}

int ir_train_spec_trainable(const ir_train_spec *s, const char *name) {
  for (int i = 0; i < s->n_frozen; i++)
    if (s->frozen[i] && fnmatch(s->frozen[i], name, 0) == 0) return 0;
  if (s->n_trainable == 0) return 1;
  for (int i = 0; i < s->n_trainable; i++)
    if (s->trainable[i] && fnmatch(s->trainable[i], name, 0) == 0) return 1;
  return 0;
}

/* --- helpers ----------------------------------------------------------------------------- */

int ad_fail(ad_ctx *c, tod_status st, const char *fmt, ...) {
  if (c->st == TOD_OK) {
    c->st = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

static int oom(ad_ctx *c) { return ad_fail(c, TOD_MEMORY_FAILED, "out of memory building the training graph"); }

tod_status ad_grow(ad_ctx *c) {
  int n = c->g->n_tensors;
  if (n <= c->cap) return TOD_OK;
  int cap = n * 2 + 64;
  unsigned char *r = realloc(c->req, (size_t)cap);
  if (r) c->req = r;
  unsigned char *tr = realloc(c->trainable, (size_t)cap);
  if (tr) c->trainable = tr;
  int *gr = realloc(c->grad, sizeof(int) * (size_t)cap);
  if (gr) c->grad = gr;
  int *so = realloc(c->shape_of, sizeof(int) * (size_t)cap);
  if (so) c->shape_of = so;
  if (!r || !tr || !gr || !so) {
    oom(c);
    return TOD_MEMORY_FAILED;
  }
  for (int i = c->cap; i < cap; i++) {
    c->req[i] = 0;
    c->trainable[i] = 0;
    c->grad[i] = -1;
    c->shape_of[i] = -1;
  }
  c->cap = cap;
  return TOD_OK;
}

int ad_tensor(ad_ctx *c, const char *name, int dtype, int ndim, const int64_t *dims) {
  if (c->st) return -1;
  int t = ir_add_tensor(c->g, name);
  if (t < 0 || ad_grow(c) != TOD_OK) return oom(c);
  ir_tensor *x = AD_T(c, t);
  x->dtype = dtype;
  ir_tensor_set_shape(x, ndim, dims);
  x->format = ndim == 4 ? IR_FMT_NHWC : IR_FMT_NCHW;
  return t;
}

int ad_tensor_like(ad_ctx *c, const char *name, int like) {
  if (c->st) return -1;
  ir_tensor l = *AD_T(c, like); /* copy: adding a tensor may move the array */
  int t = ad_tensor(c, name, l.dtype, l.ndim, l.dims);
  if (t >= 0) AD_T(c, t)->format = l.format == IR_FMT_KHWC ? IR_FMT_NHWC : l.format;
  return t;
}

int ad_const_f32(ad_ctx *c, const char *name, const float *v, int ndim, const int64_t *dims) {
  if (c->st) return -1;
  int t = ir_add_tensor(c->g, name);
  if (t < 0 || ad_grow(c) != TOD_OK) return oom(c);
  ir_tensor *x = AD_T(c, t);
  x->dtype = IR_DT_FLOAT32;
  ir_tensor_set_shape(x, ndim, dims);
  int64_t n = ndim == 0 ? 1 : ir_tensor_numel(x);
  if (ir_tensor_set_data_copy(x, v, sizeof(float) * (size_t)n) != TOD_OK) return oom(c);
  return t;
}

int ad_scalar_f32(ad_ctx *c, const char *name, float v) {
  int64_t one = 1;
  return ad_const_f32(c, name, &v, 1, &one);
}

int ad_const_i32(ad_ctx *c, const char *name, const int32_t *v, int n) {
  if (c->st) return -1;
  int t = ir_add_const_i32(c->g, name, v, n);
  if (t < 0 || ad_grow(c) != TOD_OK) return oom(c);
  return t;
}

int ad_scalar_i32(ad_ctx *c, const char *name, int32_t v) {
  int t = ad_const_i32(c, name, &v, 1);
  if (t >= 0) ir_tensor_set_shape(AD_T(c, t), 0, NULL);
  return t;
}

int ad_node(ad_ctx *c, int op, const char *name, const int *in, int n_in, const int *out, int n_out) {
  if (c->st) return -1;
  for (int i = 0; i < n_in; i++)
    if (in[i] < 0) return ad_fail(c, TOD_ERROR, "internal: node %s has a missing input", name);
  int n = ir_add_node(c->g, op, name, in, n_in, out, n_out);
  if (n < 0) return oom(c);
  return n;
}

void ad_seti(ad_ctx *c, int node, const char *key, int64_t v) {
  if (c->st || node < 0) return;
  if (ir_attr_set_int(AD_N(c, node), key, v) != TOD_OK) oom(c);
}

void ad_setf(ad_ctx *c, int node, const char *key, double v) {
  if (c->st || node < 0) return;
  if (ir_attr_set_float(AD_N(c, node), key, v) != TOD_OK) oom(c);
}

void ad_setis(ad_ctx *c, int node, const char *key, const int64_t *v, int n) {
  if (c->st || node < 0) return;
  if (ir_attr_set_ints(AD_N(c, node), key, v, n) != TOD_OK) oom(c);
}

void ad_copy_attr(ad_ctx *c, int dst, int src, const char *key) {
  if (c->st || dst < 0) return;
  const ir_attr *a = ir_attr_find(AD_N(c, src), key);
  if (!a) return;
  tod_status st = TOD_OK;
  ir_node *d = AD_N(c, dst);
  switch (a->type) {
    case IR_ATTR_INT: st = ir_attr_set_int(d, key, a->i); break;
    case IR_ATTR_FLOAT: st = ir_attr_set_float(d, key, a->f); break;
    case IR_ATTR_INTS: st = ir_attr_set_ints(d, key, a->ints, a->n); break;
    case IR_ATTR_FLOATS: st = ir_attr_set_floats(d, key, a->floats, a->n); break;
    case IR_ATTR_STRING: st = ir_attr_set_string(d, key, a->s); break;
    case IR_ATTR_INTS2D: st = ir_attr_set_ints2d(d, key, a->ints, a->n, a->cols); break;
  }
  if (st != TOD_OK) oom(c);
}

const char *ad_gname(ad_ctx *c, char *buf, size_t n, const char *what) {
  const char *s = c->scope ? c->scope : "";
  while (*s == '/') s++; /* ONNX names start with '/': avoid "Default//" */
  snprintf(buf, n, "Gradients/Default/%s/%s-op%d", s, what, c->seq++);
  return buf;
}

int ad_op1(ad_ctx *c, int op, const char *what, const int *in, int n_in, int like) {
  char name[1024];
  ad_gname(c, name, sizeof name, what);
  int o = ad_tensor_like(c, name, like);
  if (o < 0) return -1;
  if (ad_node(c, op, name, in, n_in, &o, 1) < 0) return -1;
  return o;
}

static int binary(ad_ctx *c, int op, int a, int b, int like, const char *what) {
  int in[2] = {a, b};
  int o = ad_op1(c, op, what, in, 2, like);
  if (o >= 0) ad_seti(c, c->g->n_nodes - 1, "activation_type", IR_ACT_NONE);
  return c->st ? -1 : o;
}

int ad_mul(ad_ctx *c, int a, int b, int like, const char *what) {
  return binary(c, IR_OP_MulFusion, a, b, like, what);
}

int ad_div(ad_ctx *c, int a, int b, int like, const char *what) {
  return binary(c, IR_OP_DivFusion, a, b, like, what);
}

int ad_shape(ad_ctx *c, int x) {
  if (c->st) return -1;
  if (c->shape_of[x] >= 0) return c->shape_of[x];
  char name[1024];
  ad_gname(c, name, sizeof name, "Shape");
  int64_t r = AD_T(c, x)->ndim;
  int o = ad_tensor(c, name, IR_DT_INT32, 1, &r);
  if (o < 0 || ad_node(c, IR_OP_Shape, name, &x, 1, &o, 1) < 0) return -1;
  c->shape_of[x] = o;
  return o;
}

int ad_reshape_like(ad_ctx *c, int x, int like, const char *what) {
  int s = ad_shape(c, like);
  if (s < 0) return -1;
  int in[2] = {x, s};
  return ad_op1(c, IR_OP_Reshape, what, in, 2, like);
}

int ad_unbroadcast(ad_ctx *c, int dy, int y, int t) {
  if (c->st) return -1;
  const ir_tensor *ty = AD_T(c, y), *tt = AD_T(c, t);
  int ry = ty->ndim, rt = tt->ndim;
  int is_const = tt->kind == IR_TENSOR_CONST || tt->kind == IR_TENSOR_PARAM;
  if (ry < 0 || rt < 0 || rt > ry)
    return ad_fail(c, TOD_NOT_SUPPORT, "training: cannot undo broadcasting of %s to %s (unknown ranks)",
                   ty->name, tt->name);
  int64_t axes[IR_MAX_DIMS];
  int na = 0;
  for (int i = 0; i < ry; i++) {
    int j = i - (ry - rt);
    if (j < 0) {
      axes[na++] = i;
    } else if (tt->dims[j] == 1 && (ty->dims[i] != 1 || is_const)) {
      /* A constant's size-1 axis may face a batch that was inferred as 1 here. */
      axes[na++] = i;
    }
  }
  if (na == 0 && ry == rt) return dy;
  int32_t ax32[IR_MAX_DIMS];
  for (int i = 0; i < na; i++) ax32[i] = (int32_t)axes[i];
  char name[1024];
  ad_gname(c, name, sizeof name, "ReduceSum");
  char cname[1100];
  snprintf(cname, sizeof cname, "%s/axes", name);
  int at = ad_const_i32(c, cname, ax32, na);
  int64_t kd[IR_MAX_DIMS];
  for (int i = 0; i < ry; i++) kd[i] = AD_T(c, y)->dims[i];
  for (int i = 0; i < na; i++) kd[axes[i]] = 1;
  int o = ad_tensor(c, name, IR_DT_FLOAT32, ry, kd);
  int in[2] = {dy, at};
  int n = ad_node(c, IR_OP_ReduceFusion, name, in, 2, &o, 1);
  ad_seti(c, n, "keep_dims", 1);
  ad_seti(c, n, "mode", 4); /* ReduceSum */
  ad_seti(c, n, "reduce_to_end", 0);
  ad_setf(c, n, "coeff", 1.0);
  if (c->st) return -1;
  if (rt == ry) return o;
  /* Drop the leading axes: a constant's shape is static, an activation's comes from Shape. */
  if (is_const) {
    int32_t sh[IR_MAX_DIMS];
    for (int i = 0; i < rt; i++) sh[i] = (int32_t)AD_T(c, t)->dims[i];
    ad_gname(c, name, sizeof name, "Reshape");
    snprintf(cname, sizeof cname, "%s/shape", name);
    int st = ad_const_i32(c, cname, sh, rt);
    int r = ad_tensor_like(c, name, t);
    int in2[2] = {o, st};
    if (ad_node(c, IR_OP_Reshape, name, in2, 2, &r, 1) < 0) return -1;
    return r;
  }
  return ad_reshape_like(c, o, t, "Reshape");
}

int ad_batch_f32(ad_ctx *c, int x, const char *scope_name) {
  if (c->st) return -1;
  char name[1024], cn[1100];
  snprintf(name, sizeof name, "%s/BatchSize-op%d", scope_name, c->seq++);
  int64_t r = AD_T(c, x)->ndim, one = 1;
  snprintf(cn, sizeof cn, "%s/shape", name);
  int s = ad_tensor(c, cn, IR_DT_INT32, 1, &r);
  if (s < 0 || ad_node(c, IR_OP_Shape, cn, &x, 1, &s, 1) < 0) return -1;
  snprintf(cn, sizeof cn, "%s/index", name);
  int32_t zero = 0;
  int idx = ad_const_i32(c, cn, &zero, 1);
  snprintf(cn, sizeof cn, "%s/axis", name);
  int ax = ad_scalar_i32(c, cn, 0);
  snprintf(cn, sizeof cn, "%s/gather", name);
  int gi = ad_tensor(c, cn, IR_DT_INT32, 1, &one);
  int gin[3] = {s, idx, ax};
  if (ad_node(c, IR_OP_Gather, cn, gin, 3, &gi, 1) < 0) return -1;
  snprintf(cn, sizeof cn, "%s/to", name);
  int to = ad_scalar_i32(c, cn, IR_DT_FLOAT32);
  int o = ad_tensor(c, name, IR_DT_FLOAT32, 1, &one);
  int cin[2] = {gi, to};
  if (ad_node(c, IR_OP_Cast, name, cin, 2, &o, 1) < 0) return -1;
  return o;
}

void ad_accum(ad_ctx *c, int t, int g) {
  if (c->st || g < 0) return;
  if (c->grad[t] < 0) {
    c->grad[t] = g;
    return;
  }
  int s = binary(c, IR_OP_AddFusion, c->grad[t], g, t, "AddN");
  if (s >= 0) c->grad[t] = s;
}

/* --- parameters and requires-grad -------------------------------------------------------- */

/* Source name of a weight: the layout pass suffixes permuted copies with "_nhwc". */
static void source_name(const char *name, char *buf, size_t n) {
  snprintf(buf, n, "%s", name);
  size_t l = strlen(buf);
  if (l > 5 && strcmp(buf + l - 5, "_nhwc") == 0) buf[l - 5] = 0;
}

/* Whether input slot j of node n holds a learnable parameter (as opposed to a hyper-constant
 * the exporter materialised: those are named "onnx::..." or after their node "/..."). */
static int weight_slot(const ir_node *n, int j, const ir_tensor *t) {
  switch (n->op) {
    case IR_OP_Conv2DFusion: return j == 1 || j == 2;
    case IR_OP_MatMulFusion: return j <= 2;
    case IR_OP_FusedBatchNorm:
    case IR_OP_LayerNormFusion: return j == 1 || j == 2;
    case IR_OP_AddFusion:
    case IR_OP_SubFusion:
    case IR_OP_MulFusion:
    case IR_OP_DivFusion:
      if (j > 1 || !t->name) return 0;
      return t->name[0] != '/' && strncmp(t->name, "onnx::", 6) != 0;
    default: return 0;
  }
}

static void mark_params(ad_ctx *c) {
  ir_graph *g = c->g;
  char src[1024];
  for (int i = 0; i < g->n_nodes; i++) {
    const ir_node *n = &g->nodes[i];
    for (int j = 0; j < n->n_in; j++) {
      int t = n->in[j];
      if (t < 0) continue;
      ir_tensor *x = &g->tensors[t];
      if (x->kind != IR_TENSOR_CONST || x->dtype != IR_DT_FLOAT32 || (!x->data && !x->src)) continue;
      if (!weight_slot(n, j, x)) continue;
      source_name(x->name ? x->name : "", src, sizeof src);
      if (!ir_train_spec_trainable(c->spec, src)) continue;
      c->trainable[t] = 1;
      x->kind = IR_TENSOR_PARAM;
    }
  }
}

static void compute_req(ad_ctx *c) {
  ir_graph *g = c->g;
  for (int t = 0; t < g->n_tensors; t++) c->req[t] = c->trainable[t];
  for (int i = 0; i < g->n_nodes; i++) {
    const ir_node *n = &g->nodes[i];
    int any = 0;
    for (int j = 0; j < n->n_in; j++)
      if (n->in[j] >= 0 && c->req[n->in[j]]) any = 1;
    /* Integer results (Shape, comparisons, argmax) carry no gradient. */
    for (int j = 0; j < n->n_out; j++)
      c->req[n->out[j]] = (unsigned char)(any && g->tensors[n->out[j]].dtype == IR_DT_FLOAT32);
  }
}

/* --- loss -------------------------------------------------------------------------------- */

#define LOSS_SCOPE "Default/network-WithLossCell/_loss_fn-"

static int add_label(ad_ctx *c, int logits, int dtype, int per_class) {
  const ir_tensor *y = AD_T(c, logits);
  int64_t d[IR_MAX_DIMS];
  int r = per_class ? y->ndim : 1;
  for (int i = 0; i < r; i++) d[i] = y->dims[i];
  if (c->dynamic_batch && r > 0) d[0] = -1;
  int t = ad_tensor(c, "label", dtype, r, d);
  if (t < 0) return -1;
  AD_T(c, t)->kind = IR_TENSOR_INPUT;
  AD_T(c, t)->format = IR_FMT_NHWC; /* MindSpore Lite tags every input NHWC */
  if (ir_add_input(c->g, t) != TOD_OK) return oom(c);
  return t;
}

/* Element count of every axis but the batch one (static after shape inference). */
static int64_t rest_count(const ir_tensor *y) {
  int64_t n = 1;
  for (int i = 1; i < y->ndim; i++) n *= y->dims[i];
  return n;
}

static int loss_node(ad_ctx *c, int op, const char *name, const int *in, int n_in, const int *out, int n_out) {
  return ad_node(c, op, name, in, n_in, out, n_out);
}

/* Builds the loss; returns the loss tensor and sets *dlogits. */
static int build_loss(ad_ctx *c, int logits, int *dlogits) {
  const ir_train_spec *s = c->spec;
  const ir_tensor *y = AD_T(c, logits);
  int64_t one = 1;
  char name[512], gname[512];
  if (y->dtype != IR_DT_FLOAT32 || y->ndim < 1)
    return ad_fail(c, TOD_NOT_SUPPORT, "training: the model output %s must be a float32 tensor of rank >= 1",
                   y->name);
  if (s->loss == IR_LOSS_SOFTMAX_CE) {
    if (y->ndim != 2)
      return ad_fail(c, TOD_NOT_SUPPORT,
                     "training: softmax_cross_entropy needs [N,C] logits, the model output %s has rank %d",
                     y->name, y->ndim);
    if (s->label_type == IR_LABEL_CLASS) {
      int lab = add_label(c, logits, IR_DT_INT32, 0);
      snprintf(name, sizeof name, LOSS_SCOPE "SoftmaxCrossEntropyWithLogits/SparseSoftmaxCrossEntropyWithLogits-op%d", c->seq++);
      int loss = ad_tensor(c, name, IR_DT_FLOAT32, 1, &one);
      int in[2] = {logits, lab};
      int n = loss_node(c, IR_OP_SparseSoftmaxCrossEntropyWithLogits, name, in, 2, &loss, 1);
      ad_seti(c, n, "is_grad", 0);
      snprintf(gname, sizeof gname,
               "Gradients/" LOSS_SCOPE "SoftmaxCrossEntropyWithLogits/gradSparseSoftmaxCrossEntropyWithLogits/"
               "SparseSoftmaxCrossEntropyWithLogits-op%d", c->seq++);
      int g = ad_tensor_like(c, gname, logits);
      n = loss_node(c, IR_OP_SparseSoftmaxCrossEntropyWithLogits, gname, in, 2, &g, 1);
      ad_seti(c, n, "is_grad", 1);
      *dlogits = g;
      return c->st ? -1 : loss;
    }
    int lab = add_label(c, logits, IR_DT_FLOAT32, 1);
    snprintf(name, sizeof name, LOSS_SCOPE "SoftmaxCrossEntropyWithLogits/SoftmaxCrossEntropyWithLogits-op%d", c->seq++);
    int64_t n0 = AD_T(c, logits)->dims[0];
    int per = ad_tensor(c, name, IR_DT_FLOAT32, 1, &n0);
    snprintf(gname, sizeof gname, "%s:1", name);
    int p_minus = ad_tensor_like(c, gname, logits);
    int in[2] = {logits, lab}, out[2] = {per, p_minus};
    loss_node(c, IR_OP_SoftmaxCrossEntropyWithLogits, name, in, 2, out, 2);
    snprintf(name, sizeof name, LOSS_SCOPE "SoftmaxCrossEntropyWithLogits/ReduceMean-op%d", c->seq++);
    char an[600];
    snprintf(an, sizeof an, "%s/axes", name);
    int32_t ax0 = 0;
    int at = ad_const_i32(c, an, &ax0, 1);
    int loss = ad_tensor(c, name, IR_DT_FLOAT32, 1, &one);
    int rin[2] = {per, at};
    int n = loss_node(c, IR_OP_ReduceFusion, name, rin, 2, &loss, 1);
    ad_seti(c, n, "keep_dims", 1);
    ad_seti(c, n, "mode", 0);
    ad_seti(c, n, "reduce_to_end", 0);
    ad_setf(c, n, "coeff", 1.0);
    /* SoftmaxCrossEntropyWithLogits' second output is p - label per sample: the mean over the
     * batch divides it by N, read at run time so other batch sizes work. */
    const char *gs = "Gradients/" LOSS_SCOPE "SoftmaxCrossEntropyWithLogits";
    int nb = ad_batch_f32(c, logits, gs);
    snprintf(gname, sizeof gname, "%s/gradReduceMean/RealDiv-op%d", gs, c->seq++);
    int g = ad_tensor_like(c, gname, logits);
    int din[2] = {p_minus, nb};
    n = loss_node(c, IR_OP_DivFusion, gname, din, 2, &g, 1);
    ad_seti(c, n, "activation_type", IR_ACT_NONE);
    *dlogits = g;
    return c->st ? -1 : loss;
  }
  /* mse and binary_cross_entropy: mean over every element; label shaped like the output. */
  int lab = add_label(c, logits, IR_DT_FLOAT32, 1);
  const char *kind = s->loss == IR_LOSS_MSE ? "MSELoss" : "BCEWithLogitsLoss";
  char scope[256], gscope[300];
  snprintf(scope, sizeof scope, LOSS_SCOPE "%s", kind);
  snprintf(gscope, sizeof gscope, "Gradients/%s", scope);
  int per, diff = -1;
  int in[2] = {logits, lab};
  if (s->loss == IR_LOSS_MSE) {
    snprintf(name, sizeof name, "%s/Sub-op%d", scope, c->seq++);
    diff = ad_tensor_like(c, name, logits);
    int n = loss_node(c, IR_OP_SubFusion, name, in, 2, &diff, 1);
    ad_seti(c, n, "activation_type", IR_ACT_NONE);
    snprintf(name, sizeof name, "%s/Square-op%d", scope, c->seq++);
    per = ad_tensor_like(c, name, logits);
    int sq[2] = {diff, diff};
    n = loss_node(c, IR_OP_MulFusion, name, sq, 2, &per, 1);
    ad_seti(c, n, "activation_type", IR_ACT_NONE);
  } else {
    snprintf(name, sizeof name, "%s/SigmoidCrossEntropyWithLogits-op%d", scope, c->seq++);
    per = ad_tensor_like(c, name, logits);
    loss_node(c, IR_OP_SigmoidCrossEntropyWithLogits, name, in, 2, &per, 1);
  }
  snprintf(name, sizeof name, "%s/ReduceMean-op%d", scope, c->seq++);
  char an[600];
  snprintf(an, sizeof an, "%s/axes", name);
  int32_t axes[IR_MAX_DIMS];
  int r = AD_T(c, logits)->ndim;
  for (int i = 0; i < r; i++) axes[i] = i;
  int at = ad_const_i32(c, an, axes, r);
  int loss = ad_tensor(c, name, IR_DT_FLOAT32, 0, NULL);
  int rin[2] = {per, at};
  int n = loss_node(c, IR_OP_ReduceFusion, name, rin, 2, &loss, 1);
  ad_seti(c, n, "keep_dims", 0);
  ad_seti(c, n, "mode", 0);
  ad_seti(c, n, "reduce_to_end", 0);
  ad_setf(c, n, "coeff", 1.0);
  /* d mean / d x_i = 1/numel; numel = N (run time) * the static rest. */
  double rest = (double)rest_count(AD_T(c, logits));
  int nb = ad_batch_f32(c, logits, gscope);
  int g;
  if (s->loss == IR_LOSS_MSE) {
    snprintf(name, sizeof name, "%s/gradSquare/scale", gscope);
    int k = ad_scalar_f32(c, name, (float)(2.0 / rest));
    snprintf(name, sizeof name, "%s/gradSquare/Mul-op%d", gscope, c->seq++);
    int t = ad_tensor_like(c, name, logits);
    int min[2] = {diff, k};
    n = loss_node(c, IR_OP_MulFusion, name, min, 2, &t, 1);
    ad_seti(c, n, "activation_type", IR_ACT_NONE);
    g = t;
  } else {
    snprintf(name, sizeof name, "%s/gradSigmoidCrossEntropyWithLogits/dloss", gscope);
    int k = ad_scalar_f32(c, name, (float)(1.0 / rest));
    snprintf(name, sizeof name, "%s/gradSigmoidCrossEntropyWithLogits/SigmoidCrossEntropyWithLogitsGrad-op%d",
             gscope, c->seq++);
    g = ad_tensor_like(c, name, logits);
    int gin[3] = {logits, lab, k};
    loss_node(c, IR_OP_SigmoidCrossEntropyWithLogitsGrad, name, gin, 3, &g, 1);
  }
  snprintf(name, sizeof name, "%s/gradReduceMean/RealDiv-op%d", gscope, c->seq++);
  int d = ad_tensor_like(c, name, logits);
  int din[2] = {g, nb};
  n = loss_node(c, IR_OP_DivFusion, name, din, 2, &d, 1);
  ad_seti(c, n, "activation_type", IR_ACT_NONE);
  *dlogits = d;
  return c->st ? -1 : loss;
}

/* --- optimizers -------------------------------------------------------------------------- */

typedef struct {
  int lr, beta1, beta2, eps, mom, b1p, b2p, zero, sgd_stat;
  int *assign_out;
  int n_assign;
  int *deferred; /* Mul outputs whose Assign comes after the optimizers */
  int n_deferred;
} opt_consts;

static int param_like(ad_ctx *c, const char *prefix, int w, float fill) {
  char name[1024];
  snprintf(name, sizeof name, "%s%s", prefix, AD_T(c, w)->name);
  ir_tensor l = *AD_T(c, w);
  int64_t n = ir_tensor_numel(&l);
  if (n < 0) return ad_fail(c, TOD_NOT_SUPPORT, "training: weight %s has an unknown shape", l.name);
  if (c->st) return -1;
  /* The buffer becomes the tensor's own, not a copy: an optimizer state of zeros then stays
   * calloc's untouched pages until the writer reads it (a model's size of zeros never resident). */
  float *v = calloc((size_t)(n ? n : 1), sizeof(float));
  if (!v) return oom(c);
  for (int64_t i = 0; i < n && fill != 0; i++) v[i] = fill;
  int t = ir_add_tensor(c->g, name);
  if (t < 0 || ad_grow(c) != TOD_OK) {
    free(v);
    return oom(c);
  }
  ir_tensor *x = AD_T(c, t);
  x->dtype = IR_DT_FLOAT32;
  ir_tensor_set_shape(x, l.ndim, l.dims);
  ir_tensor_set_data_owned(x, v, sizeof(float) * (size_t)(l.ndim == 0 ? 1 : n));
  x->kind = IR_TENSOR_PARAM;
  x->format = l.format;
  return t;
}

static int push_output(ad_ctx *c, int **list, int *n, int t) {
  int *l = realloc(*list, sizeof(int) * (size_t)(*n + 1));
  if (!l) return oom(c);
  l[(*n)++] = t;
  *list = l;
  return 0;
}

/* Assign(var, value); its result goes to the graph outputs so nothing prunes it. */
static int assign(ad_ctx *c, const char *scope, const char *what, int var, int value, opt_consts *oc) {
  char name[1024];
  snprintf(name, sizeof name, "%s/Assign-%s", scope, what);
  int64_t one = 1;
  int a = ad_tensor(c, name, IR_DT_FLOAT32, 1, &one);
  int ain[2] = {var, value};
  if (ad_node(c, IR_OP_Assign, name, ain, 2, &a, 1) < 0) return -1;
  return push_output(c, &oc->assign_out, &oc->n_assign, a);
}

/* out = MulFusion(var, k) -> Assign(var, out). defer: the Assign is emitted after every
 * optimizer node (the beta powers are read through `out`, so the write can come last, where
 * MindSpore Lite's "after every reader" rule puts it anyway). */
static int mul_assign(ad_ctx *c, const char *scope, const char *what, int var, int k, opt_consts *oc,
                      int *mul_out, int defer) {
  char name[1024];
  snprintf(name, sizeof name, "%s/Mul-%s", scope, what);
  int m = ad_tensor_like(c, name, var);
  int in[2] = {var, k};
  int n = ad_node(c, IR_OP_MulFusion, name, in, 2, &m, 1);
  ad_seti(c, n, "activation_type", IR_ACT_NONE);
  *mul_out = m;
  return defer ? push_output(c, &oc->deferred, &oc->n_deferred, m) : assign(c, scope, what, var, m, oc);
}

static tod_status add_optimizers(ad_ctx *c, const int *weights, int nw, int **outs, int *n_outs) {
  const ir_train_spec *s = c->spec;
  opt_consts oc;
  memset(&oc, 0, sizeof oc);
  int64_t one = 1;
  float lr = (float)s->learning_rate;
  oc.lr = ad_const_f32(c, "learning_rate", &lr, 0, NULL); /* scalar, as MindSpore writes it */
  int adam = s->optimizer == IR_OPT_ADAM || s->optimizer == IR_OPT_ADAMW;
  const char *scope = adam ? "Default/optimizer-Adam"
                      : s->optimizer == IR_OPT_SGD ? "Default/optimizer-SGD"
                                                   : "Default/optimizer-Momentum";
  int b1t = -1, b2t = -1;
  if (adam) {
    oc.beta1 = ad_scalar_f32(c, "beta1", (float)s->beta1);
    oc.beta2 = ad_scalar_f32(c, "beta2", (float)s->beta2);
    oc.eps = ad_scalar_f32(c, "epsilon", (float)s->epsilon);
    float p1 = 1.0f;
    oc.b1p = ad_const_f32(c, "beta1_power", &p1, 1, &one);
    oc.b2p = ad_const_f32(c, "beta2_power", &p1, 1, &one);
    if (c->st) return c->st;
    AD_T(c, oc.b1p)->kind = IR_TENSOR_PARAM;
    AD_T(c, oc.b2p)->kind = IR_TENSOR_PARAM;
    /* beta_power <- beta_power * beta each step; the product (beta^t at step t) feeds Adam,
     * which gives torch.optim.Adam's bias correction 1 - beta^t. */
    mul_assign(c, scope, "beta1_power", oc.b1p, oc.beta1, &oc, &b1t, 1);
    mul_assign(c, scope, "beta2_power", oc.b2p, oc.beta2, &oc, &b2t, 1);
    /* MindSpore's Adam adds epsilon to sqrt(v) after folding the bias corrections into the
     * step size; torch.optim.Adam adds it to sqrt(v / (1 - beta2^t)). Feeding
     * epsilon * sqrt(1 - beta2^t) makes the two identical. */
    if (c->st == TOD_OK) {
      int64_t d1 = 1;
      int one_t = ad_scalar_f32(c, "Default/optimizer-Adam/one", 1.0f);
      int omb = ad_tensor(c, "Default/optimizer-Adam/one_minus_beta2_power", IR_DT_FLOAT32, 1, &d1);
      int sub_in[2] = {one_t, b2t};
      int nsub = ad_node(c, IR_OP_SubFusion, "Default/optimizer-Adam/one_minus_beta2_power", sub_in, 2, &omb, 1);
      ad_seti(c, nsub, "activation_type", IR_ACT_NONE);
      int sq = ad_tensor(c, "Default/optimizer-Adam/sqrt_one_minus_beta2_power", IR_DT_FLOAT32, 1, &d1);
      ad_node(c, IR_OP_Sqrt, "Default/optimizer-Adam/sqrt_one_minus_beta2_power", &omb, 1, &sq, 1);
      int eps_t = ad_tensor(c, "Default/optimizer-Adam/epsilon_t", IR_DT_FLOAT32, 1, &d1);
      int mul_in[2] = {oc.eps, sq};
      int nmul = ad_node(c, IR_OP_MulFusion, "Default/optimizer-Adam/epsilon_t", mul_in, 2, &eps_t, 1);
      ad_seti(c, nmul, "activation_type", IR_ACT_NONE);
      oc.eps = eps_t;
    }
  } else {
    oc.mom = ad_scalar_f32(c, "momentum", s->optimizer == IR_OPT_SGD ? 0.0f : (float)s->momentum);
    if (s->optimizer == IR_OPT_SGD) oc.sgd_stat = ad_scalar_f32(c, "sgd_stat", 0.0f);
  }
  char name[1024];
  for (int k = 0; k < nw && c->st == TOD_OK; k++) {
    int w = weights[k], gw = c->grad[w];
    if (gw < 0) continue;
    const char *wn = AD_T(c, w)->name;
    int out = -1, node = -1;
    if (adam) {
      if (s->optimizer == IR_OPT_ADAMW && s->weight_decay > 0) {
        /* torch.optim.AdamW: w <- w * (1 - lr * wd) before the Adam step. Placed right before
         * the Adam node, after every gradient node that reads w. */
        snprintf(name, sizeof name, "%s/decay-%s", scope, wn);
        int kd = ad_scalar_f32(c, name, (float)(1.0 - s->learning_rate * s->weight_decay));
        int unused;
        char what[600];
        snprintf(what, sizeof what, "decay-%s", wn);
        mul_assign(c, scope, what, w, kd, &oc, &unused, 0);
      }
      int m = param_like(c, "moment1.", w, 0), v = param_like(c, "moment2.", w, 0);
      snprintf(name, sizeof name, "%s/Adam-%s", scope, wn);
      out = ad_tensor(c, name, IR_DT_FLOAT32, 1, &one);
      int in[10] = {w, m, v, b1t, b2t, oc.lr, oc.beta1, oc.beta2, oc.eps, gw};
      node = ad_node(c, IR_OP_Adam, name, in, 10, &out, 1);
      ad_seti(c, node, "use_locking", 0);
      ad_seti(c, node, "use_nesterov", 0);
    } else if (s->optimizer == IR_OPT_SGD) {
      int acc = param_like(c, "accum.", w, 0);
      snprintf(name, sizeof name, "%s/SGD-%s", scope, wn);
      out = ad_tensor(c, name, IR_DT_FLOAT32, 1, &one);
      int in[6] = {w, gw, oc.lr, acc, oc.mom, oc.sgd_stat};
      node = ad_node(c, IR_OP_SGD, name, in, 6, &out, 1);
      ad_seti(c, node, "nesterov", 0);
      ad_setf(c, node, "dampening", 0.0);
      ad_setf(c, node, "weight_decay", s->weight_decay);
    } else {
      if (s->weight_decay > 0) {
        /* torch.optim.SGD's weight decay: g + wd * w, before the momentum buffer. */
        snprintf(name, sizeof name, "%s/weight_decay", scope);
        int kd = -1;
        for (int t = 0; t < c->g->n_tensors; t++)
          if (AD_T(c, t)->name && strcmp(AD_T(c, t)->name, name) == 0) kd = t;
        if (kd < 0) kd = ad_scalar_f32(c, name, (float)s->weight_decay);
        char gn[1024];
        snprintf(gn, sizeof gn, "%s/WeightDecay-%s", scope, wn);
        int d = ad_tensor_like(c, gn, w);
        int min[2] = {w, kd};
        int mn = ad_node(c, IR_OP_MulFusion, gn, min, 2, &d, 1);
        ad_seti(c, mn, "activation_type", IR_ACT_NONE);
        int in2[2] = {gw, d};
        snprintf(gn, sizeof gn, "%s/AddWeightDecay-%s", scope, wn);
        int t = ad_tensor_like(c, gn, w);
        int nn = ad_node(c, IR_OP_AddFusion, gn, in2, 2, &t, 1);
        ad_seti(c, nn, "activation_type", IR_ACT_NONE);
        gw = t;
      }
      int acc = param_like(c, "accum.", w, 0);
      snprintf(name, sizeof name, "%s/ApplyMomentum-%s", scope, wn);
      out = ad_tensor(c, name, IR_DT_FLOAT32, 1, &one);
      int in[5] = {w, acc, oc.lr, gw, oc.mom};
      node = ad_node(c, IR_OP_ApplyMomentum, name, in, 5, &out, 1);
      ad_seti(c, node, "use_nesterov", s->optimizer == IR_OPT_NESTEROV);
      ad_seti(c, node, "use_locking", 0);
      ad_setf(c, node, "gradient_scale", 1.0);
    }
    if (out >= 0) push_output(c, outs, n_outs, out);
  }
  if (adam && c->st == TOD_OK) {
    assign(c, scope, "beta1_power", oc.b1p, b1t, &oc);
    assign(c, scope, "beta2_power", oc.b2p, b2t, &oc);
  }
  for (int k = 0; k < oc.n_assign && c->st == TOD_OK; k++) push_output(c, outs, n_outs, oc.assign_out[k]);
  free(oc.assign_out);
  free(oc.deferred);
  return c->st;
}

/* --- driver ------------------------------------------------------------------------------ */

/* Permuted copies of trainable constants ("w_nhwc") get their source name back once the
 * source-layout original is gone, so checkpoints find them. */
static void restore_names(ir_graph *g) {
  for (int t = 0; t < g->n_tensors; t++) {
    ir_tensor *x = &g->tensors[t];
    if (x->kind != IR_TENSOR_PARAM || !x->name) continue;
    size_t l = strlen(x->name);
    if (l <= 5 || strcmp(x->name + l - 5, "_nhwc") != 0) continue;
    int clash = 0;
    for (int u = 0; u < g->n_tensors && !clash; u++)
      if (u != t && g->tensors[u].name && strlen(g->tensors[u].name) == l - 5 &&
          strncmp(g->tensors[u].name, x->name, l - 5) == 0)
        clash = 1;
    if (!clash) x->name[l - 5] = 0;
  }
}

tod_status ir_pass_autodiff(ir_graph *g, const ir_train_spec *spec, char *err, size_t errlen) {
  ad_ctx c;
  memset(&c, 0, sizeof c);
  c.g = g;
  c.spec = spec;
  c.err = err;
  c.errlen = errlen;
  int *weights = NULL, nw = 0, *outs = NULL, n_outs = 0;
  if (g->n_outputs < 1 || g->n_inputs < 1) {
    snprintf(err, errlen, "training: the model needs at least one input and one output");
    return TOD_NOT_SUPPORT;
  }
  if (ad_grow(&c) != TOD_OK) goto done;
  {
    const ir_tensor *x0 = &g->tensors[g->inputs[0]];
    c.dynamic_batch = x0->ndim >= 1 && x0->dims[0] < 0;
  }
  mark_params(&c);
  compute_req(&c);
  if (ad_rewrite_forward(&c) != TOD_OK) goto done;
  if (ir_toposort(g, err, errlen) != TOD_OK) {
    c.st = TOD_GRAPH_FILE_ERR;
    goto done;
  }
  if (ad_grow(&c) != TOD_OK) goto done;
  compute_req(&c);
  /* Trainable weights in order of first use (the optimizer order of MindSpore's exports). */
  weights = malloc(sizeof(int) * (size_t)(g->n_tensors + 1));
  unsigned char *seen = calloc((size_t)g->n_tensors + 1, 1);
  if (!weights || !seen) {
    free(seen);
    oom(&c);
    goto done;
  }
  for (int i = 0; i < g->n_nodes; i++)
    for (int j = 0; j < g->nodes[i].n_in; j++) {
      int t = g->nodes[i].in[j];
      if (t >= 0 && c.trainable[t] && !seen[t]) {
        seen[t] = 1;
        weights[nw++] = t;
      }
    }
  free(seen);
  if (nw == 0) {
    ad_fail(&c, TOD_PARAM_INVALID, "training: no trainable weight (check the trainable/frozen globs)");
    goto done;
  }
  int n_fwd = g->n_nodes;
  int logits = g->outputs[0];
  if (!c.req[logits]) {
    ad_fail(&c, TOD_PARAM_INVALID, "training: the model output %s does not depend on any trainable weight",
            g->tensors[logits].name);
    goto done;
  }
  int dlogits = -1;
  int loss = build_loss(&c, logits, &dlogits);
  if (loss < 0) goto done;
  c.grad[logits] = dlogits;
  /* Reverse sweep: consumers come after producers, so every gradient is complete (all fan-out
   * contributions summed) when its producer is reached. */
  for (int i = n_fwd - 1; i >= 0 && c.st == TOD_OK; i--) {
    const ir_node *n = &g->nodes[i];
    int dy[64], any = 0;
    if (n->n_out > 64) continue;
    for (int j = 0; j < n->n_out; j++) {
      dy[j] = c.grad[n->out[j]];
      if (dy[j] >= 0) any = 1;
    }
    int need = 0;
    for (int j = 0; j < n->n_in; j++)
      if (n->in[j] >= 0 && c.req[n->in[j]]) need = 1;
    if (!any || !need) continue;
    c.scope = n->name;
    ad_backward_node(&c, i, dy);
  }
  if (c.st) goto done;
  if (add_optimizers(&c, weights, nw, &outs, &n_outs) != TOD_OK) goto done;
  /* Weights without a gradient path to the loss stay constants. */
  for (int k = 0; k < nw; k++)
    if (c.grad[weights[k]] < 0) g->tensors[weights[k]].kind = IR_TENSOR_CONST;
  free(g->outputs);
  g->outputs = NULL;
  g->n_outputs = 0;
  if (ir_add_output(g, loss) != TOD_OK) {
    oom(&c);
    goto done;
  }
  for (int k = 0; k < n_outs; k++)
    if (ir_add_output(g, outs[k]) != TOD_OK) {
      oom(&c);
      goto done;
    }
  restore_names(g);
  if (ir_toposort(g, err, errlen) != TOD_OK) c.st = TOD_GRAPH_FILE_ERR;
done:
  free(weights);
  free(outs);
  free(c.req);
  free(c.trainable);
  free(c.grad);
  free(c.shape_of);
  return c.st;
}
