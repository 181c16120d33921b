/* Small helpers shared by the reference kernels: error reporting, element counts, chunked
 * parallel loops over elements, and the fused activation every float kernel may apply. */
#ifndef TOD_KERNELS_KUTIL_H
#define TOD_KERNELS_KUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "ir/shape_util.h"
#include "runtime/kernel.h"

/* Formats "<Op> '<node>': message" into k->err and returns code. */
tod_status kfail(kernel *k, tod_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#ifdef TOD_TERSE_ERRORS
/* The minimal build (tod_min) drops kernels' detailed messages, whose format strings and
 * arguments are a sixth of its size: the message names the operator, the node and the status. */
tod_status kfail_status(kernel *k, tod_status code);
static inline void kfail_unused(int unused, ...) { (void)unused; } /* the arguments, evaluated */
#define kfail(k, code, ...) (kfail_unused(0, __VA_ARGS__), kfail_status(k, code))
#endif

/* Element count of a view with a known shape (0 for unknown, which setup rejects). */
static inline int64_t knumel(const tod_view *v) {
  int64_t n = shape_numel(v);
  return n < 0 ? 0 : n;
}

/* Runs fn(ctx, begin, end) over [0, n) in chunks of about `grain` items on the pool; small
 * loops run inline on the caller so tiny tensors do not pay for waking threads. */
typedef void (*kpar_fn)(void *ctx, int64_t begin, int64_t end);
void kpar_for(tod_threadpool *tp, int64_t n, int64_t grain, kpar_fn fn, void *ctx);

/* Fused activation parameters (ops.fbs ActivationType plus Activation's alpha/min/max). */
typedef struct {
  int type;
  float alpha, min_val, max_val;
  int approximate;
} kact;

/* Reads activation_type (and alpha, min_val, max_val, approximate) from node attributes. */
void kact_from_node(const ir_node *n, kact *a);
/* Whether the activation type is one tod implements. */
int kact_supported(int type);
/* y[i] = act(x[i]) for i in [0, n); x may equal y. */
void kact_apply(const kact *a, const float *x, float *y, int64_t n);

/* Reads constant integer input idx of node n from the graph (create time). Returns the count,
 * -1 when the input is absent or not a constant integer tensor, -2 when it has more than cap. */
int kconst_ints(const ir_graph *g, const ir_node *n, int idx, int64_t *vals, int cap);

/* Defines create NAME from IMPL so a failed create frees its partial state itself (callers do
 * not call destroy after a failed create). DESTROY must accept k->state == NULL. */
#define KCREATE_GUARDED(NAME, IMPL, DESTROY)                                   \
  static tod_status NAME(kernel *k, const ir_graph *g, const ir_node *n) {     \
    tod_status st_ = IMPL(k, g, n);                                           \
    if (st_ != TOD_OK) DESTROY(k);                                            \
    return st_;                                                               \
  }

/* Whether two views have identical shapes. */
int kshape_equal(const tod_view *a, const tod_view *b);

#endif
