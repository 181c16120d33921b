/* AVX2+FMA pixconv filter-gradient kernel (pixconv.h). Per kernel row, input channel, block of
 * up to 3 kernel columns and block of up to 3 output channels, up to 9 vector accumulators
 * (one per weight; 16 ymm registers) stay in registers while every row of the call streams
 * past, and are summed across their lanes once per call. Tails use masked loads. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/conv2d/pixconv.h"

static inline __m256i lanes(size_t n) {
  const int k = n >= 8 ? 8 : (int)n;
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

static inline __attribute__((always_inline)) void block(const int nkx, const int no, size_t rows,
                                                        size_t width, const float *x,
                                                        size_t in_step, const float *d,
                                                        size_t dy_step, size_t dy_ostride,
                                                        float *acc, size_t kstride) {
  __m256 a[3][3];
#pragma GCC unroll 8
  for (int k = 0; k < nkx; k++)
#pragma GCC unroll 8
    for (int j = 0; j < no; j++) a[k][j] = _mm256_setzero_ps();
  for (size_t r = 0; r < rows; r++, x += in_step, d += dy_step)
    for (size_t i = 0; i < width; i += 8) {
      const __m256i m = lanes(width - i);
      __m256 xv[3];
#pragma GCC unroll 8
      for (int k = 0; k < nkx; k++) xv[k] = _mm256_maskload_ps(x + i + k, m);
#pragma GCC unroll 8
      for (int j = 0; j < no; j++) {
        const __m256 dv = _mm256_maskload_ps(d + (size_t)j * dy_ostride + i, m);
#pragma GCC unroll 8
        for (int k = 0; k < nkx; k++) a[k][j] = _mm256_fmadd_ps(xv[k], dv, a[k][j]);
      }
    }
#pragma GCC unroll 8
  for (int k = 0; k < nkx; k++)
#pragma GCC unroll 8
    for (int j = 0; j < no; j++) acc[(size_t)k * kstride + (size_t)j] += hsum(a[k][j]);
}

#define CASE_NO(NKX, NO)                                                                 \
  case NO:                                                                               \
    block(NKX, NO, rows, width, x, in_step, d, dy_step, dy_ostride, dst, kstride); \
    break;
#define CASE_NKX(NKX)      \
  case NKX:                \
    switch (no) {          \
      CASE_NO(NKX, 1)      \
      CASE_NO(NKX, 2)      \
      CASE_NO(NKX, 3)      \
      default:             \
        break;             \
    }                      \
    break;

void pixconv_filter__avx2_fma(size_t rows, size_t width, size_t cin, size_t kh, size_t kw,
                              size_t cout, const float *in, size_t in_step, size_t rstride,
                              size_t cstride, const float *dy, size_t dy_step, size_t dy_ostride,
                              float *acc) {
  const size_t nblk = (cout + 2) / 3, ob = (cout + nblk - 1) / nblk;
  const size_t nbx = (kw + 2) / 3, kb = (kw + nbx - 1) / nbx;
  const size_t kstride = cin * cout;
  for (size_t ky = 0; ky < kh; ky++)
    for (size_t kx = 0; kx < kw; kx += kb) {
      const int nkx = (int)(kw - kx < kb ? kw - kx : kb);
      for (size_t c = 0; c < cin; c++)
        for (size_t o = 0; o < cout; o += ob) {
          const int no = (int)(cout - o < ob ? cout - o : ob);
          const float *x = in + c * cstride + ky * rstride + kx;
          const float *d = dy + o * dy_ostride;
          float *dst = acc + ((ky * kw + kx) * cin + c) * cout + o;
          switch (nkx) {
            CASE_NKX(1)
            CASE_NKX(2)
            CASE_NKX(3)
            default:
              break;
          }
        }
    }
}

#endif
