/* AVX2+FMA Winograd F(4x4, 3x3) transforms: 8 channels per vector; a channel tail (c % 8) goes
 * to the scalar kernels. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/conv2d/winograd.h"

static inline void bt6(const __m256 *d, __m256 *r) {
  const __m256 four = _mm256_set1_ps(4.0f), five = _mm256_set1_ps(5.0f),
               two = _mm256_set1_ps(2.0f);
  const __m256 d42 = _mm256_sub_ps(d[4], d[2]);
  r[0] = _mm256_fmadd_ps(four, d[0], _mm256_fnmadd_ps(five, d[2], d[4]));
  r[1] = _mm256_fnmadd_ps(four, _mm256_add_ps(d[1], d[2]), _mm256_add_ps(d[3], d[4]));
  r[2] = _mm256_fmadd_ps(four, _mm256_sub_ps(d[1], d[2]), _mm256_sub_ps(d[4], d[3]));
  r[3] = _mm256_fmadd_ps(two, _mm256_sub_ps(d[3], d[1]), d42);
  r[4] = _mm256_fmadd_ps(two, _mm256_sub_ps(d[1], d[3]), d42);
  r[5] = _mm256_fmadd_ps(four, d[1], _mm256_fnmadd_ps(five, d[3], d[5]));
}

static inline void at6(const __m256 *m, __m256 *r) {
  const __m256 s12 = _mm256_add_ps(m[1], m[2]), d12 = _mm256_sub_ps(m[1], m[2]);
  const __m256 s34 = _mm256_add_ps(m[3], m[4]), d34 = _mm256_sub_ps(m[3], m[4]);
  r[0] = _mm256_add_ps(_mm256_add_ps(m[0], s12), s34);
  r[1] = _mm256_fmadd_ps(_mm256_set1_ps(2.0f), d34, d12);
  r[2] = _mm256_fmadd_ps(_mm256_set1_ps(4.0f), s34, s12);
  r[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.0f), d34, d12), m[5]);
}

void wino_f43_input__avx2_fma(size_t c, const float *x, size_t col_stride, size_t row_stride,
                              float *v, size_t v_stride) {
  size_t ch = 0;
  for (; ch + 8 <= c; ch += 8) {
    __m256 t[6][6];
#pragma GCC unroll 6
    for (int j = 0; j < 6; j++) {
      __m256 d[6], r[6];
      const float *xp = x + (size_t)j * col_stride + ch;
#pragma GCC unroll 6
      for (int i = 0; i < 6; i++) d[i] = _mm256_loadu_ps(xp + (size_t)i * row_stride);
      bt6(d, r);
#pragma GCC unroll 6
      for (int i = 0; i < 6; i++) t[i][j] = r[i];
    }
#pragma GCC unroll 6
    for (int i = 0; i < 6; i++) {
      __m256 r[6];
      bt6(t[i], r);
#pragma GCC unroll 6
      for (int j = 0; j < 6; j++) _mm256_storeu_ps(v + (size_t)(i * 6 + j) * v_stride + ch, r[j]);
    }
  }
  if (ch < c) wino_f43_input__scalar(c - ch, x + ch, col_stride, row_stride, v + ch, v_stride);
}

void wino_f43_output__avx2_fma(size_t c, const float *m, size_t m_stride, const float *bias,
                               const float *res, float *y, size_t col_stride, size_t row_stride,
                               size_t rows, size_t cols, const gemm_minmax *p) {
  const __m256 vmin = _mm256_set1_ps(p->min), vmax = _mm256_set1_ps(p->max);
  size_t ch = 0;
  for (; ch + 8 <= c; ch += 8) {
    const __m256 vb = _mm256_loadu_ps(bias + ch);
    __m256 t[4][6];
#pragma GCC unroll 6
    for (int j = 0; j < 6; j++) {
      __m256 d[6], r[4];
#pragma GCC unroll 6
      for (int i = 0; i < 6; i++) d[i] = _mm256_loadu_ps(m + (size_t)(i * 6 + j) * m_stride + ch);
      at6(d, r);
#pragma GCC unroll 4
      for (int i = 0; i < 4; i++) t[i][j] = r[i];
    }
    for (size_t i = 0; i < rows; i++) {
      __m256 r[4];
      at6(t[i], r);
      for (size_t j = 0; j < cols; j++) {
        const size_t off = i * row_stride + j * col_stride + ch;
        __m256 o = _mm256_add_ps(r[j], vb);
        if (res) o = _mm256_add_ps(o, _mm256_loadu_ps(res + off));
        _mm256_storeu_ps(y + off, _mm256_min_ps(_mm256_max_ps(o, vmin), vmax));
      }
    }
  }
  if (ch < c)
    wino_f43_output__scalar(c - ch, m + ch, m_stride, bias + ch, res ? res + ch : NULL, y + ch,
                            col_stride, row_stride, rows, cols, p);
}

#endif
