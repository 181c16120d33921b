/* MINDIR importer, values: AttributeProto parsing and attribute accessors, TensorProto decoding
 * (raw_data borrowed when aligned, typed fields, external data files confined to the model
 * directory) and Constant values (2.x typed and 1.x ref_attr_name encodings). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/mindir_internal.h"

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

static const char *show(ms_str s, char *buf, size_t cap) {
  size_t n = s.n < cap - 1 ? s.n : cap - 1;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s.p[i];
    buf[i] = (ch >= 32 && ch < 127) ? (char)ch : '?';
  }
  buf[n] = 0;
  return buf;
}

static tod_status malformed(mctx *c, const char *what) {
  return ms_fail(c, TOD_GRAPH_FILE_ERR, "malformed protobuf in %s", what);
}

/* --- attributes ---------------------------------------------------------------------------- */

void ms_attr_free(mattr *a) {
  free(a->ints);
  free(a->floats);
  free(a->strings);
  free(a->tensors);
  for (int i = 0; i < a->n_values; i++) ms_attr_free(&a->values[i]);
  free(a->values);
  memset(a, 0, sizeof *a);
}

int64_t ms_count_elems(const pb_field *f, int elem) {
  if (f->wire == PB_LEN) {
    if (elem) return f->len % (size_t)elem ? -1 : (int64_t)(f->len / (size_t)elem);
    return pb_count_packed_varints(f->data, f->len);
  }
  if (elem == 4) return f->wire == PB_FIXED32 ? 1 : -1;
  if (elem == 8) return f->wire == PB_FIXED64 ? 1 : -1;
  return f->wire == PB_VARINT ? 1 : -1;
}

/* Appends the elements of one repeated-field occurrence as raw 64-bit patterns. */
void ms_decode_elems(const pb_field *f, int elem, uint64_t *out, int64_t *k) {
  if (f->wire == PB_LEN) {
    if (elem == 4)
      for (size_t i = 0; i + 4 <= f->len; i += 4) out[(*k)++] = pb_load_le32(f->data + i);
    else if (elem == 8)
      for (size_t i = 0; i + 8 <= f->len; i += 8) out[(*k)++] = pb_load_le64(f->data + i);
    else {
      int64_t n = pb_count_packed_varints(f->data, f->len);
      if (n > 0 && pb_decode_packed_varints(f->data, f->len, out + *k, (size_t)n) == TOD_OK) *k += n;
    }
    return;
  }
  out[(*k)++] = f->v;
}

tod_status ms_attr_parse(mctx *c, const pb_reader *parent, const pb_field *af, mattr *a, int depth) {
  pb_reader r;
  pb_field f;
  int rc;
  memset(a, 0, sizeof *a);
  if (depth > MS_MAX_ATTR_DEPTH) return ms_fail(c, TOD_GRAPH_FILE_ERR, "attribute values nested too deeply");
  if (pb_sub(parent, af, &r) != TOD_OK) return malformed(c, "AttributeProto");
  a->parent = r;
  int64_t ni = 0, nf = 0, ns = 0, nt = 0, nv = 0;
  pb_reader r1 = r;
  while ((rc = pb_next(&r1, &f)) == 1) {
    int64_t k;
    switch (f.num) {
      case 1: case 5: case 15:
        if (f.wire != PB_LEN) return malformed(c, "AttributeProto");
        if (f.num == 1) a->name = fstr(&f);
        else if (f.num == 5) a->s = fstr(&f), a->has_s = 1;
        else a->ref = fstr(&f);
        break;
      case 2: if (f.wire != PB_FIXED32) return malformed(c, "AttributeProto.f"); a->f = pb_bits_to_float((uint32_t)f.v); a->has_f = 1; break;
      case 4: if (f.wire != PB_FIXED64) return malformed(c, "AttributeProto.d"); a->f = pb_bits_to_double(f.v); a->has_f = 1; break;
      case 3: if (f.wire != PB_VARINT) return malformed(c, "AttributeProto.i"); a->i = (int64_t)f.v; a->has_i = 1; break;
      case 16: if (f.wire != PB_VARINT) return malformed(c, "AttributeProto.type"); a->type = (int)(f.v & 0xff); break;
      case 8: if ((k = ms_count_elems(&f, 4)) < 0) return malformed(c, "AttributeProto.floats"); nf += k; break;
      case 9: if ((k = ms_count_elems(&f, 8)) < 0) return malformed(c, "AttributeProto.doubles"); nf += k; break;
      case 10: if ((k = ms_count_elems(&f, 0)) < 0) return malformed(c, "AttributeProto.ints"); ni += k; break;
      case 11: if (f.wire != PB_LEN) return malformed(c, "AttributeProto.strings"); ns++; break;
      case 6: case 12: if (f.wire != PB_LEN) return malformed(c, "AttributeProto.tensors"); nt++; break;
      case 17: if (f.wire != PB_LEN) return malformed(c, "AttributeProto.values"); nv++; break;
      default: break; /* 18 (seq_info / old type_val), graphs, functors: not needed */
    }
  }
  if (rc < 0) return malformed(c, "AttributeProto");
  if (ni > INT_MAX / 8 || nf > INT_MAX / 8 || ns > INT_MAX / 8 || nt > INT_MAX / 8 || nv > INT_MAX / 8)
    return malformed(c, "AttributeProto");
  uint64_t *tmp = NULL;
  if (ni + nf) {
    tmp = malloc(sizeof(uint64_t) * (size_t)(ni > nf ? ni : nf));
    if (!tmp) return ms_oom(c);
  }
  a->ints = ni ? malloc(sizeof(int64_t) * (size_t)ni) : NULL;
  a->floats = nf ? malloc(sizeof(double) * (size_t)nf) : NULL;
  a->strings = ns ? malloc(sizeof(ms_str) * (size_t)ns) : NULL;
  a->tensors = nt ? malloc(sizeof(pb_field) * (size_t)nt) : NULL;
  a->values = nv ? calloc((size_t)nv, sizeof(mattr)) : NULL;
  if ((ni && !a->ints) || (nf && !a->floats) || (ns && !a->strings) || (nt && !a->tensors) || (nv && !a->values)) {
    free(tmp);
    return ms_oom(c);
  }
  pb_reader r2 = r;
  tod_status st = TOD_OK;
  while (st == TOD_OK && pb_next(&r2, &f) == 1) {
    int64_t k = 0;
    if (f.num == 10) {
      ms_decode_elems(&f, 0, tmp, &k);
      for (int64_t i = 0; i < k; i++) a->ints[a->n_ints++] = (int64_t)tmp[i];
    } else if (f.num == 8) {
      ms_decode_elems(&f, 4, tmp, &k);
      for (int64_t i = 0; i < k; i++) a->floats[a->n_floats++] = pb_bits_to_float((uint32_t)tmp[i]);
    } else if (f.num == 9) {
      ms_decode_elems(&f, 8, tmp, &k);
      for (int64_t i = 0; i < k; i++) a->floats[a->n_floats++] = pb_bits_to_double(tmp[i]);
    } else if (f.num == 11) {
      a->strings[a->n_strings++] = fstr(&f);
    } else if (f.num == 6 || f.num == 12) {
      a->tensors[a->n_tensors++] = f;
    } else if (f.num == 17) {
      st = ms_attr_parse(c, &r, &f, &a->values[a->n_values], depth + 1);
      a->n_values++;
    }
  }
  free(tmp);
  return st;
}

const mattr *ms_attr(const mnode *n, const char *key) {
  for (int i = n->n_pattrs - 1; i >= 0; i--)
    if (span_eq(n->pattrs[i].name, key)) return &n->pattrs[i];
  return NULL;
}

/* A float attribute read as an integer: truncated, saturated at the int64 range (a converted
 * out-of-range float is undefined behaviour; fuzz_mindir found one), NaN as 0. */
static int64_t float_to_i64(double f) {
  if (f != f) return 0;
  if (f >= 9223372036854775807.0) return INT64_MAX;
  if (f <= -9223372036854775808.0) return INT64_MIN;
  return (int64_t)f;
}

static int attr_ints(const mattr *a, int64_t *out, int cap) {
  int k = 0;
  if (a->n_ints) {
    for (int i = 0; i < a->n_ints; i++)
      if (k < cap) out[k++] = a->ints[i];
    return a->n_ints;
  }
  if (a->n_values) {
    for (int i = 0; i < a->n_values; i++) {
      const mattr *v = &a->values[i];
      int64_t x = v->n_ints ? v->ints[0] : v->has_i ? v->i : float_to_i64(v->n_floats ? v->floats[0] : v->f);
      if (k < cap) out[k++] = x;
    }
    return a->n_values;
  }
  if (a->has_i) {
    if (cap > 0) out[0] = a->i;
    return 1;
  }
  if (a->n_floats) {
    for (int i = 0; i < a->n_floats; i++)
      if (k < cap) out[k++] = float_to_i64(a->floats[i]);
    return a->n_floats;
  }
  return a->type == MS_AT_TUPLE || a->type == MS_AT_LIST ? 0 : -1;
}

int ms_attr_ints(const mnode *n, const char *key, int64_t *out, int cap) {
  const mattr *a = ms_attr(n, key);
  return a ? attr_ints(a, out, cap) : -1;
}

int64_t ms_attr_int(const mnode *n, const char *key, int64_t dflt) {
  int64_t v;
  return ms_attr_ints(n, key, &v, 1) >= 1 ? v : dflt;
}

double ms_attr_float(const mnode *n, const char *key, double dflt) {
  const mattr *a = ms_attr(n, key);
  if (!a) return dflt;
  if (a->has_f) return a->f;
  if (a->n_floats) return a->floats[0];
  if (a->n_values && a->values[0].has_f) return a->values[0].f;
  if (a->n_values && a->values[0].n_floats) return a->values[0].floats[0];
  if (a->has_i) return (double)a->i;
  return dflt;
}

void ms_attr_str(const mnode *n, const char *key, char *buf, size_t cap) {
  const mattr *a = ms_attr(n, key);
  ms_str s = {"", 0};
  if (a && a->has_s) s = a->s;
  else if (a && a->n_strings) s = a->strings[0];
  show(s, buf, cap);
}

/* --- tensors ------------------------------------------------------------------------------- */

int ms_dtype_to_ir(int64_t t) {
  switch (t) {
    case 1: return IR_DT_FLOAT32;
    case 2: return IR_DT_UINT8;
    case 3: return IR_DT_INT8;
    case 4: return IR_DT_UINT16;
    case 5: return IR_DT_INT16;
    case 6: return IR_DT_INT32;
    case 7: return IR_DT_INT64;
    case 9: return IR_DT_BOOL;
    case 10: return IR_DT_FLOAT16;
    case 11: case 17: return IR_DT_FLOAT64;
    case 12: return IR_DT_UINT32;
    case 13: return IR_DT_UINT64;
    default: return IR_DT_UNKNOWN;
  }
}


static int path_ok(ms_str loc) {
  if (!loc.n || loc.p[0] == '/' || memchr(loc.p, 0, loc.n) || memchr(loc.p, '\\', loc.n)) return 0;
  for (size_t i = 0; i + 1 < loc.n; i++)
    if (loc.p[i] == '.' && loc.p[i + 1] == '.' && (i == 0 || loc.p[i - 1] == '/') &&
        (i + 2 == loc.n || loc.p[i + 2] == '/'))
      return 0;
  return 1;
}

static tod_status read_external(mctx *c, const pb_reader *tr, const pb_field *ef, mtensor *k) {
  pb_reader r;
  pb_field f;
  int rc;
  ms_str loc = {0};
  int64_t off = 0, len = -1;
  char b[128];
  if (pb_sub(tr, ef, &r) != TOD_OK) return malformed(c, "ExternalDataProto");
  while ((rc = pb_next(&r, &f)) == 1) {
    if (f.num == 1 && f.wire == PB_LEN) loc = fstr(&f);
    else if (f.num == 2 && f.wire == PB_VARINT) off = (int64_t)f.v;
    else if (f.num == 3 && f.wire == PB_VARINT) len = (int64_t)f.v;
  }
  if (rc < 0) return malformed(c, "ExternalDataProto");
  if (!c->model_dir) return ms_fail(c, TOD_NOT_SUPPORT, "tensor '%s' has external data (no model directory given)", show(k->name, b, sizeof b));
  if (!path_ok(loc)) return ms_fail(c, TOD_GRAPH_FILE_ERR, "tensor '%s': external data location '%s' leaves the model directory", show(k->name, b, sizeof b), show(loc, b + 64, 64));
  if (off < 64 || len < 0 || (size_t)len != k->nbytes)
    return ms_fail(c, TOD_GRAPH_FILE_ERR, "tensor '%s': external data offset %lld / length %lld do not fit its %zu bytes", show(k->name, b, sizeof b), (long long)off, (long long)len, k->nbytes);
  size_t plen = strlen(c->model_dir) + loc.n + 2;
  char *path = malloc(plen);
  if (!path) return ms_oom(c);
  snprintf(path, plen, "%s/%.*s", c->model_dir, (int)loc.n, loc.p);
  FILE *fp = fopen(path, "rb");
  free(path);
  if (!fp) return ms_fail(c, TOD_GRAPH_FILE_ERR, "tensor '%s': cannot open external data file '%s'", show(k->name, b, sizeof b), show(loc, b + 64, 64));
  unsigned char hdr = 0;
  tod_status st = TOD_OK;
  k->owned = malloc(k->nbytes ? k->nbytes : 1);
  if (!k->owned) st = ms_oom(c);
  else if (fread(&hdr, 1, 1, fp) != 1 || hdr != 1)
    st = ms_fail(c, TOD_NOT_SUPPORT, "external data file of '%s' is not little-endian", show(k->name, b, sizeof b));
  else if (fseek(fp, (long)off, SEEK_SET) != 0 || fread(k->owned, 1, k->nbytes, fp) != k->nbytes)
    st = ms_fail(c, TOD_GRAPH_FILE_ERR, "external data of '%s' is truncated", show(k->name, b, sizeof b));
  fclose(fp);
  if (st == TOD_OK) k->data = k->owned, k->has_data = 1;
  return st;
}

tod_status ms_tensor_decode(mctx *c, const pb_reader *parent, const pb_field *tf, mtensor *k) {
  pb_reader r;
  pb_field f;
  int rc;
  memset(k, 0, sizeof *k);
  if (pb_sub(parent, tf, &r) != TOD_OK) return malformed(c, "TensorProto");
  int64_t dtype = 0;
  pb_field raw = {0}, ext = {0};
  int has_raw = 0, has_ext = 0;
  int64_t n_typed = 0;
  int typed_field = 0, compressed = 0;
  pb_reader r1 = r;
  char b[128];
  while ((rc = pb_next(&r1, &f)) == 1) {
    switch (f.num) {
      case 1: {
        int64_t n = ms_count_elems(&f, 0);
        if (n < 0) return malformed(c, "TensorProto.dims");
        if (k->ndim + n > IR_MAX_DIMS) return ms_fail(c, TOD_NOT_SUPPORT, "a tensor has rank above %d", IR_MAX_DIMS);
        uint64_t tmp[IR_MAX_DIMS];
        int64_t m = 0;
        ms_decode_elems(&f, 0, tmp, &m);
        for (int64_t i = 0; i < m; i++) k->dims[k->ndim++] = (int64_t)tmp[i];
        break;
      }
      case 2: if (f.wire != PB_VARINT) return malformed(c, "TensorProto.data_type"); dtype = (int64_t)f.v; break;
      case 7: if (f.wire != PB_LEN) return malformed(c, "TensorProto.name"); k->name = fstr(&f); break;
      case 9: if (f.wire != PB_LEN) return malformed(c, "TensorProto.raw_data"); raw = f; has_raw = 1; break;
      case 12: if (f.wire != PB_LEN) return malformed(c, "TensorProto.external_data"); ext = f; has_ext = 1; break;
      case 16: if (f.wire == PB_VARINT && f.v) compressed = 1; break;
      case 3: case 4: case 6: case 10: {
        int elem = f.num == 3 ? 4 : f.num == 10 ? 8 : 0;
        int64_t n = ms_count_elems(&f, elem);
        if (n < 0) return malformed(c, "TensorProto data");
        n_typed += n;
        typed_field = (int)f.num;
        break;
      }
      default: break;
    }
  }
  if (rc < 0) return malformed(c, "TensorProto");
  k->dtype = ms_dtype_to_ir(dtype);
  if (k->dtype == IR_DT_UNKNOWN)
    return ms_fail(c, TOD_NOT_SUPPORT, "tensor '%s' has data type %lld", show(k->name, b, sizeof b), (long long)dtype);
  if (compressed) return ms_fail(c, TOD_NOT_SUPPORT, "tensor '%s' is compressed", show(k->name, b, sizeof b));
  int64_t numel = 1;
  for (int i = 0; i < k->ndim; i++) {
    if (k->dims[i] < 0 || (k->dims[i] && numel > INT64_MAX / 16 / k->dims[i]))
      return ms_fail(c, TOD_GRAPH_FILE_ERR, "tensor '%s' has a bad dimension", show(k->name, b, sizeof b));
    numel *= k->dims[i];
  }
  size_t es = ir_dtype_size(k->dtype);
  if ((uint64_t)numel > SIZE_MAX / 16) return ms_fail(c, TOD_GRAPH_FILE_ERR, "tensor '%s' is too large", show(k->name, b, sizeof b));
  k->nbytes = (size_t)numel * es;
  if (has_raw) {
    if (raw.len != k->nbytes)
      return ms_fail(c, TOD_GRAPH_FILE_ERR, "tensor '%s' has %zu raw bytes for %lld elements", show(k->name, b, sizeof b), raw.len, (long long)numel);
    if (((uintptr_t)raw.data % (es ? es : 1)) == 0) {
      k->data = raw.data;
    } else {
      k->owned = malloc(k->nbytes ? k->nbytes : 1);
      if (!k->owned) return ms_oom(c);
      if (k->nbytes) memcpy(k->owned, raw.data, k->nbytes);
      k->data = k->owned;
    }
    k->has_data = 1;
    return TOD_OK;
  }
  if (has_ext) return read_external(c, &r, &ext, k);
  if (n_typed) {
    if (n_typed != numel) return ms_fail(c, TOD_GRAPH_FILE_ERR, "tensor '%s' has %lld values for %lld elements", show(k->name, b, sizeof b), (long long)n_typed, (long long)numel);
    uint64_t *tmp = malloc(sizeof(uint64_t) * (size_t)n_typed);
    k->owned = malloc(k->nbytes ? k->nbytes : 1);
    if (!tmp || !k->owned) {
      free(tmp);
      return ms_oom(c);
    }
    int64_t m = 0;
    pb_reader r2 = r;
    while (pb_next(&r2, &f) == 1)
      if ((int)f.num == typed_field) ms_decode_elems(&f, typed_field == 3 ? 4 : typed_field == 10 ? 8 : 0, tmp, &m);
    for (int64_t i = 0; i < m && i < numel; i++) {
      uint8_t *d = (uint8_t *)k->owned + (size_t)i * es;
      if (k->dtype == IR_DT_FLOAT32) {
        float v = typed_field == 3 ? pb_bits_to_float((uint32_t)tmp[i]) : (float)pb_bits_to_double(tmp[i]);
        memcpy(d, &v, 4);
      } else if (k->dtype == IR_DT_FLOAT64) {
        double v = typed_field == 10 ? pb_bits_to_double(tmp[i]) : (double)pb_bits_to_float((uint32_t)tmp[i]);
        memcpy(d, &v, 8);
      } else {
        uint64_t v = tmp[i];
        memcpy(d, &v, es); /* little-endian host: low bytes */
      }
    }
    free(tmp);
    k->data = k->owned;
    k->has_data = 1;
  }
  return TOD_OK;
}

tod_status ms_add_const(mctx *c, const char *name, mtensor *k, int *idx) {
  int t = ir_add_tensor(c->g, name);
  if (t < 0) {
    free(k->owned);
    k->owned = NULL;
    return ms_oom(c);
  }
  ir_tensor *x = &c->g->tensors[t];
  x->dtype = k->dtype;
  ir_tensor_set_shape(x, k->ndim, k->dims);
  if (k->owned) ir_tensor_set_data_owned(x, k->owned, k->nbytes);
  else ir_tensor_set_data_borrow(x, k->data, k->nbytes);
  k->owned = NULL;
  *idx = t;
  return TOD_OK;
}

/* --- Constant values ----------------------------------------------------------------------- */

static int attr_is_seq(const mattr *a) {
  return a->type == MS_AT_TUPLE || a->type == MS_AT_LIST || span_starts(a->ref, "scalar:Tuple") ||
         span_starts(a->ref, "scalar:List");
}

tod_status ms_value_of_attr(mctx *c, const mnode *n, const mattr *a, int depth, const char *sfx, mval *v) {
  memset(v, 0, sizeof *v);
  if (depth > MS_MAX_ATTR_DEPTH) return ms_fail(c, TOD_GRAPH_FILE_ERR, "constant nested too deeply");
  if (a->type == MS_AT_UMONAD || a->type == MS_AT_IOMONAD || span_starts(a->ref, "Monad:")) {
    v->kind = MV_MONAD;
    return TOD_OK;
  }
  if (a->type == MS_AT_NONE || span_eq(a->ref, "none")) return TOD_OK;
  if (a->n_tensors && (a->type == MS_AT_TENSORS || a->type == 17 || span_starts(a->ref, "tensor:") ||
                       span_starts(a->ref, "type:") || !a->type)) {
    mtensor k;
    tod_status st = ms_tensor_decode(c, &a->parent, &a->tensors[0], &k);
    if (st != TOD_OK) return st;
    if (!k.has_data) return TOD_OK; /* a dtype object: no tensor value */
    char nm[1100];
    snprintf(nm, sizeof nm, "%s%s", n->irname, sfx);
    int t;
    if ((st = ms_add_const(c, nm, &k, &t)) != TOD_OK) return st;
    v->kind = MV_TENSOR;
    v->t = t;
    return TOD_OK;
  }
  /* A sequence of scalars becomes a 1-D tensor; nested sequences become tuples. */
  int nested = 0;
  for (int i = 0; i < a->n_values; i++)
    if (a->values[i].n_values || a->values[i].n_tensors || attr_is_seq(&a->values[i])) nested = 1;
  if (nested) {
    mval *items = ms_vals(c, a->n_values);
    if (!items) return ms_oom(c);
    for (int i = 0; i < a->n_values; i++) {
      char s2[64];
      snprintf(s2, sizeof s2, "%s_%d", sfx, i);
      tod_status st = ms_value_of_attr(c, n, &a->values[i], depth + 1, s2, &items[i]);
      if (st != TOD_OK) return st;
    }
    v->kind = MV_TUPLE;
    v->n = a->n_values;
    v->items = items;
    return TOD_OK;
  }
  int is_float = 0, count = 0;
  if (a->n_values) {
    count = a->n_values;
    for (int i = 0; i < a->n_values; i++)
      if (a->values[i].n_floats || a->values[i].has_f) is_float = 1;
  } else if (a->n_floats || (a->has_f && !a->has_i)) {
    is_float = 1;
    count = a->n_floats ? a->n_floats : 1;
  } else if (a->n_ints || a->has_i) {
    count = a->n_ints ? a->n_ints : 1;
  } else if (a->has_s || a->n_strings) {
    return TOD_OK; /* strings carry no tensor value here */
  } else if (!attr_is_seq(a)) {
    return TOD_OK;
  }
  int seq = attr_is_seq(a) || a->n_values || a->n_ints > 1 || a->n_floats > 1;
  char nm[1100];
  snprintf(nm, sizeof nm, "%s%s", n->irname, sfx);
  int t = ir_add_tensor(c->g, nm);
  if (t < 0) return ms_oom(c);
  ir_tensor *x = &c->g->tensors[t];
  x->dtype = is_float ? IR_DT_FLOAT32 : IR_DT_INT32;
  int64_t d = count;
  ir_tensor_set_shape(x, seq ? 1 : 0, &d);
  if (ir_tensor_set_data_copy(x, NULL, (size_t)count * 4) != TOD_OK) return ms_oom(c);
  for (int i = 0; i < count; i++) {
    const mattr *e = a->n_values ? &a->values[i] : a;
    int j = a->n_values ? 0 : i;
    double fv = e->n_floats > j ? e->floats[j] : e->has_f ? e->f : e->n_ints > j ? (double)e->ints[j] : (double)e->i;
    int64_t iv = e->n_ints > j ? e->ints[j] : e->has_i ? e->i : (int64_t)fv;
    if (is_float) {
      float f = (float)fv;
      memcpy((uint8_t *)x->owned + 4 * i, &f, 4);
    } else {
      int32_t q = iv > INT32_MAX ? INT32_MAX : iv < INT32_MIN ? INT32_MIN : (int32_t)iv;
      memcpy((uint8_t *)x->owned + 4 * i, &q, 4);
    }
  }
  v->kind = MV_TENSOR;
  v->t = t;
  return TOD_OK;
}

