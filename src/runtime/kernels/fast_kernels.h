/* The performance-critical kernels (GEMM-based convolution and matmul, pooling); the registry
 * (kernel_lookup) maps IR_OP_Conv2DFusion, IR_OP_MatMulFusion, IR_OP_MaxPoolFusion and
 * IR_OP_AvgPoolFusion to these. Float32 only; other dtypes give TOD_NOT_SUPPORT. */
#ifndef TOD_KERNELS_FAST_KERNELS_H
#define TOD_KERNELS_FAST_KERNELS_H

#include "runtime/kernel.h"

extern const kernel_ops kernel_Conv2DFusion;
extern const kernel_ops kernel_MatMulFusion;
extern const kernel_ops kernel_MaxPoolFusion;
extern const kernel_ops kernel_AvgPoolFusion;

#endif
