/* Reading and writing one element of any numeric dtype as a double (float16 included), for
 * the dtype-generic reference kernels. */
#ifndef TOD_KERNELS_KVALUE_H
#define TOD_KERNELS_KVALUE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ir/ir.h"

static inline double kv_half_to_double(uint16_t h) {
  int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  double v;
  if (e == 0) v = ldexp((double)m, -24);
  else if (e == 31) v = m ? NAN : INFINITY;
  else v = ldexp((double)(m | 1024), e - 25);
  return s ? -v : v;
}

static inline uint16_t kv_double_to_half(double d) {
  float f = (float)d;
  uint32_t x;
  memcpy(&x, &f, 4);
  uint16_t s = (uint16_t)((x >> 16) & 0x8000);
  int e = (int)((x >> 23) & 255) - 127 + 15;
  uint32_t m = x & 0x7fffff;
  if (((x >> 23) & 255) == 255) return (uint16_t)(s | 0x7c00 | (m ? 0x200 : 0));
  if (e >= 31) return (uint16_t)(s | 0x7c00);
  if (e <= 0) {
    if (e < -10) return s;
    m |= 0x800000;
    int shift = 14 - e;
    uint32_t hm = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (hm & 1))) hm++;
    return (uint16_t)(s | hm);
  }
  uint32_t hm = m >> 13, rem = m & 0x1fff;
  uint16_t h = (uint16_t)(s | (e << 10) | hm);
  if (rem > 0x1000 || (rem == 0x1000 && (hm & 1))) h++;
  return h;
}

/* Whether kv_load/kv_store handle dtype. */
static inline int kv_supported(int dt) {
  switch (dt) {
    case IR_DT_BOOL: case IR_DT_INT8: case IR_DT_INT16: case IR_DT_INT32: case IR_DT_INT64:
    case IR_DT_UINT8: case IR_DT_UINT16: case IR_DT_UINT32: case IR_DT_UINT64:
    case IR_DT_FLOAT16: case IR_DT_FLOAT32: case IR_DT_FLOAT64: return 1;
    default: return 0;
  }
}

static inline double kv_load(int dt, const void *p, int64_t i) {
  switch (dt) {
    case IR_DT_BOOL: case IR_DT_UINT8: return ((const uint8_t *)p)[i];
    case IR_DT_INT8: return ((const int8_t *)p)[i];
    case IR_DT_INT16: return ((const int16_t *)p)[i];
    case IR_DT_UINT16: return ((const uint16_t *)p)[i];
    case IR_DT_INT32: return ((const int32_t *)p)[i];
    case IR_DT_UINT32: return ((const uint32_t *)p)[i];
    case IR_DT_INT64: return (double)((const int64_t *)p)[i];
    case IR_DT_UINT64: return (double)((const uint64_t *)p)[i];
    case IR_DT_FLOAT16: return kv_half_to_double(((const uint16_t *)p)[i]);
    case IR_DT_FLOAT32: return ((const float *)p)[i];
    case IR_DT_FLOAT64: return ((const double *)p)[i];
    default: return 0;
  }
}

/* Exact for 64-bit integers (kv_load rounds them above 2^53). */
static inline int64_t kv_load_i64(int dt, const void *p, int64_t i) {
  if (dt == IR_DT_INT64) return ((const int64_t *)p)[i];
  if (dt == IR_DT_UINT64) return (int64_t)((const uint64_t *)p)[i];
  return (int64_t)kv_load(dt, p, i);
}

static inline void kv_store(int dt, void *p, int64_t i, double v) {
  switch (dt) {
    case IR_DT_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case IR_DT_UINT8: ((uint8_t *)p)[i] = (uint8_t)(int64_t)v; break;
    case IR_DT_INT8: ((int8_t *)p)[i] = (int8_t)(int64_t)v; break;
    case IR_DT_INT16: ((int16_t *)p)[i] = (int16_t)(int64_t)v; break;
    case IR_DT_UINT16: ((uint16_t *)p)[i] = (uint16_t)(int64_t)v; break;
    case IR_DT_INT32: ((int32_t *)p)[i] = (int32_t)(int64_t)v; break;
    case IR_DT_UINT32: ((uint32_t *)p)[i] = (uint32_t)(int64_t)v; break;
    case IR_DT_INT64: ((int64_t *)p)[i] = (int64_t)v; break;
    case IR_DT_UINT64: ((uint64_t *)p)[i] = (uint64_t)v; break;
    case IR_DT_FLOAT16: ((uint16_t *)p)[i] = kv_double_to_half(v); break;
    case IR_DT_FLOAT32: ((float *)p)[i] = (float)v; break;
    case IR_DT_FLOAT64: ((double *)p)[i] = v; break;
    default: break;
  }
}

#endif
