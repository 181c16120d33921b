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

int ir_const_ints(const ir_graph *g, int t, int64_t *v, int cap) {
  if (t < 0 || t >= g->n_tensors) return -1;
  const ir_tensor *x = &g->tensors[t];
  if (x->kind != IR_TENSOR_CONST || !x->data || x->ndim > 1) return -1;
  size_t es = x->dtype == IR_DT_INT32 ? 4 : x->dtype == IR_DT_INT64 ? 8 : 0;
  int64_t n = x->ndim == 0 ? 1 : x->dims[0];
  if (!es || n < 0 || n > cap || x->nbytes < (size_t)n * es) return -1;
  for (int64_t k = 0; k < n; k++) {
    if (es == 4) {
      int32_t a;
      memcpy(&a, (const char *)x->data + k * 4, 4);
      v[k] = a;
    } else {
      memcpy(&v[k], (const char *)x->data + k * 8, 8);
    }
  }
  return (int)n;
}

int ir_set_const_input(ir_graph *g, int node, int j, const int64_t *v, int n, const char *suffix) {
  int32_t w[IR_MAX_DIMS];
  if (n < 0 || n > IR_MAX_DIMS) return -1;
  for (int k = 0; k < n; k++) w[k] = v[k] > INT32_MAX ? INT32_MAX : v[k] < INT32_MIN ? INT32_MIN : (int32_t)v[k];
  char name[600];
  const int old = g->nodes[node].in[j];
  snprintf(name, sizeof name, "%s%s", old >= 0 && g->tensors[old].name ? g->tensors[old].name : g->nodes[node].name,
           suffix);
  int t = ir_add_const_i32(g, name, w, n);
  if (t >= 0) g->nodes[node].in[j] = t;
  return t;
}

int ir_add_gather_1d(ir_graph *g, int src, const int32_t *idx, int n, int out) {
  char iname[560], aname[560], nname[560];
  snprintf(iname, sizeof iname, "%s_idx", g->tensors[out].name);
  snprintf(aname, sizeof aname, "%s_axis", g->tensors[out].name);
  snprintf(nname, sizeof nname, "%s/Gather", g->tensors[out].name);
  const int32_t zero = 0;
  int it = ir_add_const_i32(g, iname, idx, n);
  int at = ir_add_const_i32(g, aname, &zero, 1);
  if (it < 0 || at < 0) return -1;
  g->tensors[at].ndim = 0; /* a scalar axis */
  int in[3] = {src, it, at};
  return ir_add_node(g, IR_OP_Gather, nname, in, 3, &out, 1) < 0 ? -1 : 0;
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
