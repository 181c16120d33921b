/* AVX-512F GEMM micro-kernel, MR=8 x NR=32: 16 zmm accumulators hide the FMA latency on one or
 * two FMA ports, and per k step it loads 2 B vectors for 16 FMAs, so loads never bind. A is
 * broadcast from its rows in place (8 pointers: fits the GPRs, unlike 12 rows). */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/gemm/gemm.h"

#define MR 8

void gemm_ukernel_8x32__avx512f(size_t mr, size_t nc, size_t kc, const float *a, size_t a_stride,
                                const float *w, float *c, size_t c_stride, const gemm_minmax *p,
                                int accumulate) {
  const float *ap[MR];
  float *cp[MR];
  ap[0] = a;
  cp[0] = c;
  /* Rows past mr alias the last real row: they compute the same values and store them to the
   * same place, which keeps the loop free of row-count branches. */
#pragma GCC unroll 8
  for (int i = 1; i < MR; i++) {
    ap[i] = (size_t)i < mr ? ap[i - 1] + a_stride : ap[i - 1];
    cp[i] = (size_t)i < mr ? cp[i - 1] + c_stride : cp[i - 1];
  }
  __m512 acc0[MR], acc1[MR];
  const __mmask16 m0 = nc >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nc) - 1);
  const __mmask16 m1 = nc > 16 ? (__mmask16)((1u << (nc - 16)) - 1) : (__mmask16)0;
  if (accumulate) {
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
      acc0[i] = _mm512_maskz_loadu_ps(m0, cp[i]);
      acc1[i] = _mm512_maskz_loadu_ps(m1, cp[i] + 16);
    }
  } else {
    const __m512 bias0 = _mm512_loadu_ps(w), bias1 = _mm512_loadu_ps(w + 16);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
      acc0[i] = bias0;
      acc1[i] = bias1;
    }
  }
  w += 32;
  for (size_t k = 0; k < kc; k++) {
    const __m512 b0 = _mm512_loadu_ps(w), b1 = _mm512_loadu_ps(w + 16);
    /* 32 rows ahead: the first row tile of a panel pulls B from L3 (weights larger than L2,
     * e.g. resnet18's 7x7x512 layers: 3-7%); later tiles find it in L1. */
    _mm_prefetch((const char *)(w + 1024), _MM_HINT_T0);
    w += 32;
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
      const __m512 va = _mm512_set1_ps(ap[i][k]);
      acc0[i] = _mm512_fmadd_ps(va, b0, acc0[i]);
      acc1[i] = _mm512_fmadd_ps(va, b1, acc1[i]);
    }
  }
  const __m512 vmin = _mm512_set1_ps(p->min), vmax = _mm512_set1_ps(p->max);
  if (nc == 32) {
#pragma GCC unroll 8
    for (int i = MR - 1; i >= 0; i--) {
      _mm512_storeu_ps(cp[i], _mm512_min_ps(_mm512_max_ps(acc0[i], vmin), vmax));
      _mm512_storeu_ps(cp[i] + 16, _mm512_min_ps(_mm512_max_ps(acc1[i], vmin), vmax));
    }
  } else {
#pragma GCC unroll 8
    for (int i = MR - 1; i >= 0; i--) {
      _mm512_mask_storeu_ps(cp[i], m0, _mm512_min_ps(_mm512_max_ps(acc0[i], vmin), vmax));
      _mm512_mask_storeu_ps(cp[i] + 16, m1, _mm512_min_ps(_mm512_max_ps(acc1[i], vmin), vmax));
    }
  }
}

#endif
