/* Scalar pixconv filter-gradient kernel: the reference for the SIMD ones (pixconv.h). */
#include "runtime/kernels/conv2d/pixconv.h"

void pixconv_filter__scalar(size_t rows, size_t width, size_t cin, size_t kh, size_t kw,
                            size_t cout, const float *in, size_t in_step, size_t rstride,
                            size_t cstride, const float *dy, size_t dy_step, size_t dy_ostride,
                            float *acc) {
  for (size_t ky = 0; ky < kh; ky++)
    for (size_t kx = 0; kx < kw; kx++)
      for (size_t c = 0; c < cin; c++)
        for (size_t o = 0; o < cout; o++) {
          float sum = 0.0f;
          for (size_t r = 0; r < rows; r++) {
            const float *x = in + r * in_step + c * cstride + ky * rstride + kx;
            const float *d = dy + r * dy_step + o * dy_ostride;
            for (size_t i = 0; i < width; i++) sum += x[i] * d[i];
          }
          acc[((ky * kw + kx) * cin + c) * cout + o] += sum;
        }
}
