/* NEON depthwise micro-kernel (AArch64 and 32-bit Arm with -mfpu=neon): 16 channels (4
 * accumulators) per pass over the taps, then 4 at a time, then a scalar tail. */
#if defined(__ARM_NEON) || defined(__aarch64__)
#include <arm_neon.h>

#include "runtime/kernels/common/neon_fma.h"
#include "runtime/kernels/conv2d/dwconv.h"

static void dwconv_pixel(size_t channels, size_t taps, const float *const *in, const float *w,
                         const float *bias, float *out, const gemm_minmax *p) {
  const float32x4_t vmin = vdupq_n_f32(p->min), vmax = vdupq_n_f32(p->max);
  size_t c = 0;
  for (; c + 16 <= channels; c += 16) {
    float32x4_t a0 = vld1q_f32(bias + c), a1 = vld1q_f32(bias + c + 4);
    float32x4_t a2 = vld1q_f32(bias + c + 8), a3 = vld1q_f32(bias + c + 12);
    const float *wt = w + c;
    for (size_t t = 0; t < taps; t++, wt += channels) {
      const float *x = in[t] + c;
      a0 = tod_neon_madd(a0, vld1q_f32(x), vld1q_f32(wt));
      a1 = tod_neon_madd(a1, vld1q_f32(x + 4), vld1q_f32(wt + 4));
      a2 = tod_neon_madd(a2, vld1q_f32(x + 8), vld1q_f32(wt + 8));
      a3 = tod_neon_madd(a3, vld1q_f32(x + 12), vld1q_f32(wt + 12));
    }
    vst1q_f32(out + c, vminq_f32(vmaxq_f32(a0, vmin), vmax));
    vst1q_f32(out + c + 4, vminq_f32(vmaxq_f32(a1, vmin), vmax));
    vst1q_f32(out + c + 8, vminq_f32(vmaxq_f32(a2, vmin), vmax));
    vst1q_f32(out + c + 12, vminq_f32(vmaxq_f32(a3, vmin), vmax));
  }
  for (; c + 4 <= channels; c += 4) {
    float32x4_t a = vld1q_f32(bias + c);
    const float *wt = w + c;
    for (size_t t = 0; t < taps; t++, wt += channels)
      a = tod_neon_madd(a, vld1q_f32(in[t] + c), vld1q_f32(wt));
    vst1q_f32(out + c, vminq_f32(vmaxq_f32(a, vmin), vmax));
  }
  for (; c < channels; c++) {
    float acc = bias[c];
    for (size_t t = 0; t < taps; t++) acc += in[t][c] * w[t * channels + c];
    acc = acc < p->min ? p->min : acc;
    out[c] = acc > p->max ? p->max : acc;
  }
}

void dwconv_ukernel__neon(size_t channels, size_t pixels, size_t taps, const float *const *in,
                          const float *w, const float *bias, float *out, const gemm_minmax *p) {
  for (size_t x = 0; x < pixels; x++, in += taps, out += channels)
    dwconv_pixel(channels, taps, in, w, bias, out, p);
}

#endif
