/* The pixconv forward config table: one entry per ISA level, SIMD levels only in use. */
#include "runtime/cpu_features.h"
#include "runtime/kernels/conv2d/pixconv.h"

static const pixconv_config g_configs[TOD_ISA_COUNT] = {
  [TOD_ISA_SCALAR] = {"pixconv__scalar", TOD_ISA_SCALAR, pixconv_ukernel__scalar},
#if defined(__x86_64__) || defined(__i386__)
  [TOD_ISA_AVX2] = {"pixconv__avx2_fma", TOD_ISA_AVX2, pixconv_ukernel__avx2_fma},
  [TOD_ISA_AVX512] = {"pixconv__avx512f", TOD_ISA_AVX512, pixconv_ukernel__avx512f},
#endif
};

const pixconv_config *pixconv_config_for_isa(int isa) {
  if (isa < 0 || isa >= TOD_ISA_COUNT || isa > tod_cpu_isa_max()) return NULL;
  return g_configs[isa].ukernel ? &g_configs[isa] : NULL;
}

const pixconv_config *pixconv_config_get(void) {
  for (int isa = tod_cpu_isa(); isa > 0; isa--)
    if (pixconv_config_for_isa(isa)) return &g_configs[isa];
  return NULL;
}
