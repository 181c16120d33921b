/* Weight-quantization codec: channel axis, bit packing, decoding of stored codes to float
 * (ms-quant.md §2-§5). Used by the converter (packing) and the runtime (decoding). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir_op.h"
#include "ir/quant.h"

/* "MindSpore Lite x.y.z" -> x*10000 + y*100 + z; -1 for any other version string. */
static int msl_version(const char *v) {
  const char *pfx = "MindSpore Lite ";
  if (!v || strncmp(v, pfx, strlen(pfx)) != 0) return -1;
  /* strtol, not sscanf: the minimal runtime links nothing of stdio */
  long part[3];
  const char *p = v + strlen(pfx);
  for (int i = 0; i < 3; i++) {
    char *end;
    part[i] = strtol(p, &end, 10);
    if (end == p || (i < 2 && *end != '.')) return -1;
    p = end + 1;
  }
  long a = part[0], b = part[1], c = part[2];
  if (a < 0 || b < 0 || c < 0 || a > 9999 || b > 99 || c > 99) return -1;
  return (int)(a * 10000 + b * 100 + c);
}

static int gather_axis(const ir_graph *g, const ir_node *n, int ndim) {
  if (!g || n->n_in < 3 || n->in[2] < 0 || n->in[2] >= g->n_tensors) return 0;
  const ir_tensor *t = &g->tensors[n->in[2]];
  int64_t a = 0;
  if (!t->data) return 0;
  if (t->dtype == IR_DT_INT32 && t->nbytes >= 4) {
    int32_t v;
    memcpy(&v, t->data, 4);
    a = v;
  } else if (t->dtype == IR_DT_INT64 && t->nbytes >= 8) {
    memcpy(&a, t->data, 8);
  } else {
    return 0;
  }
  if (a < 0) a += ndim;
  return a >= 0 && a < ndim ? (int)a : 0;
}

int ir_quant_axis(const ir_graph *g, const ir_node *n, int input, int ndim, const char *version) {
  int ver = msl_version(version);
  if (ndim <= 0) return 0;
  if (ver < 10600) {
    if (n->op == IR_OP_MatMulFusion && ndim >= 2) {
      if (input == 1 && !ir_attr_int(n, "transpose_b", 0)) return 1;
      if (input == 0 && ir_attr_int(n, "transpose_a", 0)) return 1;
    }
    return 0;
  }
  switch (n->op) {
    case IR_OP_MatMulFusion:
      if (ndim < 2) return 0;
      if (input == 0) return ir_attr_int(n, "transpose_a", 0) ? ndim - 1 : ndim - 2;
      if (input == 1) return ir_attr_int(n, "transpose_b", 0) ? ndim - 2 : ndim - 1;
      return 0;
    case IR_OP_Conv2dTransposeFusion: {
      if (ver < 10800) return 0;
      int64_t in = ir_attr_int(n, "in_channel", 0), out = ir_attr_int(n, "out_channel", 0);
      int64_t grp = ir_attr_int(n, "group", 1);
      if (in == out && out == grp) return 0;
      return ndim - 1;
    }
    case IR_OP_Gather: return input == 0 ? gather_axis(g, n, ndim) : 0;
    default: return 0;
  }
}

size_t ir_quant_packed_size(int b, size_t n) {
  if (b <= 8) return (n * (size_t)b + 7) / 8;
  return 2 * ((n * (size_t)b + 15) / 16);
}

void ir_quant_pack(const int16_t *codes, size_t n, int b, uint8_t *out) {
  size_t len = ir_quant_packed_size(b, n);
  memset(out, 0, len);
  uint32_t off = 1u << (b - 1);
  size_t bit = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t v = (uint32_t)(codes[i] + (int32_t)off) & ((1u << b) - 1);
    for (int k = 0; k < b; k++, bit++)
      if (v >> k & 1) out[bit >> 3] |= (uint8_t)(1u << (bit & 7));
  }
}

void ir_quant_describe(const ir_tensor *t, ir_quant_desc *d) {
  memset(d, 0, sizeof *d);
  if (t->n_quant <= 0 && t->n_clusters <= 0) return;
  d->quantized = 1;
  d->channels = t->n_quant;
  d->bits = t->n_quant > 0 ? t->quant[0].num_bits : 8;
  if (t->n_quant <= 0) d->scheme = "codebook";
  else if (t->n_clusters > 0) d->scheme = "kmeans";
  else d->scheme = "linear";
  switch (t->compress_type) {
    case IR_QC_NONE:
      d->storage = (d->bits >= 1 && d->bits <= 15 && d->bits != 8) ? "bitpacking" : "raw";
      break;
    case IR_QC_BITPACKING: d->storage = "bitpacking"; break;
    case IR_QC_INDEXING: d->storage = "indexing"; break;
    case IR_QC_SPARSE: d->storage = "sparse"; break;
    default: d->storage = "fse"; break;
  }
}

/* --- decoding --------------------------------------------------------------------------------- */

typedef struct {
  const uint8_t *p;
  size_t nbits, pos;
} msb_reader;

/* Reads k (<= 32) bits MSB-first; returns 0 when the stream is too short. */
static int msb_read(msb_reader *r, int k, uint32_t *v) {
  if (k < 0 || k > 32 || r->pos + (size_t)k > r->nbits) return 0;
  uint32_t x = 0;
  for (int i = 0; i < k; i++, r->pos++) x = x << 1 | ((r->p[r->pos >> 3] >> (7 - (r->pos & 7))) & 1u);
  *v = x;
  return 1;
}

static int ceil_log2(uint32_t u) {
  int x = 0;
  while ((1ull << x) < u) x++;
  return x;
}

#define BAD(...)                             \
  do {                                       \
    snprintf(err, errlen, __VA_ARGS__);      \
    st = TOD_GRAPH_FILE_ERR;                 \
    goto out;                                \
  } while (0)

/* The U distinct codes of an INDEXING / SPARSE stream, unsigned b-bit fields minus 2^(b-1). */
static int read_unique(msb_reader *r, int b, int32_t *uniq, uint32_t *nu) {
  uint32_t u;
  if (!msb_read(r, b, &u)) return 0;
  if (u == 0) u = 1u << b;
  for (uint32_t i = 0; i < u; i++) {
    uint32_t v;
    if (!msb_read(r, b, &v)) return 0;
    uniq[i] = (int32_t)v - (int32_t)(1u << (b - 1));
  }
  *nu = u;
  return 1;
}

static inline int32_t code_at(const float *f, const uint8_t *data, int raw32, size_t i) {
  if (!raw32) return (int32_t)f[i];
  int32_t v;
  memcpy(&v, data + 4 * i, 4);
  return v;
}

tod_status ir_quant_decode(const ir_graph *g, const ir_tensor *t, const ir_node *n, int input,
                           float **out, char *err, size_t errlen) {
  tod_status st = TOD_OK;
  int32_t *uniq = NULL;
  int raw32 = 0; /* int32 codes are read from the data (a float cannot hold them all exactly) */
  float *f = NULL;
  *out = NULL;
  int64_t numel = ir_tensor_numel(t);
  if (numel < 0 || t->ndim < 0) BAD("tensor %s: unknown shape", t->name);
  size_t N = (size_t)numel;
  const uint8_t *data = t->data;
  if (!data && N) BAD("tensor %s: quantized tensor without data", t->name);
  /* The codes go into the output buffer first (as floats: exact up to 16 bits), then become
   * values in place: decoding needs no memory beyond the float tensor. */
  f = aligned_alloc(64, (sizeof *f * (N ? N : 1) + 63) & ~(size_t)63); /* SIMD-friendly, as in the file */
  if (!f) {
    snprintf(err, errlen, "out of memory decoding %s", t->name);
    st = TOD_MEMORY_FAILED;
    goto out;
  }
  if (t->n_quant <= 0) {
    /* MindSpore Lite's per-tensor codebook: clusters[int8 + 128] */
    if (t->dtype != IR_DT_INT8 || t->compress_type != IR_QC_NONE || t->nbytes < N)
      BAD("tensor %s: codebook tensor must be raw int8 with %zu bytes", t->name, N);
    for (size_t i = 0; i < N; i++) {
      int idx = (int)(int8_t)data[i] + 128;
      if (idx >= t->n_clusters) BAD("tensor %s: code %d outside its %d clusters", t->name, idx, t->n_clusters);
      f[i] = t->clusters[idx];
    }
    goto done;
  }
  int b = t->quant[0].num_bits;
  if (b < 1 || b > 16) BAD("tensor %s: numBits %d outside 1..16", t->name, b);
  size_t es = ir_dtype_size(t->dtype);
  if (t->dtype != IR_DT_INT8 && t->dtype != IR_DT_INT16 && t->dtype != IR_DT_INT32)
    BAD("tensor %s: quantized data of type %s", t->name, ir_dtype_name(t->dtype));
  if (t->dtype == IR_DT_INT8 && b > 8) BAD("tensor %s: %d-bit codes in int8", t->name, b);
  switch (t->compress_type) {
    case IR_QC_NONE:
    case IR_QC_BITPACKING:
      if (b != 8 && b != 16) {
        if (t->nbytes < (N * (size_t)b + 7) / 8)
          BAD("tensor %s: %zu bytes cannot hold %zu packed %d-bit codes", t->name, t->nbytes, N, b);
        size_t bit = 0;
        for (size_t i = 0; i < N; i++) {
          uint32_t v = 0;
          for (int k = 0; k < b; k++, bit++) v |= (uint32_t)(data[bit >> 3] >> (bit & 7) & 1u) << k;
          f[i] = (float)((int32_t)v - (int32_t)(1u << (b - 1)));
        }
      } else {
        if (t->compress_type == IR_QC_BITPACKING)
          BAD("tensor %s: BITPACKING with %d-bit codes", t->name, b);
        if (t->nbytes / es < N) BAD("tensor %s: %zu bytes for %zu codes", t->name, t->nbytes, N);
        if (es == 4) raw32 = 1;
        for (size_t i = 0; i < N && es < 4; i++) {
          if (es == 1) {
            f[i] = (float)(int8_t)data[i];
          } else {
            int16_t v;
            memcpy(&v, data + 2 * i, 2);
            f[i] = (float)v;
          }
        }
      }
      break;
    case IR_QC_INDEXING:
    case IR_QC_SPARSE: {
      msb_reader r = {data, t->nbytes * 8, 0};
      uint32_t nu = 0, gbits = 0, nz = 0;
      uniq = malloc(sizeof *uniq << b);
      if (!uniq) {
        st = TOD_MEMORY_FAILED;
        snprintf(err, errlen, "out of memory");
        goto out;
      }
      if (t->compress_type == IR_QC_SPARSE && (!msb_read(&r, 8, &gbits) || !msb_read(&r, 32, &nz)))
        BAD("tensor %s: truncated sparse header", t->name);
      if (!read_unique(&r, b, uniq, &nu)) BAD("tensor %s: truncated code table", t->name);
      int x = ceil_log2(nu);
      if (t->compress_type == IR_QC_INDEXING) {
        for (size_t i = 0; i < N; i++) {
          uint32_t k;
          if (!msb_read(&r, x, &k)) BAD("tensor %s: truncated index stream", t->name);
          if (k >= nu) BAD("tensor %s: index %u outside %u codes", t->name, k, nu);
          f[i] = (float)uniq[k];
        }
        break;
      }
      if (gbits > 31 || nz > N) BAD("tensor %s: bad sparse header (%u-bit gaps, %u entries)", t->name, gbits, nz);
      int nq = t->n_quant;
      size_t per = N / (size_t)nq ? N / (size_t)nq : 1;
      size_t idx_base = r.pos, gap_base = r.pos + (size_t)nz * (size_t)x;
      if (gap_base + (size_t)nz * gbits > r.nbits) BAD("tensor %s: truncated sparse stream", t->name);
      size_t pos = 0;
      for (uint32_t e = 0; e < nz; e++) {
        uint32_t k, gap;
        r.pos = idx_base + (size_t)e * (size_t)x;
        msb_read(&r, x, &k);
        r.pos = gap_base + (size_t)e * gbits;
        msb_read(&r, (int)gbits, &gap);
        if (k >= nu) BAD("tensor %s: index %u outside %u codes", t->name, k, nu);
        if ((size_t)gap >= N - pos) BAD("tensor %s: sparse entries overrun %zu elements", t->name, N);
        for (uint32_t j = 0; j < gap; j++, pos++) {
          size_t c = pos / per < (size_t)nq ? pos / per : (size_t)nq - 1;
          f[pos] = (float)t->quant[c].zero_point;
        }
        f[pos++] = (float)uniq[k];
      }
      for (; pos < N; pos++) {
        size_t c = pos / per < (size_t)nq ? pos / per : (size_t)nq - 1;
        f[pos] = (float)t->quant[c].zero_point;
      }
      break;
    }
    default:
      snprintf(err, errlen, "tensor %s: weightQuantCompressType %d (FSE) is not supported", t->name,
               t->compress_type);
      st = TOD_NOT_SUPPORT;
      goto out;
  }
  for (int i = 0; i < t->n_quant; i++)
    if (!isfinite(t->quant[i].scale)) BAD("tensor %s: quant param %d has a non-finite scale", t->name, i);
  if (t->n_quant == 1) {
    if (t->n_clusters > 0) BAD("tensor %s: clusters with a per-layer quant param", t->name);
    double s = t->quant[0].scale, zp = t->quant[0].zero_point;
    for (size_t i = 0; i < N; i++) f[i] = (float)((code_at(f, data, raw32, i) - zp) * s);
    goto done;
  }
  int axis = ir_quant_axis(g, n, input, t->ndim, g ? g->version : NULL);
  if (axis >= t->ndim || t->dims[axis] != t->n_quant)
    BAD("tensor %s: %d quant params for %lld channels on axis %d", t->name, t->n_quant,
        (long long)(axis < t->ndim ? t->dims[axis] : 0), axis);
  size_t inner = 1;
  for (int d = axis + 1; d < t->ndim; d++) inner *= (size_t)t->dims[d];
  size_t nch = (size_t)t->n_quant;
  if (t->n_clusters > 0) {
    if (b > 8 || (size_t)t->n_clusters != nch << b)
      BAD("tensor %s: %d clusters do not make %zu codebooks of %d bits", t->name, t->n_clusters, nch, b);
    int32_t half = 1 << (b - 1);
    for (size_t i = 0; i < N; i++) {
      size_t c = (i / inner) % nch;
      int32_t q = code_at(f, data, raw32, i), k = q + half;
      if (k < 0 || k >= 2 * half) BAD("tensor %s: code %d outside %d bits", t->name, q, b);
      f[i] = t->clusters[(c << b) + (size_t)k];
    }
  } else {
    for (size_t i = 0; i < N; i++) {
      const ir_quant_param *p = &t->quant[(i / inner) % nch];
      f[i] = (float)((code_at(f, data, raw32, i) - (double)p->zero_point) * p->scale);
    }
  }
done:
  *out = f;
  f = NULL;
out:
  free(uniq);
  free(f);
  return st;
}
