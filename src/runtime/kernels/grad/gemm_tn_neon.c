/* NEON transposed-A GEMM micro-kernel, MR=4 x NR=8 (AArch64, and 32-bit Arm with -mfpu=neon):
 * per k step, two B vectors from row k and the 4 contiguous A values of row k (one vector, used
 * by lane) feed 8 multiply-adds into 8 accumulators. Fused on AArch64, vmla on ARMv7. Row and
 * column tails go through zero-padded copies, so only the mr A values and nc B values of a row
 * are read. */
#if defined(__ARM_NEON) || defined(__aarch64__)
#include <arm_neon.h>
#include <string.h>

#include "runtime/kernels/common/neon_fma.h"
#include "runtime/kernels/grad/gemm_tn.h"

void gemm_tn_ukernel_4x8__neon(size_t mr, size_t nc, size_t k, const float *a, size_t lda,
                               const float *b, size_t ldb, float *c, size_t ldc) {
  float32x4_t acc0[4], acc1[4];
  for (int i = 0; i < 4; i++) acc0[i] = acc1[i] = vdupq_n_f32(0.0f);
  float at[4] = {0}, bt[8] = {0};
  for (size_t p = 0; p < k; p++, a += lda, b += ldb) {
    const float *ap = a, *bp = b;
    if (mr < 4) {
      memcpy(at, a, mr * sizeof(float));
      ap = at;
    }
    if (nc < 8) {
      memcpy(bt, b, nc * sizeof(float));
      bp = bt;
    }
    const float32x4_t va = vld1q_f32(ap), b0 = vld1q_f32(bp), b1 = vld1q_f32(bp + 4);
    const float32x2_t lo = vget_low_f32(va), hi = vget_high_f32(va);
    const float32x4_t a0 = vdupq_lane_f32(lo, 0), a1 = vdupq_lane_f32(lo, 1);
    const float32x4_t a2 = vdupq_lane_f32(hi, 0), a3 = vdupq_lane_f32(hi, 1);
    acc0[0] = tod_neon_madd(acc0[0], a0, b0), acc1[0] = tod_neon_madd(acc1[0], a0, b1);
    acc0[1] = tod_neon_madd(acc0[1], a1, b0), acc1[1] = tod_neon_madd(acc1[1], a1, b1);
    acc0[2] = tod_neon_madd(acc0[2], a2, b0), acc1[2] = tod_neon_madd(acc1[2], a2, b1);
    acc0[3] = tod_neon_madd(acc0[3], a3, b0), acc1[3] = tod_neon_madd(acc1[3], a3, b1);
  }
  for (size_t i = 0; i < mr; i++) {
    float *ci = c + i * ldc;
    if (nc == 8) {
      vst1q_f32(ci, vaddq_f32(vld1q_f32(ci), acc0[i]));
      vst1q_f32(ci + 4, vaddq_f32(vld1q_f32(ci + 4), acc1[i]));
    } else {
      float t[8];
      vst1q_f32(t, acc0[i]);
      vst1q_f32(t + 4, acc1[i]);
      for (size_t j = 0; j < nc; j++) ci[j] += t[j];
    }
  }
}

#endif
