/* .npy reader and writer (NumPy's documented format: magic, version, header dict, raw data). */
#include "format/npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/byte_order.h"
#include "format/file_io.h"
#include "ir/ir.h"

static const struct {
  const char *descr;
  int dtype;
} k_types[] = {
    {"<f4", IR_DT_FLOAT32}, {"<f8", IR_DT_FLOAT64}, {"<f2", IR_DT_FLOAT16}, {"<i4", IR_DT_INT32},
    {"<i8", IR_DT_INT64},   {"<i2", IR_DT_INT16},   {"|i1", IR_DT_INT8},    {"|u1", IR_DT_UINT8},
    {"|b1", IR_DT_BOOL},    {"<u2", IR_DT_UINT16},  {"<u4", IR_DT_UINT32},  {"<u8", IR_DT_UINT64},
};

void tod_npy_free(tod_npy *a) {
  free(a->data);
  a->data = NULL;
}

/* Finds 'key': in the header dict and returns a pointer just after the colon. */
static const char *find_key(const char *h, size_t n, const char *key) {
  size_t kl = strlen(key);
  for (size_t i = 0; i + kl + 2 < n; i++) {
    if ((h[i] == '\'' || h[i] == '"') && memcmp(h + i + 1, key, kl) == 0 && h[i + 1 + kl] == h[i]) {
      const char *p = h + i + kl + 2;
      while (p < h + n && (*p == ' ' || *p == ':')) p++;
      return p;
    }
  }
  return NULL;
}

/* The header is not NUL-terminated: every scan below stays inside [h, h + n). */
static int starts_with(const char *p, const char *end, const char *lit) {
  size_t l = strlen(lit);
  return (size_t)(end - p) >= l && memcmp(p, lit, l) == 0;
}

#define NPY_MAX_DIM 0x7fffffffLL /* .ms shapes are int32 */

tod_status tod_npy_parse(const uint8_t *d, size_t size, const char *path, tod_npy *out, char *err,
                         size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!tod_host_is_little_endian()) { /* '<' arrays would need swapping: not supported */
    snprintf(err, errlen, "%s", TOD_BIG_ENDIAN_MESSAGE);
    return TOD_NOT_SUPPORT;
  }
  if (!path) path = "npy";
  if (!d || size < 10 || memcmp(d, "\x93NUMPY", 6) != 0) {
    snprintf(err, errlen, "%s is not a .npy file", path);
    return TOD_INPUT_PARAM_INVALID;
  }
  size_t hl, ho;
  if (d[6] == 1) {
    hl = (size_t)d[8] | (size_t)d[9] << 8;
    ho = 10;
  } else if ((d[6] == 2 || d[6] == 3) && size >= 12) {
    hl = (size_t)d[8] | (size_t)d[9] << 8 | (size_t)d[10] << 16 | (size_t)d[11] << 24;
    ho = 12;
  } else {
    snprintf(err, errlen, "%s: unsupported .npy version %d", path, d[6]);
    return TOD_INPUT_PARAM_INVALID;
  }
  if (hl > size - ho) {
    snprintf(err, errlen, "%s: truncated header (%zu bytes declared, %zu present)", path, hl, size - ho);
    return TOD_INPUT_PARAM_INVALID;
  }
  const char *h = (const char *)d + ho, *end = h + hl;
  const char *p = find_key(h, hl, "descr");
  int dtype = 0;
  for (size_t i = 0; p && i < sizeof k_types / sizeof k_types[0]; i++)
    if (end - p > 4 && (p[0] == '\'' || p[0] == '"') && memcmp(p + 1, k_types[i].descr, 3) == 0 && p[4] == p[0])
      dtype = k_types[i].dtype;
  if (!dtype) {
    snprintf(err, errlen, "%s: unsupported dtype (need little-endian bool/int/uint/float)", path);
    return TOD_INPUT_PARAM_INVALID;
  }
  p = find_key(h, hl, "fortran_order");
  if (!p || !starts_with(p, end, "False")) {
    snprintf(err, errlen, "%s: Fortran-ordered arrays are not supported", path);
    return TOD_INPUT_PARAM_INVALID;
  }
  p = find_key(h, hl, "shape");
  if (!p || p >= end || *p != '(') {
    snprintf(err, errlen, "%s: no shape in header", path);
    return TOD_INPUT_PARAM_INVALID;
  }
  p++;
  int nd = 0;
  size_t es = ir_dtype_size(dtype);
  /* the byte size of the non-zero dims, so that even an empty array has a representable shape */
  size_t bytes_nz = es;
  int closed = 0;
  while (p < end) {
    while (p < end && (*p == ' ' || *p == ',')) p++;
    if (p < end && *p == ')') {
      closed = 1;
      break;
    }
    if (p >= end || *p < '0' || *p > '9' || nd >= 8) break;
    long long v = 0;
    while (p < end && *p >= '0' && *p <= '9') {
      v = v * 10 + (*p++ - '0');
      if (v > NPY_MAX_DIM) {
        snprintf(err, errlen, "%s: dimension %d exceeds %lld", path, nd, NPY_MAX_DIM);
        return TOD_INPUT_PARAM_INVALID;
      }
    }
    if (p < end && *p == 'L') p++; /* Python 2 longs */
    out->dims[nd++] = v;
    if (v && bytes_nz > ((size_t)INT64_MAX) / (size_t)v) {
      snprintf(err, errlen, "%s: shape too large", path);
      return TOD_INPUT_PARAM_INVALID;
    }
    if (v) bytes_nz *= (size_t)v;
  }
  if (!closed) {
    snprintf(err, errlen, "%s: bad shape in header", path);
    return TOD_INPUT_PARAM_INVALID;
  }
  size_t need = bytes_nz;
  for (int i = 0; i < nd; i++)
    if (out->dims[i] == 0) need = 0;
  if (size - ho - hl < need) {
    snprintf(err, errlen, "%s: holds %zu data bytes, its shape needs %zu", path, size - ho - hl, need);
    return TOD_INPUT_PARAM_INVALID;
  }
  out->data = malloc(need ? need : 1);
  if (!out->data) {
    snprintf(err, errlen, "%s: cannot allocate %zu bytes", path, need);
    return TOD_MEMORY_FAILED;
  }
  if (need) memcpy(out->data, d + ho + hl, need);
  out->dtype = dtype;
  out->ndim = nd;
  out->nbytes = need;
  return TOD_OK;
}

tod_status tod_npy_read(const char *path, tod_npy *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  tod_mapped_file f;
  tod_status st = tod_map_file(path, &f, err, errlen);
  if (st != TOD_OK) return TOD_INPUT_PARAM_INVALID;
  st = tod_npy_parse(f.data, f.size, path, out, err, errlen);
  tod_unmap_file(&f);
  return st;
}

tod_status tod_npy_write(const char *path, int dtype, int ndim, const int64_t *dims,
                         const void *data, size_t nbytes, char *err, size_t errlen) {
  const char *descr = NULL;
  for (size_t i = 0; i < sizeof k_types / sizeof k_types[0]; i++)
    if (k_types[i].dtype == dtype) descr = k_types[i].descr;
  if (!descr) {
    snprintf(err, errlen, "cannot write dtype %d to .npy", dtype);
    return TOD_NOT_SUPPORT;
  }
  char shape[256] = "";
  size_t k = 0;
  for (int i = 0; i < ndim; i++)
    k += (size_t)snprintf(shape + k, sizeof shape - k, "%lld%s", (long long)dims[i],
                          ndim == 1 ? "," : (i + 1 < ndim ? ", " : ""));
  char header[400];
  int hl = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                    descr, shape);
  /* Pad with spaces so data starts 64-byte aligned; the header ends with a newline. */
  int total = 10 + hl + 1;
  int pad = (64 - total % 64) % 64;
  size_t size = (size_t)total + (size_t)pad + nbytes;
  uint8_t *buf = malloc(size);
  if (!buf) return TOD_MEMORY_FAILED;
  memcpy(buf, "\x93NUMPY\x01\x00", 8);
  int hlen = hl + pad + 1;
  buf[8] = (uint8_t)(hlen & 0xff);
  buf[9] = (uint8_t)(hlen >> 8);
  memcpy(buf + 10, header, (size_t)hl);
  memset(buf + 10 + hl, ' ', (size_t)pad);
  buf[10 + hl + pad] = '\n';
  if (nbytes) memcpy(buf + total + pad, data, nbytes);
  tod_status st = tod_write_file_atomic(path, buf, size, err, errlen);
  free(buf);
  return st;
}
