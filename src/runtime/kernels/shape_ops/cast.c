/* Cast between bool, int8, uint8, int16, int32, int64, float16, float32 and float64.
 * Integers convert through int64 (wrapping on narrowing, as numpy), floats through double;
 * float to integer saturates and maps NaN to 0, because an out-of-range float-to-int
 * conversion is undefined in C. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"

static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else { /* subnormal: renormalise */
      exp = 127 - 15 + 1;
      while (!(man & 0x400)) man <<= 1, exp--;
      bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

static uint16_t float_to_half(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
  uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) return sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0); /* inf/nan */
  if (ax >= 0x477ff000u) return sign | 0x7c00; /* rounds to >= 65520: overflow to inf */
  if (ax < 0x38800000u) { /* below the smallest normal half: subnormal or zero */
    if (ax < 0x33000000u) return sign; /* < 2^-25 rounds to 0 */
    uint32_t e = ax >> 23, m = (ax & 0x7fffff) | 0x800000;
    uint32_t shift = 126 - e; /* 14..24 */
    uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) r++;
    return sign | (uint16_t)r;
  }
  uint32_t r = ((ax >> 13) - ((127 - 15) << 10));
  uint32_t rem = ax & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) r++;
  return sign | (uint16_t)r;
}

static int is_float(int dt) {
  return dt == IR_DT_FLOAT16 || dt == IR_DT_FLOAT32 || dt == IR_DT_FLOAT64;
}

static int supported(int dt) {
  switch (dt) {
    case IR_DT_BOOL:
    case IR_DT_INT8:
    case IR_DT_UINT8:
    case IR_DT_INT16:
    case IR_DT_INT32:
    case IR_DT_INT64:
    case IR_DT_FLOAT16:
    case IR_DT_FLOAT32:
    case IR_DT_FLOAT64: return 1;
    default: return 0;
  }
}

static tod_status cast_create(kernel *k, const ir_graph *g, const ir_node *n) {
  (void)g;
  if (n->n_in < 1 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs 1 input");
  return TOD_OK;
}

static tod_status cast_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                             int n_out, size_t *scratch) {
  *scratch = 0;
  if (!supported(in[0].dtype) || !supported(out[0].dtype))
    return kfail(k, TOD_NOT_SUPPORT, "cast %s -> %s is not supported", ir_dtype_name(in[0].dtype),
                 ir_dtype_name(out[0].dtype));
  if (knumel(&in[0]) != knumel(&out[0])) return kfail(k, TOD_INPUT_TENSOR_ERROR, "shape mismatch");
  return TOD_OK;
}

#define BLK 256

static void read_f(const void *p, int dt, int64_t off, int64_t n, double *v) {
  for (int64_t i = 0; i < n; i++) {
    switch (dt) {
      case IR_DT_FLOAT16: v[i] = half_to_float(((const uint16_t *)p)[off + i]); break;
      case IR_DT_FLOAT32: v[i] = ((const float *)p)[off + i]; break;
      default: v[i] = ((const double *)p)[off + i]; break;
    }
  }
}

static void read_i(const void *p, int dt, int64_t off, int64_t n, int64_t *v) {
  tod_view t = {dt, 1, {off + n}, (void *)p};
  for (int64_t i = 0; i < n; i++) {
    shape_read_int(&t, off + i, &v[i]);
    if (dt == IR_DT_BOOL) v[i] = v[i] != 0;
  }
}

/* Saturating double -> int64 in [lo, hi]. */
static int64_t sat(double d, int64_t lo, int64_t hi) {
  if (d != d) return 0;
  if (d <= (double)lo) return lo;
  if (d >= (double)hi) return hi;
  return (int64_t)d;
}

static void write_vals(void *p, int dt, int64_t off, int64_t n, const double *fv, const int64_t *iv) {
  for (int64_t i = 0; i < n; i++) {
    int64_t q = 0;
    double d = fv ? fv[i] : (double)iv[i];
    switch (dt) {
      case IR_DT_FLOAT16: ((uint16_t *)p)[off + i] = float_to_half((float)d); continue;
      case IR_DT_FLOAT32: ((float *)p)[off + i] = (float)d; continue;
      case IR_DT_FLOAT64: ((double *)p)[off + i] = d; continue;
      case IR_DT_BOOL: ((uint8_t *)p)[off + i] = fv ? d != 0.0 : iv[i] != 0; continue;
      default: break;
    }
    switch (dt) {
      case IR_DT_INT8: q = fv ? sat(d, INT8_MIN, INT8_MAX) : iv[i]; ((int8_t *)p)[off + i] = (int8_t)q; break;
      case IR_DT_UINT8: q = fv ? sat(d, 0, UINT8_MAX) : iv[i]; ((uint8_t *)p)[off + i] = (uint8_t)q; break;
      case IR_DT_INT16: q = fv ? sat(d, INT16_MIN, INT16_MAX) : iv[i]; ((int16_t *)p)[off + i] = (int16_t)q; break;
      case IR_DT_INT32: q = fv ? sat(d, INT32_MIN, INT32_MAX) : iv[i]; ((int32_t *)p)[off + i] = (int32_t)q; break;
      default:
        /* 2^63 is exactly representable; anything at or beyond it saturates. */
        if (fv) q = d != d ? 0 : d >= 9223372036854775808.0 ? INT64_MAX : d <= -9223372036854775808.0 ? INT64_MIN : (int64_t)d;
        else q = iv[i];
        ((int64_t *)p)[off + i] = q;
        break;
    }
  }
}

typedef struct {
  const tod_view *x;
  tod_view *y;
} cast_job;

static void cast_chunk(void *ctx, int64_t b, int64_t e) {
  const cast_job *j = ctx;
  double fv[BLK];
  int64_t iv[BLK];
  int fin = is_float(j->x->dtype);
  for (int64_t o = b; o < e; o += BLK) {
    int64_t n = e - o < BLK ? e - o : BLK;
    if (fin) {
      read_f(j->x->data, j->x->dtype, o, n, fv);
      write_vals(j->y->data, j->y->dtype, o, n, fv, NULL);
    } else {
      read_i(j->x->data, j->x->dtype, o, n, iv);
      write_vals(j->y->data, j->y->dtype, o, n, NULL, iv);
    }
  }
}

static tod_status cast_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                           void *scratch, tod_threadpool *tp) {
  int64_t n = knumel(&in[0]);
  if (in[0].dtype == out[0].dtype) {
    if (out[0].data != in[0].data && n)
      memmove(out[0].data, in[0].data, (size_t)n * ir_dtype_size(in[0].dtype));
    return TOD_OK;
  }
  cast_job j = {&in[0], &out[0]};
  kpar_for(tp, n, 16384, cast_chunk, &j);
  return TOD_OK;
}

const kernel_ops kernel_Cast = {IR_OP_Cast, cast_create, cast_setup, cast_run, NULL};
