/* Depthwise convolution gradient micro-kernels (group == C_in == C_out), NHWC, vectorised
 * over channels, and their config table. Like the forward dwconv (conv2d/dwconv.h), inputs
 * come through an indirection list of one pointer per (output pixel, tap), so the kernels
 * have no bounds logic: padding taps point at a zero row (filter gradient) or at a discard
 * row (input gradient). */
#ifndef TOD_KERNELS_DWCONV_GRAD_H
#define TOD_KERNELS_DWCONV_GRAD_H

#include <stddef.h>

/* Filter gradient, accumulated over `pixels` output pixels x:
 *   acc[t * channels + c] += sum_x dy[x * channels + c] * in[x * taps + t][c]
 * acc is the [taps][channels] weight gradient (a thread's private copy). */
typedef void (*dwconv_grad_filter_fn)(size_t channels, size_t pixels, size_t taps,
                                      const float *const *in, const float *dy, float *acc);

/* Input gradient (scatter), for `pixels` output pixels x, in order:
 *   out[x * taps + t][c] += dy[x * channels + c] * w[t * channels + c]
 * Two (x, t) pairs may point at the same row (overlapping windows, the discard row): each
 * update completes before the next, so the sum is exact whatever the overlap. */
typedef void (*dwconv_grad_input_fn)(size_t channels, size_t pixels, size_t taps,
                                     float *const *out, const float *dy, const float *w);

typedef struct {
  const char *name;
  int isa; /* TOD_ISA_* */
  dwconv_grad_filter_fn filter;
  dwconv_grad_input_fn input;
} dwconv_grad_config;

/* One micro-kernel per file: dwconv_grad_{filter,input}_{ref,avx2,avx512}.c. */
void dwconv_grad_filter__scalar(size_t channels, size_t pixels, size_t taps,
                                const float *const *in, const float *dy, float *acc);
void dwconv_grad_filter__avx2_fma(size_t channels, size_t pixels, size_t taps,
                                  const float *const *in, const float *dy, float *acc);
void dwconv_grad_filter__avx512f(size_t channels, size_t pixels, size_t taps,
                                 const float *const *in, const float *dy, float *acc);
void dwconv_grad_input__scalar(size_t channels, size_t pixels, size_t taps, float *const *out,
                               const float *dy, const float *w);
void dwconv_grad_input__avx2_fma(size_t channels, size_t pixels, size_t taps, float *const *out,
                                 const float *dy, const float *w);
void dwconv_grad_input__avx512f(size_t channels, size_t pixels, size_t taps, float *const *out,
                                const float *dy, const float *w);
/* NEON (dwconv_grad_{filter,input}_neon.c): AArch64, and 32-bit Arm built with -mfpu=neon. */
void dwconv_grad_filter__neon(size_t channels, size_t pixels, size_t taps, const float *const *in,
                              const float *dy, float *acc);
void dwconv_grad_input__neon(size_t channels, size_t pixels, size_t taps, float *const *out,
                             const float *dy, const float *w);

/* The config for one ISA level (NULL when the CPU lacks it or no kernel exists for it), and
 * the one for tod_cpu_isa() (never NULL: the scalar one always exists). */
const dwconv_grad_config *dwconv_grad_config_for_isa(int isa);
const dwconv_grad_config *dwconv_grad_config_get(void);

#endif
