/* Layout pass: NCHW source graphs -> channel-last runtime graphs.
 *
 * Every tensor is in one of two states: "source" (the layout the importer produced) or
 * "permuted" (a rank-4 NCHW tensor stored as NHWC). Spatial operators need permuted inputs and
 * produce permuted outputs; elementwise operators and Concat pass the permuted state through
 * (constants are permuted to match); Transpose composes with the permutation; everything else
 * gets a Transpose back to the source layout. Graph outputs leave in the source layout under
 * their original names, so a converted model answers exactly as the source does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/deferred.h"
#include "ir/ir_op.h"
#include "ir/passes.h"
#include "ir/shuffle.h"
#include "ir/source_pages.h"

static const int TO_NHWC[4] = {0, 2, 3, 1};
static const int TO_NCHW[4] = {0, 3, 1, 2};

typedef struct {
  ir_graph *g;
  int cap;
  signed char *state; /* 1 = permuted; 2, 3: inside a channel shuffle rewritten for NHWC */
  int *rank;
  int *nhwc_of;       /* cached permuted copy of a source tensor, -1 */
  int *nchw_of;       /* cached source copy of a permuted tensor, -1 */
  char *err;
  size_t errlen;
} lctx;

static tod_status grow(lctx *c) {
  int n = c->g->n_tensors;
  if (n <= c->cap) return TOD_OK;
  int cap = n * 2 + 16;
  signed char *s = realloc(c->state, (size_t)cap);
  if (s) c->state = s;
  int *r = realloc(c->rank, sizeof(int) * (size_t)cap);
  if (r) c->rank = r;
  int *a = realloc(c->nhwc_of, sizeof(int) * (size_t)cap);
  if (a) c->nhwc_of = a;
  int *b = realloc(c->nchw_of, sizeof(int) * (size_t)cap);
  if (b) c->nchw_of = b;
  if (!s || !r || !a || !b) return TOD_MEMORY_FAILED;
  for (int i = c->cap; i < cap; i++) {
    c->state[i] = 0;
    c->rank[i] = -1;
    c->nhwc_of[i] = -1;
    c->nchw_of[i] = -1;
  }
  c->cap = cap;
  return TOD_OK;
}

static int to_nhwc(lctx *c, int t) {
  if (c->nhwc_of[t] >= 0) return c->nhwc_of[t];
  int o = ir_add_transpose(c->g, t, TO_NHWC, 4, "_nhwc");
  if (o < 0 || grow(c) != TOD_OK) return -1;
  c->state[o] = 1;
  c->rank[o] = 4;
  c->g->tensors[o].format = IR_FMT_NHWC;
  c->nhwc_of[t] = o;
  c->nchw_of[o] = t;
  return o;
}

static int to_nchw(lctx *c, int t) {
  if (c->nchw_of[t] >= 0) return c->nchw_of[t];
  int o = ir_add_transpose(c->g, t, TO_NCHW, 4, "_nchw");
  if (o < 0 || grow(c) != TOD_OK) return -1;
  c->state[o] = 0;
  c->rank[o] = 4;
  c->nchw_of[t] = o;
  c->nhwc_of[o] = t;
  return o;
}

/* A permuted copy of a constant, broadcast-aligned to rank 4 first (numpy aligns trailing
 * dims, so a [C,1,1] bias becomes [1,C,1,1] and then [1,1,1,C]). Scalars stay as they are. */
static int permute_const(lctx *c, int t) {
  ir_graph *g = c->g;
  ir_tensor *src = &g->tensors[t];
  int64_t numel = ir_tensor_numel(src);
  if (numel <= 1 || src->ndim > 4 || src->ndim < 0) return t;
  if (c->nhwc_of[t] >= 0) return c->nhwc_of[t];
  int64_t d4[4] = {1, 1, 1, 1};
  int off = 4 - src->ndim;
  for (int i = 0; i < src->ndim; i++) d4[off + i] = src->dims[i];
  size_t es = ir_dtype_size(src->dtype);
  if (es == 0 || (size_t)numel * es > src->nbytes) return -1;
  uint8_t *buf = malloc((size_t)numel * es);
  if (!buf) return -1;
  const uint8_t *in = src->data;
  /* out[n][h][w][c] = in[n][c][h][w] */
  size_t k = 0;
  for (int64_t n = 0; n < d4[0]; n++)
    for (int64_t h = 0; h < d4[2]; h++)
      for (int64_t w = 0; w < d4[3]; w++)
        for (int64_t ch = 0; ch < d4[1]; ch++) {
          size_t si = (size_t)(((n * d4[1] + ch) * d4[2] + h) * d4[3] + w);
          memcpy(buf + k * es, in + si * es, es);
          k++;
        }
  char name[512];
  snprintf(name, sizeof name, "%s_nhwc", src->name);
  int o = ir_add_tensor(g, name);
  if (o < 0 || grow(c) != TOD_OK) {
    free(buf);
    return -1;
  }
  ir_tensor *dst = &g->tensors[o];
  src = &g->tensors[t];
  dst->dtype = src->dtype;
  int64_t pd[4] = {d4[0], d4[2], d4[3], d4[1]};
  ir_tensor_set_shape(dst, 4, pd);
  dst->format = IR_FMT_NHWC;
  ir_tensor_set_data_owned(dst, buf, (size_t)numel * es);
  c->state[o] = 1;
  c->rank[o] = 4;
  c->nhwc_of[t] = o;
  return o;
}

/* Conv weights: KCHW [O, I, kh, kw] -> KHWC [O, kh, kw, I]. */
static int permute_weight(lctx *c, int t) {
  ir_graph *g = c->g;
  ir_tensor *w = &g->tensors[t];
  if (w->kind != IR_TENSOR_CONST || w->ndim != 4) return -1;
  if (c->nhwc_of[t] >= 0) return c->nhwc_of[t];
  size_t es = ir_dtype_size(w->dtype);
  int64_t O = w->dims[0], I = w->dims[1], H = w->dims[2], W = w->dims[3];
  int64_t numel = ir_tensor_numel(w);
  if (es == 0 || numel < 0 || (size_t)numel * es > w->nbytes) return -1;
  /* The weight keeps its name (checkpoints and exports find it by name); it is rewritten in
   * place unless another reader still wants the source layout. */
  int64_t pd[4] = {O, H, W, I};
  if (es == 4 && numel > 0 && !w->owned && (w->data || (w->src && w->src_layout == IR_SRC_BYTES))) {
    /* Read from the source file (borrowed, or deferred by the import): the writer relays it
     * out as it writes it, from the file (ir/deferred.h), so it is never copied in memory. */
    ir_tensor_defer(w, w->src ? w->src : w->data, IR_SRC_KCHW);
    w->nbytes = (size_t)numel * es;
    ir_tensor_set_shape(w, 4, pd);
    w->format = IR_FMT_KHWC;
    c->nhwc_of[t] = t;
    return t;
  }
  if (w->src && ir_tensor_settle(w) != TOD_OK) return -1;
  if (es == 4 && w->owned && numel > 0) {
    /* An owned weight (folded, or copied at import) is relaid out in place, one output
     * channel at a time through a small buffer, rather than into a second copy. */
    const size_t per_o = (size_t)(I * H * W);
    uint32_t *tmp = malloc(per_o * sizeof *tmp), *d = w->owned;
    if (!tmp) return -1;
    for (int64_t o = 0; o < O; o++, d += per_o) {
      memcpy(tmp, d, per_o * sizeof *tmp);
      ir_relayout_kchw_khwc(d, tmp, 1, (size_t)I, (size_t)(H * W));
    }
    free(tmp);
    ir_tensor_set_shape(w, 4, pd);
    w->format = IR_FMT_KHWC;
    c->nhwc_of[t] = t;
    return t;
  }
  uint8_t *buf = ir_weights_malloc((size_t)numel * es);
  if (!buf) return -1;
  const uint8_t *in = w->data;
  for (int64_t o = 0; o < O; o++)
    for (int64_t i = 0; i < I; i++)
      for (int64_t h = 0; h < H; h++)
        for (int64_t x = 0; x < W; x++)
          memcpy(buf + (size_t)(((o * H + h) * W + x) * I + i) * es,
                 in + (size_t)(((o * I + i) * H + h) * W + x) * es, es);
  ir_tensor_set_data_owned(w, buf, (size_t)numel * es);
  ir_tensor_set_shape(w, 4, pd);
  w->format = IR_FMT_KHWC;
  c->nhwc_of[t] = t;
  return t;
}

static int is_spatial(int op) {
  switch (op) {
    case IR_OP_Conv2DFusion:
    case IR_OP_Conv2dTransposeFusion:
    case IR_OP_MaxPoolFusion:
    case IR_OP_AvgPoolFusion:
    case IR_OP_Resize:
    case IR_OP_DepthToSpace:
    case IR_OP_SpaceToDepth:
      return 1;
    default:
      return 0;
  }
}

static int is_elementwise(int op) {
  switch (op) {
    case IR_OP_Activation:
    case IR_OP_AddFusion:
    case IR_OP_SubFusion:
    case IR_OP_MulFusion:
    case IR_OP_DivFusion:
    case IR_OP_RealDiv:
    case IR_OP_Maximum:
    case IR_OP_Minimum:
    case IR_OP_PowFusion:
    case IR_OP_SquaredDifference:
    case IR_OP_Clip:
    case IR_OP_Sqrt:
    case IR_OP_Rsqrt:
    case IR_OP_ExpFusion:
    case IR_OP_Log:
    case IR_OP_Neg:
    case IR_OP_Abs:
    case IR_OP_Floor:
    case IR_OP_Ceil:
    case IR_OP_Erf:
    case IR_OP_Sin:
    case IR_OP_Cos:
    case IR_OP_Reciprocal:
    case IR_OP_Square:
    case IR_OP_Cast:
    case IR_OP_Equal:
    case IR_OP_Less:
    case IR_OP_Greater:
    case IR_OP_LessEqual:
    case IR_OP_GreaterEqual:
    case IR_OP_NotEqual:
    case IR_OP_LogicalNot:
    case IR_OP_LogicalAnd:
    case IR_OP_LogicalOr:
    case IR_OP_Where:
      return 1;
    default:
      return 0;
  }
}

/* Rank of a node's first output in the source layout, from input ranks (-1: unknown). */
static int out_rank(const lctx *c, const ir_node *n) {
  const ir_graph *g = c->g;
  int r0 = n->n_in > 0 && n->in[0] >= 0 ? c->rank[n->in[0]] : -1;
  switch (n->op) {
    case IR_OP_Flatten: return 2;
    case IR_OP_Shape: return 1;
    case IR_OP_Reshape: {
      if (n->n_in < 2 || n->in[1] < 0) return -1;
      const ir_tensor *s = &g->tensors[n->in[1]];
      if (s->kind != IR_TENSOR_CONST || s->ndim != 1) return -1;
      return (int)s->dims[0];
    }
    case IR_OP_MatMulFusion:
    case IR_OP_AddFusion:
    case IR_OP_SubFusion:
    case IR_OP_MulFusion:
    case IR_OP_DivFusion:
    case IR_OP_RealDiv:
    case IR_OP_Maximum:
    case IR_OP_Minimum:
    case IR_OP_PowFusion:
    case IR_OP_SquaredDifference:
    case IR_OP_Equal:
    case IR_OP_Less:
    case IR_OP_Greater:
    case IR_OP_Where: {
      int r = -1;
      for (int j = 0; j < n->n_in && j < 3; j++) {
        if (n->in[j] < 0) continue;
        int rj = c->rank[n->in[j]];
        if (rj < 0) return -1;
        if (rj > r) r = rj;
      }
      return r;
    }
    case IR_OP_Unsqueeze: {
      const int64_t *ax;
      int k = ir_attr_ints(n, "axis", &ax);
      return r0 < 0 ? -1 : r0 + k;
    }
    case IR_OP_Squeeze: {
      const int64_t *ax;
      int k = ir_attr_ints(n, "axis", &ax);
      return r0 < 0 || k == 0 ? -1 : r0 - k;
    }
    case IR_OP_Gather: {
      int ri = n->n_in > 1 && n->in[1] >= 0 ? c->rank[n->in[1]] : -1;
      return r0 < 0 || ri < 0 ? -1 : r0 + ri - 1;
    }
    case IR_OP_ReduceFusion: {
      if (ir_attr_int(n, "keep_dims", 0)) return r0;
      return -1;
    }
    case IR_OP_StridedSlice:
    case IR_OP_Transpose:
    case IR_OP_Concat:
    default:
      return r0;
  }
}

static tod_status fail_mem(lctx *c) {
  snprintf(c->err, c->errlen, "out of memory in the layout pass");
  return TOD_MEMORY_FAILED;
}

/* Rewrites node i's inputs so that permuted inputs are read in the source layout. */
static tod_status inputs_to_source(lctx *c, int i) {
  for (int j = 0; j < c->g->nodes[i].n_in; j++) {
    int t = c->g->nodes[i].in[j];
    if (t < 0 || !c->state[t]) continue;
    int s = to_nchw(c, t);
    if (s < 0) return fail_mem(c);
    c->g->nodes[i].in[j] = s;
  }
  return TOD_OK;
}

static void set_outputs(lctx *c, int i, int permuted, int rank) {
  const ir_node *n = &c->g->nodes[i];
  for (int j = 0; j < n->n_out; j++) {
    c->state[n->out[j]] = (signed char)permuted;
    c->rank[n->out[j]] = rank;
    if (permuted) c->g->tensors[n->out[j]].format = IR_FMT_NHWC;
  }
}

/* A training-mode FusedBatchNorm (from a MindIR training graph) also returns per-channel
 * vectors (outputs 1..4): they keep no layout. */
static void per_channel_outputs(lctx *c, int i) {
  const ir_node *n = &c->g->nodes[i];
  if (n->op != IR_OP_FusedBatchNorm) return;
  for (int j = 1; j < n->n_out; j++) {
    ir_tensor *t = &c->g->tensors[n->out[j]];
    c->state[n->out[j]] = 0;
    c->rank[n->out[j]] = 1;
    t->format = IR_FMT_NCHW;
  }
}

/* A new int32 constant for node i's input j, named after the tensor it replaces. */
static tod_status replace_const(lctx *c, int i, int j, const int64_t *v, int n) {
  int t = ir_set_const_input(c->g, i, j, v, n, "_nhwc");
  if (t < 0 || grow(c) != TOD_OK) return fail_mem(c);
  c->rank[t] = 1;
  return TOD_OK;
}

/* Shape of a permuted tensor: the permuted dims, gathered back into source order. */
static tod_status layout_shape(lctx *c, int i) {
  ir_graph *g = c->g;
  int out = g->nodes[i].out[0];
  char name[560];
  snprintf(name, sizeof name, "%s_nhwc", g->tensors[out].name);
  int sp = ir_add_tensor(g, name);
  if (sp < 0 || grow(c) != TOD_OK) return fail_mem(c);
  g->tensors[sp].dtype = g->tensors[out].dtype;
  g->nodes[i].out[0] = sp;
  const int32_t perm[4] = {TO_NCHW[0], TO_NCHW[1], TO_NCHW[2], TO_NCHW[3]};
  if (ir_add_gather_1d(g, sp, perm, 4, out) < 0 || grow(c) != TOD_OK) return fail_mem(c);
  c->rank[sp] = c->rank[out] = 1;
  c->state[sp] = c->state[out] = 0;
  return TOD_OK;
}

/* StridedSlice of a permuted tensor: ONNX's five-input form gets its axes renumbered; the
 * four-input form (one begin/end/stride per axis) its vectors and begin/end masks reordered. */
static tod_status layout_slice(lctx *c, int i) {
  ir_graph *g = c->g;
  ir_node *n = &g->nodes[i];
  int64_t v[3][IR_MAX_DIMS], r[IR_MAX_DIMS];
  if (n->n_in >= 5) {
    int k = ir_const_ints(g, n->in[3], v[0], IR_MAX_DIMS);
    if (k < 1) return TOD_NOT_FIND_OP;
    for (int a = 0; a < k; a++) {
      int64_t ax = v[0][a] < 0 ? v[0][a] + 4 : v[0][a];
      if (ax < 0 || ax > 3) return TOD_NOT_FIND_OP;
      r[a] = TO_NCHW[ax];
    }
    tod_status st = replace_const(c, i, 3, r, k);
    if (st == TOD_OK) set_outputs(c, i, 1, 4);
    return st;
  }
  if (n->n_in != 4 || ir_attr_int(n, "ellipsis_mask", 0) || ir_attr_int(n, "new_axis_mask", 0) ||
      ir_attr_int(n, "shrink_axis_mask", 0))
    return TOD_NOT_FIND_OP;
  for (int j = 0; j < 3; j++)
    if (ir_const_ints(g, n->in[j + 1], v[j], IR_MAX_DIMS) != 4) return TOD_NOT_FIND_OP;
  static const char *masks[2] = {"begin_mask", "end_mask"};
  int64_t m[2];
  for (int j = 0; j < 2; j++) {
    int64_t old = ir_attr_int(n, masks[j], 0);
    m[j] = 0;
    for (int k = 0; k < 4; k++)
      if (old & ((int64_t)1 << TO_NHWC[k])) m[j] |= (int64_t)1 << k;
  }
  for (int j = 0; j < 3; j++) {
    for (int k = 0; k < 4; k++) r[k] = v[j][TO_NHWC[k]];
    tod_status st = replace_const(c, i, j + 1, r, 4);
    if (st != TOD_OK) return st;
  }
  for (int j = 0; j < 2; j++)
    if (ir_attr_set_int(&g->nodes[i], masks[j], m[j]) != TOD_OK) return fail_mem(c);
  set_outputs(c, i, 1, 4);
  return TOD_OK;
}

/* ReduceFusion of a permuted tensor over constant axes: the axes are renumbered. Kept dims stay
 * permuted; dropped ones leave the remaining axes in source order when their order agrees
 * (a spatial mean [N,C,H,W] -> [N,C] does). */
static tod_status layout_reduce(lctx *c, int i) {
  ir_graph *g = c->g;
  ir_node *n = &g->nodes[i];
  int64_t v[IR_MAX_DIMS], r[IR_MAX_DIMS];
  int k = n->n_in >= 2 ? ir_const_ints(g, n->in[1], v, IR_MAX_DIMS) : -1;
  if (k < 1 || ir_attr_int(n, "reduce_to_end", 0)) return TOD_NOT_FIND_OP;
  int mask[4] = {0, 0, 0, 0};
  for (int a = 0; a < k; a++) {
    int64_t ax = v[a] < 0 ? v[a] + 4 : v[a];
    if (ax < 0 || ax > 3) return TOD_NOT_FIND_OP;
    r[a] = TO_NCHW[ax];
    mask[ax] = 1;
  }
  int keep = ir_attr_int(n, "keep_dims", 0) != 0, left = 0;
  if (!keep) {
    /* Kept source axes, walked in permuted order, must come out ascending. */
    int last = -1;
    for (int p = 0; p < 4; p++) {
      int a = TO_NHWC[p];
      if (mask[a]) continue;
      if (a < last) return TOD_NOT_FIND_OP;
      last = a;
      left++;
    }
  }
  tod_status st = replace_const(c, i, 1, r, k);
  if (st == TOD_OK) set_outputs(c, i, keep, keep ? 4 : left);
  return st;
}

/* NCHW dims of permuted tensor x as the model declared them (the importer's value_info dims
 * of its source copy or of itself); 0 when unknown. */
static int source_dims(const lctx *c, int x, int64_t d[4]) {
  int s = c->nchw_of[x] >= 0 ? c->nchw_of[x] : x;
  const ir_tensor *t = &c->g->tensors[s];
  if (t->ndim != 4) return 0;
  for (int k = 0; k < 4; k++) d[k] = t->dims[k];
  return 1;
}

/* A Reshape of a permuted tensor that starts a channel shuffle: the shuffle runs on NHWC data
 * (shuffle.c) and its result stays permuted. */
static tod_status layout_shuffle(lctx *c, int i) {
  ir_graph *g = c->g;
  int64_t d[4];
  int p, r2;
  int sd = source_dims(c, g->nodes[i].in[0], d);
  if (!sd || !ir_shuffle_match(g, i, d, &p, &r2)) return TOD_NOT_FIND_OP;
  if (ir_shuffle_rewrite(g, i, p, r2, d) < 0 || grow(c) != TOD_OK) return fail_mem(c);
  set_outputs(c, i, 2, 5);
  return TOD_OK;
}

static tod_status layout_node(lctx *c, int i) {
  ir_graph *g = c->g;
  int op = g->nodes[i].op;
  int rank = out_rank(c, &g->nodes[i]);
  if (g->nodes[i].n_in > 0 && g->nodes[i].in[0] >= 0 && c->state[g->nodes[i].in[0]] >= 2) {
    /* The Transpose (state 2 -> 3) and final Reshape (3 -> permuted) of a rewritten shuffle. */
    int s = c->state[g->nodes[i].in[0]];
    set_outputs(c, i, s == 2 ? 3 : 1, s == 2 ? 5 : 4);
    return TOD_OK;
  }
  if (is_spatial(op)) {
    int x = g->nodes[i].in[0];
    if (!c->state[x]) {
      if (c->rank[x] >= 0 && c->rank[x] != 4) {
        snprintf(c->err, c->errlen, "node %s (%s): only 2-D spatial inputs (rank 4) are supported, got rank %d",
                 g->nodes[i].name, ir_op_name(op), c->rank[x]);
        return TOD_NOT_SUPPORT;
      }
      int p = to_nhwc(c, x);
      if (p < 0) return fail_mem(c);
      g->nodes[i].in[0] = p;
    }
    if ((op == IR_OP_Conv2DFusion || op == IR_OP_Conv2dTransposeFusion) && g->nodes[i].n_in > 1) {
      int w = permute_weight(c, g->nodes[i].in[1]);
      int wt = g->nodes[i].in[1];
      if (w < 0 && g->tensors[wt].kind != IR_TENSOR_CONST && c->rank[wt] == 4) {
        /* A weight fed by the caller or computed: permuted at run time. */
        w = ir_add_transpose(g, wt, TO_NHWC, 4, "_khwc");
        if (w < 0 || grow(c) != TOD_OK) return fail_mem(c);
        c->rank[w] = 4;
      }
      if (w < 0) {
        snprintf(c->err, c->errlen, "node %s: the convolution weight must be a 4-D constant",
                 g->nodes[i].name);
        return TOD_NOT_SUPPORT;
      }
      g->nodes[i].in[1] = w;
    }
    if (op == IR_OP_Resize && g->nodes[i].n_in > 1 && g->nodes[i].in[1] >= 0) {
      /* Scales or sizes are per source axis: NCHW order -> NHWC order. */
      int st_in = g->nodes[i].in[1];
      const ir_tensor *sc = &g->tensors[st_in];
      size_t es = ir_dtype_size(sc->dtype);
      if (sc->kind == IR_TENSOR_CONST && ir_tensor_numel(sc) == 4 && es && sc->nbytes >= 4 * es) {
        uint8_t v[32];
        for (int k = 0; k < 4; k++) memcpy(v + k * es, (const uint8_t *)sc->data + TO_NHWC[k] * es, es);
        char name[560];
        snprintf(name, sizeof name, "%s_nhwc", sc->name);
        int np = ir_add_tensor(g, name);
        if (np < 0 || grow(c) != TOD_OK) return fail_mem(c);
        ir_tensor *nt = &g->tensors[np];
        nt->dtype = g->tensors[st_in].dtype;
        int64_t d = 4;
        ir_tensor_set_shape(nt, 1, &d);
        if (ir_tensor_set_data_copy(nt, v, 4 * es) != TOD_OK) return fail_mem(c);
        g->nodes[i].in[1] = np;
      } else if (sc->kind != IR_TENSOR_CONST && ir_tensor_numel(sc) == 4) {
        /* Computed or fed by the caller: permute the values at run time with a Gather. */
        char name[560], iname[600], aname[600], nname[600];
        snprintf(name, sizeof name, "%s_nhwc", sc->name);
        snprintf(iname, sizeof iname, "%s_idx", name);
        snprintf(aname, sizeof aname, "%s_axis", name);
        snprintf(nname, sizeof nname, "%s/Gather", name);
        const int32_t perm[4] = {0, 2, 3, 1}, zero = 0;
        int idx = ir_add_const_i32(g, iname, perm, 4);
        int ax = ir_add_const_i32(g, aname, &zero, 1);
        int np = ir_add_tensor(g, name);
        if (idx < 0 || ax < 0 || np < 0 || grow(c) != TOD_OK) return fail_mem(c);
        g->tensors[ax].ndim = 0; /* a scalar axis */
        g->tensors[np].dtype = g->tensors[st_in].dtype;
        int gin[3] = {st_in, idx, ax};
        if (ir_add_node(g, IR_OP_Gather, nname, gin, 3, &np, 1) < 0) return fail_mem(c);
        c->rank[np] = 1;
        g->nodes[i].in[1] = np;
      }
    }
    if (ir_attr_set_int(&g->nodes[i], "format", IR_FMT_NHWC) != TOD_OK) return fail_mem(c);
    set_outputs(c, i, 1, 4);
    return TOD_OK;
  }
  if (op == IR_OP_FusedBatchNorm || op == IR_OP_BatchNorm || op == IR_OP_InstanceNorm || op == IR_OP_LRN) {
    int x = g->nodes[i].in[0];
    if (c->state[x]) {
      set_outputs(c, i, 1, 4);
      per_channel_outputs(c, i);
      return TOD_OK;
    }
    if (c->rank[x] == 2 && op != IR_OP_InstanceNorm && op != IR_OP_LRN) {
      set_outputs(c, i, 0, 2);
      return TOD_OK;
    }
    if (c->rank[x] == 4) {
      int p = to_nhwc(c, x);
      if (p < 0) return fail_mem(c);
      g->nodes[i].in[0] = p;
      set_outputs(c, i, 1, 4);
      per_channel_outputs(c, i);
      return TOD_OK;
    }
    snprintf(c->err, c->errlen, "node %s (%s): input of rank %d is not supported", g->nodes[i].name,
             ir_op_name(op), c->rank[x]);
    return TOD_NOT_SUPPORT;
  }
  int any = 0;
  for (int j = 0; j < g->nodes[i].n_in; j++) {
    int t = g->nodes[i].in[j];
    if (t >= 0 && c->state[t]) any = 1;
  }
  if (!any) {
    set_outputs(c, i, 0, rank);
    return TOD_OK;
  }
  if (is_elementwise(op)) {
    /* All non-scalar operands must be permuted too; a constant is permuted here, an activation
     * of rank 4 gets a Transpose; anything else sends the node back to the source layout. */
    int ok = 1;
    for (int j = 0; j < g->nodes[i].n_in && ok; j++) {
      int t = g->nodes[i].in[j];
      if (t < 0 || c->state[t]) continue;
      const ir_tensor *tt = &g->tensors[t];
      if (tt->kind == IR_TENSOR_CONST) {
        if (tt->ndim > 4) ok = 0;
      } else if (c->rank[t] != 4) {
        ok = 0;
      }
    }
    if (!ok) {
      tod_status st = inputs_to_source(c, i);
      if (st == TOD_OK) set_outputs(c, i, 0, rank);
      return st;
    }
    for (int j = 0; j < g->nodes[i].n_in; j++) {
      int t = g->nodes[i].in[j];
      if (t < 0 || c->state[t]) continue;
      int p = g->tensors[t].kind == IR_TENSOR_CONST ? permute_const(c, t) : to_nhwc(c, t);
      if (p < 0) return fail_mem(c);
      g->nodes[i].in[j] = p;
    }
    set_outputs(c, i, 1, 4);
    return TOD_OK;
  }
  if (op == IR_OP_Concat) {
    /* Some parts permuted: the rank-4 others are permuted too (a Transpose each), cheaper than
     * sending every permuted part and the result back through Transposes. */
    int all = 1;
    for (int j = 0; j < g->nodes[i].n_in; j++) {
      int t = g->nodes[i].in[j];
      if (t < 0 || (!c->state[t] && c->rank[t] != 4)) all = 0;
    }
    for (int j = 0; all && j < g->nodes[i].n_in; j++) {
      int t = g->nodes[i].in[j];
      if (c->state[t]) continue;
      int p = g->tensors[t].kind == IR_TENSOR_CONST ? permute_const(c, t) : to_nhwc(c, t);
      if (p < 0) return fail_mem(c);
      g->nodes[i].in[j] = p;
    }
    if (all) {
      int64_t axis = ir_attr_int(&g->nodes[i], "axis", 0);
      if (axis < 0) axis += 4;
      static const int64_t remap[4] = {0, 3, 1, 2};
      if (axis >= 0 && axis < 4) {
        if (ir_attr_set_int(&g->nodes[i], "axis", remap[axis]) != TOD_OK) return fail_mem(c);
        set_outputs(c, i, 1, 4);
        return TOD_OK;
      }
    }
  }
  if (op == IR_OP_PadFusion && g->nodes[i].n_in >= 2 && c->state[g->nodes[i].in[0]]) {
    /* Padding rows are per source axis: reorder them to the permuted axes. */
    int pt = g->nodes[i].in[1];
    const ir_tensor *p = &g->tensors[pt];
    if (p->kind == IR_TENSOR_CONST && p->dtype == IR_DT_INT32 && ir_tensor_numel(p) == 8 &&
        p->nbytes >= 8 * sizeof(int32_t)) {
      int32_t src[8], r[8];
      memcpy(src, p->data, sizeof src);
      for (int k = 0; k < 4; k++) {
        r[2 * k] = src[2 * TO_NHWC[k]];
        r[2 * k + 1] = src[2 * TO_NHWC[k] + 1];
      }
      char name[560];
      snprintf(name, sizeof name, "%s_nhwc", g->tensors[pt].name);
      int np = ir_add_tensor(g, name);
      if (np < 0 || grow(c) != TOD_OK) return fail_mem(c);
      int64_t d[2] = {4, 2};
      ir_tensor_set_shape(&g->tensors[np], 2, d);
      g->tensors[np].dtype = IR_DT_INT32;
      if (ir_tensor_set_data_copy(&g->tensors[np], r, sizeof r) != TOD_OK) return fail_mem(c);
      g->nodes[i].in[1] = np;
      set_outputs(c, i, 1, 4);
      return TOD_OK;
    }
  }
  if (op == IR_OP_Transpose && g->nodes[i].n_in == 2) {
    int pt = g->nodes[i].in[1];
    const ir_tensor *p = &g->tensors[pt];
    if (p->kind == IR_TENSOR_CONST && p->ndim == 1 && p->dims[0] == 4 &&
        (p->dtype == IR_DT_INT32 || p->dtype == IR_DT_INT64)) {
      /* Reading the permuted data X' = transpose(X, TO_NHWC): transpose(X, q) equals
       * transpose(X', r) with r[i] = position of q[i] in TO_NHWC = TO_NCHW[q[i]]. */
      int32_t r[4];
      int ok = 1;
      for (int k = 0; k < 4; k++) {
        int64_t q = p->dtype == IR_DT_INT32 ? ((const int32_t *)p->data)[k] : ((const int64_t *)p->data)[k];
        if (q < 0) q += 4;
        if (q < 0 || q > 3) ok = 0;
        else r[k] = TO_NCHW[q];
      }
      if (ok) {
        char name[560];
        snprintf(name, sizeof name, "%s_nhwc", g->tensors[pt].name);
        int np = ir_add_const_i32(g, name, r, 4);
        if (np < 0 || grow(c) != TOD_OK) return fail_mem(c);
        g->nodes[i].in[1] = np;
        set_outputs(c, i, 0, 4);
        return TOD_OK;
      }
    }
  }
  int x0 = g->nodes[i].n_in > 0 ? g->nodes[i].in[0] : -1;
  if (x0 >= 0 && c->rank[x0] == 4 && c->state[x0]) {
    tod_status st = TOD_NOT_FIND_OP;
    if (op == IR_OP_Shape) st = layout_shape(c, i);
    else if (op == IR_OP_Reshape) st = layout_shuffle(c, i);
    else if (op == IR_OP_StridedSlice) st = layout_slice(c, i);
    else if (op == IR_OP_ReduceFusion) st = layout_reduce(c, i);
    if (st != TOD_NOT_FIND_OP) return st;
  }
  tod_status st = inputs_to_source(c, i);
  if (st == TOD_OK) set_outputs(c, i, 0, rank);
  return st;
}

tod_status ir_pass_layout(ir_graph *g, int input_nhwc, char *err, size_t errlen) {
  lctx c = {g, 0, NULL, NULL, NULL, NULL, err, errlen};
  tod_status st = grow(&c);
  if (st != TOD_OK) {
    snprintf(err, errlen, "out of memory in the layout pass");
    goto out;
  }
  for (int t = 0; t < g->n_tensors; t++) c.rank[t] = g->tensors[t].ndim;
  for (int i = 0; i < g->n_inputs; i++) {
    ir_tensor *t = &g->tensors[g->inputs[i]];
    if (input_nhwc && t->ndim == 4) {
      int64_t d[4] = {t->dims[0], t->dims[2], t->dims[3], t->dims[1]};
      ir_tensor_set_shape(t, 4, d);
      t->format = IR_FMT_NHWC;
      c.state[g->inputs[i]] = 1;
    }
  }
  int n0 = g->n_nodes;
  for (int i = 0; i < n0 && st == TOD_OK; i++) {
    st = grow(&c);
    if (st == TOD_OK) st = layout_node(&c, i);
  }
  /* Graph outputs leave in the source layout, under their own names. */
  for (int i = 0; i < g->n_outputs && st == TOD_OK; i++) {
    int t = g->outputs[i];
    if (!c.state[t]) continue;
    int s = to_nchw(&c, t);
    if (s < 0) {
      st = fail_mem(&c);
      break;
    }
    char *tmp = g->tensors[t].name;
    g->tensors[t].name = g->tensors[s].name;
    g->tensors[s].name = tmp;
    g->outputs[i] = s;
  }
  if (st == TOD_OK) st = ir_toposort(g, err, errlen);
out:
  free(c.state);
  free(c.rank);
  free(c.nhwc_of);
  free(c.nchw_of);
  return st;
}
