/* The depthwise-gradient config table: one entry per ISA level, picked by CPU features. */
#include "runtime/cpu_features.h"
#include "runtime/kernels/grad/dwconv_grad.h"

static const dwconv_grad_config g_configs[TOD_ISA_COUNT] = {
  [TOD_ISA_SCALAR] = {"dwconv_grad__scalar", TOD_ISA_SCALAR, dwconv_grad_filter__scalar,
                      dwconv_grad_input__scalar},
#if defined(__x86_64__) || defined(__i386__)
  [TOD_ISA_AVX2] = {"dwconv_grad__avx2_fma", TOD_ISA_AVX2, dwconv_grad_filter__avx2_fma,
                    dwconv_grad_input__avx2_fma},
  [TOD_ISA_AVX512] = {"dwconv_grad__avx512f", TOD_ISA_AVX512, dwconv_grad_filter__avx512f,
                      dwconv_grad_input__avx512f},
#elif defined(__aarch64__) || defined(__arm__)
  [TOD_ISA_NEON] = {"dwconv_grad__neon", TOD_ISA_NEON, dwconv_grad_filter__neon,
                    dwconv_grad_input__neon},
#endif
};

const dwconv_grad_config *dwconv_grad_config_for_isa(int isa) {
  if (isa < 0 || isa >= TOD_ISA_COUNT || isa > tod_cpu_isa_max()) return NULL;
  return g_configs[isa].filter ? &g_configs[isa] : NULL;
}

const dwconv_grad_config *dwconv_grad_config_get(void) {
  for (int isa = tod_cpu_isa(); isa > 0; isa--)
    if (dwconv_grad_config_for_isa(isa)) return &g_configs[isa];
  return &g_configs[TOD_ISA_SCALAR];
}
