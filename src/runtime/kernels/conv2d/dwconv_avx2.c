/* AVX2+FMA depthwise micro-kernel: 32 channels (4 accumulators) per pass over the taps, then 8
 * at a time, then a scalar tail. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/conv2d/dwconv.h"

static void dwconv_pixel(size_t channels, size_t taps, const float *const *in, const float *w,
                         const float *bias, float *out, const gemm_minmax *p) {
  const __m256 vmin = _mm256_set1_ps(p->min), vmax = _mm256_set1_ps(p->max);
  size_t c = 0;
  for (; c + 32 <= channels; c += 32) {
    __m256 a0 = _mm256_loadu_ps(bias + c), a1 = _mm256_loadu_ps(bias + c + 8);
    __m256 a2 = _mm256_loadu_ps(bias + c + 16), a3 = _mm256_loadu_ps(bias + c + 24);
    const float *wt = w + c;
    for (size_t t = 0; t < taps; t++, wt += channels) {
      const float *x = in[t] + c;
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(wt), a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 8), _mm256_loadu_ps(wt + 8), a1);
      a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 16), _mm256_loadu_ps(wt + 16), a2);
      a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 24), _mm256_loadu_ps(wt + 24), a3);
    }
    _mm256_storeu_ps(out + c, _mm256_min_ps(_mm256_max_ps(a0, vmin), vmax));
    _mm256_storeu_ps(out + c + 8, _mm256_min_ps(_mm256_max_ps(a1, vmin), vmax));
    _mm256_storeu_ps(out + c + 16, _mm256_min_ps(_mm256_max_ps(a2, vmin), vmax));
    _mm256_storeu_ps(out + c + 24, _mm256_min_ps(_mm256_max_ps(a3, vmin), vmax));
  }
  for (; c + 8 <= channels; c += 8) {
    __m256 a = _mm256_loadu_ps(bias + c);
    const float *wt = w + c;
    for (size_t t = 0; t < taps; t++, wt += channels)
      a = _mm256_fmadd_ps(_mm256_loadu_ps(in[t] + c), _mm256_loadu_ps(wt), a);
    _mm256_storeu_ps(out + c, _mm256_min_ps(_mm256_max_ps(a, vmin), vmax));
  }
  for (; c < channels; c++) {
    float acc = bias[c];
    for (size_t t = 0; t < taps; t++) acc = __builtin_fmaf(in[t][c], w[t * channels + c], acc);
    acc = acc < p->min ? p->min : acc;
    out[c] = acc > p->max ? p->max : acc;
  }
}

void dwconv_ukernel__avx2_fma(size_t channels, size_t pixels, size_t taps,
                              const float *const *in, const float *w, const float *bias,
                              float *out, const gemm_minmax *p) {
  for (size_t x = 0; x < pixels; x++, in += taps, out += channels)
    dwconv_pixel(channels, taps, in, w, bias, out, p);
}

#endif
