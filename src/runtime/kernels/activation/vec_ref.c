/* Portable activation micro-kernels (vec.h): the reference the SIMD ones are held against. */
#include <math.h>

#include "runtime/kernels/activation/vec.h"

void act_sigmoid__scalar(const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
}

void act_swish__scalar(const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const float v = x[i];
    y[i] = v / (1.0f + expf(-v));
  }
}

void act_hsigmoid__scalar(const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = fminf(fmaxf(x[i] + 3.0f, 0.0f), 6.0f) / 6.0f;
}

void act_hswish__scalar(const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const float v = x[i];
    y[i] = v * fminf(fmaxf(v + 3.0f, 0.0f), 6.0f) / 6.0f;
  }
}
