/* Every pixconv micro-kernel the CPU supports (forward and filter gradient; scalar, AVX2,
 * AVX-512), held against double-precision loops written here from the contracts in
 * conv2d/pixconv.h: widths around the vector lengths (tails of 1..15 lanes, one and two
 * vectors, several passes), every output-channel count of the forward kernels, kernel sizes
 * 1..7, several input channels, row steps (vertical strides), clamps. Inputs are allocated to
 * the exact extent the contract allows the kernel to read, so an over-read shows under ASan. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cpu_features.h"
#include "runtime/kernels/conv2d/pixconv.h"

static int failures, checks;
static unsigned rng_state = 9001;
static unsigned urand(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return rng_state >> 8;
}
static float frand(void) { return (float)(urand() & 0xFFFF) / 32768.0f - 1.0f; }

static int close_enough(float got, double want, size_t terms) {
  const double tol = 1e-6 * (double)(terms + 1) + 1e-5 * fabs(want);
  return fabs((double)got - want) <= tol;
}

static void check_forward(const pixconv_config *cfg, size_t width, size_t cin, size_t kh,
                          size_t kw, size_t cout, int clamp) {
  const size_t rstride = width + kw - 1 + urand() % 3, cstride = kh * rstride + urand() % 5;
  const size_t extent = (cin - 1) * cstride + (kh - 1) * rstride + width + kw - 1;
  const size_t kg = kh * kw * cin;
  float *in = malloc(extent * sizeof(float)), *w = malloc(kg * cout * sizeof(float));
  float *bias = malloc(cout * sizeof(float)), *out = malloc(width * cout * sizeof(float));
  for (size_t i = 0; i < extent; i++) in[i] = frand();
  for (size_t i = 0; i < kg * cout; i++) w[i] = frand();
  for (size_t i = 0; i < cout; i++) bias[i] = frand();
  const gemm_minmax p = clamp ? (gemm_minmax){-0.5f, 0.75f} : (gemm_minmax){-INFINITY, INFINITY};
  cfg->ukernel(width, cin, kh, kw, cout, in, rstride, cstride, w, bias, out, &p);
  checks++;
  for (size_t x = 0; x < width; x++)
    for (size_t o = 0; o < cout; o++) {
      double want = bias[o];
      for (size_t ky = 0; ky < kh; ky++)
        for (size_t kx = 0; kx < kw; kx++)
          for (size_t c = 0; c < cin; c++)
            want += (double)in[c * cstride + ky * rstride + x + kx] *
                    w[((ky * kw + kx) * cin + c) * cout + o];
      want = want < p.min ? p.min : want > p.max ? p.max : want;
      if (!close_enough(out[x * cout + o], want, kg)) {
        fprintf(stderr, "FAIL %s width=%zu cin=%zu k=%zux%zu cout=%zu: out[%zu][%zu]=%g want %g\n",
                cfg->name, width, cin, kh, kw, cout, x, o, out[x * cout + o], want);
        failures++;
        goto done;
      }
    }
done:
  free(in), free(w), free(bias), free(out);
}

static void check_filter(const pixconv_filter_config *cfg, size_t rows, size_t width, size_t cin,
                         size_t kh, size_t kw, size_t cout, size_t sh) {
  const size_t rstride = width + kw - 1 + urand() % 3, cstride = (sh * (rows - 1) + kh) * rstride + urand() % 5;
  const size_t in_step = sh * rstride;
  const size_t extent = (rows - 1) * in_step + (cin - 1) * cstride + (kh - 1) * rstride + width + kw - 1;
  const size_t ostride = width + urand() % 4, dy_step = cout * ostride + urand() % 3;
  const size_t dy_extent = (rows - 1) * dy_step + (cout - 1) * ostride + width;
  const size_t kg = kh * kw * cin;
  float *in = malloc(extent * sizeof(float)), *dy = malloc(dy_extent * sizeof(float));
  float *acc = malloc(kg * cout * sizeof(float));
  double *want = malloc(kg * cout * sizeof(double));
  for (size_t i = 0; i < extent; i++) in[i] = frand();
  for (size_t i = 0; i < dy_extent; i++) dy[i] = frand();
  for (size_t i = 0; i < kg * cout; i++) want[i] = acc[i] = frand();
  for (size_t ky = 0; ky < kh; ky++)
    for (size_t kx = 0; kx < kw; kx++)
      for (size_t c = 0; c < cin; c++)
        for (size_t o = 0; o < cout; o++)
          for (size_t r = 0; r < rows; r++)
            for (size_t x = 0; x < width; x++)
              want[((ky * kw + kx) * cin + c) * cout + o] +=
                  (double)in[r * in_step + c * cstride + ky * rstride + x + kx] *
                  dy[r * dy_step + o * ostride + x];
  cfg->filter(rows, width, cin, kh, kw, cout, in, in_step, rstride, cstride, dy, dy_step, ostride,
              acc);
  checks++;
  for (size_t i = 0; i < kg * cout; i++)
    if (!close_enough(acc[i], want[i], rows * width)) {
      fprintf(stderr,
              "FAIL %s rows=%zu width=%zu cin=%zu k=%zux%zu cout=%zu sh=%zu: acc[%zu]=%g want %g\n",
              cfg->name, rows, width, cin, kh, kw, cout, sh, i, acc[i], want[i]);
      failures++;
      break;
    }
  free(in), free(dy), free(acc), free(want);
}

int main(void) {
  static const size_t widths[] = {1, 3, 7, 8, 9, 14, 15, 16, 17, 24, 28, 31, 32, 33, 47, 64, 70};
  static const size_t ks[][2] = {{5, 5}, {3, 3}, {1, 3}, {2, 1}, {7, 7}, {4, 6}};
  int tested = 0;
  for (int isa = 0; isa < TOD_ISA_COUNT; isa++) {
    const pixconv_config *f = pixconv_config_for_isa(isa);
    const pixconv_filter_config *g = pixconv_filter_config_for_isa(isa);
    if (!f && !g) {
      printf("skip %s: no pixconv kernel for this CPU\n", tod_isa_name(isa));
      continue;
    }
    tested++;
    for (size_t wi = 0; wi < sizeof widths / sizeof *widths; wi++)
      for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++) {
        const size_t width = widths[wi], kh = ks[ki][0], kw = ks[ki][1];
        for (size_t cout = 1; f && cout <= PIXCONV_MAX_COUT; cout++)
          check_forward(f, width, 1 + (cout + wi) % 3, kh, kw, cout, (int)(cout % 2));
        for (size_t cout = 1; g && cout <= 11; cout += 1 + (ki % 2))
          check_filter(g, 1 + (wi + cout) % 4, width, 1 + (cout + ki) % 3, kh, kw, cout,
                       1 + (wi % 2));
      }
    /* LeNet-5's first convolution (1 -> 6, 5x5, 28 output columns) over a whole image. */
    if (f) check_forward(f, 28, 1, 5, 5, 6, 0);
    if (g) check_filter(g, 28, 28, 1, 5, 5, 6, 1);
    printf("%s: done\n", tod_isa_name(isa));
  }
  if (!tested) failures++;
  printf("%d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
