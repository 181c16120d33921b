/* Multiply-add for the NEON kernels: fused (vfmaq) where the target has it (AArch64, or 32-bit
 * Arm built for VFPv4), otherwise vmlaq, a multiply then an add, each rounded. The unfused form
 * is what 32-bit NEON (-mfpu=neon) offers; its results differ from the fused ones, and from the
 * scalar reference, by rounding only. */
#ifndef TOD_KERNELS_NEON_FMA_H
#define TOD_KERNELS_NEON_FMA_H

#if defined(__ARM_NEON) || defined(__aarch64__)
#include <arm_neon.h>

/* acc + a * b */
static inline float32x4_t tod_neon_madd(float32x4_t acc, float32x4_t a, float32x4_t b) {
#if defined(__aarch64__) || defined(__ARM_FEATURE_FMA)
  return vfmaq_f32(acc, a, b);
#else
  return vmlaq_f32(acc, a, b);
#endif
}

/* acc - a * b */
static inline float32x4_t tod_neon_msub(float32x4_t acc, float32x4_t a, float32x4_t b) {
#if defined(__aarch64__) || defined(__ARM_FEATURE_FMA)
  return vfmsq_f32(acc, a, b);
#else
  return vmlsq_f32(acc, a, b);
#endif
}

#endif
#endif
