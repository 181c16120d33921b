/* AVX2+FMA pixconv forward kernel (pixconv.h): 16 output columns of a row per pass (two
 * vectors per output channel) for up to 6 channels, 8 columns for 7 or 8 (16 ymm registers).
 * Tails use masked loads; the accumulators are transposed to the NHWC row through a small
 * buffer. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/conv2d/pixconv.h"

static inline __m256i lanes(size_t n) {
  const int k = n >= 8 ? 8 : (int)n;
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline __attribute__((always_inline)) void pass(const size_t co, const int nch, size_t n,
                                                       size_t cin, size_t kh, size_t kw,
                                                       const float *in, size_t rstride,
                                                       size_t cstride, const float *w,
                                                       const float *bias, float *out,
                                                       const gemm_minmax *p) {
  const __m256i m0 = lanes(n), m1 = lanes(n > 8 ? n - 8 : 0);
  __m256 a0[PIXCONV_MAX_COUT], a1[PIXCONV_MAX_COUT];
#pragma GCC unroll 8
  for (size_t o = 0; o < co; o++) a0[o] = a1[o] = _mm256_set1_ps(bias[o]);
  for (size_t ky = 0; ky < kh; ky++)
    for (size_t kx = 0; kx < kw; kx++) {
      const float *ip = in + ky * rstride + kx;
      for (size_t c = 0; c < cin; c++, ip += cstride, w += co) {
        const __m256 x0 = _mm256_maskload_ps(ip, m0);
        const __m256 x1 = nch > 1 ? _mm256_maskload_ps(ip + 8, m1) : x0;
#pragma GCC unroll 8
        for (size_t o = 0; o < co; o++) {
          const __m256 wv = _mm256_broadcast_ss(w + o);
          a0[o] = _mm256_fmadd_ps(x0, wv, a0[o]);
          if (nch > 1) a1[o] = _mm256_fmadd_ps(x1, wv, a1[o]);
        }
      }
    }
  const __m256 vmin = _mm256_set1_ps(p->min), vmax = _mm256_set1_ps(p->max);
  float t[PIXCONV_MAX_COUT][16] __attribute__((aligned(32)));
#pragma GCC unroll 8
  for (size_t o = 0; o < co; o++) {
    _mm256_store_ps(t[o], _mm256_min_ps(_mm256_max_ps(a0[o], vmin), vmax));
    if (nch > 1) _mm256_store_ps(t[o] + 8, _mm256_min_ps(_mm256_max_ps(a1[o], vmin), vmax));
  }
  for (size_t x = 0; x < n; x++, out += co)
#pragma GCC unroll 8
    for (size_t o = 0; o < co; o++) out[o] = t[o][x];
}

/* Two vectors per channel up to 6 channels (12 accumulators, 2 inputs, 1 weight). */
#define PASSES(CO)                                                                           \
  case CO:                                                                                   \
    if (CO <= 6)                                                                             \
      for (; x + 8 < width; x += 16)                                                         \
        pass(CO, 2, width - x < 16 ? width - x : 16, cin, kh, kw, in + x, rstride, cstride,  \
             w, bias, out + x * CO, p);                                                      \
    for (; x < width; x += 8)                                                                \
      pass(CO, 1, width - x < 8 ? width - x : 8, cin, kh, kw, in + x, rstride, cstride, w,   \
           bias, out + x * CO, p);                                                           \
    break;

void pixconv_ukernel__avx2_fma(size_t width, size_t cin, size_t kh, size_t kw, size_t cout,
                               const float *in, size_t rstride, size_t cstride, const float *w,
                               const float *bias, float *out, const gemm_minmax *p) {
  size_t x = 0;
  switch (cout) {
    PASSES(1)
    PASSES(2)
    PASSES(3)
    PASSES(4)
    PASSES(5)
    PASSES(6)
    PASSES(7)
    PASSES(8)
    default:
      break;
  }
}

#endif
