/* AVX2 non-overlapping max-pool gradient row (maxpool_grad.h): 8 channels of a
 * window per pass (masked loads and stores for the tail), the winning tap's
 * index kept in an integer vector, then every tap stored once as dy or 0. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/grad/maxpool_grad.h"

void maxpool_grad_row__avx2(size_t channels, size_t ow, size_t kh, size_t kw, size_t sw,
                            const float *x, size_t row_stride, const float *dy, float *dx) {
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (size_t ox = 0; ox < ow; ox++, dy += channels)
    for (size_t c = 0; c < channels; c += 8) {
      const int left = channels - c >= 8 ? 8 : (int)(channels - c);
      const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(left), iota);
      const size_t base = ox * sw * channels + c;
      __m256 best = _mm256_maskload_ps(x + base, m);
      __m256 arg = _mm256_setzero_ps(); /* tap indices, as int32 bit patterns */
      size_t t = 0;
      for (size_t ky = 0; ky < kh; ky++)
        for (size_t kx = 0; kx < kw; kx++, t++) {
          if (t == 0) continue;
          const size_t at = base + ky * row_stride + kx * channels;
          const __m256 v = _mm256_maskload_ps(x + at, m);
          const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ),
                                           _mm256_and_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q),
                                                         _mm256_cmp_ps(best, best, _CMP_ORD_Q)));
          best = _mm256_blendv_ps(best, v, take);
          arg = _mm256_blendv_ps(arg, _mm256_castsi256_ps(_mm256_set1_epi32((int)t)), take);
        }
      const __m256 g = _mm256_maskload_ps(dy + c, m);
      t = 0;
      for (size_t ky = 0; ky < kh; ky++)
        for (size_t kx = 0; kx < kw; kx++, t++) {
          const size_t at = base + ky * row_stride + kx * channels;
          const __m256 win = _mm256_castsi256_ps(
              _mm256_cmpeq_epi32(_mm256_castps_si256(arg), _mm256_set1_epi32((int)t)));
          _mm256_maskstore_ps(dx + at, m, _mm256_and_ps(win, g));
        }
    }
}

#endif
