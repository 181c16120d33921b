/* CPUID/XGETBV (x86) and HWCAP (32-bit Arm) detection; see cpu_features.h. */
#include "runtime/cpu_features.h"

#ifndef TOD_NO_THREADS
#include <pthread.h>
#endif
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define TOD_X86 1
#endif
#if defined(__arm__) && !defined(__aarch64__)
#include <sys/auxv.h>
/* Linux's HWCAP_NEON (arch/arm/include/uapi/asm/hwcap.h); glibc names it HWCAP_ARM_NEON. */
#define TOD_HWCAP_NEON (1UL << 12)
#endif

static tod_cpu_features g_features;
static int g_env_isa = TOD_ISA_COUNT; /* cap from TOD_ISA; COUNT = no cap */
static int g_forced_isa = -1;
#ifndef TOD_NO_THREADS
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
#else
static int g_detected; /* the single-threaded build (tod_min) needs no once-control */
#endif

#ifdef TOD_X86
/* XGETBV through inline asm: the intrinsic needs -mxsave on the whole file, which would let the
 * compiler use XSAVE-era instructions elsewhere in portable code. */
static unsigned long long read_xcr0(void) {
  unsigned int eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((unsigned long long)edx << 32) | eax;
}
#endif

static void detect(void) {
  memset(&g_features, 0, sizeof g_features);
#ifdef TOD_X86
  unsigned int eax, ebx, ecx, edx;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx)) {
    const int osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1, fma = (ecx >> 12) & 1;
    unsigned long long xcr0 = osxsave ? read_xcr0() : 0;
    const int ymm_os = (xcr0 & 0x6) == 0x6;          /* SSE and AVX state */
    const int zmm_os = ymm_os && (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM_Hi256, Hi16_ZMM */
    unsigned int b7 = 0, c7 = 0, d7 = 0, a7 = 0;
    if (__get_cpuid_max(0, NULL) >= 7) __cpuid_count(7, 0, a7, b7, c7, d7);
    const int avx2 = (b7 >> 5) & 1;
    const int f = (b7 >> 16) & 1, dq = (b7 >> 17) & 1, bw = (b7 >> 30) & 1, vl = (b7 >> 31) & 1;
    g_features.avx2_fma = avx && ymm_os && fma && avx2;
    g_features.avx512 = g_features.avx2_fma && zmm_os && f && dq && bw && vl;
  }
#elif defined(__aarch64__)
  g_features.neon = 1; /* Advanced SIMD is mandatory in ARMv8-A's AArch64 state */
#elif defined(__arm__)
  g_features.neon = (getauxval(AT_HWCAP) & TOD_HWCAP_NEON) != 0;
#endif
  const char *env = getenv("TOD_ISA");
  if (env) {
    if (!strcmp(env, "scalar")) g_env_isa = TOD_ISA_SCALAR;
#ifdef TOD_X86
    else if (!strcmp(env, "avx2")) g_env_isa = TOD_ISA_AVX2;
    else if (!strcmp(env, "avx512")) g_env_isa = TOD_ISA_AVX512;
#elif defined(__aarch64__) || defined(__arm__)
    else if (!strcmp(env, "neon")) g_env_isa = TOD_ISA_NEON;
#endif
  }
}

const tod_cpu_features *tod_cpu_features_get(void) {
#ifndef TOD_NO_THREADS
  pthread_once(&g_once, detect);
#else
  if (!g_detected) {
    detect();
    g_detected = 1;
  }
#endif
  return &g_features;
}

int tod_cpu_isa_max(void) {
  const tod_cpu_features *f = tod_cpu_features_get();
#if defined(__aarch64__) || defined(__arm__)
  return f->neon ? TOD_ISA_NEON : TOD_ISA_SCALAR;
#else
  return f->avx512 ? TOD_ISA_AVX512 : f->avx2_fma ? TOD_ISA_AVX2 : TOD_ISA_SCALAR;
#endif
}

int tod_cpu_isa(void) {
  int isa = tod_cpu_isa_max();
  int cap = g_forced_isa >= 0 ? g_forced_isa : g_env_isa;
  return cap < isa ? cap : isa;
}

int tod_cpu_force_isa(int isa) {
  g_forced_isa = isa < 0 ? -1 : isa;
  return tod_cpu_isa();
}

const char *tod_isa_name(int isa) {
  switch (isa) {
  case TOD_ISA_SCALAR: return "scalar";
#if defined(__aarch64__) || defined(__arm__)
  case TOD_ISA_NEON: return "neon";
#else
  case TOD_ISA_AVX2: return "avx2";
  case TOD_ISA_AVX512: return "avx512";
#endif
  default: return "unknown";
  }
}
