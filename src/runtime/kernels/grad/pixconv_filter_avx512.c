/* AVX-512F pixconv filter-gradient kernel (pixconv.h). Per kernel row, input channel, block of
 * up to 5 kernel columns and block of up to 4 output channels, up to 20 vector accumulators
 * (one per weight) stay in registers while every row of the call streams past: per 16 columns,
 * the 5 shifted input vectors and 4 dy vectors feed 20 FMAs. Each accumulator is summed across
 * its lanes once per call. Tails use masked loads (masked lanes read nothing and add 0). */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/conv2d/pixconv.h"

static inline __mmask16 lanes(size_t n) {
  return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
}

/* acc[k * cout + j] += sum over rows and columns of x[r][i + k] * d[r][j][i], k < nkx, j < no. */
static inline __attribute__((always_inline)) void block(const int nkx, const int no, size_t rows,
                                                        size_t width, const float *x,
                                                        size_t in_step, const float *d,
                                                        size_t dy_step, size_t dy_ostride,
                                                        float *acc, size_t kstride) {
  __m512 a[5][4];
#pragma GCC unroll 8
  for (int k = 0; k < nkx; k++)
#pragma GCC unroll 8
    for (int j = 0; j < no; j++) a[k][j] = _mm512_setzero_ps();
  for (size_t r = 0; r < rows; r++, x += in_step, d += dy_step)
    for (size_t i = 0; i < width; i += 16) {
      const __mmask16 m = lanes(width - i);
      __m512 xv[5];
#pragma GCC unroll 8
      for (int k = 0; k < nkx; k++) xv[k] = _mm512_maskz_loadu_ps(m, x + i + k);
#pragma GCC unroll 8
      for (int j = 0; j < no; j++) {
        const __m512 dv = _mm512_maskz_loadu_ps(m, d + (size_t)j * dy_ostride + i);
#pragma GCC unroll 8
        for (int k = 0; k < nkx; k++) a[k][j] = _mm512_fmadd_ps(xv[k], dv, a[k][j]);
      }
    }
#pragma GCC unroll 8
  for (int k = 0; k < nkx; k++)
#pragma GCC unroll 8
    for (int j = 0; j < no; j++) acc[(size_t)k * kstride + (size_t)j] += _mm512_reduce_add_ps(a[k][j]);
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
      CASE_NO(NKX, 4)      \
      default:             \
        break;             \
    }                      \
    break;

void pixconv_filter__avx512f(size_t rows, size_t width, size_t cin, size_t kh, size_t kw,
                             size_t cout, const float *in, size_t in_step, size_t rstride,
                             size_t cstride, const float *dy, size_t dy_step, size_t dy_ostride,
                             float *acc) {
  /* Output channels in equal blocks of at most 4 (6 -> 3 + 3, not 4 + 2). */
  const size_t nblk = (cout + 3) / 4, ob = (cout + nblk - 1) / nblk;
  const size_t nbx = (kw + 4) / 5, kb = (kw + nbx - 1) / nbx; /* kernel columns alike */
  const size_t kstride = cin * cout; /* acc distance between adjacent kx */
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
            CASE_NKX(4)
            CASE_NKX(5)
            default:
              break;
          }
        }
    }
}

#endif
