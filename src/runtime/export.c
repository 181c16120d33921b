/* Export of a (trained) model: the whole training graph with its current weights, or only the
 * inference part, re-optimised for inference (BatchNorm folded, activations fused). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/export_onnx.h"
#include "format/ms_write.h"
#include "ir/ir_op.h"
#include "ir/passes.h"
#include "runtime/session_internal.h"

/* The inference part of a training model as a graph of its own (owned by the caller). */
static tod_status inference_graph(tod_model *m, ir_graph *out) {
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
  if (st != TOD_OK) {
    ir_graph_free(&g);
    return session_fail(m, st, "export failed: %s", err);
  }
  *out = g;
  return TOD_OK;
}

static tod_status export_inference(tod_model *m, const char *path) {
  ir_graph g;
  tod_status st = inference_graph(m, &g);
  if (st != TOD_OK) return st;
  char err[512] = "";
  st = ms_write_file(&g, path, err, sizeof err);
  ir_graph_free(&g);
  if (st != TOD_OK) return session_fail(m, st, "export failed: %s", err);
  return TOD_OK;
}

tod_status tod_model_export(tod_model *m, const char *path, int inference_only) {
  if (!m || !path) return TOD_NULL_PTR;
  if (inference_only && m->trainable) return export_inference(m, path);
  char err[512] = "";
  /* Weights live in the copy-on-write mapping: writing the graph writes their current values. */
  tod_status st = ms_write_file(&m->g, path, err, sizeof err);
  if (st != TOD_OK) return session_fail(m, st, "export failed: %s", err);
  return TOD_OK;
}

/* MINDIR export lives in src/format/export_mindir.c (another issue).
 * HOOK: set TOD_EXPORT_MINDIR to 1 once src/format/export_mindir.{h,c} have landed. */
#define TOD_EXPORT_MINDIR 1
#if TOD_EXPORT_MINDIR
#include "format/export_mindir.h"
#endif

tod_status tod_model_export_as(tod_model *m, const char *path, tod_export_format format, int inference_only) {
  if (!m || !path) return TOD_NULL_PTR;
  switch (format) {
    case TOD_FORMAT_MS:
      return tod_model_export(m, path, inference_only);
    case TOD_FORMAT_AIR:
      return session_fail(m, TOD_NOT_SUPPORT,
                          "AIR is Ascend's format: it needs Ascend's own toolchain (export MINDIR or ONNX "
                          "and convert with Ascend's ATC)");
    case TOD_FORMAT_ONNX:
    case TOD_FORMAT_MINDIR:
      break;
    default:
      return session_fail(m, TOD_PARAM_INVALID, "unknown export format %d", (int)format);
  }
#if !TOD_EXPORT_MINDIR
  if (format == TOD_FORMAT_MINDIR)
    return session_fail(m, TOD_NOT_SUPPORT, "MINDIR export has not landed yet in this build");
#endif
  /* ONNX holds the inference part only (a training graph's optimizer nodes have no ONNX form). */
  int infer = m->trainable && (inference_only || format == TOD_FORMAT_ONNX);
  ir_graph ig;
  const ir_graph *g = &m->g;
  if (infer) {
    tod_status st = inference_graph(m, &ig);
    if (st != TOD_OK) return st;
    g = &ig;
  }
  char err[512] = "";
  tod_status st;
#if TOD_EXPORT_MINDIR
  if (format == TOD_FORMAT_MINDIR) st = mindir_export(g, path, err, sizeof err);
  else
#endif
    st = onnx_export(g, path, err, sizeof err);
  if (infer) ir_graph_free(&ig);
  if (st != TOD_OK) return session_fail(m, st, "%s", err);
  return TOD_OK;
}
