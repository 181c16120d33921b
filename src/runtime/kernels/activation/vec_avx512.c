/* AVX-512 activation micro-kernels (vec.h): 16 floats a vector, masked tails. The sigmoid
 * takes e = exp(-|x|), in (0, 1], so nothing overflows: sigmoid(|x|) = 1 / (1 + e) with
 * 1 + e in [1, 2] (vrcp14ps refined by one Newton step), and sigmoid(x) = e / (1 + e) for
 * x < 0. exp(v), v = -|x| clamped to [-127, 0]: n = round(v / ln2), r = v - n ln2 in two
 * FMAs (ln2 split so n * hi is exact), exp(r) on |r| <= ln2 / 2 by a degree-6 polynomial
 * fitted to minimise the relative error (1.9e-9; 1e-7 evaluated in float), scaled by 2^n
 * with vscalefps, which flushes to 0 below e^-104: there swish is -0, not x times a floor.
 * Operands ordered so that NaN inputs stay NaN. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/activation/vec.h"

static inline __m512 sigmoid16(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 v = _mm512_max_ps(_mm512_set1_ps(-127.0f), _mm512_or_ps(x, _mm512_set1_ps(-0.0f)));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(v, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), v);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.3836846e-3f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3748158e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1668225e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666420e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.9999991e-1f));
  p = _mm512_fmadd_ps(p, r, one);
  p = _mm512_fmadd_ps(p, r, one);
  const __m512 e = _mm512_scalef_ps(p, n);
  const __m512 d = _mm512_add_ps(one, e);
  const __m512 e0 = _mm512_rcp14_ps(d);
  const __m512 s = _mm512_fmadd_ps(e0, _mm512_fnmadd_ps(d, e0, one), e0);
  const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mask_mul_ps(s, neg, s, e);
}

static inline __m512 hsigmoid16(__m512 x) {
  const __m512 t = _mm512_add_ps(x, _mm512_set1_ps(3.0f));
  const __m512 c = _mm512_min_ps(_mm512_max_ps(t, _mm512_setzero_ps()), _mm512_set1_ps(6.0f));
  return _mm512_mul_ps(c, _mm512_set1_ps(1.0f / 6.0f));
}

static inline __m512 swish16(__m512 x) { return _mm512_mul_ps(x, sigmoid16(x)); }
static inline __m512 hswish16(__m512 x) { return _mm512_mul_ps(x, hsigmoid16(x)); }

/* Two vectors an iteration (the sigmoid's chain is long: two in flight hide its latency). */
#define DEF_LOOP(NAME, F)                                                     \
  void NAME(const float *x, float *y, size_t n) {                            \
    size_t i = 0;                                                            \
    for (; i + 32 <= n; i += 32) {                                           \
      const __m512 a = F(_mm512_loadu_ps(x + i));                            \
      const __m512 b = F(_mm512_loadu_ps(x + i + 16));                       \
      _mm512_storeu_ps(y + i, a);                                            \
      _mm512_storeu_ps(y + i + 16, b);                                       \
    }                                                                        \
    for (; i < n; i += 16) {                                                 \
      const size_t left = n - i < 16 ? n - i : 16;                           \
      const __mmask16 m = (__mmask16)((1u << left) - 1u);                    \
      _mm512_mask_storeu_ps(y + i, m, F(_mm512_maskz_loadu_ps(m, x + i)));   \
    }                                                                        \
  }

DEF_LOOP(act_sigmoid__avx512f, sigmoid16)
DEF_LOOP(act_swish__avx512f, swish16)
DEF_LOOP(act_hsigmoid__avx512f, hsigmoid16)
DEF_LOOP(act_hswish__avx512f, hswish16)
#endif
