/* AVX2 pooling micro-kernels: 8 channels per vector, scalar tail. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/pool/pool.h"

void maxpool_ukernel__avx2(size_t channels, size_t taps, const float *const *in, float *out,
                           const gemm_minmax *p) {
  const __m256 vmin = _mm256_set1_ps(p->min), vmax = _mm256_set1_ps(p->max);
  size_t c = 0;
  for (; c + 16 <= channels; c += 16) {
    __m256 m0 = _mm256_loadu_ps(in[0] + c), m1 = _mm256_loadu_ps(in[0] + c + 8);
    for (size_t t = 1; t < taps; t++) {
      m0 = _mm256_max_ps(m0, _mm256_loadu_ps(in[t] + c));
      m1 = _mm256_max_ps(m1, _mm256_loadu_ps(in[t] + c + 8));
    }
    _mm256_storeu_ps(out + c, _mm256_min_ps(_mm256_max_ps(m0, vmin), vmax));
    _mm256_storeu_ps(out + c + 8, _mm256_min_ps(_mm256_max_ps(m1, vmin), vmax));
  }
  for (; c + 8 <= channels; c += 8) {
    __m256 m = _mm256_loadu_ps(in[0] + c);
    for (size_t t = 1; t < taps; t++) m = _mm256_max_ps(m, _mm256_loadu_ps(in[t] + c));
    _mm256_storeu_ps(out + c, _mm256_min_ps(_mm256_max_ps(m, vmin), vmax));
  }
  for (; c < channels; c++) {
    float m = in[0][c];
    for (size_t t = 1; t < taps; t++) m = in[t][c] > m ? in[t][c] : m;
    m = m < p->min ? p->min : m;
    out[c] = m > p->max ? p->max : m;
  }
}

void avgpool_ukernel__avx2(size_t channels, size_t taps, const float *const *in, float scale,
                           float *out, const gemm_minmax *p) {
  const __m256 vmin = _mm256_set1_ps(p->min), vmax = _mm256_set1_ps(p->max);
  const __m256 vs = _mm256_set1_ps(scale);
  size_t c = 0;
  for (; c + 8 <= channels; c += 8) {
    __m256 s = _mm256_setzero_ps();
    for (size_t t = 0; t < taps; t++) s = _mm256_add_ps(s, _mm256_loadu_ps(in[t] + c));
    _mm256_storeu_ps(out + c, _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(s, vs), vmin), vmax));
  }
  for (; c < channels; c++) {
    float s = 0.0f;
    for (size_t t = 0; t < taps; t++) s += in[t][c];
    s *= scale;
    s = s < p->min ? p->min : s;
    out[c] = s > p->max ? p->max : s;
  }
}

#endif
