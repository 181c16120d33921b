/* Export of a (trained) model: the whole training graph with its current weights, or only the
 * inference part, re-optimised for inference (BatchNorm folded, activations fused). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/ms_write.h"
#include "ir/ir_op.h"
#include "ir/passes.h"
#include "runtime/session_internal.h"

static tod_status export_inference(tod_model *m, const char *path) {
  ir_graph g;
  tod_status st = ir_graph_clone(&m->g, &g);
  if (st != TOD_OK) return session_fail(m, st, "out of memory while exporting");
  /* Keep the inference nodes only, in inference form. */
  for (int i = g.n_nodes - 1; i >= 0; i--) {
    if (!m->in_infer[i]) {
      ir_remove_node(&g, i);
      continue;
    }
    ir_node *n = &g.nodes[i];
    if (n->op == IR_OP_FusedBatchNorm && ir_attr_int(n, "mode", 0) != 0) {
      ir_attr_set_int(n, "mode", 0);
      n->n_out = 1;
    }
    if (n->op == IR_OP_Dropout) n->n_out = 1;
  }
  for (int t = 0; t < g.n_tensors; t++)
    if (g.tensors[t].kind == IR_TENSOR_PARAM) g.tensors[t].kind = IR_TENSOR_CONST;
  g.n_outputs = 0;
  for (int k = 0; k < m->n_eval_out; k++) ir_add_output(&g, m->eval_out[k]);
  if (m->label_input >= 0) {
    memmove(&g.inputs[m->label_input], &g.inputs[m->label_input + 1],
            sizeof(int) * (size_t)(g.n_inputs - m->label_input - 1));
    g.n_inputs--;
  }
  char err[512] = "";
  st = ir_compact(&g);
  /* Dropout is the identity at inference: read its input directly. */
  for (int i = 0; st == TOD_OK && i < g.n_nodes; i++) {
    if (g.nodes[i].op != IR_OP_Dropout) continue;
    ir_replace_uses(&g, g.nodes[i].out[0], g.nodes[i].in[0]);
  }
  if (st == TOD_OK) st = ir_compact(&g);
  if (st == TOD_OK) st = ir_pass_fold_batchnorm(&g, err, sizeof err);
  if (st == TOD_OK) st = ir_pass_fuse_activation(&g, err, sizeof err);
  if (st == TOD_OK) st = ir_compact(&g);
  if (st == TOD_OK) st = ir_toposort(&g, err, sizeof err);
  if (st == TOD_OK) st = ms_write_file(&g, path, err, sizeof err);
  ir_graph_free(&g);
  if (st != TOD_OK) return session_fail(m, st, "export failed: %s", err);
  return TOD_OK;
}

tod_status tod_model_export(tod_model *m, const char *path, int inference_only) {
  if (inference_only && m->trainable) return export_inference(m, path);
  char err[512] = "";
  /* Weights live in the copy-on-write mapping: writing the graph writes their current values. */
  tod_status st = ms_write_file(&m->g, path, err, sizeof err);
  if (st != TOD_OK) return session_fail(m, st, "export failed: %s", err);
  return TOD_OK;
}
