/* Activation micro-kernels over float arrays: the exp-based sigmoid and swish (SiLU), and the
 * piecewise-linear hard-sigmoid and hard-swish of MobileNetV3, one file per ISA (vec_ref.c,
 * vec_avx2.c, vec_avx512.c) chosen by CPU features. EfficientNet runs SiLU on every expanded
 * feature map; a libm expf per element took more than half of its inference time.
 *
 * vec_ref.c is the truth (libm's expf). The SIMD kernels evaluate exp(r) on
 * [-ln2/2, ln2/2] with a degree-6 Taylor polynomial after a two-constant ln2 range reduction
 * and take 1 / (1 + e) as a refined reciprocal estimate: within a few float ulp of the
 * reference (the unit test holds them to 4 ulp, or 1e-37 absolute near underflow). */
#ifndef TOD_KERNELS_ACTIVATION_VEC_H
#define TOD_KERNELS_ACTIVATION_VEC_H

#include <stddef.h>

/* y[i] = f(x[i]) for i in [0, n); x may equal y (in place), otherwise they must not overlap. */
typedef void (*act_vec_fn)(const float *x, float *y, size_t n);

typedef struct {
  const char *name;
  int isa;
  act_vec_fn sigmoid;  /* 1 / (1 + exp(-x)) */
  act_vec_fn swish;    /* x * sigmoid(x) */
  act_vec_fn hsigmoid; /* min(max(x + 3, 0), 6) / 6 */
  act_vec_fn hswish;   /* x * hsigmoid(x) */
} act_vec_config;

#define ACT_VEC_DECLARE(SFX)                                        \
  void act_sigmoid__##SFX(const float *x, float *y, size_t n);      \
  void act_swish__##SFX(const float *x, float *y, size_t n);        \
  void act_hsigmoid__##SFX(const float *x, float *y, size_t n);     \
  void act_hswish__##SFX(const float *x, float *y, size_t n);
ACT_VEC_DECLARE(scalar)
#if defined(__x86_64__) || defined(__i386__)
ACT_VEC_DECLARE(avx2_fma)
ACT_VEC_DECLARE(avx512f)
#endif
#undef ACT_VEC_DECLARE

/* The config for one ISA level (NULL when the CPU lacks it or no kernel exists for it), and
 * the one for tod_cpu_isa() (never NULL: the scalar one always exists). */
const act_vec_config *act_vec_config_for_isa(int isa);
const act_vec_config *act_vec_config_get(void);

#endif
