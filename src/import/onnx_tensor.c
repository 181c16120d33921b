/* ONNX importer: tensors. TensorProto decoding (raw, typed and external data), constants
 * created by the translators, and reading constant values back. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/file_io.h"
#include "import/onnx_internal.h"
#include "ir/source_pages.h"

/* --- tensors and nodes ------------------------------------------------------------------- */

int onnx_dtype_to_ir(int64_t t) {
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
    case 11: return IR_DT_FLOAT64;
    case 12: return IR_DT_UINT32;
    case 13: return IR_DT_UINT64;
    default: return IR_DT_UNKNOWN; /* string, complex, bfloat16, float8 */
  }
}

tod_status onnx_new_tensor(onnx_ctx *c, const char *name, int *idx) {
  *idx = ir_add_tensor(c->g, name);
  return *idx < 0 ? onnx_oom(c) : TOD_OK;
}

tod_status onnx_tmp(onnx_ctx *c, const onnx_node *n, const char *suffix, int *idx) {
  size_t len = strlen(n->name) + strlen(suffix) + 2;
  char *name = malloc(len);
  if (!name) return onnx_oom(c);
  snprintf(name, len, "%s/%s", n->name, suffix);
  tod_status st = onnx_new_tensor(c, name, idx);
  free(name);
  return st;
}

tod_status onnx_emit(onnx_ctx *c, int op, const char *name, const int *in, int n_in,
                     const int *out, int n_out, ir_node **node) {
  int k = ir_add_node(c->g, op, name, in, n_in, out, n_out);
  if (k < 0) return onnx_oom(c);
  if (node) *node = &c->g->nodes[k];
  return TOD_OK;
}

void onnx_const_free(onnx_const *k) {
  free(k->owned);
  k->owned = NULL;
  k->data = NULL;
}

tod_status onnx_add_const(onnx_ctx *c, const char *name, onnx_const *k, int *idx) {
  tod_status st = onnx_new_tensor(c, name, idx);
  if (st != TOD_OK) {
    onnx_const_free(k);
    return st;
  }
  ir_tensor *t = &c->g->tensors[*idx];
  t->dtype = k->dtype;
  ir_tensor_set_shape(t, k->ndim, k->dims);
  t->format = IR_FMT_NCHW;
  if (k->owned) {
    ir_tensor_set_data_owned(t, k->owned, k->nbytes);
  } else if (k->nbytes) {
    ir_tensor_set_data_borrow(t, k->data, k->nbytes);
  } else if ((st = ir_tensor_set_data_copy(t, NULL, 0)) != TOD_OK) {
    return onnx_oom(c);
  }
  k->owned = NULL;
  k->data = NULL;
  return TOD_OK;
}

static tod_status const_named(onnx_ctx *c, const onnx_node *n, const char *suffix, int dtype,
                              const void *v, size_t esz, int count, int ndim, int *idx) {
  onnx_const k;
  memset(&k, 0, sizeof k);
  k.dtype = dtype;
  k.ndim = ndim;
  if (ndim == 1) k.dims[0] = count;
  k.nbytes = esz * (size_t)count;
  k.owned = malloc(k.nbytes ? k.nbytes : 1);
  if (!k.owned) return onnx_oom(c);
  if (k.nbytes) memcpy(k.owned, v, k.nbytes);
  k.data = k.owned;
  size_t len = strlen(n->name) + strlen(suffix) + 2;
  char *name = malloc(len);
  if (!name) {
    onnx_const_free(&k);
    return onnx_oom(c);
  }
  snprintf(name, len, "%s/%s", n->name, suffix);
  tod_status st = onnx_add_const(c, name, &k, idx);
  free(name);
  return st;
}

tod_status onnx_const_i32(onnx_ctx *c, const onnx_node *n, const char *suffix, const int32_t *v,
                          int count, int ndim, int *idx) {
  return const_named(c, n, suffix, IR_DT_INT32, v, sizeof(int32_t), count, ndim, idx);
}

tod_status onnx_const_f32(onnx_ctx *c, const onnx_node *n, const char *suffix, const float *v,
                          int count, int ndim, int *idx) {
  return const_named(c, n, suffix, IR_DT_FLOAT32, v, sizeof(float), count, ndim, idx);
}

int onnx_const_ints(onnx_ctx *c, int idx, int64_t **v, int64_t *count) {
  *v = NULL;
  *count = 0;
  if (idx < 0 || idx >= c->g->n_tensors) return 0;
  const ir_tensor *t = &c->g->tensors[idx];
  if (t->kind != IR_TENSOR_CONST || t->ndim < 0) return 0;
  size_t esz = ir_dtype_size(t->dtype);
  int is_int = t->dtype == IR_DT_INT32 || t->dtype == IR_DT_INT64 || t->dtype == IR_DT_INT8 ||
               t->dtype == IR_DT_INT16 || t->dtype == IR_DT_UINT8;
  if (!is_int || !esz) return 0;
  int64_t n = ir_tensor_numel(t);
  if (n < 0 || (size_t)n * esz != t->nbytes) return 0;
  int64_t *out = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
  if (!out) return -1;
  const uint8_t *p = t->data;
  for (int64_t i = 0; i < n; i++) {
    switch (t->dtype) {
      case IR_DT_INT64: { int64_t x; memcpy(&x, p + 8 * i, 8); out[i] = x; break; }
      case IR_DT_INT32: { int32_t x; memcpy(&x, p + 4 * i, 4); out[i] = x; break; }
      case IR_DT_INT16: { int16_t x; memcpy(&x, p + 2 * i, 2); out[i] = x; break; }
      case IR_DT_INT8: out[i] = (int8_t)p[i]; break;
      default: out[i] = p[i]; break;
    }
  }
  *v = out;
  *count = n;
  return 1;
}

int onnx_const_scalar(const onnx_ctx *c, int idx, double *v) {
  if (idx < 0 || idx >= c->g->n_tensors) return 0;
  const ir_tensor *t = &c->g->tensors[idx];
  if (t->kind != IR_TENSOR_CONST || ir_tensor_numel(t) != 1) return 0;
  size_t esz = ir_dtype_size(t->dtype);
  if (!esz || t->nbytes != esz || !t->data) return 0;
  const uint8_t *p = t->data;
  switch (t->dtype) {
    case IR_DT_FLOAT32: { float x; memcpy(&x, p, 4); *v = x; return 1; }
    case IR_DT_FLOAT64: { double x; memcpy(&x, p, 8); *v = x; return 1; }
    case IR_DT_INT64: { int64_t x; memcpy(&x, p, 8); *v = (double)x; return 1; }
    case IR_DT_INT32: { int32_t x; memcpy(&x, p, 4); *v = x; return 1; }
    case IR_DT_INT8: *v = (int8_t)p[0]; return 1;
    case IR_DT_UINT8: *v = p[0]; return 1;
    default: return 0;
  }
}

/* --- TensorProto ------------------------------------------------------------------------- */

/* Decimal string from external_data (offset/length): digits only, no overflow. */
static int parse_u64(onnx_str s, uint64_t *v) {
  if (!s.n || s.n > 19) return 0;
  uint64_t x = 0;
  for (size_t i = 0; i < s.n; i++) {
    if (s.p[i] < '0' || s.p[i] > '9') return 0;
    x = x * 10 + (uint64_t)(s.p[i] - '0');
  }
  *v = x;
  return 1;
}

/* External data must stay inside model_dir: relative, no "..", no NUL or backslash. */
static int safe_relative_path(onnx_str s) {
  if (!s.n || s.p[0] == '/') return 0;
  size_t start = 0;
  for (size_t i = 0; i <= s.n; i++) {
    if (i < s.n && (s.p[i] == 0 || s.p[i] == '\\')) return 0;
    if (i == s.n || s.p[i] == '/') {
      if (i - start == 2 && s.p[start] == '.' && s.p[start + 1] == '.') return 0;
      start = i + 1;
    }
  }
  return 1;
}

static tod_status read_external(onnx_ctx *c, onnx_str loc, int has_off, uint64_t off,
                                int has_len, uint64_t len, size_t want, onnx_const *out,
                                const char *tname) {
  char b[128];
  if (!c->model_dir)
    return onnx_fail(c, TOD_GRAPH_FILE_ERR, "tensor '%s' has external data but no model directory is known", tname);
  if (!safe_relative_path(loc))
    return onnx_fail(c, TOD_GRAPH_FILE_ERR, "tensor '%s' external data path '%s' leaves the model directory",
                     tname, onnx_show(loc, b, sizeof b));
  size_t dl = strlen(c->model_dir), plen = dl + 1 + loc.n + 1;
  char *path = malloc(plen);
  if (!path) return onnx_oom(c);
  memcpy(path, c->model_dir, dl);
  path[dl] = '/';
  memcpy(path + dl + 1, loc.p, loc.n);
  path[dl + 1 + loc.n] = 0;
  tod_mapped_file m;
  char merr[256] = "";
  tod_status st = tod_map_file(path, &m, merr, sizeof merr);
  free(path);
  if (st != TOD_OK)
    return onnx_fail(c, TOD_GRAPH_FILE_ERR, "tensor '%s' external data: %s", tname, merr);
  if (!has_off) off = 0;
  if (off > m.size) {
    tod_unmap_file(&m);
    return onnx_fail(c, TOD_GRAPH_FILE_ERR, "tensor '%s' external data offset %llu is past the end of the file",
                     tname, (unsigned long long)off);
  }
  if (!has_len) len = m.size - off;
  if (len > m.size - off || len != want) {
    tod_unmap_file(&m);
    return onnx_fail(c, TOD_GRAPH_FILE_ERR, "tensor '%s' external data length %llu does not match its %zu bytes",
                     tname, (unsigned long long)len, want);
  }
  out->owned = malloc(want ? want : 1);
  if (!out->owned) {
    tod_unmap_file(&m);
    return onnx_oom(c);
  }
  if (want) memcpy(out->owned, m.data + off, want);
  out->data = out->owned;
  out->nbytes = want;
  tod_unmap_file(&m);
  return TOD_OK;
}

/* Counts the elements of a repeated scalar field occurrence (packed or not). elem: byte size of
 * a fixed element, 0 for varints. -1 when malformed. */
int64_t onnx_count_elems(const pb_field *f, int elem) {
  if (f->wire == PB_LEN) {
    if (!elem) return pb_count_packed_varints(f->data, f->len);
    return f->len % (size_t)elem ? -1 : (int64_t)(f->len / (size_t)elem);
  }
  int want = elem == 0 ? PB_VARINT : elem == 4 ? PB_FIXED32 : PB_FIXED64;
  return f->wire == want ? 1 : -1;
}

/* Appends the elements of one occurrence as uint64 bit patterns to out (room checked). */
void onnx_decode_elems(const pb_field *f, int elem, uint64_t *out, int64_t *k) {
  if (f->wire != PB_LEN) {
    out[(*k)++] = f->v;
    return;
  }
  if (!elem) {
    int64_t n = pb_count_packed_varints(f->data, f->len);
    pb_decode_packed_varints(f->data, f->len, out + *k, (size_t)n);
    *k += n;
    return;
  }
  for (size_t i = 0; i + (size_t)elem <= f->len; i += (size_t)elem)
    out[(*k)++] = elem == 4 ? pb_load_le32(f->data + i) : pb_load_le64(f->data + i);
}

tod_status onnx_decode_tensor(onnx_ctx *c, const pb_reader *parent, const pb_field *tf,
                              onnx_const *out) {
  memset(out, 0, sizeof *out);
  pb_reader r;
  if (pb_sub(parent, tf, &r) != TOD_OK) return onnx_malformed(c, "TensorProto");
  /* Pass 1: metadata and element counts. Typed fields are field numbers 4,5,7,10,11. */
  int64_t onnx_type = 0, location = 0, n_dims = 0, counts[12] = {0};
  int has_raw = 0, n_ext = 0;
  pb_field raw = {0}, f;
  int rc;
  pb_reader r1 = r;
  while ((rc = pb_next(&r1, &f)) == 1) {
    switch (f.num) {
      case 1: {
        int64_t k = onnx_count_elems(&f, 0);
        if (k < 0) return onnx_malformed(c, "TensorProto.dims");
        n_dims += k;
        break;
      }
      case 2: if (f.wire != PB_VARINT) return onnx_malformed(c, "TensorProto"); onnx_type = (int64_t)f.v; break;
      case 3: return onnx_fail(c, TOD_NOT_SUPPORT, "segmented tensors are not supported");
      case 4: case 5: case 7: case 10: case 11: {
        int elem = f.num == 4 ? 4 : f.num == 10 ? 8 : 0;
        int64_t k = onnx_count_elems(&f, elem);
        if (k < 0) return onnx_malformed(c, "TensorProto data");
        counts[f.num] += k;
        break;
      }
      case 6: return onnx_fail(c, TOD_NOT_SUPPORT, "string tensors are not supported");
      case 8: if (f.wire != PB_LEN) return onnx_malformed(c, "TensorProto"); out->name = onnx_field_str(&f); break;
      case 9: if (f.wire != PB_LEN) return onnx_malformed(c, "TensorProto"); raw = f; has_raw = 1; break;
      case 13: if (f.wire != PB_LEN) return onnx_malformed(c, "TensorProto"); n_ext++; break;
      case 14: if (f.wire != PB_VARINT) return onnx_malformed(c, "TensorProto"); location = (int64_t)f.v; break;
      default: break;
    }
  }
  if (rc < 0) return onnx_malformed(c, "TensorProto");
  char tname[128];
  onnx_show(out->name, tname, sizeof tname);
  if (n_dims > IR_MAX_DIMS)
    return onnx_fail(c, TOD_NOT_SUPPORT, "tensor '%s' has rank %lld (at most %d supported)", tname,
                     (long long)n_dims, IR_MAX_DIMS);
  out->dtype = onnx_dtype_to_ir(onnx_type);
  if (out->dtype == IR_DT_UNKNOWN)
    return onnx_fail(c, onnx_type >= 1 && onnx_type <= 23 ? TOD_NOT_SUPPORT : TOD_GRAPH_FILE_ERR,
                     "tensor '%s' has data type %lld: not supported", tname, (long long)onnx_type);
  /* Pass 2: dims and the external-data entries. */
  uint64_t dims[IR_MAX_DIMS];
  int64_t nd = 0;
  onnx_str loc = {0};
  uint64_t off = 0, len = 0;
  int has_loc = 0, has_off = 0, has_len = 0;
  pb_reader r2 = r;
  while (pb_next(&r2, &f) == 1) {
    if (f.num == 1) {
      onnx_decode_elems(&f, 0, dims, &nd);
    } else if (f.num == 13) {
      pb_reader e;
      pb_field ef;
      onnx_str key = {0}, val = {0};
      if (pb_sub(&r2, &f, &e) != TOD_OK) return onnx_malformed(c, "TensorProto.external_data");
      while ((rc = pb_next(&e, &ef)) == 1) {
        if (ef.wire != PB_LEN) continue;
        if (ef.num == 1) key = onnx_field_str(&ef);
        if (ef.num == 2) val = onnx_field_str(&ef);
      }
      if (rc < 0) return onnx_malformed(c, "TensorProto.external_data");
      if (onnx_span_eq(key, "location")) {
        loc = val;
        has_loc = 1;
      } else if (onnx_span_eq(key, "offset")) {
        if (!parse_u64(val, &off)) return onnx_fail(c, TOD_GRAPH_FILE_ERR, "tensor '%s' has a bad external offset", tname);
        has_off = 1;
      } else if (onnx_span_eq(key, "length")) {
        if (!parse_u64(val, &len)) return onnx_fail(c, TOD_GRAPH_FILE_ERR, "tensor '%s' has a bad external length", tname);
        has_len = 1;
      }
    }
  }
  out->ndim = (int)nd;
  /* Element count with an overflow guard: anything above 2^48 bytes cannot be a real model. */
  uint64_t numel = 1;
  for (int i = 0; i < out->ndim; i++) {
    if ((int64_t)dims[i] < 0)
      return onnx_fail(c, TOD_GRAPH_FILE_ERR, "tensor '%s' has a negative dimension", tname);
    out->dims[i] = (int64_t)dims[i];
    if (dims[i] && numel > (UINT64_C(1) << 48) / dims[i])
      return onnx_fail(c, TOD_GRAPH_FILE_ERR, "tensor '%s' is too large", tname);
    numel *= dims[i];
  }
  size_t esz = ir_dtype_size(out->dtype);
  if (numel > ((UINT64_C(1) << 48) / esz) || numel * esz > SIZE_MAX)
    return onnx_fail(c, TOD_GRAPH_FILE_ERR, "tensor '%s' is too large", tname);
  size_t want = (size_t)(numel * esz);

  if (location == 1) {
    if (!has_loc) return onnx_fail(c, TOD_GRAPH_FILE_ERR, "tensor '%s' has external data without a location", tname);
    return read_external(c, loc, has_off, off, has_len, len, want, out, tname);
  }
  if (location != 0) return onnx_fail(c, TOD_GRAPH_FILE_ERR, "tensor '%s' has data_location %lld", tname, (long long)location);
  if (has_raw) {
    if (raw.len != want)
      return onnx_fail(c, TOD_GRAPH_FILE_ERR, "tensor '%s' raw_data holds %zu bytes, its shape needs %zu",
                       tname, raw.len, want);
    out->nbytes = want;
    /* ONNX raw_data is little-endian, as are the hosts tod runs on. Borrow when aligned so that
     * large weights are never copied; else copy so kernels may load them directly. */
    if (want && (((uintptr_t)raw.data % esz) == 0 || (c->defer && want >= ONNX_DEFER_MIN))) {
      out->data = raw.data;
    } else {
      out->owned = ir_weights_malloc(want);
      if (!out->owned) return onnx_oom(c);
      /* The copy is the tensor now: a converter's source mapping gives the pages back as the
       * copy goes, so a large weight is never resident twice. */
      const size_t step = IR_SOURCE_RELEASE_STEP;
      for (size_t done = 0; done < want;) {
        const size_t n = want - done < step ? want - done : step;
        memcpy((uint8_t *)out->owned + done, (const uint8_t *)raw.data + done, n);
        done += n;
        ir_source_release_around(raw.data, n);
      }
      out->data = out->owned;
    }
    return TOD_OK;
  }
  /* Typed storage: which field holds which data type is fixed by onnx.proto. */
  int field;
  switch (out->dtype) {
    case IR_DT_FLOAT32: field = 4; break;
    case IR_DT_INT64: field = 7; break;
    case IR_DT_FLOAT64: field = 10; break;
    case IR_DT_UINT32: case IR_DT_UINT64: field = 11; break;
    default: field = 5; break; /* int32, int16, int8, uint16, uint8, bool, float16 */
  }
  for (int k = 4; k <= 11; k++)
    if (k != field && counts[k])
      return onnx_fail(c, TOD_GRAPH_FILE_ERR, "tensor '%s' stores %s data in the wrong field", tname,
                       ir_dtype_name(out->dtype));
  if ((uint64_t)counts[field] != numel)
    return onnx_fail(c, TOD_GRAPH_FILE_ERR, "tensor '%s' has %lld values, its shape needs %llu", tname,
                     (long long)counts[field], (unsigned long long)numel);
  /* numel <= counts <= file size here, so these allocations are bounded by the input. */
  uint64_t *bits = malloc(sizeof(uint64_t) * (size_t)(numel ? numel : 1));
  out->owned = malloc(want ? want : 1);
  if (!bits || !out->owned) {
    free(bits);
    onnx_const_free(out);
    return onnx_oom(c);
  }
  int64_t k = 0;
  pb_reader r3 = r;
  while (pb_next(&r3, &f) == 1)
    if ((int)f.num == field && k < (int64_t)numel) {
      int elem = field == 4 ? 4 : field == 10 ? 8 : 0;
      if (onnx_count_elems(&f, elem) > (int64_t)numel - k) break;
      onnx_decode_elems(&f, elem, bits, &k);
    }
  uint8_t *dst = out->owned;
  for (uint64_t i = 0; i < numel; i++) {
    uint64_t b = bits[i];
    switch (esz) {
      case 1: dst[i] = (uint8_t)b; break;
      case 2: { uint16_t x = (uint16_t)b; memcpy(dst + 2 * i, &x, 2); break; }
      case 4: { uint32_t x = (uint32_t)b; memcpy(dst + 4 * i, &x, 4); break; }
      default: memcpy(dst + 8 * i, &b, 8); break;
    }
  }
  free(bits);
  out->data = out->owned;
  out->nbytes = want;
  return TOD_OK;
}
