/* Winograd F(4x4, 3x3) convolution transforms (Lavin & Gray, interpolation points 0, +-1,
 * +-2, inf), NHWC, vectorised over channels.
 *
 * A 3x3 stride-1 convolution becomes, per 6x6 input tile d (stride 4) and 4x4 output tile:
 *   V = B^T d B (input transform), U = G g G^T (weights, once at create),
 *   M[p] = sum over input channels of V[p] * U[p] for each of the 36 positions p (36 GEMMs),
 *   Y = A^T M A + bias (+ residual), clamped (output transform).
 * 4 multiplies per output instead of 9. Channels are the innermost (contiguous) dimension of
 * every buffer, so each transform is a handful of vector adds per channel block and needs no
 * transposes. */
#ifndef TOD_KERNELS_WINOGRAD_H
#define TOD_KERNELS_WINOGRAD_H

#include <stddef.h>

#include "runtime/kernels/gemm/gemm.h"

#define WINO_TILE_IN 6  /* input tile side */
#define WINO_TILE_OUT 4 /* output tile side */
#define WINO_POS 36     /* transformed positions per tile */

/* Input transform of one tile for channels [0, c): pixel (i, j) of the 6x6 patch, channel ch,
 * is x[i * row_stride + j * col_stride + ch]; position p = 6*i + j of the result goes to
 * v[p * v_stride + ch]. */
typedef void (*wino_input_fn)(size_t c, const float *x, size_t col_stride, size_t row_stride,
                              float *v, size_t v_stride);
/* Output transform of one tile for channels [0, c): position p, channel ch, of the GEMM result
 * is m[p * m_stride + ch]; output pixel (i, j) < (rows, cols) goes to
 * y[i * row_stride + j * col_stride + ch] as clamp(A^T M A + bias[ch] + res[...], p), where
 * res (NULL: none) has y's layout. */
typedef void (*wino_output_fn)(size_t c, const float *m, size_t m_stride, const float *bias,
                               const float *res, float *y, size_t col_stride, size_t row_stride,
                               size_t rows, size_t cols, const gemm_minmax *p);

typedef struct {
  const char *name;
  int isa;
  wino_input_fn input;
  wino_output_fn output;
} wino_config;

void wino_f43_input__scalar(size_t c, const float *x, size_t col_stride, size_t row_stride,
                            float *v, size_t v_stride);
void wino_f43_output__scalar(size_t c, const float *m, size_t m_stride, const float *bias,
                             const float *res, float *y, size_t col_stride, size_t row_stride,
                             size_t rows, size_t cols, const gemm_minmax *p);
void wino_f43_input__avx2_fma(size_t c, const float *x, size_t col_stride, size_t row_stride,
                              float *v, size_t v_stride);
void wino_f43_output__avx2_fma(size_t c, const float *m, size_t m_stride, const float *bias,
                               const float *res, float *y, size_t col_stride, size_t row_stride,
                               size_t rows, size_t cols, const gemm_minmax *p);
void wino_f43_input__avx512f(size_t c, const float *x, size_t col_stride, size_t row_stride,
                             float *v, size_t v_stride);
void wino_f43_output__avx512f(size_t c, const float *m, size_t m_stride, const float *bias,
                              const float *res, float *y, size_t col_stride, size_t row_stride,
                              size_t rows, size_t cols, const gemm_minmax *p);
void wino_f43_input__neon(size_t c, const float *x, size_t col_stride, size_t row_stride,
                          float *v, size_t v_stride);
void wino_f43_output__neon(size_t c, const float *m, size_t m_stride, const float *bias,
                           const float *res, float *y, size_t col_stride, size_t row_stride,
                           size_t rows, size_t cols, const gemm_minmax *p);

/* Transforms one 3x3 filter g (g[ky * 3 + kx]) into its 36 positions u[p * u_stride], in double
 * precision so the weights add no rounding of their own. */
void wino_f43_weight(const float *g, float *u, size_t u_stride);

/* Test and benchmark hook: on = 0 keeps Conv2DFusion from choosing Winograd at later setups,
 * 1 allows it (the default), -1 only reads. Returns the previous setting. */
int conv2d_winograd_enable(int on);

/* The config for one ISA level (NULL when the CPU lacks it), and for tod_cpu_isa(). */
const wino_config *wino_config_for_isa(int isa);
const wino_config *wino_config_get(void);

#endif
