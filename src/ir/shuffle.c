/* Channel shuffle on channel-last data.
 *
 * ShuffleNet's channel shuffle is written for NCHW: Reshape [N,C,H,W] -> [N,g,C/g,H,W],
 * Transpose (0,2,1,3,4), Reshape back to [N,C,H,W]. Left to the generic layout rules it would
 * sit between a Transpose to NCHW and one back, moving the map three times, and everything
 * after it (ShuffleNet's channel split, Shape) would read NCHW. On NHWC data the same shuffle
 * is Reshape [N,H,W,C] -> [N,H,W,g,C/g], Transpose (0,1,2,4,3), Reshape [N,H,W,C].
 *
 * The layout pass runs before shape inference, so the match uses the NCHW dims the importer
 * took from the model (ONNX value_info); once shapes are inferred, ir_pass_check_shuffles
 * refuses a model whose declared dims were not its real ones, instead of computing a wrong
 * shuffle.
 */
#include "ir/shuffle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir_op.h"
#include "ir/passes.h"

#define SHUFFLE_SUFFIX "_nhwc_shuffle"

/* The only node reading t (as its first input), or -1 when t has other readers. */
static int sole_reader(const ir_graph *g, int t) {
  int r = -1;
  for (int i = 0; i < g->n_nodes; i++)
    for (int j = 0; j < g->nodes[i].n_in; j++) {
      if (g->nodes[i].in[j] != t) continue;
      if (r >= 0 || j != 0) return -1;
      r = i;
    }
  for (int k = 0; k < g->n_outputs; k++)
    if (g->outputs[k] == t) return -1;
  return r;
}

int ir_shuffle_match(const ir_graph *g, int r1, const int64_t d[4], int *p, int *r2) {
  const ir_node *n = &g->nodes[r1];
  int64_t s[IR_MAX_DIMS], q[IR_MAX_DIMS];
  if (n->op != IR_OP_Reshape || n->n_in != 2 || n->n_out != 1) return 0;
  for (int k = 0; k < 4; k++)
    if (d[k] < 1) return 0;
  if (ir_const_ints(g, n->in[1], s, IR_MAX_DIMS) != 5) return 0;
  /* s[1] * s[2] == d[1], without overflowing on absurd values */
  if (s[0] != d[0] || s[1] < 1 || s[2] < 1 || d[1] % s[1] != 0 || d[1] / s[1] != s[2] || s[3] != d[2] ||
      s[4] != d[3])
    return 0;
  int pi = sole_reader(g, n->out[0]);
  if (pi < 0 || g->nodes[pi].op != IR_OP_Transpose || g->nodes[pi].n_in != 2 || g->nodes[pi].n_out != 1 ||
      ir_const_ints(g, g->nodes[pi].in[1], q, IR_MAX_DIMS) != 5)
    return 0;
  static const int64_t swap12[5] = {0, 2, 1, 3, 4};
  for (int k = 0; k < 5; k++)
    if (q[k] != swap12[k]) return 0;
  int ri = sole_reader(g, g->nodes[pi].out[0]);
  if (ri < 0 || g->nodes[ri].op != IR_OP_Reshape || g->nodes[ri].n_in != 2 || g->nodes[ri].n_out != 1 ||
      ir_const_ints(g, g->nodes[ri].in[1], q, IR_MAX_DIMS) != 4)
    return 0;
  if (q[0] != d[0] || (q[1] != d[1] && q[1] != -1) || q[2] != d[2] || q[3] != d[3]) return 0;
  *p = pi;
  *r2 = ri;
  return 1;
}

int ir_shuffle_rewrite(ir_graph *g, int r1, int p, int r2, const int64_t d[4]) {
  int64_t s[IR_MAX_DIMS];
  if (ir_const_ints(g, g->nodes[r1].in[1], s, IR_MAX_DIMS) != 5) return -1;
  const int64_t s1[5] = {d[0], d[2], d[3], s[1], s[2]}, perm[5] = {0, 1, 2, 4, 3};
  const int64_t s2[4] = {d[0], d[2], d[3], d[1]};
  if (ir_set_const_input(g, r1, 1, s1, 5, SHUFFLE_SUFFIX) < 0 || ir_set_const_input(g, p, 1, perm, 5, "_nhwc") < 0 ||
      ir_set_const_input(g, r2, 1, s2, 4, "_nhwc") < 0)
    return -1;
  return 0;
}

tod_status ir_pass_check_shuffles(const ir_graph *g, char *err, size_t errlen) {
  const size_t sl = strlen(SHUFFLE_SUFFIX);
  for (int i = 0; i < g->n_nodes; i++) {
    const ir_node *n = &g->nodes[i];
    if (n->op != IR_OP_Reshape || n->n_in != 2 || n->in[0] < 0 || n->in[1] < 0) continue;
    const char *name = g->tensors[n->in[1]].name;
    size_t len = name ? strlen(name) : 0;
    if (len < sl || strcmp(name + len - sl, SHUFFLE_SUFFIX) != 0) continue;
    int64_t s[IR_MAX_DIMS];
    const ir_tensor *x = &g->tensors[n->in[0]];
    if (ir_const_ints(g, n->in[1], s, IR_MAX_DIMS) != 5) continue;
    if (x->ndim == 4 && x->dims[0] == s[0] && x->dims[1] == s[1] && x->dims[2] == s[2] && s[3] > 0 &&
        x->dims[3] % s[3] == 0 && x->dims[3] / s[3] == s[4])
      continue;
    snprintf(err, errlen,
             "node %s: the model declares its input's shape as [%lld,%lld*%lld,%lld,%lld] (NCHW) but it "
             "is not (value_info disagrees with the inferred shapes)",
             n->name, (long long)s[0], (long long)s[3], (long long)s[4], (long long)s[1], (long long)s[2]);
    return TOD_GRAPH_FILE_ERR;
  }
  return TOD_OK;
}

int ir_shuffle_hints(const ir_graph *g, ir_shuffle_hint **out) {
  static const int64_t to_nchw[4] = {0, 3, 1, 2};
  ir_shuffle_hint *h = NULL;
  int n = 0;
  *out = NULL;
  for (int i = 0; i < g->n_nodes; i++) {
    const ir_node *r = &g->nodes[i];
    int64_t v[IR_MAX_DIMS], d[4];
    int p, r2;
    if (r->op != IR_OP_Reshape || r->n_in != 2 || r->in[0] < 0 ||
        ir_const_ints(g, r->in[1], v, IR_MAX_DIMS) != 5)
      continue;
    const ir_tensor *a = &g->tensors[r->in[0]];
    if (a->ndim != 4) continue;
    for (int k = 0; k < 4; k++) d[k] = a->dims[k];
    if (!ir_shuffle_match(g, i, d, &p, &r2)) continue;
    int t = ir_producer(g, r->in[0]);
    if (t < 0 || g->nodes[t].op != IR_OP_Transpose || g->nodes[t].n_in != 2 || g->nodes[t].in[0] < 0 ||
        ir_const_ints(g, g->nodes[t].in[1], v, IR_MAX_DIMS) != 4 || memcmp(v, to_nchw, sizeof to_nchw) != 0)
      continue;
    ir_shuffle_hint *nh = realloc(h, sizeof *h * (size_t)(n + 1));
    const char *name = g->tensors[g->nodes[t].in[0]].name;
    char *copy = name ? malloc(strlen(name) + 1) : NULL;
    if (!nh || !copy) {
      free(copy);
      ir_shuffle_hints_free(nh ? nh : h, n);
      return -1;
    }
    h = nh;
    strcpy(copy, name);
    h[n].name = copy;
    memcpy(h[n].dims, d, sizeof d);
    n++;
  }
  *out = h;
  return n;
}

void ir_shuffle_apply_hints(ir_graph *g, const ir_shuffle_hint *h, int n) {
  for (int k = 0; k < n; k++)
    for (int t = 0; t < g->n_tensors; t++)
      if (g->tensors[t].name && strcmp(g->tensors[t].name, h[k].name) == 0 &&
          g->tensors[t].kind != IR_TENSOR_CONST) {
        ir_tensor_set_shape(&g->tensors[t], 4, h[k].dims);
        break;
      }
}

void ir_shuffle_hints_free(ir_shuffle_hint *h, int n) {
  for (int k = 0; h && k < n; k++) free(h[k].name);
  free(h);
}
