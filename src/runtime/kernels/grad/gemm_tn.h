/* Transposed-A GEMM for weight gradients: C += A^T · B with both operands read in place.
 *
 * A filter gradient is dW [O, K] = dy^T [O, M] · col [M, K] summed over M, the pixels of the
 * batch: dy rows (NHWC, [M, O]) and im2col rows ([M, K]; the NHWC input itself for a 1x1
 * convolution) both run along M. A micro-kernel that broadcasts A from row k (the MR values of
 * one dy pixel are contiguous) and loads B from row k (NR contiguous values) needs neither a
 * transpose of dy nor a packed copy of col: each pixel is read where it lies. */
#ifndef TOD_KERNELS_GEMM_TN_H
#define TOD_KERNELS_GEMM_TN_H

#include <stddef.h>

/* c[i][j] += sum_{p < k} a[p * lda + i] * b[p * ldb + j] for i < mr (<= MR), j < nc (<= NR).
 * Only those a and b values are read and only those c values written (row stride ldc). */
typedef void (*gemm_tn_ukernel_fn)(size_t mr, size_t nc, size_t k, const float *a, size_t lda,
                                   const float *b, size_t ldb, float *c, size_t ldc);

typedef struct {
  const char *name;
  int isa; /* TOD_ISA_* */
  int mr, nr;
  gemm_tn_ukernel_fn ukernel;
} gemm_tn_config;

/* One micro-kernel per file: gemm_tn_ref.c, gemm_tn_avx2.c, gemm_tn_avx512.c. */
void gemm_tn_ukernel_4x8__scalar(size_t mr, size_t nc, size_t k, const float *a, size_t lda,
                                 const float *b, size_t ldb, float *c, size_t ldc);
void gemm_tn_ukernel_6x16__avx2_fma(size_t mr, size_t nc, size_t k, const float *a, size_t lda,
                                    const float *b, size_t ldb, float *c, size_t ldc);
void gemm_tn_ukernel_8x32__avx512f(size_t mr, size_t nc, size_t k, const float *a, size_t lda,
                                   const float *b, size_t ldb, float *c, size_t ldc);
/* gemm_tn_neon.c: AArch64, and 32-bit Arm built with -mfpu=neon. */
void gemm_tn_ukernel_4x8__neon(size_t mr, size_t nc, size_t k, const float *a, size_t lda,
                               const float *b, size_t ldb, float *c, size_t ldc);

/* The config for one ISA level (NULL when the CPU lacks it or no kernel exists for it), and
 * the one for tod_cpu_isa() (never NULL). */
const gemm_tn_config *gemm_tn_config_for_isa(int isa);
const gemm_tn_config *gemm_tn_config_get(void);

/* Serial driver: C [m, n] += A^T B over k, A [k, m] (row stride lda), B [k, n] (row stride
 * ldb), C row stride ldc; column strips of B outer (a strip of k rows stays in cache while
 * the row tiles of A pass). */
void gemm_tn_accumulate(const gemm_tn_config *cfg, size_t m, size_t n, size_t k, const float *a,
                        size_t lda, const float *b, size_t ldb, float *c, size_t ldc);

#endif
