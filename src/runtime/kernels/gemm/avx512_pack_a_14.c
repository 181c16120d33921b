/* AVX-512F packing of a 14-row panel of A for the 14x32 packed-A kernel: [kc][14] from 14 rows
 * of A. Per 16 columns, each row is read as one vector (one cache line touched once; the
 * scalar packer reads 14 rows a float at a time, and when they are 4 KB apart, as where the
 * packed-A path runs, the 14 lines share one 12-way L1 set and evict each other every column)
 * and a 16x16 register transpose (rows 14 and 15 zero) yields the 16 packed rows. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/gemm/gemm.h"

#define MR 14

/* r[i] holds row i; on return r[j] holds column j (element i = old r[i][j]). */
static inline void transpose16(__m512 r[16]) {
  __m512 a[16], b[16];
#pragma GCC unroll 8
  for (int p = 0; p < 8; p++) {
    a[2 * p] = _mm512_unpacklo_ps(r[2 * p], r[2 * p + 1]);
    a[2 * p + 1] = _mm512_unpackhi_ps(r[2 * p], r[2 * p + 1]);
  }
  /* b[4q + c], 128-bit lane L: rows 4q..4q+3 of column 4L + c. */
#pragma GCC unroll 4
  for (int q = 0; q < 4; q++) {
    const __m512d a0 = _mm512_castps_pd(a[4 * q]), a1 = _mm512_castps_pd(a[4 * q + 1]);
    const __m512d a2 = _mm512_castps_pd(a[4 * q + 2]), a3 = _mm512_castps_pd(a[4 * q + 3]);
    b[4 * q] = _mm512_castpd_ps(_mm512_unpacklo_pd(a0, a2));
    b[4 * q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a0, a2));
    b[4 * q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(a1, a3));
    b[4 * q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(a1, a3));
  }
  /* Per c, a 4x4 transpose of 128-bit lanes across b[c], b[4 + c], b[8 + c], b[12 + c]. */
#pragma GCC unroll 4
  for (int c = 0; c < 4; c++) {
    const __m512 s0 = _mm512_shuffle_f32x4(b[c], b[4 + c], 0x44);
    const __m512 s1 = _mm512_shuffle_f32x4(b[c], b[4 + c], 0xEE);
    const __m512 s2 = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], 0x44);
    const __m512 s3 = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], 0xEE);
    r[c] = _mm512_shuffle_f32x4(s0, s2, 0x88);
    r[4 + c] = _mm512_shuffle_f32x4(s0, s2, 0xDD);
    r[8 + c] = _mm512_shuffle_f32x4(s1, s3, 0x88);
    r[12 + c] = _mm512_shuffle_f32x4(s1, s3, 0xDD);
  }
}

void gemm_pack_a_14__avx512f(size_t mr, size_t rows, size_t kc, const float *a, size_t lda,
                             float *dst) {
  if (mr != MR || rows == 0) { /* not this packer's panel: the portable one */
    gemm_pack_a(mr, rows, kc, a, lda, dst);
    return;
  }
  const float *src[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++) src[i] = a + ((size_t)i < rows ? (size_t)i : rows - 1) * lda;
  size_t kk = 0;
  for (; kk + 16 <= kc; kk += 16, dst += 16 * MR) {
    __m512 r[16];
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) r[i] = _mm512_loadu_ps(src[i] + kk);
    r[14] = r[15] = _mm512_setzero_ps();
    transpose16(r);
    /* Packed rows are 14 floats (56 bytes): each store writes its row; the next overwrites
     * nothing of it. */
#pragma GCC unroll 16
    for (int j = 0; j < 16; j++) _mm512_mask_storeu_ps(dst + j * MR, (__mmask16)0x3FFF, r[j]);
  }
  for (; kk < kc; kk++, dst += MR)
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) dst[i] = src[i][kk];
}

#endif
