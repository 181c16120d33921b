/* Pooling micro-kernels: one NHWC output pixel across all channels, vectorised over channels,
 * reading the window through a list of row pointers (only in-bounds taps: padding never
 * contributes to max, and average pooling excludes it from the divisor). */
#ifndef TOD_KERNELS_POOL_H
#define TOD_KERNELS_POOL_H

#include <stddef.h>

#include "runtime/kernels/gemm/gemm.h"

/* out[c] = clamp(max_t in[t][c], p); taps >= 1. */
typedef void (*maxpool_ukernel_fn)(size_t channels, size_t taps, const float *const *in,
                                   float *out, const gemm_minmax *p);
/* out[c] = clamp(scale * sum_t in[t][c], p); taps >= 1. */
typedef void (*avgpool_ukernel_fn)(size_t channels, size_t taps, const float *const *in,
                                   float scale, float *out, const gemm_minmax *p);

typedef struct {
  const char *name;
  int isa;
  maxpool_ukernel_fn max;
  avgpool_ukernel_fn avg;
} pool_config;

void maxpool_ukernel__scalar(size_t channels, size_t taps, const float *const *in, float *out,
                             const gemm_minmax *p);
void avgpool_ukernel__scalar(size_t channels, size_t taps, const float *const *in, float scale,
                             float *out, const gemm_minmax *p);
void maxpool_ukernel__avx2(size_t channels, size_t taps, const float *const *in, float *out,
                           const gemm_minmax *p);
void avgpool_ukernel__avx2(size_t channels, size_t taps, const float *const *in, float scale,
                           float *out, const gemm_minmax *p);
void maxpool_ukernel__avx512f(size_t channels, size_t taps, const float *const *in, float *out,
                              const gemm_minmax *p);
void avgpool_ukernel__avx512f(size_t channels, size_t taps, const float *const *in, float scale,
                              float *out, const gemm_minmax *p);
void maxpool_ukernel__neon(size_t channels, size_t taps, const float *const *in, float *out,
                           const gemm_minmax *p);
void avgpool_ukernel__neon(size_t channels, size_t taps, const float *const *in, float scale,
                           float *out, const gemm_minmax *p);

const pool_config *pool_config_for_isa(int isa);
const pool_config *pool_config_get(void);

#endif
