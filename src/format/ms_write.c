/* IR graph -> .ms: see ms_write.h for the mapping. Slot numbers are the field positions in
 * shared/formats/ms-schema/model.fbs (vtable entry 4 + 2*slot). */
#include "format/ms_write.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flatbuf/fb_builder.h"
#include "flatbuf/ms_ops_schema.h"
#include "format/file_io.h"
#include "ir/deferred.h"
#include "ir/source_pages.h"

/* model.fbs field slots */
enum { QP_SCALE, QP_ZERO_POINT, QP_MIN, QP_MAX, QP_NARROW_RANGE, QP_NUM_BITS, QP_INITED };
enum {
  TS_NODE_TYPE, TS_DATA_TYPE, TS_DIMS, TS_FORMAT, TS_REF_COUNT, TS_OFFSET, TS_DATA,
  TS_QUANT_PARAMS, TS_QUANT_CLUSTERS, TS_NAME, TS_HUFFMAN, TS_COMPRESS, TS_EXTERNAL
};
enum { PR_VALUE_TYPE, PR_VALUE };
enum { CN_NAME, CN_NODE_TYPE, CN_PRIMITIVE, CN_INPUT, CN_OUTPUT, CN_QUANT_TYPE, CN_DEVICE };
enum { SG_NAME, SG_INPUTS, SG_OUTPUTS, SG_NODES, SG_TENSORS };
enum {
  MG_NAME, MG_VERSION, MG_FMK, MG_INPUT, MG_OUTPUT, MG_MEMPOOL, MG_NODES, MG_TENSORS, MG_SUBGRAPH
};

/* Weight data alignment in the file: a mmap'd model can use weights in place with SIMD loads. */
#define MS_DATA_ALIGN 64

static tod_status fail(char *err, size_t errlen, tod_status st, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return st;
}

static fb_off str(fb_builder *b, const char *s) { return fb_create_string(b, s ? s : "", s ? strlen(s) : 0); }

/* A [uint] vector of tensor indices (already validated as non-negative). */
static fb_off index_vec(fb_builder *b, const int *idx, int n, uint32_t *scratch) {
  for (int i = 0; i < n; i++) scratch[i] = (uint32_t)idx[i];
  return fb_create_vector(b, scratch, (size_t)n, 4);
}

/* A deferred tensor's bytes, a piece at a time: its source mapping is given back after each
 * (as write_piece does for borrowed weights), so the source is never resident whole. */
static void fill_deferred(const void *ctx, size_t off, size_t len, uint8_t *dst) {
  const ir_tensor *t = ctx;
  ir_tensor_fill(t, off, len, dst);
  ir_source_release_around(t->src, len);
}

static fb_off write_tensor(fb_builder *b, const ir_tensor *t, int idx, int external, char *err,
                           size_t errlen, tod_status *st) {
  fb_off data = 0, dims = 0, qp = 0, clusters = 0, name;
  if (t->kind == IR_TENSOR_CONST || t->kind == IR_TENSOR_PARAM) {
    if (!t->data && !t->src && t->nbytes) {
      *st = fail(err, errlen, TOD_NULL_PTR, "tensor %d (%s): constant without data", idx, t->name);
      return 0;
    }
    if (t->ndim < 0) {
      *st = fail(err, errlen, TOD_NOT_SUPPORT, "tensor %d (%s): constant of unknown rank", idx,
                 t->name);
      return 0;
    }
    const void *bytes = ir_tensor_bytes(t); /* NULL: a deferred relayout, made as it is written */
    if (!bytes)
      data = fb_create_vector_filled(b, fill_deferred, t, ir_tensor_fill_unit(t), t->nbytes, MS_DATA_ALIGN);
    else
      data = external ? fb_create_vector_external(b, bytes, t->nbytes, MS_DATA_ALIGN)
                      : fb_create_vector_aligned(b, bytes, t->nbytes, MS_DATA_ALIGN);
  }
  /* .ms cannot say "rank unknown": such a tensor gets no dims, which reads back as a scalar */
  if (t->ndim >= 0) {
    int32_t d[IR_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++) {
      if (t->dims[i] < -1 || t->dims[i] > INT32_MAX) {
        *st = fail(err, errlen, TOD_NOT_SUPPORT, "tensor %d (%s): dimension %lld does not fit int32",
                   idx, t->name, (long long)t->dims[i]);
        return 0;
      }
      d[i] = (int32_t)t->dims[i];
    }
    dims = fb_create_vector(b, d, (size_t)t->ndim, 4);
  }
  if (t->n_quant > 0) {
    fb_off *q = malloc(sizeof *q * (size_t)t->n_quant);
    if (!q) {
      *st = fail(err, errlen, TOD_MEMORY_FAILED, "out of memory");
      return 0;
    }
    for (int i = 0; i < t->n_quant; i++) {
      const ir_quant_param *p = &t->quant[i];
      fb_start_table(b);
      /* widest fields first: no padding inside the table (one table per weight channel) */
      fb_add_f64(b, QP_SCALE, p->scale, 1.0);
      fb_add_f64(b, QP_MIN, p->min, 0.0);
      fb_add_f64(b, QP_MAX, p->max, 0.0);
      fb_add_i32(b, QP_ZERO_POINT, p->zero_point, 0);
      fb_add_i32(b, QP_NUM_BITS, p->num_bits, 8);
      /* the IR has no narrowRange; MindSpore's weight quantizer writes false */
      fb_add_bool(b, QP_NARROW_RANGE, 0, 1);
      fb_add_bool(b, QP_INITED, p->inited, 0);
      q[i] = fb_end_table(b);
    }
    qp = fb_create_vector_offsets(b, q, (size_t)t->n_quant);
    free(q);
  }
  if (t->n_clusters > 0) clusters = fb_create_vector(b, t->clusters, (size_t)t->n_clusters, 4);
  name = str(b, t->name);
  fb_start_table(b);
  fb_add_i32(b, TS_NODE_TYPE, t->kind == IR_TENSOR_ACT ? IR_NODETYPE_CNODE : IR_NODETYPE_VALUE, 0);
  fb_add_i32(b, TS_DATA_TYPE, t->dtype, 0);
  fb_add_offset(b, TS_DIMS, dims);
  fb_add_i32(b, TS_FORMAT, t->format, 0);
  fb_add_offset(b, TS_DATA, data);
  fb_add_offset(b, TS_QUANT_PARAMS, qp);
  fb_add_offset(b, TS_QUANT_CLUSTERS, clusters);
  fb_add_offset(b, TS_NAME, name);
  fb_add_i32(b, TS_COMPRESS, t->compress_type, 0);
  return fb_end_table(b);
}

static const char *kind_name(ms_field_kind k) {
  switch (k) {
    case MS_F_I8: return "byte";
    case MS_F_I32: return "int";
    case MS_F_I64: return "long";
    case MS_F_BOOL: return "bool";
    case MS_F_F32: return "float";
    case MS_F_VI64: return "[long]";
    case MS_F_VI32: return "[int]";
    case MS_F_VF32: return "[float]";
    case MS_F_STR: return "string";
    case MS_F_VEC2D: return "Vec2D";
    default: return "[Attribute]";
  }
}

/* Checks attribute a against field f; builds its out-of-line value (vector, string, Vec2D)
 * into *child. Scalars are added later, inside the table. */
static tod_status attr_child(fb_builder *b, const ir_node *n, const ir_attr *a, const ms_field *f,
                             fb_off *child, char *err, size_t errlen) {
  const char *op = ir_op_name(n->op);
  int ok;
  *child = 0;
  switch (f->kind) {
    case MS_F_I8: case MS_F_I32: case MS_F_I64: case MS_F_BOOL:
      ok = a->type == IR_ATTR_INT;
      if (ok && f->kind == MS_F_I8 && (a->i < INT8_MIN || a->i > INT8_MAX)) ok = 0;
      if (ok && f->kind == MS_F_I32 && (a->i < INT32_MIN || a->i > INT32_MAX)) ok = 0;
      break;
    case MS_F_F32: ok = a->type == IR_ATTR_FLOAT || a->type == IR_ATTR_INT; break;
    case MS_F_VI64:
      ok = a->type == IR_ATTR_INTS;
      if (ok) *child = fb_create_vector(b, a->ints, (size_t)a->n, 8);
      break;
    case MS_F_VI32: {
      ok = a->type == IR_ATTR_INTS;
      if (!ok) break;
      int32_t *v = malloc(sizeof *v * (size_t)(a->n ? a->n : 1));
      if (!v) return fail(err, errlen, TOD_MEMORY_FAILED, "out of memory");
      for (int i = 0; i < a->n && ok; i++) {
        if (a->ints[i] < INT32_MIN || a->ints[i] > INT32_MAX) ok = 0;
        v[i] = (int32_t)a->ints[i];
      }
      if (ok) *child = fb_create_vector(b, v, (size_t)a->n, 4);
      free(v);
      break;
    }
    case MS_F_VF32:
      ok = a->type == IR_ATTR_FLOATS;
      if (ok) *child = fb_create_vector(b, a->floats, (size_t)a->n, 4);
      break;
    case MS_F_STR:
      ok = a->type == IR_ATTR_STRING;
      if (ok) *child = str(b, a->s);
      break;
    case MS_F_VEC2D: {
      ok = a->type == IR_ATTR_INTS2D;
      if (!ok) break;
      fb_off *rows = malloc(sizeof *rows * (size_t)(a->n ? a->n : 1));
      if (!rows) return fail(err, errlen, TOD_MEMORY_FAILED, "out of memory");
      for (int r = 0; r < a->n; r++) {
        fb_off row = fb_create_vector(b, a->ints + (size_t)r * (size_t)a->cols, (size_t)a->cols, 8);
        fb_start_table(b); /* Vec { data: [long] } */
        fb_add_offset(b, 0, row);
        rows[r] = fb_end_table(b);
      }
      fb_off vecs = fb_create_vector_offsets(b, rows, (size_t)a->n);
      free(rows);
      fb_start_table(b); /* Vec2D { data: [Vec] } */
      fb_add_offset(b, 0, vecs);
      *child = fb_end_table(b);
      break;
    }
    default:
      return fail(err, errlen, TOD_NOT_SUPPORT, "node '%s' (%s): attribute '%s' of kind %s cannot be written",
                  n->name, op, a->key, kind_name(f->kind));
  }
  if (!ok)
    return fail(err, errlen, TOD_INVALID_OP_ATTR,
                "node '%s' (%s): attribute '%s' does not fit the %s field (wrong kind or out of range)",
                n->name, op, a->key, kind_name(f->kind));
  return TOD_OK;
}

static fb_off write_primitive(fb_builder *b, const ir_node *n, char *err, size_t errlen,
                              tod_status *st) {
  const ms_prim_schema *ps = &ms_prim_schemas[n->op];
  /* attr_of[k]: the attribute stored in field k, or -1. Fields are written in slot order, so
   * the bytes do not depend on the order attributes were set in. */
  int *attr_of = malloc(sizeof *attr_of * (size_t)(ps->n_fields ? ps->n_fields : 1));
  fb_off *child = malloc(sizeof *child * (size_t)(ps->n_fields ? ps->n_fields : 1));
  fb_off value = 0, prim = 0;
  if (!attr_of || !child) {
    *st = fail(err, errlen, TOD_MEMORY_FAILED, "out of memory");
    goto out;
  }
  for (int k = 0; k < ps->n_fields; k++) attr_of[k] = -1;
  for (int i = 0; i < n->n_attrs; i++) {
    int slot = -1;
    for (int k = 0; k < ps->n_fields && slot < 0; k++)
      if (strcmp(MS_NAME(MS_FIELD(ps, k)->name), n->attrs[i].key) == 0) slot = k;
    if (slot < 0) {
      *st = fail(err, errlen, TOD_INVALID_OP_ATTR, "node '%s' (%s): attribute '%s' is not a field of %s",
                 n->name, MS_NAME(ps->name), n->attrs[i].key, MS_NAME(ps->name));
      goto out;
    }
    attr_of[slot] = i;
  }
  for (int k = 0; k < ps->n_fields; k++) {
    child[k] = 0;
    if (attr_of[k] < 0) continue;
    *st = attr_child(b, n, &n->attrs[attr_of[k]], MS_FIELD(ps, k), &child[k], err, errlen);
    if (*st) goto out;
  }
  fb_start_table(b);
  for (int k = 0; k < ps->n_fields; k++) {
    if (attr_of[k] < 0) continue;
    const ir_attr *a = &n->attrs[attr_of[k]];
    /* forced: an attribute the IR holds is always stored (see ms_write.h) */
    switch (MS_FIELD(ps, k)->kind) {
      case MS_F_I8: fb_add_scalar_force(b, k, (uint8_t)(int8_t)a->i, 1); break;
      case MS_F_BOOL: fb_add_scalar_force(b, k, a->i != 0, 1); break;
      case MS_F_I32: fb_add_scalar_force(b, k, (uint32_t)(int32_t)a->i, 4); break;
      case MS_F_I64: fb_add_scalar_force(b, k, (uint64_t)a->i, 8); break;
      case MS_F_F32: {
        float f = a->type == IR_ATTR_FLOAT ? (float)a->f : (float)a->i;
        uint32_t bits;
        memcpy(&bits, &f, 4);
        fb_add_scalar_force(b, k, bits, 4);
        break;
      }
      default: fb_add_offset(b, k, child[k]); break;
    }
  }
  value = fb_end_table(b);
  fb_start_table(b);
  fb_add_u8(b, PR_VALUE_TYPE, (uint8_t)n->op, 0);
  fb_add_offset(b, PR_VALUE, value);
  prim = fb_end_table(b);
out:
  free(attr_of);
  free(child);
  return prim;
}

static fb_off write_node(fb_builder *b, const ir_graph *g, int idx, uint32_t *scratch, char *err,
                         size_t errlen, tod_status *st) {
  const ir_node *n = &g->nodes[idx];
  int n_in = n->n_in;
  /* MindSpore Lite has no absent inputs: trailing ones are simply not passed */
  while (n_in > 0 && n->in[n_in - 1] < 0) n_in--;
  for (int j = 0; j < n_in; j++)
    if (n->in[j] < 0) {
      *st = fail(err, errlen, TOD_NOT_SUPPORT,
                 "node '%s' (%s): absent input %d before a present one cannot be written to .ms",
                 n->name, ir_op_name(n->op), j);
      return 0;
    }
  fb_off prim = write_primitive(b, n, err, errlen, st);
  if (*st) return 0;
  fb_off in = index_vec(b, n->in, n_in, scratch);
  fb_off out = index_vec(b, n->out, n->n_out, scratch);
  fb_off name = str(b, n->name);
  fb_start_table(b);
  fb_add_offset(b, CN_NAME, name);
  fb_add_offset(b, CN_PRIMITIVE, prim);
  fb_add_offset(b, CN_INPUT, in);
  fb_add_offset(b, CN_OUTPUT, out);
  fb_add_i32(b, CN_QUANT_TYPE, n->quant_type, 0);
  return fb_end_table(b);
}

/* Writes a megabyte at a time: after each, a weight still borrowed from a converter's source
 * mapping gives back what the write mapped in (ir_source_release_around does nothing for other
 * memory), so reading it for the write never pages the whole weight in at once. */
static tod_status write_piece(void *ctx, const void *bytes, size_t len) {
  const size_t step = 4 * IR_SOURCE_RELEASE_STEP;
  tod_status st = TOD_OK;
  int fd;
  uint64_t off;
  /* Bytes as they are in a source file (a weight the converter did not change): copied from the
   * file in the kernel, as cp does, so they are never mapped in (and given back) at all. */
  if (len >= (64 << 10) && ir_source_file_range(bytes, len, &fd, &off)) return tod_atomic_copy(ctx, fd, off, bytes, len);
  for (size_t done = 0; done < len && st == TOD_OK;) {
    const size_t n = len - done < step ? len - done : step;
    st = tod_atomic_write(ctx, (const uint8_t *)bytes + done, n);
    done += n;
    ir_source_release_around(bytes, n);
  }
  return st;
}

/* Builds the whole .ms into a buffer (*buf) or, with out != NULL, writes it to out with the
 * weights taken straight from the graph's tensors (no copy of them in memory). */
static tod_status ms_build(const ir_graph *g, uint8_t **buf, size_t *len, tod_atomic_file *out,
                           char *err, size_t errlen) {
  char msg[256] = "";
  if (err && errlen) err[0] = 0;
  tod_status st = ir_validate(g, msg, sizeof msg);
  if (st) return fail(err, errlen, st, "%s", msg);
  if (ms_prim_count < IR_OP_COUNT)
    return fail(err, errlen, TOD_ERROR, "primitive table shorter than IR_OP_COUNT");

  /* size hint: weights with their alignment padding, plus a rough per-object overhead */
  size_t hint = 4096;
  for (int i = 0; i < g->n_tensors; i++) hint += g->tensors[i].nbytes + MS_DATA_ALIGN + 128;
  hint += (size_t)g->n_nodes * 256;

  int max_list = g->n_tensors > g->n_nodes ? g->n_tensors : g->n_nodes;
  for (int i = 0; i < g->n_nodes; i++) {
    if (g->nodes[i].n_in > max_list) max_list = g->nodes[i].n_in;
    if (g->nodes[i].n_out > max_list) max_list = g->nodes[i].n_out;
  }
  if (g->n_inputs > max_list) max_list = g->n_inputs;
  if (g->n_outputs > max_list) max_list = g->n_outputs;
  uint32_t *scratch = malloc(sizeof *scratch * (size_t)(max_list + 1));
  fb_off *tens = malloc(sizeof *tens * (size_t)(g->n_tensors + 1));
  fb_off *nodes = malloc(sizeof *nodes * (size_t)(g->n_nodes + 1));
  fb_builder b;
  fb_builder_init(&b, hint);
  if (!scratch || !tens || !nodes) {
    st = fail(err, errlen, TOD_MEMORY_FAILED, "out of memory");
    goto out;
  }
  /* Weights first: built back to front, they end up at the end of the file. */
  for (int i = 0; i < g->n_tensors && !st; i++)
    tens[i] = write_tensor(&b, &g->tensors[i], i, out != NULL, err, errlen, &st);
  for (int i = 0; i < g->n_nodes && !st; i++) nodes[i] = write_node(&b, g, i, scratch, err, errlen, &st);
  if (st) goto out;
  fb_off all_tensors = fb_create_vector_offsets(&b, tens, (size_t)g->n_tensors);
  fb_off all_nodes = fb_create_vector_offsets(&b, nodes, (size_t)g->n_nodes);
  fb_off g_in = index_vec(&b, g->inputs, g->n_inputs, scratch);
  fb_off g_out = index_vec(&b, g->outputs, g->n_outputs, scratch);

  /* the one subgraph holds everything, as MindSpore's exporter writes it */
  fb_off sg_in = index_vec(&b, g->inputs, g->n_inputs, scratch);
  fb_off sg_out = index_vec(&b, g->outputs, g->n_outputs, scratch);
  for (int i = 0; i < g->n_nodes; i++) scratch[i] = (uint32_t)i;
  fb_off sg_nodes = fb_create_vector(&b, scratch, (size_t)g->n_nodes, 4);
  for (int i = 0; i < g->n_tensors; i++) scratch[i] = (uint32_t)i;
  fb_off sg_tensors = fb_create_vector(&b, scratch, (size_t)g->n_tensors, 4);
  char sg_name_buf[256];
  snprintf(sg_name_buf, sizeof sg_name_buf, "%s_subgraph", g->name ? g->name : "");
  fb_off sg_name = str(&b, sg_name_buf);
  fb_start_table(&b);
  fb_add_offset(&b, SG_NAME, sg_name);
  fb_add_offset(&b, SG_INPUTS, sg_in);
  fb_add_offset(&b, SG_OUTPUTS, sg_out);
  fb_add_offset(&b, SG_NODES, sg_nodes);
  fb_add_offset(&b, SG_TENSORS, sg_tensors);
  fb_off sg = fb_end_table(&b);
  fb_off subgraphs = fb_create_vector_offsets(&b, &sg, 1);

  fb_off name = str(&b, g->name);
  fb_off version = str(&b, g->version && g->version[0] ? g->version : MS_WRITE_DEFAULT_VERSION);
  fb_start_table(&b);
  fb_add_offset(&b, MG_NAME, name);
  fb_add_offset(&b, MG_VERSION, version);
  fb_add_i32(&b, MG_FMK, g->fmk_type, 0);
  fb_add_offset(&b, MG_INPUT, g_in);
  fb_add_offset(&b, MG_OUTPUT, g_out);
  fb_add_offset(&b, MG_NODES, all_nodes);
  fb_add_offset(&b, MG_TENSORS, all_tensors);
  fb_add_offset(&b, MG_SUBGRAPH, subgraphs);
  fb_off root = fb_end_table(&b);
  if (out)
    st = fb_builder_finish_write(&b, root, "MSL2", write_piece, out, err, errlen);
  else
    st = fb_builder_finish(&b, root, "MSL2", buf, len, err, errlen);
out:
  fb_builder_free(&b);
  free(scratch);
  free(tens);
  free(nodes);
  return st;
}

tod_status ms_serialize(const ir_graph *g, uint8_t **buf, size_t *len, char *err, size_t errlen) {
  *buf = NULL;
  *len = 0;
  return ms_build(g, buf, len, NULL, err, errlen);
}

tod_status ms_write_file(const ir_graph *g, const char *path, char *err, size_t errlen) {
  tod_atomic_file f;
  tod_status st = tod_atomic_open(&f, path, err, errlen);
  if (st) return st;
  st = ms_build(g, NULL, NULL, &f, err, errlen);
  if (st) {
    tod_atomic_abort(&f);
    return st;
  }
  return tod_atomic_commit(&f);
}
