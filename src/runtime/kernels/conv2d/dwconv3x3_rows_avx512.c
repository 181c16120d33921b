/* AVX-512F 3x3 depthwise over the interior of an output row (dwconv.h, dwconv3x3_rows_fn).
 *
 * Taps are addressed from three input row pointers and the stride, so no indirection list is
 * built (for 32 channels that cost as much as the arithmetic). Per block of 4 pixels and 16
 * channels the 9 weight vectors are loaded once, and each input vector is loaded once and
 * used by every pixel whose window holds it: 6 columns a row at stride 1 (18 loads for 36
 * FMAs), 9 at stride 2. Channel tails use masks. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/conv2d/dwconv.h"

static __mmask16 tail_mask(size_t left) {
  return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
}

#define LD(p) (MASKED ? _mm512_maskz_loadu_ps(m, (p)) : _mm512_loadu_ps(p))
/* acc + x0 * w0 + x1 * w1 + x2 * w2 (one kernel row of one pixel), in that order */
#define FMA3(x0, x1, x2, acc) \
  _mm512_fmadd_ps(x2, w2, _mm512_fmadd_ps(x1, w1, _mm512_fmadd_ps(x0, w0, acc)))

/* Four pixels on 16 channels at stride S (1 or 2, a constant after inlining). Column j of a
 * kernel row is r + j * C, addressed from r, r + 3C and r + 6C with C as a scaled index: at
 * most 3 pointers a row and one index register, so nothing spills (an array of 9 column
 * offsets spilled GPRs and reloaded them from the stack in the inner loop: 30-40% slower).
 * MASKED (constant): channel tail, masked loads and stores; full blocks use plain ones. */
static inline __attribute__((always_inline)) void block4(const size_t C, const size_t S,
                                                         const int MASKED, __mmask16 m,
                                                         const float *r0, const float *r1,
                                                         const float *r2, const float *w,
                                                         const float *bias, float *o,
                                                         __m512 vmin, __m512 vmax) {
  const __m512 vb = LD(bias);
  __m512 a0 = vb, a1 = vb, a2 = vb, a3 = vb;
  const float *rows[3] = {r0, r1, r2};
#pragma GCC unroll 3
  for (int ky = 0; ky < 3; ky++) {
    const float *r = rows[ky], *r3 = r + 3 * C;
    const __m512 w0 = LD(w + (size_t)(3 * ky) * C), w1 = LD(w + (size_t)(3 * ky + 1) * C),
                 w2 = LD(w + (size_t)(3 * ky + 2) * C);
    if (S == 1) {
      const __m512 v0 = LD(r), v1 = LD(r + C), v2 = LD(r + 2 * C);
      const __m512 v3 = LD(r3), v4 = LD(r3 + C), v5 = LD(r3 + 2 * C);
      a0 = FMA3(v0, v1, v2, a0);
      a1 = FMA3(v1, v2, v3, a1);
      a2 = FMA3(v2, v3, v4, a2);
      a3 = FMA3(v3, v4, v5, a3);
    } else {
      const float *r6 = r + 6 * C;
      const __m512 v0 = LD(r), v1 = LD(r + C), v2 = LD(r + 2 * C);
      a0 = FMA3(v0, v1, v2, a0);
      const __m512 v3 = LD(r3), v4 = LD(r3 + C), v5 = LD(r3 + 2 * C);
      a1 = FMA3(v2, v3, v4, a1);
      const __m512 v6 = LD(r6), v7 = LD(r6 + C), v8 = LD(r6 + 2 * C);
      a2 = FMA3(v4, v5, v6, a2);
      a3 = FMA3(v6, v7, v8, a3);
    }
  }
  a0 = _mm512_min_ps(_mm512_max_ps(a0, vmin), vmax);
  a1 = _mm512_min_ps(_mm512_max_ps(a1, vmin), vmax);
  a2 = _mm512_min_ps(_mm512_max_ps(a2, vmin), vmax);
  a3 = _mm512_min_ps(_mm512_max_ps(a3, vmin), vmax);
  if (MASKED) {
    _mm512_mask_storeu_ps(o, m, a0); _mm512_mask_storeu_ps(o + C, m, a1);
    _mm512_mask_storeu_ps(o + 2 * C, m, a2); _mm512_mask_storeu_ps(o + 3 * C, m, a3);
  } else {
    _mm512_storeu_ps(o, a0); _mm512_storeu_ps(o + C, a1);
    _mm512_storeu_ps(o + 2 * C, a2); _mm512_storeu_ps(o + 3 * C, a3);
  }
}

/* The 4-pixel blocks of a row at stride S, pixel blocks outer (a block's input columns, all
 * channels, stay in L1 while its channel blocks pass); *done: the pixels covered. */
static inline __attribute__((always_inline)) void rows_s(size_t C, size_t pixels, const size_t S,
                                                         const float *const *rows,
                                                         const float *w, const float *bias,
                                                         float *out, __m512 vmin, __m512 vmax,
                                                         size_t *done) {
  const size_t full = C / 16 * 16;
  size_t x = 0;
  for (; x + 4 <= pixels; x += 4) {
    const size_t off = x * S * C;
    const float *r0 = rows[0] + off, *r1 = rows[1] + off, *r2 = rows[2] + off;
    float *o = out + x * C;
    size_t c = 0;
    for (; c < full; c += 16)
      block4(C, S, 0, 0xFFFF, r0 + c, r1 + c, r2 + c, w + c, bias + c, o + c, vmin, vmax);
    if (c < C)
      block4(C, S, 1, tail_mask(C - c), r0 + c, r1 + c, r2 + c, w + c, bias + c, o + c, vmin,
             vmax);
  }
  *done = x;
}

void dwconv3x3_rows__avx512f(size_t channels, size_t pixels, size_t stride,
                             const float *const *rows, const float *w, const float *bias,
                             float *out, const gemm_minmax *p) {
  const __m512 vmin = _mm512_set1_ps(p->min), vmax = _mm512_set1_ps(p->max);
  size_t x = 0;
  /* Blocks of 4 at strides 1 and 2 (mobilenet's); other strides and the last pixels take the
   * pixel loop. */
  if (stride == 1) rows_s(channels, pixels, 1, rows, w, bias, out, vmin, vmax, &x);
  else if (stride == 2) rows_s(channels, pixels, 2, rows, w, bias, out, vmin, vmax, &x);
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
