/* Scalar transposed-A GEMM micro-kernel, MR=4 x NR=8: the reference for the SIMD ones. */
#include "runtime/kernels/grad/gemm_tn.h"

void gemm_tn_ukernel_4x8__scalar(size_t mr, size_t nc, size_t k, const float *a, size_t lda,
                                 const float *b, size_t ldb, float *c, size_t ldc) {
  float acc[4][8] = {{0}};
  for (size_t p = 0; p < k; p++, a += lda, b += ldb)
    for (size_t i = 0; i < mr; i++)
      for (size_t j = 0; j < nc; j++) acc[i][j] += a[i] * b[j];
  for (size_t i = 0; i < mr; i++)
    for (size_t j = 0; j < nc; j++) c[i * ldc + j] += acc[i][j];
}
