/* The activation micro-kernel config table: one entry per ISA level. */
#include "runtime/cpu_features.h"
#include "runtime/kernels/activation/vec.h"

#define ENTRY(NAME, ISA, SFX) \
  {NAME, ISA, act_sigmoid__##SFX, act_swish__##SFX, act_hsigmoid__##SFX, act_hswish__##SFX}

static const act_vec_config g_configs[TOD_ISA_COUNT] = {
  [TOD_ISA_SCALAR] = ENTRY("act__scalar", TOD_ISA_SCALAR, scalar),
#if defined(__x86_64__) || defined(__i386__)
  [TOD_ISA_AVX2] = ENTRY("act__avx2_fma", TOD_ISA_AVX2, avx2_fma),
  [TOD_ISA_AVX512] = ENTRY("act__avx512f", TOD_ISA_AVX512, avx512f),
#endif
};

const act_vec_config *act_vec_config_for_isa(int isa) {
  if (isa < 0 || isa >= TOD_ISA_COUNT || isa > tod_cpu_isa_max()) return NULL;
  return g_configs[isa].sigmoid ? &g_configs[isa] : NULL;
}

const act_vec_config *act_vec_config_get(void) {
  for (int isa = tod_cpu_isa(); isa > 0; isa--)
    if (act_vec_config_for_isa(isa)) return &g_configs[isa];
  return &g_configs[TOD_ISA_SCALAR];
}
