/* AVX2 + FMA activation micro-kernels (vec.h): 8 floats a vector, masked tails. The sigmoid
 * is 1 / (1 + exp(-x)) with exp(v) as in vec_avx512.c (the same degree-6 polynomial), v
 * clamped to [-88, 88] and 2^n built in the exponent field (n is within [-127, 127]; n = -127
 * gives the bit pattern of 0); 1 / d is vrcpps (12 bits) refined by one Newton step. Below
 * x = -88 the sigmoid is 0 (true value under 6e-39), so swish there is -0 and not x times a
 * clamped e^-88. Operands ordered so that NaN inputs stay NaN. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/activation/vec.h"

static inline __m256 sigmoid8(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-88.0f), hi = _mm256_set1_ps(88.0f);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 v0 = _mm256_sub_ps(_mm256_setzero_ps(), x);
  const __m256 tiny = _mm256_cmp_ps(v0, hi, _CMP_GT_OQ); /* sigmoid below 6e-39: 0 */
  const __m256 v = _mm256_min_ps(hi, _mm256_max_ps(lo, v0));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(v, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), v);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.3836846e-3f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3748158e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1668225e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666420e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.9999991e-1f));
  p = _mm256_fmadd_ps(p, r, one);
  p = _mm256_fmadd_ps(p, r, one);
  const __m256i bits = _mm256_slli_epi32(
      _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  const __m256 d = _mm256_add_ps(one, _mm256_mul_ps(p, _mm256_castsi256_ps(bits)));
  const __m256 e0 = _mm256_rcp_ps(d);
  return _mm256_andnot_ps(tiny, _mm256_fmadd_ps(e0, _mm256_fnmadd_ps(d, e0, one), e0));
}

static inline __m256 hsigmoid8(__m256 x) {
  const __m256 t = _mm256_add_ps(x, _mm256_set1_ps(3.0f));
  const __m256 c = _mm256_min_ps(_mm256_max_ps(t, _mm256_setzero_ps()), _mm256_set1_ps(6.0f));
  return _mm256_mul_ps(c, _mm256_set1_ps(1.0f / 6.0f));
}

static inline __m256 swish8(__m256 x) { return _mm256_mul_ps(x, sigmoid8(x)); }
static inline __m256 hswish8(__m256 x) { return _mm256_mul_ps(x, hsigmoid8(x)); }

#define DEF_LOOP(NAME, F)                                                         \
  void NAME(const float *x, float *y, size_t n) {                                \
    size_t i = 0;                                                                \
    for (; i + 16 <= n; i += 16) {                                               \
      const __m256 a = F(_mm256_loadu_ps(x + i));                                \
      const __m256 b = F(_mm256_loadu_ps(x + i + 8));                            \
      _mm256_storeu_ps(y + i, a);                                                \
      _mm256_storeu_ps(y + i + 8, b);                                            \
    }                                                                            \
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);              \
    for (; i < n; i += 8) {                                                      \
      const int left = n - i < 8 ? (int)(n - i) : 8;                             \
      const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(left), iota);       \
      _mm256_maskstore_ps(y + i, m, F(_mm256_maskload_ps(x + i, m)));            \
    }                                                                            \
  }

DEF_LOOP(act_sigmoid__avx2_fma, sigmoid8)
DEF_LOOP(act_swish__avx2_fma, swish8)
DEF_LOOP(act_hsigmoid__avx2_fma, hsigmoid8)
DEF_LOOP(act_hswish__avx2_fma, hswish8)
#endif
