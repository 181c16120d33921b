/* Shared state and graph-building helpers of the autodiff pass (autodiff.c: driver, loss,
 * optimizers; autodiff_rules.c: one gradient rule per forward operator). */
#ifndef TOD_IR_AUTODIFF_INTERNAL_H
#define TOD_IR_AUTODIFF_INTERNAL_H

#include "ir/autodiff.h"
#include "ir/ir_op.h"

typedef struct {
  ir_graph *g;
  const ir_train_spec *spec;
  char *err;
  size_t errlen;
  tod_status st;      /* sticky: the first failure; helpers return -1 once it is set */
  int cap;            /* size of the per-tensor arrays below */
  unsigned char *req; /* tensor depends on a trainable weight (needs a gradient) */
  unsigned char *trainable; /* trainable weight */
  int *grad;          /* accumulated gradient of a forward tensor, -1 */
  int *shape_of;      /* cached Shape node output of a tensor, -1 */
  int dynamic_batch;  /* the first data input's batch dimension is unknown */
  const char *scope;  /* forward node name the current gradient nodes belong to */
  int seq;            /* numbering of new node names (MindSpore's "-op<N>") */
} ad_ctx;

/* Records a failure (first one wins) and returns -1 for the caller to propagate. */
int ad_fail(ad_ctx *c, tod_status st, const char *fmt, ...);
/* Grows the per-tensor arrays to the graph's tensor count. */
tod_status ad_grow(ad_ctx *c);

/* New activation tensor with dtype/shape (format NHWC when rank 4 and like_nhwc). */
int ad_tensor(ad_ctx *c, const char *name, int dtype, int ndim, const int64_t *dims);
/* New tensor shaped like tensor `like`. */
int ad_tensor_like(ad_ctx *c, const char *name, int like);
/* Constants. */
int ad_const_f32(ad_ctx *c, const char *name, const float *v, int ndim, const int64_t *dims);
int ad_scalar_f32(ad_ctx *c, const char *name, float v); /* shape [1] */
int ad_const_i32(ad_ctx *c, const char *name, const int32_t *v, int n);
int ad_scalar_i32(ad_ctx *c, const char *name, int32_t v); /* rank 0 */
/* Appends a node; returns its index. */
int ad_node(ad_ctx *c, int op, const char *name, const int *in, int n_in, const int *out, int n_out);
void ad_seti(ad_ctx *c, int node, const char *key, int64_t v);
void ad_setf(ad_ctx *c, int node, const char *key, double v);
void ad_setis(ad_ctx *c, int node, const char *key, const int64_t *v, int n);
/* Copies an attribute of node src (when present) onto node dst. */
void ad_copy_attr(ad_ctx *c, int dst, int src, const char *key);

/* "Gradients/Default/<scope>/<what>-op<N>" in buf. */
const char *ad_gname(ad_ctx *c, char *buf, size_t n, const char *what);

/* One-output gradient node shaped like `like`: returns the output tensor. */
int ad_op1(ad_ctx *c, int op, const char *what, const int *in, int n_in, int like);
/* Elementwise helpers (no activation), output shaped like `like`. */
int ad_mul(ad_ctx *c, int a, int b, int like, const char *what);
int ad_div(ad_ctx *c, int a, int b, int like, const char *what);
/* Shape(x) as int32 [rank] (cached per tensor). */
int ad_shape(ad_ctx *c, int x);
/* Reshape(x, Shape(like)) shaped like `like`. */
int ad_reshape_like(ad_ctx *c, int x, int like, const char *what);
/* Sums dy (shaped like the forward output y) down to the shape of operand `t` (numpy
 * broadcasting undone). */
int ad_unbroadcast(ad_ctx *c, int dy, int y, int t);
/* The batch size (dim 0 of x) as a float32 [1] tensor computed at run time. */
int ad_batch_f32(ad_ctx *c, int x, const char *scope_name);
/* Adds g to the gradient of forward tensor t (AddFusion for fan-out). */
void ad_accum(ad_ctx *c, int t, int g);

/* Gradient of forward node `node` (dy[j]: gradient of its output j, -1 for none). Adds
 * gradients to its inputs that need one. Unsupported operators fail with TOD_NOT_SUPPORT. */
tod_status ad_backward_node(ad_ctx *c, int node, const int *dy);
/* Forward rewrites a training graph needs before its backward pass (padded max pools get an
 * explicit -FLT_MAX PadFusion, trainable BatchNorms switch to training mode). */
tod_status ad_rewrite_forward(ad_ctx *c);

#define AD_T(c, t) (&(c)->g->tensors[(t)])
#define AD_N(c, i) (&(c)->g->nodes[(i)])

#endif
