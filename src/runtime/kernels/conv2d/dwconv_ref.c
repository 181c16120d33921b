/* Scalar depthwise micro-kernel: the reference for the SIMD ones. */
#include "runtime/kernels/conv2d/dwconv.h"

void dwconv_ukernel__scalar(size_t channels, size_t pixels, size_t taps, const float *const *in,
                            const float *w, const float *bias, float *out,
                            const gemm_minmax *p) {
  for (size_t x = 0; x < pixels; x++, in += taps, out += channels)
    for (size_t c = 0; c < channels; c++) {
      float acc = bias[c];
      for (size_t t = 0; t < taps; t++) acc += in[t][c] * w[t * channels + c];
      acc = acc < p->min ? p->min : acc;
      out[c] = acc > p->max ? p->max : acc;
    }
}

/* Scalar 3x3 interior-row kernel (dwconv3x3_rows_fn): the reference for the SIMD ones. */
void dwconv3x3_rows__scalar(size_t channels, size_t pixels, size_t stride,
                            const float *const *rows, const float *w, const float *bias,
                            float *out, const gemm_minmax *p) {
  for (size_t x = 0; x < pixels; x++, out += channels)
    for (size_t c = 0; c < channels; c++) {
      float acc = bias[c];
      for (size_t ky = 0; ky < 3; ky++)
        for (size_t kx = 0; kx < 3; kx++)
          acc += rows[ky][(x * stride + kx) * channels + c] * w[(ky * 3 + kx) * channels + c];
      acc = acc < p->min ? p->min : acc;
      out[c] = acc > p->max ? p->max : acc;
    }
}
