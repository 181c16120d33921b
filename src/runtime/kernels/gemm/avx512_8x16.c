/* AVX-512F GEMM micro-kernel, MR=8 x NR=16, for GEMMs with at most 16 columns (mobilenet's
 * 1x1 projections to 16 channels), where the 32-wide kernel would compute half zeros. 8
 * accumulators cover the FMA latency of two ports. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/gemm/gemm.h"

#define MR 8

void gemm_ukernel_8x16__avx512f(size_t mr, size_t nc, size_t kc, const float *a, size_t a_stride,
                                const float *w, float *c, size_t c_stride, const gemm_minmax *p,
                                int accumulate) {
  const float *ap[MR];
  float *cp[MR];
  ap[0] = a;
  cp[0] = c;
  /* Rows past mr alias the last real row (same values, same place). */
#pragma GCC unroll 8
  for (int i = 1; i < MR; i++) {
    ap[i] = (size_t)i < mr ? ap[i - 1] + a_stride : ap[i - 1];
    cp[i] = (size_t)i < mr ? cp[i - 1] + c_stride : cp[i - 1];
  }
  const __mmask16 m0 = nc >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nc) - 1);
  __m512 acc[MR];
  if (accumulate) {
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) acc[i] = _mm512_maskz_loadu_ps(m0, cp[i]);
  } else {
    const __m512 bias = _mm512_loadu_ps(w);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) acc[i] = bias;
  }
  w += 16;
  for (size_t k = 0; k < kc; k++) {
    const __m512 b = _mm512_loadu_ps(w);
    w += 16;
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(ap[i][k]), b, acc[i]);
  }
  const __m512 vmin = _mm512_set1_ps(p->min), vmax = _mm512_set1_ps(p->max);
#pragma GCC unroll 8
  for (int i = MR - 1; i >= 0; i--)
    _mm512_mask_storeu_ps(cp[i], m0, _mm512_min_ps(_mm512_max_ps(acc[i], vmin), vmax));
}

#endif
