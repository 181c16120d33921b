/* ONNX importer: ModelProto / GraphProto / TensorProto parsing, the value-name table, constants,
 * Identity/Dropout removal and graph outputs. Operator translation is in onnx_ops.c.
 *
 * Everything is read straight from the serialized bytes with the wire reader (proto/pb.h); the
 * only copies made are of tensor data that is misaligned or not stored as raw bytes. */
#include "import/onnx.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/file_io.h"
#include "import/onnx_internal.h"
#include "ir/deferred.h"
#include "ir/source_pages.h"

#define ONNX_MIN_OPSET 1
#define ONNX_MAX_OPSET 17

/* --- messages ---------------------------------------------------------------------------- */

static void vset_err(onnx_ctx *c, const char *prefix, const char *fmt, va_list ap) {
  if (!c->err || !c->errlen) return;
  /* Keep the first message: it is the cause; later ones are consequences. */
  if (c->err[0]) return;
  int k = snprintf(c->err, c->errlen, "%s", prefix);
  if (k < 0) k = 0;
  if ((size_t)k < c->errlen) vsnprintf(c->err + k, c->errlen - (size_t)k, fmt, ap);
}

tod_status onnx_fail(onnx_ctx *c, tod_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vset_err(c, "onnx: ", fmt, ap);
  va_end(ap);
  return st;
}

tod_status onnx_unsupported(onnx_ctx *c, const onnx_node *n, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return onnx_fail(c, TOD_NOT_SUPPORT, "%s node '%s' %s: not supported", n->op_type, n->name, msg);
}

tod_status onnx_bad(onnx_ctx *c, const onnx_node *n, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return onnx_fail(c, TOD_GRAPH_FILE_ERR, "%s node '%s' %s", n->op_type, n->name, msg);
}

tod_status onnx_malformed(onnx_ctx *c, const char *what) {
  return onnx_fail(c, TOD_GRAPH_FILE_ERR, "malformed protobuf in %s", what);
}

tod_status onnx_oom(onnx_ctx *c) { return onnx_fail(c, TOD_MEMORY_FAILED, "out of memory"); }

/* Printable copy of a span for messages (truncated, non-printable bytes replaced). */
const char *onnx_show(onnx_str s, char *buf, size_t cap) {
  size_t n = s.n < cap - 1 ? s.n : cap - 1;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s.p[i];
    buf[i] = (ch >= 32 && ch < 127) ? (char)ch : '?';
  }
  buf[n] = 0;
  return buf;
}

char *onnx_span_dup(onnx_str s) {
  char *r = malloc(s.n + 1);
  if (!r) return NULL;
  if (s.n) memcpy(r, s.p, s.n);
  r[s.n] = 0;
  return r;
}

onnx_str onnx_field_str(const pb_field *f) {
  onnx_str s = {(const char *)f->data, f->len};
  return s;
}

int onnx_span_eq(onnx_str s, const char *z) {
  size_t n = strlen(z);
  return s.n == n && (n == 0 || memcmp(s.p, z, n) == 0);
}

/* --- name table -------------------------------------------------------------------------- */

static uint64_t hash_span(const char *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
  return h;
}

static onnx_name_slot *name_find(const onnx_ctx *c, onnx_str s) {
  if (!c->names_cap) return NULL;
  size_t mask = c->names_cap - 1, i = (size_t)hash_span(s.p, s.n) & mask;
  for (;;) {
    onnx_name_slot *e = &c->names[i];
    if (!e->p) return e;
    if (e->n == s.n && memcmp(e->p, s.p, s.n) == 0) return e;
    i = (i + 1) & mask;
  }
}

int onnx_name_get(const onnx_ctx *c, onnx_str s) {
  onnx_name_slot *e = name_find(c, s);
  return e && e->p ? e->idx : -1;
}

tod_status onnx_name_put(onnx_ctx *c, onnx_str s, int idx) {
  if ((c->names_n + 1) * 2 > c->names_cap) {
    size_t cap = c->names_cap ? c->names_cap * 2 : 256;
    onnx_name_slot *old = c->names;
    size_t old_cap = c->names_cap;
    c->names = calloc(cap, sizeof *c->names);
    if (!c->names) {
      c->names = old;
      return onnx_oom(c);
    }
    c->names_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
      if (old[i].p) *name_find(c, (onnx_str){old[i].p, old[i].n}) = old[i];
    free(old);
  }
  /* An empty span still needs a non-NULL key pointer: NULL marks a free slot. */
  if (!s.p) s.p = "";
  onnx_name_slot *e = name_find(c, s);
  if (e->p) {
    char b[128];
    return onnx_fail(c, TOD_GRAPH_FILE_ERR, "value '%s' is defined twice", onnx_show(s, b, sizeof b));
  }
  /* The table keeps its own copy of the name: comparing against names left in the file would
   * touch (and map back in) the source pages around every initializer on every lookup. */
  char *key = malloc(s.n + 1);
  if (!key) return onnx_oom(c);
  memcpy(key, s.p, s.n);
  key[s.n] = 0;
  e->p = key;
  e->n = s.n;
  e->idx = idx;
  c->names_n++;
  return TOD_OK;
}

/* --- ValueInfoProto ---------------------------------------------------------------------- */

typedef struct {
  onnx_str name;
  int dtype; /* IR_DT_UNKNOWN when absent */
  int ndim;  /* -1 when the shape is absent */
  int64_t dims[IR_MAX_DIMS];
} onnx_vinfo;

static tod_status parse_shape(onnx_ctx *c, const pb_reader *parent, const pb_field *sf,
                              onnx_vinfo *v, const char *vname) {
  pb_reader r;
  pb_field f;
  int rc;
  if (pb_sub(parent, sf, &r) != TOD_OK) return onnx_malformed(c, "TensorShapeProto");
  v->ndim = 0;
  while ((rc = pb_next(&r, &f)) == 1) {
    if (f.num != 1) continue;
    pb_reader d;
    pb_field df;
    if (pb_sub(&r, &f, &d) != TOD_OK) return onnx_malformed(c, "TensorShapeProto.Dimension");
    if (v->ndim >= IR_MAX_DIMS)
      return onnx_fail(c, TOD_NOT_SUPPORT, "value '%s' has rank above %d", vname, IR_MAX_DIMS);
    int64_t dim = -1; /* dim_param or nothing: unknown */
    while ((rc = pb_next(&d, &df)) == 1)
      if (df.num == 1 && df.wire == PB_VARINT) {
        if ((int64_t)df.v < 0) return onnx_fail(c, TOD_GRAPH_FILE_ERR, "value '%s' has a negative dimension", vname);
        dim = (int64_t)df.v;
      }
    if (rc < 0) return onnx_malformed(c, "TensorShapeProto.Dimension");
    v->dims[v->ndim++] = dim;
  }
  return rc < 0 ? onnx_malformed(c, "TensorShapeProto") : TOD_OK;
}

static tod_status parse_value_info(onnx_ctx *c, const pb_reader *parent, const pb_field *vf,
                                   onnx_vinfo *v) {
  pb_reader r, tr, tt;
  pb_field f, g, h;
  int rc;
  memset(v, 0, sizeof *v);
  v->ndim = -1;
  if (pb_sub(parent, vf, &r) != TOD_OK) return onnx_malformed(c, "ValueInfoProto");
  pb_reader r0 = r;
  while ((rc = pb_next(&r0, &f)) == 1)
    if (f.num == 1 && f.wire == PB_LEN) v->name = onnx_field_str(&f);
  if (rc < 0) return onnx_malformed(c, "ValueInfoProto");
  char vname[128];
  onnx_show(v->name, vname, sizeof vname);
  while (pb_next(&r, &f) == 1) {
    if (f.num != 2) continue;
    if (pb_sub(&r, &f, &tr) != TOD_OK) return onnx_malformed(c, "TypeProto");
    while ((rc = pb_next(&tr, &g)) == 1) {
      if (g.num == 4 || g.num == 5 || g.num == 8 || g.num == 9)
        return onnx_fail(c, TOD_NOT_SUPPORT, "value '%s' is not a dense tensor: not supported", vname);
      if (g.num != 1) continue;
      if (pb_sub(&tr, &g, &tt) != TOD_OK) return onnx_malformed(c, "TypeProto.Tensor");
      while ((rc = pb_next(&tt, &h)) == 1) {
        if (h.num == 1 && h.wire == PB_VARINT) {
          v->dtype = onnx_dtype_to_ir((int64_t)h.v);
          if (v->dtype == IR_DT_UNKNOWN)
            return onnx_fail(c, TOD_NOT_SUPPORT, "value '%s' has element type %lld: not supported", vname,
                             (long long)h.v);
        } else if (h.num == 2) {
          tod_status st = parse_shape(c, &tt, &h, v, vname);
          if (st != TOD_OK) return st;
        }
      }
      if (rc < 0) return onnx_malformed(c, "TypeProto.Tensor");
    }
    if (rc < 0) return onnx_malformed(c, "TypeProto");
  }
  return TOD_OK;
}

/* --- NodeProto --------------------------------------------------------------------------- */

static void node_free(onnx_node *n) {
  free(n->name);
  free(n->op_type);
  free(n->in_names);
  free(n->out_names);
  free(n->in);
  for (int i = 0; i < n->n_attrs; i++) {
    free(n->attrs[i].ints);
    free(n->attrs[i].floats);
  }
  free(n->attrs);
  memset(n, 0, sizeof *n);
}

static tod_status parse_attr(onnx_ctx *c, const pb_reader *parent, const pb_field *af,
                             onnx_attr *a) {
  pb_reader r;
  pb_field f;
  int rc;
  if (pb_sub(parent, af, &r) != TOD_OK) return onnx_malformed(c, "AttributeProto");
  int64_t ni = 0, nf = 0;
  pb_reader r1 = r;
  while ((rc = pb_next(&r1, &f)) == 1) {
    int64_t k;
    switch (f.num) {
      case 1: if (f.wire != PB_LEN) return onnx_malformed(c, "AttributeProto"); a->name = onnx_field_str(&f); break;
      case 20: if (f.wire != PB_VARINT) return onnx_malformed(c, "AttributeProto"); a->type = (int)(f.v & 0xff); break;
      case 2: if (f.wire != PB_FIXED32) return onnx_malformed(c, "AttributeProto"); a->f = pb_bits_to_float((uint32_t)f.v); a->has_f = 1; break;
      case 3: if (f.wire != PB_VARINT) return onnx_malformed(c, "AttributeProto"); a->i = (int64_t)f.v; a->has_i = 1; break;
      case 4: if (f.wire != PB_LEN) return onnx_malformed(c, "AttributeProto"); a->s = onnx_field_str(&f); a->has_s = 1; break;
      case 5: if (f.wire != PB_LEN) return onnx_malformed(c, "AttributeProto"); a->t = f; a->t_parent = r; a->has_t = 1; break;
      case 7:
        if ((k = onnx_count_elems(&f, 4)) < 0) return onnx_malformed(c, "AttributeProto.floats");
        nf += k;
        break;
      case 8:
        if ((k = onnx_count_elems(&f, 0)) < 0) return onnx_malformed(c, "AttributeProto.ints");
        ni += k;
        break;
      case 6: case 9: case 10: case 11: case 14: case 15: case 22: case 23: a->has_other = 1; break;
      default: break;
    }
  }
  if (rc < 0) return onnx_malformed(c, "AttributeProto");
  if (ni > INT_MAX || nf > INT_MAX) return onnx_malformed(c, "AttributeProto");
  if (ni) {
    uint64_t *tmp = malloc(sizeof(uint64_t) * (size_t)ni);
    if (!tmp) return onnx_oom(c);
    int64_t k = 0;
    pb_reader r2 = r;
    while (pb_next(&r2, &f) == 1)
      if (f.num == 8) onnx_decode_elems(&f, 0, tmp, &k);
    a->ints = (int64_t *)tmp; /* same size and representation */
    a->n_ints = (int)ni;
  }
  if (nf) {
    uint64_t *tmp = malloc(sizeof(uint64_t) * (size_t)nf);
    a->floats = malloc(sizeof(float) * (size_t)nf);
    if (!tmp || !a->floats) {
      free(tmp);
      return onnx_oom(c);
    }
    int64_t k = 0;
    pb_reader r2 = r;
    while (pb_next(&r2, &f) == 1)
      if (f.num == 7) onnx_decode_elems(&f, 4, tmp, &k);
    for (int64_t i = 0; i < nf; i++) a->floats[i] = pb_bits_to_float((uint32_t)tmp[i]);
    free(tmp);
    a->n_floats = (int)nf;
  }
  /* Files from old exporters omit `type`: infer it from the one value field present. */
  if (!a->type) {
    if (a->has_t) a->type = ONNX_ATTR_TENSOR;
    else if (a->n_ints) a->type = ONNX_ATTR_INTS;
    else if (a->n_floats) a->type = ONNX_ATTR_FLOATS;
    else if (a->has_s) a->type = ONNX_ATTR_STRING;
    else if (a->has_f) a->type = ONNX_ATTR_FLOAT;
    else if (a->has_i) a->type = ONNX_ATTR_INT;
  }
  return TOD_OK;
}

static tod_status parse_node(onnx_ctx *c, const pb_reader *parent, const pb_field *nf, int index,
                             onnx_node *n) {
  pb_reader r;
  pb_field f;
  int rc;
  memset(n, 0, sizeof *n);
  if (pb_sub(parent, nf, &r) != TOD_OK) return onnx_malformed(c, "NodeProto");
  int64_t ni = 0, no = 0, na = 0;
  onnx_str name = {0}, op = {0};
  pb_reader r1 = r;
  while ((rc = pb_next(&r1, &f)) == 1) {
    if (f.num == 1 || f.num == 2 || f.num == 3 || f.num == 4 || f.num == 5 || f.num == 7) {
      if (f.wire != PB_LEN) return onnx_malformed(c, "NodeProto");
    }
    switch (f.num) {
      case 1: ni++; break;
      case 2: no++; break;
      case 3: name = onnx_field_str(&f); break;
      case 4: op = onnx_field_str(&f); break;
      case 5: na++; break;
      case 7: n->domain = onnx_field_str(&f); break;
      default: break;
    }
  }
  if (rc < 0) return onnx_malformed(c, "NodeProto");
  if (ni > INT_MAX / 2 || no > INT_MAX / 2 || na > INT_MAX / 2) return onnx_malformed(c, "NodeProto");
  /* Names are used in messages and IR; embedded NULs would truncate them silently. */
  if (memchr(op.p ? op.p : "", 0, op.n) || memchr(name.p ? name.p : "", 0, name.n))
    return onnx_fail(c, TOD_GRAPH_FILE_ERR, "node %d has a NUL byte in its name or op_type", index);
  n->op_type = onnx_span_dup(op);
  if (!n->op_type) return onnx_oom(c);
  if (name.n) {
    n->name = onnx_span_dup(name);
  } else {
    size_t len = op.n + 24;
    n->name = malloc(len);
    if (n->name) snprintf(n->name, len, "%s_%d", n->op_type, index);
  }
  if (!n->name) return onnx_oom(c);
  if (!op.n) return onnx_fail(c, TOD_GRAPH_FILE_ERR, "node '%s' has no op_type", n->name);
  n->in_names = malloc(sizeof(onnx_str) * (size_t)(ni + 1));
  n->in = malloc(sizeof(int) * (size_t)(ni + 1));
  n->out_names = calloc((size_t)(no + 1), sizeof(onnx_str)); /* out_names[0] is empty when no == 0 */
  n->attrs = calloc((size_t)(na + 1), sizeof(onnx_attr));
  if (!n->in_names || !n->in || !n->out_names || !n->attrs) return onnx_oom(c);
  pb_reader r2 = r;
  while (pb_next(&r2, &f) == 1) {
    if (f.num == 1) n->in_names[n->n_in++] = onnx_field_str(&f);
    else if (f.num == 2) n->out_names[n->n_out++] = onnx_field_str(&f);
    else if (f.num == 5) {
      tod_status st = parse_attr(c, &r2, &f, &n->attrs[n->n_attrs++]);
      if (st != TOD_OK) return st;
    }
  }
  return TOD_OK;
}

const onnx_attr *onnx_attr_get(const onnx_node *n, const char *key) {
  /* Later duplicates win, as protobuf merging would not apply to repeated fields anyway. */
  for (int i = n->n_attrs - 1; i >= 0; i--)
    if (onnx_span_eq(n->attrs[i].name, key)) return &n->attrs[i];
  return NULL;
}

int64_t onnx_attr_i(const onnx_node *n, const char *key, int64_t dflt) {
  const onnx_attr *a = onnx_attr_get(n, key);
  return a && a->has_i ? a->i : dflt;
}

float onnx_attr_f(const onnx_node *n, const char *key, float dflt) {
  const onnx_attr *a = onnx_attr_get(n, key);
  if (!a) return dflt;
  if (a->has_f) return a->f;
  return a->has_i ? (float)a->i : dflt;
}

int onnx_attr_ints(const onnx_node *n, const char *key, const int64_t **v) {
  const onnx_attr *a = onnx_attr_get(n, key);
  *v = a ? a->ints : NULL;
  return a ? a->n_ints : -1;
}

int onnx_attr_floats(const onnx_node *n, const char *key, const float **v) {
  const onnx_attr *a = onnx_attr_get(n, key);
  *v = a ? a->floats : NULL;
  return a ? a->n_floats : -1;
}

int onnx_attr_s_is(const onnx_node *n, const char *key, const char *s, int dflt_match) {
  const onnx_attr *a = onnx_attr_get(n, key);
  if (!a || !a->has_s) return dflt_match;
  return onnx_span_eq(a->s, s);
}

void onnx_attr_s(const onnx_node *n, const char *key, char *buf, size_t cap) {
  const onnx_attr *a = onnx_attr_get(n, key);
  onnx_str s = {"", 0};
  if (a && a->has_s) s = a->s;
  onnx_show(s, buf, cap);
}

/* --- outputs of nodes -------------------------------------------------------------------- */

/* value_info entries by name, consulted when a node output is created. */
typedef struct {
  onnx_vinfo *v;
  int n;
  onnx_name_slot *map;
  size_t cap;
} vinfo_table;

/* The importer's whole state. ctx comes first so that the operator translators, which only see
 * an onnx_ctx, can be handed &state->c and vinfo_find can get back to the table. */
typedef struct {
  onnx_ctx c;
  vinfo_table vi;
} import_state;

static const onnx_vinfo *vinfo_find(const onnx_ctx *c, onnx_str s) {
  const vinfo_table *t = &((const import_state *)(const void *)c)->vi;
  if (!t->cap) return NULL;
  size_t mask = t->cap - 1, i = (size_t)hash_span(s.p, s.n) & mask;
  for (;;) {
    const onnx_name_slot *e = &t->map[i];
    if (!e->p) return NULL;
    if (e->n == s.n && memcmp(e->p, s.p, s.n) == 0) return &t->v[e->idx];
    i = (i + 1) & mask;
  }
}

static void apply_vinfo(ir_tensor *t, const onnx_vinfo *v) {
  if (v->dtype != IR_DT_UNKNOWN) t->dtype = v->dtype;
  if (v->ndim >= 0 && t->ndim < 0) ir_tensor_set_shape(t, v->ndim, v->dims);
}

tod_status onnx_out(onnx_ctx *c, const onnx_node *n, int k, int *idx) {
  if (k < 0 || k >= n->n_out) return onnx_bad(c, n, "lacks output %d", k);
  if (!n->out_names[k].n) {
    /* An unused optional output still needs a tensor in the IR node. */
    char suffix[32];
    snprintf(suffix, sizeof suffix, "out%d", k);
    return onnx_tmp(c, n, suffix, idx);
  }
  char *name = onnx_span_dup(n->out_names[k]);
  if (!name) return onnx_oom(c);
  if (strlen(name) != n->out_names[k].n) {
    free(name);
    return onnx_bad(c, n, "has a NUL byte in an output name");
  }
  tod_status st = onnx_new_tensor(c, name, idx);
  free(name);
  if (st != TOD_OK) return st;
  if ((st = onnx_name_put(c, n->out_names[k], *idx)) != TOD_OK) return st;
  const onnx_vinfo *v = vinfo_find(c, n->out_names[k]);
  if (v) apply_vinfo(&c->g->tensors[*idx], v);
  return TOD_OK;
}

/* --- Constant / Identity / Dropout -------------------------------------------------------- */

static tod_status import_constant(onnx_ctx *c, onnx_node *n) {
  if (n->n_out < 1 || !n->out_names[0].n) return onnx_bad(c, n, "has no output");
  onnx_const k;
  memset(&k, 0, sizeof k);
  const onnx_attr *a;
  tod_status st;
  if ((a = onnx_attr_get(n, "value")) && a->has_t) {
    if ((st = onnx_decode_tensor(c, &a->t_parent, &a->t, &k)) != TOD_OK) return st;
  } else if ((a = onnx_attr_get(n, "value_float")) || (a = onnx_attr_get(n, "value_floats")) ||
             (a = onnx_attr_get(n, "value_int")) || (a = onnx_attr_get(n, "value_ints"))) {
    int is_float = onnx_span_eq(a->name, "value_float") || onnx_span_eq(a->name, "value_floats");
    int is_list = onnx_span_eq(a->name, "value_floats") || onnx_span_eq(a->name, "value_ints");
    int count = is_list ? (is_float ? a->n_floats : a->n_ints) : 1;
    k.dtype = is_float ? IR_DT_FLOAT32 : IR_DT_INT64;
    k.ndim = is_list ? 1 : 0;
    k.dims[0] = count;
    k.nbytes = (size_t)count * (is_float ? 4 : 8);
    k.owned = malloc(k.nbytes ? k.nbytes : 1);
    if (!k.owned) return onnx_oom(c);
    if (is_float) {
      float f = onnx_attr_f(n, "value_float", 0.f);
      memcpy(k.owned, is_list ? a->floats : &f, k.nbytes);
    } else {
      int64_t i = a->i;
      if (k.nbytes) memcpy(k.owned, is_list ? a->ints : &i, k.nbytes);
    }
    k.data = k.owned;
  } else {
    return onnx_unsupported(c, n, "without value/value_float(s)/value_int(s)");
  }
  char *name = onnx_span_dup(n->out_names[0]);
  if (!name) {
    onnx_const_free(&k);
    return onnx_oom(c);
  }
  int idx;
  st = onnx_add_const(c, name, &k, &idx);
  free(name);
  if (st != TOD_OK) return st;
  return onnx_name_put(c, n->out_names[0], idx);
}

static tod_status import_passthrough(onnx_ctx *c, onnx_node *n) {
  if (n->n_in < 1 || n->in[0] < 0) return onnx_bad(c, n, "has no input");
  if (n->n_out < 1 || !n->out_names[0].n) return onnx_bad(c, n, "has no output");
  if (n->n_out > 1 && n->out_names[1].n) return onnx_unsupported(c, n, "with a mask output");
  if (strcmp(n->op_type, "Dropout") == 0 && n->n_in > 2 && n->in[2] >= 0) {
    double training;
    if (!onnx_const_scalar(c, n->in[2], &training) || training != 0)
      return onnx_unsupported(c, n, "in training mode");
  }
  /* Consumers read the input directly; graph outputs are fixed up in resolve_outputs. */
  return onnx_name_put(c, n->out_names[0], n->in[0]);
}

/* --- graph ------------------------------------------------------------------------------- */

/* Makes every graph output a tensor carrying the output's name. An output that is an alias
 * (Identity/Dropout removed) renames its source tensor when that is a node result not already
 * exposed under its own name; otherwise it gets a copy (constant) or a single-input Concat. */
static tod_status resolve_outputs(onnx_ctx *c, const onnx_vinfo *outs, int n_outs) {
  ir_graph *g = c->g;
  char *claimed = calloc((size_t)(g->n_tensors ? g->n_tensors : 1), 1);
  if (!claimed) return onnx_oom(c);
  tod_status st = TOD_OK;
  char b[128];
  for (int i = 0; i < n_outs; i++) {
    int t = onnx_name_get(c, outs[i].name);
    if (t < 0) {
      st = onnx_fail(c, TOD_GRAPH_FILE_ERR, "graph output '%s' is not produced by any node",
                     onnx_show(outs[i].name, b, sizeof b));
      goto out;
    }
    if (onnx_span_eq(outs[i].name, g->tensors[t].name)) claimed[t] = 1;
  }
  for (int i = 0; i < n_outs; i++) {
    int t = onnx_name_get(c, outs[i].name);
    if (!onnx_span_eq(outs[i].name, g->tensors[t].name)) {
      char *name = onnx_span_dup(outs[i].name);
      if (!name) {
        st = onnx_oom(c);
        goto out;
      }
      if (!claimed[t] && g->tensors[t].kind == IR_TENSOR_ACT && ir_producer(g, t) >= 0) {
        free(g->tensors[t].name);
        g->tensors[t].name = name;
        claimed[t] = 1;
      } else {
        int src = t;
        st = onnx_new_tensor(c, name, &t);
        if (st == TOD_OK && g->tensors[src].kind == IR_TENSOR_CONST) {
          ir_tensor *d = &g->tensors[t];
          const ir_tensor *s = &g->tensors[src];
          d->dtype = s->dtype;
          ir_tensor_set_shape(d, s->ndim, s->dims);
          if (ir_tensor_set_data_copy(d, s->data, s->nbytes) != TOD_OK) st = onnx_oom(c);
        } else if (st == TOD_OK) {
          ir_node *node = NULL;
          g->tensors[t].dtype = g->tensors[src].dtype;
          st = onnx_emit(c, IR_OP_Concat, name, &src, 1, &t, 1, &node);
          if (st == TOD_OK && ir_attr_set_int(node, "axis", 0) != TOD_OK) st = onnx_oom(c);
        }
        free(name);
        if (st != TOD_OK) goto out;
      }
    }
    apply_vinfo(&g->tensors[t], &outs[i]);
    if (ir_add_output(g, t) != TOD_OK) {
      st = onnx_oom(c);
      goto out;
    }
  }
out:
  free(claimed);
  return st;
}

static tod_status import_node(onnx_ctx *c, onnx_node *n) {
  char b[128];
  if (n->domain.n && !onnx_span_eq(n->domain, "ai.onnx"))
    return onnx_fail(c, TOD_NOT_SUPPORT, "%s node '%s' is in domain '%s': not supported", n->op_type,
                     n->name, onnx_show(n->domain, b, sizeof b));
  for (int i = 0; i < n->n_in; i++) {
    n->in[i] = -1;
    if (!n->in_names[i].n) continue; /* absent optional input */
    n->in[i] = onnx_name_get(c, n->in_names[i]);
    if (n->in[i] < 0)
      return onnx_fail(c, TOD_GRAPH_FILE_ERR, "%s node '%s' reads '%s', which no earlier node, input or "
                       "initializer defines", n->op_type, n->name, onnx_show(n->in_names[i], b, sizeof b));
  }
  /* Every ONNX operator has an output; translators name out_names[0] without asking. */
  if (n->n_out < 1) return onnx_fail(c, TOD_GRAPH_FILE_ERR, "%s node '%s' has no outputs", n->op_type, n->name);
  if (strcmp(n->op_type, "Constant") == 0) return import_constant(c, n);
  tod_status more = onnx_translate_dyn(c, n);
  if (more == TOD_NOT_FIND_OP) more = onnx_translate_nn(c, n);
  if (more != TOD_NOT_FIND_OP) return more;
  if (strcmp(n->op_type, "Identity") == 0 || strcmp(n->op_type, "Dropout") == 0)
    return import_passthrough(c, n);
  return onnx_translate_node(c, n);
}

/* Collected field positions of a GraphProto, in file order. */
typedef struct {
  pb_field *f;
  int n;
} field_list;

static tod_status collect(onnx_ctx *c, const pb_reader *gr, uint32_t num, field_list *l) {
  pb_reader r = *gr;
  pb_field f;
  int rc, n = 0;
  while ((rc = pb_next(&r, &f)) == 1)
    if (f.num == num) {
      if (f.wire != PB_LEN) return onnx_malformed(c, "GraphProto");
      if (n == INT_MAX) return onnx_malformed(c, "GraphProto");
      n++;
    }
  if (rc < 0) return onnx_malformed(c, "GraphProto");
  l->f = malloc(sizeof(pb_field) * (size_t)(n ? n : 1));
  if (!l->f) return onnx_oom(c);
  l->n = 0;
  r = *gr;
  while (pb_next(&r, &f) == 1)
    if (f.num == num) l->f[l->n++] = f;
  return TOD_OK;
}

static tod_status parse_graph(import_state *s, const pb_reader *mr, const pb_field *gf) {
  onnx_ctx *c = &s->c;
  ir_graph *g = c->g;
  pb_reader gr;
  pb_field f;
  int rc;
  char b[128];
  if (pb_sub(mr, gf, &gr) != TOD_OK) return onnx_malformed(c, "GraphProto");
  field_list nodes = {0}, inits = {0}, ins = {0}, outs = {0}, vis = {0};
  onnx_vinfo *out_vi = NULL;
  tod_status st = TOD_OK;
  pb_reader r = gr;
  while ((rc = pb_next(&r, &f)) == 1) {
    if (f.num == 15) return onnx_fail(c, TOD_NOT_SUPPORT, "sparse initializers are not supported");
    if (f.num == 2 && f.wire == PB_LEN && !g->name) {
      g->name = onnx_span_dup(onnx_field_str(&f));
      if (!g->name) return onnx_oom(c);
    }
  }
  if (rc < 0) return onnx_malformed(c, "GraphProto");
  if ((st = collect(c, &gr, 1, &nodes)) != TOD_OK || (st = collect(c, &gr, 5, &inits)) != TOD_OK ||
      (st = collect(c, &gr, 11, &ins)) != TOD_OK || (st = collect(c, &gr, 12, &outs)) != TOD_OK ||
      (st = collect(c, &gr, 13, &vis)) != TOD_OK)
    goto out;
  /* Those scans touched every field's tag, and a touch maps a whole page-cache folio (up to
   * 2 MiB): a converter's source mapping gives all of it back (re-read from the file when a
   * borrowed weight is used). */
  ir_source_release(gr.p, (size_t)(gr.end - gr.p));

  /* value_info by name, for node outputs. */
  s->vi.v = calloc((size_t)(vis.n ? vis.n : 1), sizeof(onnx_vinfo));
  s->vi.cap = 16;
  while (s->vi.cap < (size_t)vis.n * 2 + 2) s->vi.cap *= 2;
  s->vi.map = calloc(s->vi.cap, sizeof(onnx_name_slot));
  if (!s->vi.v || !s->vi.map) {
    st = onnx_oom(c);
    goto out;
  }
  for (int i = 0; i < vis.n; i++) {
    onnx_vinfo *v = &s->vi.v[s->vi.n];
    if ((st = parse_value_info(c, &gr, &vis.f[i], v)) != TOD_OK) goto out;
    if (!v->name.n || vinfo_find(c, v->name)) continue; /* unnamed or repeated: first wins */
    size_t mask = s->vi.cap - 1, j = (size_t)hash_span(v->name.p, v->name.n) & mask;
    while (s->vi.map[j].p) j = (j + 1) & mask;
    s->vi.map[j] = (onnx_name_slot){v->name.p, v->name.n, s->vi.n++};
  }

  /* Initializers are constants under their names. Decoding one reads its header and the name
   * table compares names that live in the file: each touch maps a whole folio around it. The
   * source mapping gives everything back every few MB decoded, so it is never resident whole. */
  size_t since_release = 0;
  for (int i = 0; i < inits.n; i++) {
    onnx_const k;
    if ((st = onnx_decode_tensor(c, &gr, &inits.f[i], &k)) != TOD_OK) goto out;
    since_release += inits.f[i].len;
    if (since_release >= 4 * IR_SOURCE_RELEASE_STEP) {
      ir_source_release(gr.p, (size_t)(gr.end - gr.p));
      since_release = 0;
    }
    if (!k.name.n) {
      onnx_const_free(&k);
      st = onnx_fail(c, TOD_GRAPH_FILE_ERR, "initializer %d has no name", i);
      goto out;
    }
    char *name = onnx_span_dup(k.name);
    if (!name) {
      onnx_const_free(&k);
      st = onnx_oom(c);
      goto out;
    }
    int idx;
    st = onnx_add_const(c, name, &k, &idx);
    free(name);
    if (st != TOD_OK || (st = onnx_name_put(c, k.name, idx)) != TOD_OK) goto out;
  }

  /* Inputs that are not initializers are fed by the user. */
  for (int i = 0; i < ins.n; i++) {
    onnx_vinfo v;
    if ((st = parse_value_info(c, &gr, &ins.f[i], &v)) != TOD_OK) goto out;
    if (!v.name.n) {
      st = onnx_fail(c, TOD_GRAPH_FILE_ERR, "graph input %d has no name", i);
      goto out;
    }
    if (onnx_name_get(c, v.name) >= 0) {
      int t = onnx_name_get(c, v.name);
      if (g->tensors[t].kind == IR_TENSOR_CONST) continue;
      st = onnx_fail(c, TOD_GRAPH_FILE_ERR, "graph input '%s' is listed twice", onnx_show(v.name, b, sizeof b));
      goto out;
    }
    char *name = onnx_span_dup(v.name);
    if (!name) {
      st = onnx_oom(c);
      goto out;
    }
    int idx;
    st = onnx_new_tensor(c, name, &idx);
    free(name);
    if (st != TOD_OK) goto out;
    ir_tensor *t = &g->tensors[idx];
    t->kind = IR_TENSOR_INPUT;
    t->dtype = v.dtype != IR_DT_UNKNOWN ? v.dtype : IR_DT_FLOAT32;
    if (v.ndim >= 0) ir_tensor_set_shape(t, v.ndim, v.dims);
    if ((st = onnx_name_put(c, v.name, idx)) != TOD_OK) goto out;
    if (ir_add_input(g, idx) != TOD_OK) {
      st = onnx_oom(c);
      goto out;
    }
  }

  ir_source_release(gr.p, (size_t)(gr.end - gr.p));
  for (int i = 0; i < nodes.n; i++) {
    onnx_node n;
    st = parse_node(c, &gr, &nodes.f[i], i, &n);
    if (st == TOD_OK) st = import_node(c, &n);
    node_free(&n);
    if (st != TOD_OK) goto out;
  }

  out_vi = calloc((size_t)(outs.n ? outs.n : 1), sizeof *out_vi);
  if (!out_vi) {
    st = onnx_oom(c);
    goto out;
  }
  for (int i = 0; i < outs.n; i++)
    if ((st = parse_value_info(c, &gr, &outs.f[i], &out_vi[i])) != TOD_OK) goto out;
  if (!outs.n) {
    st = onnx_fail(c, TOD_GRAPH_FILE_ERR, "the graph has no outputs");
    goto out;
  }
  st = resolve_outputs(c, out_vi, outs.n);
out:
  free(out_vi);
  free(nodes.f);
  free(inits.f);
  free(ins.f);
  free(outs.f);
  free(vis.f);
  return st;
}

static tod_status parse_model(import_state *s) {
  onnx_ctx *c = &s->c;
  pb_reader r;
  pb_field f, graph = {0};
  int rc, has_graph = 0, has_opset = 0;
  pb_reader_init(&r, c->data, c->size);
  if (!c->size) return onnx_fail(c, TOD_GRAPH_FILE_ERR, "the model file is empty");
  while ((rc = pb_next(&r, &f)) == 1) {
    if (f.num == 7) {
      if (f.wire != PB_LEN) return onnx_malformed(c, "ModelProto");
      graph = f;
      has_graph = 1;
    } else if (f.num == 8) {
      pb_reader o;
      pb_field of;
      onnx_str domain = {0};
      int64_t version = -1;
      if (pb_sub(&r, &f, &o) != TOD_OK) return onnx_malformed(c, "OperatorSetIdProto");
      while ((rc = pb_next(&o, &of)) == 1) {
        if (of.num == 1 && of.wire == PB_LEN) domain = onnx_field_str(&of);
        if (of.num == 2 && of.wire == PB_VARINT) version = (int64_t)of.v;
      }
      if (rc < 0) return onnx_malformed(c, "OperatorSetIdProto");
      if (!domain.n || onnx_span_eq(domain, "ai.onnx")) {
        c->opset = version;
        has_opset = 1;
      }
    } else if ((f.num == 1 || f.num == 5) && f.wire != PB_VARINT) {
      return onnx_malformed(c, "ModelProto");
    } else if ((f.num == 2 || f.num == 3 || f.num == 4 || f.num == 6) && f.wire != PB_LEN) {
      return onnx_malformed(c, "ModelProto");
    }
  }
  if (rc < 0) return onnx_malformed(c, "ModelProto");
  if (!has_graph) return onnx_fail(c, TOD_GRAPH_FILE_ERR, "not an ONNX model: no graph");
  if (!has_opset) return onnx_fail(c, TOD_GRAPH_FILE_ERR, "not an ONNX model: no default-domain opset_import");
  if (c->opset < ONNX_MIN_OPSET || c->opset > ONNX_MAX_OPSET)
    return onnx_fail(c, TOD_NOT_SUPPORT, "opset %lld is not supported (%d..%d are)", (long long)c->opset,
                     ONNX_MIN_OPSET, ONNX_MAX_OPSET);
  return parse_graph(s, &r, &graph);
}

/* Deferred mode: the unaligned borrowed initializers are deferred or copied now, so that the
 * graph holds no unaligned data pointer once the import returns. One stays deferred when it is a
 * large float constant read only as the weight input of convolutions and matrix products (the
 * layout pass relays out the former; passes that read either's values settle it first) and is
 * not a graph output; the others are copied, as onnx_import does. */
static tod_status settle_unaligned(onnx_ctx *c) {
  ir_graph *g = c->g;
  signed char *keep = malloc((size_t)(g->n_tensors ? g->n_tensors : 1));
  if (!keep) return onnx_oom(c);
  for (int t = 0; t < g->n_tensors; t++) {
    const ir_tensor *x = &g->tensors[t];
    keep[t] = x->dtype == IR_DT_FLOAT32 && x->nbytes >= ONNX_DEFER_MIN;
  }
  for (int i = 0; i < g->n_outputs; i++)
    if (g->outputs[i] >= 0 && g->outputs[i] < g->n_tensors) keep[g->outputs[i]] = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    const ir_node *n = &g->nodes[i];
    const int weight_op = n->op == IR_OP_Conv2DFusion || n->op == IR_OP_Conv2dTransposeFusion ||
                          n->op == IR_OP_MatMulFusion;
    for (int j = 0; j < n->n_in; j++)
      if (n->in[j] >= 0 && n->in[j] < g->n_tensors && (!weight_op || j != 1)) keep[n->in[j]] = 0;
  }
  tod_status st = TOD_OK;
  for (int t = 0; t < g->n_tensors && st == TOD_OK; t++) {
    ir_tensor *x = &g->tensors[t];
    const size_t esz = ir_dtype_size(x->dtype);
    if (x->owned || x->src || !x->data || !esz || (uintptr_t)x->data % esz == 0) continue;
    ir_tensor_defer(x, x->data, IR_SRC_BYTES);
    if (!keep[t] && ir_tensor_settle(x) != TOD_OK) st = onnx_oom(c);
  }
  free(keep);
  return st;
}

static tod_status import_impl(const uint8_t *data, size_t size, const char *model_dir, int defer,
                              ir_graph *g, char *err, size_t errlen);

tod_status onnx_import(const uint8_t *data, size_t size, const char *model_dir, ir_graph *g,
                       char *err, size_t errlen) {
  return import_impl(data, size, model_dir, 0, g, err, errlen);
}

tod_status onnx_import_deferred(const uint8_t *data, size_t size, const char *model_dir, ir_graph *g,
                                char *err, size_t errlen) {
  return import_impl(data, size, model_dir, 1, g, err, errlen);
}

static tod_status import_impl(const uint8_t *data, size_t size, const char *model_dir, int defer,
                              ir_graph *g, char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (!g) return TOD_NULL_PTR;
  ir_graph_init(g);
  if (!data && size) {
    if (err && errlen) snprintf(err, errlen, "onnx: no data");
    return TOD_NULL_PTR;
  }
  import_state s;
  memset(&s, 0, sizeof s);
  s.c.g = g;
  s.c.data = data;
  s.c.size = size;
  s.c.model_dir = model_dir;
  s.c.err = err;
  s.c.errlen = err ? errlen : 0;
  s.c.defer = defer;
  g->fmk_type = 2;
  tod_status st = parse_model(&s);
  if (defer) { /* also on failure: the caller may still look at the graph */
    tod_status st2 = settle_unaligned(&s.c);
    if (st == TOD_OK) st = st2;
  }
  if (st == TOD_OK) {
    st = ir_validate(g, err, errlen);
  }
  for (size_t i = 0; i < s.c.names_cap; i++) free((char *)s.c.names[i].p);
  free(s.c.names);
  free(s.vi.v);
  free(s.vi.map);
  return st;
}
