/* AVX2+FMA depthwise filter-gradient micro-kernel.
 *
 * 3x3: 9 accumulators of 8 channels stay in registers while the pixels stream past (one dy
 * load and one x load per FMA). Other tap counts: per tap, two accumulators over the pixels.
 * Channels past the last multiple of 8 take the scalar formula. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/grad/dwconv_grad.h"

static void tail_scalar(size_t c0, size_t channels, size_t pixels, size_t taps,
                        const float *const *in, const float *dy, float *acc) {
  for (size_t x = 0; x < pixels; x++, in += taps, dy += channels)
    for (size_t t = 0; t < taps; t++)
      for (size_t c = c0; c < channels; c++) acc[t * channels + c] += dy[c] * in[t][c];
}

void dwconv_grad_filter__avx2_fma(size_t channels, size_t pixels, size_t taps,
                                  const float *const *in, const float *dy, float *acc) {
  const size_t cv = channels / 8 * 8;
  if (taps == 9) {
    for (size_t c = 0; c < cv; c += 8) {
      __m256 a[9];
#pragma GCC unroll 9
      for (int t = 0; t < 9; t++) a[t] = _mm256_loadu_ps(acc + (size_t)t * channels + c);
      const float *const *p = in;
      const float *d = dy + c;
      for (size_t x = 0; x < pixels; x++, p += 9, d += channels) {
        const __m256 d0 = _mm256_loadu_ps(d);
#pragma GCC unroll 9
        for (int t = 0; t < 9; t++) a[t] = _mm256_fmadd_ps(d0, _mm256_loadu_ps(p[t] + c), a[t]);
      }
#pragma GCC unroll 9
      for (int t = 0; t < 9; t++) _mm256_storeu_ps(acc + (size_t)t * channels + c, a[t]);
    }
  } else {
    for (size_t c = 0; c < cv; c += 8)
      for (size_t t = 0; t < taps; t++) {
        float *at = acc + t * channels + c;
        __m256 a0 = _mm256_loadu_ps(at), a1 = _mm256_setzero_ps();
        size_t x = 0;
        for (; x + 2 <= pixels; x += 2) {
          a0 = _mm256_fmadd_ps(_mm256_loadu_ps(dy + x * channels + c),
                               _mm256_loadu_ps(in[x * taps + t] + c), a0);
          a1 = _mm256_fmadd_ps(_mm256_loadu_ps(dy + (x + 1) * channels + c),
                               _mm256_loadu_ps(in[(x + 1) * taps + t] + c), a1);
        }
        if (x < pixels)
          a0 = _mm256_fmadd_ps(_mm256_loadu_ps(dy + x * channels + c),
                               _mm256_loadu_ps(in[x * taps + t] + c), a0);
        _mm256_storeu_ps(at, _mm256_add_ps(a0, a1));
      }
  }
  if (cv < channels) tail_scalar(cv, channels, pixels, taps, in, dy, acc);
}

#endif
