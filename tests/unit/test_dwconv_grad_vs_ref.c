/* Every depthwise-gradient and transposed-A GEMM micro-kernel the CPU supports (scalar, AVX2,
 * AVX-512 on x86; scalar, NEON on Arm), held against double-precision loops written here from
 * the contracts in dwconv_grad.h and gemm_tn.h: odd channel counts (vector tails), 3x3 and
 * other tap counts, padding taps (zero row / discard row), overlapping windows, row and column
 * tails. Operands are allocated to their exact extent, so an over-read shows under ASan. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cpu_features.h"
#include "runtime/kernels/grad/dwconv_grad.h"
#include "runtime/kernels/grad/gemm_tn.h"

static int failures;
static unsigned rng_state = 4242;
static unsigned urand(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return rng_state >> 8;
}
static float frand(void) { return (float)(urand() & 0xFFFF) / 32768.0f - 1.0f; }

static int close_enough(float got, double want, size_t terms) {
  const double tol = 1e-6 * (double)(terms + 1) + 1e-5 * fabs(want);
  return fabs((double)got - want) <= tol;
}

/* Filter gradient: rows[0] is the zero row; the others hold random inputs. */
static void check_filter(const dwconv_grad_config *cfg, size_t ch, size_t pixels, size_t taps) {
  const size_t nrows = 1 + 2 * taps;
  float *rows = malloc(nrows * ch * sizeof(float));
  const float **in = malloc(pixels * taps * sizeof *in);
  float *dy = malloc(pixels * ch * sizeof(float)), *acc = malloc(taps * ch * sizeof(float));
  double *want = malloc(taps * ch * sizeof(double));
  memset(rows, 0, ch * sizeof(float));
  for (size_t i = ch; i < nrows * ch; i++) rows[i] = frand();
  for (size_t i = 0; i < pixels * taps; i++)
    in[i] = rows + (urand() % 4 == 0 ? 0 : urand() % nrows) * ch;
  for (size_t i = 0; i < pixels * ch; i++) dy[i] = frand();
  for (size_t i = 0; i < taps * ch; i++) want[i] = acc[i] = frand();
  for (size_t x = 0; x < pixels; x++)
    for (size_t t = 0; t < taps; t++)
      for (size_t c = 0; c < ch; c++)
        want[t * ch + c] += (double)dy[x * ch + c] * in[x * taps + t][c];
  cfg->filter(ch, pixels, taps, in, dy, acc);
  for (size_t i = 0; i < taps * ch; i++)
    if (!close_enough(acc[i], want[i], pixels)) {
      fprintf(stderr, "FAIL %s filter ch=%zu pixels=%zu taps=%zu: acc[%zu]=%g want %g\n",
              cfg->name, ch, pixels, taps, i, acc[i], want[i]);
      failures++;
      break;
    }
  free(rows), free(in), free(dy), free(acc), free(want);
}

/* Input gradient: rows[0] is the discard row; windows overlap (targets repeat). */
static void check_input(const dwconv_grad_config *cfg, size_t ch, size_t pixels, size_t taps) {
  const size_t nrows = 1 + taps + 2;
  float *rows = malloc(nrows * ch * sizeof(float));
  double *want = malloc(nrows * ch * sizeof(double));
  float **out = malloc(pixels * taps * sizeof *out);
  size_t *target = malloc(pixels * taps * sizeof *target);
  float *dy = malloc(pixels * ch * sizeof(float)), *w = malloc(taps * ch * sizeof(float));
  for (size_t i = 0; i < nrows * ch; i++) want[i] = rows[i] = frand();
  for (size_t i = 0; i < pixels * taps; i++) {
    target[i] = urand() % 5 == 0 ? 0 : urand() % nrows;
    out[i] = rows + target[i] * ch;
  }
  for (size_t i = 0; i < pixels * ch; i++) dy[i] = frand();
  for (size_t i = 0; i < taps * ch; i++) w[i] = frand();
  for (size_t x = 0; x < pixels; x++)
    for (size_t t = 0; t < taps; t++)
      for (size_t c = 0; c < ch; c++)
        want[target[x * taps + t] * ch + c] += (double)dy[x * ch + c] * w[t * ch + c];
  cfg->input(ch, pixels, taps, out, dy, w);
  /* The discard row (0) may hold anything; every real row must be exact. */
  for (size_t i = ch; i < nrows * ch; i++)
    if (!close_enough(rows[i], want[i], pixels * taps)) {
      fprintf(stderr, "FAIL %s input ch=%zu pixels=%zu taps=%zu: row %zu ch %zu = %g want %g\n",
              cfg->name, ch, pixels, taps, i / ch, i % ch, rows[i], want[i]);
      failures++;
      break;
    }
  free(rows), free(want), free(out), free(target), free(dy), free(w);
}

/* C[m, n] += A^T B through the driver, A [k, m] with row stride lda >= m, B [k, n]. */
static void check_tn(const gemm_tn_config *cfg, size_t m, size_t n, size_t k) {
  const size_t lda = m + 3, ldb = n + 1, ldc = n + 2;
  /* Exact extents: the last row of A holds only m values, of B only n. */
  const size_t a_len = k ? (k - 1) * lda + m : 1, b_len = k ? (k - 1) * ldb + n : 1;
  float *a = malloc(a_len * sizeof(float)), *b = malloc(b_len * sizeof(float));
  float *c = malloc(m * ldc * sizeof(float));
  double *want = malloc(m * ldc * sizeof(double));
  for (size_t i = 0; i < a_len; i++) a[i] = frand();
  for (size_t i = 0; i < b_len; i++) b[i] = frand();
  for (size_t i = 0; i < m * ldc; i++) want[i] = c[i] = frand();
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++)
      for (size_t p = 0; p < k; p++) want[i * ldc + j] += (double)a[p * lda + i] * b[p * ldb + j];
  gemm_tn_accumulate(cfg, m, n, k, a, lda, b, ldb, c, ldc);
  for (size_t i = 0; i < m * ldc; i++)
    if (!close_enough(c[i], want[i], k)) {
      fprintf(stderr, "FAIL %s m=%zu n=%zu k=%zu: c[%zu,%zu]=%g want %g\n", cfg->name, m, n, k,
              i / ldc, i % ldc, c[i], want[i]);
      failures++;
      break;
    }
  free(a), free(b), free(c), free(want);
}

int main(void) {
  static const size_t chs[] = {1, 3, 4, 5, 8, 15, 16, 17, 33, 64};
  static const size_t pixs[] = {1, 2, 7, 30};
  static const size_t tapss[] = {9, 1, 4, 25};
  static const size_t dims[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 40};
  static const size_t ks[] = {0, 1, 2, 5, 64, 300};
  int tested = 0;
  for (int isa = 0; isa < TOD_ISA_COUNT; isa++) {
    const dwconv_grad_config *dw = dwconv_grad_config_for_isa(isa);
    const gemm_tn_config *tn = gemm_tn_config_for_isa(isa);
    if (!dw && !tn) {
      printf("skip %s: not supported by this CPU\n", tod_isa_name(isa));
      continue;
    }
    if (dw) {
      tested++;
      for (size_t ci = 0; ci < sizeof chs / sizeof *chs; ci++)
        for (size_t pi = 0; pi < sizeof pixs / sizeof *pixs; pi++)
          for (size_t ti = 0; ti < sizeof tapss / sizeof *tapss; ti++) {
            check_filter(dw, chs[ci], pixs[pi], tapss[ti]);
            check_input(dw, chs[ci], pixs[pi], tapss[ti]);
          }
      printf("%s: done\n", dw->name);
    }
    if (tn) {
      tested++;
      for (size_t mi = 0; mi < sizeof dims / sizeof *dims; mi++)
        for (size_t ni = 0; ni < sizeof dims / sizeof *dims; ni++)
          for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++)
            check_tn(tn, dims[mi], dims[ni], ks[ki]);
      printf("%s: done\n", tn->name);
    }
  }
#if defined(__aarch64__)
  /* Advanced SIMD is architectural on AArch64: the NEON kernels must have run. */
  if (tod_cpu_isa_max() != TOD_ISA_NEON) {
    fprintf(stderr, "FAIL aarch64 without NEON level\n");
    failures++;
  }
#endif
  if (!tested) failures++;
  if (failures) {
    printf("%d failures\n", failures);
    return 1;
  }
  printf("ok\n");
  return 0;
}
