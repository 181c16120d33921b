/* NEON Winograd F(4x4, 3x3) transforms (AArch64 and 32-bit Arm with -mfpu=neon): 4 channels
 * per vector; a channel tail (c % 4) goes to the scalar kernels. */
#if defined(__ARM_NEON) || defined(__aarch64__)
#include <arm_neon.h>

#include "runtime/kernels/common/neon_fma.h"
#include "runtime/kernels/conv2d/winograd.h"

/* B^T applied to a column of 6 vectors. */
static inline void bt6(const float32x4_t *d, float32x4_t *r) {
  const float32x4_t four = vdupq_n_f32(4.0f), five = vdupq_n_f32(5.0f), two = vdupq_n_f32(2.0f);
  const float32x4_t d42 = vsubq_f32(d[4], d[2]);
  r[0] = tod_neon_madd(tod_neon_msub(d[4], five, d[2]), four, d[0]);
  r[1] = tod_neon_msub(vaddq_f32(d[3], d[4]), four, vaddq_f32(d[1], d[2]));
  r[2] = tod_neon_madd(vsubq_f32(d[4], d[3]), four, vsubq_f32(d[1], d[2]));
  r[3] = tod_neon_madd(d42, two, vsubq_f32(d[3], d[1]));
  r[4] = tod_neon_madd(d42, two, vsubq_f32(d[1], d[3]));
  r[5] = tod_neon_madd(tod_neon_msub(d[5], five, d[3]), four, d[1]);
}

/* A^T applied to a column of 6 vectors. */
static inline void at6(const float32x4_t *m, float32x4_t *r) {
  const float32x4_t s12 = vaddq_f32(m[1], m[2]), d12 = vsubq_f32(m[1], m[2]);
  const float32x4_t s34 = vaddq_f32(m[3], m[4]), d34 = vsubq_f32(m[3], m[4]);
  r[0] = vaddq_f32(vaddq_f32(m[0], s12), s34);
  r[1] = tod_neon_madd(d12, vdupq_n_f32(2.0f), d34);
  r[2] = tod_neon_madd(s12, vdupq_n_f32(4.0f), s34);
  r[3] = vaddq_f32(tod_neon_madd(d12, vdupq_n_f32(8.0f), d34), m[5]);
}

void wino_f43_input__neon(size_t c, const float *x, size_t col_stride, size_t row_stride,
                          float *v, size_t v_stride) {
  size_t ch = 0;
  for (; ch + 4 <= c; ch += 4) {
    float32x4_t t[6][6];
    for (int j = 0; j < 6; j++) {
      float32x4_t d[6], r[6];
      const float *xp = x + (size_t)j * col_stride + ch;
      for (int i = 0; i < 6; i++) d[i] = vld1q_f32(xp + (size_t)i * row_stride);
      bt6(d, r);
      for (int i = 0; i < 6; i++) t[i][j] = r[i];
    }
    for (int i = 0; i < 6; i++) {
      float32x4_t r[6];
      bt6(t[i], r);
      for (int j = 0; j < 6; j++) vst1q_f32(v + (size_t)(i * 6 + j) * v_stride + ch, r[j]);
    }
  }
  if (ch < c) wino_f43_input__scalar(c - ch, x + ch, col_stride, row_stride, v + ch, v_stride);
}

void wino_f43_output__neon(size_t c, const float *m, size_t m_stride, const float *bias,
                           const float *res, float *y, size_t col_stride, size_t row_stride,
                           size_t rows, size_t cols, const gemm_minmax *p) {
  const float32x4_t vmin = vdupq_n_f32(p->min), vmax = vdupq_n_f32(p->max);
  size_t ch = 0;
  for (; ch + 4 <= c; ch += 4) {
    const float32x4_t vb = vld1q_f32(bias + ch);
    float32x4_t t[4][6];
    for (int j = 0; j < 6; j++) {
      float32x4_t d[6], r[4];
      for (int i = 0; i < 6; i++) d[i] = vld1q_f32(m + (size_t)(i * 6 + j) * m_stride + ch);
      at6(d, r);
      for (int i = 0; i < 4; i++) t[i][j] = r[i];
    }
    for (size_t i = 0; i < rows; i++) {
      float32x4_t r[4];
      at6(t[i], r);
      for (size_t j = 0; j < cols; j++) {
        const size_t off = i * row_stride + j * col_stride + ch;
        float32x4_t o = vaddq_f32(r[j], vb);
        if (res) o = vaddq_f32(o, vld1q_f32(res + off));
        vst1q_f32(y + off, vminq_f32(vmaxq_f32(o, vmin), vmax));
      }
    }
  }
  if (ch < c)
    wino_f43_output__scalar(c - ch, m + ch, m_stride, bias + ch, res ? res + ch : NULL, y + ch,
                            col_stride, row_stride, rows, cols, p);
}

#endif
