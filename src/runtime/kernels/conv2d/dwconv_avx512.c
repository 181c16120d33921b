/* AVX-512F depthwise micro-kernel: 64 channels (4 accumulators) per pass over the taps, then
 * 16 at a time, then a masked tail. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/conv2d/dwconv.h"

void dwconv_ukernel__avx512f(size_t channels, size_t taps, const float *const *in,
                             const float *w, const float *bias, float *out,
                             const gemm_minmax *p) {
  const __m512 vmin = _mm512_set1_ps(p->min), vmax = _mm512_set1_ps(p->max);
  size_t c = 0;
  for (; c + 64 <= channels; c += 64) {
    __m512 a0 = _mm512_loadu_ps(bias + c), a1 = _mm512_loadu_ps(bias + c + 16);
    __m512 a2 = _mm512_loadu_ps(bias + c + 32), a3 = _mm512_loadu_ps(bias + c + 48);
    const float *wt = w + c;
    for (size_t t = 0; t < taps; t++, wt += channels) {
      const float *x = in[t] + c;
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x), _mm512_loadu_ps(wt), a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + 16), _mm512_loadu_ps(wt + 16), a1);
      a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + 32), _mm512_loadu_ps(wt + 32), a2);
      a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + 48), _mm512_loadu_ps(wt + 48), a3);
    }
    _mm512_storeu_ps(out + c, _mm512_min_ps(_mm512_max_ps(a0, vmin), vmax));
    _mm512_storeu_ps(out + c + 16, _mm512_min_ps(_mm512_max_ps(a1, vmin), vmax));
    _mm512_storeu_ps(out + c + 32, _mm512_min_ps(_mm512_max_ps(a2, vmin), vmax));
    _mm512_storeu_ps(out + c + 48, _mm512_min_ps(_mm512_max_ps(a3, vmin), vmax));
  }
  for (; c < channels; c += 16) {
    const size_t left = channels - c;
    const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
    __m512 a = _mm512_maskz_loadu_ps(m, bias + c);
    const float *wt = w + c;
    for (size_t t = 0; t < taps; t++, wt += channels)
      a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, in[t] + c), _mm512_maskz_loadu_ps(m, wt), a);
    _mm512_mask_storeu_ps(out + c, m, _mm512_min_ps(_mm512_max_ps(a, vmin), vmax));
  }
}

#endif
