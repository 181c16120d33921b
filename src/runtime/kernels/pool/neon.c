/* NEON pooling micro-kernels (AArch64 and 32-bit Arm with -mfpu=neon): 4 channels per
 * vector, scalar tail. */
#if defined(__ARM_NEON) || defined(__aarch64__)
#include <arm_neon.h>

#include "runtime/kernels/pool/pool.h"

void maxpool_ukernel__neon(size_t channels, size_t taps, const float *const *in, float *out,
                           const gemm_minmax *p) {
  const float32x4_t vmin = vdupq_n_f32(p->min), vmax = vdupq_n_f32(p->max);
  size_t c = 0;
  for (; c + 8 <= channels; c += 8) {
    float32x4_t m0 = vld1q_f32(in[0] + c), m1 = vld1q_f32(in[0] + c + 4);
    for (size_t t = 1; t < taps; t++) {
      m0 = vmaxq_f32(m0, vld1q_f32(in[t] + c));
      m1 = vmaxq_f32(m1, vld1q_f32(in[t] + c + 4));
    }
    vst1q_f32(out + c, vminq_f32(vmaxq_f32(m0, vmin), vmax));
    vst1q_f32(out + c + 4, vminq_f32(vmaxq_f32(m1, vmin), vmax));
  }
  for (; c + 4 <= channels; c += 4) {
    float32x4_t m = vld1q_f32(in[0] + c);
    for (size_t t = 1; t < taps; t++) m = vmaxq_f32(m, vld1q_f32(in[t] + c));
    vst1q_f32(out + c, vminq_f32(vmaxq_f32(m, vmin), vmax));
  }
  for (; c < channels; c++) {
    float m = in[0][c];
    for (size_t t = 1; t < taps; t++) m = in[t][c] > m ? in[t][c] : m;
    m = m < p->min ? p->min : m;
    out[c] = m > p->max ? p->max : m;
  }
}

void avgpool_ukernel__neon(size_t channels, size_t taps, const float *const *in, float scale,
                           float *out, const gemm_minmax *p) {
  const float32x4_t vmin = vdupq_n_f32(p->min), vmax = vdupq_n_f32(p->max);
  size_t c = 0;
  for (; c + 4 <= channels; c += 4) {
    float32x4_t s = vdupq_n_f32(0.0f);
    for (size_t t = 0; t < taps; t++) s = vaddq_f32(s, vld1q_f32(in[t] + c));
    vst1q_f32(out + c, vminq_f32(vmaxq_f32(vmulq_n_f32(s, scale), vmin), vmax));
  }
  for (; c < channels; c++) {
    float s = 0.0f;
    for (size_t t = 0; t < taps; t++) s += in[t][c];
    s *= scale;
    s = s < p->min ? p->min : s;
    out[c] = s > p->max ? p->max : s;
  }
}

#endif
