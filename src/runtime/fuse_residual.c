/* See fuse_residual.h. */
#include "runtime/fuse_residual.h"

#include <stdlib.h>

#include "ir/ir.h"
#include "ir/ir_op.h"

/* Activations a kernel can apply as the clamp of its store. */
static int clamp_act(int64_t act) {
  return act == IR_ACT_NONE || act == IR_ACT_RELU || act == IR_ACT_RELU6;
}

/* Training models: a FusedBatchNorm in training mode whose output only a RELU or RELU6
 * Activation reads. The Activation's output (not the BatchNorm's) is what the backward pass
 * keeps (ActivationGrad takes it; BatchNormGrad takes the BatchNorm's input), so the
 * BatchNorm can store the clamped values there directly: one pass over the feature map less
 * in each direction, and one feature map less to keep. */
static int bn_act_source(const ir_graph *g, const ir_node *a, const int *producer,
                         const int *readers, int i) {
  if (a->op != IR_OP_Activation || a->n_in < 1 || a->n_out != 1 || a->in[0] < 0) return -1;
  const int64_t act = ir_attr_int(a, "activation_type", 0);
  if (act != IR_ACT_RELU && act != IR_ACT_RELU6) return -1;
  const int t = a->in[0], j = producer[t];
  if (j < 0 || j >= i || readers[t] != 1) return -1;
  const ir_node *b = &g->nodes[j];
  if (b->op != IR_OP_FusedBatchNorm || b->out[0] != t || ir_attr_int(b, "mode", 0) == 0)
    return -1;
  return j;
}

/* Inference models: an Activation whose input is the output of a Conv2DFusion without an
 * activation of its own, read by nothing else. The convolution applies it in its store loop
 * (fused_act.h) while the tile is in cache; EfficientNet's SiLU (SWISH) and MobileNetV3's
 * hard-swish follow almost every convolution, and MindSpore Lite's convolutions take only
 * RELU / RELU6 in activation_type, so the file keeps them as Activation nodes. Only types
 * without parameters fold: fused_act.h computes each from the input alone. */
static int conv_act_source(const ir_graph *g, const ir_node *a, const int *producer,
                           const int *readers, int i) {
  if (a->op != IR_OP_Activation || a->n_in < 1 || a->n_out != 1 || a->in[0] < 0) return -1;
  switch (ir_attr_int(a, "activation_type", 0)) {
  case IR_ACT_RELU:
  case IR_ACT_RELU6:
  case IR_ACT_SIGMOID:
  case IR_ACT_TANH:
  case IR_ACT_SWISH:
  case IR_ACT_HSWISH:
  case IR_ACT_HSIGMOID: break;
  default: return -1;
  }
  const int t = a->in[0], j = producer[t];
  if (j < 0 || j >= i || readers[t] != 1) return -1;
  const ir_node *c = &g->nodes[j];
  if (c->op != IR_OP_Conv2DFusion || c->n_out != 1 || c->out[0] != t ||
      ir_attr_int(c, "activation_type", 0) != IR_ACT_NONE)
    return -1;
  return j;
}

void fuse_residual_find(tod_model *m) {
  const ir_graph *g = &m->g;
  if (g->n_nodes == 0) return;
  int *producer = malloc((size_t)g->n_tensors * sizeof *producer);
  int *readers = malloc((size_t)g->n_tensors * sizeof *readers);
  m->fuse_conv = malloc((size_t)g->n_nodes * sizeof *m->fuse_conv);
  if (!producer || !readers || !m->fuse_conv) {
    free(m->fuse_conv);
    m->fuse_conv = NULL;
    free(producer);
    free(readers);
    return;
  }
  ir_graph_uses(g, producer, readers);
  for (int i = 0; i < g->n_nodes; i++) m->fuse_conv[i] = -1;
  char *taken = calloc((size_t)g->n_nodes, 1);
  for (int i = 0; taken && i < g->n_nodes; i++) {
    const ir_node *a = &g->nodes[i];
    if (m->trainable) {
      const int j = bn_act_source(g, a, producer, readers, i);
      if (j >= 0 && !taken[j]) {
        m->fuse_conv[i] = j;
        taken[j] = 1;
      }
      continue;
    }
    const int ca = conv_act_source(g, a, producer, readers, i);
    if (ca >= 0) {
      if (!taken[ca]) {
        m->fuse_conv[i] = ca;
        taken[ca] = 1;
      }
      continue;
    }
    if (a->op != IR_OP_AddFusion || a->n_in != 2 || a->n_out != 1 || a->in[0] < 0 ||
        a->in[1] < 0 || a->in[0] == a->in[1] || !clamp_act(ir_attr_int(a, "activation_type", 0)))
      continue;
    /* The later-produced operand's convolution: the other operand then exists by its step. */
    int best = -1;
    for (int s = 0; s < 2; s++) {
      const int t = a->in[s], r = a->in[1 - s], j = producer[t];
      if (j < 0 || j >= i || taken[j] || readers[t] != 1) continue;
      const ir_node *c = &g->nodes[j];
      if (c->op != IR_OP_Conv2DFusion || c->n_out != 1 ||
          ir_attr_int(c, "activation_type", 0) != IR_ACT_NONE)
        continue;
      const ir_tensor *rt = &g->tensors[r];
      if (rt->kind != IR_TENSOR_ACT && rt->kind != IR_TENSOR_INPUT) continue;
      if (producer[r] >= j) continue;
      if (best < 0 || j > best) best = j;
    }
    if (best >= 0) {
      m->fuse_conv[i] = best;
      taken[best] = 1;
    }
  }
  free(taken);
  free(producer);
  free(readers);
}

static int same_shape(const tod_view *a, const tod_view *b) {
  if (a->ndim != b->ndim || a->dtype != b->dtype) return 0;
  for (int d = 0; d < a->ndim; d++)
    if (a->dims[d] != b->dims[d]) return 0;
  return 1;
}

/* The Add's operand that is not the convolution's output. */
static int residual_of(const ir_graph *g, int add, int conv) {
  const ir_node *a = &g->nodes[add];
  return a->in[0] == g->nodes[conv].out[0] ? a->in[1] : a->in[0];
}

void fuse_residual_prepare(tod_model *m) {
  if (!m->fuse_conv) return;
  const ir_graph *g = &m->g;
  for (int i = 0; i < g->n_nodes; i++) {
    const int j = m->fuse_conv[i];
    if (j < 0) continue;
    kernel *k = &m->kernels[j];
    const ir_node *a = &g->nodes[i];
    if (a->op == IR_OP_Activation) { /* BatchNorm or Conv2DFusion -> Activation */
      const tod_view *y = &m->views[g->nodes[j].out[0]], *o = &m->views[a->out[0]];
      const int ok = !m->skip[i] && !m->skip[j] && y->dtype == IR_DT_FLOAT32 && same_shape(y, o);
      k->post_res = NULL;
      k->post_out = ok ? o : NULL;
      k->post_act = ok ? (int)ir_attr_int(a, "activation_type", 0) : 0;
      if (ok) m->skip[i] = 1;
      continue;
    }
    const int r = residual_of(g, i, j);
    const tod_view *y = &m->views[g->nodes[j].out[0]], *rv = &m->views[r],
                   *o = &m->views[a->out[0]];
    const int ok = !m->skip[i] && !m->skip[j] && y->dtype == IR_DT_FLOAT32 && y->ndim == 4 &&
                   same_shape(y, rv) && same_shape(y, o);
    k->post_res = ok ? rv : NULL;
    k->post_out = ok ? o : NULL;
    k->post_act = ok ? (int)ir_attr_int(a, "activation_type", 0) : 0;
    if (ok) m->skip[i] = 1;
  }
}

static void extend(plan_item *it, int step) {
  if (it->first > step) it->first = step;
  if (it->last < step) it->last = step;
}

void fuse_residual_lifetimes(const tod_model *m, plan_item *items) {
  if (!m->fuse_conv) return;
  const ir_graph *g = &m->g;
  for (int i = 0; i < g->n_nodes; i++) {
    const int j = m->fuse_conv[i];
    if (j < 0 || !m->kernels[j].post_out) continue;
    if (g->nodes[i].op != IR_OP_Activation) extend(&items[residual_of(g, i, j)], j);
    extend(&items[g->nodes[i].out[0]], j);
    items[g->nodes[j].out[0]].last = -1; /* never written: no arena space */
  }
}
