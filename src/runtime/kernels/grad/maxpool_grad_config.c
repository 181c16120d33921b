/* The non-overlapping max-pool gradient config table: one entry per ISA level. */
#include "runtime/cpu_features.h"
#include "runtime/kernels/grad/maxpool_grad.h"

static const maxpool_grad_config g_configs[TOD_ISA_COUNT] = {
  [TOD_ISA_SCALAR] = {"maxpool_grad_row__scalar", TOD_ISA_SCALAR, maxpool_grad_row__scalar},
#if defined(__x86_64__) || defined(__i386__)
  [TOD_ISA_AVX2] = {"maxpool_grad_row__avx2", TOD_ISA_AVX2, maxpool_grad_row__avx2},
  [TOD_ISA_AVX512] = {"maxpool_grad_row__avx512f", TOD_ISA_AVX512, maxpool_grad_row__avx512f},
#endif
};

const maxpool_grad_config *maxpool_grad_config_for_isa(int isa) {
  if (isa < 0 || isa >= TOD_ISA_COUNT || isa > tod_cpu_isa_max()) return NULL;
  return g_configs[isa].row ? &g_configs[isa] : NULL;
}

const maxpool_grad_config *maxpool_grad_config_get(void) {
  for (int isa = tod_cpu_isa(); isa > 0; isa--)
    if (maxpool_grad_config_for_isa(isa)) return &g_configs[isa];
  return NULL;
}
