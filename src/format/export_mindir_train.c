/* MINDIR export of a training graph, TrainOneStepCell style (../shared/formats/mindir.md,
 * "Training graphs"): the loss, MindSpore's gradient primitives and the optimizer primitives
 * (Adam, ApplyMomentum, SGD, AdamWeightDecay, Assign), training-mode BatchNorm and its gradient,
 * with MindSpore's side-effect plumbing. Every Parameter an update writes is passed to the update
 * itself and read elsewhere through Load(param, U); each update takes the current U monad last
 * and is followed by UpdateState;
 * the graph returns Depend(loss, Depend(MakeTuple(updates), U)). Gradient primitives read and
 * write NCHW (state 1 of the runtime's channel-last tensors), weight gradients KCHW, so the
 * importer (mindir_ops.c) maps each back onto the runtime's kernels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/export_mindir_internal.h"
#include "ir/ir_op.h"

int mx_is_update_op(int op) {
  return op == IR_OP_Adam || op == IR_OP_ApplyMomentum || op == IR_OP_SGD || op == IR_OP_AdamWeightDecay || op == IR_OP_Assign;
}

int mx_is_train_op(int op) {
  switch (op) {
    case IR_OP_SparseSoftmaxCrossEntropyWithLogits:
    case IR_OP_SoftmaxCrossEntropyWithLogits:
    case IR_OP_BiasAddGrad:
    case IR_OP_ActivationGrad:
    case IR_OP_AbsGrad:
    case IR_OP_MaxPoolGrad:
    case IR_OP_AvgPoolGrad:
    case IR_OP_Conv2DBackpropFilterFusion:
    case IR_OP_Conv2DBackpropInputFusion:
    case IR_OP_BatchNormGrad:
    case IR_OP_Shape:
      return 1;
    default:
      return mx_is_update_op(op);
  }
}

/* Inputs shaped like the weight (input 0): state, gradient, value. */
int mx_state_inputs(const ir_node *n, int *idx, int cap) {
  static const int adam[] = {1, 2, 9}, adamw[] = {1, 2, 8}, mom[] = {1, 3}, sgd[] = {1, 3, 5}, asg[] = {1};
  const int *s = NULL;
  int k = 0;
  switch (n->op) {
    case IR_OP_Adam: s = adam, k = 3; break;
    case IR_OP_AdamWeightDecay: s = adamw, k = 3; break;
    case IR_OP_ApplyMomentum: s = mom, k = 2; break;
    case IR_OP_SGD: s = sgd, k = 3; break;
    case IR_OP_Assign: s = asg, k = 1; break;
    default: return 0;
  }
  int m = 0;
  for (int j = 0; j < k && m < cap; j++)
    if (s[j] < n->n_in) idx[m++] = s[j];
  return m;
}

/* Inputs an update writes in place: the weight and its state (not the gradient). */
static int is_written(const ir_node *n, int j) {
  switch (n->op) {
    case IR_OP_Adam:
    case IR_OP_AdamWeightDecay: return j <= 2;
    case IR_OP_ApplyMomentum: return j <= 1;
    case IR_OP_SGD: return j == 0 || j == 3 || j == 5;
    case IR_OP_Assign: return j == 0;
    default: return 0;
  }
}

static char *dupname(xctx *x, const char *s) {
  char *r = s ? strdup(s) : NULL;
  if (!r) mx_fail(x, TOD_MEMORY_FAILED, "out of memory");
  return r;
}

/* A Constant node holding a U monad. */
static char *const_umonad(xctx *x) {
  char *out = mx_next_name(x, "Constant");
  if (!out) return NULL;
  size_t nm = pb_put_begin(&x->nodes, 1);
  pb_put_string(&x->nodes, 2, out);
  pb_put_string(&x->nodes, 3, out);
  pb_put_string(&x->nodes, 4, "Constant");
  size_t m = pb_put_begin(&x->nodes, 5);
  pb_put_string(&x->nodes, 1, "value");
  pb_put_uint(&x->nodes, 16, AT_UMONAD);
  pb_put_end(&x->nodes, m);
  pb_put_end(&x->nodes, nm);
  return out;
}

/* A Constant int32 tensor [1] (AssignAdd's increment). */
static char *const_i32(xctx *x, int32_t v) {
  char *out = mx_next_name(x, "Constant");
  if (!out) return NULL;
  size_t nm = pb_put_begin(&x->nodes, 1);
  pb_put_string(&x->nodes, 2, out);
  pb_put_string(&x->nodes, 3, out);
  pb_put_string(&x->nodes, 4, "Constant");
  size_t m = pb_put_begin(&x->nodes, 5);
  pb_put_string(&x->nodes, 1, "value");
  pb_put_uint(&x->nodes, 16, AT_TENSORS);
  size_t tm = pb_put_begin(&x->nodes, 12);
  pb_put_uint(&x->nodes, 1, 1);
  pb_put_uint(&x->nodes, 2, 6);
  pb_put_string(&x->nodes, 7, "value0");
  uint8_t b[4];
  memcpy(b, &v, 4); /* little-endian host (the model says little_endian) */
  pb_put_bytes(&x->nodes, 9, b, 4);
  pb_put_end(&x->nodes, tm);
  pb_put_end(&x->nodes, m);
  pb_put_end(&x->nodes, nm);
  return out;
}

/* u <- UpdateState(u, after). */
static void update_state(xctx *x, const char *after, const char *scope) {
  const char *in[2] = {x->umonad, after};
  char *u = mx_emit(x, "UpdateState", scope, in, 2, NULL, NULL, 0);
  if (!u) return;
  free(x->umonad);
  x->umonad = u;
}

tod_status mx_train_begin(xctx *x) {
  ir_graph *g = x->g;
  x->umonad = const_umonad(x);
  x->pname = calloc((size_t)(g->n_tensors ? g->n_tensors : 1), sizeof(char *));
  char *written = calloc((size_t)(g->n_tensors ? g->n_tensors : 1), 1);
  char *read = calloc((size_t)(g->n_tensors ? g->n_tensors : 1), 1);
  if (!x->umonad || !x->pname || !written || !read) {
    free(written);
    free(read);
    return mx_fail(x, TOD_MEMORY_FAILED, "out of memory");
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const ir_node *n = &g->nodes[i];
    for (int j = 0; j < n->n_in; j++) {
      int t = n->in[j];
      if (t < 0) continue;
      if (mx_is_update_op(n->op) && is_written(n, j)) written[t] = 1;
      else read[t] = 1;
    }
  }
  for (int t = 0; t < g->n_tensors && x->st == TOD_OK; t++) {
    if (!written[t]) continue;
    if (!x->ename[t] || (g->tensors[t].kind != IR_TENSOR_CONST && g->tensors[t].kind != IR_TENSOR_PARAM)) {
      mx_fail(x, TOD_NOT_SUPPORT, "tensor '%s' is updated in place but is not a parameter", g->tensors[t].name);
      break;
    }
    x->pname[t] = x->ename[t];
    x->ename[t] = NULL;
    if (read[t]) {
      /* Other readers see the value loaded before this step's updates. */
      const char *in[2] = {x->pname[t], x->umonad};
      x->ename[t] = mx_emit(x, "Load", "Default/Load", in, 2, NULL, &g->tensors[t], x->state[t]);
    } else {
      x->ename[t] = dupname(x, x->pname[t]);
    }
  }
  free(written);
  free(read);
  return x->st;
}

static tod_status update_node(xctx *x, const ir_node *n) {
  ir_graph *g = x->g;
  const char *prim;
  pb_buf a = {0};
  switch (n->op) {
    case IR_OP_Adam:
      prim = "Adam";
      mx_a_int(&a, 3, "use_locking", ir_attr_int(n, "use_locking", 0) != 0, AT_BOOL);
      mx_a_int(&a, 3, "use_nesterov", ir_attr_int(n, "use_nesterov", 0) != 0, AT_BOOL);
      break;
    case IR_OP_ApplyMomentum:
      prim = "ApplyMomentum";
      mx_a_int(&a, 3, "use_nesterov", ir_attr_int(n, "use_nesterov", 0) != 0, AT_BOOL);
      mx_a_int(&a, 3, "use_locking", ir_attr_int(n, "use_locking", 0) != 0, AT_BOOL);
      mx_a_float(&a, 3, "gradient_scale", ir_attr_float(n, "gradient_scale", 1.0));
      break;
    case IR_OP_SGD:
      prim = "SGD";
      mx_a_float(&a, 3, "dampening", ir_attr_float(n, "dampening", 0.0));
      mx_a_float(&a, 3, "weight_decay", ir_attr_float(n, "weight_decay", 0.0));
      mx_a_int(&a, 3, "nesterov", ir_attr_int(n, "nesterov", 0) != 0, AT_BOOL);
      break;
    case IR_OP_AdamWeightDecay: prim = "AdamWeightDecay"; break;
    default: prim = "Assign"; break;
  }
  mx_a_int(&a, 3, "side_effect_mem", 1, AT_BOOL);
  int nin = n->n_in < 15 ? n->n_in : 15, w = n->n_in > 0 ? n->in[0] : -1;
  if (w < 0 || n->n_in > 15) {
    pb_buf_free(&a);
    return mx_fail(x, TOD_NOT_SUPPORT, "node %s: %s with %d inputs", n->name, prim, n->n_in);
  }
  int wst = x->state[w], idx[8], ks = mx_state_inputs(n, idx, 8);
  const char *in[16];
  char *tmp[16] = {0};
  for (int j = 0; j < nin && x->st == TOD_OK; j++) {
    int t = n->in[j], shaped = 0;
    for (int k = 0; k < ks; k++) shaped |= idx[k] == j;
    if (t < 0) {
      mx_fail(x, TOD_NOT_SUPPORT, "node %s: %s without input %d", n->name, prim, j);
    } else if (is_written(n, j)) {
      in[j] = x->pname[t];
      if (!in[j] || (shaped && g->tensors[t].ndim == 4 && x->state[t] != wst))
        mx_fail(x, TOD_NOT_SUPPORT, "node %s: state '%s' does not follow its weight's layout", n->name, g->tensors[t].name);
    } else {
      in[j] = mx_want(x, t, shaped && g->tensors[t].ndim == 4 ? wst : 0, n->name, &tmp[j]);
    }
  }
  in[nin] = x->umonad;
  char *out = x->st == TOD_OK ? mx_emit(x, prim, n->name, in, nin + 1, &a, n->n_out ? &g->tensors[n->out[0]] : NULL, 0) : NULL;
  pb_buf_free(&a);
  for (int j = 0; j < 16; j++) free(tmp[j]);
  if (!out) return x->st != TOD_OK ? x->st : mx_fail(x, TOD_MEMORY_FAILED, "out of memory");
  update_state(x, out, n->name);
  if (n->op != IR_OP_Assign) {
    char **u = realloc(x->upd, sizeof(char *) * (size_t)(x->n_upd + 1));
    if (!u) {
      free(out);
      return mx_fail(x, TOD_MEMORY_FAILED, "out of memory");
    }
    x->upd = u;
    x->upd[x->n_upd] = dupname(x, out);
    if (x->upd[x->n_upd]) x->n_upd++;
  }
  if (n->n_out > 0) mx_set_out(x, n->out[0], out, 0);
  else free(out);
  return x->st;
}

static const char *act_grad_prim(int64_t type, int *swapped) {
  *swapped = 0;
  switch (type) {
    case IR_ACT_RELU: return "ReluGrad";
    case IR_ACT_RELU6: return "ReLU6Grad";
    case IR_ACT_SIGMOID: *swapped = 1; return "SigmoidGrad";
    case IR_ACT_TANH: *swapped = 1; return "TanhGrad";
    default: return NULL;
  }
}

tod_status mx_export_train_node(xctx *x, int i) {
  ir_graph *g = x->g;
  const ir_node *n = &g->nodes[i];
  if (mx_is_update_op(n->op)) return update_node(x, n);
  const char *scope = n->name;
  const ir_tensor *y = n->n_out ? &g->tensors[n->out[0]] : NULL;
  char *tmp[4] = {0};
  const char *in[4] = {0};
  pb_buf a = {0};
  char *out = NULL, *c = NULL;
  int ost = 0;
  if (n->n_in < 1 || n->n_out < 1 || n->in[0] < 0)
    return mx_fail(x, TOD_GRAPH_FILE_ERR, "node %s has no input or output", n->name);
  for (int j = 0; j < n->n_in && j < 4; j++)
    if (n->in[j] < 0) return mx_fail(x, TOD_GRAPH_FILE_ERR, "node %s: input %d is missing", n->name, j);
  switch (n->op) {
    case IR_OP_SparseSoftmaxCrossEntropyWithLogits:
      if (n->n_in < 2) return mx_fail(x, TOD_GRAPH_FILE_ERR, "node %s has %d inputs", n->name, n->n_in);
      in[0] = mx_want(x, n->in[0], 0, scope, &tmp[0]);
      in[1] = mx_want(x, n->in[1], 0, scope, &tmp[1]);
      mx_a_int(&a, 3, "is_grad", ir_attr_int(n, "is_grad", 0) != 0, AT_BOOL);
      mx_a_float(&a, 3, "sens", 1.0);
      out = mx_emit(x, "SparseSoftmaxCrossEntropyWithLogits", scope, in, 2, &a, y, 0);
      break;
    case IR_OP_SoftmaxCrossEntropyWithLogits: {
      if (n->n_in < 2 || n->n_out < 2) return mx_fail(x, TOD_GRAPH_FILE_ERR, "node %s has %d inputs", n->name, n->n_in);
      in[0] = mx_want(x, n->in[0], 0, scope, &tmp[0]);
      in[1] = mx_want(x, n->in[1], 0, scope, &tmp[1]);
      const ir_tensor *shp[2] = {&g->tensors[n->out[0]], &g->tensors[n->out[1]]};
      static const int flat[2] = {0, 0};
      char *tup = mx_emit_tuple(x, "SoftmaxCrossEntropyWithLogits", scope, in, 2, &a, shp, flat, 2);
      for (int k = 1; k >= 0 && tup; k--) {
        char *idx = mx_const_int(x, k);
        const char *gi[2] = {tup, idx};
        char *o = mx_emit(x, "TupleGetItem", scope, gi, 2, NULL, &g->tensors[n->out[k]], 0);
        free(idx);
        if (k == 1 && o) mx_set_out(x, n->out[1], o, 0);
        else out = o;
      }
      free(tup);
      break;
    }
    case IR_OP_BiasAddGrad: {
      int r = g->tensors[n->in[0]].ndim;
      if (r != 2 && r != 4) return mx_fail(x, TOD_NOT_SUPPORT, "node %s: BiasAddGrad of rank %d", n->name, r);
      in[0] = mx_want(x, n->in[0], r == 4, scope, &tmp[0]);
      mx_a_str(&a, 3, "format", "NCHW");
      out = mx_emit(x, "BiasAddGrad", scope, in, 1, &a, y, 0);
      break;
    }
    case IR_OP_ActivationGrad: {
      int sw;
      const char *prim = act_grad_prim(ir_attr_int(n, "activation_type", 0), &sw);
      if (!prim)
        return mx_fail(x, TOD_NOT_SUPPORT, "operator ActivationGrad of activation type %lld (node %s) has no MindSpore counterpart in the exporter",
                       (long long)ir_attr_int(n, "activation_type", 0), n->name);
      if (n->n_in < 2) return mx_fail(x, TOD_GRAPH_FILE_ERR, "node %s has %d inputs", n->name, n->n_in);
      int d = n->in[0], t = n->in[1];
      ost = (x->state[d] || x->state[t]) && g->tensors[d].ndim == 4 && g->tensors[t].ndim == 4;
      const char *dn = mx_want(x, d, ost, scope, &tmp[0]), *tn = mx_want(x, t, ost, scope, &tmp[1]);
      in[0] = sw ? tn : dn;
      in[1] = sw ? dn : tn;
      out = mx_emit(x, prim, scope, in, 2, NULL, y, ost);
      break;
    }
    case IR_OP_AbsGrad: {
      /* AbsGrad(x, dout): elementwise, in the operands' common layout. */
      if (n->n_in < 2) return mx_fail(x, TOD_GRAPH_FILE_ERR, "node %s has %d inputs", n->name, n->n_in);
      int a0 = n->in[0], a1 = n->in[1];
      ost = (x->state[a0] || x->state[a1]) && g->tensors[a0].ndim == 4 && g->tensors[a1].ndim == 4;
      in[0] = mx_want(x, a0, ost, scope, &tmp[0]);
      in[1] = mx_want(x, a1, ost, scope, &tmp[1]);
      out = mx_emit(x, "AbsGrad", scope, in, 2, NULL, y, ost);
      break;
    }
    case IR_OP_MaxPoolGrad:
    case IR_OP_AvgPoolGrad:
      if (n->n_in < 3) return mx_fail(x, TOD_GRAPH_FILE_ERR, "node %s has %d inputs", n->name, n->n_in);
      if (ir_attr_int(n, "format", IR_FMT_NHWC) != IR_FMT_NHWC)
        return mx_fail(x, TOD_NOT_SUPPORT, "node %s: pooling gradient that is not channel-last", n->name);
      for (int j = 0; j < 3; j++) in[j] = mx_want(x, n->in[j], 1, scope, &tmp[j]);
      mx_pool_attrs(n, n->op == IR_OP_AvgPoolGrad, &a);
      out = mx_emit(x, n->op == IR_OP_MaxPoolGrad ? "MaxPoolGrad" : "AvgPoolGrad", scope, in, 3, &a, y, 1);
      ost = 1;
      break;
    case IR_OP_Conv2DBackpropFilterFusion:
    case IR_OP_Conv2DBackpropInputFusion: {
      int filt = n->op == IR_OP_Conv2DBackpropFilterFusion;
      /* The runtime's kernels are channel-last whatever `format` says (for Conv2DBackpropInput it
       * only orders input_size, docs/training.md). */
      if (n->n_in < 2 || !y || y->ndim != 4)
        return mx_fail(x, TOD_NOT_SUPPORT, "node %s: %s that is not 4-D", n->name, ir_op_name(n->op));
      for (int k = 0; k < 4; k++)
        if (y->dims[k] < 0) return mx_fail(x, TOD_NOT_SUPPORT, "node %s: output shape unknown", n->name);
      in[0] = mx_want(x, n->in[0], 1, scope, &tmp[0]);
      in[1] = mx_want(x, n->in[1], 1, scope, &tmp[1]); /* x NCHW, or the weight KCHW */
      /* filter_sizes (O, I/g, kh, kw) of the KHWC gradient; input_sizes (N, C, H, W). */
      int64_t sz[4] = {y->dims[0], y->dims[3], y->dims[1], y->dims[2]};
      c = mx_const_tuple(x, sz, 4);
      in[2] = c;
      const ir_tensor *w = &g->tensors[n->in[1]];
      mx_conv_attrs(n, ir_attr_int(n, "out_channel", filt ? y->dims[0] : w->ndim == 4 ? w->dims[0] : 0), 1, &a);
      out = mx_emit(x, filt ? "Conv2DBackpropFilter" : "Conv2DBackpropInput", scope, in, 3, &a, y, 1);
      ost = 1;
      break;
    }
    case IR_OP_FusedBatchNorm:
    case IR_OP_BatchNormGrad: {
      /* BatchNorm(x, scale, offset, mean, var, U) in training mode -> (y, batch_mean, batch_var,
       * reserve_1, reserve_2), updating mean/var in place (a side effect on the U chain);
       * BatchNormGrad(dout, x, scale, batch_mean, batch_var) -> (dx, dscale, doffset). */
      int bn = n->op == IR_OP_FusedBatchNorm;
      if (n->n_in < 5 || n->n_out < (bn ? 5 : 3) || g->tensors[n->in[0]].ndim != 4)
        return mx_fail(x, TOD_NOT_SUPPORT, "node %s: %s that is not 4-D with 5 inputs", n->name, ir_op_name(n->op));
      if (bn && x->train == 0) return mx_fail(x, TOD_NOT_SUPPORT, "node %s: training-mode BatchNorm outside a training graph", n->name);
      for (int k = 1; bn && k < 3; k++)
        if (n->out[k] >= 0 && ir_use_count(g, n->out[k]) > 0)
          return mx_fail(x, TOD_NOT_SUPPORT, "node %s: FusedBatchNorm output %d is read", n->name, k);
      const char *bi[6];
      bi[0] = mx_want(x, n->in[0], 1, scope, &tmp[0]);
      bi[1] = bn ? x->ename[n->in[1]] : mx_want(x, n->in[1], 1, scope, &tmp[1]);
      for (int k = 2; k < 5; k++) bi[k] = x->ename[n->in[k]];
      bi[5] = x->umonad;
      mx_a_int(&a, 3, "is_training", 1, AT_BOOL);
      mx_a_float(&a, 3, "epsilon", ir_attr_float(n, "epsilon", 1e-5));
      if (bn) mx_a_float(&a, 3, "momentum", ir_attr_float(n, "momentum", 0.1));
      mx_a_str(&a, 3, "format", "NCHW");
      if (bn) mx_a_int(&a, 3, "side_effect_mem", 1, AT_BOOL);
      static const int bn_out[5] = {0, 3, 4, 3, 4}, grad_out[3] = {0, 1, 2}, nchw[5] = {1, 0, 0, 0, 0};
      const ir_tensor *shp[5];
      for (int k = 0; k < (bn ? 5 : 3); k++) shp[k] = &g->tensors[n->out[(bn ? bn_out : grad_out)[k]]];
      char *tup = mx_emit_tuple(x, bn ? "BatchNorm" : "BatchNormGrad", scope, bi, bn ? 6 : 5, &a, shp, nchw, bn ? 5 : 3);
      if (tup && bn) update_state(x, tup, scope);
      for (int k = 2; k >= 0 && tup; k--) {
        int t = (bn ? bn_out : grad_out)[k];
        char *idx = mx_const_int(x, k);
        const char *gi[2] = {tup, idx};
        char *o = mx_emit(x, "TupleGetItem", scope, gi, 2, NULL, &g->tensors[n->out[t]], k == 0);
        free(idx);
        if (k > 0 && o) mx_set_out(x, n->out[t], o, 0);
        else out = o;
      }
      free(tup);
      ost = 1;
      break;
    }
    case IR_OP_Shape: {
      /* Static shapes: the value MindSpore's compiler would fold the Shape into. */
      const ir_tensor *s = &g->tensors[n->in[0]];
      if (s->ndim < 0) return mx_fail(x, TOD_NOT_SUPPORT, "node %s: Shape of an unknown shape", n->name);
      out = mx_const_tuple(x, s->dims, s->ndim);
      break;
    }
    default:
      return mx_fail(x, TOD_NOT_SUPPORT, "operator %s (node %s) has no MindSpore counterpart in the exporter", ir_op_name(n->op), n->name);
  }
  pb_buf_free(&a);
  free(c);
  for (int j = 0; j < 4; j++) free(tmp[j]);
  if (!out) return x->st != TOD_OK ? x->st : mx_fail(x, TOD_MEMORY_FAILED, "out of memory");
  mx_set_out(x, n->out[0], out, ost);
  return x->st;
}

char *mx_train_result(xctx *x) {
  ir_graph *g = x->g;
  if (g->n_outputs < 1 || !x->n_upd) {
    mx_fail(x, TOD_NOT_SUPPORT, "the training graph has no loss output or no optimizer");
    return NULL;
  }
  /* global_step advances once per step, as MindSpore's optimizers do (AssignAdd on the int32
   * Parameter written by mindir_export). */
  char gs[1100];
  snprintf(gs, sizeof gs, "%s:global_step", x->gname);
  char *one = const_i32(x, 1);
  const char *ai[3] = {gs, one, x->umonad};
  pb_buf a = {0};
  mx_a_int(&a, 3, "side_effect_mem", 1, AT_BOOL);
  char *inc = one ? mx_emit(x, "AssignAdd", "Default/optimizer/AssignAdd", ai, 3, &a, NULL, 0) : NULL;
  pb_buf_free(&a);
  free(one);
  if (inc) update_state(x, inc, "Default/optimizer");
  free(inc);
  char *tmp = NULL;
  const char *loss = mx_want(x, g->outputs[0], 0, "Default", &tmp);
  char *tup = mx_emit(x, "MakeTuple", "Default/optimizer", (const char *const *)x->upd, x->n_upd, NULL, NULL, 0);
  const char *di[2] = {tup, x->umonad};
  char *dep = tup ? mx_emit(x, "Depend", "Default/optimizer", di, 2, NULL, NULL, 0) : NULL;
  const char *ri[2] = {loss, dep};
  char *res = dep && loss ? mx_emit(x, "Depend", "Default", ri, 2, NULL, &g->tensors[g->outputs[0]], 0) : NULL;
  free(tup);
  free(dep);
  free(tmp);
  return res;
}

void mx_train_free(xctx *x) {
  for (int t = 0; x->pname && t < x->g->n_tensors; t++) free(x->pname[t]);
  free(x->pname);
  for (int k = 0; k < x->n_upd; k++) free(x->upd[k]);
  free(x->upd);
  free(x->umonad);
  x->pname = NULL;
  x->upd = NULL;
  x->umonad = NULL;
}
