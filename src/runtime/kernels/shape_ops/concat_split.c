/* Concat and Split along one axis, any dtype: the tensors are [outer, axis*inner] byte blocks,
 * so both are sequences of memcpy. */
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"

typedef struct {
  int64_t axis_attr;
  int64_t outer;
  size_t big;       /* bytes of one outer slice of the concatenated tensor */
  size_t *pieces;   /* bytes of one outer slice of each part */
  int n_pieces;
} cs_state;

static void cs_destroy(kernel *k) {
  cs_state *s = k->state;
  if (s) free(s->pieces);
  free(s);
  k->state = NULL;
}

static tod_status cs_create_impl(kernel *k, const ir_graph *g, const ir_node *n) {
  (void)g;
  cs_state *s = calloc(1, sizeof *s);
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  k->state = s;
  if (n->n_in < 1 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs inputs and outputs");
  s->axis_attr = ir_attr_int(n, "axis", 0);
  s->n_pieces = n->op == IR_OP_Concat ? n->n_in : n->n_out;
  s->pieces = calloc((size_t)s->n_pieces, sizeof(size_t));
  return s->pieces ? TOD_OK : kfail(k, TOD_MEMORY_FAILED, "out of memory");
}
KCREATE_GUARDED(cs_create, cs_create_impl, cs_destroy)

static tod_status cs_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                           int n_out, size_t *scratch) {
  cs_state *s = k->state;
  int concat = k->node->op == IR_OP_Concat;
  const tod_view *whole = concat ? &out[0] : &in[0];
  const tod_view *parts = concat ? in : out;
  int np = concat ? n_in : n_out;
  *scratch = 0;
  if (np != s->n_pieces) return kfail(k, TOD_INPUT_TENSOR_ERROR, "piece count changed");
  int r = whole->ndim, a;
  if (!shape_norm_axis(s->axis_attr, r, &a))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "axis %lld out of range for rank %d",
                 (long long)s->axis_attr, r);
  size_t es = ir_dtype_size(whole->dtype);
  if (!es) return kfail(k, TOD_NOT_SUPPORT, "dtype %s", ir_dtype_name(whole->dtype));
  int64_t inner = 1, sum = 0;
  s->outer = 1;
  for (int i = 0; i < a; i++) s->outer *= whole->dims[i];
  for (int i = a + 1; i < r; i++) inner *= whole->dims[i];
  for (int p = 0; p < np; p++) {
    const tod_view *v = &parts[p];
    if (v->ndim != r || v->dtype != whole->dtype)
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "part %d rank/dtype does not match", p);
    for (int i = 0; i < r; i++)
      if (i != a && v->dims[i] != whole->dims[i])
        return kfail(k, TOD_INPUT_TENSOR_ERROR, "part %d shape does not match off the axis", p);
    sum += v->dims[a];
    s->pieces[p] = (size_t)(v->dims[a] * inner) * es;
  }
  if (sum != whole->dims[a])
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "parts add up to %lld along axis %d, not %lld",
                 (long long)sum, a, (long long)whole->dims[a]);
  s->big = (size_t)(whole->dims[a] * inner) * es;
  return TOD_OK;
}

typedef struct {
  const cs_state *s;
  int concat;
  const tod_view *in, *out;
  int64_t chunks; /* byte ranges each outer slice is cut into */
  size_t chunk;   /* bytes of one range */
} cs_job;

/* Items are (outer slice, byte range of it): each copies the parts of every piece that fall in
 * its range, so a concat of a few large parts (outer 1) splits across threads as well as one of
 * many pixels (NHWC channel concat). */
static void cs_rows(void *ctx, int64_t i0, int64_t i1) {
  const cs_job *j = ctx;
  const cs_state *s = j->s;
  for (int64_t i = i0; i < i1; i++) {
    int64_t o = i / j->chunks;
    size_t lo = (size_t)(i % j->chunks) * j->chunk, hi = lo + j->chunk;
    if (hi > s->big) hi = s->big;
    size_t base = (size_t)o * s->big, off = 0;
    for (int p = 0; p < s->n_pieces && off < hi; p++) {
      size_t b = s->pieces[p], a = off > lo ? off : lo, e = off + b < hi ? off + b : hi;
      if (a < e) {
        char *whole = (char *)(j->concat ? j->out[0].data : j->in[0].data) + base + a;
        char *part = (char *)(j->concat ? j->in[p].data : j->out[p].data) + (size_t)o * b + (a - off);
        if (j->concat) memcpy(whole, part, e - a);
        else memcpy(part, whole, e - a);
      }
      off += b;
    }
  }
}

static tod_status cs_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                         void *scratch, tod_threadpool *tp) {
  const cs_state *s = k->state;
  if (!s->big || !s->outer) return TOD_OK;
  /* About 16 KB per item: large enough that the per-item walk over the pieces is noise. */
  const size_t target = 16384;
  cs_job j = {s, k->node->op == IR_OP_Concat, in, out, 1, s->big};
  if (s->big > 2 * target) {
    j.chunks = (int64_t)((s->big + target - 1) / target);
    j.chunk = (s->big + (size_t)j.chunks - 1) / (size_t)j.chunks;
  }
  int64_t grain = (int64_t)(target / (j.chunk ? j.chunk : 1));
  kpar_for(tp, s->outer * j.chunks, grain < 1 ? 1 : grain, cs_rows, &j);
  return TOD_OK;
}

const kernel_ops kernel_Concat = {IR_OP_Concat, cs_create, cs_setup, cs_run, cs_destroy};
const kernel_ops kernel_Split = {IR_OP_Split, cs_create, cs_setup, cs_run, cs_destroy};
