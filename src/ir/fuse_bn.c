/* Inference BatchNorm folding: y = s*(conv(x)+b-mean)+beta with s = gamma/sqrt(var+eps) is the
 * same convolution with weights scaled by s per output channel and bias s*(b-mean)+beta. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/deferred.h"
#include "ir/ir_op.h"
#include "ir/passes.h"
#include "ir/source_pages.h"

static const float *const_f32(const ir_graph *g, int t, int64_t n) {
  if (t < 0) return NULL;
  const ir_tensor *x = &g->tensors[t];
  if (x->kind != IR_TENSOR_CONST || x->dtype != IR_DT_FLOAT32 || ir_tensor_numel(x) != n ||
      x->nbytes < (size_t)n * sizeof(float))
    return NULL;
  return x->data;
}

static float load_f32(const float *p, int64_t i) {
  float v;
  memcpy(&v, p + i, sizeof v); /* borrowed constants may be unaligned */
  return v;
}

/* Producers and reader counts of every tensor, kept up to date as BatchNorms fold (the arrays
 * grow with the tensors a fold adds), and the folded nodes, removed together at the end. */
typedef struct {
  int *producer, *readers, cap;
  char *dead;
} uses;

static int grow_uses(uses *u, int n) {
  if (n <= u->cap) return 0;
  int cap = n * 2 + 16;
  int *p = realloc(u->producer, sizeof(int) * (size_t)cap);
  if (p) u->producer = p;
  int *r = realloc(u->readers, sizeof(int) * (size_t)cap);
  if (r) u->readers = r;
  if (!p || !r) return -1;
  for (int i = u->cap; i < cap; i++) u->producer[i] = -1, u->readers[i] = 0;
  u->cap = cap;
  return 0;
}

/* Folds BN node `bi` into its producer `pi`. Returns 1 when folded, 0 when not applicable. */
static int fold_one(ir_graph *g, int pi, int bi, uses *u, tod_status *st) {
  ir_node *p = &g->nodes[pi];
  ir_node *bn = &g->nodes[bi];
  if (bn->n_in < 5) return 0;
  int wt = p->n_in > 1 ? p->in[1] : -1;
  if (wt < 0) return 0;
  const ir_tensor *w = &g->tensors[wt];
  if (w->kind != IR_TENSOR_CONST || w->dtype != IR_DT_FLOAT32 || w->ndim < 2) return 0;
  int64_t O, inner, outer; /* weight viewed as [outer][O][inner] */
  if (p->op == IR_OP_Conv2DFusion) {
    O = w->dims[0];
    outer = 1;
    inner = ir_tensor_numel(w) / (O ? O : 1);
  } else if (p->op == IR_OP_MatMulFusion && w->ndim == 2 && !ir_attr_int(p, "transpose_a", 0)) {
    if (ir_attr_int(p, "transpose_b", 0)) {
      O = w->dims[0];
      outer = 1;
      inner = w->dims[1];
    } else {
      O = w->dims[1];
      outer = w->dims[0];
      inner = 1;
    }
  } else {
    return 0;
  }
  const float *gamma = const_f32(g, bn->in[1], O), *beta = const_f32(g, bn->in[2], O);
  const float *mean = const_f32(g, bn->in[3], O), *var = const_f32(g, bn->in[4], O);
  const float *bias = p->n_in > 2 ? const_f32(g, p->in[2], O) : NULL;
  if (!gamma || !beta || !mean || !var || (p->n_in > 2 && p->in[2] >= 0 && !bias)) return 0;
  if ((size_t)(O * outer * inner) * sizeof(float) > w->nbytes) return 0;
  if (w->src && ir_tensor_settle(&g->tensors[wt]) != TOD_OK) { /* a deferred weight: read now */
    *st = TOD_MEMORY_FAILED;
    return 0;
  }
  double eps = ir_attr_float(bn, "epsilon", 1e-4);
  /* A weight the graph owns (copied at import) and only this node reads is scaled in place:
   * a second buffer would hold the largest weight twice at the peak. */
  const int in_place = w->owned != NULL && u->readers[wt] == 1;
  float *nw = in_place ? w->owned : ir_weights_malloc(sizeof(float) * (size_t)(O * outer * inner));
  float *nb = malloc(sizeof(float) * (size_t)O);
  if (!nw || !nb) {
    if (!in_place) free(nw);
    free(nb);
    *st = TOD_MEMORY_FAILED;
    return 0;
  }
  const float *wd = w->data;
  /* [O][inner] weights are read front to back: a converter's source mapping gives the pages
   * already read back as it goes (IR_SOURCE_RELEASE_STEP), so the largest weight is not held
   * twice while it is folded (a later reader re-reads them from the file). */
  const int sequential = outer == 1, borrowed = !w->owned;
  size_t released = 0;
  for (int64_t o = 0; o < O; o++) {
    double s = load_f32(gamma, o) / sqrt((double)load_f32(var, o) + eps);
    for (int64_t a = 0; a < outer; a++)
      for (int64_t k = 0; k < inner; k++) {
        int64_t idx = p->op == IR_OP_Conv2DFusion || inner > 1 ? (a * O + o) * inner + k : a * O + o;
        nw[idx] = (float)(load_f32(wd, idx) * s);
      }
    double b = bias ? load_f32(bias, o) : 0.0;
    nb[o] = (float)((b - load_f32(mean, o)) * s + load_f32(beta, o));
    const size_t done = (size_t)((o + 1) * inner) * sizeof(float);
    if (sequential && borrowed && done - released >= IR_SOURCE_RELEASE_STEP) {
      ir_source_release_around(wd, done - released);
      released = done;
    }
  }
  /* New tensors: the originals may be shared with other nodes. */
  char name[600];
  snprintf(name, sizeof name, "%s_bnfold", g->tensors[wt].name);
  int nwt = ir_add_tensor(g, name);
  snprintf(name, sizeof name, "%s_bias_bnfold", g->nodes[pi].name);
  int nbt = nwt >= 0 ? ir_add_tensor(g, name) : -1;
  if (nbt < 0) {
    if (!in_place) free(nw);
    free(nb);
    *st = TOD_MEMORY_FAILED;
    return 0;
  }
  ir_tensor *tw = &g->tensors[nwt], *tb = &g->tensors[nbt];
  ir_tensor *ow = &g->tensors[wt];
  if (in_place) { /* the buffer moves to the folded tensor */
    ow->owned = NULL;
    ow->data = NULL;
    ow->nbytes = 0;
  }
  tw->dtype = IR_DT_FLOAT32;
  ir_tensor_set_shape(tw, ow->ndim, ow->dims);
  tw->format = ow->format;
  ir_tensor_set_data_owned(tw, nw, sizeof(float) * (size_t)(O * outer * inner));
  tb->dtype = IR_DT_FLOAT32;
  ir_tensor_set_shape(tb, 1, &O);
  ir_tensor_set_data_owned(tb, nb, sizeof(float) * (size_t)O);
  p = &g->nodes[pi];
  bn = &g->nodes[bi];
  int in[3] = {p->in[0], nwt, nbt};
  if (grow_uses(u, g->n_tensors) != 0) {
    *st = TOD_MEMORY_FAILED;
    return 0;
  }
  for (int j = 1; j < p->n_in; j++) /* the old weight and bias */
    if (p->in[j] >= 0) u->readers[p->in[j]]--;
  for (int j = 0; j < bn->n_in; j++)
    if (bn->in[j] >= 0) u->readers[bn->in[j]]--;
  u->readers[nwt]++;
  u->readers[nbt]++;
  int *ni = realloc(p->in, sizeof in);
  if (!ni) {
    *st = TOD_MEMORY_FAILED;
    return 0;
  }
  memcpy(ni, in, sizeof in);
  p->in = ni;
  p->n_in = 3;
  p->out[0] = bn->out[0];
  u->producer[bn->out[0]] = pi;
  u->dead[bi] = 1;
  /* The original weight, now read by nobody (the usual case), lets its memory go at once
   * instead of at compaction: an import copy is freed, a converter's source mapping gives the
   * pages back. Otherwise a model's weights would be held twice until the passes end. */
  ir_tensor *old = &g->tensors[wt];
  if (u->readers[wt] == 0 && old->data) {
    if (old->owned)
      free(old->owned);
    else
      ir_source_release(old->data, old->nbytes);
    old->owned = NULL;
    old->data = NULL;
    old->nbytes = 0;
  }
  return 1;
}

tod_status ir_pass_fold_batchnorm(ir_graph *g, char *err, size_t errlen) {
  tod_status st = TOD_OK;
  int nn = g->n_nodes;
  uses u = {NULL, NULL, 0, calloc((size_t)(nn ? nn : 1), 1)};
  if (!u.dead || grow_uses(&u, g->n_tensors) != 0) {
    st = TOD_MEMORY_FAILED;
    goto out;
  }
  ir_graph_uses(g, u.producer, u.readers);
  for (int bi = 0; bi < nn; bi++) {
    ir_node *bn = &g->nodes[bi];
    if (bn->op != IR_OP_FusedBatchNorm || bn->n_in < 5 || ir_attr_int(bn, "mode", 0) != 0) continue;
    int y = bn->in[0];
    int pi = y >= 0 ? u.producer[y] : -1;
    if (pi < 0 || u.dead[pi] || u.readers[y] != 1) continue;
    if (g->nodes[pi].n_out != 1) continue;
    if (ir_attr_int(&g->nodes[pi], "activation_type", 0) != 0) continue;
    fold_one(g, pi, bi, &u, &st);
    if (st != TOD_OK) break;
  }
  ir_remove_nodes(g, u.dead);
out:
  if (st != TOD_OK) snprintf(err, errlen, "out of memory while folding BatchNorm");
  free(u.producer);
  free(u.readers);
  free(u.dead);
  return st;
}
