/* Scalar depthwise filter-gradient micro-kernel: the reference for the SIMD ones. */
#include "runtime/kernels/grad/dwconv_grad.h"

void dwconv_grad_filter__scalar(size_t channels, size_t pixels, size_t taps,
                                const float *const *in, const float *dy, float *acc) {
  for (size_t x = 0; x < pixels; x++, in += taps, dy += channels)
    for (size_t t = 0; t < taps; t++) {
      const float *xi = in[t];
      float *a = acc + t * channels;
      for (size_t c = 0; c < channels; c++) a[c] += dy[c] * xi[c];
    }
}
