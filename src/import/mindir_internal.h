/* Shared between mindir.c (protobuf parsing, values, graphs) and mindir_ops.c (primitive
 * translation). Not a public interface. */
#ifndef TOD_IMPORT_MINDIR_INTERNAL_H
#define TOD_IMPORT_MINDIR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"
#include "ir/ir_op.h"
#include "proto/pb.h"
#include "tod/status.h"

#define MS_MAX_ATTR_DEPTH 16 /* nested AttributeProto values */
#define MS_MAX_CALL_DEPTH 32 /* inlined graph calls */

typedef struct {
  const char *p;
  size_t n;
} ms_str;

/* AttributeProto.AttributeType values used here. */
enum {
  MS_AT_FLOAT = 1, MS_AT_INT8 = 3, MS_AT_INT32 = 6, MS_AT_INT64 = 7, MS_AT_STRING = 8,
  MS_AT_BOOL = 9, MS_AT_DOUBLE = 11, MS_AT_TENSORS = 19, MS_AT_TUPLE = 20, MS_AT_LIST = 21,
  MS_AT_DICT = 22, MS_AT_UMONAD = 23, MS_AT_IOMONAD = 24, MS_AT_NONE = 25, MS_AT_SCALAR = 39
};

typedef struct mattr {
  ms_str name, ref; /* ref: ref_attr_name (1.x encoding) */
  int type;         /* AttributeType; 0 when absent */
  int has_i, has_f, has_s;
  int64_t i;
  double f; /* f or d */
  ms_str s;
  int64_t *ints; /* owned */
  int n_ints;
  double *floats; /* owned: floats and doubles */
  int n_floats;
  ms_str *strings; /* owned array of spans */
  int n_strings;
  pb_field *tensors; /* owned array: TensorProto payloads */
  int n_tensors;
  pb_reader parent; /* reader the tensors were found in (for pb_sub) */
  struct mattr *values; /* owned */
  int n_values;
} mattr;

/* A value during import. */
enum { MV_NONE = 0, MV_TENSOR, MV_TUPLE, MV_MONAD, MV_GRAPH };
typedef struct mval {
  int kind;
  int t;               /* MV_TENSOR: tensor index; MV_GRAPH: graph index */
  int n;               /* MV_TUPLE */
  struct mval *items;  /* MV_TUPLE: arena-owned */
} mval;

typedef struct {
  ms_str name, op_type, domain, out;
  ms_str *in; /* owned */
  int n_in;
  mattr *attrs; /* node attributes, owned */
  int n_attrs;
  /* filled by mindir.c before translation */
  char prim[128];     /* primitive name (S-Prim- prefix removed) */
  const mattr *pattrs; /* primitive attributes (PrimitiveProto or node attributes) */
  int n_pattrs;
  mval *args; /* resolved inputs, owned */
  int n_args;
  char *irname; /* IR node name (owned) */
} mnode;

typedef struct mslot mslot;
struct mctx;
typedef struct mctx mctx;

struct mctx {
  ir_graph *g;
  const uint8_t *data;
  size_t size;
  const char *model_dir;
  int train;
  char *err;
  size_t errlen;
  pb_reader top; /* the ModelProto */
  pb_field *graphs; /* [0] = main graph, then functions */
  ms_str *graph_names;
  int n_graphs;
  pb_field *prims;
  ms_str *prim_names;
  int n_prims;
  mslot *tab;
  size_t tab_cap, tab_n;
  int *scope_parent;
  int n_scopes, cap_scopes;
  void **arena;
  int n_arena, cap_arena;
  char **irnames; /* open-addressing set of IR node names (owned strings) */
  size_t irn_cap, irn_n;
  int *bias4d; /* IR BiasAdd nodes over NCHW rank-4 inputs (fixed after import) */
  int n_bias4d, cap_bias4d;
  int depth;
};

/* --- mindir.c services ------------------------------------------------------------------- */
tod_status ms_fail(mctx *c, tod_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "<prim> node '<name>' <msg>: not supported" / "<prim> node '<name>' <msg>". */
tod_status ms_unsupported(mctx *c, const mnode *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
tod_status ms_bad(mctx *c, const mnode *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
tod_status ms_oom(mctx *c);

const mattr *ms_attr(const mnode *n, const char *key);
/* Integer list of an attribute (1.x repeated ints, 2.x TUPLE values, or a scalar): count
 * (-1 absent), at most cap values stored. */
int ms_attr_ints(const mnode *n, const char *key, int64_t *out, int cap);
int64_t ms_attr_int(const mnode *n, const char *key, int64_t dflt);
double ms_attr_float(const mnode *n, const char *key, double dflt);
/* String attribute copied into buf; "" when absent. */
void ms_attr_str(const mnode *n, const char *key, char *buf, size_t cap);

/* Rank of a tensor when known, else -1. */
int ms_rank(mctx *c, int t);
/* Input k as a tensor index (-1 and an error when it is not a tensor). */
tod_status ms_in(mctx *c, const mnode *n, int k, int *t);
/* Number of leading non-monad inputs. */
int ms_n_data_in(const mnode *n);
/* Output tensor k of n (named after the node; shape from its abstract when present). */
tod_status ms_out(mctx *c, const mnode *n, int k, int *t);
/* Unregistered tensor / node named "<node>/<suffix>". */
tod_status ms_tmp(mctx *c, const mnode *n, const char *suffix, int *t);
tod_status ms_emit(mctx *c, int op, const char *name, const int *in, int n_in, const int *out,
                   int n_out, ir_node **node);
tod_status ms_emit_sub(mctx *c, const mnode *n, const char *suffix, int op, const int *in,
                       int n_in, const int *out, int n_out, ir_node **node);
tod_status ms_const_i32(mctx *c, const mnode *n, const char *suffix, const int32_t *v, int count,
                        int ndim, int *t);
tod_status ms_const_f32(mctx *c, const mnode *n, const char *suffix, const float *v, int count,
                        int ndim, int *t);
/* Integer values of a constant tensor (widened into out, at most cap): count, or -1. */
int ms_const_ints(mctx *c, int t, int64_t *out, int cap);
/* Transpose of src with perm (rank 4) into dst (-1: new tensor "<node>/<suffix>"). */
tod_status ms_transpose(mctx *c, const mnode *n, const char *suffix, int src, const int *perm,
                        int dst, int *out);
/* Records an IR BiasAdd over a rank-4 NCHW input, fixed after import. */
tod_status ms_note_bias4d(mctx *c, int node);
/* Allocates n values in the arena. */
mval *ms_vals(mctx *c, int n);

typedef struct {
  int dtype;
  int ndim;
  int64_t dims[IR_MAX_DIMS];
  const void *data; /* borrowed or == owned */
  size_t nbytes;
  void *owned;
  ms_str name;
  int has_data;
} mtensor;

/* --- mindir_values.c --------------------------------------------------------------------- */
tod_status ms_attr_parse(mctx *c, const pb_reader *parent, const pb_field *af, mattr *a, int depth);
void ms_attr_free(mattr *a);
int64_t ms_count_elems(const pb_field *f, int elem);
void ms_decode_elems(const pb_field *f, int elem, uint64_t *out, int64_t *k);
int ms_dtype_to_ir(int64_t t);
tod_status ms_tensor_decode(mctx *c, const pb_reader *parent, const pb_field *tf, mtensor *k);
tod_status ms_add_const(mctx *c, const char *name, mtensor *k, int *idx);
tod_status ms_value_of_attr(mctx *c, const mnode *n, const mattr *a, int depth, const char *sfx, mval *v);

/* --- mindir_ops.c ------------------------------------------------------------------------ */
/* Translates one computing primitive; *res receives its value (tensor or tuple).
 * TOD_NOT_FIND_OP when the primitive is unknown (mindir.c reports it). */
tod_status mindir_translate(mctx *c, mnode *n, mval *res);
int mindir_is_optimizer(int op);

#endif
