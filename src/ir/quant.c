/* Weight quantization pass (converter side). Which tensors: ms-quant.md §1. Per channel, the
 * clipping range [a*min, b*max] is searched for the least squared reconstruction error under
 * MindSpore Lite's asymmetric parameter rules (§2), so the stored scale/zero point decode with
 * MindSpore Lite's own formula. For <= 4 bits each channel also gets a 1-D k-means codebook
 * (Lloyd on sorted values with prefix sums, two initialisations); a tensor takes the codebooks
 * when they lower its error and their bytes stay small against its codes (quant.h). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/deferred.h"
#include "ir/ir_op.h"
#include "ir/quant.h"

/* Bytes one QuantParam table takes in the file (fields, soffset, vector slot; vtable shared). */
#define QP_BYTES 28

tod_status ir_quant_check_options(const ir_quant_options *o, char *err, size_t errlen) {
  if (o->bit_num < 1 || o->bit_num > 16) {
    snprintf(err, errlen, "bit_num must be in [1, 16], not %d", o->bit_num);
    return TOD_PARAM_INVALID;
  }
  if (o->min_size < 0) {
    snprintf(err, errlen, "the weight size threshold must be >= 0, not %ld", o->min_size);
    return TOD_PARAM_INVALID;
  }
  if (o->min_channel < 0) {
    snprintf(err, errlen, "the weight channel threshold must be >= 0, not %ld", o->min_channel);
    return TOD_PARAM_INVALID;
  }
  return TOD_OK;
}

/* MindSpore Lite's parameters for the range [lo, hi] (ms-quant.md §2 steps 2-5). */
static void msl_params(float lo, float hi, int b, ir_quant_param *p) {
  int qmin = -(1 << (b - 1)), qmax = (1 << (b - 1)) - 1;
  float mn = lo, mx = hi;
  if (mx < mn + 1e-10f) mx = mn + 1e-10f;
  if (mn > 0) mn = 0;
  if (mx < 0) mx = 0;
  double step = (double)(float)(mx - mn) / (double)(qmax - qmin);
  double c = round(-mn / step);
  float mn2 = (float)(-c * step), mx2 = (float)(((double)(qmax - qmin) - c) * step);
  float scale = (float)(mx2 - mn2) / (float)(qmax - qmin);
  p->scale = scale;
  p->zero_point = (int32_t)round(qmin - mn2 / (double)scale);
  /* min' and max' are not written: no decoder reads them, and at one QuantParam per channel
   * their 16 bytes are a visible share of small models (ms-quant.md §2: unused by dequant) */
  (void)mn2;
  p->min = p->max = 0;
  p->num_bits = b;
  p->inited = 1;
}

static inline int quant_code(float x, float inv, float zp, int qmin, int qmax) {
  float q = floorf(x * inv + zp + 0.5f);
  if (q < (float)qmin) return qmin;
  if (q > (float)qmax) return qmax;
  return (int)q;
}

static double linear_err(const float *v, size_t n, const ir_quant_param *p) {
  int b = p->num_bits, qmin = -(1 << (b - 1)), qmax = (1 << (b - 1)) - 1;
  float s = (float)p->scale, zp = (float)p->zero_point;
  if (!(s > 1e-38f)) {
    double e = 0;
    for (size_t i = 0; i < n; i++) e += (double)v[i] * v[i];
    return e;
  }
  float inv = 1.0f / s;
  double e = 0;
  for (size_t i = 0; i < n; i++) {
    float d = v[i] - ((float)quant_code(v[i], inv, zp, qmin, qmax) - zp) * s;
    e += (double)d * d;
  }
  return e;
}

/* Least-error clipping of one channel: a grid over a common shrink factor, then each side on
 * its own around the best. */
static double search_linear(const float *v, size_t n, int b, ir_quant_param *best) {
  float mn = FLT_MAX, mx = -FLT_MAX;
  for (size_t i = 0; i < n; i++) {
    if (v[i] < mn) mn = v[i];
    if (v[i] > mx) mx = v[i];
  }
  ir_quant_param p;
  msl_params(mn, mx, b, best);
  double be = linear_err(v, n, best);
  double ga = 1.0;
  int steps = b >= 12 ? 0 : 40;
  for (int k = 1; k <= steps; k++) {
    double a = 1.0 - 0.02 * k; /* down to 0.2 */
    msl_params((float)(mn * a), (float)(mx * a), b, &p);
    double e = linear_err(v, n, &p);
    if (e < be) {
      be = e;
      *best = p;
      ga = a;
    }
  }
  if (steps) {
    double la = ga, ha = ga;
    for (int side = 0; side < 2; side++)
      for (int k = -5; k <= 5; k++) {
        double a = (side ? ha : la) + 0.01 * k;
        if (a <= 0.05 || a > 1.0) continue;
        double lo = side ? la : a, hi = side ? a : ha;
        msl_params((float)(mn * lo), (float)(mx * hi), b, &p);
        double e = linear_err(v, n, &p);
        if (e < be) {
          be = e;
          *best = p;
          if (side) ha = a;
          else la = a;
        }
      }
  }
  return be;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* First index in sorted s[0..n) with s[i] > t (i.e. elements <= t come before). */
static size_t upper(const float *s, size_t n, float t) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t m = (lo + hi) / 2;
    if (s[m] <= t) lo = m + 1;
    else hi = m;
  }
  return lo;
}

/* Lloyd iterations on sorted values with prefix sums; c (k entries, ascending) in/out. */
static double lloyd(const float *s, size_t n, const double *p1, const double *p2, float *c, int k) {
  double err = 0;
  for (int it = 0; it < 60; it++) {
    int changed = 0;
    size_t start = 0;
    err = 0;
    for (int j = 0; j < k; j++) {
      size_t end = j == k - 1 ? n : upper(s, n, 0.5f * (c[j] + c[j + 1]));
      if (end < start) end = start;
      if (end > start) {
        double cnt = (double)(end - start), sum = p1[end] - p1[start], sq = p2[end] - p2[start];
        float m = (float)(sum / cnt);
        if (m != c[j]) changed = 1;
        c[j] = m;
        double e = sq - 2.0 * m * sum + cnt * (double)m * m;
        err += e > 0 ? e : 0;
      }
      start = end;
    }
    for (int j = 1; j < k; j++)
      if (c[j] < c[j - 1]) c[j] = c[j - 1];
    if (!changed) break;
  }
  return err;
}

/* Per-channel k-means: best of a start from the linear levels and one from quantiles. */
static double search_kmeans(const float *v, size_t n, int b, const ir_quant_param *lin, float *cb,
                            float *sorted, double *p1, double *p2) {
  int k = 1 << b;
  memcpy(sorted, v, n * sizeof *v);
  qsort(sorted, n, sizeof *sorted, cmp_float);
  p1[0] = p2[0] = 0;
  for (size_t i = 0; i < n; i++) {
    p1[i + 1] = p1[i] + sorted[i];
    p2[i + 1] = p2[i] + (double)sorted[i] * sorted[i];
  }
  float c1[16], c2[16];
  for (int j = 0; j < k; j++) {
    c1[j] = (float)((j - (k / 2) - (double)lin->zero_point) * lin->scale);
    size_t q = (size_t)(((double)j + 0.5) / k * (double)n);
    c2[j] = sorted[q < n ? q : n - 1];
  }
  double e1 = lloyd(sorted, n, p1, p2, c1, k), e2 = lloyd(sorted, n, p1, p2, c2, k);
  memcpy(cb, e1 <= e2 ? c1 : c2, sizeof(float) * (size_t)k);
  return e1 <= e2 ? e1 : e2;
}

static int nearest(const float *cb, int k, float x) {
  int lo = 0, hi = k - 1;
  while (lo < hi) { /* first centroid whose upper boundary is >= x */
    int m = (lo + hi) / 2;
    if (x > 0.5f * (cb[m] + cb[m + 1])) lo = m + 1;
    else hi = m;
  }
  return lo;
}

/* Weighted least-squares line through a codebook: value ~ scale * (code - zp). */
static void codebook_params(const float *cb, const size_t *count, int b, const ir_quant_param *lin,
                            ir_quant_param *p) {
  int k = 1 << b, half = k / 2;
  double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (int j = 0; j < k; j++) {
    double w = (double)count[j] + 1e-3, x = j - half, y = cb[j];
    sw += w, sx += w * x, sy += w * y, sxx += w * x * x, sxy += w * x * y;
  }
  double den = sw * sxx - sx * sx, a = den > 0 ? (sw * sxy - sx * sy) / den : 0;
  *p = *lin;
  if (!(a > 1e-30) || !isfinite(a)) return;
  double c0 = (sy - a * sx) / sw, zp = round(-c0 / a);
  if (zp < -2147483647.0 || zp > 2147483647.0) return;
  p->scale = (float)a;
  p->zero_point = (int32_t)zp;
}

typedef struct {
  int axis;
  int ok;
} axis_check;

/* Every reader of tensor t must agree on its channel axis (the runtime decodes it once). */
static axis_check consumers_axis(const ir_graph *g, int ti, const char *version) {
  axis_check r = {-1, 0};
  const ir_tensor *t = &g->tensors[ti];
  for (int i = 0; i < g->n_nodes; i++) {
    const ir_node *n = &g->nodes[i];
    for (int j = 0; j < n->n_in; j++) {
      if (n->in[j] != ti) continue;
      int a = ir_quant_axis(g, n, j, t->ndim, version);
      if (r.axis >= 0 && a != r.axis) return r;
      r.axis = a;
    }
  }
  for (int i = 0; i < g->n_outputs; i++)
    if (g->outputs[i] == ti) return r;
  r.ok = r.axis >= 0;
  return r;
}

static int quantizable_op(int op) {
  return op == IR_OP_Conv2DFusion || op == IR_OP_Conv2dTransposeFusion || op == IR_OP_MatMulFusion ||
         op == IR_OP_Gather;
}

/* Quantizes tensor t along axis; returns TOD_OK (possibly leaving it float, *done = 0). */
static tod_status quantize_tensor(ir_tensor *t, int axis, const ir_quant_options *o, int *done,
                                  int *used_kmeans, size_t *bytes_after, char *err, size_t errlen) {
  int b = o->bit_num;
  size_t N = (size_t)ir_tensor_numel(t);
  size_t nch = (size_t)t->dims[axis], inner = 1;
  for (int d = axis + 1; d < t->ndim; d++) inner *= (size_t)t->dims[d];
  size_t per = N / nch, outer = N / (nch * inner);
  *done = 0;
  *used_kmeans = 0;
  /* A tensor whose codes and per-channel params would not be smaller than its floats stays
   * float. (MindSpore Lite's own rule, elements per channel <= 256 / (32 - b), serves its bias
   * correction, which tod does not write; this one keeps e.g. 3x3 depthwise kernels float at
   * 8 bits and quantizes them at 4.) */
  size_t code_bytes = b == 8 || b == 16 ? N * (size_t)(b / 8) : ir_quant_packed_size(b, N);
  if (code_bytes + nch * QP_BYTES >= N * 4) return TOD_OK;
  int try_km = o->allow_kmeans && b <= 4 && nch > 1;
  int k = 1 << (b < 16 ? b : 15);
  const float *w = t->data;
  float *vals = malloc(sizeof *vals * N), *sorted = NULL, *cb = NULL;
  double *p1 = NULL, *p2 = NULL;
  ir_quant_param *lin = calloc(nch, sizeof *lin), *kmp = NULL;
  int16_t *codes = malloc(sizeof *codes * N);
  uint8_t *packed = NULL;
  size_t *count = NULL;
  tod_status st = TOD_OK;
  if (try_km) {
    sorted = malloc(sizeof *sorted * per);
    cb = malloc(sizeof *cb * nch * (size_t)k);
    p1 = malloc(sizeof *p1 * (per + 1));
    p2 = malloc(sizeof *p2 * (per + 1));
    kmp = calloc(nch, sizeof *kmp);
    count = calloc((size_t)k, sizeof *count);
  }
  if (!vals || !lin || !codes || (try_km && (!sorted || !cb || !p1 || !p2 || !kmp || !count))) {
    snprintf(err, errlen, "out of memory quantizing %s", t->name);
    st = TOD_MEMORY_FAILED;
    goto out;
  }
  /* channel-major copy: vals[c * per + j] */
  for (size_t oi = 0; oi < outer; oi++)
    for (size_t c = 0; c < nch; c++)
      memcpy(vals + c * per + oi * inner, w + (oi * nch + c) * inner, inner * sizeof *w);
  double e_lin = 0, e_km = 0;
  for (size_t c = 0; c < nch; c++) {
    e_lin += search_linear(vals + c * per, per, b, &lin[c]);
    if (try_km) e_km += search_kmeans(vals + c * per, per, b, &lin[c], cb + c * (size_t)k, sorted, p1, p2);
  }
  size_t cb_bytes = nch * (size_t)k * 4;
  /* Codebooks cost r * b extra bits per code (r = their bytes / the codes' bytes); they are taken
   * when they divide the error by more than 2^(r*b), i.e. do better than a linear code widened
   * by half those bits would. Below 4 bits, tensors with under 4 KB of codes take them whenever
   * they lower the error and are not larger than the codes (small layers, large gains). */
  double r = (double)cb_bytes / (double)(code_bytes ? code_bytes : 1);
  int use_km = try_km && e_km < e_lin &&
               ((b <= 3 && code_bytes < 4096 && cb_bytes <= code_bytes) || e_km <= e_lin * pow(2.0, -r * b));
  int qmin = -(1 << (b - 1)), qmax = (1 << (b - 1)) - 1;
  for (size_t oi = 0; oi < outer; oi++)
    for (size_t c = 0; c < nch; c++)
      for (size_t j = 0; j < inner; j++) {
        size_t i = (oi * nch + c) * inner + j;
        if (use_km) {
          codes[i] = (int16_t)(nearest(cb + c * (size_t)k, k, w[i]) - k / 2);
        } else {
          float s = (float)lin[c].scale;
          codes[i] = s > 1e-38f ? (int16_t)quant_code(w[i], 1.0f / s, (float)lin[c].zero_point, qmin, qmax) : 0;
        }
      }
  if (use_km)
    for (size_t c = 0; c < nch; c++) {
      memset(count, 0, sizeof *count * (size_t)k);
      for (size_t oi = 0; oi < outer; oi++)
        for (size_t j = 0; j < inner; j++) count[codes[(oi * nch + c) * inner + j] + k / 2]++;
      codebook_params(cb + c * (size_t)k, count, b, &lin[c], &kmp[c]);
    }
  packed = malloc(code_bytes ? code_bytes : 1);
  if (!packed) {
    snprintf(err, errlen, "out of memory quantizing %s", t->name);
    st = TOD_MEMORY_FAILED;
    goto out;
  }
  if (b == 8) {
    for (size_t i = 0; i < N; i++) packed[i] = (uint8_t)(int8_t)codes[i];
  } else if (b == 16) {
    memcpy(packed, codes, N * 2); /* little-endian host, as the .ms writer assumes */
  } else {
    ir_quant_pack(codes, N, b, packed);
  }
  ir_tensor_set_data_owned(t, packed, code_bytes);
  packed = NULL;
  t->dtype = b <= 8 ? IR_DT_INT8 : IR_DT_INT16;
  t->compress_type = b == 8 || b == 16 ? IR_QC_NONE : IR_QC_BITPACKING;
  free(t->quant);
  t->quant = use_km ? kmp : lin;
  t->n_quant = (int)nch;
  if (use_km) {
    kmp = NULL;
    free(t->clusters);
    t->clusters = cb;
    t->n_clusters = (int)(nch * (size_t)k);
    cb = NULL;
  } else {
    lin = NULL;
  }
  *done = 1;
  *used_kmeans = use_km;
  *bytes_after = code_bytes + nch * QP_BYTES + (use_km ? cb_bytes : 0);
out:
  free(vals);
  free(sorted);
  free(cb);
  free(p1);
  free(p2);
  free(lin);
  free(kmp);
  free(codes);
  free(packed);
  free(count);
  return st;
}

tod_status ir_pass_quantize_weights(ir_graph *g, const ir_quant_options *o, ir_quant_summary *s,
                                    char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  tod_status st = ir_quant_check_options(o, err, errlen);
  if (st != TOD_OK) return st;
  for (int ni = 0; ni < g->n_nodes; ni++) {
    const ir_node *n = &g->nodes[ni];
    if (!quantizable_op(n->op)) continue;
    for (int j = 0; j < n->n_in; j++) {
      int ti = n->in[j];
      if (ti < 0) continue;
      ir_tensor *t = &g->tensors[ti];
      if (ir_tensor_settle(t) != TOD_OK) { /* a deferred weight is read from here on */
        snprintf(err, errlen, "out of memory");
        return TOD_MEMORY_FAILED;
      }
      /* constant float weights of rank >= 2 above the size threshold; trainable ones stay float */
      if (t->kind != IR_TENSOR_CONST || t->dtype != IR_DT_FLOAT32 || t->ndim < 2 || t->n_quant || t->n_clusters ||
          !t->data)
        continue;
      int64_t numel = ir_tensor_numel(t);
      if (numel <= o->min_size || (size_t)numel * 4 > t->nbytes) continue;
      if (n->op == IR_OP_Gather && j != 0) continue;
      axis_check ax = consumers_axis(g, ti, g->version);
      int axis = ax.axis;
      if (!ax.ok || axis < 0 || axis >= t->ndim || t->dims[axis] < 1) {
        s->n_float++;
        continue;
      }
      if ((n->op == IR_OP_Conv2DFusion || n->op == IR_OP_Conv2dTransposeFusion) &&
          t->dims[axis] <= o->min_channel)
        continue;
      size_t before = (size_t)numel * 4, after = 0;
      int done, km;
      st = quantize_tensor(t, axis, o, &done, &km, &after, err, errlen);
      if (st != TOD_OK) return st;
      if (!done) {
        s->n_float++;
        continue;
      }
      s->n_quantized++;
      s->n_kmeans += km;
      s->bytes_before += before;
      s->bytes_after += after;
      for (int k = 0; k < g->n_nodes; k++)
        for (int m = 0; m < g->nodes[k].n_in; m++)
          if (g->nodes[k].in[m] == ti) g->nodes[k].quant_type = IR_QT_WEIGHT;
    }
  }
  return TOD_OK;
}
