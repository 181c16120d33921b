/* Scalar pixconv forward kernel: the reference for the SIMD ones (pixconv.h). */
#include "runtime/kernels/conv2d/pixconv.h"

void pixconv_ukernel__scalar(size_t width, size_t cin, size_t kh, size_t kw, size_t cout,
                             const float *in, size_t rstride, size_t cstride, const float *w,
                             const float *bias, float *out, const gemm_minmax *p) {
  for (size_t x = 0; x < width; x++, out += cout)
    for (size_t o = 0; o < cout; o++) {
      float acc = bias[o];
      const float *wt = w + o;
      for (size_t ky = 0; ky < kh; ky++)
        for (size_t kx = 0; kx < kw; kx++)
          for (size_t c = 0; c < cin; c++, wt += cout)
            acc += in[c * cstride + ky * rstride + x + kx] * *wt;
      acc = acc < p->min ? p->min : acc;
      out[o] = acc > p->max ? p->max : acc;
    }
}
