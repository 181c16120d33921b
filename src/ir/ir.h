/* The graph IR shared by the converter and the runtime.
 *
 * A graph is a flat array of tensors and a flat array of nodes that refer to tensors by index.
 * Operators are MindSpore Lite primitives (ir_op.h: the 1-based position in ops.fbs's
 * `union PrimitiveType`), attributes carry ops.fbs's field names, so an IR graph maps one to one
 * onto a `.ms` MetaGraph and back. Importers (ONNX, MINDIR) translate foreign operators into
 * these primitives; the runtime executes them.
 *
 * Layout convention: spatial operators (Conv2DFusion, pooling, Resize, ...) run on NHWC
 * activations with KHWC convolution weights, as in MindSpore Lite. Importers may produce NCHW
 * graphs (tensor.format = IR_FMT_NCHW); the layout pass (layout.c) rewrites them to NHWC.
 */
#ifndef TOD_IR_H
#define TOD_IR_H

#include <stddef.h>
#include <stdint.h>

#include "tod/status.h"

#define IR_MAX_DIMS 8

/* MindSpore TypeId numbers, as stored in Tensor.dataType. */
enum {
  IR_DT_UNKNOWN = 0,
  IR_DT_BOOL = 30,
  IR_DT_INT8 = 32,
  IR_DT_INT16 = 33,
  IR_DT_INT32 = 34,
  IR_DT_INT64 = 35,
  IR_DT_UINT8 = 37,
  IR_DT_UINT16 = 38,
  IR_DT_UINT32 = 39,
  IR_DT_UINT64 = 40,
  IR_DT_FLOAT16 = 42,
  IR_DT_FLOAT32 = 43,
  IR_DT_FLOAT64 = 44
};

/* ops_types.fbs `Format`. */
enum {
  IR_FMT_NCHW = 0,
  IR_FMT_NHWC = 1,
  IR_FMT_KCHW = 5,
  IR_FMT_KHWC = 7
};

/* ops_types.fbs `ActivationType` (the values used so far). */
enum {
  IR_ACT_NONE = 0,
  IR_ACT_RELU = 1,
  IR_ACT_SIGMOID = 2,
  IR_ACT_RELU6 = 3,
  IR_ACT_ELU = 4,
  IR_ACT_LEAKY_RELU = 5,
  IR_ACT_ABS = 6,
  IR_ACT_RELU1 = 7,
  IR_ACT_SOFTSIGN = 8,
  IR_ACT_SOFTPLUS = 9,
  IR_ACT_TANH = 10,
  IR_ACT_SELU = 11,
  IR_ACT_HSWISH = 12,
  IR_ACT_HSIGMOID = 13,
  IR_ACT_THRESHOLDRELU = 14,
  IR_ACT_LINEAR = 15,
  IR_ACT_HARD_TANH = 16,
  IR_ACT_SIGN = 17,
  IR_ACT_SWISH = 18,
  IR_ACT_GELU = 19,
  IR_ACT_FAST_GELU = 20
};

/* Tensor.nodeType in .ms files. */
enum { IR_NODETYPE_VALUE = 0, IR_NODETYPE_CNODE = 2 };

typedef enum {
  IR_TENSOR_ACT = 0,   /* produced by a node (or unused) */
  IR_TENSOR_INPUT = 1, /* graph input, fed by the user */
  IR_TENSOR_CONST = 2, /* constant with data (weights, shapes, hyper-parameters) */
  /* Parameter: data a training session updates in place (trainable weights, optimizer state,
   * BatchNorm running statistics). Stored like a constant (nodeType 0 with data); kernels must
   * read it from their input view at run time and never pack it at create time. */
  IR_TENSOR_PARAM = 3
} ir_tensor_kind;

/* Weight-quantization parameters of one channel (model.fbs QuantParam). */
typedef struct {
  double scale;
  int32_t zero_point;
  double min, max;
  int32_t num_bits;
  int inited;
} ir_quant_param;

typedef struct ir_tensor {
  char *name;           /* owned; may be "" */
  int dtype;            /* IR_DT_* */
  int ndim;             /* -1: rank unknown */
  int64_t dims[IR_MAX_DIMS]; /* -1: dimension unknown */
  int format;           /* IR_FMT_* tag, as written to Tensor.format */
  ir_tensor_kind kind;
  /* Constant data. Either borrowed (points into an mmap'd file that outlives the graph) or
   * owned (data == owned, freed with the graph). nbytes is the stored byte size. */
  const void *data;
  size_t nbytes;
  void *owned;
  /* Deferred data (ir/deferred.h; the converter only): when src is set, data and owned are NULL
   * and the nbytes bytes are produced from src (borrowed, any alignment) as src_layout says,
   * when written or settled. Anything else that reads data settles the tensor first. */
  const void *src;
  int src_layout; /* IR_SRC_* (ir/deferred.h) */
  /* Weight quantization (empty for float tensors). */
  ir_quant_param *quant;
  int n_quant;
  float *clusters;
  int n_clusters;
  int compress_type; /* model.fbs WeightQuantCompressType */
} ir_tensor;

/* A tensor as shape inference and kernels see it: dtype, shape and a data pointer (activation
 * arena, user buffer or constant in the mapped file; NULL when the value is not known, e.g.
 * during shape inference). Dense, row-major in the stored dim order. */
typedef struct {
  int dtype;
  int ndim;
  int64_t dims[IR_MAX_DIMS];
  void *data;
} tod_view;

typedef enum {
  IR_ATTR_INT = 0, /* long, int, bool and enum fields */
  IR_ATTR_FLOAT,   /* float fields */
  IR_ATTR_INTS,    /* [long] / [int] */
  IR_ATTR_FLOATS,  /* [float] */
  IR_ATTR_STRING,  /* string */
  IR_ATTR_INTS2D   /* Vec2D: rows x cols longs, row-major */
} ir_attr_type;

typedef struct {
  const char *key; /* static string: an ops.fbs field name */
  ir_attr_type type;
  int64_t i;
  double f;
  int n;       /* element count of ints / floats; rows for INTS2D */
  int cols;    /* INTS2D only */
  int64_t *ints; /* owned */
  float *floats; /* owned */
  char *s;       /* owned */
} ir_attr;

typedef struct ir_node {
  char *name; /* owned */
  int op;     /* IR_OP_* (ir_op.h) */
  int n_in, n_out;
  int *in;  /* owned; tensor indices, -1 for an absent optional input */
  int *out; /* owned */
  ir_attr *attrs; /* owned */
  int n_attrs;
  int quant_type; /* model.fbs QuantType of the CNode */
} ir_node;

typedef struct ir_graph {
  char *name;
  char *version;
  int fmk_type; /* 0 TF, 1 Caffe, 2 ONNX, 3 MINDIR, 4 TFLITE */
  ir_tensor *tensors;
  int n_tensors, cap_tensors;
  ir_node *nodes;
  int n_nodes, cap_nodes;
  int *inputs; /* tensor indices, in the model's input order */
  int n_inputs;
  int *outputs;
  int n_outputs;
} ir_graph;

/* --- graph lifetime ---------------------------------------------------------------------- */
void ir_graph_init(ir_graph *g);
/* Frees everything the graph owns (names, owned data, attrs); borrowed data is untouched. */
void ir_graph_free(ir_graph *g);
/* Per tensor (arrays of g->n_tensors, the caller's): the node producing it (-1: none) and how
 * many node inputs and graph outputs read it. */
void ir_graph_uses(const ir_graph *g, int *producer, int *readers);

/* Deep copy: names, attributes, quantization and constant data are copied into dst (owned), so
 * dst does not depend on src's storage. */
tod_status ir_graph_clone(const ir_graph *src, ir_graph *dst);

/* Adds a tensor (name copied) and returns its index, or -1 on allocation failure. The new
 * tensor has kind ACT, dtype FLOAT32, unknown rank (-1), format NCHW and no data. */
int ir_add_tensor(ir_graph *g, const char *name);
/* Adds a node (name copied, in/out arrays copied) and returns its index, or -1. */
int ir_add_node(ir_graph *g, int op, const char *name, const int *in, int n_in, const int *out,
                int n_out);
/* Graph input/output lists (appended). Return TOD_OK or TOD_MEMORY_FAILED. */
tod_status ir_add_input(ir_graph *g, int tensor);
tod_status ir_add_output(ir_graph *g, int tensor);

/* Tensor helpers. */
void ir_tensor_set_shape(ir_tensor *t, int ndim, const int64_t *dims);
/* Number of elements; -1 when the shape is not fully known. */
int64_t ir_tensor_numel(const ir_tensor *t);
/* Bytes per element of a dtype; 0 when unknown. */
size_t ir_dtype_size(int dtype);
const char *ir_dtype_name(int dtype);
/* Makes t a constant owning a copy of nbytes bytes (data may be NULL: zero-filled). */
tod_status ir_tensor_set_data_copy(ir_tensor *t, const void *data, size_t nbytes);
/* Makes t a constant borrowing data (the caller keeps it alive longer than the graph). */
void ir_tensor_set_data_borrow(ir_tensor *t, const void *data, size_t nbytes);
/* Makes t a constant that takes ownership of buf (allocated with malloc). */
void ir_tensor_set_data_owned(ir_tensor *t, void *buf, size_t nbytes);

/* --- attributes (keys are static ops.fbs field names) ------------------------------------ */
tod_status ir_attr_set_int(ir_node *n, const char *key, int64_t v);
tod_status ir_attr_set_float(ir_node *n, const char *key, double v);
tod_status ir_attr_set_ints(ir_node *n, const char *key, const int64_t *v, int count);
tod_status ir_attr_set_floats(ir_node *n, const char *key, const float *v, int count);
tod_status ir_attr_set_string(ir_node *n, const char *key, const char *s);
tod_status ir_attr_set_ints2d(ir_node *n, const char *key, const int64_t *v, int rows, int cols);
const ir_attr *ir_attr_find(const ir_node *n, const char *key);
int64_t ir_attr_int(const ir_node *n, const char *key, int64_t dflt);
double ir_attr_float(const ir_node *n, const char *key, double dflt);
/* Returns the element count (0 when absent) and sets *v to the attribute's storage. */
int ir_attr_ints(const ir_node *n, const char *key, const int64_t **v);
int ir_attr_floats(const ir_node *n, const char *key, const float **v);
void ir_attr_remove(ir_node *n, const char *key);

/* --- structure helpers ------------------------------------------------------------------- */
/* Index of the node producing tensor t, or -1 (inputs, constants). O(nodes). */
int ir_producer(const ir_graph *g, int t);
/* Number of node inputs and graph outputs reading tensor t. O(nodes). */
int ir_use_count(const ir_graph *g, int t);
/* Removes node i (tensors stay). Indices of later nodes shift down by one. */
void ir_remove_node(ir_graph *g, int i);
/* Removes every node i with dead[i] set in one pass (tensors stay); the others keep their order. */
void ir_remove_nodes(ir_graph *g, const char *dead);
/* Drops nodes whose outputs nobody reads and tensors nobody refers to; renumbers. Linear. */
tod_status ir_compact(ir_graph *g);
/* Reorders nodes topologically (stable for already ordered graphs). TOD_GRAPH_FILE_ERR on a
 * cycle or a tensor produced twice. */
tod_status ir_toposort(ir_graph *g, char *err, size_t errlen);
/* Checks every index in the graph; TOD_GRAPH_FILE_ERR with a message when one is bad. */
tod_status ir_validate(const ir_graph *g, char *err, size_t errlen);

#endif
