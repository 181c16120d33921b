/* Small graph-editing helpers shared by the passes. */
#include <stdio.h>
#include <string.h>

#include "ir/ir_op.h"
#include "ir/passes.h"

int ir_add_const_i32(ir_graph *g, const char *name, const int32_t *v, int n) {
  int t = ir_add_tensor(g, name);
  if (t < 0) return -1;
  int64_t d = n;
  ir_tensor_set_shape(&g->tensors[t], 1, &d);
  g->tensors[t].dtype = IR_DT_INT32;
  if (ir_tensor_set_data_copy(&g->tensors[t], v, sizeof(int32_t) * (size_t)n) != TOD_OK) return -1;
  return t;
}

int ir_add_transpose(ir_graph *g, int src, const int *perm, int rank, const char *suffix) {
  char name[512];
  snprintf(name, sizeof name, "%s%s", g->tensors[src].name, suffix);
  int32_t p[IR_MAX_DIMS];
  for (int i = 0; i < rank; i++) p[i] = perm[i];
  char pname[560];
  snprintf(pname, sizeof pname, "%s_perm", name);
  int pt = ir_add_const_i32(g, pname, p, rank);
  if (pt < 0) return -1;
  int out = ir_add_tensor(g, name);
  if (out < 0) return -1;
  ir_tensor *so = &g->tensors[src], *o = &g->tensors[out];
  o->dtype = so->dtype;
  if (so->ndim == rank) {
    o->ndim = rank;
    for (int i = 0; i < rank; i++) o->dims[i] = so->dims[perm[i]];
  }
  int in[2] = {src, pt};
  char nname[560];
  snprintf(nname, sizeof nname, "%s/Transpose", name);
  if (ir_add_node(g, IR_OP_Transpose, nname, in, 2, &out, 1) < 0) return -1;
  return out;
}

void ir_replace_uses(ir_graph *g, int from, int to) {
  for (int i = 0; i < g->n_nodes; i++)
    for (int j = 0; j < g->nodes[i].n_in; j++)
      if (g->nodes[i].in[j] == from) g->nodes[i].in[j] = to;
  for (int i = 0; i < g->n_outputs; i++)
    if (g->outputs[i] == from) g->outputs[i] = to;
}
