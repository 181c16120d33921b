/* AVX-512F depthwise filter-gradient micro-kernel.
 *
 * The gradient [taps][C] stays in registers while the pixels stream past: 3x3 (the mobilenet
 * case) keeps 2 x 9 accumulators for 32 channels, so per pixel one dy load and one x load
 * feed each FMA, and the 9 tap pointers are read once for two vectors. Other tap counts: per
 * tap, one 16-channel accumulator pair over the pixels. Channel tails use masks. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/grad/dwconv_grad.h"

static __mmask16 tail_mask(size_t left) {
  return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
}

static void filter_3x3(size_t channels, size_t pixels, const float *const *in, const float *dy,
                       float *acc) {
  size_t c = 0;
  for (; c + 32 <= channels; c += 32) {
    __m512 a[9], b[9];
#pragma GCC unroll 9
    for (int t = 0; t < 9; t++) {
      a[t] = _mm512_loadu_ps(acc + (size_t)t * channels + c);
      b[t] = _mm512_loadu_ps(acc + (size_t)t * channels + c + 16);
    }
    const float *const *p = in;
    const float *d = dy + c;
    for (size_t x = 0; x < pixels; x++, p += 9, d += channels) {
      const __m512 d0 = _mm512_loadu_ps(d), d1 = _mm512_loadu_ps(d + 16);
#pragma GCC unroll 9
      for (int t = 0; t < 9; t++) {
        const float *xi = p[t] + c;
        a[t] = _mm512_fmadd_ps(d0, _mm512_loadu_ps(xi), a[t]);
        b[t] = _mm512_fmadd_ps(d1, _mm512_loadu_ps(xi + 16), b[t]);
      }
    }
#pragma GCC unroll 9
    for (int t = 0; t < 9; t++) {
      _mm512_storeu_ps(acc + (size_t)t * channels + c, a[t]);
      _mm512_storeu_ps(acc + (size_t)t * channels + c + 16, b[t]);
    }
  }
  for (; c < channels; c += 16) {
    const __mmask16 m = tail_mask(channels - c);
    __m512 a[9];
#pragma GCC unroll 9
    for (int t = 0; t < 9; t++) a[t] = _mm512_maskz_loadu_ps(m, acc + (size_t)t * channels + c);
    const float *const *p = in;
    const float *d = dy + c;
    for (size_t x = 0; x < pixels; x++, p += 9, d += channels) {
      const __m512 d0 = _mm512_maskz_loadu_ps(m, d);
#pragma GCC unroll 9
      for (int t = 0; t < 9; t++)
        a[t] = _mm512_fmadd_ps(d0, _mm512_maskz_loadu_ps(m, p[t] + c), a[t]);
    }
#pragma GCC unroll 9
    for (int t = 0; t < 9; t++) _mm512_mask_storeu_ps(acc + (size_t)t * channels + c, m, a[t]);
  }
}

void dwconv_grad_filter__avx512f(size_t channels, size_t pixels, size_t taps,
                                 const float *const *in, const float *dy, float *acc) {
  if (taps == 9) {
    filter_3x3(channels, pixels, in, dy, acc);
    return;
  }
  for (size_t c = 0; c < channels; c += 16) {
    const __mmask16 m = tail_mask(channels - c);
    for (size_t t = 0; t < taps; t++) {
      float *at = acc + t * channels + c;
      __m512 a0 = _mm512_maskz_loadu_ps(m, at), a1 = _mm512_setzero_ps();
      size_t x = 0;
      for (; x + 2 <= pixels; x += 2) {
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, dy + x * channels + c),
                             _mm512_maskz_loadu_ps(m, in[x * taps + t] + c), a0);
        a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, dy + (x + 1) * channels + c),
                             _mm512_maskz_loadu_ps(m, in[(x + 1) * taps + t] + c), a1);
      }
      if (x < pixels)
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, dy + x * channels + c),
                             _mm512_maskz_loadu_ps(m, in[x * taps + t] + c), a0);
      _mm512_mask_storeu_ps(at, m, _mm512_add_ps(a0, a1));
    }
  }
}

#endif
