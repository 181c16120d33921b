/* Scalar depthwise input-gradient (scatter) micro-kernel: the reference for the SIMD ones. */
#include "runtime/kernels/grad/dwconv_grad.h"

void dwconv_grad_input__scalar(size_t channels, size_t pixels, size_t taps, float *const *out,
                               const float *dy, const float *w) {
  for (size_t x = 0; x < pixels; x++, out += taps, dy += channels)
    for (size_t t = 0; t < taps; t++) {
      float *o = out[t];
      const float *wt = w + t * channels;
      for (size_t c = 0; c < channels; c++) o[c] += dy[c] * wt[c];
    }
}
