/* Shared kernel helpers: error messages and the chunked parallel loop. */
#include "runtime/kernels/common/kutil.h"

#include <stdarg.h>
#include <stdio.h>

#ifndef TOD_TERSE_ERRORS
tod_status kfail(kernel *k, tod_status code, const char *fmt, ...) {
  const char *opn = k->node ? ir_op_name(k->node->op) : NULL;
  int n = snprintf(k->err, sizeof k->err, "%s '%s': ", opn ? opn : "kernel",
                   k->node && k->node->name ? k->node->name : "");
  if (n >= 0 && (size_t)n < sizeof k->err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->err + n, sizeof k->err - (size_t)n, fmt, ap);
    va_end(ap);
  }
  return code;
}
#else
tod_status kfail_status(kernel *k, tod_status code) {
  const char *opn = k->node ? ir_op_name(k->node->op) : NULL;
  snprintf(k->err, sizeof k->err, "%s '%s': %s", opn ? opn : "kernel",
           k->node && k->node->name ? k->node->name : "", tod_status_name(code));
  return code;
}
#endif

typedef struct {
  kpar_fn fn;
  void *ctx;
  int64_t n;
  int parts;
} kpar_tramp;

static void kpar_task(void *ctx, int begin, int end, int thread_id) {
  (void)thread_id;
  const kpar_tramp *t = ctx;
  int64_t b = t->n * begin / t->parts, e = t->n * end / t->parts;
  if (e > b) t->fn(t->ctx, b, e);
}

void kpar_for(tod_threadpool *tp, int64_t n, int64_t grain, kpar_fn fn, void *ctx) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  int threads = tod_threadpool_size(tp);
  int64_t chunks = (n + grain - 1) / grain;
  if (threads <= 1 || chunks <= 1) {
    fn(ctx, 0, n);
    return;
  }
  /* One contiguous range per thread: elementwise work is uniform, so finer chunks would only
   * add synchronisation. n * parts stays far from overflow for any allocatable tensor. */
  kpar_tramp t = {fn, ctx, n, (int)(chunks < threads ? chunks : threads)};
  tod_parallel_for(tp, t.parts, kpar_task, &t);
}

int kshape_equal(const tod_view *a, const tod_view *b) {
  if (a->ndim != b->ndim) return 0;
  for (int i = 0; i < a->ndim; i++)
    if (a->dims[i] != b->dims[i]) return 0;
  return 1;
}

int kconst_ints(const ir_graph *g, const ir_node *n, int idx, int64_t *vals, int cap) {
  if (!g || idx >= n->n_in || n->in[idx] < 0 || n->in[idx] >= g->n_tensors) return -1;
  const ir_tensor *t = &g->tensors[n->in[idx]];
  size_t es = ir_dtype_size(t->dtype);
  if (t->kind != IR_TENSOR_CONST || !t->data || !es || !shape_is_int_dtype(t->dtype)) return -1;
  /* Count from the stored bytes, not the declared shape, so a lying shape cannot over-read. */
  size_t cnt = t->nbytes / es;
  if (cnt > (size_t)cap) return -2;
  tod_view v = {t->dtype, 1, {(int64_t)cnt}, (void *)t->data};
  return shape_read_ints(&v, vals, cap);
}
