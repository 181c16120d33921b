/* Every non-overlapping max-pool gradient row kernel the CPU supports (scalar, AVX2,
 * AVX-512), held against loops written here from the contract in grad/maxpool_grad.h: channel
 * counts around the vector lengths, window shapes with and without gaps between windows,
 * ties (the first maximum wins), NaNs (the first NaN wins), and elements outside the windows
 * left untouched. Exact comparison: each output is dy or 0. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cpu_features.h"
#include "runtime/kernels/grad/maxpool_grad.h"

static int failures, checks;
static unsigned rng_state = 31337;
static unsigned urand(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return rng_state >> 8;
}

static void check(const maxpool_grad_config *cfg, size_t ch, size_t ow, size_t kh, size_t kw,
                  size_t sw, int specials) {
  const size_t row = (ow * sw + 1) * ch, extent = (kh - 1) * row + ((ow - 1) * sw + kw) * ch;
  float *x = malloc(extent * sizeof(float)), *dx = malloc(extent * sizeof(float));
  float *want = malloc(extent * sizeof(float)), *dy = malloc(ow * ch * sizeof(float));
  for (size_t i = 0; i < extent; i++) {
    /* few distinct values: many ties */
    x[i] = specials ? (float)(urand() % 4) : (float)(urand() & 0xFFFF) / 1000.0f - 30.0f;
    if (specials && urand() % 17 == 0) x[i] = NAN;
    if (specials && urand() % 29 == 0) x[i] = -INFINITY;
    want[i] = dx[i] = -777.0f; /* outside the windows: must stay */
  }
  for (size_t i = 0; i < ow * ch; i++) dy[i] = (float)(urand() % 1000) + 1.0f;
  for (size_t ox = 0; ox < ow; ox++)
    for (size_t c = 0; c < ch; c++) {
      size_t arg = (size_t)-1;
      float best = 0.0f;
      for (size_t ky = 0; ky < kh; ky++)
        for (size_t kx = 0; kx < kw; kx++) {
          const size_t at = ky * row + (ox * sw + kx) * ch + c;
          want[at] = 0.0f;
          const float v = x[at];
          if (arg == (size_t)-1 || (isnan(v) && !isnan(best)) || (!isnan(best) && v > best))
            arg = at, best = v;
        }
      want[arg] = dy[ox * ch + c];
    }
  cfg->row(ch, ow, kh, kw, sw, x, row, dy, dx);
  checks++;
  for (size_t i = 0; i < extent; i++)
    if (memcmp(&dx[i], &want[i], sizeof(float)) != 0) {
      fprintf(stderr, "FAIL %s ch=%zu ow=%zu k=%zux%zu sw=%zu: dx[%zu]=%g want %g\n", cfg->name,
              ch, ow, kh, kw, sw, i, dx[i], want[i]);
      failures++;
      break;
    }
  free(x), free(dx), free(want), free(dy);
}

int main(void) {
  static const size_t chans[] = {1, 3, 6, 8, 9, 15, 16, 17, 33, 64};
  static const size_t win[][3] = {{2, 2, 2}, {3, 3, 3}, {2, 2, 3}, {1, 3, 4}, {2, 1, 1}};
  int tested = 0;
  for (int isa = 0; isa < TOD_ISA_COUNT; isa++) {
    const maxpool_grad_config *cfg = maxpool_grad_config_for_isa(isa);
    if (!cfg) {
      printf("skip %s: no kernel for this CPU\n", tod_isa_name(isa));
      continue;
    }
    tested++;
    for (size_t ci = 0; ci < sizeof chans / sizeof *chans; ci++)
      for (size_t wi = 0; wi < sizeof win / sizeof *win; wi++)
        for (int sp = 0; sp < 2; sp++)
          check(cfg, chans[ci], 1 + (ci + wi) % 14, win[wi][0], win[wi][1], win[wi][2], sp);
    check(cfg, 6, 14, 2, 2, 2, 0); /* LeNet-5's first pool */
    printf("%s: done\n", tod_isa_name(isa));
  }
  if (!tested) failures++;
  printf("%d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
