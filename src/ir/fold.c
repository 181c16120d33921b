/* Shape inference over the whole graph, and constant folding with the runtime's own kernels:
 * a node whose inputs are all constants is computed once here and replaced by its result.
 * Nodes that read an activation are never folded, even when only its shape matters, so a
 * converted model still accepts other batch sizes at run time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/deferred.h"
#include "ir/ir_op.h"
#include "ir/passes.h"
#include "ir/shape.h"
#include "runtime/kernel.h"

static void view_of(const ir_graph *g, void *const *vals, int t, tod_view *v) {
  memset(v, 0, sizeof *v);
  if (t < 0) {
    v->ndim = -1;
    return;
  }
  const ir_tensor *x = &g->tensors[t];
  v->dtype = x->dtype;
  v->ndim = x->ndim;
  for (int d = 0; d < x->ndim && d < IR_MAX_DIMS; d++) v->dims[d] = x->dims[d];
  if (x->kind == IR_TENSOR_CONST) {
    if (v->ndim < 0) v->ndim = 0;
    v->data = (void *)x->data;
  } else if (vals && vals[t]) {
    v->data = vals[t];
  }
}

static size_t view_bytes(const tod_view *v) {
  size_t n = ir_dtype_size(v->dtype);
  for (int i = 0; i < v->ndim; i++) n *= (size_t)(v->dims[i] < 0 ? 0 : v->dims[i]);
  return n;
}

/* Runs node n on constant inputs and makes its outputs owned constants. */
static tod_status fold_node(ir_graph *g, int i, tod_view *in, tod_view *out, void **vals,
                            char *err, size_t errlen) {
  const ir_node *n = &g->nodes[i];
  const kernel_ops *ops = kernel_lookup(n->op);
  if (!ops) return TOD_NOT_FIND_OP;
  kernel k;
  memset(&k, 0, sizeof k);
  k.ops = ops;
  k.node = n;
  tod_status st = ops->create(&k, g, n);
  if (st != TOD_OK) {
    snprintf(err, errlen, "folding %s: %s", n->name, k.err);
    return st;
  }
  void *bufs[64] = {0};
  void *scratch = NULL;
  for (int j = 0; j < n->n_out && st == TOD_OK; j++) {
    size_t b = view_bytes(&out[j]);
    bufs[j] = malloc(b ? b : 1);
    if (!bufs[j]) st = TOD_MEMORY_FAILED;
    out[j].data = bufs[j];
  }
  size_t ss = 0;
  if (st == TOD_OK && ops->setup) st = ops->setup(&k, in, n->n_in, out, n->n_out, &ss);
  if (st == TOD_OK && ss) {
    scratch = aligned_alloc(64, (ss + 63) & ~(size_t)63);
    if (!scratch) st = TOD_MEMORY_FAILED;
  }
  if (st == TOD_OK) st = ops->run(&k, in, n->n_in, out, n->n_out, scratch, NULL);
  free(scratch);
  if (ops->destroy) ops->destroy(&k);
  if (st != TOD_OK) {
    for (int j = 0; j < n->n_out; j++) free(bufs[j]);
    snprintf(err, errlen, "folding %s (%s) failed: %s", n->name, ir_op_name(n->op), k.err);
    return st;
  }
  for (int j = 0; j < n->n_out; j++) {
    if (vals) {
      free(vals[n->out[j]]);
      vals[n->out[j]] = bufs[j];
    } else {
      ir_tensor_set_data_owned(&g->tensors[n->out[j]], bufs[j], view_bytes(&out[j]));
    }
  }
  return TOD_OK;
}

tod_status ir_pass_infer_and_fold(ir_graph *g, int fold, char *err, size_t errlen) {
  /* Unknown input dims (dynamic batch) are inferred as 1; the runtime re-infers at resize. */
  int64_t saved[64][IR_MAX_DIMS];
  int ni = g->n_inputs < 64 ? g->n_inputs : 64;
  for (int i = 0; i < ni; i++) {
    ir_tensor *t = &g->tensors[g->inputs[i]];
    for (int d = 0; d < t->ndim; d++) {
      saved[i][d] = t->dims[d];
      if (t->dims[d] < 0) t->dims[d] = 1;
    }
  }
  tod_status st = TOD_OK;
  tod_view in[64], out[64];
  /* Values of shape computations (Shape -> Gather -> Concat ...) known for the inferred input
   * shapes: used to infer later shapes (Reshape), never stored as constants. */
  int nvals = g->n_tensors;
  void **vals = calloc((size_t)(nvals ? nvals : 1), sizeof *vals);
  if (!vals) {
    snprintf(err, errlen, "out of memory");
    return TOD_MEMORY_FAILED;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    ir_node *n = &g->nodes[i];
    if (n->n_in > 64 || n->n_out > 64) {
      snprintf(err, errlen, "node %s has too many inputs or outputs", n->name);
      st = TOD_NOT_SUPPORT;
      break;
    }
    int all_const = 1;
    for (int j = 0; j < n->n_in; j++)
      if (n->in[j] >= 0 && g->tensors[n->in[j]].kind != IR_TENSOR_CONST) all_const = 0;
    /* A node of constants may be computed here: deferred weights it reads are read now. */
    for (int j = 0; j < n->n_in && all_const && st == TOD_OK; j++)
      if (n->in[j] >= 0) st = ir_tensor_settle(&g->tensors[n->in[j]]);
    if (st != TOD_OK) {
      snprintf(err, errlen, "out of memory");
      break;
    }
    for (int j = 0; j < n->n_in; j++) view_of(g, vals, n->in[j], &in[j]);
    for (int j = 0; j < n->n_out; j++) {
      memset(&out[j], 0, sizeof out[j]);
      out[j].ndim = -1;
    }
    char msg[256] = "";
    st = ir_infer_node(n, in, n->n_in, out, n->n_out, msg, sizeof msg);
    if (st == TOD_INFER_INVALID && !all_const) {
      /* A value this node's shape depends on comes from a graph input (Reshape's shape, Resize's
       * sizes, ...): the shape stays unknown here and the runtime infers it once the input values
       * are set (a value-dependent model, src/runtime/session.c). */
      for (int j = 0; j < n->n_out; j++) g->tensors[n->out[j]].ndim = -1;
      st = TOD_OK;
      continue;
    }
    if (st != TOD_OK) {
      snprintf(err, errlen, "shape inference failed at %s (%s): %s", n->name, ir_op_name(n->op), msg);
      break;
    }
    for (int j = 0; j < n->n_out; j++) {
      ir_tensor *t = &g->tensors[n->out[j]];
      t->dtype = out[j].dtype;
      ir_tensor_set_shape(t, out[j].ndim, out[j].dims);
    }
    if (!all_const && ir_is_shape_computation(n, in, n->n_in, out, n->n_out)) {
      st = fold_node(g, i, in, out, vals, msg, sizeof msg);
      if (st != TOD_OK) {
        snprintf(err, errlen, "%s", msg);
        break;
      }
      continue;
    }
    if (fold && all_const && n->n_in > 0) {
      st = fold_node(g, i, in, out, NULL, msg, sizeof msg);
      if (st == TOD_NOT_FIND_OP) {
        st = TOD_OK; /* no kernel: keep the node; the runtime will report it if it runs */
        continue;
      }
      if (st != TOD_OK) {
        snprintf(err, errlen, "%s", msg);
        break;
      }
      ir_remove_node(g, i);
      i--;
    }
  }
  for (int i = 0; i < ni; i++) {
    ir_tensor *t = &g->tensors[g->inputs[i]];
    for (int d = 0; d < t->ndim; d++) t->dims[d] = saved[i][d];
  }
  for (int t = 0; t < nvals; t++) free(vals[t]);
  free(vals);
  if (st == TOD_OK) st = ir_compact(g);
  return st;
}
