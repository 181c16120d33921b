/* AVX-512F pooling micro-kernels: 64 channels per pass over the window, then masked
 * 16-channel steps. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/pool/pool.h"

void maxpool_ukernel__avx512f(size_t channels, size_t taps, const float *const *in, float *out,
                              const gemm_minmax *p) {
  const __m512 vmin = _mm512_set1_ps(p->min), vmax = _mm512_set1_ps(p->max);
  size_t c = 0;
  for (; c + 64 <= channels; c += 64) {
    __m512 m0 = _mm512_loadu_ps(in[0] + c), m1 = _mm512_loadu_ps(in[0] + c + 16);
    __m512 m2 = _mm512_loadu_ps(in[0] + c + 32), m3 = _mm512_loadu_ps(in[0] + c + 48);
    for (size_t t = 1; t < taps; t++) {
      const float *x = in[t] + c;
      m0 = _mm512_max_ps(m0, _mm512_loadu_ps(x));
      m1 = _mm512_max_ps(m1, _mm512_loadu_ps(x + 16));
      m2 = _mm512_max_ps(m2, _mm512_loadu_ps(x + 32));
      m3 = _mm512_max_ps(m3, _mm512_loadu_ps(x + 48));
    }
    _mm512_storeu_ps(out + c, _mm512_min_ps(_mm512_max_ps(m0, vmin), vmax));
    _mm512_storeu_ps(out + c + 16, _mm512_min_ps(_mm512_max_ps(m1, vmin), vmax));
    _mm512_storeu_ps(out + c + 32, _mm512_min_ps(_mm512_max_ps(m2, vmin), vmax));
    _mm512_storeu_ps(out + c + 48, _mm512_min_ps(_mm512_max_ps(m3, vmin), vmax));
  }
  for (; c < channels; c += 16) {
    const size_t left = channels - c;
    const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
    __m512 m = _mm512_maskz_loadu_ps(k, in[0] + c);
    for (size_t t = 1; t < taps; t++) m = _mm512_max_ps(m, _mm512_maskz_loadu_ps(k, in[t] + c));
    _mm512_mask_storeu_ps(out + c, k, _mm512_min_ps(_mm512_max_ps(m, vmin), vmax));
  }
}

void avgpool_ukernel__avx512f(size_t channels, size_t taps, const float *const *in, float scale,
                              float *out, const gemm_minmax *p) {
  const __m512 vmin = _mm512_set1_ps(p->min), vmax = _mm512_set1_ps(p->max);
  const __m512 vs = _mm512_set1_ps(scale);
  size_t c = 0;
  for (; c + 64 <= channels; c += 64) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    for (size_t t = 0; t < taps; t++) {
      const float *x = in[t] + c;
      s0 = _mm512_add_ps(s0, _mm512_loadu_ps(x));
      s1 = _mm512_add_ps(s1, _mm512_loadu_ps(x + 16));
      s2 = _mm512_add_ps(s2, _mm512_loadu_ps(x + 32));
      s3 = _mm512_add_ps(s3, _mm512_loadu_ps(x + 48));
    }
    _mm512_storeu_ps(out + c, _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(s0, vs), vmin), vmax));
    _mm512_storeu_ps(out + c + 16,
                     _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(s1, vs), vmin), vmax));
    _mm512_storeu_ps(out + c + 32,
                     _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(s2, vs), vmin), vmax));
    _mm512_storeu_ps(out + c + 48,
                     _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(s3, vs), vmin), vmax));
  }
  for (; c < channels; c += 16) {
    const size_t left = channels - c;
    const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
    __m512 s = _mm512_setzero_ps();
    for (size_t t = 0; t < taps; t++) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(k, in[t] + c));
    _mm512_mask_storeu_ps(out + c, k,
                          _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(s, vs), vmin), vmax));
  }
}

#endif
