/* Direct convolution with output pixels in the vector lanes ("pixconv"), for convolutions with
 * few output channels (LeNet's 1 -> 6 stem): a GEMM with one column per output channel would
 * leave most of each vector idle (6 of 16 lanes), and im2col would copy 25 values per pixel.
 * Here a vector holds consecutive output columns of one output row, every output channel has
 * its own accumulators, and the weights are broadcast.
 *
 * The input is planar and zero-padded (the caller relays one NHWC image out as [c][y][x] with
 * the padding made explicit), so a tap (ky, kx) of output columns x..x+15 is one contiguous
 * load and the kernels have no bounds logic. Weights are w^T: [kg][cout] with
 * kg = (ky * kw + kx) * cin + c, the KHWC filter [cout][kg] transposed, so a tap's output
 * channels are adjacent. Stride 1 along x (sh is the caller's row step), no dilation.
 *
 * The filter gradient of the same geometry (kernels in grad/pixconv_filter_*.c) takes dy
 * planar too ([row][o][x]) and sums over the rows and columns of the lanes. */
#ifndef TOD_KERNELS_PIXCONV_H
#define TOD_KERNELS_PIXCONV_H

#include <stddef.h>

#include "runtime/kernels/gemm/gemm.h"

/* Most output channels a pixconv kernel takes (its accumulators stay in registers). */
#define PIXCONV_MAX_COUT 8

/* One output row of `width` pixels, cout <= PIXCONV_MAX_COUT:
 *   out[x * cout + o] = clamp(bias[o] + sum_{ky, kx, c} in[c * cstride + ky * rstride + x + kx]
 *                                                       * w[((ky * kw + kx) * cin + c) * cout + o], p)
 * Only in[c * cstride + ky * rstride + i] with i < width + kw - 1 is read. */
typedef void (*pixconv_ukernel_fn)(size_t width, size_t cin, size_t kh, size_t kw, size_t cout,
                                   const float *in, size_t rstride, size_t cstride, const float *w,
                                   const float *bias, float *out, const gemm_minmax *p);

/* Filter gradient over `rows` output rows of `width` pixels, any cout:
 *   acc[((ky * kw + kx) * cin + c) * cout + o] +=
 *       sum_{r < rows, x < width} in[r * in_step + c * cstride + ky * rstride + x + kx]
 *                                 * dy[r * dy_step + o * dy_ostride + x]
 * (in_step = row stride of the input times the convolution's vertical stride). Only those in
 * values (x + kx < width + kw - 1) and dy values are read. */
typedef void (*pixconv_filter_fn)(size_t rows, size_t width, size_t cin, size_t kh, size_t kw,
                                  size_t cout, const float *in, size_t in_step, size_t rstride,
                                  size_t cstride, const float *dy, size_t dy_step,
                                  size_t dy_ostride, float *acc);

typedef struct {
  const char *name;
  int isa;
  pixconv_ukernel_fn ukernel;
} pixconv_config;

typedef struct {
  const char *name;
  int isa;
  pixconv_filter_fn filter;
} pixconv_filter_config;

/* Forward (conv2d/pixconv_{ref,avx2,avx512}.c). */
void pixconv_ukernel__scalar(size_t width, size_t cin, size_t kh, size_t kw, size_t cout,
                             const float *in, size_t rstride, size_t cstride, const float *w,
                             const float *bias, float *out, const gemm_minmax *p);
void pixconv_ukernel__avx2_fma(size_t width, size_t cin, size_t kh, size_t kw, size_t cout,
                               const float *in, size_t rstride, size_t cstride, const float *w,
                               const float *bias, float *out, const gemm_minmax *p);
void pixconv_ukernel__avx512f(size_t width, size_t cin, size_t kh, size_t kw, size_t cout,
                              const float *in, size_t rstride, size_t cstride, const float *w,
                              const float *bias, float *out, const gemm_minmax *p);

/* Filter gradient (grad/pixconv_filter_{ref,avx2,avx512}.c). */
void pixconv_filter__scalar(size_t rows, size_t width, size_t cin, size_t kh, size_t kw,
                            size_t cout, const float *in, size_t in_step, size_t rstride,
                            size_t cstride, const float *dy, size_t dy_step, size_t dy_ostride,
                            float *acc);
void pixconv_filter__avx2_fma(size_t rows, size_t width, size_t cin, size_t kh, size_t kw,
                              size_t cout, const float *in, size_t in_step, size_t rstride,
                              size_t cstride, const float *dy, size_t dy_step, size_t dy_ostride,
                              float *acc);
void pixconv_filter__avx512f(size_t rows, size_t width, size_t cin, size_t kh, size_t kw,
                             size_t cout, const float *in, size_t in_step, size_t rstride,
                             size_t cstride, const float *dy, size_t dy_step, size_t dy_ostride,
                             float *acc);

/* The config for one ISA level (NULL when the CPU lacks it or no kernel exists for it), and
 * the SIMD one for tod_cpu_isa(), or NULL: the scalar kernels are the reference, and on a
 * scalar or Arm build the GEMM paths run instead. */
const pixconv_config *pixconv_config_for_isa(int isa);
const pixconv_config *pixconv_config_get(void);
const pixconv_filter_config *pixconv_filter_config_for_isa(int isa);
const pixconv_filter_config *pixconv_filter_config_get(void);

#endif
