/* AVX-512F depthwise input-gradient (scatter) micro-kernel.
 *
 * 3x3: the 9 weight vectors of a 32-channel block stay in registers (18 zmm) while the pixels
 * stream past; each (pixel, tap) is one read-modify-write of the target row, in order, so
 * overlapping windows add up exactly. Other tap counts: per pixel and tap, 16 channels at a
 * time. Channel tails use masks. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/grad/dwconv_grad.h"

static __mmask16 tail_mask(size_t left) {
  return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
}

static void input_3x3(size_t channels, size_t pixels, float *const *out, const float *dy,
                      const float *w) {
  size_t c = 0;
  for (; c + 32 <= channels; c += 32) {
    __m512 wa[9], wb[9];
#pragma GCC unroll 9
    for (int t = 0; t < 9; t++) {
      wa[t] = _mm512_loadu_ps(w + (size_t)t * channels + c);
      wb[t] = _mm512_loadu_ps(w + (size_t)t * channels + c + 16);
    }
    float *const *p = out;
    const float *d = dy + c;
    for (size_t x = 0; x < pixels; x++, p += 9, d += channels) {
      const __m512 d0 = _mm512_loadu_ps(d), d1 = _mm512_loadu_ps(d + 16);
#pragma GCC unroll 9
      for (int t = 0; t < 9; t++) {
        float *o = p[t] + c;
        _mm512_storeu_ps(o, _mm512_fmadd_ps(d0, wa[t], _mm512_loadu_ps(o)));
        _mm512_storeu_ps(o + 16, _mm512_fmadd_ps(d1, wb[t], _mm512_loadu_ps(o + 16)));
      }
    }
  }
  for (; c < channels; c += 16) {
    const __mmask16 m = tail_mask(channels - c);
    __m512 wa[9];
#pragma GCC unroll 9
    for (int t = 0; t < 9; t++) wa[t] = _mm512_maskz_loadu_ps(m, w + (size_t)t * channels + c);
    float *const *p = out;
    const float *d = dy + c;
    for (size_t x = 0; x < pixels; x++, p += 9, d += channels) {
      const __m512 d0 = _mm512_maskz_loadu_ps(m, d);
#pragma GCC unroll 9
      for (int t = 0; t < 9; t++) {
        float *o = p[t] + c;
        _mm512_mask_storeu_ps(o, m, _mm512_fmadd_ps(d0, wa[t], _mm512_maskz_loadu_ps(m, o)));
      }
    }
  }
}

void dwconv_grad_input__avx512f(size_t channels, size_t pixels, size_t taps, float *const *out,
                                const float *dy, const float *w) {
  if (taps == 9) {
    input_3x3(channels, pixels, out, dy, w);
    return;
  }
  for (size_t x = 0; x < pixels; x++, out += taps, dy += channels)
    for (size_t t = 0; t < taps; t++) {
      float *o = out[t];
      const float *wt = w + t * channels;
      for (size_t c = 0; c < channels; c += 16) {
        const __mmask16 m = tail_mask(channels - c);
        _mm512_mask_storeu_ps(o + c, m,
                              _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, dy + c),
                                              _mm512_maskz_loadu_ps(m, wt + c),
                                              _mm512_maskz_loadu_ps(m, o + c)));
      }
    }
}

#endif
