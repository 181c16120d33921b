/* IR -> ONNX (opset 13) writer; see export_onnx.h for the mapping. */
#include "format/export_onnx.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/file_io.h"
#include "ir/ir_op.h"
#include "proto/pb.h"
#include "tod/tod.h"

/* onnx.proto numbers. */
enum { OX_FLOAT = 1, OX_UINT8 = 2, OX_INT8 = 3, OX_UINT16 = 4, OX_INT16 = 5, OX_INT32 = 6, OX_INT64 = 7,
       OX_BOOL = 9, OX_FLOAT16 = 10, OX_DOUBLE = 11, OX_UINT32 = 12, OX_UINT64 = 13 };
enum { AT_FLOAT = 1, AT_INT = 2, AT_STRING = 3, AT_FLOATS = 6, AT_INTS = 7 };

static int onnx_dtype(int dt) {
  switch (dt) {
    case IR_DT_FLOAT32: return OX_FLOAT;
    case IR_DT_UINT8: return OX_UINT8;
    case IR_DT_INT8: return OX_INT8;
    case IR_DT_UINT16: return OX_UINT16;
    case IR_DT_INT16: return OX_INT16;
    case IR_DT_INT32: return OX_INT32;
    case IR_DT_INT64: return OX_INT64;
    case IR_DT_BOOL: return OX_BOOL;
    case IR_DT_FLOAT16: return OX_FLOAT16;
    case IR_DT_FLOAT64: return OX_DOUBLE;
    case IR_DT_UINT32: return OX_UINT32;
    case IR_DT_UINT64: return OX_UINT64;
    default: return 0;
  }
}

typedef struct {
  const ir_graph *g;
  pb_buf *b;      /* GraphProto body */
  char **names;   /* per tensor, unique */
  char *emitted;  /* per tensor: initializer written */
  char **tmp;     /* names of temporaries (owned) */
  int n_tmp, cap_tmp;
  const ir_node *node; /* the node being translated (for messages) */
  int counter;         /* for unique node names */
  char *err;
  size_t errlen;
  tod_status st;
} ox;

static tod_status fail(ox *c, tod_status st, const char *fmt, ...) {
  if (c->st != TOD_OK) return c->st;
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (c->node) snprintf(c->err, c->errlen, "ONNX export: node %s (%s): %s", c->node->name, ir_op_name(c->node->op), msg);
  else snprintf(c->err, c->errlen, "ONNX export: %s", msg);
  c->st = st;
  return st;
}

/* A fresh name for a temporary value. Returns "" after an allocation failure (c->st set). */
static const char *tmp_name(ox *c, const char *what) {
  if (c->n_tmp == c->cap_tmp) {
    int cap = c->cap_tmp ? c->cap_tmp * 2 : 64;
    char **t = realloc(c->tmp, sizeof *t * (size_t)cap);
    if (!t) return fail(c, TOD_MEMORY_FAILED, "out of memory"), "";
    c->tmp = t;
    c->cap_tmp = cap;
  }
  char buf[96];
  snprintf(buf, sizeof buf, "tod__%s_%d", what, c->n_tmp);
  char *s = strdup(buf);
  if (!s) return fail(c, TOD_MEMORY_FAILED, "out of memory"), "";
  c->tmp[c->n_tmp++] = s;
  return s;
}

/* --- protobuf pieces ------------------------------------------------------------------------ */

static void put_int64(pb_buf *b, uint32_t num, int64_t v) { pb_put_uint(b, num, (uint64_t)v); }

static void tensor_proto(pb_buf *b, uint32_t field, const char *name, int oxt, int ndim, const int64_t *dims,
                         const void *data, size_t nbytes) {
  size_t m = pb_put_begin(b, field);
  for (int d = 0; d < ndim; d++) put_int64(b, 1, dims[d]);
  pb_put_uint(b, 2, (uint64_t)oxt);
  pb_put_string(b, 8, name);
  pb_put_bytes(b, 9, data, nbytes);
  pb_put_end(b, m);
}

typedef struct {
  const char *name;
  int type;
  int64_t i;
  float f;
  const int64_t *ints;
  int n;
  const char *s;
} ox_attr;

#define A_I(nm, v) ((ox_attr){.name = (nm), .type = AT_INT, .i = (v)})
#define A_F(nm, v) ((ox_attr){.name = (nm), .type = AT_FLOAT, .f = (float)(v)})
#define A_INTS(nm, p, k) ((ox_attr){.name = (nm), .type = AT_INTS, .ints = (p), .n = (k)})
#define A_S(nm, v) ((ox_attr){.name = (nm), .type = AT_STRING, .s = (v)})

static void emit_node(ox *c, const char *op, const char *const *in, int nin, const char *const *out, int nout,
                      const ox_attr *at, int nat) {
  pb_buf *b = c->b;
  size_t m = pb_put_begin(b, 1);
  for (int i = 0; i < nin; i++) pb_put_string(b, 1, in[i] ? in[i] : "");
  for (int i = 0; i < nout; i++) pb_put_string(b, 2, out[i]);
  char nm[600];
  snprintf(nm, sizeof nm, "%s_%s_%d", c->node ? c->node->name : "tod", op, c->counter++);
  pb_put_string(b, 3, nm);
  pb_put_string(b, 4, op);
  for (int k = 0; k < nat; k++) {
    size_t ma = pb_put_begin(b, 5);
    pb_put_string(b, 1, at[k].name);
    switch (at[k].type) {
      case AT_INT: put_int64(b, 3, at[k].i); break;
      case AT_FLOAT: pb_put_float(b, 2, at[k].f); break;
      case AT_INTS:
        for (int j = 0; j < at[k].n; j++) put_int64(b, 8, at[k].ints[j]);
        break;
      case AT_STRING: pb_put_string(b, 4, at[k].s); break;
    }
    pb_put_uint(b, 20, (uint64_t)at[k].type);
    pb_put_end(b, ma);
  }
  pb_put_end(b, m);
}

/* One-input, one-output node into a new temporary (or into out when given). */
static const char *unary_to(ox *c, const char *op, const char *x, const char *out, const ox_attr *at, int nat) {
  if (!out) out = tmp_name(c, op);
  emit_node(c, op, &x, 1, &out, 1, at, nat);
  return out;
}

static const char *const_i64(ox *c, const int64_t *v, int n, int scalar) {
  const char *nm = tmp_name(c, "const");
  int64_t d = n;
  tensor_proto(c->b, 5, nm, OX_INT64, scalar ? 0 : 1, &d, v, sizeof(int64_t) * (size_t)n);
  return nm;
}

static const char *const_f32(ox *c, float v) {
  const char *nm = tmp_name(c, "const");
  tensor_proto(c->b, 5, nm, OX_FLOAT, 0, NULL, &v, sizeof v);
  return nm;
}

static const char *transpose(ox *c, const char *x, const int64_t *perm, int rank, const char *out) {
  ox_attr a = A_INTS("perm", perm, rank);
  return unary_to(c, "Transpose", x, out, &a, 1);
}

static const int64_t TO_NCHW[4] = {0, 3, 1, 2}, TO_NHWC[4] = {0, 2, 3, 1};

/* --- graph values ------------------------------------------------------------------------------ */

static const ir_tensor *T(ox *c, int t) { return &c->g->tensors[t]; }

static int is_const(const ir_tensor *t) { return t->kind == IR_TENSOR_CONST || t->kind == IR_TENSOR_PARAM; }

/* The name of input j of the current node, writing its initializer on first use. NULL when
 * absent. */
static const char *in_name(ox *c, int j) {
  const ir_node *n = c->node;
  if (j >= n->n_in || n->in[j] < 0) return NULL;
  int t = n->in[j];
  const ir_tensor *tt = T(c, t);
  if (is_const(tt) && !c->emitted[t]) {
    if (tt->n_quant > 0 || tt->n_clusters > 0 || tt->compress_type)
      return fail(c, TOD_NOT_SUPPORT, "weight %s is quantized (export the float model)", tt->name), "";
    int oxt = onnx_dtype(tt->dtype);
    if (!oxt || tt->ndim < 0) return fail(c, TOD_NOT_SUPPORT, "constant %s has type %s or no shape", tt->name, ir_dtype_name(tt->dtype)), "";
    int64_t numel = ir_tensor_numel(tt);
    size_t need = (size_t)numel * ir_dtype_size(tt->dtype);
    if (numel < 0 || need > tt->nbytes || (need && !tt->data))
      return fail(c, TOD_GRAPH_FILE_ERR, "constant %s holds fewer bytes than its shape needs", tt->name), "";
    tensor_proto(c->b, 5, c->names[t], oxt, tt->ndim, tt->dims, tt->data, need);
    c->emitted[t] = 1;
  }
  return c->names[t];
}

static const char *out_name(ox *c, int j) { return c->names[c->node->out[j]]; }

/* Integer values of a constant input (any int type), at most cap. -1 when not constant. */
static int const_ints(ox *c, int j, int64_t *v, int cap) {
  const ir_node *n = c->node;
  if (j >= n->n_in || n->in[j] < 0) return -1;
  const ir_tensor *t = T(c, n->in[j]);
  if (!is_const(t) || !t->data) return -1;
  int64_t k = ir_tensor_numel(t);
  if (k < 0 || k > cap) return -1;
  size_t es = ir_dtype_size(t->dtype);
  if ((size_t)k * es > t->nbytes) return -1;
  for (int64_t i = 0; i < k; i++) {
    if (t->dtype == IR_DT_INT32) v[i] = ((const int32_t *)t->data)[i];
    else if (t->dtype == IR_DT_INT64) v[i] = ((const int64_t *)t->data)[i];
    else return -1;
  }
  return (int)k;
}

/* An int64 version of an integer input (ONNX wants int64 shapes, axes, pads). */
static const char *as_i64(ox *c, int j) {
  int64_t v[64];
  int k = const_ints(c, j, v, 64);
  if (k >= 0) return const_i64(c, v, k, T(c, c->node->in[j])->ndim == 0);
  const char *x = in_name(c, j);
  if (T(c, c->node->in[j])->dtype == IR_DT_INT64) return x;
  ox_attr a = A_I("to", OX_INT64);
  return unary_to(c, "Cast", x, NULL, &a, 1);
}

/* --- activations ---------------------------------------------------------------------------- */

/* y = act(x), into out (a new temporary when NULL). IR_ACT_NONE is an Identity only when out is
 * given; otherwise x itself. */
static const char *activation(ox *c, int type, const char *x, const char *out, double alpha, double lo, double hi,
                              int approximate) {
  const char *in2[3];
  switch (type) {
    case IR_ACT_NONE:
      return out ? unary_to(c, "Identity", x, out, NULL, 0) : x;
    case IR_ACT_RELU: return unary_to(c, "Relu", x, out, NULL, 0);
    case IR_ACT_SIGMOID: return unary_to(c, "Sigmoid", x, out, NULL, 0);
    case IR_ACT_TANH: return unary_to(c, "Tanh", x, out, NULL, 0);
    case IR_ACT_ABS: return unary_to(c, "Abs", x, out, NULL, 0);
    case IR_ACT_SOFTPLUS: return unary_to(c, "Softplus", x, out, NULL, 0);
    case IR_ACT_SOFTSIGN: return unary_to(c, "Softsign", x, out, NULL, 0);
    case IR_ACT_LEAKY_RELU: {
      ox_attr a = A_F("alpha", alpha);
      return unary_to(c, "LeakyRelu", x, out, &a, 1);
    }
    case IR_ACT_ELU: {
      ox_attr a = A_F("alpha", alpha);
      return unary_to(c, "Elu", x, out, &a, 1);
    }
    case IR_ACT_RELU6:
    case IR_ACT_RELU1:
    case IR_ACT_HARD_TANH: {
      if (type == IR_ACT_RELU6) lo = 0, hi = 6;
      if (type == IR_ACT_RELU1) lo = 0, hi = 1;
      in2[0] = x;
      in2[1] = const_f32(c, (float)lo);
      in2[2] = const_f32(c, (float)hi);
      if (!out) out = tmp_name(c, "Clip");
      emit_node(c, "Clip", in2, 3, &out, 1, NULL, 0);
      return out;
    }
    case IR_ACT_HSIGMOID:
    case IR_ACT_HSWISH: {
      ox_attr a[2] = {A_F("alpha", 1.0 / 6.0), A_F("beta", 0.5)};
      const char *h = unary_to(c, "HardSigmoid", x, type == IR_ACT_HSIGMOID ? out : NULL, a, 2);
      if (type == IR_ACT_HSIGMOID) return h;
      in2[0] = x;
      in2[1] = h;
      if (!out) out = tmp_name(c, "Mul");
      emit_node(c, "Mul", in2, 2, &out, 1, NULL, 0);
      return out;
    }
    case IR_ACT_SWISH: {
      in2[0] = x;
      in2[1] = unary_to(c, "Sigmoid", x, NULL, NULL, 0);
      if (!out) out = tmp_name(c, "Mul");
      emit_node(c, "Mul", in2, 2, &out, 1, NULL, 0);
      return out;
    }
    case IR_ACT_GELU: {
      if (approximate) return fail(c, TOD_NOT_SUPPORT, "tanh-approximate GELU"), "";
      /* 0.5 x (1 + erf(x / sqrt 2)) */
      const char *a[2] = {x, const_f32(c, (float)(1.0 / sqrt(2.0)))};
      const char *s = tmp_name(c, "Mul");
      emit_node(c, "Mul", a, 2, &s, 1, NULL, 0);
      const char *e = unary_to(c, "Erf", s, NULL, NULL, 0);
      const char *b2[2] = {e, const_f32(c, 1.0f)};
      const char *p = tmp_name(c, "Add");
      emit_node(c, "Add", b2, 2, &p, 1, NULL, 0);
      const char *m2[2] = {x, p};
      const char *q = tmp_name(c, "Mul");
      emit_node(c, "Mul", m2, 2, &q, 1, NULL, 0);
      const char *h[2] = {q, const_f32(c, 0.5f)};
      if (!out) out = tmp_name(c, "Mul");
      emit_node(c, "Mul", h, 2, &out, 1, NULL, 0);
      return out;
    }
    default:
      return fail(c, TOD_NOT_SUPPORT, "activation type %d", type), "";
  }
}

/* The node's fused activation applied to y, ending in the node's output 0. */
static void finish_act(ox *c, const char *y) {
  const ir_node *n = c->node;
  int act = (int)ir_attr_int(n, "activation_type", IR_ACT_NONE);
  activation(c, act, y, out_name(c, 0), ir_attr_float(n, "alpha", 0.2), ir_attr_float(n, "min_val", -1.0),
             ir_attr_float(n, "max_val", 1.0), (int)ir_attr_int(n, "approximate", 0));
}

/* --- operators ------------------------------------------------------------------------------ */

static int attr2(const ir_node *n, const char *key, int64_t *v, int64_t dflt) {
  const int64_t *p;
  int k = ir_attr_ints(n, key, &p);
  v[0] = v[1] = dflt;
  if (k >= 2) v[0] = p[0], v[1] = p[1];
  else if (k == 1) v[0] = v[1] = p[0];
  return k;
}

/* MindSpore pads [t,b,l,r] -> ONNX [t,l,b,r]. */
static void onnx_pads(const ir_node *n, const char *key, int64_t *pads) {
  const int64_t *p;
  int k = ir_attr_ints(n, key, &p);
  pads[0] = pads[1] = pads[2] = pads[3] = 0;
  if (k == 4) pads[0] = p[0], pads[1] = p[2], pads[2] = p[1], pads[3] = p[3];
}

static void op_conv(ox *c) {
  const ir_node *n = c->node;
  int wt = n->n_in > 1 ? n->in[1] : -1;
  if (wt < 0 || !is_const(T(c, wt)) || T(c, wt)->ndim != 4) {
    fail(c, TOD_NOT_SUPPORT, "the weight must be a constant of rank 4");
    return;
  }
  const ir_tensor *w = T(c, wt);
  /* KHWC [O,H,W,I] -> OIHW, written once under the weight's name. */
  if (!c->emitted[wt]) {
    if (w->n_quant > 0 || w->compress_type) {
      fail(c, TOD_NOT_SUPPORT, "weight %s is quantized (export the float model)", w->name);
      return;
    }
    size_t es = ir_dtype_size(w->dtype);
    int64_t O = w->dims[0], H = w->dims[1], W = w->dims[2], I = w->dims[3];
    size_t nb = (size_t)(O * H * W * I) * es;
    if (O < 0 || H < 0 || W < 0 || I < 0 || nb > w->nbytes || !onnx_dtype(w->dtype)) {
      fail(c, TOD_GRAPH_FILE_ERR, "bad weight %s", w->name);
      return;
    }
    uint8_t *buf = malloc(nb ? nb : 1);
    if (!buf) {
      fail(c, TOD_MEMORY_FAILED, "out of memory");
      return;
    }
    const uint8_t *src = w->data;
    for (int64_t o = 0; o < O; o++)
      for (int64_t h = 0; h < H; h++)
        for (int64_t x = 0; x < W; x++)
          for (int64_t i = 0; i < I; i++)
            memcpy(buf + (size_t)(((o * I + i) * H + h) * W + x) * es, src + (size_t)(((o * H + h) * W + x) * I + i) * es, es);
    int64_t d[4] = {O, I, H, W};
    tensor_proto(c->b, 5, c->names[wt], onnx_dtype(w->dtype), 4, d, buf, nb);
    free(buf);
    c->emitted[wt] = 1;
  }
  int64_t ks[2] = {w->dims[1], w->dims[2]}, st[2], dil[2], pads[4];
  attr2(n, "stride", st, 1);
  attr2(n, "dilation", dil, 1);
  onnx_pads(n, "pad_list", pads);
  int mode = (int)ir_attr_int(n, "pad_mode", 0);
  ox_attr a[6];
  int na = 0;
  a[na++] = A_INTS("kernel_shape", ks, 2);
  a[na++] = A_INTS("strides", st, 2);
  a[na++] = A_INTS("dilations", dil, 2);
  a[na++] = A_I("group", ir_attr_int(n, "group", 1));
  if (mode == 1) a[na++] = A_S("auto_pad", "SAME_UPPER");
  else if (mode == 0) a[na++] = A_INTS("pads", pads, 4);
  const char *in[3] = {transpose(c, in_name(c, 0), TO_NCHW, 4, NULL), c->names[wt], in_name(c, 2)};
  const char *y = tmp_name(c, "Conv");
  emit_node(c, "Conv", in, in[2] ? 3 : 2, &y, 1, a, na);
  int act = (int)ir_attr_int(n, "activation_type", IR_ACT_NONE);
  y = activation(c, act, y, NULL, ir_attr_float(n, "alpha", 0.2), -1, 1, 0);
  transpose(c, y, TO_NHWC, 4, out_name(c, 0));
}

static void op_pool(ox *c, int max) {
  const ir_node *n = c->node;
  const char *x = transpose(c, in_name(c, 0), TO_NCHW, 4, NULL);
  const char *y;
  if (ir_attr_int(n, "global", 0)) {
    y = unary_to(c, max ? "GlobalMaxPool" : "GlobalAveragePool", x, NULL, NULL, 0);
  } else {
    int64_t ks[2], st[2], pads[4];
    attr2(n, "kernel_size", ks, 1);
    attr2(n, "strides", st, 1);
    onnx_pads(n, "pad", pads);
    int mode = (int)ir_attr_int(n, "pad_mode", 0);
    ox_attr a[5];
    int na = 0;
    a[na++] = A_INTS("kernel_shape", ks, 2);
    a[na++] = A_INTS("strides", st, 2);
    a[na++] = A_I("ceil_mode", ir_attr_int(n, "round_mode", 0) ? 1 : 0);
    if (mode == 1) a[na++] = A_S("auto_pad", "SAME_UPPER");
    else if (mode == 0) a[na++] = A_INTS("pads", pads, 4);
    y = unary_to(c, max ? "MaxPool" : "AveragePool", x, NULL, a, na);
  }
  int act = (int)ir_attr_int(n, "activation_type", IR_ACT_NONE);
  y = activation(c, act, y, NULL, ir_attr_float(n, "alpha", 0.2), -1, 1, 0);
  transpose(c, y, TO_NHWC, 4, out_name(c, 0));
}

static void op_batchnorm(ox *c) {
  const ir_node *n = c->node;
  if (ir_attr_int(n, "mode", 0) != 0) {
    fail(c, TOD_NOT_SUPPORT, "training-mode BatchNorm (export the inference part)");
    return;
  }
  int rank = T(c, n->in[0])->ndim;
  const char *in[5];
  for (int j = 1; j < 5; j++) in[j] = in_name(c, j);
  ox_attr a = A_F("epsilon", ir_attr_float(n, "epsilon", 1e-5));
  if (rank == 2) {
    in[0] = in_name(c, 0);
    const char *o = out_name(c, 0);
    emit_node(c, "BatchNormalization", in, 5, &o, 1, &a, 1);
    return;
  }
  if (rank != 4) {
    fail(c, TOD_NOT_SUPPORT, "BatchNorm on rank %d", rank);
    return;
  }
  in[0] = transpose(c, in_name(c, 0), TO_NCHW, 4, NULL);
  const char *y = tmp_name(c, "BatchNormalization");
  emit_node(c, "BatchNormalization", in, 5, &y, 1, &a, 1);
  transpose(c, y, TO_NHWC, 4, out_name(c, 0));
}

static void op_binary(ox *c, const char *op, int fused) {
  const char *in[2] = {in_name(c, 0), in_name(c, 1)};
  int act = fused ? (int)ir_attr_int(c->node, "activation_type", IR_ACT_NONE) : IR_ACT_NONE;
  const char *y = act == IR_ACT_NONE ? out_name(c, 0) : tmp_name(c, op);
  emit_node(c, op, in, 2, &y, 1, NULL, 0);
  if (act != IR_ACT_NONE) finish_act(c, y);
}

static void op_matmul(ox *c) {
  const ir_node *n = c->node;
  const char *a = in_name(c, 0), *b;
  int ta = (int)ir_attr_int(n, "transpose_a", 0), tb = (int)ir_attr_int(n, "transpose_b", 0);
  const ir_tensor *at = T(c, n->in[0]), *bt = T(c, n->in[1]);
  if (ta) {
    if (at->ndim < 2) {
      fail(c, TOD_NOT_SUPPORT, "transpose_a with an input of unknown rank");
      return;
    }
    int64_t perm[IR_MAX_DIMS];
    for (int d = 0; d < at->ndim; d++) perm[d] = d;
    perm[at->ndim - 2] = at->ndim - 1;
    perm[at->ndim - 1] = at->ndim - 2;
    a = transpose(c, a, perm, at->ndim, NULL);
  }
  if (tb && is_const(bt) && bt->ndim == 2 && !c->emitted[n->in[1]] && bt->dtype == IR_DT_FLOAT32) {
    /* A constant [N,K] weight goes out as [K,N]. */
    int64_t N = bt->dims[0], K = bt->dims[1];
    if (N < 0 || K < 0 || (size_t)(N * K) * 4 > bt->nbytes) {
      fail(c, TOD_GRAPH_FILE_ERR, "bad weight %s", bt->name);
      return;
    }
    float *buf = malloc((size_t)(N * K) * 4 + 4);
    if (!buf) {
      fail(c, TOD_MEMORY_FAILED, "out of memory");
      return;
    }
    const float *src = bt->data;
    for (int64_t i = 0; i < N; i++)
      for (int64_t k = 0; k < K; k++) buf[k * N + i] = src[i * K + k];
    int64_t d[2] = {K, N};
    b = tmp_name(c, "weight_t");
    tensor_proto(c->b, 5, b, OX_FLOAT, 2, d, buf, (size_t)(N * K) * 4);
    free(buf);
  } else {
    b = in_name(c, 1);
    if (tb) {
      if (bt->ndim < 2) {
        fail(c, TOD_NOT_SUPPORT, "transpose_b with an input of unknown rank");
        return;
      }
      int64_t perm[IR_MAX_DIMS];
      for (int d = 0; d < bt->ndim; d++) perm[d] = d;
      perm[bt->ndim - 2] = bt->ndim - 1;
      perm[bt->ndim - 1] = bt->ndim - 2;
      b = transpose(c, b, perm, bt->ndim, NULL);
    }
  }
  const char *bias = in_name(c, 2);
  int act = (int)ir_attr_int(n, "activation_type", IR_ACT_NONE);
  const char *in[2] = {a, b};
  const char *y = bias || act != IR_ACT_NONE ? tmp_name(c, "MatMul") : out_name(c, 0);
  emit_node(c, "MatMul", in, 2, &y, 1, NULL, 0);
  if (bias) {
    const char *in2[2] = {y, bias};
    const char *z = act != IR_ACT_NONE ? tmp_name(c, "Add") : out_name(c, 0);
    emit_node(c, "Add", in2, 2, &z, 1, NULL, 0);
    y = z;
  }
  if (act != IR_ACT_NONE) finish_act(c, y);
}

static void op_reduce(ox *c) {
  const ir_node *n = c->node;
  static const char *names[] = {"ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSum",
                                "ReduceSumSquare", "ReduceL1", NULL, "ReduceL2"};
  int mode = (int)ir_attr_int(n, "mode", 0);
  if (mode < 0 || mode > 8 || !names[mode] || ir_attr_int(n, "reduce_to_end", 0) ||
      fabs(ir_attr_float(n, "coeff", 1.0) - 1.0) > 0) {
    fail(c, TOD_NOT_SUPPORT, "reduce mode %d (or reduce_to_end / coeff)", mode);
    return;
  }
  int64_t axes[IR_MAX_DIMS];
  int k = n->n_in > 1 ? const_ints(c, 1, axes, IR_MAX_DIMS) : 0;
  if (k < 0) {
    fail(c, TOD_NOT_SUPPORT, "computed axes");
    return;
  }
  ox_attr a[2];
  int na = 0;
  a[na++] = A_I("keepdims", ir_attr_int(n, "keep_dims", 0) ? 1 : 0);
  const char *in[2] = {in_name(c, 0), NULL};
  int nin = 1;
  if (mode == 4) {
    if (k > 0) in[nin++] = const_i64(c, axes, k, 0);
  } else if (k > 0) {
    a[na++] = A_INTS("axes", axes, k);
  }
  const char *o = out_name(c, 0);
  emit_node(c, names[mode], in, nin, &o, 1, a, na);
}

static void op_pad(ox *c) {
  const ir_node *n = c->node;
  int64_t p[2 * IR_MAX_DIMS], q[2 * IR_MAX_DIMS];
  int k = const_ints(c, 1, p, 2 * IR_MAX_DIMS);
  int mode = (int)ir_attr_int(n, "padding_mode", 0);
  if (k < 0 || k % 2 || mode > 1) {
    fail(c, TOD_NOT_SUPPORT, "computed paddings or symmetric mode");
    return;
  }
  int r = k / 2;
  for (int d = 0; d < r; d++) q[d] = p[2 * d], q[r + d] = p[2 * d + 1];
  const char *in[3] = {in_name(c, 0), const_i64(c, q, k, 0), const_f32(c, (float)ir_attr_float(n, "constant_value", 0))};
  ox_attr a = A_S("mode", mode == 1 ? "reflect" : "constant");
  const char *o = out_name(c, 0);
  emit_node(c, "Pad", in, mode == 1 ? 2 : 3, &o, 1, &a, 1);
}

static int onnx_from_typeid(int64_t tid) { return onnx_dtype((int)tid); }

static void translate(ox *c) {
  const ir_node *n = c->node;
  const char *o = n->n_out > 0 ? out_name(c, 0) : NULL;
  int64_t v[IR_MAX_DIMS];
  switch (n->op) {
    case IR_OP_Conv2DFusion: op_conv(c); return;
    case IR_OP_MaxPoolFusion: op_pool(c, 1); return;
    case IR_OP_AvgPoolFusion: op_pool(c, 0); return;
    case IR_OP_FusedBatchNorm: op_batchnorm(c); return;
    case IR_OP_MatMulFusion: op_matmul(c); return;
    case IR_OP_AddFusion: op_binary(c, "Add", 1); return;
    case IR_OP_SubFusion: op_binary(c, "Sub", 1); return;
    case IR_OP_MulFusion: op_binary(c, "Mul", 1); return;
    case IR_OP_DivFusion: op_binary(c, "Div", 1); return;
    case IR_OP_RealDiv: op_binary(c, "Div", 0); return;
    case IR_OP_BiasAdd: op_binary(c, "Add", 0); return;
    case IR_OP_Maximum: op_binary(c, "Max", 0); return;
    case IR_OP_Minimum: op_binary(c, "Min", 0); return;
    case IR_OP_PowFusion: op_binary(c, "Pow", 0); return;
    case IR_OP_Equal: op_binary(c, "Equal", 0); return;
    case IR_OP_Less: op_binary(c, "Less", 0); return;
    case IR_OP_Greater: op_binary(c, "Greater", 0); return;
    case IR_OP_Activation: finish_act(c, in_name(c, 0)); return;
    case IR_OP_ReduceFusion: op_reduce(c); return;
    case IR_OP_PadFusion: op_pad(c); return;
    case IR_OP_Sqrt: unary_to(c, "Sqrt", in_name(c, 0), o, NULL, 0); return;
    case IR_OP_Log: unary_to(c, "Log", in_name(c, 0), o, NULL, 0); return;
    case IR_OP_Neg: unary_to(c, "Neg", in_name(c, 0), o, NULL, 0); return;
    case IR_OP_Abs: unary_to(c, "Abs", in_name(c, 0), o, NULL, 0); return;
    case IR_OP_Floor: unary_to(c, "Floor", in_name(c, 0), o, NULL, 0); return;
    case IR_OP_Ceil: unary_to(c, "Ceil", in_name(c, 0), o, NULL, 0); return;
    case IR_OP_Erf: unary_to(c, "Erf", in_name(c, 0), o, NULL, 0); return;
    case IR_OP_Sin: unary_to(c, "Sin", in_name(c, 0), o, NULL, 0); return;
    case IR_OP_Cos: unary_to(c, "Cos", in_name(c, 0), o, NULL, 0); return;
    case IR_OP_Reciprocal: unary_to(c, "Reciprocal", in_name(c, 0), o, NULL, 0); return;
    case IR_OP_Rsqrt: unary_to(c, "Reciprocal", unary_to(c, "Sqrt", in_name(c, 0), NULL, NULL, 0), o, NULL, 0); return;
    case IR_OP_Square: {
      const char *x = in_name(c, 0), *in[2] = {x, x};
      emit_node(c, "Mul", in, 2, &o, 1, NULL, 0);
      return;
    }
    case IR_OP_ExpFusion:
      if (ir_attr_float(n, "base", -1) != -1 || ir_attr_float(n, "scale", 1) != 1 || ir_attr_float(n, "shift", 0) != 0) {
        fail(c, TOD_NOT_SUPPORT, "Exp with base/scale/shift");
        return;
      }
      unary_to(c, "Exp", in_name(c, 0), o, NULL, 0);
      return;
    case IR_OP_Clip: {
      const char *in[3] = {in_name(c, 0), in_name(c, 1), in_name(c, 2)};
      if (!in[1]) in[1] = const_f32(c, (float)ir_attr_float(n, "min", -INFINITY));
      if (!in[2]) in[2] = const_f32(c, (float)ir_attr_float(n, "max", INFINITY));
      emit_node(c, "Clip", in, 3, &o, 1, NULL, 0);
      return;
    }
    case IR_OP_Softmax: {
      const int64_t *ax;
      int k = ir_attr_ints(n, "axis", &ax);
      ox_attr a = A_I("axis", k > 0 ? ax[0] : -1);
      unary_to(c, "Softmax", in_name(c, 0), o, &a, 1);
      return;
    }
    case IR_OP_LogSoftmax: {
      ox_attr a = A_I("axis", ir_attr_int(n, "axis", -1));
      unary_to(c, "LogSoftmax", in_name(c, 0), o, &a, 1);
      return;
    }
    case IR_OP_Flatten: {
      ox_attr a = A_I("axis", ir_attr_int(n, "axis", 1));
      unary_to(c, "Flatten", in_name(c, 0), o, &a, 1);
      return;
    }
    case IR_OP_Reshape: {
      const char *in[2] = {in_name(c, 0), as_i64(c, 1)};
      emit_node(c, "Reshape", in, 2, &o, 1, NULL, 0);
      return;
    }
    case IR_OP_Transpose: {
      int k = const_ints(c, 1, v, IR_MAX_DIMS);
      if (k < 0) {
        fail(c, TOD_NOT_SUPPORT, "computed permutation");
        return;
      }
      transpose(c, in_name(c, 0), v, k, o);
      return;
    }
    case IR_OP_Concat: {
      const char *in[64];
      if (n->n_in > 64) {
        fail(c, TOD_NOT_SUPPORT, "more than 64 inputs");
        return;
      }
      for (int j = 0; j < n->n_in; j++) in[j] = in_name(c, j);
      ox_attr a = A_I("axis", ir_attr_int(n, "axis", 0));
      emit_node(c, "Concat", in, n->n_in, &o, 1, &a, 1);
      return;
    }
    case IR_OP_Squeeze:
    case IR_OP_Unsqueeze: {
      const int64_t *ax;
      int k = ir_attr_ints(n, "axis", &ax);
      const char *in[2] = {in_name(c, 0), k > 0 ? const_i64(c, ax, k, 0) : NULL};
      emit_node(c, n->op == IR_OP_Squeeze ? "Squeeze" : "Unsqueeze", in, k > 0 ? 2 : 1, &o, 1, NULL, 0);
      return;
    }
    case IR_OP_Gather: {
      int k = const_ints(c, 2, v, 1);
      if (k != 1) {
        fail(c, TOD_NOT_SUPPORT, "computed axis");
        return;
      }
      const char *in[2] = {in_name(c, 0), in_name(c, 1)};
      ox_attr a = A_I("axis", v[0]);
      emit_node(c, "Gather", in, 2, &o, 1, &a, 1);
      return;
    }
    case IR_OP_Shape: {
      /* MindSpore's Shape is int32, ONNX's int64. */
      ox_attr a = A_I("to", OX_INT32);
      unary_to(c, "Cast", unary_to(c, "Shape", in_name(c, 0), NULL, NULL, 0), o, &a, 1);
      return;
    }
    case IR_OP_Cast: {
      int k = const_ints(c, 1, v, 1);
      int to = k == 1 ? onnx_from_typeid(v[0]) : 0;
      if (!to) {
        fail(c, TOD_NOT_SUPPORT, "computed or unknown target type");
        return;
      }
      ox_attr a = A_I("to", to);
      unary_to(c, "Cast", in_name(c, 0), o, &a, 1);
      return;
    }
    default:
      fail(c, TOD_NOT_SUPPORT, "no ONNX translation for this operator yet");
  }
}

/* --- graph ----------------------------------------------------------------------------------- */

static void value_info(ox *c, uint32_t field, int t) {
  const ir_tensor *tt = T(c, t);
  pb_buf *b = c->b;
  size_t m = pb_put_begin(b, field);
  pb_put_string(b, 1, c->names[t]);
  size_t mt = pb_put_begin(b, 2);
  size_t mtt = pb_put_begin(b, 1);
  pb_put_uint(b, 1, (uint64_t)onnx_dtype(tt->dtype));
  if (tt->ndim >= 0) {
    size_t ms = pb_put_begin(b, 2);
    for (int d = 0; d < tt->ndim; d++) {
      size_t md = pb_put_begin(b, 1);
      if (tt->dims[d] >= 0) put_int64(b, 1, tt->dims[d]);
      else pb_put_string(b, 2, d == 0 ? "N" : "unk");
      pb_put_end(b, md);
    }
    pb_put_end(b, ms);
  }
  pb_put_end(b, mtt);
  pb_put_end(b, mt);
  pb_put_end(b, m);
}

static tod_status name_tensors(ox *c) {
  const ir_graph *g = c->g;
  for (int i = 0; i < g->n_tensors; i++) {
    const char *nm = g->tensors[i].name;
    int dup = !nm || !nm[0] || strncmp(nm, "tod__", 5) == 0;
    for (int j = 0; !dup && j < i; j++) dup = strcmp(c->names[j], nm) == 0;
    char buf[64];
    if (dup) snprintf(buf, sizeof buf, "tod__t%d", i);
    c->names[i] = strdup(dup ? buf : nm);
    if (!c->names[i]) return fail(c, TOD_MEMORY_FAILED, "out of memory");
  }
  return TOD_OK;
}

tod_status onnx_export_serialize(const ir_graph *g, uint8_t **buf, size_t *len, char *err, size_t errlen) {
  *buf = NULL;
  *len = 0;
  char dummy[8];
  if (!err) err = dummy, errlen = sizeof dummy;
  pb_buf gb = {0}, mb = {0};
  ox c = {.g = g, .b = &gb, .err = err, .errlen = errlen, .st = TOD_OK};
  int nt = g->n_tensors ? g->n_tensors : 1;
  c.names = calloc((size_t)nt, sizeof *c.names);
  c.emitted = calloc((size_t)nt, 1);
  if (!c.names || !c.emitted) fail(&c, TOD_MEMORY_FAILED, "out of memory");
  if (c.st == TOD_OK) name_tensors(&c);
  for (int i = 0; c.st == TOD_OK && i < g->n_inputs; i++) {
    if (!onnx_dtype(T(&c, g->inputs[i])->dtype)) fail(&c, TOD_NOT_SUPPORT, "input %d has an unsupported type", i);
    else value_info(&c, 11, g->inputs[i]);
  }
  for (int i = 0; c.st == TOD_OK && i < g->n_nodes; i++) {
    c.node = &g->nodes[i];
    translate(&c);
  }
  c.node = NULL;
  for (int i = 0; c.st == TOD_OK && i < g->n_outputs; i++) value_info(&c, 12, g->outputs[i]);
  if (c.st == TOD_OK) pb_put_string(&gb, 2, g->name && g->name[0] ? g->name : "tod");
  if (c.st == TOD_OK && pb_buf_status(&gb) != TOD_OK) fail(&c, TOD_MEMORY_FAILED, "out of memory");
  if (c.st == TOD_OK) {
    put_int64(&mb, 1, 7); /* ir_version 7: opset 13's */
    pb_put_string(&mb, 2, "tod");
    pb_put_string(&mb, 3, TOD_VERSION);
    pb_put_bytes(&mb, 7, gb.data, gb.len);
    size_t mo = pb_put_begin(&mb, 8);
    pb_put_string(&mb, 1, "");
    put_int64(&mb, 2, EXPORT_ONNX_OPSET);
    pb_put_end(&mb, mo);
    if (pb_buf_status(&mb) != TOD_OK) fail(&c, TOD_MEMORY_FAILED, "out of memory");
  }
  for (int i = 0; c.names && i < g->n_tensors; i++) free(c.names[i]);
  free(c.names);
  free(c.emitted);
  for (int i = 0; i < c.n_tmp; i++) free(c.tmp[i]);
  free(c.tmp);
  pb_buf_free(&gb);
  if (c.st != TOD_OK) {
    pb_buf_free(&mb);
    return c.st;
  }
  *buf = mb.data;
  *len = mb.len;
  return TOD_OK;
}

tod_status onnx_export(const ir_graph *g, const char *path, char *err, size_t errlen) {
  uint8_t *buf;
  size_t len;
  tod_status st = onnx_export_serialize(g, &buf, &len, err, errlen);
  if (st != TOD_OK) return st;
  st = tod_write_file_atomic(path, buf, len, err, errlen);
  free(buf);
  return st;
}
