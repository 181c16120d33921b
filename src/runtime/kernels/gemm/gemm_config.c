/* The GEMM config table: one main entry per ISA level (indexed by TOD_ISA_*), then narrow
 * variants; picked by CPU features and the GEMM's width. */
#include "runtime/cpu_features.h"
#include "runtime/kernels/gemm/gemm.h"

static const gemm_config g_configs[] = {
  [TOD_ISA_SCALAR] = {"4x8__scalar", TOD_ISA_SCALAR, 4, 8, gemm_ukernel_4x8__scalar,
                      gemm_seg_ukernel_4x8__scalar},
#if defined(__x86_64__) || defined(__i386__)
  [TOD_ISA_AVX2] = {"6x16__avx2_fma", TOD_ISA_AVX2, 6, 16, gemm_ukernel_6x16__avx2_fma, NULL},
  [TOD_ISA_AVX512] = {"8x32__avx512f", TOD_ISA_AVX512, 8, 32, gemm_ukernel_8x32__avx512f,
                      gemm_seg_ukernel_8x32__avx512f},
  /* Beyond the per-ISA entries: narrow variants, chosen by gemm_config_get for small n. */
  {"8x16__avx512f", TOD_ISA_AVX512, 8, 16, gemm_ukernel_8x16__avx512f, NULL},
#elif defined(__aarch64__)
  [TOD_ISA_NEON] = {"8x8__neonfma", TOD_ISA_NEON, 8, 8, gemm_ukernel_8x8__neonfma, NULL},
#elif defined(__arm__)
  /* Built with -mfpu=neon, chosen only when the CPU reports NEON (HWCAP). */
  [TOD_ISA_NEON] = {"4x8__neon", TOD_ISA_NEON, 4, 8, gemm_ukernel_4x8__neon, NULL},
#endif
};

#define N_CONFIGS ((int)(sizeof g_configs / sizeof *g_configs))

const gemm_config *gemm_config_list(int *count) {
  *count = N_CONFIGS;
  return g_configs;
}

const gemm_config *gemm_config_for_isa(int isa) {
  if (isa < 0 || isa >= TOD_ISA_COUNT || isa > tod_cpu_isa_max()) return NULL;
  return g_configs[isa].ukernel ? &g_configs[isa] : NULL;
}

const gemm_config *gemm_config_get(size_t n) {
  int isa = tod_cpu_isa();
  for (; isa > 0; isa--)
    if (gemm_config_for_isa(isa)) break;
  const gemm_config *best = &g_configs[isa];
  /* A narrower kernel of the same ISA when the main one would mostly compute padding. */
  for (int i = TOD_ISA_COUNT; i < N_CONFIGS; i++)
    if (g_configs[i].isa == isa && n <= (size_t)g_configs[i].nr && g_configs[i].nr < best->nr)
      best = &g_configs[i];
  return best;
}

/* Packed-A kernels; each shares the B packing of the in-place kernel with its ISA and NR. */
static const gemm_packa_config g_packa_configs[] = {
  {"4x8__scalar_packa", TOD_ISA_SCALAR, 4, 8, gemm_packa_ukernel_4x8__scalar, gemm_pack_a},
#if defined(__x86_64__) || defined(__i386__)
  {"14x32__avx512f_packa", TOD_ISA_AVX512, 14, 32, gemm_packa_ukernel_14x32__avx512f,
   gemm_pack_a_14__avx512f},
#endif
};

#define N_PACKA ((int)(sizeof g_packa_configs / sizeof *g_packa_configs))

const gemm_packa_config *gemm_packa_config_list(int *count) {
  *count = N_PACKA;
  return g_packa_configs;
}

const gemm_packa_config *gemm_packa_for(const gemm_config *cfg) {
  /* The scalar one exists for tests of the driver; in-place A is as fast for scalar code. */
  if (cfg->isa == TOD_ISA_SCALAR) return NULL;
  for (int i = 0; i < N_PACKA; i++)
    if (g_packa_configs[i].isa == cfg->isa && g_packa_configs[i].nr == cfg->nr)
      return &g_packa_configs[i];
  return NULL;
}

gemm_ukernel_fn gemm_row_ukernel_for(const gemm_config *cfg) {
#if defined(__x86_64__) || defined(__i386__)
  if (cfg->isa == TOD_ISA_AVX512 && cfg->nr == 32) return gemm_ukernel_1x32__avx512f;
#endif
  (void)cfg;
  return NULL;
}
