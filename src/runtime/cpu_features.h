/* CPU feature detection and the instruction-set level kernels are chosen for.
 *
 * Detection runs once. x86: CPUID plus the OS's XSAVE state via XGETBV (a CPU may have AVX-512
 * the kernel does not save, and then using it faults). Arm: AArch64 always has Advanced SIMD;
 * 32-bit Arm asks the kernel (getauxval(AT_HWCAP) & HWCAP_NEON), since NEON is optional on
 * ARMv7 and armhf's baseline (VFPv3-D16) does not include it. Kernels read tod_cpu_isa() in
 * create() and keep the chosen function pointers; the hot path never asks again. */
#ifndef TOD_RUNTIME_CPU_FEATURES_H
#define TOD_RUNTIME_CPU_FEATURES_H

/* Ordered levels: a higher level implies every lower one. The levels are per architecture, so
 * config tables indexed by TOD_ISA_* stay dense on each: x86 has SCALAR < AVX2 < AVX512, Arm
 * has SCALAR < NEON. The SIMD names of the other architecture do not exist (kernels and table
 * entries are guarded by the same #if as their files). */
#if defined(__aarch64__) || defined(__arm__)
enum { TOD_ISA_SCALAR = 0, TOD_ISA_NEON = 1, TOD_ISA_COUNT = 2 };
#else
enum { TOD_ISA_SCALAR = 0, TOD_ISA_AVX2 = 1, TOD_ISA_AVX512 = 2, TOD_ISA_COUNT = 3 };
#endif

typedef struct {
  int avx2_fma; /* x86: AVX2 + FMA3, with YMM state enabled by the OS */
  int avx512;   /* x86: AVX-512 F, BW, DQ, VL, with ZMM/opmask state enabled by the OS */
  int neon;     /* Arm: Advanced SIMD (always on AArch64; HWCAP_NEON on 32-bit) */
} tod_cpu_features;

/* What the hardware (and OS) supports; detected once, thread-safe. */
const tod_cpu_features *tod_cpu_features_get(void);
/* Highest ISA level the hardware supports. */
int tod_cpu_isa_max(void);
/* ISA level kernels should use: the hardware maximum, lowered by the environment variable
 * TOD_ISA=scalar|avx2|avx512 (x86) or scalar|neon (Arm) (read once; a request above the
 * hardware is clamped; another architecture's name is ignored) or by tod_cpu_force_isa. */
int tod_cpu_isa(void);
/* Test hook: makes later tod_cpu_isa() calls return min(isa, hardware max); -1 restores the
 * default. Returns the level now in effect. Not for concurrent use with kernel creation. */
int tod_cpu_force_isa(int isa);
/* "scalar", "avx2", "avx512" (x86), "neon" (Arm); "unknown" out of range. */
const char *tod_isa_name(int isa);

#endif
