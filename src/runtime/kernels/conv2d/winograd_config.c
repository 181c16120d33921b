/* The Winograd transform config table: one entry per ISA level, picked by CPU features. */
#include "runtime/cpu_features.h"
#include "runtime/kernels/conv2d/winograd.h"

static const wino_config g_configs[TOD_ISA_COUNT] = {
  [TOD_ISA_SCALAR] = {"wino_f43__scalar", TOD_ISA_SCALAR, wino_f43_input__scalar,
                      wino_f43_output__scalar},
#if defined(__x86_64__) || defined(__i386__)
  [TOD_ISA_AVX2] = {"wino_f43__avx2_fma", TOD_ISA_AVX2, wino_f43_input__avx2_fma,
                    wino_f43_output__avx2_fma},
  [TOD_ISA_AVX512] = {"wino_f43__avx512f", TOD_ISA_AVX512, wino_f43_input__avx512f,
                      wino_f43_output__avx512f},
#elif defined(__aarch64__) || defined(__arm__)
  [TOD_ISA_NEON] = {"wino_f43__neon", TOD_ISA_NEON, wino_f43_input__neon, wino_f43_output__neon},
#endif
};

const wino_config *wino_config_for_isa(int isa) {
  if (isa < 0 || isa >= TOD_ISA_COUNT || isa > tod_cpu_isa_max()) return NULL;
  return g_configs[isa].input ? &g_configs[isa] : NULL;
}

const wino_config *wino_config_get(void) {
  for (int isa = tod_cpu_isa(); isa > 0; isa--)
    if (wino_config_for_isa(isa)) return &g_configs[isa];
  return &g_configs[TOD_ISA_SCALAR];
}
