/* AVX-512F segmented-K GEMM micro-kernel, MR=8 x NR=32, for implicit-GEMM convolutions: K is
 * nseg runs of kc values, run s of row i at a + i * a_stride + s * seg_stride (a stem
 * convolution's kernel rows: 7 runs of 7 x 3 inputs, one input row apart). Calling the in-place
 * kernel once per run loads and stores the C tile nseg times for 21 k steps each; here the
 * accumulators stay in registers across the runs. B is packed as for the 8x32 kernel. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/gemm/gemm.h"

#define MR 8

void gemm_seg_ukernel_8x32__avx512f(size_t mr, size_t nc, size_t nseg, size_t kc,
                                    const float *a, size_t a_stride, size_t seg_stride,
                                    const float *w, float *c, size_t c_stride,
                                    const gemm_minmax *p) {
  const float *ap[MR];
  float *cp[MR];
  ap[0] = a;
  cp[0] = c;
  /* Rows past mr alias the last real row, as in the in-place kernel. */
#pragma GCC unroll 8
  for (int i = 1; i < MR; i++) {
    ap[i] = (size_t)i < mr ? ap[i - 1] + a_stride : ap[i - 1];
    cp[i] = (size_t)i < mr ? cp[i - 1] + c_stride : cp[i - 1];
  }
  __m512 acc0[MR], acc1[MR];
  const __m512 bias0 = _mm512_loadu_ps(w), bias1 = _mm512_loadu_ps(w + 16);
#pragma GCC unroll 8
  for (int i = 0; i < MR; i++) {
    acc0[i] = bias0;
    acc1[i] = bias1;
  }
  w += 32;
  for (size_t s = 0; s < nseg; s++) {
    for (size_t k = 0; k < kc; k++) {
      const __m512 b0 = _mm512_loadu_ps(w), b1 = _mm512_loadu_ps(w + 16);
      w += 32;
#pragma GCC unroll 8
      for (int i = 0; i < MR; i++) {
        const __m512 va = _mm512_set1_ps(ap[i][k]);
        acc0[i] = _mm512_fmadd_ps(va, b0, acc0[i]);
        acc1[i] = _mm512_fmadd_ps(va, b1, acc1[i]);
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) ap[i] += seg_stride;
  }
  const __m512 vmin = _mm512_set1_ps(p->min), vmax = _mm512_set1_ps(p->max);
  const __mmask16 m0 = nc >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nc) - 1);
  const __mmask16 m1 = nc > 16 ? (__mmask16)((1u << (nc - 16)) - 1) : (__mmask16)0;
#pragma GCC unroll 8
  for (int i = MR - 1; i >= 0; i--) {
    _mm512_mask_storeu_ps(cp[i], m0, _mm512_min_ps(_mm512_max_ps(acc0[i], vmin), vmax));
    _mm512_mask_storeu_ps(cp[i] + 16, m1, _mm512_min_ps(_mm512_max_ps(acc1[i], vmin), vmax));
  }
}

#endif
