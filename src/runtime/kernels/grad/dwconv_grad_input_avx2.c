/* AVX2+FMA depthwise input-gradient (scatter) micro-kernel.
 *
 * 3x3: the 9 weight vectors of an 8-channel block stay in registers while the pixels stream
 * past; each (pixel, tap) is one read-modify-write of the target row, in order, so
 * overlapping windows add up exactly. Channels past the last multiple of 8 take the scalar
 * formula. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/grad/dwconv_grad.h"

void dwconv_grad_input__avx2_fma(size_t channels, size_t pixels, size_t taps, float *const *out,
                                 const float *dy, const float *w) {
  const size_t cv = channels / 8 * 8;
  if (taps == 9) {
    for (size_t c = 0; c < cv; c += 8) {
      __m256 wv[9];
#pragma GCC unroll 9
      for (int t = 0; t < 9; t++) wv[t] = _mm256_loadu_ps(w + (size_t)t * channels + c);
      float *const *p = out;
      const float *d = dy + c;
      for (size_t x = 0; x < pixels; x++, p += 9, d += channels) {
        const __m256 d0 = _mm256_loadu_ps(d);
#pragma GCC unroll 9
        for (int t = 0; t < 9; t++) {
          float *o = p[t] + c;
          _mm256_storeu_ps(o, _mm256_fmadd_ps(d0, wv[t], _mm256_loadu_ps(o)));
        }
      }
    }
  } else {
    float *const *p = out;
    const float *d = dy;
    for (size_t x = 0; x < pixels; x++, p += taps, d += channels)
      for (size_t t = 0; t < taps; t++)
        for (size_t c = 0; c < cv; c += 8) {
          float *o = p[t] + c;
          _mm256_storeu_ps(o, _mm256_fmadd_ps(_mm256_loadu_ps(d + c),
                                              _mm256_loadu_ps(w + t * channels + c),
                                              _mm256_loadu_ps(o)));
        }
  }
  if (cv < channels)
    for (size_t x = 0; x < pixels; x++, out += taps, dy += channels)
      for (size_t t = 0; t < taps; t++)
        for (size_t c = cv; c < channels; c++) out[t][c] += dy[c] * w[t * channels + c];
}

#endif
