/* Fused activations of Conv2DFusion / MatMulFusion / pooling: the ones that are a clamp go
 * into the GEMM store (gemm_minmax); the rest run as a loop over each finished output tile while
 * it is still in cache. */
#ifndef TOD_KERNELS_FUSED_ACT_H
#define TOD_KERNELS_FUSED_ACT_H

#include <stddef.h>

#include "runtime/kernels/gemm/gemm.h"
#include "tod/status.h"

/* Sets *mm to the clamp part of activation `type` (IR_ACT_*) and *needs_loop when a
 * fused_act_apply pass is needed too. TOD_NOT_SUPPORT for activations without fixed
 * parameters (LEAKY_RELU has no slope attribute on these operators). */
tod_status fused_act_init(int type, gemm_minmax *mm, int *needs_loop);
/* Applies a non-clamp activation in place to n contiguous values. */
void fused_act_apply(int type, float *x, size_t n);
/* The same on rows x cols values with row stride ld. */
void fused_act_apply_2d(int type, float *x, size_t rows, size_t cols, size_t ld);

#endif
