/* .ms -> IR graph: see ms_read.h. Slot numbers are field positions in model.fbs. Every field
 * of every table is read (and so verified), including the ones the IR does not keep, so a
 * buffer ms_read accepts is valid throughout, not only along the paths tod uses. */
#include "format/ms_read.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flatbuf/fb_reader.h"
#include "format/byte_order.h"
#include "flatbuf/ms_ops_schema.h"

enum {
  QP_SCALE, QP_ZERO_POINT, QP_MIN, QP_MAX, QP_NARROW_RANGE, QP_NUM_BITS, QP_INITED, QP_VAR_CORR,
  QP_MEAN_CORR, QP_DST_DTYPE, QP_ROUND_TYPE, QP_MULTIPLIER
};
enum { ED_CHECKSUM, ED_LOCATION, ED_OFFSET, ED_LENGTH };
enum {
  TS_NODE_TYPE, TS_DATA_TYPE, TS_DIMS, TS_FORMAT, TS_REF_COUNT, TS_OFFSET, TS_DATA,
  TS_QUANT_PARAMS, TS_QUANT_CLUSTERS, TS_NAME, TS_HUFFMAN, TS_COMPRESS, TS_EXTERNAL
};
enum { PR_VALUE_TYPE, PR_VALUE };
enum { CN_NAME, CN_NODE_TYPE, CN_PRIMITIVE, CN_INPUT, CN_OUTPUT, CN_QUANT_TYPE, CN_DEVICE };
enum { SG_NAME, SG_INPUTS, SG_OUTPUTS, SG_NODES, SG_TENSORS };
enum {
  MG_NAME, MG_VERSION, MG_FMK, MG_INPUT, MG_OUTPUT, MG_MEMPOOL, MG_NODES, MG_TENSORS, MG_SUBGRAPH,
  MG_OBFUSCATE, MG_OBF_META
};

typedef struct {
  fb_reader r;
  ir_graph *g;
  char *err;
  size_t errlen;
} ms_ctx;

static tod_status fail(ms_ctx *c, tod_status st, const char *fmt, ...) {
  if (c->err && c->errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
  }
  return st;
}

#define TRY(expr)                  \
  do {                             \
    tod_status st_ = (expr);       \
    if (st_ != TOD_OK) return st_; \
  } while (0)

static tod_status oom(ms_ctx *c) { return fail(c, TOD_MEMORY_FAILED, "out of memory reading .ms"); }

static char *dup_n(const char *s, uint32_t n) {
  char *d = malloc((size_t)n + 1);
  if (!d) return NULL;
  if (n) memcpy(d, s, n);
  d[n] = 0;
  return d;
}

/* Reads a [uint] list of indices below `limit` into a malloc'd int array. */
static tod_status read_indices(ms_ctx *c, const fb_table *t, int slot, int limit, const char *what,
                               int **out, int *n, int *present) {
  fb_vec v;
  *out = NULL;
  *n = 0;
  TRY(fb_read_vec(&c->r, t, slot, 4, &v, present));
  int *a = malloc(sizeof *a * ((size_t)v.len + 1));
  if (!a) return oom(c);
  for (uint32_t i = 0; i < v.len; i++) {
    uint32_t x = fb_vec_u32(&c->r, &v, i);
    if (x >= (uint32_t)limit) {
      free(a);
      return fail(c, TOD_GRAPH_FILE_ERR, "%s %u refers to index %u of %d", what, i, x, limit);
    }
    a[i] = (int)x;
  }
  *out = a;
  *n = (int)v.len;
  return TOD_OK;
}

static tod_status read_quant(ms_ctx *c, const fb_table *t, ir_tensor *ts) {
  fb_vec v;
  TRY(fb_read_vec(&c->r, t, TS_QUANT_PARAMS, 4, &v, NULL));
  if (v.len) {
    ts->quant = calloc(v.len, sizeof *ts->quant);
    if (!ts->quant) return oom(c);
    ts->n_quant = (int)v.len;
  }
  for (uint32_t i = 0; i < v.len; i++) {
    fb_table q;
    ir_quant_param *p = &ts->quant[i];
    uint8_t u8;
    int32_t i32;
    float f32;
    TRY(fb_vec_table(&c->r, &v, i, &q));
    TRY(fb_read_f64(&c->r, &q, QP_SCALE, 1.0, &p->scale));
    TRY(fb_read_i32(&c->r, &q, QP_ZERO_POINT, 0, &p->zero_point));
    TRY(fb_read_f64(&c->r, &q, QP_MIN, 0.0, &p->min));
    TRY(fb_read_f64(&c->r, &q, QP_MAX, 0.0, &p->max));
    TRY(fb_read_u8(&c->r, &q, QP_NARROW_RANGE, 1, &u8));
    TRY(fb_read_i32(&c->r, &q, QP_NUM_BITS, 8, &p->num_bits));
    TRY(fb_read_u8(&c->r, &q, QP_INITED, 0, &u8));
    p->inited = u8 != 0;
    /* not kept by the IR, read to verify them */
    TRY(fb_read_f32(&c->r, &q, QP_VAR_CORR, 1.0f, &f32));
    TRY(fb_read_f32(&c->r, &q, QP_MEAN_CORR, 0.0f, &f32));
    TRY(fb_read_i32(&c->r, &q, QP_DST_DTYPE, 32, &i32));
    TRY(fb_read_i32(&c->r, &q, QP_ROUND_TYPE, 1, &i32));
    TRY(fb_read_i32(&c->r, &q, QP_MULTIPLIER, 1, &i32));
  }
  TRY(fb_read_vec(&c->r, t, TS_QUANT_CLUSTERS, 4, &v, NULL));
  if (v.len) {
    ts->clusters = malloc(sizeof(float) * v.len);
    if (!ts->clusters) return oom(c);
    ts->n_clusters = (int)v.len;
    for (uint32_t i = 0; i < v.len; i++) ts->clusters[i] = fb_vec_f32(&c->r, &v, i);
  }
  return TOD_OK;
}

static tod_status read_tensor(ms_ctx *c, const fb_table *t, int idx) {
  const char *name;
  uint32_t name_len;
  int32_t node_type, dtype, format, i32;
  uint8_t u8;
  fb_vec dims, data, ext;
  int has_data;
  TRY(fb_read_string(&c->r, t, TS_NAME, &name, &name_len));
  TRY(fb_read_i32(&c->r, t, TS_NODE_TYPE, 0, &node_type));
  TRY(fb_read_i32(&c->r, t, TS_DATA_TYPE, 0, &dtype));
  TRY(fb_read_vec(&c->r, t, TS_DIMS, 4, &dims, NULL));
  TRY(fb_read_i32(&c->r, t, TS_FORMAT, 0, &format));
  TRY(fb_read_i32(&c->r, t, TS_REF_COUNT, 0, &i32));
  TRY(fb_read_i32(&c->r, t, TS_OFFSET, 0, &i32));
  TRY(fb_read_vec(&c->r, t, TS_DATA, 1, &data, &has_data));
  TRY(fb_read_u8(&c->r, t, TS_HUFFMAN, 0, &u8));
  TRY(fb_read_vec(&c->r, t, TS_EXTERNAL, 4, &ext, NULL));
  for (uint32_t i = 0; i < ext.len; i++) {
    fb_table e;
    const char *s;
    uint32_t n;
    int64_t i64;
    TRY(fb_vec_table(&c->r, &ext, i, &e));
    TRY(fb_read_string(&c->r, &e, ED_CHECKSUM, &s, &n));
    TRY(fb_read_string(&c->r, &e, ED_LOCATION, &s, &n));
    TRY(fb_read_i64(&c->r, &e, ED_OFFSET, 0, &i64));
    TRY(fb_read_i64(&c->r, &e, ED_LENGTH, -1, &i64));
  }
  if (ext.len)
    return fail(c, TOD_NOT_SUPPORT, "tensor %d (%s): weights in an external file are not supported",
                idx, name ? name : "");
  if (dims.len > IR_MAX_DIMS)
    return fail(c, TOD_NOT_SUPPORT, "tensor %d (%s): rank %u exceeds %d", idx, name ? name : "",
                dims.len, IR_MAX_DIMS);

  char *nm = dup_n(name ? name : "", name_len);
  if (!nm) return oom(c);
  int k = ir_add_tensor(c->g, nm);
  free(nm);
  if (k < 0) return oom(c);
  ir_tensor *ts = &c->g->tensors[k];
  ts->dtype = dtype;
  ts->format = format;
  ts->ndim = (int)dims.len; /* absent dims: a scalar, as MindSpore Lite reads it */
  for (uint32_t i = 0; i < dims.len; i++) ts->dims[i] = fb_vec_i32(&c->r, &dims, i);
  TRY(fb_read_i32(&c->r, t, TS_COMPRESS, 0, &ts->compress_type));
  TRY(read_quant(c, t, ts));
  ts->kind = IR_TENSOR_ACT;
  if (node_type == IR_NODETYPE_VALUE && has_data) {
    const uint8_t *p = fb_vec_bytes(&c->r, &data);
    size_t es = ir_dtype_size(dtype);
    /* kernels read elements directly: borrow only when the address suits the dtype */
    if (es > 1 && (uintptr_t)p % es) {
      if (ir_tensor_set_data_copy(ts, p, data.len)) return oom(c);
    } else {
      ir_tensor_set_data_borrow(ts, p, data.len);
    }
  }
  return TOD_OK;
}

static tod_status read_vec2d(ms_ctx *c, ir_node *n, const ms_field *f, const fb_table *t) {
  fb_vec rows;
  TRY(fb_read_vec(&c->r, t, 0, 4, &rows, NULL));
  int64_t *vals = NULL;
  uint32_t cols = 0;
  size_t have = 0;
  tod_status st = TOD_OK;
  for (uint32_t i = 0; i < rows.len && !st; i++) {
    fb_table row;
    fb_vec v;
    st = fb_vec_table(&c->r, &rows, i, &row);
    if (!st) st = fb_read_vec(&c->r, &row, 0, 8, &v, NULL);
    if (st) break;
    if (i == 0) {
      cols = v.len;
      /* rows * cols elements were each charged to the reader's budget: bounded by the file */
      if ((uint64_t)rows.len * cols > INT_MAX / 8) {
        st = fail(c, TOD_GRAPH_FILE_ERR, "attribute '%s': Vec2D too large", MS_NAME(f->name));
        break;
      }
      vals = malloc(sizeof *vals * ((size_t)rows.len * cols + 1));
      if (!vals) {
        st = oom(c);
        break;
      }
    } else if (v.len != cols) {
      st = fail(c, TOD_NOT_SUPPORT, "node '%s': attribute '%s' has rows of different lengths",
                n->name, MS_NAME(f->name));
      break;
    }
    for (uint32_t j = 0; j < v.len; j++) vals[have++] = fb_vec_i64(&c->r, &v, j);
  }
  if (!st && ir_attr_set_ints2d(n, MS_NAME(f->name), vals, (int)rows.len, (int)cols)) st = oom(c);
  free(vals);
  return st;
}

/* Reads every field of the primitive table; present ones become attributes (see ms_read.h). */
static tod_status read_attrs(ms_ctx *c, ir_node *n, const fb_table *t) {
  const ms_prim_schema *ps = &ms_prim_schemas[n->op];
  for (int k = 0; k < ps->n_fields; k++) {
    const ms_field *f = MS_FIELD(ps, k);
    tod_status st = TOD_OK;
    if (!fb_has_field(&c->r, t, k)) continue;
    switch (f->kind) {
      case MS_F_I8: {
        int8_t v;
        TRY(fb_read_i8(&c->r, t, k, 0, &v));
        st = ir_attr_set_int(n, MS_NAME(f->name), v);
        break;
      }
      case MS_F_BOOL: {
        uint8_t v;
        TRY(fb_read_u8(&c->r, t, k, 0, &v));
        st = ir_attr_set_int(n, MS_NAME(f->name), v != 0);
        break;
      }
      case MS_F_I32: {
        int32_t v;
        TRY(fb_read_i32(&c->r, t, k, 0, &v));
        st = ir_attr_set_int(n, MS_NAME(f->name), v);
        break;
      }
      case MS_F_I64: {
        int64_t v;
        TRY(fb_read_i64(&c->r, t, k, 0, &v));
        st = ir_attr_set_int(n, MS_NAME(f->name), v);
        break;
      }
      case MS_F_F32: {
        float v;
        TRY(fb_read_f32(&c->r, t, k, 0, &v));
        st = ir_attr_set_float(n, MS_NAME(f->name), v);
        break;
      }
      case MS_F_VI64:
      case MS_F_VI32: {
        fb_vec v;
        uint32_t es = f->kind == MS_F_VI64 ? 8 : 4;
        TRY(fb_read_vec(&c->r, t, k, es, &v, NULL));
        int64_t *a = malloc(sizeof *a * ((size_t)v.len + 1));
        if (!a) return oom(c);
        for (uint32_t i = 0; i < v.len; i++)
          a[i] = es == 8 ? fb_vec_i64(&c->r, &v, i) : fb_vec_i32(&c->r, &v, i);
        st = ir_attr_set_ints(n, MS_NAME(f->name), a, (int)v.len);
        free(a);
        break;
      }
      case MS_F_VF32: {
        fb_vec v;
        TRY(fb_read_vec(&c->r, t, k, 4, &v, NULL));
        float *a = malloc(sizeof *a * ((size_t)v.len + 1));
        if (!a) return oom(c);
        for (uint32_t i = 0; i < v.len; i++) a[i] = fb_vec_f32(&c->r, &v, i);
        st = ir_attr_set_floats(n, MS_NAME(f->name), a, (int)v.len);
        free(a);
        break;
      }
      case MS_F_STR: {
        const char *s;
        uint32_t len;
        TRY(fb_read_string(&c->r, t, k, &s, &len));
        char *d = dup_n(s, len);
        if (!d) return oom(c);
        st = ir_attr_set_string(n, MS_NAME(f->name), d);
        free(d);
        break;
      }
      case MS_F_VEC2D: {
        fb_table v2;
        int present;
        TRY(fb_read_table(&c->r, t, k, &v2, &present));
        TRY(read_vec2d(c, n, f, &v2));
        break;
      }
      case MS_F_ATTRS: {
        /* Custom's free-form attributes: verified, not kept (no IR representation) */
        fb_vec v;
        TRY(fb_read_vec(&c->r, t, k, 4, &v, NULL));
        for (uint32_t i = 0; i < v.len; i++) {
          fb_table a;
          fb_vec bytes;
          const char *s;
          uint32_t len;
          TRY(fb_vec_table(&c->r, &v, i, &a));
          TRY(fb_read_string(&c->r, &a, 0, &s, &len));
          TRY(fb_read_vec(&c->r, &a, 1, 1, &bytes, NULL));
        }
        break;
      }
    }
    if (st) return oom(c);
  }
  return TOD_OK;
}

static tod_status read_node(ms_ctx *c, const fb_table *t, int idx) {
  const char *name;
  uint32_t name_len;
  int32_t i32, quant_type;
  fb_table prim, value;
  int present, has_value;
  uint8_t type;
  TRY(fb_read_string(&c->r, t, CN_NAME, &name, &name_len));
  TRY(fb_read_i32(&c->r, t, CN_NODE_TYPE, 0, &i32));
  TRY(fb_read_i32(&c->r, t, CN_QUANT_TYPE, 0, &quant_type));
  TRY(fb_read_i32(&c->r, t, CN_DEVICE, -1, &i32));
  TRY(fb_read_table(&c->r, t, CN_PRIMITIVE, &prim, &present));
  if (!present) return fail(c, TOD_GRAPH_FILE_ERR, "node %d (%s) has no primitive", idx, name ? name : "");
  TRY(fb_read_union(&c->r, &prim, PR_VALUE_TYPE, PR_VALUE, &type, &value, &has_value));
  if (type == 0) return fail(c, TOD_GRAPH_FILE_ERR, "node %d (%s) has primitive type NONE", idx, name ? name : "");
  if (type >= IR_OP_COUNT || type >= ms_prim_count)
    return fail(c, TOD_NOT_SUPPORT, "node %d (%s) has primitive type %u, unknown to this tod", idx,
                name ? name : "", type);
  int *in = NULL, *out = NULL, n_in, n_out;
  tod_status st = read_indices(c, t, CN_INPUT, c->g->n_tensors, "node input", &in, &n_in, NULL);
  if (!st) st = read_indices(c, t, CN_OUTPUT, c->g->n_tensors, "node output", &out, &n_out, NULL);
  char *nm = NULL;
  if (!st && !(nm = dup_n(name ? name : "", name_len))) st = oom(c);
  int k = -1;
  if (!st && (k = ir_add_node(c->g, type, nm, in, n_in, out, n_out)) < 0) st = oom(c);
  free(in);
  free(out);
  free(nm);
  if (st) return st;
  ir_node *n = &c->g->nodes[k];
  n->quant_type = quant_type;
  /* a type byte without its table is accepted as a primitive with no stored fields */
  if (has_value) TRY(read_attrs(c, n, &value));
  return TOD_OK;
}

static tod_status read_graph(ms_ctx *c, const uint8_t *data, size_t size) {
  fb_table root;
  const char *s;
  uint32_t len;
  fb_vec v;
  int32_t i32;
  uint32_t u32;
  uint8_t u8;
  ir_graph *g = c->g;
  TRY(fb_reader_init(&c->r, data, size, "MSL2", &root, c->err, c->errlen));
  TRY(fb_read_string(&c->r, &root, MG_NAME, &s, &len));
  if (!(g->name = dup_n(s ? s : "", len))) return oom(c);
  TRY(fb_read_string(&c->r, &root, MG_VERSION, &s, &len));
  if (!(g->version = dup_n(s ? s : "", len))) return oom(c);
  TRY(fb_read_i32(&c->r, &root, MG_FMK, 0, &i32));
  g->fmk_type = i32;
  TRY(fb_read_u32(&c->r, &root, MG_MEMPOOL, 0, &u32));
  TRY(fb_read_u8(&c->r, &root, MG_OBFUSCATE, 0, &u8));
  TRY(fb_read_vec(&c->r, &root, MG_OBF_META, 1, &v, NULL));
  if (u8) return fail(c, TOD_NOT_SUPPORT, "obfuscated models are not supported");

  TRY(fb_read_vec(&c->r, &root, MG_TENSORS, 4, &v, NULL));
  if (v.len > INT_MAX / 2) return fail(c, TOD_GRAPH_FILE_ERR, "too many tensors");
  for (uint32_t i = 0; i < v.len; i++) {
    fb_table t;
    TRY(fb_vec_table(&c->r, &v, i, &t));
    TRY(read_tensor(c, &t, (int)i));
  }
  TRY(fb_read_vec(&c->r, &root, MG_NODES, 4, &v, NULL));
  if (v.len > INT_MAX / 2) return fail(c, TOD_GRAPH_FILE_ERR, "too many nodes");
  for (uint32_t i = 0; i < v.len; i++) {
    fb_table t;
    TRY(fb_vec_table(&c->r, &v, i, &t));
    TRY(read_node(c, &t, (int)i));
  }
  int has_in, has_out;
  TRY(read_indices(c, &root, MG_INPUT, g->n_tensors, "graph input", &g->inputs, &g->n_inputs, &has_in));
  TRY(read_indices(c, &root, MG_OUTPUT, g->n_tensors, "graph output", &g->outputs, &g->n_outputs, &has_out));

  TRY(fb_read_vec(&c->r, &root, MG_SUBGRAPH, 4, &v, NULL));
  /* several subgraphs mean control flow (Partial/Switch/Call), which tod does not run */
  if (v.len > 1) return fail(c, TOD_NOT_SUPPORT, "model has %u subgraphs; only single-graph models are supported", v.len);
  if (v.len == 1) {
    fb_table sg;
    int *idx, n, present;
    TRY(fb_vec_table(&c->r, &v, 0, &sg));
    TRY(fb_read_string(&c->r, &sg, SG_NAME, &s, &len));
    TRY(read_indices(c, &sg, SG_NODES, g->n_nodes, "subgraph node", &idx, &n, NULL));
    free(idx);
    TRY(read_indices(c, &sg, SG_TENSORS, g->n_tensors, "subgraph tensor", &idx, &n, NULL));
    free(idx);
    TRY(read_indices(c, &sg, SG_INPUTS, g->n_tensors, "subgraph input", &idx, &n, &present));
    if (!has_in && present) {
      free(g->inputs);
      g->inputs = idx;
      g->n_inputs = n;
    } else {
      free(idx);
    }
    TRY(read_indices(c, &sg, SG_OUTPUTS, g->n_tensors, "subgraph output", &idx, &n, &present));
    if (!has_out && present) {
      free(g->outputs);
      g->outputs = idx;
      g->n_outputs = n;
    } else {
      free(idx);
    }
  }
  /* graph inputs are fed by the user, whatever nodeType the writer gave them */
  for (int i = 0; i < g->n_inputs; i++) {
    ir_tensor *t = &g->tensors[g->inputs[i]];
    if (t->kind == IR_TENSOR_CONST) ir_tensor_set_data_borrow(t, NULL, 0);
    t->data = NULL;
    t->nbytes = 0;
    t->kind = IR_TENSOR_INPUT;
  }
  char msg[256] = "";
  tod_status st = ir_validate(g, msg, sizeof msg);
  if (st) return fail(c, st, "%s", msg);
  return TOD_OK;
}

tod_status ms_read(const uint8_t *data, size_t size, ir_graph *g, char *err, size_t errlen) {
  ms_ctx c;
  memset(&c, 0, sizeof c);
  ir_graph_init(g);
  c.g = g;
  c.err = err;
  c.errlen = errlen;
  if (err && errlen) err[0] = 0;
  if (!tod_host_is_little_endian()) {
    if (err && errlen) snprintf(err, errlen, "%s", TOD_BIG_ENDIAN_MESSAGE);
    return TOD_NOT_SUPPORT;
  }
  tod_status st = read_graph(&c, data, size);
  if (st) ir_graph_free(g);
  return st;
}
