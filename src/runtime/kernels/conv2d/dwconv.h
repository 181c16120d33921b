/* Depthwise convolution micro-kernels (group == C_in == C_out): one output pixel across all
 * channels, NHWC, vectorised over channels. Inputs come through an indirection list of tap
 * pointers (padding taps point at a zero row), as XNNPACK's dwconv does, so the kernel has no
 * bounds logic. */
#ifndef TOD_KERNELS_DWCONV_H
#define TOD_KERNELS_DWCONV_H

#include <stddef.h>

#include "runtime/kernels/gemm/gemm.h"

/* For each of `pixels` consecutive output pixels x (output row stride `channels`):
 * out[x][c] = clamp(bias[c] + sum_t in[x * taps + t][c] * w[t * channels + c], p).
 * Several pixels per call let a kernel keep one channel block's weights in registers. */
typedef void (*dwconv_ukernel_fn)(size_t channels, size_t pixels, size_t taps,
                                  const float *const *in, const float *w, const float *bias,
                                  float *out, const gemm_minmax *p);

typedef struct {
  const char *name;
  int isa;
  dwconv_ukernel_fn ukernel;
} dwconv_config;

void dwconv_ukernel__scalar(size_t channels, size_t pixels, size_t taps, const float *const *in, const float *w,
                            const float *bias, float *out, const gemm_minmax *p);
void dwconv_ukernel__avx2_fma(size_t channels, size_t pixels, size_t taps, const float *const *in,
                              const float *w, const float *bias, float *out,
                              const gemm_minmax *p);
void dwconv_ukernel__avx512f(size_t channels, size_t pixels, size_t taps, const float *const *in,
                             const float *w, const float *bias, float *out,
                             const gemm_minmax *p);
void dwconv_ukernel__neon(size_t channels, size_t pixels, size_t taps, const float *const *in,
                          const float *w, const float *bias, float *out, const gemm_minmax *p);

/* 3x3 depthwise over `pixels` consecutive output pixels whose taps all lie inside the input
 * (a row's interior): tap (ky, kx) of pixel x is rows[ky][(x * stride + kx) * channels + c],
 * weights and output as dwconv_ukernel_fn. No indirection list is needed. */
typedef void (*dwconv3x3_rows_fn)(size_t channels, size_t pixels, size_t stride,
                                  const float *const *rows, const float *w, const float *bias,
                                  float *out, const gemm_minmax *p);
void dwconv3x3_rows__scalar(size_t channels, size_t pixels, size_t stride,
                            const float *const *rows, const float *w, const float *bias,
                            float *out, const gemm_minmax *p);
void dwconv3x3_rows__avx512f(size_t channels, size_t pixels, size_t stride,
                             const float *const *rows, const float *w, const float *bias,
                             float *out, const gemm_minmax *p);
/* The interior-row kernel for tod_cpu_isa(), or NULL (then the indirection kernel runs). */
dwconv3x3_rows_fn dwconv3x3_rows_get(void);

/* The config for one ISA level (NULL when the CPU lacks it), and for tod_cpu_isa(). */
const dwconv_config *dwconv_config_for_isa(int isa);
const dwconv_config *dwconv_config_get(void);

#endif
