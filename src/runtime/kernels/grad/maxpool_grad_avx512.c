/* AVX-512F non-overlapping max-pool gradient row (maxpool_grad.h): 16 channels
 * of a window per pass (a masked tail, so 6 channels take one pass), the
 * winning tap's index kept in an integer vector, then every tap stored once as
 * dy or 0. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/grad/maxpool_grad.h"

void maxpool_grad_row__avx512f(size_t channels, size_t ow, size_t kh, size_t kw, size_t sw,
                               const float *x, size_t row_stride, const float *dy, float *dx) {
  for (size_t ox = 0; ox < ow; ox++, dy += channels)
    for (size_t c = 0; c < channels; c += 16) {
      const __mmask16 m =
          channels - c >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (channels - c)) - 1);
      const size_t base = ox * sw * channels + c;
      __m512 best = _mm512_maskz_loadu_ps(m, x + base);
      __m512i arg = _mm512_setzero_si512();
      size_t t = 0;
      for (size_t ky = 0; ky < kh; ky++)
        for (size_t kx = 0; kx < kw; kx++, t++) {
          if (t == 0) continue;
          const size_t at = base + ky * row_stride + kx * channels;
          const __m512 v = _mm512_maskz_loadu_ps(m, x + at);
          /* v > best, or v is the first NaN (best is not NaN yet) */
          const __mmask16 take =
              _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) |
              (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q));
          best = _mm512_mask_mov_ps(best, take, v);
          arg = _mm512_mask_mov_epi32(arg, take, _mm512_set1_epi32((int)t));
        }
      const __m512 g = _mm512_maskz_loadu_ps(m, dy + c);
      t = 0;
      for (size_t ky = 0; ky < kh; ky++)
        for (size_t kx = 0; kx < kw; kx++, t++) {
          const size_t at = base + ky * row_stride + kx * channels;
          const __mmask16 win = _mm512_cmpeq_epi32_mask(arg, _mm512_set1_epi32((int)t));
          _mm512_mask_storeu_ps(dx + at, m, _mm512_maskz_mov_ps(win, g));
        }
    }
}

#endif
