/* Activation fusion: RELU and RELU6 after an operator whose schema carries activation_type
 * run inside that operator's store loop instead of a second pass over memory; and the gated
 * forms ONNX spells as two nodes become one Activation: x * Sigmoid(x) (SiLU) is SWISH,
 * x * HardSigmoid(x) (hard-swish before opset 14) is HSWISH, as MindSpore Lite's own
 * converter writes them. Only RELU and RELU6 move into a producer's activation_type, the only
 * ones MindSpore Lite's convolutions apply; the runtime folds the others at load. */
#include <stdio.h>
#include <stdlib.h>
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
static int gated_activation(const ir_graph *g, const ir_node *m, const int *producer, const int *readers,
                            int *gate_node) {
  if (m->op != IR_OP_MulFusion || m->n_in != 2 || m->n_out != 1 || m->in[0] < 0 || m->in[1] < 0 ||
      m->in[0] == m->in[1] || ir_attr_int(m, "activation_type", 0) != IR_ACT_NONE)
    return 0;
  for (int s = 0; s < 2; s++) {
    const int t = m->in[s], x = m->in[1 - s], pi = producer[t];
    if (pi < 0) continue;
    const ir_node *p = &g->nodes[pi];
    if (p->op != IR_OP_Activation || p->n_in < 1 || p->n_out != 1 || p->in[0] != x) continue;
    const int64_t a = ir_attr_int(p, "activation_type", 0);
    if ((a != IR_ACT_SIGMOID && a != IR_ACT_HSIGMOID) || readers[t] != 1) continue;
    if (!same_known_shape(&g->tensors[x], &g->tensors[t]) ||
        !same_known_shape(&g->tensors[x], &g->tensors[m->out[0]]))
      continue;
    *gate_node = pi;
    return a == IR_ACT_SIGMOID ? IR_ACT_SWISH : IR_ACT_HSWISH;
  }
  return 0;
}

/* Node `from` is folded into node `into`, which now produces from's only output; the tensors
 * from read lose a reader. */
static void absorb(ir_graph *g, int into, int from, int *producer, int *readers, char *dead) {
  const ir_node *f = &g->nodes[from];
  for (int j = 0; j < f->n_in; j++)
    if (f->in[j] >= 0) readers[f->in[j]]--;
  g->nodes[into].out[0] = f->out[0];
  producer[f->out[0]] = into;
  dead[from] = 1;
}

/* Producers and reader counts are computed once and kept up to date, and folded nodes are
 * removed together at the end: linear in the graph's size. */
tod_status ir_pass_fuse_activation(ir_graph *g, char *err, size_t errlen) {
  int nt = g->n_tensors, nn = g->n_nodes;
  int *producer = malloc(sizeof(int) * (size_t)(nt ? nt : 1));
  int *readers = malloc(sizeof(int) * (size_t)(nt ? nt : 1));
  char *dead = calloc((size_t)(nn ? nn : 1), 1);
  tod_status st = TOD_OK;
  if (!producer || !readers || !dead) {
    st = TOD_MEMORY_FAILED;
    goto out;
  }
  ir_graph_uses(g, producer, readers);
  for (int i = 0; i < nn; i++) {
    int gi = -1;
    const int act = gated_activation(g, &g->nodes[i], producer, readers, &gi);
    if (!act || dead[gi]) continue;
    if ((st = ir_attr_set_int(&g->nodes[gi], "activation_type", act)) != TOD_OK) goto out;
    /* the gate's own output is read by nobody now: the Mul read it */
    absorb(g, gi, i, producer, readers, dead);
  }
  for (int i = 0; i < nn; i++) {
    const ir_node *a = &g->nodes[i];
    if (dead[i]) continue;
    int act = activation_of(g, a);
    if (!act || a->n_out != 1) continue;
    int x = a->in[0];
    int pi = producer[x];
    if (pi < 0 || dead[pi]) continue;
    ir_node *p = &g->nodes[pi];
    if (!carries_activation(p->op) || p->n_out != 1) continue;
    if (ir_attr_int(p, "activation_type", 0) != 0) continue;
    if (readers[x] != 1 || is_graph_output(g, x)) continue;
    if ((st = ir_attr_set_int(p, "activation_type", act)) != TOD_OK) goto out;
    absorb(g, pi, i, producer, readers, dead);
  }
  ir_remove_nodes(g, dead);
out:
  if (st != TOD_OK) snprintf(err, errlen, "out of memory while fusing activations");
  free(producer);
  free(readers);
  free(dead);
  return st;
}
