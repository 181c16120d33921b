/* AVX2+FMA GEMM micro-kernel, MR=6 x NR=16: 12 ymm accumulators + 2 B vectors + 1 broadcast
 * use 15 of the 16 ymm registers. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/gemm/gemm.h"

#define MR 6

static __m256 load_partial(const float *src, size_t n) {
  float tmp[8] = {0};
  for (size_t j = 0; j < n && j < 8; j++) tmp[j] = src[j];
  return _mm256_loadu_ps(tmp);
}

static void store_partial(float *dst, __m256 v, size_t n) {
  float tmp[8];
  _mm256_storeu_ps(tmp, v);
  for (size_t j = 0; j < n; j++) dst[j] = tmp[j];
}

void gemm_ukernel_6x16__avx2_fma(size_t mr, size_t nc, size_t kc, const float *a,
                                 size_t a_stride, const float *w, float *c, size_t c_stride,
                                 const gemm_minmax *p, int accumulate) {
  const float *ap[MR];
  float *cp[MR];
  ap[0] = a;
  cp[0] = c;
  /* Rows past mr alias the last real row (same values, same place). */
#pragma GCC unroll 6
  for (int i = 1; i < MR; i++) {
    ap[i] = (size_t)i < mr ? ap[i - 1] + a_stride : ap[i - 1];
    cp[i] = (size_t)i < mr ? cp[i - 1] + c_stride : cp[i - 1];
  }
  __m256 acc0[MR], acc1[MR];
  if (accumulate) {
    for (int i = 0; i < MR; i++) {
      if (nc == 16) {
        acc0[i] = _mm256_loadu_ps(cp[i]);
        acc1[i] = _mm256_loadu_ps(cp[i] + 8);
      } else {
        acc0[i] = load_partial(cp[i], nc);
        acc1[i] = nc > 8 ? load_partial(cp[i] + 8, nc - 8) : _mm256_setzero_ps();
      }
    }
  } else {
    const __m256 bias0 = _mm256_loadu_ps(w), bias1 = _mm256_loadu_ps(w + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
      acc0[i] = bias0;
      acc1[i] = bias1;
    }
  }
  w += 16;
  for (size_t k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_loadu_ps(w), b1 = _mm256_loadu_ps(w + 8);
    w += 16;
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
      const __m256 va = _mm256_broadcast_ss(ap[i] + k);
      acc0[i] = _mm256_fmadd_ps(va, b0, acc0[i]);
      acc1[i] = _mm256_fmadd_ps(va, b1, acc1[i]);
    }
  }
  const __m256 vmin = _mm256_set1_ps(p->min), vmax = _mm256_set1_ps(p->max);
#pragma GCC unroll 6
  for (int i = MR - 1; i >= 0; i--) {
    const __m256 v0 = _mm256_min_ps(_mm256_max_ps(acc0[i], vmin), vmax);
    const __m256 v1 = _mm256_min_ps(_mm256_max_ps(acc1[i], vmin), vmax);
    if (nc == 16) {
      _mm256_storeu_ps(cp[i], v0);
      _mm256_storeu_ps(cp[i] + 8, v1);
    } else if (nc >= 8) {
      _mm256_storeu_ps(cp[i], v0);
      store_partial(cp[i] + 8, v1, nc - 8);
    } else {
      store_partial(cp[i], v0, nc);
    }
  }
}

#endif
