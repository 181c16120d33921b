/* AVX-512F depthwise micro-kernel.
 *
 * 3x3 (9 taps), the mobilenet case: 4 output pixels at a time share each weight load, so an
 * FMA needs 1.25 loads instead of two, and 4 independent accumulators hide the FMA latency.
 * Other tap
 * counts: per pixel, 64 channels (4 accumulators) per pass over the taps. Channel tails use
 * masks. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/conv2d/dwconv.h"

static __mmask16 tail_mask(size_t left) {
  return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
}

/* Inlined: a constant taps (9) unrolls its loops. */
static inline __attribute__((always_inline)) void dwconv_pixel(size_t channels, size_t taps,
                                                               const float *const *in,
                                                               const float *w, const float *bias,
                                                               float *out, const gemm_minmax *p) {
  const __m512 vmin = _mm512_set1_ps(p->min), vmax = _mm512_set1_ps(p->max);
  size_t c = 0;
  for (; c + 64 <= channels; c += 64) {
    __m512 a0 = _mm512_loadu_ps(bias + c), a1 = _mm512_loadu_ps(bias + c + 16);
    __m512 a2 = _mm512_loadu_ps(bias + c + 32), a3 = _mm512_loadu_ps(bias + c + 48);
    const float *wt = w + c;
#pragma GCC unroll 9
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
    const __mmask16 m = tail_mask(channels - c);
    __m512 a = _mm512_maskz_loadu_ps(m, bias + c);
    const float *wt = w + c;
#pragma GCC unroll 9
    for (size_t t = 0; t < taps; t++, wt += channels)
      a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, in[t] + c), _mm512_maskz_loadu_ps(m, wt), a);
    _mm512_mask_storeu_ps(out + c, m, _mm512_min_ps(_mm512_max_ps(a, vmin), vmax));
  }
}

static void dwconv_3x3(size_t channels, size_t pixels, const float *const *in, const float *w,
                       const float *bias, float *out, const gemm_minmax *p) {
  const __m512 vmin = _mm512_set1_ps(p->min), vmax = _mm512_set1_ps(p->max);
  size_t x = 0;
  /* Pixels outer, channels inner: each pixel's taps are read as contiguous channel runs
   * (prefetch-friendly); the 9 weight vectors are reloaded from L1 once per 4 pixels. */
  for (; x + 4 <= pixels; x += 4, in += 36, out += 4 * channels) {
    for (size_t c = 0; c < channels; c += 16) {
      const __mmask16 m = tail_mask(channels - c);
      const __m512 vb = _mm512_maskz_loadu_ps(m, bias + c);
      __m512 a0 = vb, a1 = vb, a2 = vb, a3 = vb;
#pragma GCC unroll 9
      for (int t = 0; t < 9; t++) {
        const __m512 wv = _mm512_maskz_loadu_ps(m, w + (size_t)t * channels + c);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, in[t] + c), wv, a0);
        a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, in[9 + t] + c), wv, a1);
        a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, in[18 + t] + c), wv, a2);
        a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, in[27 + t] + c), wv, a3);
      }
      float *op = out + c;
      _mm512_mask_storeu_ps(op, m, _mm512_min_ps(_mm512_max_ps(a0, vmin), vmax));
      _mm512_mask_storeu_ps(op + channels, m, _mm512_min_ps(_mm512_max_ps(a1, vmin), vmax));
      _mm512_mask_storeu_ps(op + 2 * channels, m, _mm512_min_ps(_mm512_max_ps(a2, vmin), vmax));
      _mm512_mask_storeu_ps(op + 3 * channels, m, _mm512_min_ps(_mm512_max_ps(a3, vmin), vmax));
    }
  }
  /* The last pixels (a row's border pixels come one at a time): 64 channels a pass, so four
   * accumulator chains hide the FMA latency where one 16-channel chain waited on it. */
  for (; x < pixels; x++, in += 9, out += channels) dwconv_pixel(channels, 9, in, w, bias, out, p);
}

/* Other tap counts (EfficientNet's 5x5): 4 pixels share each weight load as in dwconv_3x3,
 * 16 channels a pass with masked tails. One pixel at a time, 64 channels a pass, needed two
 * loads per FMA, and a channel count off 64 (240, 672) left 16-channel tails whose single
 * accumulator chain waited on the FMA latency for every tap. Same summation order per output
 * (bias, then the taps in order), so the results are those of dwconv_pixel. */
static inline __attribute__((always_inline)) void dwconv_4px(size_t channels, size_t pixels,
                                                             size_t taps, const float *const *in,
                                                             const float *w, const float *bias,
                                                             float *out, const gemm_minmax *p) {
  const __m512 vmin = _mm512_set1_ps(p->min), vmax = _mm512_set1_ps(p->max);
  size_t x = 0;
  for (; x + 4 <= pixels; x += 4, in += 4 * taps, out += 4 * channels) {
    for (size_t c = 0; c < channels; c += 16) {
      const __mmask16 m = tail_mask(channels - c);
      const __m512 vb = _mm512_maskz_loadu_ps(m, bias + c);
      __m512 a0 = vb, a1 = vb, a2 = vb, a3 = vb;
      const float *wt = w + c;
#pragma GCC unroll 5
      for (size_t t = 0; t < taps; t++, wt += channels) {
        const __m512 wv = _mm512_maskz_loadu_ps(m, wt);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, in[t] + c), wv, a0);
        a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, in[taps + t] + c), wv, a1);
        a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, in[2 * taps + t] + c), wv, a2);
        a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, in[3 * taps + t] + c), wv, a3);
      }
      float *op = out + c;
      _mm512_mask_storeu_ps(op, m, _mm512_min_ps(_mm512_max_ps(a0, vmin), vmax));
      _mm512_mask_storeu_ps(op + channels, m, _mm512_min_ps(_mm512_max_ps(a1, vmin), vmax));
      _mm512_mask_storeu_ps(op + 2 * channels, m, _mm512_min_ps(_mm512_max_ps(a2, vmin), vmax));
      _mm512_mask_storeu_ps(op + 3 * channels, m, _mm512_min_ps(_mm512_max_ps(a3, vmin), vmax));
    }
  }
  for (; x < pixels; x++, in += taps, out += channels)
    dwconv_pixel(channels, taps, in, w, bias, out, p);
}

void dwconv_ukernel__avx512f(size_t channels, size_t pixels, size_t taps,
                             const float *const *in, const float *w, const float *bias,
                             float *out, const gemm_minmax *p) {
  if (taps == 9) {
    dwconv_3x3(channels, pixels, in, w, bias, out, p);
    return;
  }
  if (taps == 25) {
    dwconv_4px(channels, pixels, 25, in, w, bias, out, p);
    return;
  }
  dwconv_4px(channels, pixels, taps, in, w, bias, out, p);
}

#endif
