/* Shared state and emitters of the MINDIR exporter: export_mindir.c (graph, weights, forward
 * operators) and export_mindir_train.c (loss, gradients, optimizers and the side-effect chain of
 * a TrainOneStepCell-style training graph). Not part of any public API. */
#ifndef TOD_FORMAT_EXPORT_MINDIR_INTERNAL_H
#define TOD_FORMAT_EXPORT_MINDIR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"
#include "proto/pb.h"
#include "tod/status.h"

/* AttributeProto.type values used by the exporter (../shared/formats/mindir.md). */
enum { AT_FLOAT = 1, AT_INT32 = 6, AT_INT64 = 7, AT_STRING = 8, AT_BOOL = 9, AT_TENSORS = 19, AT_TUPLE = 20, AT_UMONAD = 23 };

typedef struct {
  ir_graph *g;
  pb_buf nodes, prims;
  char gname[200];
  char **ename;       /* per tensor: the MindIR name of its exported value */
  signed char *state; /* per tensor: 0 = IR layout, 1 = NCHW view of channel-last data */
  int counter, nprim;
  char *err;
  size_t errlen;
  tod_status st;
  /* training graphs only */
  int train;
  char **pname;   /* per tensor: the Parameter itself for tensors read through Load, else NULL */
  char *umonad;   /* current U monad of the side-effect chain */
  char **upd;     /* outputs of optimizer nodes, in order */
  int n_upd;
} xctx;

tod_status mx_fail(xctx *x, tod_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int mx_dtype(int ir_dtype);
void mx_a_int(pb_buf *b, uint32_t field, const char *name, int64_t v, int type);
void mx_a_float(pb_buf *b, uint32_t field, const char *name, double v);
void mx_a_str(pb_buf *b, uint32_t field, const char *name, const char *s);
void mx_a_tuple(pb_buf *b, uint32_t field, const char *name, const int64_t *v, int n);
/* The node abstract ("shape" attribute) of t, NCHW-ordered when nchw. */
void mx_a_shape(pb_buf *b, const ir_tensor *t, int nchw);
/* `<graph>:<label>:<counter>` (owned). */
char *mx_next_name(xctx *x, const char *label);
/* A `REF::<prim>:<k>` node reading in[]; attrs are AttributeProtos (field 3) of the primitive.
 * Returns the output name (owned) or NULL (error recorded in x). */
char *mx_emit(xctx *x, const char *prim, const char *scope, const char *const *in, int nin, const pb_buf *attrs,
              const ir_tensor *shape_of, int nchw);
/* As mx_emit for a node returning a tuple: its abstract lists outs[k] (NCHW-ordered when nchw[k]). */
char *mx_emit_tuple(xctx *x, const char *prim, const char *scope, const char *const *in, int nin, const pb_buf *attrs,
                    const ir_tensor *const *outs, const int *nchw, int nout);
char *mx_const_tuple(xctx *x, const int64_t *v, int n);
char *mx_const_int(xctx *x, int64_t v);
char *mx_transpose(xctx *x, const char *src, const int *perm, const char *scope, const ir_tensor *shape_of, int nchw);
/* Name of tensor t in state st (a Transpose is emitted when needed; *tmp owns it). */
const char *mx_want(xctx *x, int t, int st, const char *scope, char **tmp);
void mx_set_out(xctx *x, int t, char *name, int st);
/* A fused or standalone activation node after in (consumed). */
char *mx_activation(xctx *x, char *in, int64_t type, double alpha, const char *scope, const ir_tensor *shape, int nchw,
                    int fused);

/* Attributes (field-3 AttributeProtos) of Conv2D-like and pooling primitives from an IR node. */
void mx_conv_attrs(const ir_node *n, int64_t out_channel, int upper_pad_mode, pb_buf *a);
void mx_pool_attrs(const ir_node *n, int avg, pb_buf *a);

/* export_mindir_train.c */
int mx_is_train_op(int op);
int mx_is_update_op(int op); /* optimizers and Assign: side effects on their first input(s) */
/* Optimizer state inputs that share the weight's layout (Adam moments, accumulators...). */
int mx_state_inputs(const ir_node *n, int *idx, int cap);
/* Before the nodes: U monad, Load of every updated Parameter that other nodes read. */
tod_status mx_train_begin(xctx *x);
tod_status mx_export_train_node(xctx *x, int i);
/* The graph result: Depend(loss, Depend(MakeTuple(updates), U)), owned. */
char *mx_train_result(xctx *x);
void mx_train_free(xctx *x);

#endif
