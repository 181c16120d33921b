/* MINDIR export. The runtime graph is channel-last (NHWC activations, KHWC conv weights, with
 * Transposes where the layout pass put them); MindIR is NCHW. Each IR tensor is exported either
 * as is (state 0) or as its NCHW view (state 1: the exported value is transpose(t, NHWC->NCHW)).
 * Spatial operators read and write state 1, Transposes compose with the state, elementwise
 * operators pass it through, everything else reads state 0 (a Transpose is emitted when needed).
 * Names, attribute encoding and value nodes follow ../shared/formats/mindir.md (2.x form). The
 * loss, gradient and optimizer nodes of a training graph are written by export_mindir_train.c. */
#include "format/export_mindir.h"
#include "format/export_mindir_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/file_io.h"
#include "ir/ir_op.h"
#include "proto/pb.h"

static const int TO_NHWC[4] = {0, 2, 3, 1};
static const int TO_NCHW[4] = {0, 3, 1, 2};


tod_status mx_fail(xctx *x, tod_status st, const char *fmt, ...) {
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

int mx_dtype(int dt) {
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

void mx_a_int(pb_buf *b, uint32_t field, const char *name, int64_t v, int type) {
  size_t m = pb_put_begin(b, field);
  pb_put_string(b, 1, name);
  pb_put_uint(b, 3, (uint64_t)v);
  pb_put_uint(b, 16, (uint64_t)type);
  pb_put_end(b, m);
}

void mx_a_float(pb_buf *b, uint32_t field, const char *name, double v) {
  size_t m = pb_put_begin(b, field);
  pb_put_string(b, 1, name);
  pb_put_float(b, 2, (float)v);
  pb_put_uint(b, 16, AT_FLOAT);
  pb_put_end(b, m);
}

void mx_a_str(pb_buf *b, uint32_t field, const char *name, const char *s) {
  size_t m = pb_put_begin(b, field);
  pb_put_string(b, 1, name);
  pb_put_string(b, 5, s);
  pb_put_uint(b, 16, AT_STRING);
  pb_put_end(b, m);
}

void mx_a_tuple(pb_buf *b, uint32_t field, const char *name, const int64_t *v, int n) {
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
/* tensors[0] of an abstract: dims (NCHW-ordered when nchw) and data type. */
static void put_abstract_tensor(pb_buf *b, const ir_tensor *t, int nchw) {
  int64_t d[IR_MAX_DIMS];
  int nd = t && t->ndim > 0 ? t->ndim : 0;
  for (int i = 0; i < nd; i++) d[i] = t->dims[i];
  if (nchw && nd == 4)
    for (int i = 0; i < 4; i++) d[i] = t->dims[TO_NHWC[i]];
  size_t tm = pb_put_begin(b, 12);
  put_dims(b, d, nd);
  pb_put_uint(b, 2, (uint64_t)(t && mx_dtype(t->dtype) ? mx_dtype(t->dtype) : 1));
  pb_put_end(b, tm);
}

void mx_a_shape(pb_buf *b, const ir_tensor *t, int nchw) {
  if (!t || t->ndim < 0) return;
  size_t m = pb_put_begin(b, 5);
  pb_put_string(b, 1, "shape");
  pb_put_uint(b, 16, AT_TENSORS);
  put_abstract_tensor(b, t, nchw);
  pb_put_end(b, m);
}

/* --- nodes --------------------------------------------------------------------------------- */

char *mx_next_name(xctx *x, const char *label) {
  size_t n = strlen(x->gname) + strlen(label) + 32;
  char *s = malloc(n);
  if (!s) {
    mx_fail(x, TOD_MEMORY_FAILED, "out of memory");
    return NULL;
  }
  x->counter++;
  snprintf(s, n, "%s:%s:%d", x->gname, label, x->counter);
  return s;
}

/* Emits `REF::<prim>:<k>` reading in[], with attrs (field-3 AttributeProtos) in the primitive.
 * Returns the output name (owned) or NULL. */
/* One node; its abstract is the tensor shape_of (n_tuple < 0) or a tuple of n_tuple tensors. */
static char *emit_node(xctx *x, const char *prim, const char *scope, const char *const *in, int nin, const pb_buf *attrs,
                       const ir_tensor *const *shapes, const int *nchw, int n_tuple) {
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
  char *out = mx_next_name(x, prim);
  if (!out) return NULL;
  char op[200];
  snprintf(op, sizeof op, "REF::%s", key);
  size_t nm = pb_put_begin(&x->nodes, 1);
  for (int i = 0; i < nin; i++) pb_put_string(&x->nodes, 1, in[i]);
  pb_put_string(&x->nodes, 2, out);
  pb_put_string(&x->nodes, 3, out);
  pb_put_string(&x->nodes, 4, op);
  if (n_tuple < 0) {
    mx_a_shape(&x->nodes, shapes[0], nchw[0]);
  } else {
    /* attribute "shape" of type TUPLE: one TENSORS value per element */
    size_t m = pb_put_begin(&x->nodes, 5);
    pb_put_string(&x->nodes, 1, "shape");
    pb_put_uint(&x->nodes, 16, AT_TUPLE);
    for (int k = 0; k < n_tuple; k++) {
      size_t vm = pb_put_begin(&x->nodes, 17);
      pb_put_uint(&x->nodes, 16, AT_TENSORS);
      put_abstract_tensor(&x->nodes, shapes[k], nchw[k]);
      pb_put_end(&x->nodes, vm);
    }
    pb_put_end(&x->nodes, m);
  }
  if (scope && scope[0]) pb_put_string(&x->nodes, 7, scope);
  pb_put_end(&x->nodes, nm);
  return out;
}

char *mx_emit(xctx *x, const char *prim, const char *scope, const char *const *in, int nin,
              const pb_buf *attrs, const ir_tensor *shape_of, int nchw) {
  return emit_node(x, prim, scope, in, nin, attrs, &shape_of, &nchw, -1);
}

char *mx_emit_tuple(xctx *x, const char *prim, const char *scope, const char *const *in, int nin, const pb_buf *attrs,
                    const ir_tensor *const *outs, const int *nchw, int nout) {
  return emit_node(x, prim, scope, in, nin, attrs, outs, nchw, nout);
}

/* Constant node holding an int tuple. */
char *mx_const_tuple(xctx *x, const int64_t *v, int n) {
  char *out = mx_next_name(x, "Constant");
  if (!out) return NULL;
  size_t nm = pb_put_begin(&x->nodes, 1);
  pb_put_string(&x->nodes, 2, out);
  pb_put_string(&x->nodes, 3, out);
  pb_put_string(&x->nodes, 4, "Constant");
  mx_a_tuple(&x->nodes, 5, "value", v, n);
  pb_put_end(&x->nodes, nm);
  return out;
}

char *mx_const_int(xctx *x, int64_t v) {
  char *out = mx_next_name(x, "Constant");
  if (!out) return NULL;
  size_t nm = pb_put_begin(&x->nodes, 1);
  pb_put_string(&x->nodes, 2, out);
  pb_put_string(&x->nodes, 3, out);
  pb_put_string(&x->nodes, 4, "Constant");
  mx_a_int(&x->nodes, 5, "value", v, AT_INT64);
  pb_put_end(&x->nodes, nm);
  return out;
}

char *mx_transpose(xctx *x, const char *src, const int *perm, const char *scope, const ir_tensor *shape_of, int nchw) {
  int64_t p[4] = {perm[0], perm[1], perm[2], perm[3]};
  char *pc = mx_const_tuple(x, p, 4);
  const char *in[2] = {src, pc};
  pb_buf a = {0};
  char *o = mx_emit(x, "Transpose", scope, in, 2, &a, shape_of, nchw);
  free(pc);
  return o;
}

/* Name of tensor t in the wanted state (0: IR data as is; 1: NCHW view of NHWC data). */
const char *mx_want(xctx *x, int t, int st, const char *scope, char **tmp) {
  *tmp = NULL;
  if (!x->ename[t]) {
    mx_fail(x, TOD_GRAPH_FILE_ERR, "tensor '%s' is read before it is written", x->g->tensors[t].name);
    return NULL;
  }
  if (x->state[t] == st) return x->ename[t];
  const ir_tensor *tt = &x->g->tensors[t];
  if (tt->ndim != 4) {
    mx_fail(x, TOD_NOT_SUPPORT, "tensor '%s' changes layout at rank %d", tt->name, tt->ndim);
    return NULL;
  }
  /* state 1 -> 0: NCHW view back to NHWC data; 0 -> 1: NHWC data to its NCHW view. */
  *tmp = mx_transpose(x, x->ename[t], st ? TO_NCHW : TO_NHWC, scope, tt, st);
  return *tmp;
}

void mx_set_out(xctx *x, int t, char *name, int st) {
  free(x->ename[t]);
  x->ename[t] = name;
  x->state[t] = (signed char)st;
}

/* One-input elementwise operators and their MindSpore primitives. */
static const char *unary_prim(int op) {
  switch (op) {
    case IR_OP_Sqrt: return "Sqrt";
    case IR_OP_Rsqrt: return "Rsqrt";
    case IR_OP_Neg: return "Neg";
    case IR_OP_Abs: return "Abs";
    case IR_OP_Square: return "Square";
    case IR_OP_Log: return "Log";
    default: return NULL;
  }
}

static int is_elementwise(int op) {
  return op == IR_OP_Activation || op == IR_OP_AddFusion || op == IR_OP_SubFusion || op == IR_OP_MulFusion ||
         op == IR_OP_DivFusion || op == IR_OP_RealDiv || unary_prim(op);
}

/* Fused activation of Conv/MatMul/Add...: a separate MindSpore activation node. */
char *mx_activation(xctx *x, char *in, int64_t type, double alpha, const char *scope, const ir_tensor *shape, int nchw,
                        int fused) {
  const char *prim;
  switch (type) {
    case IR_ACT_NONE: return in;
    case IR_ACT_RELU: prim = "ReLU"; break;
    case IR_ACT_RELU6: prim = "ReLU6"; break;
    case IR_ACT_SIGMOID: prim = "Sigmoid"; break;
    case IR_ACT_TANH: prim = "Tanh"; break;
    case IR_ACT_HSWISH: prim = "HSwish"; break;
    case IR_ACT_SWISH: prim = "SiLU"; break; /* MindSpore's x * sigmoid(x) */
    case IR_ACT_HSIGMOID: prim = "HSigmoid"; break;
    case IR_ACT_ELU: prim = "Elu"; break;
    case IR_ACT_LEAKY_RELU: prim = "LeakyReLU"; break;
    case IR_ACT_GELU: prim = "GeLU"; break;
    default:
      mx_fail(x, TOD_NOT_SUPPORT, "activation type %lld has no MindSpore primitive here", (long long)type);
      free(in);
      return NULL;
  }
  pb_buf a = {0};
  if (type == IR_ACT_LEAKY_RELU || type == IR_ACT_ELU) mx_a_float(&a, 3, "alpha", alpha);
  const char *ins[1] = {in};
  char scope2[1100];
  if (fused) snprintf(scope2, sizeof scope2, "%s/%s", scope, prim);
  else snprintf(scope2, sizeof scope2, "%s", scope);
  char *o = mx_emit(x, prim, scope2, ins, 1, &a, shape, nchw);
  pb_buf_free(&a);
  free(in);
  return o;
}

/* A constant as a weight (named pyname), exported in the wanted layout: KHWC conv weights back
 * to KCHW, NHWC-tagged rank-4 constants back to NCHW, optimizer state as its weight (like >= 0:
 * the data is in the weight's element order whatever its own dims say, as in MindSpore Lite's
 * files). A permuted tensor is in state 1 (its NCHW view). */
static void put_weight(xctx *x, pb_buf *gb, int t, int like, const char *pyname) {
  const ir_tensor *w = &x->g->tensors[t];
  int64_t d[IR_MAX_DIMS];
  for (int i = 0; i < (w->ndim > 0 ? w->ndim : 0); i++) d[i] = w->dims[i];
  size_t es = ir_dtype_size(w->dtype);
  const uint8_t *src = w->data;
  uint8_t *buf = NULL;
  const ir_tensor *lw = like >= 0 ? &x->g->tensors[like] : NULL;
  if (lw && lw->ndim == 4 && es && ir_tensor_numel(lw) == ir_tensor_numel(w) && w->nbytes == (size_t)ir_tensor_numel(w) * es) {
    /* [A, B, C, D] (NHWC/KHWC) -> [A, D, B, C] */
    int64_t A = lw->dims[0], B = lw->dims[1], C = lw->dims[2], D = lw->dims[3];
    for (int i = 0; i < 4; i++) d[i] = lw->dims[i];
    buf = malloc(w->nbytes ? w->nbytes : 1);
    if (!buf) {
      mx_fail(x, TOD_MEMORY_FAILED, "out of memory");
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
  pb_put_uint(gb, 2, (uint64_t)mx_dtype(w->dtype));
  char nm[1100];
  snprintf(nm, sizeof nm, "%s:%s", x->gname, pyname);
  pb_put_string(gb, 7, nm);
  pb_put_bytes(gb, 9, src, w->nbytes);
  pb_put_string(gb, 13, pyname);
  pb_put_end(gb, m);
  int permuted = buf != NULL;
  free(buf);
  char *e = strdup(nm);
  if (!e) mx_fail(x, TOD_MEMORY_FAILED, "out of memory");
  mx_set_out(x, t, e, permuted);
}

/* Inputs the exporter never reads as values: Reshape's shape (the output's inferred shape is
 * written instead), the size inputs of convolution gradients (taken from their outputs), and
 * constants written as the node's own Constant tuples (Transpose's perm, Tile's multiples,
 * Reduce's axes, Pad's paddings). */
static int unread_input(int op, int j) {
  return (op == IR_OP_Reshape && j == 1) ||
         ((op == IR_OP_Conv2DBackpropInputFusion || op == IR_OP_Conv2DBackpropFilterFusion) && j == 2) ||
         ((op == IR_OP_Transpose || op == IR_OP_TileFusion || op == IR_OP_ReduceFusion || op == IR_OP_PadFusion) && j == 1);
}

/* Conv2D attributes (also those of Conv2DBackpropInput/Filter, whose pad_mode is upper case). */
void mx_conv_attrs(const ir_node *n, int64_t out_channel, int upper, pb_buf *a) {
  const int64_t *v;
  int64_t ks[2] = {1, 1}, s4[4] = {1, 1, 1, 1}, d4[4] = {1, 1, 1, 1}, pad[4] = {0, 0, 0, 0};
  if (ir_attr_ints(n, "kernel_size", &v) == 2) ks[0] = v[0], ks[1] = v[1];
  if (ir_attr_ints(n, "stride", &v) == 2) s4[2] = v[0], s4[3] = v[1];
  if (ir_attr_ints(n, "dilation", &v) == 2) d4[2] = v[0], d4[3] = v[1];
  if (ir_attr_ints(n, "pad_list", &v) == 4) memcpy(pad, v, sizeof pad);
  int64_t mode = ir_attr_int(n, "pad_mode", 0), group = ir_attr_int(n, "group", 1);
  mx_a_int(a, 3, "out_channel", out_channel, AT_INT64);
  mx_a_tuple(a, 3, "kernel_size", ks, 2);
  mx_a_int(a, 3, "mode", 1, AT_INT64);
  if (upper) mx_a_str(a, 3, "pad_mode", mode == 1 ? "SAME" : mode == 2 ? "VALID" : "PAD");
  else mx_a_str(a, 3, "pad_mode", mode == 1 ? "same" : mode == 2 ? "valid" : "pad");
  mx_a_tuple(a, 3, "pad", pad, 4);
  mx_a_tuple(a, 3, "pad_list", pad, 4);
  mx_a_tuple(a, 3, "stride", s4, 4);
  mx_a_tuple(a, 3, "dilation", d4, 4);
  mx_a_int(a, 3, "group", group, AT_INT64);
  mx_a_int(a, 3, "groups", group, AT_INT64);
  mx_a_str(a, 3, "format", "NCHW");
}

/* MaxPool/AvgPool (and their grads) attributes. Explicit pads and ceil rounding go out as
 * pad_mode "PAD" with `pad` (top, bottom, left, right) and `round_mode`/`ceil_mode`, as
 * MindSpore 2.x pooling primitives hold them; tod's AvgPool never counts the padding. */
void mx_pool_attrs(const ir_node *n, int avg, pb_buf *a) {
  const int64_t *v;
  int64_t k4[4] = {1, 1, 1, 1}, s4[4] = {1, 1, 1, 1}, pad[4] = {0, 0, 0, 0};
  if (ir_attr_ints(n, "kernel_size", &v) == 2) k4[2] = v[0], k4[3] = v[1];
  if (ir_attr_ints(n, "strides", &v) == 2) s4[2] = v[0], s4[3] = v[1];
  if (ir_attr_ints(n, "pad", &v) == 4) memcpy(pad, v, sizeof pad);
  int64_t mode = ir_attr_int(n, "pad_mode", 0), ceil = ir_attr_int(n, "round_mode", 0) != 0;
  int explicit_pad = mode == 0 && (pad[0] || pad[1] || pad[2] || pad[3] || ceil);
  mx_a_tuple(a, 3, "kernel_size", k4, 4);
  mx_a_tuple(a, 3, "strides", s4, 4);
  mx_a_str(a, 3, "pad_mode", mode == 1 ? "SAME" : explicit_pad ? "PAD" : "VALID");
  if (explicit_pad) {
    mx_a_tuple(a, 3, "pad", pad, 4);
    mx_a_int(a, 3, "round_mode", ceil, AT_INT64);
    mx_a_int(a, 3, "ceil_mode", ceil, AT_BOOL);
    if (avg) mx_a_int(a, 3, "count_include_pad", 0, AT_BOOL);
  }
  mx_a_str(a, 3, "format", "NCHW");
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
  if (mx_is_train_op(op) || (op == IR_OP_FusedBatchNorm && ir_attr_int(n, "mode", 0) != 0)) return mx_export_train_node(x, i);
  int spatial = op == IR_OP_Conv2DFusion || op == IR_OP_MaxPoolFusion || op == IR_OP_AvgPoolFusion;
  if (spatial) {
    /* The runtime's spatial kernels are channel-last whatever `format` says (MindSpore Lite's
     * own files leave it NCHW). */
    int nhwc = 1;
    in[0] = mx_want(x, n->in[0], nhwc, scope, &tmp[0]);
    ost = nhwc;
    if (op == IR_OP_Conv2DFusion) {
      if (n->n_in < 2) return mx_fail(x, TOD_GRAPH_FILE_ERR, "node %s has no weight", n->name);
      in[1] = x->ename[n->in[1]];
      const ir_tensor *w = &g->tensors[n->in[1]];
      mx_conv_attrs(n, ir_attr_int(n, "out_channel", w->ndim == 4 ? w->dims[0] : 0), 0, &a);
      char sc[1100];
      snprintf(sc, sizeof sc, "%s/Conv2D", scope);
      out = mx_emit(x, "Conv2D", sc, in, 2, &a, y, ost);
      pb_buf_free(&a);
      if (n->n_in > 2 && n->in[2] >= 0 && out) {
        const char *bi[2] = {out, x->ename[n->in[2]]};
        mx_a_str(&a, 3, "format", "NCHW");
        snprintf(sc, sizeof sc, "%s/BiasAdd", scope);
        char *o2 = mx_emit(x, "BiasAdd", sc, bi, 2, &a, y, ost);
        free(out);
        out = o2;
      }
    } else {
      if (ir_attr_int(n, "global", 0)) {
        if (op != IR_OP_AvgPoolFusion) return mx_fail(x, TOD_NOT_SUPPORT, "node %s: global max pooling", n->name);
        int64_t ax[2] = {2, 3};
        char *axc = mx_const_tuple(x, ax, 2);
        const char *ri[2] = {in[0], axc};
        mx_a_int(&a, 3, "keep_dims", 1, AT_BOOL);
        out = mx_emit(x, "ReduceMean", scope, ri, 2, &a, y, ost);
        free(axc);
      } else {
        mx_pool_attrs(n, op == IR_OP_AvgPoolFusion, &a);
        out = mx_emit(x, op == IR_OP_MaxPoolFusion ? "MaxPool" : "AvgPool", scope, in, 1, &a, y, ost);
      }
    }
    pb_buf_free(&a);
    out = mx_activation(x, out, ir_attr_int(n, "activation_type", 0), ir_attr_float(n, "alpha", 0), scope, y, ost, 1);
  } else if (op == IR_OP_Transpose && n->n_in == 2) {
    const ir_tensor *p = &g->tensors[n->in[1]];
    int64_t q[IR_MAX_DIMS];
    int r = (int)ir_tensor_numel(p);
    if (r < 1 || r > IR_MAX_DIMS || !p->data || (p->dtype != IR_DT_INT32 && p->dtype != IR_DT_INT64))
      return mx_fail(x, TOD_NOT_SUPPORT, "node %s: Transpose without a constant perm", n->name);
    for (int k = 0; k < r; k++)
      q[k] = p->dtype == IR_DT_INT32 ? ((const int32_t *)p->data)[k] : ((const int64_t *)p->data)[k];
    const char *src = x->ename[n->in[0]];
    if (x->state[n->in[0]] && r == 4) {
      /* mx_transpose(X, q) with X = mx_transpose(E, TO_NHWC): mx_transpose(E, TO_NHWC[q[i]]) */
      int id = 1;
      for (int k = 0; k < 4; k++) {
        q[k] = TO_NHWC[q[k] < 0 ? q[k] + 4 : q[k]];
        id &= q[k] == k;
      }
      if (id) {
        out = src ? strdup(src) : NULL;
        if (!out) return mx_fail(x, TOD_MEMORY_FAILED, "out of memory");
        goto done;
      }
    } else if (x->state[n->in[0]]) {
      return mx_fail(x, TOD_NOT_SUPPORT, "node %s: layout state at rank %d", n->name, r);
    }
    char *pc = mx_const_tuple(x, q, r);
    const char *ti[2] = {src, pc};
    out = mx_emit(x, "Transpose", scope, ti, 2, &a, y, 0);
    free(pc);
  } else if (op == IR_OP_PadFusion) {
    /* Zero padding: MindSpore's Pad with paddings ((begin, end), ...) in the input's state. */
    const ir_tensor *p = n->n_in > 1 && n->in[1] >= 0 ? &g->tensors[n->in[1]] : NULL;
    int r = g->tensors[n->in[0]].ndim;
    if (!p || !p->data || p->dtype != IR_DT_INT32 || r < 1 || r > IR_MAX_DIMS || ir_tensor_numel(p) != 2 * r ||
        ir_attr_int(n, "padding_mode", 0) != 0 || ir_attr_float(n, "constant_value", 0.0) != 0.0)
      return mx_fail(x, TOD_NOT_SUPPORT, "node %s: PadFusion other than constant zero padding with constant paddings", n->name);
    ost = x->state[n->in[0]] && r == 4;
    in[0] = x->ename[n->in[0]];
    int64_t v[2 * IR_MAX_DIMS];
    for (int k = 0; k < r; k++) {
      int src = ost ? TO_NCHW[k] : k; /* exported axis k is IR axis TO_NCHW[k] */
      v[2 * k] = ((const int32_t *)p->data)[2 * src];
      v[2 * k + 1] = ((const int32_t *)p->data)[2 * src + 1];
    }
    size_t m = pb_put_begin(&a, 3);
    pb_put_string(&a, 1, "paddings");
    pb_put_uint(&a, 16, AT_TUPLE);
    for (int k = 0; k < r; k++) mx_a_tuple(&a, 17, NULL, &v[2 * k], 2);
    pb_put_end(&a, m);
    out = mx_emit(x, "Pad", scope, in, 1, &a, y, ost);
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
      in[0] = mx_want(x, n->in[0], any, scope, &tmp[0]);
      for (int j = 1; j < nin; j++) in[j] = x->ename[n->in[j]];
    } else {
      for (int j = 0; j < nin; j++) {
        int t = n->in[j];
        const ir_tensor *tt = &g->tensors[t];
        if (any && !x->state[t] && ir_tensor_numel(tt) > 1) {
          if (tt->ndim != 4 || tt->kind == IR_TENSOR_CONST || tt->kind == IR_TENSOR_PARAM)
            return mx_fail(x, TOD_NOT_SUPPORT, "node %s: operand '%s' of rank %d mixes layouts", n->name, tt->name, tt->ndim);
          in[j] = mx_want(x, t, 1, scope, &tmp[j]);
        } else {
          in[j] = x->ename[t];
        }
      }
    }
    if (op == IR_OP_Activation) {
      char *s = in[0] ? strdup(in[0]) : NULL;
      if (!s) return mx_fail(x, TOD_MEMORY_FAILED, "out of memory");
      char *o = mx_activation(x, s, ir_attr_int(n, "activation_type", 0), ir_attr_float(n, "alpha", 0), scope, y, ost, 0);
      /* name the activation node after the IR node */
      out = o;
    } else if (op == IR_OP_BiasAdd) {
      mx_a_str(&a, 3, "format", "NCHW");
      out = mx_emit(x, "BiasAdd", scope, in, 2, &a, y, ost);
    } else if (op == IR_OP_FusedBatchNorm) {
      if (nin < 5) return mx_fail(x, TOD_GRAPH_FILE_ERR, "node %s has %d inputs", n->name, nin);
      mx_a_int(&a, 3, "is_training", 0, AT_BOOL);
      mx_a_float(&a, 3, "epsilon", ir_attr_float(n, "epsilon", 1e-5));
      mx_a_float(&a, 3, "momentum", ir_attr_float(n, "momentum", 0.1));
      mx_a_str(&a, 3, "format", "NCHW");
      char *bn = mx_emit(x, "BatchNorm", scope, in, 5, &a, NULL, 0);
      char *zero = mx_const_int(x, 0);
      const char *gi[2] = {bn, zero};
      pb_buf e = {0};
      out = mx_emit(x, "TupleGetItem", scope, gi, 2, &e, y, ost);
      free(bn);
      free(zero);
    } else if (op == IR_OP_Concat) {
      /* Concat((a, b, ...)): one MakeTuple input. */
      pb_buf e = {0};
      char *tup = mx_emit(x, "MakeTuple", scope, in, nin, &e, NULL, 0);
      int64_t axis = ir_attr_int(n, "axis", 0);
      if (ost) {
        if (axis < 0) axis += 4;
        axis = axis >= 0 && axis < 4 ? TO_NHWC[axis] : axis;
      }
      mx_a_int(&a, 3, "axis", axis, AT_INT64);
      const char *ci[1] = {tup};
      out = mx_emit(x, "Concat", scope, ci, 1, &a, y, ost);
      free(tup);
    } else if (unary_prim(op)) {
      out = mx_emit(x, unary_prim(op), scope, in, 1, &a, y, ost);
    } else {
      const char *prim = op == IR_OP_AddFusion ? "Add" : op == IR_OP_SubFusion ? "Sub" : op == IR_OP_MulFusion ? "Mul" : "RealDiv";
      out = mx_emit(x, prim, scope, in, 2, &a, y, ost);
      out = mx_activation(x, out, ir_attr_int(n, "activation_type", 0), 0, scope, y, ost, 1);
    }
  } else {
    /* Channel-agnostic operators read the IR data as it is. */
    for (int j = 0; j < nin; j++) {
      if (n->in[j] < 0 || unread_input(op, j)) {
        in[j] = NULL;
        continue;
      }
      in[j] = mx_want(x, n->in[j], 0, scope, &tmp[j]);
    }
    switch (op) {
      case IR_OP_MatMulFusion: {
        int ta = (int)ir_attr_int(n, "transpose_a", 0), tb = (int)ir_attr_int(n, "transpose_b", 0);
        if (!ta && tb && nin > 2 && n->in[2] >= 0 && y && y->ndim == 2 && g->tensors[n->in[0]].ndim == 2) {
          /* x·wᵀ + b in one node (MindSpore 2.x's Dense), so the bias is added as this node adds
           * it: a re-import computes the same rounding. */
          mx_a_int(&a, 3, "has_bias", 1, AT_BOOL);
          out = mx_emit(x, "Dense", scope, in, 3, &a, y, 0);
          out = mx_activation(x, out, ir_attr_int(n, "activation_type", 0), 0, scope, y, 0, 1);
          break;
        }
        mx_a_int(&a, 3, "transpose_a", ta, AT_BOOL);
        mx_a_int(&a, 3, "transpose_b", tb, AT_BOOL);
        char sc[1100];
        snprintf(sc, sizeof sc, "%s/MatMul", scope);
        out = mx_emit(x, "MatMul", sc, in, 2, &a, y, 0);
        if (nin > 2 && n->in[2] >= 0 && out) {
          pb_buf e = {0};
          mx_a_str(&e, 3, "format", "NCHW");
          const char *bi[2] = {out, in[2]};
          snprintf(sc, sizeof sc, "%s/BiasAdd", scope);
          char *o2 = mx_emit(x, y && y->ndim == 2 ? "BiasAdd" : "Add", sc, bi, 2, y && y->ndim == 2 ? &e : NULL, y, 0);
          pb_buf_free(&e);
          free(out);
          out = o2;
        }
        out = mx_activation(x, out, ir_attr_int(n, "activation_type", 0), 0, scope, y, 0, 1);
        break;
      }
      case IR_OP_Reshape:
      case IR_OP_Flatten: {
        /* Reshape to the inferred output shape with the leading (batch) dimension as -1, so the
         * file holds no batch size of its own: any shape chain that computed it is not written
         * (export_live) and the model reshapes correctly at every batch. */
        if (!y || y->ndim < 0) return mx_fail(x, TOD_NOT_SUPPORT, "node %s: Reshape of unknown output shape", n->name);
        int64_t d[IR_MAX_DIMS];
        int known = 1;
        for (int k = 0; k < y->ndim; k++) {
          d[k] = y->dims[k];
          if (k > 0 && d[k] <= 0) known = 0;
        }
        if (y->ndim > 0 && known) d[0] = -1;
        else if (op == IR_OP_Flatten && y->ndim == 2 && d[0] > 0) d[1] = -1;
        int unknown = 0;
        for (int k = 0; k < y->ndim; k++) unknown += d[k] < 0;
        if (unknown > 1) return mx_fail(x, TOD_NOT_SUPPORT, "node %s: Reshape to a shape with %d unknown dimensions", n->name, unknown);
        char *sc = mx_const_tuple(x, d, y->ndim);
        const char *ri[2] = {in[0], sc};
        out = mx_emit(x, "Reshape", scope, ri, 2, &a, y, 0);
        free(sc);
        break;
      }
      case IR_OP_Softmax: {
        const int64_t *v;
        int k = ir_attr_ints(n, "axis", &v);
        int64_t ax = k > 0 ? v[0] : -1;
        mx_a_tuple(&a, 3, "axis", &ax, 1);
        out = mx_emit(x, "Softmax", scope, in, 1, &a, y, 0);
        break;
      }
      case IR_OP_TileFusion:
      case IR_OP_ReduceFusion: {
        /* Tile(x, multiples) / Reduce*(x, axis) with the constant second input as a tuple. */
        const ir_tensor *c = n->n_in > 1 && n->in[1] >= 0 ? &g->tensors[n->in[1]] : NULL;
        int64_t v[IR_MAX_DIMS];
        int k = c && c->data && (c->dtype == IR_DT_INT32 || c->dtype == IR_DT_INT64) ? (int)ir_tensor_numel(c) : -1;
        if (k < 0 || k > IR_MAX_DIMS)
          return mx_fail(x, TOD_NOT_SUPPORT, "node %s: %s without a constant second input", n->name, ir_op_name(op));
        for (int j = 0; j < k; j++) v[j] = c->dtype == IR_DT_INT32 ? ((const int32_t *)c->data)[j] : ((const int64_t *)c->data)[j];
        const char *prim = "Tile";
        if (op == IR_OP_ReduceFusion) {
          int64_t mode = ir_attr_int(n, "mode", 0);
          prim = mode == 0 ? "ReduceMean" : mode == 1 ? "ReduceMax" : mode == 2 ? "ReduceMin" : mode == 4 ? "ReduceSum" : NULL;
          if (!prim || ir_attr_int(n, "reduce_to_end", 0) || ir_attr_float(n, "coeff", 1.0) != 1.0)
            return mx_fail(x, TOD_NOT_SUPPORT, "node %s: ReduceFusion mode %lld has no MindSpore counterpart here", n->name, (long long)mode);
          mx_a_int(&a, 3, "keep_dims", ir_attr_int(n, "keep_dims", 0) != 0, AT_BOOL);
        }
        char *cc = mx_const_tuple(x, v, k);
        const char *ri[2] = {in[0], cc};
        out = mx_emit(x, prim, scope, ri, 2, &a, y, 0);
        free(cc);
        break;
      }
      default:
        return mx_fail(x, TOD_NOT_SUPPORT, "operator %s (node %s) has no MindSpore counterpart in the exporter", ir_op_name(op), n->name);
    }
  }
done:
  pb_buf_free(&a);
  for (int j = 0; j < 8; j++) free(tmp[j]);
  if (!out) return x->st != TOD_OK ? x->st : mx_fail(x, TOD_MEMORY_FAILED, "out of memory");
  if (n->n_out < 1) {
    free(out);
    return TOD_OK;
  }
  mx_set_out(x, n->out[0], out, ost);
  return x->st;
}

/* Per node: 1 when its value reaches a graph output through more than unread inputs (nodes in
 * topological order): shape chains (Shape, Gather, Concat...) are left out. *need (owned) marks
 * the tensors written nodes read as values: only those constants become Parameters. */
static char *export_live(const ir_graph *g, char **need_out) {
  char *live = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), 1);
  char *need = calloc((size_t)(g->n_tensors ? g->n_tensors : 1), 1);
  *need_out = NULL;
  if (!live || !need) {
    free(live);
    free(need);
    return NULL;
  }
  for (int k = 0; k < g->n_outputs; k++) need[g->outputs[k]] = 1;
  for (int i = g->n_nodes - 1; i >= 0; i--) {
    const ir_node *n = &g->nodes[i];
    for (int j = 0; j < n->n_out; j++)
      if (n->out[j] >= 0 && need[n->out[j]]) live[i] = 1;
    if (!live[i]) continue;
    for (int j = 0; j < n->n_in; j++)
      if (n->in[j] >= 0 && !unread_input(n->op, j)) need[n->in[j]] = 1;
  }
  *need_out = need;
  return live;
}

tod_status mindir_export(const ir_graph *src, const char *path, char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (!src || !path) return TOD_NULL_PTR;
  ir_graph g;
  tod_status st = ir_graph_clone(src, &g);
  if (st != TOD_OK) return st;
  int train = 0;
  for (int i = 0; i < g.n_nodes; i++) train |= mx_is_update_op(g.nodes[i].op) && g.nodes[i].op != IR_OP_Assign;
  st = ir_toposort(&g, err, errlen);
  xctx x;
  memset(&x, 0, sizeof x);
  x.train = train;
  x.g = &g;
  x.err = err;
  x.errlen = errlen;
  x.st = st;
  snprintf(x.gname, sizeof x.gname, "%s", g.name && g.name[0] && !strchr(g.name, ':') ? g.name : "tod_graph");
  x.ename = calloc((size_t)(g.n_tensors ? g.n_tensors : 1), sizeof(char *));
  x.state = calloc((size_t)(g.n_tensors ? g.n_tensors : 1), 1);
  pb_buf gb = {0}, mb = {0};
  if (!x.ename || !x.state) mx_fail(&x, TOD_MEMORY_FAILED, "out of memory");
  char *read = NULL, *live = x.st == TOD_OK ? export_live(&g, &read) : NULL;
  if (!live && x.st == TOD_OK) mx_fail(&x, TOD_MEMORY_FAILED, "out of memory");
  if (x.st == TOD_OK) {
    /* Weights: every constant a written node reads; spatial weights (with the optimizer state
     * that mirrors them) and NHWC-tagged constants go back to NCHW. */
    int *perm = malloc(sizeof(int) * (size_t)(g.n_tensors ? g.n_tensors : 1)); /* layout source, or -1 */
    if (!perm) mx_fail(&x, TOD_MEMORY_FAILED, "out of memory");
    for (int t = 0; perm && t < g.n_tensors; t++)
      perm[t] = g.tensors[t].ndim == 4 && g.tensors[t].format == IR_FMT_NHWC ? t : -1;
    for (int i = 0; perm && i < g.n_nodes; i++) {
      const ir_node *n = &g.nodes[i];
      if ((n->op == IR_OP_Conv2DFusion || n->op == IR_OP_Conv2DBackpropInputFusion) && n->n_in > 1 && n->in[1] >= 0)
        perm[n->in[1]] = n->in[1];
    }
    for (int i = 0; perm && i < g.n_nodes; i++) {
      const ir_node *n = &g.nodes[i];
      int idx[8], k = mx_state_inputs(n, idx, 8);
      if (k <= 0 || n->in[0] < 0 || perm[n->in[0]] < 0) continue;
      for (int j = 0; j < k; j++) {
        int s = n->in[idx[j]];
        if (s >= 0 && s != n->in[0] && ir_tensor_numel(&g.tensors[s]) == ir_tensor_numel(&g.tensors[n->in[0]])) perm[s] = n->in[0];
      }
    }
    for (int t = 0; t < g.n_tensors && x.st == TOD_OK; t++) {
      const ir_tensor *w = &g.tensors[t];
      if ((w->kind != IR_TENSOR_CONST && w->kind != IR_TENSOR_PARAM) || !w->data || !read[t]) continue;
      if (!mx_dtype(w->dtype)) {
        mx_fail(&x, TOD_NOT_SUPPORT, "tensor '%s' has data type %s", w->name, ir_dtype_name(w->dtype));
        break;
      }
      char pyname[1100];
      snprintf(pyname, sizeof pyname, "%s", w->name);
      /* MindSpore's Momentum calls its accumulators `moments.<w>` (tod: `accum.<w>`). */
      for (int i = 0; i < g.n_nodes; i++)
        if (g.nodes[i].op == IR_OP_ApplyMomentum && g.nodes[i].n_in > 1 && g.nodes[i].in[1] == t && !strncmp(w->name, "accum.", 6))
          snprintf(pyname, sizeof pyname, "moments.%s", w->name + 6);
      put_weight(&x, &gb, t, perm[t], pyname);
    }
    free(perm);
    int has_gs = 0;
    for (int t = 0; t < g.n_tensors; t++) has_gs |= read[t] && g.tensors[t].name && !strcmp(g.tensors[t].name, "global_step");
    if (x.train && x.st == TOD_OK && !has_gs) {
      /* MindSpore's optimizers count steps in an int32 [1] Parameter; a .ms does not hold the
       * count, so it restarts at 0. */
      int32_t zero = 0;
      int64_t one = 1;
      char nm[1100];
      snprintf(nm, sizeof nm, "%s:global_step", x.gname);
      size_t m = pb_put_begin(&gb, 3);
      put_dims(&gb, &one, 1);
      pb_put_uint(&gb, 2, 6);
      pb_put_string(&gb, 7, nm);
      pb_put_bytes(&gb, 9, &zero, 4);
      pb_put_string(&gb, 13, "global_step");
      pb_put_end(&gb, m);
    }
    for (int i = 0; i < g.n_inputs && x.st == TOD_OK; i++) {
      const ir_tensor *t = &g.tensors[g.inputs[i]];
      char nm[1100];
      snprintf(nm, sizeof nm, "%s:%s", x.gname, t->name);
      size_t m = pb_put_begin(&gb, 5);
      pb_put_string(&gb, 1, nm);
      size_t tm = pb_put_begin(&gb, 2);
      put_dims(&gb, t->dims, t->ndim > 0 ? t->ndim : 0);
      pb_put_uint(&gb, 2, (uint64_t)(mx_dtype(t->dtype) ? mx_dtype(t->dtype) : 1));
      pb_put_end(&gb, tm);
      pb_put_end(&gb, m);
      char *e = strdup(nm);
      if (!e) mx_fail(&x, TOD_MEMORY_FAILED, "out of memory");
      mx_set_out(&x, g.inputs[i], e, 0);
    }
    if (x.st == TOD_OK && x.train) mx_train_begin(&x);
    for (int i = 0; i < g.n_nodes && x.st == TOD_OK; i++)
      if (live[i]) export_node(&x, i);
    /* Output: one name (a MakeTuple when several values are returned), in the IR layout; a
     * training graph returns its loss, after the updates (TrainOneStepCell). */
    char *res = NULL;
    if (x.st == TOD_OK && x.train) {
      res = mx_train_result(&x);
    } else if (x.st == TOD_OK) {
      const char *outs[64];
      char *tmp[64] = {0};
      int no = g.n_outputs < 64 ? g.n_outputs : 64;
      if (g.n_outputs > 64) mx_fail(&x, TOD_NOT_SUPPORT, "more than 64 outputs");
      for (int k = 0; k < no && x.st == TOD_OK; k++) outs[k] = mx_want(&x, g.outputs[k], 0, "Default", &tmp[k]);
      if (x.st == TOD_OK && no == 1) res = strdup(outs[0]);
      else if (x.st == TOD_OK) {
        pb_buf e = {0};
        res = mx_emit(&x, "MakeTuple", "Default", outs, no, &e, NULL, 0);
      }
      for (int k = 0; k < no; k++) free(tmp[k]);
      if (!res && x.st == TOD_OK) mx_fail(&x, TOD_MEMORY_FAILED, "out of memory");
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
        mx_fail(&x, TOD_MEMORY_FAILED, "out of memory");
    }
    free(res);
  }
  st = x.st;
  if (st == TOD_OK) st = tod_write_file_atomic(path, mb.data, mb.len, err, errlen);
  for (int t = 0; x.ename && t < g.n_tensors; t++) free(x.ename[t]);
  free(x.ename);
  free(x.state);
  free(live);
  free(read);
  mx_train_free(&x);
  pb_buf_free(&gb);
  pb_buf_free(&mb);
  pb_buf_free(&x.nodes);
  pb_buf_free(&x.prims);
  ir_graph_free(&g);
  return st;
}
