/* The depthwise config table: one entry per ISA level, picked by CPU features. */
#include "runtime/cpu_features.h"
#include "runtime/kernels/conv2d/dwconv.h"

static const dwconv_config g_configs[TOD_ISA_COUNT] = {
  [TOD_ISA_SCALAR] = {"dwconv__scalar", TOD_ISA_SCALAR, dwconv_ukernel__scalar},
#if defined(__x86_64__) || defined(__i386__)
  [TOD_ISA_AVX2] = {"dwconv__avx2_fma", TOD_ISA_AVX2, dwconv_ukernel__avx2_fma},
  [TOD_ISA_AVX512] = {"dwconv__avx512f", TOD_ISA_AVX512, dwconv_ukernel__avx512f},
#elif defined(__aarch64__) || defined(__arm__)
  [TOD_ISA_NEON] = {"dwconv__neon", TOD_ISA_NEON, dwconv_ukernel__neon},
#endif
};

const dwconv_config *dwconv_config_for_isa(int isa) {
  if (isa < 0 || isa >= TOD_ISA_COUNT || isa > tod_cpu_isa_max()) return NULL;
  return g_configs[isa].ukernel ? &g_configs[isa] : NULL;
}

const dwconv_config *dwconv_config_get(void) {
  for (int isa = tod_cpu_isa(); isa > 0; isa--)
    if (dwconv_config_for_isa(isa)) return &g_configs[isa];
  return &g_configs[TOD_ISA_SCALAR];
}

dwconv3x3_rows_fn dwconv3x3_rows_get(void) {
  const int isa = tod_cpu_isa();
#if defined(__x86_64__) || defined(__i386__)
  if (isa >= TOD_ISA_AVX512) return dwconv3x3_rows__avx512f;
#endif
  return isa == TOD_ISA_SCALAR ? dwconv3x3_rows__scalar : NULL;
}
