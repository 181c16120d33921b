/* The pixconv filter-gradient config table: one entry per ISA level, SIMD levels only in use. */
#include "runtime/cpu_features.h"
#include "runtime/kernels/conv2d/pixconv.h"

static const pixconv_filter_config g_configs[TOD_ISA_COUNT] = {
  [TOD_ISA_SCALAR] = {"pixconv_filter__scalar", TOD_ISA_SCALAR, pixconv_filter__scalar},
#if defined(__x86_64__) || defined(__i386__)
  [TOD_ISA_AVX2] = {"pixconv_filter__avx2_fma", TOD_ISA_AVX2, pixconv_filter__avx2_fma},
  [TOD_ISA_AVX512] = {"pixconv_filter__avx512f", TOD_ISA_AVX512, pixconv_filter__avx512f},
#endif
};

const pixconv_filter_config *pixconv_filter_config_for_isa(int isa) {
  if (isa < 0 || isa >= TOD_ISA_COUNT || isa > tod_cpu_isa_max()) return NULL;
  return g_configs[isa].filter ? &g_configs[isa] : NULL;
}

const pixconv_filter_config *pixconv_filter_config_get(void) {
  for (int isa = tod_cpu_isa(); isa > 0; isa--)
    if (pixconv_filter_config_for_isa(isa)) return &g_configs[isa];
  return NULL;
}
