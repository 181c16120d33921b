/* Scalar non-overlapping max-pool gradient row: the reference for the SIMD ones. */
#include "runtime/kernels/grad/maxpool_grad.h"

void maxpool_grad_row__scalar(size_t channels, size_t ow, size_t kh, size_t kw, size_t sw,
                              const float *x, size_t row_stride, const float *dy, float *dx) {
  for (size_t ox = 0; ox < ow; ox++)
    for (size_t c = 0; c < channels; c++) {
      const size_t base = ox * sw * channels + c;
      size_t arg = base;
      float best = x[base];
      for (size_t ky = 0; ky < kh; ky++)
        for (size_t kx = 0; kx < kw; kx++) {
          const size_t at = base + ky * row_stride + kx * channels;
          const float v = x[at];
          if (v > best || (v != v && best == best)) best = v, arg = at;
        }
      for (size_t ky = 0; ky < kh; ky++)
        for (size_t kx = 0; kx < kw; kx++) {
          const size_t at = base + ky * row_stride + kx * channels;
          dx[at] = at == arg ? dy[ox * channels + c] : 0.0f;
        }
    }
}
