/* Max-pool gradient micro-kernels for windows that do not overlap (stride >= window, no
 * padding: LeNet's 2x2 / 2 pools). Every input element then belongs to at most one window,
 * so dx is written once, directly: dy at the window's first maximum, 0 at its other taps. No
 * clearing pass and no read-modify-write scatter, which the general kernel (pool_grad.c)
 * needs for overlapping windows. NHWC, vectorised over channels. */
#ifndef TOD_KERNELS_MAXPOOL_GRAD_H
#define TOD_KERNELS_MAXPOOL_GRAD_H

#include <stddef.h>

/* One row of `ow` windows of kh x kw taps, windows sw >= kw pixels apart: for window ox and
 * channel c, tap (ky, kx) is element ky * row_stride + (ox * sw + kx) * channels + c of x
 * and of dx. dx there = dy[ox * channels + c] at the window's first maximum in row-major tap
 * order (a NaN wins: the first NaN), 0 at every other tap. Elements outside the windows are
 * neither read nor written. */
typedef void (*maxpool_grad_fn)(size_t channels, size_t ow, size_t kh, size_t kw, size_t sw,
                                const float *x, size_t row_stride, const float *dy, float *dx);

typedef struct {
  const char *name;
  int isa;
  maxpool_grad_fn row;
} maxpool_grad_config;

void maxpool_grad_row__scalar(size_t channels, size_t ow, size_t kh, size_t kw, size_t sw,
                              const float *x, size_t row_stride, const float *dy, float *dx);
void maxpool_grad_row__avx2(size_t channels, size_t ow, size_t kh, size_t kw, size_t sw,
                            const float *x, size_t row_stride, const float *dy, float *dx);
void maxpool_grad_row__avx512f(size_t channels, size_t ow, size_t kh, size_t kw, size_t sw,
                               const float *x, size_t row_stride, const float *dy, float *dx);

/* The config for one ISA level (NULL when the CPU lacks it or no kernel exists for it), and
 * the SIMD one for tod_cpu_isa(), or NULL (the general kernel then runs). */
const maxpool_grad_config *maxpool_grad_config_for_isa(int isa);
const maxpool_grad_config *maxpool_grad_config_get(void);

#endif
