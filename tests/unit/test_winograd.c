/* Winograd F(4x4,3x3): every ISA's input and output transforms held against the scalar ones
 * (channel counts around the vector widths, strides, partial output tiles, residual, clamps),
 * and the whole algorithm (scalar transforms, weight transform, plain sums for the GEMMs) held
 * against a direct double-precision 3x3 correlation of one tile. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cpu_features.h"
#include "runtime/kernels/conv2d/winograd.h"

static int failures;
static unsigned rng_state = 4242;
static float frand(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return (float)((rng_state >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

static void check(const char *what, const float *got, const float *want, size_t n, double tol) {
  for (size_t i = 0; i < n; i++)
    if (!(fabs((double)got[i] - want[i]) <= tol * (1.0 + fabs(want[i])))) {
      fprintf(stderr, "FAIL %s: [%zu] got %.9g want %.9g\n", what, i, got[i], want[i]);
      failures++;
      return;
    }
}

static void test_transforms(const wino_config *cfg, size_t c) {
  const size_t cs = c + 3, rs = 7 * cs + 5, vs = c + 2;
  const size_t xn = 6 * rs, vn = 36 * vs;
  float *x = malloc(xn * sizeof(float)), *v = malloc(vn * sizeof(float)),
        *vr = malloc(vn * sizeof(float));
  for (size_t i = 0; i < xn; i++) x[i] = frand();
  for (size_t i = 0; i < vn; i++) v[i] = vr[i] = 777.0f; /* gaps must stay untouched */
  wino_f43_input__scalar(c, x, cs, rs, vr, vs);
  cfg->input(c, x, cs, rs, v, vs);
  char what[96];
  snprintf(what, sizeof what, "%s input c=%zu", cfg->name, c);
  check(what, v, vr, vn, 1e-6);
  /* output: m is [36][ms], y and res [4 rows][4 cols] with strides */
  const size_t ms = c + 1, ycs = c + 2, yrs = 5 * ycs + 1, yn = 4 * yrs;
  float *m = malloc(36 * ms * sizeof(float)), *bias = malloc(c * sizeof(float) + 4);
  float *res = malloc(yn * sizeof(float)), *y = malloc(yn * sizeof(float)),
        *yr = malloc(yn * sizeof(float));
  for (size_t i = 0; i < 36 * ms; i++) m[i] = frand();
  for (size_t i = 0; i < c; i++) bias[i] = frand();
  for (size_t i = 0; i < yn; i++) res[i] = frand();
  const gemm_minmax clamps[3] = {{-INFINITY, INFINITY}, {0.0f, INFINITY}, {0.0f, 1.5f}};
  for (int k = 0; k < 3; k++)
    for (size_t rows = 1; rows <= 4; rows += 3)
      for (size_t cols = 2; cols <= 4; cols += 2)
        for (int with_res = 0; with_res < 2; with_res++) {
          for (size_t i = 0; i < yn; i++) y[i] = yr[i] = 555.0f;
          const float *r = with_res ? res : NULL;
          wino_f43_output__scalar(c, m, ms, bias, r, yr, ycs, yrs, rows, cols, &clamps[k]);
          cfg->output(c, m, ms, bias, r, y, ycs, yrs, rows, cols, &clamps[k]);
          snprintf(what, sizeof what, "%s output c=%zu clamp%d %zux%zu res%d", cfg->name, c, k,
                   rows, cols, with_res);
          check(what, y, yr, yn, 1e-6);
        }
  free(x), free(v), free(vr), free(m), free(bias), free(res), free(y), free(yr);
}

/* One tile, one input and one output channel: Y = A^T [(G g G^T) .* (B^T d B)] A. */
static void test_algorithm(void) {
  float d[36], g[9], u[36], vv[36], mm[36], y[16];
  for (int i = 0; i < 36; i++) d[i] = frand();
  for (int i = 0; i < 9; i++) g[i] = frand();
  wino_f43_weight(g, u, 1);
  wino_f43_input__scalar(1, d, 1, 6, vv, 1);
  for (int i = 0; i < 36; i++) mm[i] = u[i] * vv[i];
  const float zero = 0.0f;
  const gemm_minmax none = {-INFINITY, INFINITY};
  wino_f43_output__scalar(1, mm, 1, &zero, NULL, y, 1, 4, 4, 4, &none);
  float want[16];
  for (int oy = 0; oy < 4; oy++)
    for (int ox = 0; ox < 4; ox++) {
      double s = 0;
      for (int ky = 0; ky < 3; ky++)
        for (int kx = 0; kx < 3; kx++) s += (double)d[(oy + ky) * 6 + ox + kx] * g[ky * 3 + kx];
      want[oy * 4 + ox] = (float)s;
    }
  check("F(4x4,3x3) equals direct correlation", y, want, 16, 1e-5);
}

int main(void) {
  test_algorithm();
  for (int isa = 0; isa < TOD_ISA_COUNT; isa++) {
    const wino_config *cfg = wino_config_for_isa(isa);
    if (!cfg) {
      printf("skip %s: not supported by this CPU\n", tod_isa_name(isa));
      continue;
    }
    const size_t cs[] = {1, 7, 8, 9, 15, 16, 17, 31, 33, 64, 70};
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) test_transforms(cfg, cs[i]);
    printf("%s: done\n", cfg->name);
  }
  if (failures) {
    fprintf(stderr, "%d failures\n", failures);
    return 1;
  }
  printf("ok\n");
  return 0;
}
