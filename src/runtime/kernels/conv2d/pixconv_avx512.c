/* AVX-512F pixconv forward kernel (pixconv.h): 32 output columns of a row per pass, two
 * vectors per output channel (up to 16 accumulators), each input vector loaded once per tap
 * and multiplied by every output channel's broadcast weight. The accumulators are transposed
 * to the NHWC row through a small buffer. The instantiations per channel count keep the
 * accumulators in registers. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/conv2d/pixconv.h"

static inline __mmask16 lanes(size_t n) {
  return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
}

static inline __attribute__((always_inline)) void pass(const size_t co, const int nch, size_t n,
                                                       size_t cin, size_t kh, size_t kw,
                                                       const float *in, size_t rstride,
                                                       size_t cstride, const float *w,
                                                       const float *bias, float *out,
                                                       const gemm_minmax *p) {
  const __mmask16 m0 = lanes(n), m1 = n > 16 ? lanes(n - 16) : 0;
  __m512 a0[PIXCONV_MAX_COUT], a1[PIXCONV_MAX_COUT];
#pragma GCC unroll 8
  for (size_t o = 0; o < co; o++) a0[o] = a1[o] = _mm512_set1_ps(bias[o]);
  for (size_t ky = 0; ky < kh; ky++)
    for (size_t kx = 0; kx < kw; kx++) {
      const float *ip = in + ky * rstride + kx;
      for (size_t c = 0; c < cin; c++, ip += cstride, w += co) {
        const __m512 x0 = _mm512_maskz_loadu_ps(m0, ip);
        const __m512 x1 = nch > 1 ? _mm512_maskz_loadu_ps(m1, ip + 16) : x0;
#pragma GCC unroll 8
        for (size_t o = 0; o < co; o++) {
          const __m512 wv = _mm512_set1_ps(w[o]);
          a0[o] = _mm512_fmadd_ps(x0, wv, a0[o]);
          if (nch > 1) a1[o] = _mm512_fmadd_ps(x1, wv, a1[o]);
        }
      }
    }
  const __m512 vmin = _mm512_set1_ps(p->min), vmax = _mm512_set1_ps(p->max);
  float t[PIXCONV_MAX_COUT][32] __attribute__((aligned(64)));
#pragma GCC unroll 8
  for (size_t o = 0; o < co; o++) {
    _mm512_store_ps(t[o], _mm512_min_ps(_mm512_max_ps(a0[o], vmin), vmax));
    if (nch > 1) _mm512_store_ps(t[o] + 16, _mm512_min_ps(_mm512_max_ps(a1[o], vmin), vmax));
  }
  for (size_t x = 0; x < n; x++, out += co)
#pragma GCC unroll 8
    for (size_t o = 0; o < co; o++) out[o] = t[o][x];
}

#define PASSES(CO)                                                                           \
  case CO:                                                                                   \
    for (; x + 16 < width; x += 32)                                                          \
      pass(CO, 2, width - x < 32 ? width - x : 32, cin, kh, kw, in + x, rstride, cstride, w, \
           bias, out + x * CO, p);                                                           \
    if (x < width) pass(CO, 1, width - x, cin, kh, kw, in + x, rstride, cstride, w, bias,   \
                        out + x * CO, p);                                                    \
    break;

void pixconv_ukernel__avx512f(size_t width, size_t cin, size_t kh, size_t kw, size_t cout,
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
