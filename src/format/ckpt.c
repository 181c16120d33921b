/* MindSpore checkpoint (.ckpt) protobuf: writer and bounds-checked reader (ckpt.h). */
#include "format/ckpt.h"
#include "format/byte_order.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
  int dt;
  const char *name;
} k_types[] = {
    {IR_DT_FLOAT32, "Float32"}, {IR_DT_FLOAT16, "Float16"}, {IR_DT_FLOAT64, "Float64"},
    {IR_DT_INT32, "Int32"},     {IR_DT_INT64, "Int64"},     {IR_DT_INT16, "Int16"},
    {IR_DT_INT8, "Int8"},       {IR_DT_UINT8, "UInt8"},     {IR_DT_UINT16, "UInt16"},
    {IR_DT_UINT32, "UInt32"},   {IR_DT_UINT64, "UInt64"},   {IR_DT_BOOL, "Bool"},
};

const char *ckpt_dtype_name(int dtype) {
  for (size_t i = 0; i < sizeof k_types / sizeof k_types[0]; i++)
    if (k_types[i].dt == dtype) return k_types[i].name;
  return NULL;
}

int ckpt_dtype_from_name(const char *s, size_t len) {
  for (size_t i = 0; i < sizeof k_types / sizeof k_types[0]; i++)
    if (strlen(k_types[i].name) == len && memcmp(k_types[i].name, s, len) == 0) return k_types[i].dt;
  return IR_DT_UNKNOWN;
}

/* Byte size a shape and type need; 0 with *ok = 0 on overflow or an unknown type. */
static size_t shape_bytes(int dtype, int ndim, const int64_t *dims, int *ok) {
  size_t es = ir_dtype_size(dtype), n = 1;
  *ok = es != 0 && ndim >= 0 && ndim <= IR_MAX_DIMS;
  for (int d = 0; *ok && d < ndim; d++) {
    if (dims[d] < 0 || (dims[d] > 0 && n > SIZE_MAX / (size_t)dims[d])) *ok = 0;
    else n *= (size_t)dims[d];
  }
  if (!*ok || n > SIZE_MAX / es) {
    *ok = 0;
    return 0;
  }
  return n * es;
}

static size_t varint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) v >>= 7, n++;
  return n;
}

tod_status ckpt_serialize(const ckpt_value *v, int n, pb_buf *out, char *err, size_t errlen) {
  for (int i = 0; i < n; i++) {
    const char *tn = ckpt_dtype_name(v[i].dtype);
    int ok;
    size_t need = shape_bytes(v[i].dtype, v[i].ndim, v[i].dims, &ok);
    if (!tn || !ok || need != v[i].nbytes || !v[i].name || !v[i].name[0]) {
      snprintf(err, errlen, "checkpoint value %d (%s): bad type, shape or size", i, v[i].name ? v[i].name : "?");
      return TOD_PARAM_INVALID;
    }
    /* Canonical encoding (minimal length prefixes), as protoc and MindSpore write it. */
    size_t tl = 0, nl = strlen(v[i].name), tyl = strlen(tn);
    for (int d = 0; d < v[i].ndim; d++) tl += 1 + varint_len((uint64_t)v[i].dims[d]);
    tl += 1 + varint_len(tyl) + tyl + 1 + varint_len(v[i].nbytes) + v[i].nbytes;
    size_t vl = 1 + varint_len(nl) + nl + 1 + varint_len(tl) + tl;
    pb_put_tag(out, 1, PB_LEN);
    pb_put_varint(out, vl);
    pb_put_string(out, 1, v[i].name);
    pb_put_tag(out, 2, PB_LEN);
    pb_put_varint(out, tl);
    for (int d = 0; d < v[i].ndim; d++) pb_put_uint(out, 1, (uint64_t)v[i].dims[d]);
    pb_put_string(out, 2, tn);
    pb_put_bytes(out, 3, v[i].data, v[i].nbytes);
  }
  if (pb_buf_status(out) != TOD_OK) {
    snprintf(err, errlen, "out of memory while serializing a checkpoint");
    return TOD_MEMORY_FAILED;
  }
  return TOD_OK;
}

tod_status ckpt_sync_dir_of(const char *path, char *err, size_t errlen) {
  const char *slash = strrchr(path, '/');
  char dir[4096];
  if (!slash) snprintf(dir, sizeof dir, ".");
  else if (slash == path) snprintf(dir, sizeof dir, "/");
  else if ((size_t)(slash - path) < sizeof dir) snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  else {
    snprintf(err, errlen, "path too long: %s", path);
    return TOD_PARAM_INVALID;
  }
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "cannot open directory %s: %s", dir, strerror(errno));
    return TOD_ERROR;
  }
  int rc = fsync(fd);
  /* Some file systems refuse fsync on a directory (EINVAL): nothing more can be done there. */
  int e = errno;
  close(fd);
  if (rc != 0 && e != EINVAL) {
    snprintf(err, errlen, "cannot sync directory %s: %s", dir, strerror(e));
    return TOD_ERROR;
  }
  return TOD_OK;
}

tod_status ckpt_write_file(const char *path, const ckpt_value *v, int n, char *err, size_t errlen) {
  pb_buf b = {0};
  tod_status st = ckpt_serialize(v, n, &b, err, errlen);
  if (st == TOD_OK) st = tod_write_file_atomic(path, b.data, b.len, err, errlen);
  if (st == TOD_OK) st = ckpt_sync_dir_of(path, err, errlen);
  pb_buf_free(&b);
  return st;
}

/* --- reader -------------------------------------------------------------------------------- */

#define BAD(...) (snprintf(err, errlen, __VA_ARGS__), TOD_GRAPH_FILE_ERR)

static tod_status parse_tensor(const pb_reader *parent, const pb_field *tf, ckpt_value *v, const char *name,
                               char *err, size_t errlen) {
  pb_reader r;
  if (pb_sub(parent, tf, &r) != TOD_OK) return BAD("checkpoint value %s: tensor is not a message", name);
  pb_field f;
  int rc, have_type = 0, have_content = 0;
  v->ndim = 0;
  while ((rc = pb_next(&r, &f)) == 1) {
    if (f.num == 1 && f.wire == PB_VARINT) {
      if (v->ndim >= IR_MAX_DIMS) return BAD("checkpoint value %s: more than %d dims", name, IR_MAX_DIMS);
      v->dims[v->ndim++] = (int64_t)f.v;
    } else if (f.num == 1 && f.wire == PB_LEN) {
      int64_t k = pb_count_packed_varints(f.data, f.len);
      if (k < 0 || v->ndim + k > IR_MAX_DIMS) return BAD("checkpoint value %s: bad dims", name);
      uint64_t tmp[IR_MAX_DIMS];
      if (pb_decode_packed_varints(f.data, f.len, tmp, (size_t)k) != TOD_OK)
        return BAD("checkpoint value %s: bad dims", name);
      for (int64_t i = 0; i < k; i++) v->dims[v->ndim++] = (int64_t)tmp[i];
    } else if (f.num == 2 && f.wire == PB_LEN) {
      v->dtype = ckpt_dtype_from_name((const char *)f.data, f.len);
      if (v->dtype == IR_DT_UNKNOWN)
        return BAD("checkpoint value %s: unsupported tensor_type '%.*s'", name, (int)(f.len > 32 ? 32 : f.len),
                   (const char *)f.data);
      have_type = 1;
    } else if (f.num == 3 && f.wire == PB_LEN) {
      v->data = f.data;
      v->nbytes = f.len;
      have_content = 1;
    }
  }
  if (rc < 0) return BAD("checkpoint value %s: truncated or corrupt tensor", name);
  if (!have_type || !have_content) return BAD("checkpoint value %s: tensor_type or tensor_content missing", name);
  int ok;
  size_t need = shape_bytes(v->dtype, v->ndim, v->dims, &ok);
  if (!ok || need != v->nbytes)
    return BAD("checkpoint value %s: %zu content bytes do not match its shape and type", name, v->nbytes);
  return TOD_OK;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

tod_status ckpt_parse(const uint8_t *data, size_t size, ckpt_file *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!tod_host_is_little_endian()) {
    snprintf(err, errlen, "%s", TOD_BIG_ENDIAN_MESSAGE);
    return TOD_NOT_SUPPORT;
  }
  pb_reader r, rv;
  pb_field f, g;
  int rc, count = 0;
  size_t name_bytes = 0;
  /* Pass 1: count values and the bytes their names need, checking the outer framing. */
  pb_reader_init(&r, data, size);
  while ((rc = pb_next(&r, &f)) == 1) {
    if (f.num != 1) continue;
    if (f.wire != PB_LEN) return BAD("checkpoint: field 1 is not a message");
    if (count == INT32_MAX) return BAD("checkpoint: too many values");
    count++;
    if (pb_sub(&r, &f, &rv) != TOD_OK) return BAD("checkpoint: bad value %d", count);
    int have_tag = 0;
    while ((rc = pb_next(&rv, &g)) == 1)
      if (g.num == 1 && g.wire == PB_LEN) {
        if (g.len == 0 || memchr(g.data, 0, g.len)) return BAD("checkpoint: value %d has an empty or bad tag", count);
        name_bytes += g.len + 1;
        have_tag = 1;
      }
    if (rc < 0) return BAD("checkpoint: value %d is truncated or corrupt", count);
    if (!have_tag) return BAD("checkpoint: value %d has no tag", count);
  }
  if (rc < 0) return BAD("checkpoint: truncated or corrupt (%zu bytes)", size);
  if (count == 0) return BAD("checkpoint: no values (%zu bytes)", size);
  out->values = calloc((size_t)count, sizeof *out->values);
  out->names = malloc(name_bytes);
  if (!out->values || !out->names) {
    ckpt_file_free(out);
    snprintf(err, errlen, "out of memory");
    return TOD_MEMORY_FAILED;
  }
  /* Pass 2: decode. */
  char *np = out->names;
  pb_reader_init(&r, data, size);
  while (pb_next(&r, &f) == 1) {
    if (f.num != 1) continue;
    ckpt_value *v = &out->values[out->n];
    pb_sub(&r, &f, &rv);
    pb_field tensor = {0};
    int have_tensor = 0;
    v->name = NULL;
    while (pb_next(&rv, &g) == 1) {
      if (g.num == 1 && g.wire == PB_LEN) {
        memcpy(np, g.data, g.len);
        np[g.len] = 0;
        v->name = np;
        np += g.len + 1;
      } else if (g.num == 2 && g.wire == PB_LEN) {
        tensor = g;
        have_tensor = 1;
      }
    }
    tod_status st = TOD_OK;
    if (!have_tensor) st = BAD("checkpoint value %s has no tensor", v->name);
    else st = parse_tensor(&rv, &tensor, v, v->name, err, errlen);
    if (st != TOD_OK) {
      ckpt_file_free(out);
      return st;
    }
    out->n++;
  }
  /* Duplicate tags: sort the names (n log n even for a hostile file of many tiny values). */
  const char **sorted = malloc(sizeof *sorted * (size_t)out->n);
  if (!sorted) {
    ckpt_file_free(out);
    snprintf(err, errlen, "out of memory");
    return TOD_MEMORY_FAILED;
  }
  for (int i = 0; i < out->n; i++) sorted[i] = out->values[i].name;
  qsort(sorted, (size_t)out->n, sizeof *sorted, cmp_names);
  for (int i = 1; i < out->n; i++)
    if (strcmp(sorted[i - 1], sorted[i]) == 0) {
      tod_status st = BAD("checkpoint: value %s appears twice", sorted[i]);
      free(sorted);
      ckpt_file_free(out);
      return st;
    }
  free(sorted);
  return TOD_OK;
}

tod_status ckpt_read_file(const char *path, ckpt_file *out, char *err, size_t errlen) {
  tod_mapped_file mf;
  memset(out, 0, sizeof *out);
  tod_status st = tod_map_file(path, &mf, err, errlen);
  if (st != TOD_OK) return st;
  char e2[400] = "";
  st = ckpt_parse(mf.data, mf.size, out, e2, sizeof e2);
  if (st != TOD_OK) {
    snprintf(err, errlen, "%s: %s", path, e2);
    tod_unmap_file(&mf);
    return st;
  }
  out->file = mf;
  return TOD_OK;
}

void ckpt_file_free(ckpt_file *f) {
  free(f->values);
  free(f->names);
  tod_unmap_file(&f->file);
  memset(f, 0, sizeof *f);
}

const ckpt_value *ckpt_find(const ckpt_file *f, const char *name) {
  for (int i = 0; i < f->n; i++)
    if (strcmp(f->values[i].name, name) == 0) return &f->values[i];
  return NULL;
}
