/* Activation fusion: RELU and RELU6 after an operator whose schema carries activation_type
 * run inside that operator's store loop instead of a second pass over memory. */
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

tod_status ir_pass_fuse_activation(ir_graph *g, char *err, size_t errlen) {
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
