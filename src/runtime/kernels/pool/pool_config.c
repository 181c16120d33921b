/* The pooling config table: one entry per ISA level, picked by CPU features. */
#include "runtime/cpu_features.h"
#include "runtime/kernels/pool/pool.h"

static const pool_config g_configs[TOD_ISA_COUNT] = {
  [TOD_ISA_SCALAR] = {"pool__scalar", TOD_ISA_SCALAR, maxpool_ukernel__scalar,
                      avgpool_ukernel__scalar},
#if defined(__x86_64__) || defined(__i386__)
  [TOD_ISA_AVX2] = {"pool__avx2", TOD_ISA_AVX2, maxpool_ukernel__avx2, avgpool_ukernel__avx2},
  [TOD_ISA_AVX512] = {"pool__avx512f", TOD_ISA_AVX512, maxpool_ukernel__avx512f,
                      avgpool_ukernel__avx512f},
#elif defined(__aarch64__) || defined(__arm__)
  [TOD_ISA_NEON] = {"pool__neon", TOD_ISA_NEON, maxpool_ukernel__neon, avgpool_ukernel__neon},
#endif
};

const pool_config *pool_config_for_isa(int isa) {
  if (isa < 0 || isa >= TOD_ISA_COUNT || isa > tod_cpu_isa_max()) return NULL;
  return g_configs[isa].max ? &g_configs[isa] : NULL;
}

const pool_config *pool_config_get(void) {
  for (int isa = tod_cpu_isa(); isa > 0; isa--)
    if (pool_config_for_isa(isa)) return &g_configs[isa];
  return &g_configs[TOD_ISA_SCALAR];
}
