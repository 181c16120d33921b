/* Scalar GEMM micro-kernel: the reference every SIMD variant is tested against. MR=4, NR=8. */
#include "runtime/kernels/gemm/gemm.h"

void gemm_ukernel_4x8__scalar(size_t mr, size_t nc, size_t kc, const float *a, size_t a_stride,
                              const float *w, float *c, size_t c_stride, const gemm_minmax *p,
                              int accumulate) {
  float acc[4][8];
  for (size_t i = 0; i < 4; i++)
    for (size_t j = 0; j < 8; j++)
      acc[i][j] = accumulate ? (i < mr && j < nc ? c[i * c_stride + j] : 0.0f) : w[j];
  const float *wk = w + 8;
  for (size_t k = 0; k < kc; k++, wk += 8) {
    for (size_t i = 0; i < mr; i++) {
      const float av = a[i * a_stride + k];
      for (size_t j = 0; j < 8; j++) acc[i][j] += av * wk[j];
    }
  }
  for (size_t i = 0; i < mr; i++) {
    for (size_t j = 0; j < nc; j++) {
      float v = acc[i][j];
      v = v < p->min ? p->min : v;
      v = v > p->max ? p->max : v;
      c[i * c_stride + j] = v;
    }
  }
}

/* Scalar packed-A micro-kernel (MR=4, NR=8): the reference for the packed-A driver path. */
void gemm_packa_ukernel_4x8__scalar(size_t mr, size_t nc, size_t kc, const float *a_packed,
                                    const float *w, float *c, size_t c_stride,
                                    const gemm_minmax *p, int accumulate) {
  float acc[4][8];
  for (size_t i = 0; i < 4; i++)
    for (size_t j = 0; j < 8; j++)
      acc[i][j] = accumulate ? (i < mr && j < nc ? c[i * c_stride + j] : 0.0f) : w[j];
  const float *wk = w + 8;
  for (size_t k = 0; k < kc; k++, wk += 8, a_packed += 4)
    for (size_t i = 0; i < mr; i++)
      for (size_t j = 0; j < 8; j++) acc[i][j] += a_packed[i] * wk[j];
  for (size_t i = 0; i < mr; i++)
    for (size_t j = 0; j < nc; j++) {
      float v = acc[i][j];
      v = v < p->min ? p->min : v;
      v = v > p->max ? p->max : v;
      c[i * c_stride + j] = v;
    }
}

/* Scalar segmented-K micro-kernel (MR=4, NR=8): the reference for the segmented kernels. */
void gemm_seg_ukernel_4x8__scalar(size_t mr, size_t nc, size_t nseg, size_t kc, const float *a,
                                  size_t a_stride, size_t seg_stride, const float *w, float *c,
                                  size_t c_stride, const gemm_minmax *p) {
  float acc[4][8];
  for (size_t i = 0; i < 4; i++)
    for (size_t j = 0; j < 8; j++) acc[i][j] = w[j];
  const float *wk = w + 8;
  for (size_t s = 0; s < nseg; s++)
    for (size_t k = 0; k < kc; k++, wk += 8)
      for (size_t i = 0; i < mr; i++) {
        const float av = a[i * a_stride + s * seg_stride + k];
        for (size_t j = 0; j < 8; j++) acc[i][j] += av * wk[j];
      }
  for (size_t i = 0; i < mr; i++)
    for (size_t j = 0; j < nc; j++) {
      float v = acc[i][j];
      v = v < p->min ? p->min : v;
      v = v > p->max ? p->max : v;
      c[i * c_stride + j] = v;
    }
}
