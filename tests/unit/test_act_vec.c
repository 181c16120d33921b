/* Every activation micro-kernel the CPU supports (activation/vec.h: scalar, AVX2, AVX-512)
 * held against double-precision formulas written here: sigmoid 1 / (1 + e^-x), swish
 * x / (1 + e^-x), hard-sigmoid min(max(x + 3, 0), 6) / 6, hard-swish x times that. Lengths
 * around the vector widths (masked tails; nothing past n is written), in place and out of
 * place, a dense sweep of [-20, 20], the range ends of the SIMD exp (+-88, +-100, +-1e30),
 * infinities and NaN. Tolerance: 4 float ulp of the exact value, or 1e-35 absolute (sigmoid
 * and swish below e^-80: the SIMD exp stops at e^-88, libm's expf overflows past 88.7, and
 * float's normal range ends at 1.2e-38; hard-swish may overflow to infinity past FLT_MAX / 6
 * as the x * 6 / 6 of PyTorch does). The same at the
 * operator level: kact_apply and fused_act_apply under each forced ISA level (TOD_ISA). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cpu_features.h"
#include "runtime/kernels/activation/vec.h"
#include "runtime/kernels/common/kutil.h"
#include "runtime/kernels/gemm/fused_act.h"

enum { F_SIGMOID, F_SWISH, F_HSIGMOID, F_HSWISH, F_COUNT };
static const char *const fn_names[F_COUNT] = {"sigmoid", "swish", "hsigmoid", "hswish"};
static const int fn_act[F_COUNT] = {IR_ACT_SIGMOID, IR_ACT_SWISH, IR_ACT_HSIGMOID, IR_ACT_HSWISH};

static int failures, checks;

static double exact(int f, double x) {
  const double hs = fmin(fmax(x + 3.0, 0.0), 6.0) / 6.0;
  switch (f) {
    case F_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case F_SWISH: return x / (1.0 + exp(-x));
    case F_HSIGMOID: return hs;
    default: return x * hs;
  }
}

/* Whether y is within 4 ulp (or 1e-35 absolute) of the exact value for input x. */
static int good(int f, float x, float y) {
  if (isnan(x)) return f == F_HSIGMOID ? y == 0.0f : isnan(y); /* fmaxf(NaN, 0) is 0 */
  double e;
  if (isinf(x)) {
    if (x < 0 && (f == F_SWISH || f == F_HSWISH)) /* -inf * 0: NaN, or -inf from x * tiny */
      return isnan(y) || (f == F_SWISH && y == -INFINITY);
    if (x > 0 && (f == F_SWISH || f == F_HSWISH)) return y == INFINITY;
    e = x > 0 ? 1.0 : 0.0;
  } else {
    e = exact(f, (double)x);
  }
  if (f == F_HSWISH && fabsf(x) > FLT_MAX / 6.0f && isinf(y) && (y > 0) == (e > 0)) return 1;
  const double ulp = fabs(e) < FLT_MIN ? 0.0 : ldexp(1.0, ilogb(e) - 23);
  return fabs((double)y - e) <= fmax(4.0 * ulp, 1e-35);
}

static int printed;
#define REPORT(...) \
  do { \
    if (printed++ < 20) fprintf(stderr, __VA_ARGS__); \
  } while (0)

static float *build_inputs(size_t *count) {
  static const float specials[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-7f, -1e-7f, 0.5f, -0.5f,
                                   3.0f, -3.0f, 2.999999f, -2.999999f, 87.9f, -87.9f, 88.0f,
                                   -88.0f, 88.5f, -88.5f, 89.0f, -89.0f, 100.0f, -100.0f, 1e4f,
                                   -1e4f, 1e30f, -1e30f, FLT_MAX, -FLT_MAX, INFINITY, -INFINITY,
                                   NAN};
  const size_t ns = sizeof specials / sizeof specials[0], sweep = 40001;
  float *x = malloc((ns + sweep) * sizeof(float));
  if (!x) return NULL;
  memcpy(x, specials, sizeof specials);
  for (size_t i = 0; i < sweep; i++) x[ns + i] = -20.0f + 40.0f * (float)i / (float)(sweep - 1);
  *count = ns + sweep;
  return x;
}

/* fn over x[0..n) into y (or in place), checked, with sentinels after n. */
static void check_fn(const char *who, int f, act_vec_fn fn, const float *x, size_t n, int in_place) {
  float *y = malloc((n + 16) * sizeof(float));
  for (size_t i = 0; i < n + 16; i++) y[i] = -777.0f;
  if (in_place) {
    memcpy(y, x, n * sizeof(float));
    fn(y, y, n);
  } else {
    fn(x, y, n);
  }
  checks++;
  for (size_t i = 0; i < n; i++)
    if (!good(f, x[i], y[i])) {
      REPORT("FAIL %s %s n=%zu%s: f(%.9g) = %.9g, exact %.9g\n", who, fn_names[f], n,
              in_place ? " in place" : "", x[i], y[i], exact(f, x[i]));
      failures++;
      break;
    }
  for (size_t i = n; i < n + 16; i++)
    if (y[i] != -777.0f) {
      REPORT("FAIL %s %s n=%zu: wrote past the end at %zu\n", who, fn_names[f], n, i);
      failures++;
      break;
    }
  free(y);
}

int main(void) {
  size_t count;
  float *x = build_inputs(&count);
  if (!x) return 1;
  int configs = 0;
  for (int isa = 0; isa < TOD_ISA_COUNT; isa++) {
    const act_vec_config *c = act_vec_config_for_isa(isa);
    if (!c) continue;
    configs++;
    const act_vec_fn fns[F_COUNT] = {c->sigmoid, c->swish, c->hsigmoid, c->hswish};
    for (int f = 0; f < F_COUNT; f++) {
      for (size_t n = 0; n <= 70; n++) check_fn(c->name, f, fns[f], x + 5, n, 0);
      check_fn(c->name, f, fns[f], x, count, 0);
      check_fn(c->name, f, fns[f], x + 3, count - 3, 1);
    }
  }
  /* The operator entry points pick the kernel of the ISA level in effect. */
  for (int isa = 0; isa < TOD_ISA_COUNT; isa++) {
    if (isa > tod_cpu_isa_max()) continue;
    tod_cpu_force_isa(isa);
    const act_vec_config *want = NULL; /* the highest level at or below isa with kernels */
    for (int l = isa; l >= 0 && !want; l--) want = act_vec_config_for_isa(l);
    checks++;
    if (act_vec_config_get() != want) {
      REPORT("FAIL act_vec_config_get at level %s\n", tod_isa_name(isa));
      failures++;
    }
    float *y = malloc(count * sizeof(float));
    for (int f = 0; f < F_COUNT; f++) {
      kact a = {0};
      a.type = fn_act[f];
      kact_apply(&a, x, y, (int64_t)count);
      checks++;
      for (size_t i = 0; i < count; i++)
        if (!good(f, x[i], y[i])) {
          REPORT("FAIL kact_apply %s at %s: f(%.9g) = %.9g\n", fn_names[f],
                  tod_isa_name(isa), x[i], y[i]);
          failures++;
          break;
        }
      /* fused_act_apply_2d over a strided block: columns 3..3+37 of rows 101 wide. */
      const size_t rows = count / 101, cols = 37;
      memcpy(y, x, count * sizeof(float));
      fused_act_apply_2d(fn_act[f], y + 3, rows, cols, 101);
      checks++;
      for (size_t i = 0; i < rows * 101; i++) {
        const size_t col = i % 101;
        const int inside = col >= 3 && col < 3 + cols && i + 3 < rows * 101 + 3;
        const int ok = inside ? good(f, x[i], y[i]) : memcmp(&x[i], &y[i], sizeof(float)) == 0;
        if (!ok) {
          REPORT("FAIL fused_act_apply_2d %s at %s: element %zu\n", fn_names[f],
                  tod_isa_name(isa), i);
          failures++;
          break;
        }
      }
    }
    free(y);
  }
  tod_cpu_force_isa(-1);
  free(x);
  printf("%d checks over %d kernel configs, %d failures\n", checks, configs, failures);
  return failures ? 1 : 0;
}
