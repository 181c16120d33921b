/* The GEMM config table: one entry per ISA level, picked by CPU features. */
#include "runtime/cpu_features.h"
#include "runtime/kernels/gemm/gemm.h"

static const gemm_config g_configs[TOD_ISA_COUNT] = {
  [TOD_ISA_SCALAR] = {"4x8__scalar", TOD_ISA_SCALAR, 4, 8, gemm_ukernel_4x8__scalar},
#if defined(__x86_64__) || defined(__i386__)
  [TOD_ISA_AVX2] = {"6x16__avx2_fma", TOD_ISA_AVX2, 6, 16, gemm_ukernel_6x16__avx2_fma},
  [TOD_ISA_AVX512] = {"8x32__avx512f", TOD_ISA_AVX512, 8, 32, gemm_ukernel_8x32__avx512f},
#endif
};

const gemm_config *gemm_config_for_isa(int isa) {
  if (isa < 0 || isa >= TOD_ISA_COUNT || isa > tod_cpu_isa_max()) return NULL;
  return g_configs[isa].ukernel ? &g_configs[isa] : NULL;
}

const gemm_config *gemm_config_get(void) {
  for (int isa = tod_cpu_isa(); isa > 0; isa--)
    if (gemm_config_for_isa(isa)) return &g_configs[isa];
  return &g_configs[TOD_ISA_SCALAR];
}
