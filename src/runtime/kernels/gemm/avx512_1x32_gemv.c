/* AVX-512F one-row GEMM (GEMV, e.g. a classifier at batch 1) over B packed for NR=32, with
 * the in-place kernel's signature (mr must be 1). The 8x32 kernel would compute 8 copies of
 * the row, 16 FMAs per 2 B loads; here the row takes 2 FMAs per 2 loads and four k phases
 * keep 8 independent accumulator chains, so B streams at load speed. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "runtime/kernels/gemm/gemm.h"

void gemm_ukernel_1x32__avx512f(size_t mr, size_t nc, size_t kc, const float *a, size_t a_stride,
                                const float *w, float *c, size_t c_stride, const gemm_minmax *p,
                                int accumulate) {
  (void)mr;
  (void)a_stride;
  (void)c_stride;
  const __mmask16 m0 = nc >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nc) - 1);
  const __mmask16 m1 = nc > 16 ? (__mmask16)((1u << (nc - 16)) - 1) : (__mmask16)0;
  __m512 x0, x1;
  if (accumulate) {
    x0 = _mm512_maskz_loadu_ps(m0, c);
    x1 = _mm512_maskz_loadu_ps(m1, c + 16);
  } else {
    x0 = _mm512_loadu_ps(w);
    x1 = _mm512_loadu_ps(w + 16);
  }
  w += 32;
  __m512 y0 = _mm512_setzero_ps(), y1 = _mm512_setzero_ps(), z0 = _mm512_setzero_ps();
  __m512 z1 = _mm512_setzero_ps(), u0 = _mm512_setzero_ps(), u1 = _mm512_setzero_ps();
  size_t k = 0;
  for (; k + 4 <= kc; k += 4, w += 128) {
    const __m512 a0 = _mm512_set1_ps(a[k]), a1 = _mm512_set1_ps(a[k + 1]);
    const __m512 a2 = _mm512_set1_ps(a[k + 2]), a3 = _mm512_set1_ps(a[k + 3]);
    x0 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(w), x0);
    x1 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(w + 16), x1);
    y0 = _mm512_fmadd_ps(a1, _mm512_loadu_ps(w + 32), y0);
    y1 = _mm512_fmadd_ps(a1, _mm512_loadu_ps(w + 48), y1);
    z0 = _mm512_fmadd_ps(a2, _mm512_loadu_ps(w + 64), z0);
    z1 = _mm512_fmadd_ps(a2, _mm512_loadu_ps(w + 80), z1);
    u0 = _mm512_fmadd_ps(a3, _mm512_loadu_ps(w + 96), u0);
    u1 = _mm512_fmadd_ps(a3, _mm512_loadu_ps(w + 112), u1);
  }
  for (; k < kc; k++, w += 32) {
    const __m512 a0 = _mm512_set1_ps(a[k]);
    x0 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(w), x0);
    x1 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(w + 16), x1);
  }
  x0 = _mm512_add_ps(_mm512_add_ps(x0, y0), _mm512_add_ps(z0, u0));
  x1 = _mm512_add_ps(_mm512_add_ps(x1, y1), _mm512_add_ps(z1, u1));
  const __m512 vmin = _mm512_set1_ps(p->min), vmax = _mm512_set1_ps(p->max);
  _mm512_mask_storeu_ps(c, m0, _mm512_min_ps(_mm512_max_ps(x0, vmin), vmax));
  _mm512_mask_storeu_ps(c + 16, m1, _mm512_min_ps(_mm512_max_ps(x1, vmin), vmax));
}

#endif
