/* AVX-512F transposed-A GEMM micro-kernel, MR=8 x NR=32: per k step, two B vectors from row k
 * and 8 broadcasts from the contiguous A values of row k feed 16 FMAs into 16 accumulators.
 * A tile of fewer than 8 rows runs the same code with the row count a variable (no reads past
 * the mr values of A); column tails use masks. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/grad/gemm_tn.h"

#define MR 8

static inline __attribute__((always_inline)) void tile(size_t mr, size_t nc, size_t k,
                                                       const float *a, size_t lda,
                                                       const float *b, size_t ldb, float *c,
                                                       size_t ldc) {
  const __mmask16 m0 = nc >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nc) - 1);
  const __mmask16 m1 = nc > 16 ? (nc >= 32 ? (__mmask16)0xFFFF : (__mmask16)((1u << (nc - 16)) - 1))
                               : (__mmask16)0;
  __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; i++) acc0[i] = acc1[i] = _mm512_setzero_ps();
  for (size_t p = 0; p < k; p++, a += lda, b += ldb) {
    const __m512 b0 = _mm512_maskz_loadu_ps(m0, b), b1 = _mm512_maskz_loadu_ps(m1, b + 16);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
      if ((size_t)i >= mr) break;
      const __m512 va = _mm512_set1_ps(a[i]);
      acc0[i] = _mm512_fmadd_ps(va, b0, acc0[i]);
      acc1[i] = _mm512_fmadd_ps(va, b1, acc1[i]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; i++) {
    if ((size_t)i >= mr) break;
    float *ci = c + (size_t)i * ldc;
    _mm512_mask_storeu_ps(ci, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, ci), acc0[i]));
    _mm512_mask_storeu_ps(ci + 16, m1, _mm512_add_ps(_mm512_maskz_loadu_ps(m1, ci + 16), acc1[i]));
  }
}

void gemm_tn_ukernel_8x32__avx512f(size_t mr, size_t nc, size_t k, const float *a, size_t lda,
                                   const float *b, size_t ldb, float *c, size_t ldc) {
  if (mr == MR)
    tile(MR, nc, k, a, lda, b, ldb, c, ldc);
  else
    tile(mr, nc, k, a, lda, b, ldb, c, ldc);
}

#endif
