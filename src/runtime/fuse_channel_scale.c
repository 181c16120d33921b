/* See fuse_channel_scale.h. */
#include "runtime/fuse_channel_scale.h"

#include <stdlib.h>

#include "ir/ir.h"
#include "ir/ir_op.h"
#include "runtime/kernels/conv2d/conv2d.h"

void fuse_channel_scale_find(tod_model *m) {
  const ir_graph *g = &m->g;
  if (m->trainable || g->n_nodes == 0) return;
  int *producer = malloc((size_t)g->n_tensors * sizeof *producer);
  int *readers = malloc((size_t)g->n_tensors * sizeof *readers);
  m->scale_conv = malloc((size_t)g->n_nodes * sizeof *m->scale_conv);
  if (!producer || !readers || !m->scale_conv) {
    free(m->scale_conv);
    m->scale_conv = NULL;
    free(producer);
    free(readers);
    return;
  }
  ir_graph_uses(g, producer, readers);
  for (int i = 0; i < g->n_nodes; i++) m->scale_conv[i] = -1;
  for (int c = 0; c < g->n_nodes; c++) {
    const ir_node *n = &g->nodes[c];
    if (n->op != IR_OP_Conv2DFusion || n->n_in < 2 || n->in[0] < 0) continue;
    const int t = n->in[0], j = producer[t];
    if (j < 0 || j >= c || readers[t] != 1 || g->tensors[t].kind != IR_TENSOR_ACT) continue;
    const ir_node *mul = &g->nodes[j];
    if (mul->op != IR_OP_MulFusion || mul->n_in != 2 || mul->n_out != 1 || mul->in[0] < 0 ||
        mul->in[1] < 0 || ir_attr_int(mul, "activation_type", 0) != IR_ACT_NONE)
      continue;
    /* A 1x1 convolution folded into a depthwise one reads its input through kernel.pre. */
    int folded = 0;
    for (int d = 0; m->fold_pw && d < g->n_nodes && !folded; d++) folded = m->fold_pw[d] == c;
    if (!folded && conv2d_can_scale_input(&m->kernels[c])) m->scale_conv[j] = c;
  }
  free(producer);
  free(readers);
}

/* Operand index (0 or 1) of Mul j that is the [1,H,W,C] map scaled by the other, a [C] vector
 * over its last axis; -1 when neither is. */
static int map_operand(const tod_model *m, const ir_node *mul) {
  const tod_view *y = &m->views[mul->out[0]];
  if (y->ndim != 4 || y->dtype != IR_DT_FLOAT32 || y->dims[0] != 1) return -1;
  for (int s = 0; s < 2; s++) {
    const tod_view *x = &m->views[mul->in[s]], *v = &m->views[mul->in[1 - s]];
    if (x->ndim != 4 || x->dtype != IR_DT_FLOAT32 || v->dtype != IR_DT_FLOAT32) continue;
    int same = 1;
    for (int d = 0; d < 4; d++) same = same && x->dims[d] == y->dims[d];
    int64_t vn = 1;
    for (int d = 0; d < v->ndim; d++) vn *= v->dims[d];
    if (same && v->ndim >= 1 && v->dims[v->ndim - 1] == y->dims[3] && vn == y->dims[3]) return s;
  }
  return -1;
}

void fuse_channel_scale_prepare(tod_model *m) {
  if (!m->scale_conv) return;
  const ir_graph *g = &m->g;
  for (int j = 0; j < g->n_nodes; j++) {
    const int c = m->scale_conv[j];
    if (c < 0) continue;
    kernel *k = &m->kernels[c];
    const ir_node *mul = &g->nodes[j];
    k->scale_x = k->scale_s = NULL;
    const int s = map_operand(m, mul);
    const tod_view *y = &m->views[mul->out[0]], *cy = &m->views[g->nodes[c].out[0]];
    if (m->skip[j] || m->skip[c] || s < 0 || cy->ndim != 4 || y->dims[1] * y->dims[2] < 2 * cy->dims[3])
      continue;
    k->scale_x = &m->views[mul->in[s]];
    k->scale_s = &m->views[mul->in[1 - s]];
    m->skip[j] = 1;
  }
}

static void extend(plan_item *it, int step) {
  if (it->first > step) it->first = step;
  if (it->last < step) it->last = step;
}

void fuse_channel_scale_lifetimes(const tod_model *m, plan_item *items) {
  if (!m->scale_conv) return;
  const ir_graph *g = &m->g;
  for (int j = 0; j < g->n_nodes; j++) {
    const int c = m->scale_conv[j];
    if (c < 0 || !m->kernels[c].scale_s) continue;
    extend(&items[g->nodes[j].in[0]], c);
    extend(&items[g->nodes[j].in[1]], c);
    items[g->nodes[j].out[0]].last = -1; /* never written: no arena space */
  }
}
