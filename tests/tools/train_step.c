/* train_step: runs ONE forward + backward pass of a training .ms (tod's converter output) node by
 * node through kernel_lookup, with the shapes stored in the file, and writes each optimizer's
 * gradient input as <out_dir>/<weight>.npy plus the loss as <out_dir>/loss.npy. Optimizer and
 * Assign nodes are not run, so the gradients are those of the stored weights. For
 * tests/py/test_train_convert.py (compared with torch.autograd).
 * Usage: train_step MODEL.ms INPUT.npy LABEL.npy OUT_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/file_io.h"
#include "format/ms_read.h"
#include "format/npy.h"
#include "runtime/kernel.h"

static int is_optimizer(int op) {
  return op == IR_OP_Adam || op == IR_OP_SGD || op == IR_OP_ApplyMomentum || op == IR_OP_Assign;
}

static void view(const ir_graph *g, void **buf, int t, tod_view *v) {
  memset(v, 0, sizeof *v);
  if (t < 0) {
    v->ndim = -1;
    return;
  }
  const ir_tensor *x = &g->tensors[t];
  v->dtype = x->dtype;
  v->ndim = x->ndim < 0 ? 0 : x->ndim;
  for (int d = 0; d < v->ndim; d++) v->dims[d] = x->dims[d];
  v->data = buf[t];
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: train_step MODEL.ms INPUT.npy LABEL.npy OUT_DIR\n");
    return 2;
  }
  char err[1024] = "";
  tod_mapped_file f;
  if (tod_map_file(argv[1], &f, err, sizeof err) != TOD_OK) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  /* A private copy: BatchNorm updates its running statistics in place. */
  uint8_t *bytes = malloc(f.size);
  if (!bytes) return 1;
  memcpy(bytes, f.data, f.size);
  ir_graph g;
  ir_graph_init(&g);
  if (ms_read(bytes, f.size, &g, err, sizeof err) != TOD_OK) {
    fprintf(stderr, "ms_read: %s\n", err);
    return 1;
  }
  tod_npy x, y;
  if (tod_npy_read(argv[2], &x, err, sizeof err) != TOD_OK || tod_npy_read(argv[3], &y, err, sizeof err) != TOD_OK) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  void **buf = calloc((size_t)g.n_tensors, sizeof *buf);
  for (int t = 0; t < g.n_tensors; t++) {
    ir_tensor *tt = &g.tensors[t];
    if (tt->data) {
      buf[t] = (void *)tt->data;
      continue;
    }
    int64_t n = tt->ndim <= 0 ? 1 : ir_tensor_numel(tt);
    size_t es = ir_dtype_size(tt->dtype);
    buf[t] = calloc((size_t)(n > 0 ? n : 1), es ? es : 4);
  }
  const tod_npy *feeds[2] = {&x, &y};
  for (int i = 0; i < 2 && i < g.n_inputs; i++) {
    int t = g.inputs[i];
    size_t need = (size_t)ir_tensor_numel(&g.tensors[t]) * ir_dtype_size(g.tensors[t].dtype);
    if (feeds[i]->nbytes != need || feeds[i]->dtype != g.tensors[t].dtype) {
      fprintf(stderr, "input %d: %zu bytes dtype %d, model wants %zu bytes dtype %d\n", i, feeds[i]->nbytes,
              feeds[i]->dtype, need, g.tensors[t].dtype);
      return 1;
    }
    memcpy(buf[t], feeds[i]->data, need);
  }
  tod_view in[64], out[64];
  for (int i = 0; i < g.n_nodes; i++) {
    const ir_node *n = &g.nodes[i];
    if (is_optimizer(n->op)) continue;
    const kernel_ops *ops = kernel_lookup(n->op);
    if (!ops) {
      fprintf(stderr, "no kernel for %s (%s)\n", ir_op_name(n->op), n->name);
      return 1;
    }
    kernel k;
    memset(&k, 0, sizeof k);
    k.ops = ops;
    k.node = n;
    k.train = 1;
    tod_status st = ops->create(&k, &g, n);
    for (int j = 0; j < n->n_in; j++) view(&g, buf, n->in[j], &in[j]);
    for (int j = 0; j < n->n_out; j++) view(&g, buf, n->out[j], &out[j]);
    size_t ss = 0;
    void *scratch = NULL;
    if (st == TOD_OK && ops->setup) st = ops->setup(&k, in, n->n_in, out, n->n_out, &ss);
    if (st == TOD_OK && ss) scratch = aligned_alloc(64, (ss + 63) & ~(size_t)63);
    if (st == TOD_OK) st = ops->run(&k, in, n->n_in, out, n->n_out, scratch, NULL);
    free(scratch);
    if (ops->destroy) ops->destroy(&k);
    if (st != TOD_OK) {
      fprintf(stderr, "%s (%s) failed: %s\n", n->name, ir_op_name(n->op), k.err);
      return 1;
    }
  }
  char path[4096];
  int64_t one = 1;
  snprintf(path, sizeof path, "%s/loss.npy", argv[4]);
  tod_npy_write(path, IR_DT_FLOAT32, 1, &one, buf[g.outputs[0]], sizeof(float), err, sizeof err);
  for (int i = 0; i < g.n_nodes; i++) {
    const ir_node *n = &g.nodes[i];
    int gi = n->op == IR_OP_Adam ? 9 : n->op == IR_OP_SGD ? 1 : n->op == IR_OP_ApplyMomentum ? 3 : -1;
    if (gi < 0) continue;
    const ir_tensor *w = &g.tensors[n->in[0]], *gt = &g.tensors[n->in[gi]];
    snprintf(path, sizeof path, "%s/%s.npy", argv[4], w->name);
    if (tod_npy_write(path, IR_DT_FLOAT32, gt->ndim, gt->dims, buf[n->in[gi]],
                      (size_t)ir_tensor_numel(gt) * sizeof(float), err, sizeof err) != TOD_OK) {
      fprintf(stderr, "%s\n", err);
      return 1;
    }
  }
  for (int t = 0; t < g.n_tensors; t++)
    if (!g.tensors[t].data) free(buf[t]);
  free(buf);
  tod_npy_free(&x);
  tod_npy_free(&y);
  ir_graph_free(&g);
  free(bytes);
  tod_unmap_file(&f);
  printf("ok\n");
  return 0;
}
