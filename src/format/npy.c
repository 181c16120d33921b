/* .npy reader and writer (NumPy's documented format: magic, version, header dict, raw data). */
#include "format/npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

tod_status tod_npy_read(const char *path, tod_npy *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  tod_mapped_file f;
  tod_status st = tod_map_file(path, &f, err, errlen);
  if (st != TOD_OK) return TOD_INPUT_PARAM_INVALID;
  const uint8_t *d = f.data;
  st = TOD_INPUT_PARAM_INVALID;
  if (f.size < 10 || memcmp(d, "\x93NUMPY", 6) != 0) {
    snprintf(err, errlen, "%s is not a .npy file", path);
    goto out;
  }
  size_t hl, ho;
  if (d[6] == 1) {
    hl = (size_t)d[8] | (size_t)d[9] << 8;
    ho = 10;
  } else if ((d[6] == 2 || d[6] == 3) && f.size >= 12) {
    hl = (size_t)d[8] | (size_t)d[9] << 8 | (size_t)d[10] << 16 | (size_t)d[11] << 24;
    ho = 12;
  } else {
    snprintf(err, errlen, "%s: unsupported .npy version %d", path, d[6]);
    goto out;
  }
  if (hl > f.size - ho) {
    snprintf(err, errlen, "%s: truncated header", path);
    goto out;
  }
  const char *h = (const char *)d + ho;
  const char *p = find_key(h, hl, "descr");
  int dtype = 0;
  for (size_t i = 0; p && i < sizeof k_types / sizeof k_types[0]; i++)
    if ((size_t)(h + hl - p) > 4 && (p[0] == '\'' || p[0] == '"') && memcmp(p + 1, k_types[i].descr, 3) == 0 &&
        p[4] == p[0])
      dtype = k_types[i].dtype;
  if (!dtype) {
    snprintf(err, errlen, "%s: unsupported dtype (need little-endian bool/int/uint/float)", path);
    goto out;
  }
  p = find_key(h, hl, "fortran_order");
  if (!p || strncmp(p, "False", 5) != 0) {
    snprintf(err, errlen, "%s: Fortran-ordered arrays are not supported", path);
    goto out;
  }
  p = find_key(h, hl, "shape");
  if (!p || *p != '(') {
    snprintf(err, errlen, "%s: no shape in header", path);
    goto out;
  }
  p++;
  int nd = 0;
  size_t numel = 1;
  while (p < h + hl && *p != ')') {
    while (p < h + hl && (*p == ' ' || *p == ',')) p++;
    if (p >= h + hl || *p == ')') break;
    char *end;
    long long v = strtoll(p, &end, 10);
    if (end == p || v < 0 || nd >= 8 || end > h + hl) {
      snprintf(err, errlen, "%s: bad shape in header", path);
      goto out;
    }
    out->dims[nd++] = v;
    if (v && numel > (size_t)-1 / (size_t)v) {
      snprintf(err, errlen, "%s: shape too large", path);
      goto out;
    }
    numel *= (size_t)v;
    p = end;
  }
  size_t es = ir_dtype_size(dtype);
  size_t need = numel * es;
  if (es && need / es != numel) {
    snprintf(err, errlen, "%s: shape too large", path);
    goto out;
  }
  if (f.size - ho - hl < need) {
    snprintf(err, errlen, "%s: holds %zu data bytes, its shape needs %zu", path, f.size - ho - hl, need);
    goto out;
  }
  out->data = malloc(need ? need : 1);
  if (!out->data) {
    st = TOD_MEMORY_FAILED;
    goto out;
  }
  if (need) memcpy(out->data, d + ho + hl, need);
  out->dtype = dtype;
  out->ndim = nd;
  out->nbytes = need;
  st = TOD_OK;
out:
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
