/* MINDIR export. The runtime graph is channel-last (NHWC activations, KHWC conv weights, with
 * Transposes where the layout pass put them); MindIR is NCHW. Each IR tensor is exported either
 * as is (state 0) or as its NCHW view (state 1: the exported value is transpose(t, NHWC->NCHW)).
 * Spatial operators read and write state 1, Transposes compose with the state, elementwise
 * operators pass it through, everything else reads state 0 (a Transpose is emitted when needed).
 * Names, attribute encoding and value nodes follow ../shared/formats/mindir.md (2.x form). */
#include "format/export_mindir.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/file_io.h"
#include "ir/ir_op.h"
#include "proto/pb.h"

static const int TO_NHWC[4] = {0, 2, 3, 1};
static const int TO_NCHW[4] = {0, 3, 1, 2};

enum { AT_FLOAT = 1, AT_INT64 = 7, AT_STRING = 8, AT_BOOL = 9, AT_TENSORS = 19, AT_TUPLE = 20 };

typedef struct {
  ir_graph *g;
  pb_buf nodes, prims;
  char gname[200];
  char **ename;
  signed char *state;
  int counter, nprim;
  char *err;
  size_t errlen;
  tod_status st;
} xctx;

static tod_status xfail(xctx *x, tod_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static tod_status xfail(xctx *x, tod_status st, const char *fmt, ...) {
  if (x->err && x->errlen && !x->err[0]) {
    int k = snprintf(x->err, x->errlen, "mindir export: ");
    va_list ap;
    va_start(ap, fmt);
    if (k > 0 && (size_t)k < x->errlen) vsnprintf(x->err + k, x->errlen - (size_t)k, fmt, ap);
    va_end(ap);
  }
  if (x->st == TOD_OK) x->st = st;
  return st;
}

static int mindir_dtype(int dt) {
  switch (dt) {
    case IR_DT_FLOAT32: return 1;
    case IR_DT_UINT8: return 2;
    case IR_DT_INT8: return 3;
    case IR_DT_INT16: return 5;
    case IR_DT_INT32: return 6;
    case IR_DT_INT64: return 7;
    case IR_DT_BOOL: return 9;
    case IR_DT_FLOAT16: return 10;
    case IR_DT_FLOAT64: return 11;
    default: return 0;
  }
}

/* --- attribute encoding (AttributeProto, 2.x typed) ---------------------------------------- */

static void a_int(pb_buf *b, uint32_t field, const char *name, int64_t v, int type) {
  size_t m = pb_put_begin(b, field);
  pb_put_string(b, 1, name);
  pb_put_uint(b, 3, (uint64_t)v);
  pb_put_uint(b, 16, (uint64_t)type);
  pb_put_end(b, m);
}

static void a_float(pb_buf *b, uint32_t field, const char *name, double v) {
  size_t m = pb_put_begin(b, field);
  pb_put_string(b, 1, name);
  pb_put_float(b, 2, (float)v);
  pb_put_uint(b, 16, AT_FLOAT);
  pb_put_end(b, m);
}

static void a_str(pb_buf *b, uint32_t field, const char *name, const char *s) {
  size_t m = pb_put_begin(b, field);
  pb_put_string(b, 1, name);
  pb_put_string(b, 5, s);
  pb_put_uint(b, 16, AT_STRING);
  pb_put_end(b, m);
}

static void a_tuple(pb_buf *b, uint32_t field, const char *name, const int64_t *v, int n) {
  size_t m = pb_put_begin(b, field);
  if (name) pb_put_string(b, 1, name);
  pb_put_uint(b, 16, AT_TUPLE);
  for (int i = 0; i < n; i++) {
    size_t e = pb_put_begin(b, 17);
    pb_put_uint(b, 16, AT_INT64);
    pb_put_uint(b, 10, (uint64_t)v[i]);
    pb_put_end(b, e);
  }
  pb_put_end(b, m);
}

static void put_dims(pb_buf *b, const int64_t *d, int n) {
  for (int i = 0; i < n; i++) pb_put_uint(b, 1, (uint64_t)(d[i] < 0 ? -1 : d[i]));
}

/* The node's abstract: attribute "shape" (TENSORS with dims and data type). */
static void a_shape(pb_buf *b, const ir_tensor *t, int nchw) {
  if (!t || t->ndim < 0) return;
  int64_t d[IR_MAX_DIMS];
  for (int i = 0; i < t->ndim; i++) d[i] = t->dims[i];
  if (nchw && t->ndim == 4)
    for (int i = 0; i < 4; i++) d[i] = t->dims[TO_NHWC[i]];
  size_t m = pb_put_begin(b, 5);
  pb_put_string(b, 1, "shape");
  pb_put_uint(b, 16, AT_TENSORS);
  size_t tm = pb_put_begin(b, 12);
  put_dims(b, d, t->ndim);
  pb_put_uint(b, 2, (uint64_t)(mindir_dtype(t->dtype) ? mindir_dtype(t->dtype) : 1));
  pb_put_end(b, tm);
  pb_put_end(b, m);
}

/* --- nodes --------------------------------------------------------------------------------- */

static char *next_name(xctx *x, const char *label) {
  size_t n = strlen(x->gname) + strlen(label) + 32;
  char *s = malloc(n);
  if (!s) {
    xfail(x, TOD_MEMORY_FAILED, "out of memory");
    return NULL;
  }
  x->counter++;
  snprintf(s, n, "%s:%s:%d", x->gname, label, x->counter);
  return s;
}

/* Emits `REF::<prim>:<k>` reading in[], with attrs (field-3 AttributeProtos) in the primitive.
 * Returns the output name (owned) or NULL. */
static char *emit(xctx *x, const char *prim, const char *scope, const char *const *in, int nin,
                  const pb_buf *attrs, const ir_tensor *shape_of, int nchw) {
  if (x->st != TOD_OK) return NULL;
  for (int i = 0; i < nin; i++)
    if (!in[i]) return NULL;
  char key[160];
  x->nprim++;
  snprintf(key, sizeof key, "%s:%d", prim, x->nprim);
  size_t pm = pb_put_begin(&x->prims, 12);
  pb_put_string(&x->prims, 1, key);
  pb_put_string(&x->prims, 2, prim);
  if (attrs && attrs->len) pb_put_raw(&x->prims, attrs->data, attrs->len);
  pb_put_string(&x->prims, 4, prim);
  pb_put_uint(&x->prims, 5, 1);
  pb_put_end(&x->prims, pm);
  char *out = next_name(x, prim);
  if (!out) return NULL;
  char op[200];
  snprintf(op, sizeof op, "REF::%s", key);
  size_t nm = pb_put_begin(&x->nodes, 1);
  for (int i = 0; i < nin; i++) pb_put_string(&x->nodes, 1, in[i]);
  pb_put_string(&x->nodes, 2, out);
  pb_put_string(&x->nodes, 3, out);
  pb_put_string(&x->nodes, 4, op);
  a_shape(&x->nodes, shape_of, nchw);
  if (scope && scope[0]) pb_put_string(&x->nodes, 7, scope);
  pb_put_end(&x->nodes, nm);
  return out;
}

/* Constant node holding an int tuple. */
static char *const_tuple(xctx *x, const int64_t *v, int n) {
  char *out = next_name(x, "Constant");
  if (!out) return NULL;
  size_t nm = pb_put_begin(&x->nodes, 1);
  pb_put_string(&x->nodes, 2, out);
  pb_put_string(&x->nodes, 3, out);
  pb_put_string(&x->nodes, 4, "Constant");
  a_tuple(&x->nodes, 5, "value", v, n);
  pb_put_end(&x->nodes, nm);
  return out;
}

static char *const_int(xctx *x, int64_t v) {
  char *out = next_name(x, "Constant");
  if (!out) return NULL;
  size_t nm = pb_put_begin(&x->nodes, 1);
  pb_put_string(&x->nodes, 2, out);
  pb_put_string(&x->nodes, 3, out);
  pb_put_string(&x->nodes, 4, "Constant");
  a_int(&x->nodes, 5, "value", v, AT_INT64);
  pb_put_end(&x->nodes, nm);
  return out;
}

static char *transpose(xctx *x, const char *src, const int *perm, const char *scope, const ir_tensor *shape_of, int nchw) {
  int64_t p[4] = {perm[0], perm[1], perm[2], perm[3]};
  char *pc = const_tuple(x, p, 4);
  const char *in[2] = {src, pc};
  pb_buf a = {0};
  char *o = emit(x, "Transpose", scope, in, 2, &a, shape_of, nchw);
  free(pc);
  return o;
}

/* Name of tensor t in the wanted state (0: IR data as is; 1: NCHW view of NHWC data). */
static const char *want(xctx *x, int t, int st, const char *scope, char **tmp) {
  *tmp = NULL;
  if (!x->ename[t]) {
    xfail(x, TOD_GRAPH_FILE_ERR, "tensor '%s' is read before it is written", x->g->tensors[t].name);
    return NULL;
  }
  if (x->state[t] == st) return x->ename[t];
  const ir_tensor *tt = &x->g->tensors[t];
  if (tt->ndim != 4) {
    xfail(x, TOD_NOT_SUPPORT, "tensor '%s' changes layout at rank %d", tt->name, tt->ndim);
    return NULL;
  }
  /* state 1 -> 0: NCHW view back to NHWC data; 0 -> 1: NHWC data to its NCHW view. */
  *tmp = transpose(x, x->ename[t], st ? TO_NCHW : TO_NHWC, scope, tt, st);
  return *tmp;
}

static void set_out(xctx *x, int t, char *name, int st) {
  free(x->ename[t]);
  x->ename[t] = name;
  x->state[t] = (signed char)st;
}

static int is_elementwise(int op) {
  return op == IR_OP_Activation || op == IR_OP_AddFusion || op == IR_OP_SubFusion || op == IR_OP_MulFusion ||
         op == IR_OP_DivFusion || op == IR_OP_RealDiv;
}

/* Fused activation of Conv/MatMul/Add...: a separate MindSpore activation node. */
static char *activation(xctx *x, char *in, int64_t type, double alpha, const char *scope, const ir_tensor *shape, int nchw,
                        int fused) {
  const char *prim;
  switch (type) {
    case IR_ACT_NONE: return in;
    case IR_ACT_RELU: prim = "ReLU"; break;
    case IR_ACT_RELU6: prim = "ReLU6"; break;
    case IR_ACT_SIGMOID: prim = "Sigmoid"; break;
    case IR_ACT_TANH: prim = "Tanh"; break;
    case IR_ACT_HSWISH: prim = "HSwish"; break;
    case IR_ACT_HSIGMOID: prim = "HSigmoid"; break;
    case IR_ACT_ELU: prim = "Elu"; break;
    case IR_ACT_LEAKY_RELU: prim = "LeakyReLU"; break;
    case IR_ACT_GELU: prim = "GeLU"; break;
    default:
      xfail(x, TOD_NOT_SUPPORT, "activation type %lld has no MindSpore primitive here", (long long)type);
      free(in);
      return NULL;
  }
  pb_buf a = {0};
  if (type == IR_ACT_LEAKY_RELU || type == IR_ACT_ELU) a_float(&a, 3, "alpha", alpha);
  const char *ins[1] = {in};
  char scope2[1100];
  if (fused) snprintf(scope2, sizeof scope2, "%s/%s", scope, prim);
  else snprintf(scope2, sizeof scope2, "%s", scope);
  char *o = emit(x, prim, scope2, ins, 1, &a, shape, nchw);
  pb_buf_free(&a);
  free(in);
  return o;
}

/* A constant as a weight, exported in the wanted layout: KHWC conv weights back to KCHW,
 * NHWC-tagged rank-4 constants back to NCHW. Returns 1 when permuted. */
static void put_weight(xctx *x, pb_buf *gb, int t, int to_nchw) {
  const ir_tensor *w = &x->g->tensors[t];
  int64_t d[IR_MAX_DIMS];
  for (int i = 0; i < (w->ndim > 0 ? w->ndim : 0); i++) d[i] = w->dims[i];
  size_t es = ir_dtype_size(w->dtype);
  const uint8_t *src = w->data;
  uint8_t *buf = NULL;
  if (to_nchw && w->ndim == 4 && es && w->nbytes == (size_t)ir_tensor_numel(w) * es) {
    /* [A, B, C, D] (NHWC/KHWC) -> [A, D, B, C] */
    int64_t A = w->dims[0], B = w->dims[1], C = w->dims[2], D = w->dims[3];
    buf = malloc(w->nbytes ? w->nbytes : 1);
    if (!buf) {
      xfail(x, TOD_MEMORY_FAILED, "out of memory");
      return;
    }
    for (int64_t a = 0; a < A; a++)
      for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < C; c++)
          for (int64_t e = 0; e < D; e++)
            memcpy(buf + (size_t)(((a * D + e) * B + b) * C + c) * es, src + (size_t)(((a * B + b) * C + c) * D + e) * es, es);
    d[1] = D, d[2] = B, d[3] = C;
    src = buf;
  }
  size_t m = pb_put_begin(gb, 3);
  put_dims(gb, d, w->ndim > 0 ? w->ndim : 0);
  pb_put_uint(gb, 2, (uint64_t)mindir_dtype(w->dtype));
  char nm[1100];
  snprintf(nm, sizeof nm, "%s:%s", x->gname, w->name);
  pb_put_string(gb, 7, nm);
  pb_put_bytes(gb, 9, src, w->nbytes);
  pb_put_string(gb, 13, w->name);
  pb_put_end(gb, m);
  int permuted = buf != NULL;
  free(buf);
  char *e = strdup(nm);
  if (!e) xfail(x, TOD_MEMORY_FAILED, "out of memory");
  /* A permuted spatial weight is the KCHW view; an NHWC-tagged constant becomes state 1. */
  set_out(x, t, e, 0);
  if (permuted && w->format != IR_FMT_KHWC) x->state[t] = 1;
}

static tod_status export_node(xctx *x, int i) {
  ir_graph *g = x->g;
  ir_node *n = &g->nodes[i];
  const char *scope = n->name;
  char *tmp[8] = {0};
  const char *in[8];
  pb_buf a = {0};
  char *out = NULL;
  int ost = 0, nin = n->n_in < 8 ? n->n_in : 8;
  const ir_tensor *y = n->n_out ? &g->tensors[n->out[0]] : NULL;
  int op = n->op;
  int spatial = op == IR_OP_Conv2DFusion || op == IR_OP_MaxPoolFusion || op == IR_OP_AvgPoolFusion;
  if (spatial) {
    int nhwc = ir_attr_int(n, "format", 0) == IR_FMT_NHWC;
    in[0] = want(x, n->in[0], nhwc, scope, &tmp[0]);
    ost = nhwc;
    const int64_t *v;
    int k;
    if (op == IR_OP_Conv2DFusion) {
      if (n->n_in < 2) return xfail(x, TOD_GRAPH_FILE_ERR, "node %s has no weight", n->name);
      in[1] = x->ename[n->in[1]];
      const ir_tensor *w = &g->tensors[n->in[1]];
      int64_t ks[2] = {1, 1}, s4[4] = {1, 1, 1, 1}, d4[4] = {1, 1, 1, 1}, pad[4] = {0, 0, 0, 0};
      if ((k = ir_attr_ints(n, "kernel_size", &v)) == 2) ks[0] = v[0], ks[1] = v[1];
      if ((k = ir_attr_ints(n, "stride", &v)) == 2) s4[2] = v[0], s4[3] = v[1];
      if ((k = ir_attr_ints(n, "dilation", &v)) == 2) d4[2] = v[0], d4[3] = v[1];
      if ((k = ir_attr_ints(n, "pad_list", &v)) == 4) memcpy(pad, v, sizeof pad);
      int64_t mode = ir_attr_int(n, "pad_mode", 0), group = ir_attr_int(n, "group", 1);
      int64_t oc = ir_attr_int(n, "out_channel", w->ndim == 4 ? w->dims[0] : 0);
      a_int(&a, 3, "out_channel", oc, AT_INT64);
      a_tuple(&a, 3, "kernel_size", ks, 2);
      a_int(&a, 3, "mode", 1, AT_INT64);
      a_str(&a, 3, "pad_mode", mode == 1 ? "same" : mode == 2 ? "valid" : "pad");
      a_tuple(&a, 3, "pad", pad, 4);
      a_tuple(&a, 3, "pad_list", pad, 4);
      a_tuple(&a, 3, "stride", s4, 4);
      a_tuple(&a, 3, "dilation", d4, 4);
      a_int(&a, 3, "group", group, AT_INT64);
      a_int(&a, 3, "groups", group, AT_INT64);
      a_str(&a, 3, "format", "NCHW");
      char sc[1100];
      snprintf(sc, sizeof sc, "%s/Conv2D", scope);
      out = emit(x, "Conv2D", sc, in, 2, &a, y, ost);
      pb_buf_free(&a);
      if (n->n_in > 2 && n->in[2] >= 0 && out) {
        const char *bi[2] = {out, x->ename[n->in[2]]};
        a_str(&a, 3, "format", "NCHW");
        snprintf(sc, sizeof sc, "%s/BiasAdd", scope);
        char *o2 = emit(x, "BiasAdd", sc, bi, 2, &a, y, ost);
        free(out);
        out = o2;
      }
    } else {
      int64_t k4[4] = {1, 1, 1, 1}, s4[4] = {1, 1, 1, 1};
      if (ir_attr_int(n, "global", 0)) {
        if (op != IR_OP_AvgPoolFusion) return xfail(x, TOD_NOT_SUPPORT, "node %s: global max pooling", n->name);
        int64_t ax[2] = {2, 3};
        char *axc = const_tuple(x, ax, 2);
        const char *ri[2] = {in[0], axc};
        a_int(&a, 3, "keep_dims", 1, AT_BOOL);
        out = emit(x, "ReduceMean", scope, ri, 2, &a, y, ost);
        free(axc);
      } else {
        if ((k = ir_attr_ints(n, "kernel_size", &v)) == 2) k4[2] = v[0], k4[3] = v[1];
        if ((k = ir_attr_ints(n, "strides", &v)) == 2) s4[2] = v[0], s4[3] = v[1];
        int64_t mode = ir_attr_int(n, "pad_mode", 0);
        if ((k = ir_attr_ints(n, "pad", &v)) == 4 && (v[0] || v[1] || v[2] || v[3]) && mode == 0)
          return xfail(x, TOD_NOT_SUPPORT, "node %s: pooling with explicit padding", n->name);
        if (ir_attr_int(n, "round_mode", 0)) return xfail(x, TOD_NOT_SUPPORT, "node %s: ceil-mode pooling", n->name);
        a_tuple(&a, 3, "kernel_size", k4, 4);
        a_tuple(&a, 3, "strides", s4, 4);
        a_str(&a, 3, "pad_mode", mode == 1 ? "SAME" : "VALID");
        a_str(&a, 3, "format", "NCHW");
        out = emit(x, op == IR_OP_MaxPoolFusion ? "MaxPool" : "AvgPool", scope, in, 1, &a, y, ost);
      }
    }
    pb_buf_free(&a);
    out = activation(x, out, ir_attr_int(n, "activation_type", 0), ir_attr_float(n, "alpha", 0), scope, y, ost, 1);
  } else if (op == IR_OP_Transpose && n->n_in == 2) {
    const ir_tensor *p = &g->tensors[n->in[1]];
    int64_t q[IR_MAX_DIMS];
    int r = (int)ir_tensor_numel(p);
    if (r < 1 || r > IR_MAX_DIMS || !p->data || (p->dtype != IR_DT_INT32 && p->dtype != IR_DT_INT64))
      return xfail(x, TOD_NOT_SUPPORT, "node %s: Transpose without a constant perm", n->name);
    for (int k = 0; k < r; k++)
      q[k] = p->dtype == IR_DT_INT32 ? ((const int32_t *)p->data)[k] : ((const int64_t *)p->data)[k];
    const char *src = x->ename[n->in[0]];
    if (x->state[n->in[0]] && r == 4) {
      /* transpose(X, q) with X = transpose(E, TO_NHWC): transpose(E, TO_NHWC[q[i]]) */
      int id = 1;
      for (int k = 0; k < 4; k++) {
        q[k] = TO_NHWC[q[k] < 0 ? q[k] + 4 : q[k]];
        id &= q[k] == k;
      }
      if (id) {
        out = src ? strdup(src) : NULL;
        if (!out) return xfail(x, TOD_MEMORY_FAILED, "out of memory");
        goto done;
      }
    } else if (x->state[n->in[0]]) {
      return xfail(x, TOD_NOT_SUPPORT, "node %s: layout state at rank %d", n->name, r);
    }
    char *pc = const_tuple(x, q, r);
    const char *ti[2] = {src, pc};
    out = emit(x, "Transpose", scope, ti, 2, &a, y, 0);
    free(pc);
  } else if (is_elementwise(op) || op == IR_OP_BiasAdd || op == IR_OP_FusedBatchNorm || op == IR_OP_Concat) {
    int any = 0;
    for (int j = 0; j < nin; j++)
      if (n->in[j] >= 0 && x->state[n->in[j]]) any = 1;
    if (op == IR_OP_Concat && any) {
      for (int j = 0; j < nin; j++)
        if (!x->state[n->in[j]]) any = 0;
    }
    ost = any;
    if (op == IR_OP_FusedBatchNorm || op == IR_OP_BiasAdd) {
      in[0] = want(x, n->in[0], any, scope, &tmp[0]);
      for (int j = 1; j < nin; j++) in[j] = x->ename[n->in[j]];
    } else {
      for (int j = 0; j < nin; j++) {
        int t = n->in[j];
        const ir_tensor *tt = &g->tensors[t];
        if (any && !x->state[t] && ir_tensor_numel(tt) > 1) {
          if (tt->ndim != 4 || tt->kind == IR_TENSOR_CONST || tt->kind == IR_TENSOR_PARAM)
            return xfail(x, TOD_NOT_SUPPORT, "node %s: operand '%s' of rank %d mixes layouts", n->name, tt->name, tt->ndim);
          in[j] = want(x, t, 1, scope, &tmp[j]);
        } else {
          in[j] = x->ename[t];
        }
      }
    }
    if (op == IR_OP_Activation) {
      char *s = in[0] ? strdup(in[0]) : NULL;
      if (!s) return xfail(x, TOD_MEMORY_FAILED, "out of memory");
      char *o = activation(x, s, ir_attr_int(n, "activation_type", 0), ir_attr_float(n, "alpha", 0), scope, y, ost, 0);
      /* name the activation node after the IR node */
      out = o;
    } else if (op == IR_OP_BiasAdd) {
      a_str(&a, 3, "format", "NCHW");
      out = emit(x, "BiasAdd", scope, in, 2, &a, y, ost);
    } else if (op == IR_OP_FusedBatchNorm) {
      if (nin < 5) return xfail(x, TOD_GRAPH_FILE_ERR, "node %s has %d inputs", n->name, nin);
      a_int(&a, 3, "is_training", 0, AT_BOOL);
      a_float(&a, 3, "epsilon", ir_attr_float(n, "epsilon", 1e-5));
      a_float(&a, 3, "momentum", ir_attr_float(n, "momentum", 0.1));
      a_str(&a, 3, "format", "NCHW");
      char *bn = emit(x, "BatchNorm", scope, in, 5, &a, NULL, 0);
      char *zero = const_int(x, 0);
      const char *gi[2] = {bn, zero};
      pb_buf e = {0};
      out = emit(x, "TupleGetItem", scope, gi, 2, &e, y, ost);
      free(bn);
      free(zero);
    } else if (op == IR_OP_Concat) {
      /* Concat((a, b, ...)): one MakeTuple input. */
      pb_buf e = {0};
      char *tup = emit(x, "MakeTuple", scope, in, nin, &e, NULL, 0);
      int64_t axis = ir_attr_int(n, "axis", 0);
      if (ost) {
        if (axis < 0) axis += 4;
        axis = axis >= 0 && axis < 4 ? TO_NHWC[axis] : axis;
      }
      a_int(&a, 3, "axis", axis, AT_INT64);
      const char *ci[1] = {tup};
      out = emit(x, "Concat", scope, ci, 1, &a, y, ost);
      free(tup);
    } else {
      const char *prim = op == IR_OP_AddFusion ? "Add" : op == IR_OP_SubFusion ? "Sub" : op == IR_OP_MulFusion ? "Mul" : "RealDiv";
      out = emit(x, prim, scope, in, 2, &a, y, ost);
      out = activation(x, out, ir_attr_int(n, "activation_type", 0), 0, scope, y, ost, 1);
    }
  } else {
    /* Channel-agnostic operators read the IR data as it is. */
    for (int j = 0; j < nin; j++) {
      if (n->in[j] < 0) {
        in[j] = NULL;
        continue;
      }
      in[j] = want(x, n->in[j], 0, scope, &tmp[j]);
    }
    switch (op) {
      case IR_OP_MatMulFusion: {
        int ta = (int)ir_attr_int(n, "transpose_a", 0), tb = (int)ir_attr_int(n, "transpose_b", 0);
        a_int(&a, 3, "transpose_a", ta, AT_BOOL);
        a_int(&a, 3, "transpose_b", tb, AT_BOOL);
        char sc[1100];
        snprintf(sc, sizeof sc, "%s/MatMul", scope);
        out = emit(x, "MatMul", sc, in, 2, &a, y, 0);
        if (nin > 2 && n->in[2] >= 0 && out) {
          pb_buf e = {0};
          a_str(&e, 3, "format", "NCHW");
          const char *bi[2] = {out, in[2]};
          snprintf(sc, sizeof sc, "%s/BiasAdd", scope);
          char *o2 = emit(x, y && y->ndim == 2 ? "BiasAdd" : "Add", sc, bi, 2, y && y->ndim == 2 ? &e : NULL, y, 0);
          pb_buf_free(&e);
          free(out);
          out = o2;
        }
        out = activation(x, out, ir_attr_int(n, "activation_type", 0), 0, scope, y, 0, 1);
        break;
      }
      case IR_OP_Reshape:
      case IR_OP_Flatten: {
        /* Reshape to the inferred output shape (batch kept as given). */
        if (!y || y->ndim < 0) return xfail(x, TOD_NOT_SUPPORT, "node %s: Reshape of unknown output shape", n->name);
        int64_t d[IR_MAX_DIMS];
        for (int k = 0; k < y->ndim; k++) d[k] = y->dims[k];
        if (op == IR_OP_Flatten && y->ndim == 2) d[1] = -1;
        char *sc = const_tuple(x, d, y->ndim);
        const char *ri[2] = {in[0], sc};
        out = emit(x, "Reshape", scope, ri, 2, &a, y, 0);
        free(sc);
        break;
      }
      case IR_OP_Softmax: {
        const int64_t *v;
        int k = ir_attr_ints(n, "axis", &v);
        int64_t ax = k > 0 ? v[0] : -1;
        a_tuple(&a, 3, "axis", &ax, 1);
        out = emit(x, "Softmax", scope, in, 1, &a, y, 0);
        break;
      }
      default:
        return xfail(x, TOD_NOT_SUPPORT, "operator %s (node %s) has no MindSpore counterpart in the exporter", ir_op_name(op), n->name);
    }
  }
done:
  pb_buf_free(&a);
  for (int j = 0; j < 8; j++) free(tmp[j]);
  if (!out) return x->st != TOD_OK ? x->st : xfail(x, TOD_MEMORY_FAILED, "out of memory");
  if (n->n_out < 1) {
    free(out);
    return TOD_OK;
  }
  set_out(x, n->out[0], out, ost);
  return x->st;
}

static int is_loss_name(const char *s) { return strstr(s, "loss_fct") || strstr(s, "_loss_fn") || strstr(s, "SigmoidCrossEntropy"); }

/* Training graph -> its inference part (outputs: what forward nodes hand to the loss). */
static tod_status inference_part(ir_graph *g, char *err, size_t errlen) {
  int training = 0;
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].op == IR_OP_Adam || g->nodes[i].op == IR_OP_SGD || g->nodes[i].op == IR_OP_ApplyMomentum ||
        g->nodes[i].op == IR_OP_AdamWeightDecay)
      training = 1;
  if (!training) return TOD_OK;
  int nn = g->n_nodes;
  char *drop = calloc((size_t)(nn ? nn : 1), 1);
  int *prod = malloc(sizeof(int) * (size_t)(g->n_tensors ? g->n_tensors : 1));
  int *outs = malloc(sizeof(int) * (size_t)(g->n_tensors ? g->n_tensors : 1));
  if (!drop || !prod || !outs) {
    free(drop), free(prod), free(outs);
    return TOD_MEMORY_FAILED;
  }
  for (int t = 0; t < g->n_tensors; t++) prod[t] = -1;
  for (int i = 0; i < nn; i++) {
    const ir_node *n = &g->nodes[i];
    for (int j = 0; j < n->n_out; j++) prod[n->out[j]] = i;
    if (n->op == IR_OP_Adam || n->op == IR_OP_SGD || n->op == IR_OP_ApplyMomentum || n->op == IR_OP_AdamWeightDecay ||
        n->op == IR_OP_Assign || strstr(n->name, "Gradients") || is_loss_name(n->name))
      drop[i] = 1;
  }
  int no = 0;
  for (int i = 0; i < nn; i++) {
    const ir_node *n = &g->nodes[i];
    if (!is_loss_name(n->name) || strstr(n->name, "Gradients")) continue;
    for (int j = 0; j < n->n_in; j++) {
      int t = n->in[j], dup = 0;
      if (t < 0 || prod[t] < 0 || drop[prod[t]]) continue;
      for (int k = 0; k < no; k++) dup |= outs[k] == t;
      if (!dup) outs[no++] = t;
    }
  }
  tod_status st = TOD_OK;
  if (!no) {
    snprintf(err, errlen, "mindir export: the training graph has no loss node (scope '_loss_fn')");
    st = TOD_NOT_SUPPORT;
  }
  for (int i = nn - 1; i >= 0 && st == TOD_OK; i--)
    if (drop[i]) ir_remove_node(g, i);
  if (st == TOD_OK) {
    g->n_outputs = 0;
    for (int k = 0; k < no && st == TOD_OK; k++) st = ir_add_output(g, outs[k]);
    for (int i = 0; i < g->n_nodes; i++) {
      ir_node *n = &g->nodes[i];
      if (n->op == IR_OP_FusedBatchNorm && ir_attr_int(n, "mode", 0) != 0) {
        ir_attr_set_int(n, "mode", 0);
        n->n_out = 1;
      }
      if (n->op == IR_OP_Dropout) n->n_out = 1;
    }
    /* Inputs nobody reads any more (labels) leave. */
    int k = 0;
    for (int i = 0; i < g->n_inputs && st == TOD_OK; i++) {
      int t = g->inputs[i], used = 0;
      for (int j = 0; j < g->n_nodes && !used; j++)
        for (int q = 0; q < g->nodes[j].n_in; q++) used |= g->nodes[j].in[q] == t;
      if (used) g->inputs[k++] = t;
      else g->tensors[t].kind = IR_TENSOR_ACT;
    }
    g->n_inputs = k;
    if (st == TOD_OK) st = ir_compact(g);
  }
  free(drop);
  free(prod);
  free(outs);
  return st;
}

tod_status mindir_export(const ir_graph *src, const char *path, char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (!src || !path) return TOD_NULL_PTR;
  ir_graph g;
  tod_status st = ir_graph_clone(src, &g);
  if (st != TOD_OK) return st;
  if ((st = inference_part(&g, err, errlen)) == TOD_OK) st = ir_toposort(&g, err, errlen);
  xctx x;
  memset(&x, 0, sizeof x);
  x.g = &g;
  x.err = err;
  x.errlen = errlen;
  x.st = st;
  snprintf(x.gname, sizeof x.gname, "%s", g.name && g.name[0] && !strchr(g.name, ':') ? g.name : "tod_graph");
  x.ename = calloc((size_t)(g.n_tensors ? g.n_tensors : 1), sizeof(char *));
  x.state = calloc((size_t)(g.n_tensors ? g.n_tensors : 1), 1);
  pb_buf gb = {0}, mb = {0};
  if (!x.ename || !x.state) xfail(&x, TOD_MEMORY_FAILED, "out of memory");
  if (x.st == TOD_OK) {
    /* Weights: every constant; spatial weights and NHWC-tagged constants go back to NCHW. */
    for (int t = 0; t < g.n_tensors && x.st == TOD_OK; t++) {
      const ir_tensor *w = &g.tensors[t];
      if ((w->kind != IR_TENSOR_CONST && w->kind != IR_TENSOR_PARAM) || !w->data) continue;
      if (!mindir_dtype(w->dtype)) {
        xfail(&x, TOD_NOT_SUPPORT, "tensor '%s' has data type %s", w->name, ir_dtype_name(w->dtype));
        break;
      }
      int perm = 0;
      for (int i = 0; i < g.n_nodes; i++)
        if (g.nodes[i].op == IR_OP_Conv2DFusion && g.nodes[i].n_in > 1 && g.nodes[i].in[1] == t &&
            ir_attr_int(&g.nodes[i], "format", 0) == IR_FMT_NHWC)
          perm = 1;
      if (w->ndim == 4 && w->format == IR_FMT_NHWC) perm = 1;
      put_weight(&x, &gb, t, perm);
    }
    for (int i = 0; i < g.n_inputs && x.st == TOD_OK; i++) {
      const ir_tensor *t = &g.tensors[g.inputs[i]];
      char nm[1100];
      snprintf(nm, sizeof nm, "%s:%s", x.gname, t->name);
      size_t m = pb_put_begin(&gb, 5);
      pb_put_string(&gb, 1, nm);
      size_t tm = pb_put_begin(&gb, 2);
      put_dims(&gb, t->dims, t->ndim > 0 ? t->ndim : 0);
      pb_put_uint(&gb, 2, (uint64_t)(mindir_dtype(t->dtype) ? mindir_dtype(t->dtype) : 1));
      pb_put_end(&gb, tm);
      pb_put_end(&gb, m);
      char *e = strdup(nm);
      if (!e) xfail(&x, TOD_MEMORY_FAILED, "out of memory");
      set_out(&x, g.inputs[i], e, 0);
    }
    for (int i = 0; i < g.n_nodes && x.st == TOD_OK; i++) export_node(&x, i);
    /* Output: one name (a MakeTuple when several values are returned), in the IR layout. */
    char *res = NULL;
    if (x.st == TOD_OK) {
      const char *outs[64];
      char *tmp[64] = {0};
      int no = g.n_outputs < 64 ? g.n_outputs : 64;
      if (g.n_outputs > 64) xfail(&x, TOD_NOT_SUPPORT, "more than 64 outputs");
      for (int k = 0; k < no && x.st == TOD_OK; k++) outs[k] = want(&x, g.outputs[k], 0, "Default", &tmp[k]);
      if (x.st == TOD_OK && no == 1) res = strdup(outs[0]);
      else if (x.st == TOD_OK) {
        pb_buf e = {0};
        res = emit(&x, "MakeTuple", "Default", outs, no, &e, NULL, 0);
      }
      for (int k = 0; k < no; k++) free(tmp[k]);
      if (!res && x.st == TOD_OK) xfail(&x, TOD_MEMORY_FAILED, "out of memory");
    }
    if (x.st == TOD_OK) {
      pb_put_raw(&gb, x.nodes.data, x.nodes.len);
      pb_put_string(&gb, 2, x.gname);
      size_t m = pb_put_begin(&gb, 6);
      pb_put_string(&gb, 1, res);
      pb_put_end(&gb, m);
      pb_put_string(&mb, 1, "0.1.1");
      pb_put_string(&mb, 2, "MindSpore");
      pb_put_string(&mb, 5, "2.2.0");
      pb_put_string(&mb, 6, "exported by tod");
      pb_put_bytes(&mb, 7, gb.data, gb.len);
      pb_put_uint(&mb, 10, 1); /* little_endian: tod only runs on little-endian hosts */
      pb_put_raw(&mb, x.prims.data, x.prims.len);
      pb_put_uint(&mb, 13, 1);
      if (pb_buf_status(&mb) != TOD_OK || pb_buf_status(&gb) != TOD_OK || pb_buf_status(&x.nodes) != TOD_OK ||
          pb_buf_status(&x.prims) != TOD_OK)
        xfail(&x, TOD_MEMORY_FAILED, "out of memory");
    }
    free(res);
  }
  st = x.st;
  if (st == TOD_OK) st = tod_write_file_atomic(path, mb.data, mb.len, err, errlen);
  for (int t = 0; x.ename && t < g.n_tensors; t++) free(x.ename[t]);
  free(x.ename);
  free(x.state);
  pb_buf_free(&gb);
  pb_buf_free(&mb);
  pb_buf_free(&x.nodes);
  pb_buf_free(&x.prims);
  ir_graph_free(&g);
  return st;
}
