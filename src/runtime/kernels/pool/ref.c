/* Scalar pooling micro-kernels: the reference for the SIMD ones. */
#include "runtime/kernels/pool/pool.h"

void maxpool_ukernel__scalar(size_t channels, size_t taps, const float *const *in, float *out,
                             const gemm_minmax *p) {
  for (size_t c = 0; c < channels; c++) {
    float m = in[0][c];
    for (size_t t = 1; t < taps; t++) m = in[t][c] > m ? in[t][c] : m;
    m = m < p->min ? p->min : m;
    out[c] = m > p->max ? p->max : m;
  }
}

void avgpool_ukernel__scalar(size_t channels, size_t taps, const float *const *in, float scale,
                             float *out, const gemm_minmax *p) {
  for (size_t c = 0; c < channels; c++) {
    float s = 0.0f;
    for (size_t t = 0; t < taps; t++) s += in[t][c];
    s *= scale;
    s = s < p->min ? p->min : s;
    out[c] = s > p->max ? p->max : s;
  }
}
