/* NEON depthwise input-gradient (scatter) micro-kernel (AArch64 and 32-bit Arm with
 * -mfpu=neon).
 *
 * 3x3: the 9 weight vectors of a 4-channel block stay in registers while the pixels stream
 * past; each (pixel, tap) is one read-modify-write of the target row, in order, so
 * overlapping windows add up exactly. Channels past the last multiple of 4 take the scalar
 * formula. */
#if defined(__ARM_NEON) || defined(__aarch64__)
#include <arm_neon.h>

#include "runtime/kernels/common/neon_fma.h"
#include "runtime/kernels/grad/dwconv_grad.h"

void dwconv_grad_input__neon(size_t channels, size_t pixels, size_t taps, float *const *out,
                             const float *dy, const float *w) {
  const size_t cv = channels / 4 * 4;
  if (taps == 9) {
    for (size_t c = 0; c < cv; c += 4) {
      float32x4_t wv[9];
      for (int t = 0; t < 9; t++) wv[t] = vld1q_f32(w + (size_t)t * channels + c);
      float *const *p = out;
      const float *d = dy + c;
      for (size_t x = 0; x < pixels; x++, p += 9, d += channels) {
        const float32x4_t d0 = vld1q_f32(d);
        for (int t = 0; t < 9; t++) {
          float *o = p[t] + c;
          vst1q_f32(o, tod_neon_madd(vld1q_f32(o), d0, wv[t]));
        }
      }
    }
  } else {
    float *const *p = out;
    const float *d = dy;
    for (size_t x = 0; x < pixels; x++, p += taps, d += channels)
      for (size_t t = 0; t < taps; t++)
        for (size_t c = 0; c < cv; c += 4) {
          float *o = p[t] + c;
          const float32x4_t wt = vld1q_f32(w + t * channels + c);
          vst1q_f32(o, tod_neon_madd(vld1q_f32(o), vld1q_f32(d + c), wt));
        }
  }
  if (cv < channels)
    for (size_t x = 0; x < pixels; x++, out += taps, dy += channels)
      for (size_t t = 0; t < taps; t++)
        for (size_t c = cv; c < channels; c++) out[t][c] += dy[c] * w[t * channels + c];
}

#endif
