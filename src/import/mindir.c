/* MINDIR importer: ModelProto / GraphProto / NodeProto / AttributeProto / TensorProto parsing,
 * the scoped value table, Constant values, tuple and side-effect plumbing, graph calls (inlined)
 * and the training / inference split. Primitive translation is in mindir_ops.c.
 *
 * Conventions followed are those of ../shared/formats/mindir.md. Everything is read straight
 * from the serialized bytes with the wire reader (proto/pb.h). */
#include "import/mindir.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/mindir_internal.h"

struct mslot {
  const char *p;
  size_t n;
  int scope;
  mval v;
};

/* --- messages ---------------------------------------------------------------------------- */

static void vset(mctx *c, const char *fmt, va_list ap) {
  if (!c->err || !c->errlen || c->err[0]) return;
  int k = snprintf(c->err, c->errlen, "mindir: ");
  if (k > 0 && (size_t)k < c->errlen) vsnprintf(c->err + k, c->errlen - (size_t)k, fmt, ap);
}

tod_status ms_fail(mctx *c, tod_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vset(c, fmt, ap);
  va_end(ap);
  return st;
}

tod_status ms_oom(mctx *c) { return ms_fail(c, TOD_MEMORY_FAILED, "out of memory"); }

static tod_status malformed(mctx *c, const char *what) {
  return ms_fail(c, TOD_GRAPH_FILE_ERR, "malformed protobuf in %s", what);
}

static const char *show(ms_str s, char *buf, size_t cap) {
  size_t n = s.n < cap - 1 ? s.n : cap - 1;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s.p[i];
    buf[i] = (ch >= 32 && ch < 127) ? (char)ch : '?';
  }
  buf[n] = 0;
  return buf;
}

tod_status ms_unsupported(mctx *c, const mnode *n, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return ms_fail(c, TOD_NOT_SUPPORT, "%s node '%s' %s: not supported", n->prim, n->irname ? n->irname : "?", msg);
}

tod_status ms_bad(mctx *c, const mnode *n, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return ms_fail(c, TOD_GRAPH_FILE_ERR, "%s node '%s' %s", n->prim, n->irname ? n->irname : "?", msg);
}

static ms_str fstr(const pb_field *f) {
  ms_str s = {(const char *)f->data, f->len};
  return s;
}

static int span_eq(ms_str s, const char *z) {
  size_t n = strlen(z);
  return s.n == n && (n == 0 || memcmp(s.p, z, n) == 0);
}

static int span_starts(ms_str s, const char *z) {
  size_t n = strlen(z);
  return s.n >= n && memcmp(s.p, z, n) == 0;
}

static char *span_dup(ms_str s) {
  char *r = malloc(s.n + 1);
  if (!r) return NULL;
  if (s.n) memcpy(r, s.p, s.n);
  r[s.n] = 0;
  return r;
}

mval *ms_vals(mctx *c, int n) {
  if (c->n_arena == c->cap_arena) {
    int cap = c->cap_arena ? c->cap_arena * 2 : 64;
    void **a = realloc(c->arena, sizeof(void *) * (size_t)cap);
    if (!a) return NULL;
    c->arena = a;
    c->cap_arena = cap;
  }
  mval *v = calloc((size_t)(n > 0 ? n : 1), sizeof(mval));
  if (v) c->arena[c->n_arena++] = v;
  return v;
}

/* --- value table (scoped) ------------------------------------------------------------------ */

static uint64_t hash_key(const char *p, size_t n, int scope) {
  uint64_t h = 1469598103934665603ull ^ (uint64_t)(unsigned)scope;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
  return h;
}

static mslot *slot_find(const mctx *c, ms_str s, int scope) {
  if (!c->tab_cap) return NULL;
  size_t mask = c->tab_cap - 1, i = (size_t)hash_key(s.p, s.n, scope) & mask;
  for (;;) {
    mslot *e = &c->tab[i];
    if (!e->p) return e;
    if (e->scope == scope && e->n == s.n && (s.n == 0 || memcmp(e->p, s.p, s.n) == 0)) return e;
    i = (i + 1) & mask;
  }
}

static tod_status name_put(mctx *c, ms_str s, int scope, mval v) {
  if ((c->tab_n + 1) * 2 > c->tab_cap) {
    size_t cap = c->tab_cap ? c->tab_cap * 2 : 256, old_cap = c->tab_cap;
    mslot *old = c->tab;
    c->tab = calloc(cap, sizeof *c->tab);
    if (!c->tab) {
      c->tab = old;
      return ms_oom(c);
    }
    c->tab_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
      if (old[i].p) *slot_find(c, (ms_str){old[i].p, old[i].n}, old[i].scope) = old[i];
    free(old);
  }
  if (!s.p) s.p = "";
  mslot *e = slot_find(c, s, scope);
  if (e->p) {
    char b[128];
    return ms_fail(c, TOD_GRAPH_FILE_ERR, "value '%s' is defined twice", show(s, b, sizeof b));
  }
  e->p = s.p;
  e->n = s.n;
  e->scope = scope;
  e->v = v;
  c->tab_n++;
  return TOD_OK;
}

/* Looks a name up in scope and its callers. */
static const mval *name_get(const mctx *c, ms_str s, int scope) {
  if (!s.p) s.p = "";
  for (int k = 0; scope >= 0 && k <= MS_MAX_CALL_DEPTH + 1; k++) {
    mslot *e = slot_find(c, s, scope);
    if (e && e->p) return &e->v;
    scope = c->scope_parent[scope];
  }
  return NULL;
}

static tod_status new_scope(mctx *c, int parent, int *scope) {
  if (c->n_scopes == c->cap_scopes) {
    int cap = c->cap_scopes ? c->cap_scopes * 2 : 16;
    int *p = realloc(c->scope_parent, sizeof(int) * (size_t)cap);
    if (!p) return ms_oom(c);
    c->scope_parent = p;
    c->cap_scopes = cap;
  }
  c->scope_parent[c->n_scopes] = parent;
  *scope = c->n_scopes++;
  return TOD_OK;
}

/* --- IR node names (unique) ---------------------------------------------------------------- */

static char **irn_find(mctx *c, const char *s) {
  size_t mask = c->irn_cap - 1, i = (size_t)hash_key(s, strlen(s), 0) & mask;
  while (c->irnames[i] && strcmp(c->irnames[i], s) != 0) i = (i + 1) & mask;
  return &c->irnames[i];
}

/* Claims a unique IR name based on base (owned result). */
static char *claim_name(mctx *c, const char *base) {
  if ((c->irn_n + 1) * 2 > c->irn_cap) {
    size_t cap = c->irn_cap ? c->irn_cap * 2 : 256, old_cap = c->irn_cap;
    char **old = c->irnames;
    c->irnames = calloc(cap, sizeof(char *));
    if (!c->irnames) {
      c->irnames = old;
      return NULL;
    }
    c->irn_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
      if (old[i]) *irn_find(c, old[i]) = old[i];
    free(old);
  }
  size_t len = strlen(base) + 24;
  char *s = malloc(len);
  if (!s) return NULL;
  snprintf(s, len, "%s", base);
  for (int k = 1; *irn_find(c, s); k++) snprintf(s, len, "%s_%d", base, k);
  char *own = strdup(s);
  if (!own) {
    free(s);
    return NULL;
  }
  *irn_find(c, own) = own;
  c->irn_n++;
  return s;
}

/* --- helpers for mindir_ops.c ---------------------------------------------------------------- */

int ms_rank(mctx *c, int t) { return t >= 0 && t < c->g->n_tensors ? c->g->tensors[t].ndim : -1; }

tod_status ms_in(mctx *c, const mnode *n, int k, int *t) {
  if (k >= n->n_args || n->args[k].kind != MV_TENSOR) return ms_bad(c, n, "input %d is not a tensor", k);
  *t = n->args[k].t;
  return TOD_OK;
}

int ms_n_data_in(const mnode *n) {
  int k = n->n_args;
  while (k > 0 && (n->args[k - 1].kind == MV_MONAD || n->args[k - 1].kind == MV_NONE)) k--;
  return k;
}

/* The abstract (shape attribute) of output element k: dims/dtype into t when present. */
static void apply_shape(mctx *c, const mnode *n, int k, ir_tensor *t) {
  const mattr *a = NULL;
  for (int i = 0; i < n->n_attrs; i++)
    if (span_eq(n->attrs[i].name, "shape") || (!n->attrs[i].name.n && span_starts(n->attrs[i].ref, "shape:")))
      a = &n->attrs[i];
  if (!a) return;
  const pb_field *tf = NULL;
  const pb_reader *par = &a->parent;
  if (a->n_values) {
    if (k < a->n_values && a->values[k].n_tensors) tf = &a->values[k].tensors[0], par = &a->values[k].parent;
  } else if (k < a->n_tensors) {
    tf = &a->tensors[k];
  }
  if (!tf) return;
  pb_reader r;
  pb_field f;
  if (pb_sub(par, tf, &r) != TOD_OK) return;
  int nd = 0, dt = 0;
  int64_t dims[IR_MAX_DIMS];
  while (pb_next(&r, &f) == 1) {
    if (f.num == 1) {
      uint64_t tmp[IR_MAX_DIMS];
      int64_t m = 0;
      int64_t cnt = ms_count_elems(&f, 0);
      if (cnt < 0 || nd + cnt > IR_MAX_DIMS) return;
      ms_decode_elems(&f, 0, tmp, &m);
      for (int64_t i = 0; i < m; i++) dims[nd++] = (int64_t)tmp[i] < 0 ? -1 : (int64_t)tmp[i];
    } else if (f.num == 2 && f.wire == PB_VARINT) {
      dt = ms_dtype_to_ir((int64_t)f.v);
    }
  }
  if (dt) t->dtype = dt;
  ir_tensor_set_shape(t, nd, dims);
}

tod_status ms_out(mctx *c, const mnode *n, int k, int *t) {
  char nm[1100];
  if (k == 0) snprintf(nm, sizeof nm, "%s", n->irname);
  else snprintf(nm, sizeof nm, "%s:%d", n->irname, k);
  *t = ir_add_tensor(c->g, nm);
  if (*t < 0) return ms_oom(c);
  apply_shape(c, n, k, &c->g->tensors[*t]);
  return TOD_OK;
}

tod_status ms_tmp(mctx *c, const mnode *n, const char *suffix, int *t) {
  char nm[1100];
  snprintf(nm, sizeof nm, "%s/%s", n->irname, suffix);
  *t = ir_add_tensor(c->g, nm);
  return *t < 0 ? ms_oom(c) : TOD_OK;
}

tod_status ms_emit(mctx *c, int op, const char *name, const int *in, int n_in, const int *out,
                   int n_out, ir_node **node) {
  int i = ir_add_node(c->g, op, name, in, n_in, out, n_out);
  if (i < 0) return ms_oom(c);
  if (node) *node = &c->g->nodes[i];
  return TOD_OK;
}

tod_status ms_emit_sub(mctx *c, const mnode *n, const char *suffix, int op, const int *in,
                       int n_in, const int *out, int n_out, ir_node **node) {
  char nm[1100];
  snprintf(nm, sizeof nm, "%s/%s", n->irname, suffix);
  return ms_emit(c, op, nm, in, n_in, out, n_out, node);
}

static tod_status const_raw(mctx *c, const mnode *n, const char *suffix, int dtype, const void *v,
                            int count, int ndim, int *t) {
  char nm[1100];
  snprintf(nm, sizeof nm, "%s/%s", n->irname, suffix);
  *t = ir_add_tensor(c->g, nm);
  if (*t < 0) return ms_oom(c);
  ir_tensor *x = &c->g->tensors[*t];
  x->dtype = dtype;
  int64_t d = count;
  ir_tensor_set_shape(x, ndim, &d);
  return ir_tensor_set_data_copy(x, v, (size_t)count * 4) == TOD_OK ? TOD_OK : ms_oom(c);
}

tod_status ms_const_i32(mctx *c, const mnode *n, const char *suffix, const int32_t *v, int count,
                        int ndim, int *t) {
  return const_raw(c, n, suffix, IR_DT_INT32, v, count, ndim, t);
}

tod_status ms_const_f32(mctx *c, const mnode *n, const char *suffix, const float *v, int count,
                        int ndim, int *t) {
  return const_raw(c, n, suffix, IR_DT_FLOAT32, v, count, ndim, t);
}

int ms_const_ints(mctx *c, int t, int64_t *out, int cap) {
  const ir_tensor *x = &c->g->tensors[t];
  if ((x->kind != IR_TENSOR_CONST && x->kind != IR_TENSOR_PARAM) || !x->data) return -1;
  int64_t n = ir_tensor_numel(x);
  size_t es = ir_dtype_size(x->dtype);
  if (n < 0 || (size_t)n * es > x->nbytes) return -1;
  for (int64_t i = 0; i < n && i < cap; i++) {
    const uint8_t *p = (const uint8_t *)x->data + (size_t)i * es;
    switch (x->dtype) {
      case IR_DT_INT32: { int32_t v; memcpy(&v, p, 4); out[i] = v; break; }
      case IR_DT_INT64: { int64_t v; memcpy(&v, p, 8); out[i] = v; break; }
      case IR_DT_INT8: out[i] = (int8_t)p[0]; break;
      case IR_DT_UINT8: case IR_DT_BOOL: out[i] = p[0]; break;
      case IR_DT_FLOAT32: { float v; memcpy(&v, p, 4); out[i] = (int64_t)v; break; }
      default: return -1;
    }
  }
  return (int)(n > INT_MAX ? INT_MAX : n);
}

tod_status ms_transpose(mctx *c, const mnode *n, const char *suffix, int src, const int *perm,
                        int dst, int *out) {
  int32_t p[4] = {perm[0], perm[1], perm[2], perm[3]};
  int pt;
  char sfx[96];
  snprintf(sfx, sizeof sfx, "%s_perm", suffix);
  tod_status st = ms_const_i32(c, n, sfx, p, 4, 1, &pt);
  if (st != TOD_OK) return st;
  if (dst < 0) {
    if ((st = ms_tmp(c, n, suffix, &dst)) != TOD_OK) return st;
    const ir_tensor *s = &c->g->tensors[src];
    ir_tensor *d = &c->g->tensors[dst];
    d->dtype = s->dtype;
    if (s->ndim == 4) {
      int64_t dd[4];
      for (int k = 0; k < 4; k++) dd[k] = s->dims[perm[k]];
      ir_tensor_set_shape(d, 4, dd);
    }
  }
  int in[2] = {src, pt};
  if ((st = ms_emit_sub(c, n, suffix, IR_OP_Transpose, in, 2, &dst, 1, NULL)) != TOD_OK) return st;
  *out = dst;
  return TOD_OK;
}

tod_status ms_note_bias4d(mctx *c, int node) {
  if (c->n_bias4d == c->cap_bias4d) {
    int cap = c->cap_bias4d ? c->cap_bias4d * 2 : 16;
    int *p = realloc(c->bias4d, sizeof(int) * (size_t)cap);
    if (!p) return ms_oom(c);
    c->bias4d = p;
    c->cap_bias4d = cap;
  }
  c->bias4d[c->n_bias4d++] = node;
  return TOD_OK;
}

/* --- nodes --------------------------------------------------------------------------------- */

static void node_free(mnode *n) {
  free(n->in);
  for (int i = 0; i < n->n_attrs; i++) ms_attr_free(&n->attrs[i]);
  free(n->attrs);
  free(n->args);
  free(n->irname);
  memset(n, 0, sizeof *n);
}

static tod_status node_parse(mctx *c, const pb_reader *parent, const pb_field *nf, mnode *n) {
  pb_reader r;
  pb_field f;
  int rc;
  memset(n, 0, sizeof *n);
  if (pb_sub(parent, nf, &r) != TOD_OK) return malformed(c, "NodeProto");
  int64_t ni = 0, na = 0;
  pb_reader r1 = r;
  while ((rc = pb_next(&r1, &f)) == 1) {
    if (f.num >= 1 && f.num <= 7 && f.num != 6 && f.wire != PB_LEN) return malformed(c, "NodeProto");
    switch (f.num) {
      case 1: ni++; break;
      case 2: if (!n->out.p) n->out = fstr(&f); break;
      case 3: n->name = fstr(&f); break;
      case 4: n->op_type = fstr(&f); break;
      case 5: na++; break;
      case 7: n->domain = fstr(&f); break;
      default: break;
    }
  }
  if (rc < 0) return malformed(c, "NodeProto");
  if (ni > INT_MAX / 16 || na > INT_MAX / 16) return malformed(c, "NodeProto");
  if (!n->out.p) n->out = n->name;
  n->in = malloc(sizeof(ms_str) * (size_t)(ni + 1));
  n->attrs = calloc((size_t)(na + 1), sizeof(mattr));
  n->args = calloc((size_t)(ni + 1), sizeof(mval));
  if (!n->in || !n->attrs || !n->args) return ms_oom(c);
  pb_reader r2 = r;
  while (pb_next(&r2, &f) == 1) {
    if (f.num == 1) n->in[n->n_in++] = fstr(&f);
    else if (f.num == 5) {
      tod_status st = ms_attr_parse(c, &r, &f, &n->attrs[n->n_attrs], 0);
      n->n_attrs++;
      if (st != TOD_OK) return st;
    }
  }
  return TOD_OK;
}

static int find_graph(const mctx *c, ms_str s) {
  for (int i = 0; i < c->n_graphs; i++)
    if (c->graph_names[i].n == s.n && (s.n == 0 || memcmp(c->graph_names[i].p, s.p, s.n) == 0)) return i;
  return -1;
}

static int find_prim(const mctx *c, ms_str s) {
  for (int i = 0; i < c->n_prims; i++)
    if (c->prim_names[i].n == s.n && (s.n == 0 || memcmp(c->prim_names[i].p, s.p, s.n) == 0)) return i;
  return -1;
}

static void set_prim(mnode *n, ms_str op) {
  if (span_starts(op, "S-Prim-")) op.p += 7, op.n -= 7;
  size_t k = op.n < sizeof n->prim - 1 ? op.n : sizeof n->prim - 1;
  for (size_t i = 0; i < k; i++) n->prim[i] = (op.p[i] >= 32 && op.p[i] < 127) ? op.p[i] : '?';
  n->prim[k] = 0;
}

static tod_status import_graph(mctx *c, int gi, const mval *args, int n_args, int parent_scope, mval *result);

static int is_name(const mnode *n, const char *a, const char *b) { return strcmp(n->prim, a) == 0 || (b && strcmp(n->prim, b) == 0); }

static tod_status import_node(mctx *c, mnode *n, int scope) {
  char b[128];
  /* Constant value node. */
  if (span_eq(n->op_type, "Constant")) {
    const mattr *a = NULL;
    for (int i = 0; i < n->n_attrs; i++)
      if (span_eq(n->attrs[i].name, "value")) a = &n->attrs[i];
    mval v = {0};
    char *base = span_dup(n->out);
    if (!base) return ms_oom(c);
    n->irname = claim_name(c, base);
    free(base);
    if (!n->irname) return ms_oom(c);
    if (a) {
      tod_status st = ms_value_of_attr(c, n, a, 0, "", &v);
      if (st != TOD_OK) return st;
    }
    return name_put(c, n->out, scope, v);
  }
  /* What is called: a primitive, a graph, or a plain primitive name. */
  int callee = -1, pi = -1;
  ms_str op = n->op_type;
  if (span_starts(op, "REF::")) {
    ms_str rest = {op.p + 5, op.n - 5};
    if ((pi = find_prim(c, rest)) < 0 && (callee = find_graph(c, rest)) < 0)
      return ms_fail(c, TOD_NOT_SUPPORT, "node '%s' calls '%s', which is neither a primitive nor a graph of the file: not supported",
                     show(n->name, b, sizeof b), show(rest, b + 64, 64));
  } else {
    callee = find_graph(c, op);
  }
  /* Inputs. */
  for (int i = 0; i < n->n_in; i++) {
    const mval *v = name_get(c, n->in[i], scope);
    if (!v) {
      int gv = find_graph(c, n->in[i]);
      if (gv >= 0) {
        n->args[i].kind = MV_GRAPH;
        n->args[i].t = gv;
      } else if (find_prim(c, n->in[i]) >= 0) {
        n->args[i].kind = MV_NONE; /* a primitive used as a value */
      } else {
        return ms_fail(c, TOD_GRAPH_FILE_ERR, "node '%s' reads '%s', which is not defined before it",
                       show(n->name, b, sizeof b), show(n->in[i], b + 64, 64));
      }
    } else {
      n->args[i] = *v;
    }
  }
  n->n_args = n->n_in;
  if (callee >= 0) {
    if (c->depth >= MS_MAX_CALL_DEPTH) return ms_fail(c, TOD_NOT_SUPPORT, "graph calls nested deeper than %d", MS_MAX_CALL_DEPTH);
    mval res = {0};
    c->depth++;
    tod_status st = import_graph(c, callee, n->args, n->n_args, scope, &res);
    c->depth--;
    if (st != TOD_OK) return st;
    return name_put(c, n->out, scope, res);
  }
  if (pi >= 0) {
    /* PrimitiveProto: op_type and attributes. The attributes are parsed into the node's own
     * list after its abstract, so ms_attr finds them. */
    pb_reader r;
    pb_field f;
    int rc;
    if (pb_sub(&c->top, &c->prims[pi], &r) != TOD_OK) return malformed(c, "PrimitiveProto");
    ms_str pop = {0};
    int na = 0;
    pb_reader r1 = r;
    while ((rc = pb_next(&r1, &f)) == 1) {
      if (f.num == 2 && f.wire == PB_LEN) pop = fstr(&f);
      if (f.num == 3) na++;
    }
    if (rc < 0 || na > INT_MAX / 16) return malformed(c, "PrimitiveProto");
    set_prim(n, pop);
    mattr *all = realloc(n->attrs, sizeof(mattr) * (size_t)(n->n_attrs + na + 1));
    if (!all) return ms_oom(c);
    n->attrs = all;
    int first = n->n_attrs;
    pb_reader r2 = r;
    while (pb_next(&r2, &f) == 1)
      if (f.num == 3) {
        tod_status st = ms_attr_parse(c, &r, &f, &n->attrs[n->n_attrs], 0);
        n->n_attrs++;
        if (st != TOD_OK) return st;
      }
    n->pattrs = n->attrs + first;
    n->n_pattrs = n->n_attrs - first;
  } else {
    set_prim(n, op);
    n->pattrs = n->attrs;
    n->n_pattrs = n->n_attrs;
  }
  if (!n->prim[0]) return ms_fail(c, TOD_GRAPH_FILE_ERR, "node '%s' has no op_type", show(n->name, b, sizeof b));
  /* IR name: the scope (as MindSpore Lite names nodes), else the node name. */
  char *base = span_dup(n->domain.n ? n->domain : n->out);
  if (!base) return ms_oom(c);
  n->irname = claim_name(c, base);
  free(base);
  if (!n->irname) return ms_oom(c);

  mval res = {0};
  /* Plumbing. */
  if (is_name(n, "MakeTuple", "make_tuple") || is_name(n, "make_list", "MakeList")) {
    mval *items = ms_vals(c, n->n_args);
    if (!items) return ms_oom(c);
    memcpy(items, n->args, sizeof(mval) * (size_t)n->n_args);
    res.kind = MV_TUPLE;
    res.n = n->n_args;
    res.items = items;
  } else if (is_name(n, "TupleGetItem", "tuple_getitem") || is_name(n, "list_getitem", "ListGetItem")) {
    int64_t idx;
    if (n->n_args < 2 || n->args[1].kind != MV_TENSOR || ms_const_ints(c, n->args[1].t, &idx, 1) != 1)
      return ms_bad(c, n, "needs a tuple and a constant index");
    const mval *t = &n->args[0];
    if (t->kind == MV_TUPLE) {
      if (idx < 0 || idx >= t->n) return ms_bad(c, n, "index %lld is outside the tuple of %d", (long long)idx, t->n);
      res = t->items[idx];
    } else if (t->kind == MV_TENSOR && idx == 0) {
      res = *t;
    } else {
      return ms_bad(c, n, "reads item %lld of a value that is not a tuple", (long long)idx);
    }
  } else if (is_name(n, "Depend", "depend") || is_name(n, "Load", "load") || is_name(n, "StopGradient", "stop_gradient") ||
             is_name(n, "Identity", "identity")) {
    if (n->n_args < 1) return ms_bad(c, n, "has no input");
    res = n->args[0];
  } else if (is_name(n, "UpdateState", "update_state")) {
    res.kind = MV_MONAD;
  } else if (is_name(n, "AssignAdd", NULL) && n->n_args >= 1 && n->args[0].kind == MV_TENSOR &&
             c->g->tensors[n->args[0].t].dtype != IR_DT_FLOAT32) {
    res.kind = MV_MONAD; /* global_step bookkeeping: nothing on device reads it */
  } else {
    tod_status st = mindir_translate(c, n, &res);
    if (st == TOD_NOT_FIND_OP) return ms_fail(c, TOD_NOT_SUPPORT, "primitive %s (node '%s') is not supported", n->prim, n->irname);
    if (st != TOD_OK) return st;
  }
  return name_put(c, n->out, scope, res);
}

/* A python-side name: "<graph>:<name>" -> "<name>". */
static ms_str py_name(ms_str s) {
  if (!s.n) return s; /* an absent name is {NULL, 0}: memchr must not see NULL */
  const char *colon = memchr(s.p, ':', s.n);
  if (!colon || colon + 1 == s.p + s.n) return s;
  ms_str r = {colon + 1, (size_t)(s.p + s.n - colon - 1)};
  return r;
}

static tod_status collect(mctx *c, const pb_reader *gr, uint32_t num, pb_field **out, int *n) {
  pb_reader r = *gr;
  pb_field f;
  int rc, k = 0;
  while ((rc = pb_next(&r, &f)) == 1)
    if (f.num == num) {
      if (f.wire != PB_LEN || k == INT_MAX / 64) return malformed(c, "GraphProto");
      k++;
    }
  if (rc < 0) return malformed(c, "GraphProto");
  *out = malloc(sizeof(pb_field) * (size_t)(k ? k : 1));
  if (!*out) return ms_oom(c);
  *n = 0;
  r = *gr;
  while (pb_next(&r, &f) == 1)
    if (f.num == num) (*out)[(*n)++] = f;
  return TOD_OK;
}

/* Name of a ValueInfoProto and, for tensors, its type and shape. */
static tod_status value_info(mctx *c, const pb_reader *gr, const pb_field *vf, ms_str *name, mtensor *k, int *is_tensor, int *is_monad) {
  pb_reader r;
  pb_field f;
  int rc;
  memset(k, 0, sizeof *k);
  *is_tensor = 0;
  *is_monad = 0;
  name->p = "";
  name->n = 0;
  if (pb_sub(gr, vf, &r) != TOD_OK) return malformed(c, "ValueInfoProto");
  while ((rc = pb_next(&r, &f)) == 1) {
    if (f.num == 1 && f.wire == PB_LEN) *name = fstr(&f);
    else if (f.num == 2 && !*is_tensor) {
      /* Shape only: ms_tensor_decode would insist on data consistency, so read dims/type here. */
      pb_reader t;
      pb_field h;
      if (pb_sub(&r, &f, &t) != TOD_OK) return malformed(c, "ValueInfoProto.tensor");
      *is_tensor = 1;
      while ((rc = pb_next(&t, &h)) == 1) {
        if (h.num == 1) {
          int64_t cnt = ms_count_elems(&h, 0), m = 0;
          uint64_t tmp[IR_MAX_DIMS];
          if (cnt < 0 || k->ndim + cnt > IR_MAX_DIMS) return ms_fail(c, TOD_NOT_SUPPORT, "a graph input has a bad rank");
          ms_decode_elems(&h, 0, tmp, &m);
          for (int64_t i = 0; i < m; i++) k->dims[k->ndim++] = (int64_t)tmp[i] < 0 ? -1 : (int64_t)tmp[i];
        } else if (h.num == 2 && h.wire == PB_VARINT) {
          k->dtype = ms_dtype_to_ir((int64_t)h.v);
        }
      }
      if (rc < 0) return malformed(c, "ValueInfoProto.tensor");
    } else if (f.num == 4 && f.wire == PB_LEN) {
      ms_str d = fstr(&f);
      if (span_eq(d, "UMonadType") || span_eq(d, "IOMonadType")) *is_monad = 1;
    } else if (f.num == 5) {
      mattr a;
      tod_status st = ms_attr_parse(c, &r, &f, &a, 0);
      if (st == TOD_OK && (a.type == MS_AT_UMONAD || a.type == MS_AT_IOMONAD)) *is_monad = 1;
      ms_attr_free(&a);
      if (st != TOD_OK) return st;
    }
  }
  return rc < 0 ? malformed(c, "ValueInfoProto") : TOD_OK;
}

static tod_status import_graph(mctx *c, int gi, const mval *args, int n_args, int parent_scope, mval *result) {
  pb_reader gr;
  pb_field *nodes = NULL, *params = NULL, *ins = NULL, *outs = NULL;
  int nn = 0, np = 0, ni = 0, no = 0, scope;
  char b[128];
  tod_status st = new_scope(c, parent_scope, &scope);
  if (st != TOD_OK) return st;
  if (pb_sub(&c->top, &c->graphs[gi], &gr) != TOD_OK) return malformed(c, "GraphProto");
  if ((st = collect(c, &gr, 1, &nodes, &nn)) != TOD_OK || (st = collect(c, &gr, 3, &params, &np)) != TOD_OK ||
      (st = collect(c, &gr, 5, &ins, &ni)) != TOD_OK || (st = collect(c, &gr, 6, &outs, &no)) != TOD_OK)
    goto out;
  /* Weights (in a called graph too: the old split form puts them anywhere). */
  for (int i = 0; i < np; i++) {
    mtensor k;
    if ((st = ms_tensor_decode(c, &gr, &params[i], &k)) != TOD_OK) goto out;
    if (!k.has_data) {
      st = ms_fail(c, TOD_NOT_SUPPORT, "weight '%s' has no data", show(k.name, b, sizeof b));
      goto out;
    }
    if (name_get(c, k.name, scope)) {
      free(k.owned);
      continue; /* already known (a graph imported twice) */
    }
    char *nm = span_dup(py_name(k.name));
    if (!nm) {
      free(k.owned);
      st = ms_oom(c);
      goto out;
    }
    int t;
    st = ms_add_const(c, nm, &k, &t);
    free(nm);
    mval v = {MV_TENSOR, t, 0, NULL};
    if (st != TOD_OK || (st = name_put(c, k.name, 0, v)) != TOD_OK) goto out;
  }
  /* Arguments. */
  if (args) {
    if (n_args != ni) {
      st = ms_fail(c, TOD_GRAPH_FILE_ERR, "graph %d is called with %d arguments, takes %d", gi, n_args, ni);
      goto out;
    }
    for (int i = 0; i < ni; i++) {
      ms_str name;
      mtensor k;
      int is_t, is_m;
      if ((st = value_info(c, &gr, &ins[i], &name, &k, &is_t, &is_m)) != TOD_OK || (st = name_put(c, name, scope, args[i])) != TOD_OK) goto out;
    }
  } else {
    for (int i = 0; i < ni; i++) {
      ms_str name;
      mtensor k;
      int is_t, is_m;
      if ((st = value_info(c, &gr, &ins[i], &name, &k, &is_t, &is_m)) != TOD_OK) goto out;
      mval v = {0};
      if (is_m) {
        v.kind = MV_MONAD;
      } else if (is_t) {
        char *nm = span_dup(py_name(name));
        if (!nm) {
          st = ms_oom(c);
          goto out;
        }
        int t = ir_add_tensor(c->g, nm);
        free(nm);
        if (t < 0 || ir_add_input(c->g, t) != TOD_OK) {
          st = ms_oom(c);
          goto out;
        }
        ir_tensor *x = &c->g->tensors[t];
        x->kind = IR_TENSOR_INPUT;
        x->dtype = k.dtype ? k.dtype : IR_DT_FLOAT32;
        ir_tensor_set_shape(x, k.ndim, k.dims);
        v.kind = MV_TENSOR;
        v.t = t;
      } else {
        st = ms_fail(c, TOD_NOT_SUPPORT, "graph input '%s' is not a tensor", show(name, b, sizeof b));
        goto out;
      }
      if ((st = name_put(c, name, scope, v)) != TOD_OK) goto out;
    }
  }
  for (int i = 0; i < nn; i++) {
    mnode n;
    st = node_parse(c, &gr, &nodes[i], &n);
    if (st == TOD_OK) st = import_node(c, &n, scope);
    node_free(&n);
    if (st != TOD_OK) goto out;
  }
  if (no < 1) {
    st = ms_fail(c, TOD_GRAPH_FILE_ERR, "graph %d has no output", gi);
    goto out;
  }
  {
    ms_str name;
    mtensor k;
    int is_t, is_m;
    if ((st = value_info(c, &gr, &outs[0], &name, &k, &is_t, &is_m)) != TOD_OK) goto out;
    const mval *v = name_get(c, name, scope);
    if (!v) {
      st = ms_fail(c, TOD_GRAPH_FILE_ERR, "graph output '%s' is not defined", show(name, b, sizeof b));
      goto out;
    }
    *result = *v;
  }
out:
  free(nodes);
  free(params);
  free(ins);
  free(outs);
  return st;
}

/* --- after import ------------------------------------------------------------------------- */

static const int TO_NHWC[4] = {0, 2, 3, 1};
static const int TO_NCHW[4] = {0, 3, 1, 2};

/* BiasAdd over NCHW rank 4: folded into the producing convolution when it is the only reader,
 * else computed channel-last between two Transposes. */
static tod_status fix_bias4d(mctx *c) {
  ir_graph *g = c->g;
  for (int k = c->n_bias4d - 1; k >= 0; k--) {
    int i = c->bias4d[k];
    ir_node *n = &g->nodes[i];
    int x = n->in[0], b = n->in[1], y = n->out[0];
    int p = ir_producer(g, x);
    if (p >= 0 && g->nodes[p].op == IR_OP_Conv2DFusion && g->nodes[p].n_in == 2 && ir_use_count(g, x) == 1) {
      ir_node *cv = &g->nodes[p];
      int *in = realloc(cv->in, sizeof(int) * 3);
      if (!in) return ms_oom(c);
      cv->in = in;
      cv->in[2] = b;
      cv->n_in = 3;
      cv->out[0] = y;
      ir_remove_node(g, i);
      continue;
    }
    mnode fake;
    memset(&fake, 0, sizeof fake);
    fake.irname = n->name;
    int xt, yt, t;
    tod_status st;
    if ((st = ms_transpose(c, &fake, "nhwc_in", x, TO_NHWC, -1, &xt)) != TOD_OK) return st;
    if ((st = ms_tmp(c, &fake, "nhwc_out", &yt)) != TOD_OK) return st;
    n = &g->nodes[i];
    n->in[0] = xt;
    n->out[0] = yt;
    g->tensors[yt].dtype = g->tensors[y].dtype;
    if ((st = ms_transpose(c, &fake, "nchw_out", yt, TO_NCHW, y, &t)) != TOD_OK) return st;
  }
  return TOD_OK;
}

static int is_loss_name(const char *s) { return strstr(s, "loss_fct") || strstr(s, "_loss_fn") || strstr(s, "SigmoidCrossEntropy"); }

static tod_status add_outputs_tensors(mctx *c, const mval *v, int depth) {
  if (depth > MS_MAX_ATTR_DEPTH) return ms_fail(c, TOD_GRAPH_FILE_ERR, "output nested too deeply");
  if (v->kind == MV_TENSOR) return ir_add_output(c->g, v->t) == TOD_OK ? TOD_OK : ms_oom(c);
  if (v->kind == MV_TUPLE)
    for (int i = 0; i < v->n; i++) {
      tod_status st = add_outputs_tensors(c, &v->items[i], depth + 1);
      if (st != TOD_OK) return st;
    }
  return TOD_OK;
}

static const mval *first_tensor(const mval *v, int depth) {
  if (depth > MS_MAX_ATTR_DEPTH) return NULL;
  if (v->kind == MV_TENSOR) return v;
  if (v->kind == MV_TUPLE)
    for (int i = 0; i < v->n; i++) {
      const mval *t = first_tensor(&v->items[i], depth + 1);
      if (t) return t;
    }
  return NULL;
}

/* Outputs of the imported graph; the inference part of a training graph when !train. */
static tod_status finish_graph(mctx *c, const mval *res) {
  ir_graph *g = c->g;
  int training = 0;
  for (int i = 0; i < g->n_nodes; i++)
    if (mindir_is_optimizer(g->nodes[i].op)) training = 1;
  if (!training) return add_outputs_tensors(c, res, 0);
  const mval *loss = first_tensor(res, 0);
  if (c->train) {
    if (!loss) return ms_fail(c, TOD_GRAPH_FILE_ERR, "the training graph returns no loss");
    if (ir_add_output(g, loss->t) != TOD_OK) return ms_oom(c);
    for (int i = 0; i < g->n_nodes; i++)
      if (mindir_is_optimizer(g->nodes[i].op) && g->nodes[i].n_out > 0 && ir_add_output(g, g->nodes[i].out[0]) != TOD_OK)
        return ms_oom(c);
    /* Assign's result is read by nobody: as a graph output it is not pruned (as tod's autodiff). */
    for (int i = 0; i < g->n_nodes; i++)
      if (g->nodes[i].op == IR_OP_Assign && g->nodes[i].n_out > 0 && ir_add_output(g, g->nodes[i].out[0]) != TOD_OK)
        return ms_oom(c);
    return TOD_OK;
  }
  /* Inference part: outputs are what forward nodes hand to the loss. */
  int nn = g->n_nodes;
  char *role = calloc((size_t)(nn ? nn : 1), 1); /* 1 = drop */
  int *prod = malloc(sizeof(int) * (size_t)(g->n_tensors ? g->n_tensors : 1));
  if (!role || !prod) {
    free(role);
    free(prod);
    return ms_oom(c);
  }
  for (int t = 0; t < g->n_tensors; t++) prod[t] = -1;
  for (int i = 0; i < nn; i++) {
    const ir_node *n = &g->nodes[i];
    for (int j = 0; j < n->n_out; j++) prod[n->out[j]] = i;
    if (mindir_is_optimizer(n->op) || n->op == IR_OP_Assign || strstr(n->name, "Gradients") || is_loss_name(n->name)) role[i] = 1;
  }
  /* Nodes fed only by dropped nodes (e.g. beta-power products) go with them via ir_compact. */
  tod_status st = TOD_OK;
  for (int i = 0; i < nn && st == TOD_OK; i++) {
    const ir_node *n = &g->nodes[i];
    if (!is_loss_name(n->name) || strstr(n->name, "Gradients")) continue;
    for (int j = 0; j < n->n_in; j++) {
      int t = n->in[j];
      if (t < 0 || prod[t] < 0 || role[prod[t]]) continue;
      int dup = 0;
      for (int k = 0; k < g->n_outputs; k++) dup |= g->outputs[k] == t;
      if (!dup && ir_add_output(g, t) != TOD_OK) st = ms_oom(c);
    }
  }
  if (st == TOD_OK && g->n_outputs == 0) st = ms_fail(c, TOD_NOT_SUPPORT, "no loss node found (scope '_loss_fn'): cannot tell the inference part of the training graph");
  for (int i = nn - 1; i >= 0 && st == TOD_OK; i--)
    if (role[i]) ir_remove_node(g, i);
  free(role);
  free(prod);
  if (st != TOD_OK) return st;
  /* Graph inputs nobody reads any more (labels) leave. */
  int k = 0;
  for (int i = 0; i < g->n_inputs; i++) {
    int t = g->inputs[i], used = 0;
    for (int j = 0; j < g->n_nodes && !used; j++)
      for (int q = 0; q < g->nodes[j].n_in; q++) used |= g->nodes[j].in[q] == t;
    if (used) g->inputs[k++] = t;
    else g->tensors[t].kind = IR_TENSOR_ACT;
  }
  g->n_inputs = k;
  return ir_compact(g) == TOD_OK ? TOD_OK : ms_oom(c);
}

static tod_status parse_model(mctx *c) {
  pb_reader r;
  pb_field f;
  int rc, ng = 1, npr = 0, has_graph = 0;
  pb_reader_init(&r, c->data, c->size);
  c->top = r;
  if (!c->size) return ms_fail(c, TOD_GRAPH_FILE_ERR, "the model file is empty");
  while ((rc = pb_next(&r, &f)) == 1) {
    if ((f.num == 7 || f.num == 8 || f.num == 12) && f.wire != PB_LEN) return malformed(c, "ModelProto");
    if ((f.num == 1 || f.num == 2) && f.wire != PB_LEN) return malformed(c, "ModelProto");
    if (f.num == 7) has_graph = 1;
    if (f.num == 8) {
      if (ng == INT_MAX / 64) return malformed(c, "ModelProto");
      ng++;
    }
    if (f.num == 12) {
      if (npr == INT_MAX / 64) return malformed(c, "ModelProto");
      npr++;
    }
    if (f.num == 10 && f.wire == PB_VARINT && f.v == 0)
      return ms_fail(c, TOD_NOT_SUPPORT, "the model was written big-endian");
    if (f.num == 13 && f.wire == PB_VARINT && f.v > 2)
      return ms_fail(c, TOD_NOT_SUPPORT, "mind_ir_version %llu is newer than this reader", (unsigned long long)f.v);
  }
  if (rc < 0) return malformed(c, "ModelProto");
  if (!has_graph) return ms_fail(c, TOD_GRAPH_FILE_ERR, "not a MindIR model: no graph");
  c->graphs = malloc(sizeof(pb_field) * (size_t)ng);
  c->graph_names = calloc((size_t)ng, sizeof(ms_str));
  c->prims = malloc(sizeof(pb_field) * (size_t)(npr ? npr : 1));
  c->prim_names = calloc((size_t)(npr ? npr : 1), sizeof(ms_str));
  if (!c->graphs || !c->graph_names || !c->prims || !c->prim_names) return ms_oom(c);
  c->n_graphs = 1;
  r = c->top;
  while (pb_next(&r, &f) == 1) {
    if (f.num == 7) c->graphs[0] = f;
    else if (f.num == 8) c->graphs[c->n_graphs++] = f;
    else if (f.num == 12) c->prims[c->n_prims++] = f;
  }
  for (int i = 0; i < c->n_graphs; i++) {
    pb_reader gr;
    pb_field h;
    if (pb_sub(&c->top, &c->graphs[i], &gr) != TOD_OK) return malformed(c, "GraphProto");
    while ((rc = pb_next(&gr, &h)) == 1)
      if (h.num == 2 && h.wire == PB_LEN) c->graph_names[i] = fstr(&h);
    if (rc < 0) return malformed(c, "GraphProto");
  }
  for (int i = 0; i < c->n_prims; i++) {
    pb_reader pr;
    pb_field h;
    if (pb_sub(&c->top, &c->prims[i], &pr) != TOD_OK) return malformed(c, "PrimitiveProto");
    while ((rc = pb_next(&pr, &h)) == 1)
      if (h.num == 1 && h.wire == PB_LEN) c->prim_names[i] = fstr(&h);
    if (rc < 0) return malformed(c, "PrimitiveProto");
  }
  char b[128];
  free(c->g->name);
  c->g->name = span_dup(c->graph_names[0]);
  if (!c->g->name) return ms_oom(c);
  (void)b;
  int scope0;
  tod_status st = new_scope(c, -1, &scope0); /* scope 0: weights of every graph */
  if (st != TOD_OK) return st;
  mval res = {0};
  if ((st = import_graph(c, 0, NULL, 0, 0, &res)) != TOD_OK) return st;
  if ((st = fix_bias4d(c)) != TOD_OK) return st;
  return finish_graph(c, &res);
}

tod_status mindir_import(const uint8_t *data, size_t size, const char *model_dir, int train,
                         ir_graph *g, char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (!g) return TOD_NULL_PTR;
  ir_graph_init(g);
  if (!data && size) {
    if (err && errlen) snprintf(err, errlen, "mindir: no data");
    return TOD_NULL_PTR;
  }
  mctx c;
  memset(&c, 0, sizeof c);
  c.g = g;
  c.data = data;
  c.size = size;
  c.model_dir = model_dir;
  c.train = train;
  c.err = err;
  c.errlen = err ? errlen : 0;
  g->fmk_type = 3;
  tod_status st = parse_model(&c);
  if (st == TOD_OK) st = ir_validate(g, err, errlen);
  if (st == TOD_OK) st = ir_toposort(g, err, errlen);
  free(c.graphs);
  free(c.graph_names);
  free(c.prims);
  free(c.prim_names);
  free(c.tab);
  free(c.scope_parent);
  for (int i = 0; i < c.n_arena; i++) free(c.arena[i]);
  free(c.arena);
  for (size_t i = 0; i < c.irn_cap; i++) free(c.irnames[i]);
  free(c.irnames);
  free(c.bias4d);
  return st;
}

int mindir_has_optimizer(const ir_graph *g) {
  for (int i = 0; i < g->n_nodes; i++)
    if (mindir_is_optimizer(g->nodes[i].op)) return 1;
  return 0;
}
