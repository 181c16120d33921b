/* Activation fusion: RELU and RELU6 after an operator whose schema carries activation_type
 * run inside that operator's store loop instead of a second pass over memory; and the gated
 * forms ONNX spells as two nodes become one Activation: x * Sigmoid(x) (SiLU) is SWISH,
 * x * HardSigmoid(x) (hard-swish before opset 14) is HSWISH, as MindSpore Lite's own
 * converter writes them. Only RELU and RELU6 move into a producer's activation_type, the only
 * ones MindSpore Lite's convolutions apply; the runtime folds the others at load. */
#include <stdio.h>
#include <string.h>

#include "ir/ir_op.h"
#include "ir/passes.h"

static int carries_activation(int op) {
  switch (op) {
    case IR_OP_Conv2DFusion:
    case IR_OP_MatMulFusion:
    case IR_OP_AddFusion:
    case IR_OP_SubFusion:
    case IR_OP_MulFusion:
    case IR_OP_DivFusion:
      return 1;
    default:
      return 0;
  }
}

static int const_scalar(const ir_graph *g, const ir_node *n, int j, float *v) {
  if (j >= n->n_in || n->in[j] < 0) return 0;
  const ir_tensor *t = &g->tensors[n->in[j]];
  if (t->kind != IR_TENSOR_CONST || t->dtype != IR_DT_FLOAT32 || ir_tensor_numel(t) != 1 ||
      t->nbytes < sizeof(float))
    return 0;
  memcpy(v, t->data, sizeof *v);
  return 1;
}

/* The fusable activation type of node n, or 0. */
static int activation_of(const ir_graph *g, const ir_node *n) {
  if (n->op == IR_OP_Activation) {
    int64_t a = ir_attr_int(n, "activation_type", 0);
    return a == IR_ACT_RELU || a == IR_ACT_RELU6 ? (int)a : 0;
  }
  if (n->op == IR_OP_Clip) {
    float lo, hi;
    int has_lo = const_scalar(g, n, 1, &lo), has_hi = const_scalar(g, n, 2, &hi);
    if (n->n_in <= 1) {
      const ir_attr *amin = ir_attr_find(n, "min"), *amax = ir_attr_find(n, "max");
      if (amin) {
        lo = (float)amin->f;
        has_lo = 1;
      }
      if (amax) {
        hi = (float)amax->f;
        has_hi = 1;
      }
    }
    if (has_lo && lo == 0.0f && has_hi && hi == 6.0f) return IR_ACT_RELU6;
    if (has_lo && lo == 0.0f && !has_hi && (n->n_in < 3 || n->in[2] < 0) && !ir_attr_find(n, "max"))
      return IR_ACT_RELU;
  }
  return 0;
}

static int is_graph_output(const ir_graph *g, int t) {
  for (int i = 0; i < g->n_outputs; i++)
    if (g->outputs[i] == t) return 1;
  return 0;
}

static int same_known_shape(const ir_tensor *a, const ir_tensor *b) {
  if (a->ndim < 0 || a->ndim != b->ndim || a->dtype != IR_DT_FLOAT32 || b->dtype != IR_DT_FLOAT32)
    return 0;
  for (int d = 0; d < a->ndim; d++)
    if (a->dims[d] < 0 || a->dims[d] != b->dims[d]) return 0;
  return 1;
}

/* The gated activation (SWISH or HSWISH) that MulFusion node m computes as x * gate(x) with
 * the gate an Activation read by m alone; *gate_node is that Activation. 0 when m is not one. */
static int gated_activation(const ir_graph *g, const ir_node *m, int *gate_node) {
  if (m->op != IR_OP_MulFusion || m->n_in != 2 || m->n_out != 1 || m->in[0] < 0 || m->in[1] < 0 ||
      m->in[0] == m->in[1] || ir_attr_int(m, "activation_type", 0) != IR_ACT_NONE)
    return 0;
  for (int s = 0; s < 2; s++) {
    const int t = m->in[s], x = m->in[1 - s], pi = ir_producer(g, t);
    if (pi < 0) continue;
    const ir_node *p = &g->nodes[pi];
    if (p->op != IR_OP_Activation || p->n_in < 1 || p->n_out != 1 || p->in[0] != x) continue;
    const int64_t a = ir_attr_int(p, "activation_type", 0);
    if ((a != IR_ACT_SIGMOID && a != IR_ACT_HSIGMOID) || ir_use_count(g, t) != 1) continue;
    if (!same_known_shape(&g->tensors[x], &g->tensors[t]) ||
        !same_known_shape(&g->tensors[x], &g->tensors[m->out[0]]))
      continue;
    *gate_node = pi;
    return a == IR_ACT_SIGMOID ? IR_ACT_SWISH : IR_ACT_HSWISH;
  }
  return 0;
}

tod_status ir_pass_fuse_activation(ir_graph *g, char *err, size_t errlen) {
  for (int i = 0; i < g->n_nodes; i++) {
    int gi = -1;
    const int act = gated_activation(g, &g->nodes[i], &gi);
    if (!act) continue;
    ir_node *p = &g->nodes[gi];
    if (ir_attr_set_int(p, "activation_type", act) != TOD_OK) {
      snprintf(err, errlen, "out of memory while fusing activations");
      return TOD_MEMORY_FAILED;
    }
    p->out[0] = g->nodes[i].out[0];
    ir_remove_node(g, i);
    i--;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const ir_node *a = &g->nodes[i];
    int act = activation_of(g, a);
    if (!act || a->n_out != 1) continue;
    int x = a->in[0];
    int pi = ir_producer(g, x);
    if (pi < 0) continue;
    ir_node *p = &g->nodes[pi];
    if (!carries_activation(p->op) || p->n_out != 1) continue;
    if (ir_attr_int(p, "activation_type", 0) != 0) continue;
    if (ir_use_count(g, x) != 1 || is_graph_output(g, x)) continue;
    tod_status st = ir_attr_set_int(p, "activation_type", act);
    if (st != TOD_OK) {
      snprintf(err, errlen, "out of memory while fusing activations");
      return st;
    }
    p->out[0] = a->out[0];
    ir_remove_node(g, i);
    i--;
  }
  return TOD_OK;
}
