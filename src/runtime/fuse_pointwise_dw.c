/* See fuse_pointwise_dw.h. */
#include "runtime/fuse_pointwise_dw.h"

#include <stdlib.h>

#include "ir/ir.h"
#include "ir/ir_op.h"
#include "runtime/kernels/conv2d/conv2d.h"

/* Smallest expanded map (pixels per image) worth folding. At 7x7 the map (49 x 960 floats) is
 * already cache-resident, and two threads splitting 7 output rows would compute 9 expanded
 * rows between them and each stream all the 1x1 weights, where unfolded they split the
 * weights' columns: on mobilenet_v2 the 7x7 blocks were 5-15% slower folded, 14x14 and
 * larger faster. */
#define FOLD_MIN_PIXELS (14 * 14)

void fuse_pointwise_dw_find(tod_model *m) {
  const ir_graph *g = &m->g;
  if (m->trainable || g->n_nodes == 0) return;
  int *producer = malloc((size_t)g->n_tensors * sizeof *producer);
  int *readers = malloc((size_t)g->n_tensors * sizeof *readers);
  m->fold_pw = malloc((size_t)g->n_nodes * sizeof *m->fold_pw);
  if (!producer || !readers || !m->fold_pw) {
    free(m->fold_pw);
    m->fold_pw = NULL;
    free(producer);
    free(readers);
    return;
  }
  ir_graph_uses(g, producer, readers);
  for (int i = 0; i < g->n_nodes; i++) m->fold_pw[i] = -1;
  for (int d = 0; d < g->n_nodes; d++) {
    const ir_node *n = &g->nodes[d];
    if (n->op != IR_OP_Conv2DFusion || n->n_in < 2 || n->in[0] < 0) continue;
    const int t = n->in[0];
    int e = producer[t];
    if (e < 0 || e >= d || readers[t] != 1 || g->tensors[t].kind != IR_TENSOR_ACT) continue;
    /* An Activation the 1x1 convolution applies itself (fuse_residual.c, found before this)
     * sits between them: EfficientNet's expand -> SiLU -> depthwise. */
    if (g->nodes[e].op == IR_OP_Activation && m->fuse_conv && m->fuse_conv[e] >= 0)
      e = m->fuse_conv[e];
    const ir_node *p = &g->nodes[e];
    if (p->op != IR_OP_Conv2DFusion || p->n_out != 1 || p->n_in < 2 || p->n_in > 3 ||
        p->in[0] < 0 || p->in[1] < 0)
      continue;
    if (conv2d_can_fold_pointwise(&m->kernels[d], &m->kernels[e])) m->fold_pw[d] = e;
  }
  free(producer);
  free(readers);
}

void fuse_pointwise_dw_prepare(tod_model *m) {
  if (!m->fold_pw) return;
  const ir_graph *g = &m->g;
  for (int d = 0; d < g->n_nodes; d++) {
    const int e = m->fold_pw[d];
    if (e < 0) continue;
    kernel *k = &m->kernels[d];
    const ir_node *p = &g->nodes[e];
    const tod_view *x = &m->views[p->in[0]];
    k->pre = NULL;
    /* A residual Add folded into the 1x1 convolution, or either node computed at load. */
    const tod_view *mid = &m->views[p->out[0]];
    /* The depthwise input must be what the 1x1 kernel stores: its own output, or the folded
     * Activation's (active only when that fold is). */
    const kernel *pk = &m->kernels[e];
    const int link = g->nodes[d].in[0];
    const int stores_link = pk->post_out ? !pk->post_res && pk->post_out == &m->views[link]
                                         : p->out[0] == link;
    if (m->skip[d] || m->skip[e] || !stores_link || x->ndim != 4 ||
        x->dtype != IR_DT_FLOAT32 || mid->ndim != 4 ||
        mid->dims[1] * mid->dims[2] < FOLD_MIN_PIXELS)
      continue;
    k->pre = &m->kernels[e];
    k->pre_n_in = p->n_in > 2 && p->in[2] >= 0 ? 3 : 2;
    for (int j = 0; j < k->pre_n_in; j++) k->pre_in[j] = &m->views[p->in[j]];
    k->pre_out = &m->views[p->out[0]];
    m->skip[e] = 1;
  }
}

void fuse_pointwise_dw_lifetimes(const tod_model *m, plan_item *items) {
  if (!m->fold_pw) return;
  const ir_graph *g = &m->g;
  for (int d = 0; d < g->n_nodes; d++) {
    const int e = m->fold_pw[d];
    if (e < 0 || !m->kernels[d].pre) continue;
    plan_item *x = &items[g->nodes[e].in[0]];
    if (x->first > d) x->first = d;
    if (x->last < d) x->last = d;
    items[g->nodes[e].out[0]].last = -1; /* never written: no arena space */
    items[g->nodes[d].in[0]].last = -1;  /* the same, or a folded Activation's output */
  }
}
