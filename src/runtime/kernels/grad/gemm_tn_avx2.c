/* AVX2+FMA transposed-A GEMM micro-kernel, MR=6 x NR=16: per k step, two B vectors from row k
 * and 6 broadcasts from the contiguous A values of row k feed 12 FMAs into 12 accumulators
 * (15 of the 16 ymm registers). A tile of fewer rows runs the same code with the row count a
 * variable; column tails go through a zero-padded copy of the B row and C tile. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <string.h>

#include "runtime/kernels/grad/gemm_tn.h"

#define MR 6

static inline __attribute__((always_inline)) void tile(size_t mr, size_t nc, size_t k,
                                                       const float *a, size_t lda,
                                                       const float *b, size_t ldb, float *c,
                                                       size_t ldc) {
  __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 6
  for (int i = 0; i < MR; i++) acc0[i] = acc1[i] = _mm256_setzero_ps();
  float bt[16];
  for (size_t p = 0; p < k; p++, a += lda, b += ldb) {
    const float *bp = b;
    if (nc < 16) {
      memset(bt, 0, sizeof bt);
      memcpy(bt, b, nc * sizeof(float));
      bp = bt;
    }
    const __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
      if ((size_t)i >= mr) break;
      const __m256 va = _mm256_broadcast_ss(a + i);
      acc0[i] = _mm256_fmadd_ps(va, b0, acc0[i]);
      acc1[i] = _mm256_fmadd_ps(va, b1, acc1[i]);
    }
  }
#pragma GCC unroll 6
  for (int i = 0; i < MR; i++) {
    if ((size_t)i >= mr) break;
    float *ci = c + (size_t)i * ldc;
    if (nc == 16) {
      _mm256_storeu_ps(ci, _mm256_add_ps(_mm256_loadu_ps(ci), acc0[i]));
      _mm256_storeu_ps(ci + 8, _mm256_add_ps(_mm256_loadu_ps(ci + 8), acc1[i]));
    } else {
      float t[16];
      _mm256_storeu_ps(t, acc0[i]);
      _mm256_storeu_ps(t + 8, acc1[i]);
      for (size_t j = 0; j < nc; j++) ci[j] += t[j];
    }
  }
}

void gemm_tn_ukernel_6x16__avx2_fma(size_t mr, size_t nc, size_t k, const float *a, size_t lda,
                                    const float *b, size_t ldb, float *c, size_t ldc) {
  if (mr == MR)
    tile(MR, nc, k, a, lda, b, ldb, c, ldc);
  else
    tile(mr, nc, k, a, lda, b, ldb, c, ldc);
}

#endif
