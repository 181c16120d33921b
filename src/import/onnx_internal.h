/* Shared between onnx.c (protobuf parsing, tensors, names) and onnx_ops.c (operator
 * translation). Not a public interface. */
#ifndef TOD_IMPORT_ONNX_INTERNAL_H
#define TOD_IMPORT_ONNX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"
#include "ir/ir_op.h"
#include "proto/pb.h"
#include "tod/status.h"

/* A string inside the model bytes (not NUL-terminated). */
typedef struct {
  const char *p;
  size_t n;
} onnx_str;

/* AttributeProto.AttributeType values. */
enum {
  ONNX_ATTR_FLOAT = 1,
  ONNX_ATTR_INT = 2,
  ONNX_ATTR_STRING = 3,
  ONNX_ATTR_TENSOR = 4,
  ONNX_ATTR_GRAPH = 5,
  ONNX_ATTR_FLOATS = 6,
  ONNX_ATTR_INTS = 7,
  ONNX_ATTR_STRINGS = 8,
  ONNX_ATTR_TENSORS = 9,
  ONNX_ATTR_GRAPHS = 10,
  ONNX_ATTR_SPARSE_TENSOR = 11,
  ONNX_ATTR_SPARSE_TENSORS = 12
};

typedef struct {
  onnx_str name;
  int type; /* ONNX_ATTR_*, inferred from the fields present when the file omits it */
  float f;
  int64_t i;
  onnx_str s;
  pb_field t; /* TensorProto payload when type is TENSOR */
  pb_reader t_parent;
  int64_t *ints; /* owned */
  int n_ints;
  float *floats; /* owned */
  int n_floats;
  int has_f, has_i, has_s, has_t, has_other; /* has_other: graphs, sparse tensors, ... */
} onnx_attr;

typedef struct {
  char *name;     /* owned, NUL-terminated: the ONNX name or "<op_type>_<index>" */
  char *op_type;  /* owned, NUL-terminated */
  onnx_str domain;
  int n_in, n_out;
  onnx_str *in_names;  /* owned array of spans */
  onnx_str *out_names;
  int *in; /* owned; tensor index per input, -1 for an absent ("") input */
  onnx_attr *attrs; /* owned */
  int n_attrs;
} onnx_node;

/* A decoded TensorProto. data is either borrowed from the model bytes or == owned. */
typedef struct {
  int dtype; /* IR_DT_* */
  int ndim;
  int64_t dims[IR_MAX_DIMS];
  const void *data;
  size_t nbytes;
  void *owned;
  onnx_str name;
} onnx_const;

typedef struct {
  const char *p;
  size_t n;
  int idx;
} onnx_name_slot;

typedef struct {
  ir_graph *g;
  const uint8_t *data;
  size_t size;
  const char *model_dir;
  int64_t opset;
  char *err;
  size_t errlen;
  onnx_name_slot *names; /* open-addressing hash: ONNX value name -> tensor index */
  size_t names_cap, names_n;
  /* onnx_import_deferred: large unaligned raw_data is borrowed as it is until the import ends
   * (translators read constants with memcpy), then deferred or copied (onnx.c). */
  int defer;
} onnx_ctx;

/* Unaligned raw_data from this size up is borrowed in deferred mode (smaller: copied). */
#define ONNX_DEFER_MIN ((size_t)64 << 10)

/* --- onnx.c services used by the operator translators ------------------------------------- */
tod_status onnx_fail(onnx_ctx *c, tod_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "<op> node '<name>' <msg>: not supported" -> TOD_NOT_SUPPORT. */
tod_status onnx_unsupported(onnx_ctx *c, const onnx_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "<op> node '<name>' <msg>" -> TOD_GRAPH_FILE_ERR. */
tod_status onnx_bad(onnx_ctx *c, const onnx_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

tod_status onnx_malformed(onnx_ctx *c, const char *what); /* TOD_GRAPH_FILE_ERR */
tod_status onnx_oom(onnx_ctx *c);                         /* TOD_MEMORY_FAILED */
/* Printable, NUL-terminated copy of a span for messages (truncated to cap). */
const char *onnx_show(onnx_str s, char *buf, size_t cap);
char *onnx_span_dup(onnx_str s); /* malloc'd, NUL-terminated; NULL on failure */
onnx_str onnx_field_str(const pb_field *f);
int onnx_span_eq(onnx_str s, const char *z);

/* Repeated scalar fields, packed or not: element count of one occurrence (elem: 4 or 8 for
 * fixed32/fixed64, 0 for varints; -1 when malformed), and its elements appended to out[*k..]
 * as raw 64-bit patterns (the caller sized out from the counts). */
int64_t onnx_count_elems(const pb_field *f, int elem);
void onnx_decode_elems(const pb_field *f, int elem, uint64_t *out, int64_t *k);

/* Adds an unregistered activation tensor. */
tod_status onnx_new_tensor(onnx_ctx *c, const char *name, int *idx);

/* Registers name -> tensor index (later definitions of the same name are an error). */
tod_status onnx_name_put(onnx_ctx *c, onnx_str name, int idx);
/* Tensor index of an ONNX value name, or -1. */
int onnx_name_get(const onnx_ctx *c, onnx_str name);

/* Creates the IR tensor for output k of n under its ONNX name and registers it. */
tod_status onnx_out(onnx_ctx *c, const onnx_node *n, int k, int *idx);
/* Creates an unregistered activation tensor named "<node>/<suffix>". */
tod_status onnx_tmp(onnx_ctx *c, const onnx_node *n, const char *suffix, int *idx);
/* Adds a node; *node (may be NULL) points at it until the next node is added. */
tod_status onnx_emit(onnx_ctx *c, int op, const char *name, const int *in, int n_in,
                     const int *out, int n_out, ir_node **node);
/* Constant tensors named "<node>/<suffix>": 1-D when ndim==1 (n values), scalar when ndim==0. */
tod_status onnx_const_i32(onnx_ctx *c, const onnx_node *n, const char *suffix,
                          const int32_t *v, int count, int ndim, int *idx);
tod_status onnx_const_f32(onnx_ctx *c, const onnx_node *n, const char *suffix, const float *v,
                          int count, int ndim, int *idx);
/* Adds a constant tensor taking over k's storage (k is emptied). */
tod_status onnx_add_const(onnx_ctx *c, const char *name, onnx_const *k, int *idx);
void onnx_const_free(onnx_const *k);
/* Decodes a TensorProto field (e.g. an attribute's value). */
tod_status onnx_decode_tensor(onnx_ctx *c, const pb_reader *parent, const pb_field *f,
                              onnx_const *out);

/* Attributes. */
const onnx_attr *onnx_attr_get(const onnx_node *n, const char *key);
int64_t onnx_attr_i(const onnx_node *n, const char *key, int64_t dflt);
float onnx_attr_f(const onnx_node *n, const char *key, float dflt);
/* Element count (-1 when absent) and storage of an INTS / FLOATS attribute. */
int onnx_attr_ints(const onnx_node *n, const char *key, const int64_t **v);
int onnx_attr_floats(const onnx_node *n, const char *key, const float **v);
/* 1 when the STRING attribute key equals s; dflt_match when the attribute is absent. */
int onnx_attr_s_is(const onnx_node *n, const char *key, const char *s, int dflt_match);
/* Copies a STRING attribute into buf (NUL-terminated, truncated); "" when absent. */
void onnx_attr_s(const onnx_node *n, const char *key, char *buf, size_t cap);

/* Constant tensor values: 1 when tensor idx is a constant of an integer type, with its values
 * widened into a new malloc'd array (*v, *count). 0 when it is not a constant integer tensor;
 * <0 on allocation failure. */
int onnx_const_ints(onnx_ctx *c, int idx, int64_t **v, int64_t *count);
/* 1 when tensor idx is a constant with exactly one element convertible to double. */
int onnx_const_scalar(const onnx_ctx *c, int idx, double *v);
/* IR dtype of an ONNX TensorProto.DataType, or IR_DT_UNKNOWN. */
int onnx_dtype_to_ir(int64_t onnx_type);

/* onnx_ops.c: translates one node (not Constant/Identity/Dropout, handled by onnx.c). */
tod_status onnx_translate_node(onnx_ctx *c, onnx_node *n);
/* onnx_ops_ext.c: more operators (TOD_NOT_FIND_OP when op_type is not one of them), the general
 * HardSigmoid, and the pre-opset-7 broadcast attribute (rewrites n->in[1]). */
tod_status onnx_translate_ext(onnx_ctx *c, onnx_node *n);
tod_status onnx_hardsigmoid_general(onnx_ctx *c, onnx_node *n);
/* onnx_ops_dyn.c: nodes whose axes/sizes/slice bounds are non-constant inputs; onnx_ops_nn.c:
 * more operators. Both return TOD_NOT_FIND_OP for nodes they do not take. */
tod_status onnx_translate_dyn(onnx_ctx *c, onnx_node *n);
tod_status onnx_translate_nn(onnx_ctx *c, onnx_node *n);
tod_status onnx_legacy_broadcast(onnx_ctx *c, onnx_node *n);
tod_status onnx_shape_slice(onnx_ctx *c, onnx_node *n); /* Shape with start/end */
/* Runs a 2-D translator on the 1-D (or BatchNorm rank-2/3) form of n, squeezing back. */
tod_status onnx_as_2d(onnx_ctx *c, onnx_node *n, tod_status (*fn)(onnx_ctx *, onnx_node *));


/* Shared by the op translators (onnx_ops*.c): return on the first failing status, and attribute
 * setters that turn allocation failure into onnx_oom's message. */
#define TRY(x)                             \
  do {                                     \
    tod_status try_st_ = (x);              \
    if (try_st_ != TOD_OK) return try_st_; \
  } while (0)

static inline tod_status seti(onnx_ctx *c, ir_node *nd, const char *k, int64_t v) {
  return ir_attr_set_int(nd, k, v) == TOD_OK ? TOD_OK : onnx_oom(c);
}
static inline tod_status setf(onnx_ctx *c, ir_node *nd, const char *k, double v) {
  return ir_attr_set_float(nd, k, v) == TOD_OK ? TOD_OK : onnx_oom(c);
}
static inline tod_status setis(onnx_ctx *c, ir_node *nd, const char *k, const int64_t *v, int n) {
  return ir_attr_set_ints(nd, k, v, n) == TOD_OK ? TOD_OK : onnx_oom(c);
}
static inline tod_status setfs(onnx_ctx *c, ir_node *nd, const char *k, const float *v, int n) {
  return ir_attr_set_floats(nd, k, v, n) == TOD_OK ? TOD_OK : onnx_oom(c);
}

#endif
