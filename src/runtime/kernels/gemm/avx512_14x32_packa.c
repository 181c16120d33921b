/* AVX-512F packed-A GEMM micro-kernel, MR=14 x NR=32: 28 zmm accumulators, 2 for B and the A
 * value broadcast straight from memory into the FMA. Per k step 2 B loads and 14 broadcasts
 * feed 28 FMAs (the 8x32 in-place kernel: 10 loads for 16), and A is one contiguous stream
 * ([kc][14], gemm_pack_a) instead of 8 rows that alias in L1 when their stride is a multiple
 * of 4 KB. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/gemm/gemm.h"

#define MR 14

void gemm_packa_ukernel_14x32__avx512f(size_t mr, size_t nc, size_t kc, const float *a_packed,
                                       const float *w, float *c, size_t c_stride,
                                       const gemm_minmax *p, int accumulate) {
  float *cp[MR];
  cp[0] = c;
  /* Rows past mr alias the last real row; gemm_pack_a repeats that row's values, so they
   * compute and store the same numbers. */
#pragma GCC unroll 16
  for (int i = 1; i < MR; i++) cp[i] = (size_t)i < mr ? cp[i - 1] + c_stride : cp[i - 1];
  __m512 acc0[MR], acc1[MR];
  const __mmask16 m0 = nc >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nc) - 1);
  const __mmask16 m1 = nc > 16 ? (__mmask16)((1u << (nc - 16)) - 1) : (__mmask16)0;
  if (accumulate) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      acc0[i] = _mm512_maskz_loadu_ps(m0, cp[i]);
      acc1[i] = _mm512_maskz_loadu_ps(m1, cp[i] + 16);
    }
  } else {
    const __m512 bias0 = _mm512_loadu_ps(w), bias1 = _mm512_loadu_ps(w + 16);
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      acc0[i] = bias0;
      acc1[i] = bias1;
    }
  }
  w += 32;
  /* Two k steps per iteration: the loop's pointer and counter updates compete with the FMAs
   * for ports 0 and 5, and halving them gained 2-5% from L1 and L2. */
#pragma GCC unroll 2
  for (size_t k = 0; k < kc; k++) {
    const __m512 b0 = _mm512_loadu_ps(w), b1 = _mm512_loadu_ps(w + 16);
    /* B comes from L2 (the driver keeps a K x 1024 block there): fetch 32 rows ahead, 5%
     * on 1024^3. A prefetch past the panel's end is harmless. */
    _mm_prefetch((const char *)(w + 1024), _MM_HINT_T0);
    w += 32;
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      const __m512 va = _mm512_set1_ps(a_packed[i]);
      acc0[i] = _mm512_fmadd_ps(va, b0, acc0[i]);
      acc1[i] = _mm512_fmadd_ps(va, b1, acc1[i]);
    }
    a_packed += MR;
  }
  const __m512 vmin = _mm512_set1_ps(p->min), vmax = _mm512_set1_ps(p->max);
  if (nc == 32) {
#pragma GCC unroll 16
    for (int i = MR - 1; i >= 0; i--) {
      _mm512_storeu_ps(cp[i], _mm512_min_ps(_mm512_max_ps(acc0[i], vmin), vmax));
      _mm512_storeu_ps(cp[i] + 16, _mm512_min_ps(_mm512_max_ps(acc1[i], vmin), vmax));
    }
  } else {
#pragma GCC unroll 16
    for (int i = MR - 1; i >= 0; i--) {
      _mm512_mask_storeu_ps(cp[i], m0, _mm512_min_ps(_mm512_max_ps(acc0[i], vmin), vmax));
      _mm512_mask_storeu_ps(cp[i] + 16, m1, _mm512_min_ps(_mm512_max_ps(acc1[i], vmin), vmax));
    }
  }
}

#endif
