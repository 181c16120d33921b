/* CPU feature detection and the instruction-set level kernels are chosen for.
 *
 * Detection runs once (CPUID plus the OS's XSAVE state via XGETBV: a CPU may have AVX-512 the
 * kernel does not save, and then using it faults). Kernels read tod_cpu_isa() in create() and
 * keep the chosen function pointers; the hot path never asks again. */
#ifndef TOD_RUNTIME_CPU_FEATURES_H
#define TOD_RUNTIME_CPU_FEATURES_H

/* Ordered levels: a higher level implies every lower one. */
enum { TOD_ISA_SCALAR = 0, TOD_ISA_AVX2 = 1, TOD_ISA_AVX512 = 2, TOD_ISA_COUNT = 3 };

typedef struct {
  int avx2_fma; /* AVX2 + FMA3, with YMM state enabled by the OS */
  int avx512;   /* AVX-512 F, BW, DQ, VL, with ZMM/opmask state enabled by the OS */
} tod_cpu_features;

/* What the hardware (and OS) supports; detected once, thread-safe. */
const tod_cpu_features *tod_cpu_features_get(void);
/* Highest ISA level the hardware supports. */
int tod_cpu_isa_max(void);
/* ISA level kernels should use: the hardware maximum, lowered by the environment variable
 * TOD_ISA=scalar|avx2|avx512 (read once; a request above the hardware is clamped) or by
 * tod_cpu_force_isa. */
int tod_cpu_isa(void);
/* Test hook: makes later tod_cpu_isa() calls return min(isa, hardware max); -1 restores the
 * default. Returns the level now in effect. Not for concurrent use with kernel creation. */
int tod_cpu_force_isa(int isa);
/* "scalar", "avx2", "avx512". */
const char *tod_isa_name(int isa);

#endif
