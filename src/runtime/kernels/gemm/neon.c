/* 32-bit Arm NEON GEMM micro-kernel, MR=4 x NR=8: 8 accumulators, 2 B vectors and two k steps
 * of the 4 A rows (d registers, used by lane) fit the 16 q registers of ARMv7 NEON. Multiply-
 * add is vmla (unfused) with -mfpu=neon, so results differ from the scalar reference by
 * rounding. AArch64 uses gemm_ukernel_8x8__neonfma instead. */
#if defined(__ARM_NEON) && !defined(__aarch64__)
#include <arm_neon.h>

#include "runtime/kernels/gemm/gemm.h"

#define MR 4

static float32x4_t load_partial(const float *src, size_t n) {
  float tmp[4] = {0};
  for (size_t j = 0; j < n && j < 4; j++) tmp[j] = src[j];
  return vld1q_f32(tmp);
}

static void store_partial(float *dst, float32x4_t v, size_t n) {
  float tmp[4];
  vst1q_f32(tmp, v);
  for (size_t j = 0; j < n; j++) dst[j] = tmp[j];
}

/* One k step of all 4 rows: row i's A value is lane L of va[i]. */
#define STEP_LANE(L)                                                                             \
  do {                                                                                           \
    const float32x4_t b0 = vld1q_f32(w), b1 = vld1q_f32(w + 4);                                  \
    w += 8;                                                                                      \
    _Pragma("GCC unroll 4") for (int i = 0; i < MR; i++) {                                       \
      acc0[i] = vmlaq_lane_f32(acc0[i], b0, va[i], L);                                           \
      acc1[i] = vmlaq_lane_f32(acc1[i], b1, va[i], L);                                           \
    }                                                                                            \
  } while (0)

void gemm_ukernel_4x8__neon(size_t mr, size_t nc, size_t kc, const float *a, size_t a_stride,
                            const float *w, float *c, size_t c_stride, const gemm_minmax *p,
                            int accumulate) {
  const float *ap[MR];
  float *cp[MR];
  ap[0] = a;
  cp[0] = c;
  /* Rows past mr alias the last real row (same values, same place). */
#pragma GCC unroll 4
  for (int i = 1; i < MR; i++) {
    ap[i] = (size_t)i < mr ? ap[i - 1] + a_stride : ap[i - 1];
    cp[i] = (size_t)i < mr ? cp[i - 1] + c_stride : cp[i - 1];
  }
  float32x4_t acc0[MR], acc1[MR];
  if (accumulate) {
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) {
      if (nc == 8) {
        acc0[i] = vld1q_f32(cp[i]);
        acc1[i] = vld1q_f32(cp[i] + 4);
      } else {
        acc0[i] = load_partial(cp[i], nc);
        acc1[i] = nc > 4 ? load_partial(cp[i] + 4, nc - 4) : vdupq_n_f32(0.0f);
      }
    }
  } else {
    const float32x4_t bias0 = vld1q_f32(w), bias1 = vld1q_f32(w + 4);
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) {
      acc0[i] = bias0;
      acc1[i] = bias1;
    }
  }
  w += 8;
  size_t k = 0;
  for (; k + 2 <= kc; k += 2) {
    float32x2_t va[MR];
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) va[i] = vld1_f32(ap[i] + k);
    STEP_LANE(0);
    STEP_LANE(1);
  }
  if (k < kc) {
    const float32x4_t b0 = vld1q_f32(w), b1 = vld1q_f32(w + 4);
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) {
      acc0[i] = vmlaq_n_f32(acc0[i], b0, ap[i][k]);
      acc1[i] = vmlaq_n_f32(acc1[i], b1, ap[i][k]);
    }
  }
  const float32x4_t vmin = vdupq_n_f32(p->min), vmax = vdupq_n_f32(p->max);
#pragma GCC unroll 4
  for (int i = MR - 1; i >= 0; i--) {
    const float32x4_t v0 = vminq_f32(vmaxq_f32(acc0[i], vmin), vmax);
    const float32x4_t v1 = vminq_f32(vmaxq_f32(acc1[i], vmin), vmax);
    if (nc == 8) {
      vst1q_f32(cp[i], v0);
      vst1q_f32(cp[i] + 4, v1);
    } else if (nc >= 4) {
      vst1q_f32(cp[i], v0);
      store_partial(cp[i] + 4, v1, nc - 4);
    } else {
      store_partial(cp[i], v0, nc);
    }
  }
}

#endif
