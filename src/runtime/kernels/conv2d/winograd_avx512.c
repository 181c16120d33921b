/* AVX-512F Winograd F(4x4, 3x3) transforms: 16 channels per vector, masked channel tails. The
 * 6x6 tile is transformed column by column, then row by row, through 36 vectors the compiler
 * keeps mostly in the 32 zmm registers. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/conv2d/winograd.h"

static __mmask16 tail_mask(size_t left) {
  return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
}

static inline void bt6(const __m512 *d, __m512 *r) {
  const __m512 four = _mm512_set1_ps(4.0f), five = _mm512_set1_ps(5.0f),
               two = _mm512_set1_ps(2.0f);
  const __m512 d42 = _mm512_sub_ps(d[4], d[2]);
  r[0] = _mm512_fmadd_ps(four, d[0], _mm512_fnmadd_ps(five, d[2], d[4]));
  r[1] = _mm512_fnmadd_ps(four, _mm512_add_ps(d[1], d[2]), _mm512_add_ps(d[3], d[4]));
  r[2] = _mm512_fmadd_ps(four, _mm512_sub_ps(d[1], d[2]), _mm512_sub_ps(d[4], d[3]));
  r[3] = _mm512_fmadd_ps(two, _mm512_sub_ps(d[3], d[1]), d42);
  r[4] = _mm512_fmadd_ps(two, _mm512_sub_ps(d[1], d[3]), d42);
  r[5] = _mm512_fmadd_ps(four, d[1], _mm512_fnmadd_ps(five, d[3], d[5]));
}

static inline void at6(const __m512 *m, __m512 *r) {
  const __m512 s12 = _mm512_add_ps(m[1], m[2]), d12 = _mm512_sub_ps(m[1], m[2]);
  const __m512 s34 = _mm512_add_ps(m[3], m[4]), d34 = _mm512_sub_ps(m[3], m[4]);
  r[0] = _mm512_add_ps(_mm512_add_ps(m[0], s12), s34);
  r[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.0f), d34, d12);
  r[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.0f), s34, s12);
  r[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.0f), d34, d12), m[5]);
}

void wino_f43_input__avx512f(size_t c, const float *x, size_t col_stride, size_t row_stride,
                             float *v, size_t v_stride) {
  for (size_t ch = 0; ch < c; ch += 16) {
    const __mmask16 mk = tail_mask(c - ch);
    __m512 t[6][6];
#pragma GCC unroll 6
    for (int j = 0; j < 6; j++) {
      __m512 d[6], r[6];
      const float *xp = x + (size_t)j * col_stride + ch;
#pragma GCC unroll 6
      for (int i = 0; i < 6; i++) d[i] = _mm512_maskz_loadu_ps(mk, xp + (size_t)i * row_stride);
      bt6(d, r);
#pragma GCC unroll 6
      for (int i = 0; i < 6; i++) t[i][j] = r[i];
    }
#pragma GCC unroll 6
    for (int i = 0; i < 6; i++) {
      __m512 r[6];
      bt6(t[i], r);
#pragma GCC unroll 6
      for (int j = 0; j < 6; j++)
        _mm512_mask_storeu_ps(v + (size_t)(i * 6 + j) * v_stride + ch, mk, r[j]);
    }
  }
}

void wino_f43_output__avx512f(size_t c, const float *m, size_t m_stride, const float *bias,
                              const float *res, float *y, size_t col_stride, size_t row_stride,
                              size_t rows, size_t cols, const gemm_minmax *p) {
  const __m512 vmin = _mm512_set1_ps(p->min), vmax = _mm512_set1_ps(p->max);
  for (size_t ch = 0; ch < c; ch += 16) {
    const __mmask16 mk = tail_mask(c - ch);
    const __m512 vb = _mm512_maskz_loadu_ps(mk, bias + ch);
    __m512 t[4][6];
#pragma GCC unroll 6
    for (int j = 0; j < 6; j++) {
      __m512 d[6], r[4];
#pragma GCC unroll 6
      for (int i = 0; i < 6; i++)
        d[i] = _mm512_maskz_loadu_ps(mk, m + (size_t)(i * 6 + j) * m_stride + ch);
      at6(d, r);
#pragma GCC unroll 4
      for (int i = 0; i < 4; i++) t[i][j] = r[i];
    }
    for (size_t i = 0; i < rows; i++) {
      __m512 r[4];
      at6(t[i], r);
      for (size_t j = 0; j < cols; j++) {
        const size_t off = i * row_stride + j * col_stride + ch;
        __m512 o = _mm512_add_ps(r[j], vb);
        if (res) o = _mm512_add_ps(o, _mm512_maskz_loadu_ps(mk, res + off));
        _mm512_mask_storeu_ps(y + off, mk, _mm512_min_ps(_mm512_max_ps(o, vmin), vmax));
      }
    }
  }
}

#endif
