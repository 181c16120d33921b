/* AVX-512F 3x3 depthwise over the interior of an output row (dwconv.h, dwconv3x3_rows_fn).
 *
 * Taps are addressed from three input row pointers and the stride, so no indirection list is
 * built (for 32 channels that cost as much as the arithmetic). Per block of 4 pixels and 16
 * channels the 9 weight vectors are loaded once, and each input vector is loaded once and
 * used by every pixel whose window holds it: 6 columns a row at stride 1 (18 loads for 36
 * FMAs), 9 at stride 2. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/conv2d/dwconv.h"

static __mmask16 tail_mask(size_t left) {
  return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
}

/* Four pixels x..x+3 on channels [c, c+16) masked by m; S is the stride, 1 or 2 (a constant
 * after inlining, so the column loads are shared). */
static inline __attribute__((always_inline)) void block4(size_t channels, size_t S,
                                                         const float *const *rows, size_t x,
                                                         size_t c, __mmask16 m, const __m512 *wv,
                                                         __m512 vb, __m512 vmin, __m512 vmax,
                                                         float *out) {
  __m512 a0 = vb, a1 = vb, a2 = vb, a3 = vb;
#pragma GCC unroll 3
  for (int ky = 0; ky < 3; ky++) {
    const float *r = rows[ky] + x * S * channels + c;
    __m512 v[9]; /* 3 * S + 3 <= 9 columns */
#pragma GCC unroll 9
    for (size_t j = 0; j < 3 * S + 3; j++) v[j] = _mm512_maskz_loadu_ps(m, r + j * channels);
#pragma GCC unroll 3
    for (int kx = 0; kx < 3; kx++) {
      const __m512 w = wv[ky * 3 + kx];
      a0 = _mm512_fmadd_ps(v[kx], w, a0);
      a1 = _mm512_fmadd_ps(v[S + kx], w, a1);
      a2 = _mm512_fmadd_ps(v[2 * S + kx], w, a2);
      a3 = _mm512_fmadd_ps(v[3 * S + kx], w, a3);
    }
  }
  float *o = out + x * channels + c;
  _mm512_mask_storeu_ps(o, m, _mm512_min_ps(_mm512_max_ps(a0, vmin), vmax));
  _mm512_mask_storeu_ps(o + channels, m, _mm512_min_ps(_mm512_max_ps(a1, vmin), vmax));
  _mm512_mask_storeu_ps(o + 2 * channels, m, _mm512_min_ps(_mm512_max_ps(a2, vmin), vmax));
  _mm512_mask_storeu_ps(o + 3 * channels, m, _mm512_min_ps(_mm512_max_ps(a3, vmin), vmax));
}

void dwconv3x3_rows__avx512f(size_t channels, size_t pixels, size_t stride,
                             const float *const *rows, const float *w, const float *bias,
                             float *out, const gemm_minmax *p) {
  const __m512 vmin = _mm512_set1_ps(p->min), vmax = _mm512_set1_ps(p->max);
  size_t x = 0;
  /* Pixel blocks outer, channels inner: a block's input columns (all channels) stay in L1
   * while its channel blocks pass; the weights are re-read from L1 per block. */
  /* Blocks of 4 at strides 1 and 2 (mobilenet's); other strides take the pixel loop. */
  for (; stride <= 2 && x + 4 <= pixels; x += 4)
    for (size_t c = 0; c < channels; c += 16) {
      const __mmask16 m = tail_mask(channels - c);
      __m512 wv[9];
#pragma GCC unroll 9
      for (int t = 0; t < 9; t++) wv[t] = _mm512_maskz_loadu_ps(m, w + (size_t)t * channels + c);
      const __m512 vb = _mm512_maskz_loadu_ps(m, bias + c);
      if (stride == 1)
        block4(channels, 1, rows, x, c, m, wv, vb, vmin, vmax, out);
      else
        block4(channels, 2, rows, x, c, m, wv, vb, vmin, vmax, out);
    }
  for (; x < pixels; x++)
    for (size_t c = 0; c < channels; c += 16) {
      const __mmask16 m = tail_mask(channels - c);
      __m512 a = _mm512_maskz_loadu_ps(m, bias + c);
#pragma GCC unroll 3
      for (int ky = 0; ky < 3; ky++) {
        const float *r = rows[ky] + x * stride * channels + c;
#pragma GCC unroll 3
        for (int kx = 0; kx < 3; kx++)
          a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, r + (size_t)kx * channels),
                              _mm512_maskz_loadu_ps(m, w + (size_t)(ky * 3 + kx) * channels + c),
                              a);
      }
      _mm512_mask_storeu_ps(out + x * channels + c, m,
                            _mm512_min_ps(_mm512_max_ps(a, vmin), vmax));
    }
}

#endif
