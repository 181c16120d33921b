/* Scalar Winograd F(4x4, 3x3) transforms: the reference for the SIMD ones, and the weight
 * transform every ISA shares. See winograd.h for the algebra. */
#include "runtime/kernels/conv2d/winograd.h"

/* B^T applied to a column of 6 values. */
static void bt6(const float *d, float *r) {
  r[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
  r[1] = -4.0f * (d[1] + d[2]) + d[3] + d[4];
  r[2] = 4.0f * (d[1] - d[2]) - d[3] + d[4];
  r[3] = 2.0f * (d[3] - d[1]) + d[4] - d[2];
  r[4] = 2.0f * (d[1] - d[3]) + d[4] - d[2];
  r[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
}

/* A^T applied to a column of 6 values. */
static void at6(const float *m, float *r) {
  const float s12 = m[1] + m[2], d12 = m[1] - m[2], s34 = m[3] + m[4], d34 = m[3] - m[4];
  r[0] = m[0] + s12 + s34;
  r[1] = d12 + 2.0f * d34;
  r[2] = s12 + 4.0f * s34;
  r[3] = d12 + 8.0f * d34 + m[5];
}

void wino_f43_input__scalar(size_t c, const float *x, size_t col_stride, size_t row_stride,
                            float *v, size_t v_stride) {
  for (size_t ch = 0; ch < c; ch++) {
    float t[6][6], col[6], r[6];
    for (int j = 0; j < 6; j++) {
      for (int i = 0; i < 6; i++) col[i] = x[i * row_stride + j * col_stride + ch];
      bt6(col, r);
      for (int i = 0; i < 6; i++) t[i][j] = r[i];
    }
    for (int i = 0; i < 6; i++) {
      bt6(t[i], r);
      for (int j = 0; j < 6; j++) v[(size_t)(i * 6 + j) * v_stride + ch] = r[j];
    }
  }
}

void wino_f43_output__scalar(size_t c, const float *m, size_t m_stride, const float *bias,
                             const float *res, float *y, size_t col_stride, size_t row_stride,
                             size_t rows, size_t cols, const gemm_minmax *p) {
  for (size_t ch = 0; ch < c; ch++) {
    float t[4][6], col[6], r[4];
    for (int j = 0; j < 6; j++) {
      for (int i = 0; i < 6; i++) col[i] = m[(size_t)(i * 6 + j) * m_stride + ch];
      at6(col, r);
      for (int i = 0; i < 4; i++) t[i][j] = r[i];
    }
    for (size_t i = 0; i < rows; i++) {
      at6(t[i], r);
      for (size_t j = 0; j < cols; j++) {
        const size_t off = i * row_stride + j * col_stride + ch;
        float o = r[j] + bias[ch];
        if (res) o += res[off];
        o = o < p->min ? p->min : o;
        y[off] = o > p->max ? p->max : o;
      }
    }
  }
}

void wino_f43_weight(const float *g, float *u, size_t u_stride) {
  static const double G[6][3] = {{1.0 / 4, 0, 0},
                                 {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                 {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                 {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                 {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                 {0, 0, 1}};
  double t[6][3];
  for (int i = 0; i < 6; i++)
    for (int kx = 0; kx < 3; kx++) {
      double s = 0;
      for (int ky = 0; ky < 3; ky++) s += G[i][ky] * g[ky * 3 + kx];
      t[i][kx] = s;
    }
  for (int i = 0; i < 6; i++)
    for (int j = 0; j < 6; j++) {
      double s = 0;
      for (int kx = 0; kx < 3; kx++) s += t[i][kx] * G[j][kx];
      u[(size_t)(i * 6 + j) * u_stride] = (float)s;
    }
}
