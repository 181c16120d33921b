/* NEON depthwise filter-gradient micro-kernel (AArch64 and 32-bit Arm with -mfpu=neon).
 *
 * 3x3: 9 accumulators of 4 channels stay in registers (11 of ARMv7's 16 q registers) while the
 * pixels stream past. Other tap counts: per tap, two accumulators over alternate pixels.
 * Channels past the last multiple of 4 take the scalar formula. */
#if defined(__ARM_NEON) || defined(__aarch64__)
#include <arm_neon.h>

#include "runtime/kernels/common/neon_fma.h"
#include "runtime/kernels/grad/dwconv_grad.h"

void dwconv_grad_filter__neon(size_t channels, size_t pixels, size_t taps,
                              const float *const *in, const float *dy, float *acc) {
  const size_t cv = channels / 4 * 4;
  if (taps == 9) {
    for (size_t c = 0; c < cv; c += 4) {
      float32x4_t a[9];
      for (int t = 0; t < 9; t++) a[t] = vld1q_f32(acc + (size_t)t * channels + c);
      const float *const *p = in;
      const float *d = dy + c;
      for (size_t x = 0; x < pixels; x++, p += 9, d += channels) {
        const float32x4_t d0 = vld1q_f32(d);
        for (int t = 0; t < 9; t++) a[t] = tod_neon_madd(a[t], d0, vld1q_f32(p[t] + c));
      }
      for (int t = 0; t < 9; t++) vst1q_f32(acc + (size_t)t * channels + c, a[t]);
    }
  } else {
    for (size_t c = 0; c < cv; c += 4)
      for (size_t t = 0; t < taps; t++) {
        float *at = acc + t * channels + c;
        float32x4_t a0 = vld1q_f32(at), a1 = vdupq_n_f32(0.0f);
        size_t x = 0;
        for (; x + 2 <= pixels; x += 2) {
          a0 = tod_neon_madd(a0, vld1q_f32(dy + x * channels + c), vld1q_f32(in[x * taps + t] + c));
          a1 = tod_neon_madd(a1, vld1q_f32(dy + (x + 1) * channels + c),
                             vld1q_f32(in[(x + 1) * taps + t] + c));
        }
        if (x < pixels)
          a0 = tod_neon_madd(a0, vld1q_f32(dy + x * channels + c), vld1q_f32(in[x * taps + t] + c));
        vst1q_f32(at, vaddq_f32(a0, a1));
      }
  }
  if (cv < channels)
    for (size_t x = 0; x < pixels; x++, in += taps, dy += channels)
      for (size_t t = 0; t < taps; t++)
        for (size_t c = cv; c < channels; c++) acc[t * channels + c] += dy[c] * in[t][c];
}

#endif
