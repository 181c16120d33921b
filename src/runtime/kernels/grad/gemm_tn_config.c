/* The transposed-A GEMM config table (one entry per ISA level) and its serial driver. */
#include "runtime/cpu_features.h"
#include "runtime/kernels/grad/gemm_tn.h"

static const gemm_tn_config g_configs[TOD_ISA_COUNT] = {
  [TOD_ISA_SCALAR] = {"gemm_tn_4x8__scalar", TOD_ISA_SCALAR, 4, 8, gemm_tn_ukernel_4x8__scalar},
#if defined(__x86_64__) || defined(__i386__)
  [TOD_ISA_AVX2] = {"gemm_tn_6x16__avx2_fma", TOD_ISA_AVX2, 6, 16, gemm_tn_ukernel_6x16__avx2_fma},
  [TOD_ISA_AVX512] = {"gemm_tn_8x32__avx512f", TOD_ISA_AVX512, 8, 32,
                      gemm_tn_ukernel_8x32__avx512f},
#elif defined(__aarch64__) || defined(__arm__)
  [TOD_ISA_NEON] = {"gemm_tn_4x8__neon", TOD_ISA_NEON, 4, 8, gemm_tn_ukernel_4x8__neon},
#endif
};

const gemm_tn_config *gemm_tn_config_for_isa(int isa) {
  if (isa < 0 || isa >= TOD_ISA_COUNT || isa > tod_cpu_isa_max()) return NULL;
  return g_configs[isa].ukernel ? &g_configs[isa] : NULL;
}

const gemm_tn_config *gemm_tn_config_get(void) {
  for (int isa = tod_cpu_isa(); isa > 0; isa--)
    if (gemm_tn_config_for_isa(isa)) return &g_configs[isa];
  return &g_configs[TOD_ISA_SCALAR];
}

void gemm_tn_accumulate(const gemm_tn_config *cfg, size_t m, size_t n, size_t k, const float *a,
                        size_t lda, const float *b, size_t ldb, float *c, size_t ldc) {
  const size_t mr = (size_t)cfg->mr, nr = (size_t)cfg->nr;
  for (size_t j = 0; j < n; j += nr) {
    const size_t nc = n - j < nr ? n - j : nr;
    for (size_t i = 0; i < m; i += mr)
      cfg->ukernel(m - i < mr ? m - i : mr, nc, k, a + i, lda, b + j, ldb, c + i * ldc + j, ldc);
  }
}
