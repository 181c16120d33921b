/* Every GEMM micro-kernel the CPU supports, held against a double-precision reference through
 * the driver (packing, K blocking, row/column remainders, clamps, accumulate) and on a real
 * thread pool; and the thread pool's chunking. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cpu_features.h"
#include "runtime/kernels/gemm/gemm.h"
#include "runtime/threadpool.h"

static int failures;

static unsigned rng_state = 12345;
static float frand(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return (float)((rng_state >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

static void ref_gemm(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
                     size_t ldb, int b_trans, const float *bias, float lo, float hi, float *c,
                     size_t ldc) {
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) {
      double s = bias ? bias[j] : 0.0;
      for (size_t kk = 0; kk < k; kk++)
        s += (double)a[i * lda + kk] * (b_trans ? b[j * ldb + kk] : b[kk * ldb + j]);
      if (s < lo) s = lo;
      if (s > hi) s = hi;
      c[i * ldc + j] = (float)s;
    }
}

static int check_case(const gemm_config *cfg, tod_threadpool *tp, size_t m, size_t n, size_t k,
                      int b_trans, int with_bias, float lo, float hi) {
  const size_t lda = k + 3, ldb = (b_trans ? k : n) + 1, ldc = n + 2;
  float *a = malloc((m * lda + 1) * sizeof(float));
  float *b = malloc(((b_trans ? n : k) * ldb + 1) * sizeof(float));
  float *bias = malloc((n + 1) * sizeof(float));
  float *c = malloc((m * ldc + 1) * sizeof(float));
  float *r = malloc((m * ldc + 1) * sizeof(float));
  float *packed = malloc((gemm_packed_size(cfg, k, n) + 1) * sizeof(float));
  for (size_t i = 0; i < m * lda; i++) a[i] = frand();
  for (size_t i = 0; i < (b_trans ? n : k) * ldb; i++) b[i] = frand();
  for (size_t i = 0; i < n; i++) bias[i] = frand();
  for (size_t i = 0; i < m * ldc; i++) c[i] = r[i] = 777.0f; /* sentinels in the row gaps */
  gemm_pack_b(cfg, k, n, b, ldb, b_trans, with_bias ? bias : NULL, packed);
  ref_gemm(m, n, k, a, lda, b, ldb, b_trans, with_bias ? bias : NULL, lo, hi, r, ldc);
  const gemm_minmax mm = {lo, hi};
  if (tp)
    gemm_parallel(tp, cfg, m, n, k, a, lda, packed, c, ldc, &mm);
  else
    gemm_compute(cfg, m, 0, n, n, k, a, lda, packed, c, ldc, &mm);
  int bad = 0;
  for (size_t i = 0; i < m && !bad; i++)
    for (size_t j = 0; j < ldc && !bad; j++) {
      const float got = c[i * ldc + j], want = r[i * ldc + j];
      const float tol = 1e-5f * (float)(k + 1) + 1e-5f * fabsf(want);
      if (!(fabsf(got - want) <= tol)) {
        fprintf(stderr, "FAIL %s m=%zu n=%zu k=%zu trans=%d bias=%d clamp=[%g,%g] tp=%d: c[%zu,%zu]=%g want %g\n",
                cfg->name, m, n, k, b_trans, with_bias, lo, hi, tp != NULL, i, j, got, want);
        bad = 1;
      }
    }
  free(a);
  free(b);
  free(bias);
  free(c);
  free(r);
  free(packed);
  failures += bad;
  return bad;
}

/* The micro-kernel alone, with accumulate: C starts from C. */
static void check_accumulate(const gemm_config *cfg) {
  const size_t k = 5, mr = (size_t)cfg->mr, nr = (size_t)cfg->nr;
  for (size_t mm_ = 1; mm_ <= mr; mm_++)
    for (size_t nc = 1; nc <= nr; nc += (nc < 3 ? 1 : 5)) {
      float a[64 * 5], w[64 + 5 * 64], c[64 * 64], want[64 * 64];
      for (size_t i = 0; i < mr * k; i++) a[i] = frand();
      for (size_t i = 0; i < nr * (k + 1); i++) w[i] = frand();
      for (size_t i = 0; i < mr * nr; i++) c[i] = want[i] = frand();
      for (size_t i = 0; i < mm_; i++)
        for (size_t j = 0; j < nc; j++) {
          float s = c[i * nr + j];
          for (size_t kk = 0; kk < k; kk++) s += a[i * k + kk] * w[nr + kk * nr + j];
          want[i * nr + j] = s;
        }
      const gemm_minmax none = {-INFINITY, INFINITY};
      cfg->ukernel(mm_, nc, k, a, k, w, c, nr, &none, 1);
      for (size_t i = 0; i < mr * nr; i++)
        if (fabsf(c[i] - want[i]) > 1e-5f) {
          fprintf(stderr, "FAIL %s accumulate mr=%zu nc=%zu at %zu: %g want %g\n", cfg->name,
                  mm_, nc, i, c[i], want[i]);
          failures++;
          return;
        }
    }
}

/* The packed-A driver path through pa, with cfg's B packing, on columns [n0, n): K blocks,
 * column blocks past GEMM_NC_MAX, row and column remainders, clamps. Columns before n0 must
 * keep their sentinels. */
static void check_packed_a_case(const gemm_config *cfg, const gemm_packa_config *pa, size_t m,
                                size_t n, size_t n0, size_t k, float lo, float hi, int dispatch) {
  /* dispatch 1: through gemm_compute, 2: gemm_parallel on 2 threads (n0 must be 0), with
   * rows 4 KB apart (where they pack A) */
  const size_t lda = dispatch ? 1024 : k + 5, ldc = n + 3;
  float *a = malloc((m * lda + 1) * sizeof(float));
  float *b = malloc((k * n + 1) * sizeof(float));
  float *bias = malloc((n + 1) * sizeof(float));
  float *c = malloc((m * ldc + 1) * sizeof(float));
  float *r = malloc((m * ldc + 1) * sizeof(float));
  float *packed = malloc((gemm_packed_size(cfg, k, n) + 1) * sizeof(float));
  for (size_t i = 0; i < m * lda; i++) a[i] = frand();
  for (size_t i = 0; i < k * n; i++) b[i] = frand();
  for (size_t i = 0; i < n; i++) bias[i] = frand();
  for (size_t i = 0; i < m * ldc; i++) c[i] = r[i] = 777.0f;
  gemm_pack_b(cfg, k, n, b, n, 0, bias, packed);
  ref_gemm(m, n - n0, k, a, lda, b + n0, n, 0, bias + n0, lo, hi, r + n0, ldc);
  const gemm_minmax mm = {lo, hi};
  if (dispatch == 2) {
    tod_threadpool *tp = NULL;
    if (tod_threadpool_create(2, &tp) == TOD_OK) {
      gemm_parallel(tp, cfg, m, n, k, a, lda, packed, c, ldc, &mm);
      tod_threadpool_free(tp);
    } /* else c keeps its sentinels and the comparison fails */
  } else if (dispatch)
    gemm_compute(cfg, m, n0, n, n, k, a, lda, packed, c, ldc, &mm);
  else
    gemm_compute_packed_a(cfg, pa, m, n0, n, k, a, lda, packed, c, ldc, &mm);
  for (size_t i = 0, bad = 0; i < m && !bad; i++)
    for (size_t j = 0; j < ldc && !bad; j++) {
      const float got = c[i * ldc + j], want = r[i * ldc + j];
      const float tol = 1e-5f * (float)(k + 1) + 1e-5f * fabsf(want);
      if (!(fabsf(got - want) <= tol)) {
        fprintf(stderr, "FAIL %s m=%zu n=%zu n0=%zu k=%zu clamp=[%g,%g]: c[%zu,%zu]=%g want %g\n",
                pa->name, m, n, n0, k, lo, hi, i, j, got, want);
        bad = 1;
        failures++;
      }
    }
  free(a);
  free(b);
  free(bias);
  free(c);
  free(r);
  free(packed);
}

/* pa's panel packer against the portable gemm_pack_a, value for value: every row count, column
 * counts around its 16-column blocks, rows 4 KB apart and not. The buffer past the panel must
 * keep its sentinels. */
static void check_pack_a(const gemm_packa_config *pa) {
  const size_t mr = (size_t)pa->mr, kcs[] = {1, 7, 15, 16, 17, 33, 64, 255, 256};
  for (size_t ki = 0; ki < sizeof kcs / sizeof *kcs; ki++)
    for (size_t rows = 1; rows <= mr; rows++)
      for (int stride = 0; stride < 2; stride++) {
        const size_t kc = kcs[ki], lda = stride ? 1024 : kc + 3, total = mr * kc + 16;
        float *a = malloc(mr * lda * sizeof(float));
        float *got = malloc(total * sizeof(float)), *want = malloc(total * sizeof(float));
        for (size_t i = 0; i < mr * lda; i++) a[i] = frand();
        for (size_t i = 0; i < total; i++) got[i] = want[i] = 555.0f;
        gemm_pack_a(mr, rows, kc, a, lda, want);
        pa->pack(mr, rows, kc, a, lda, got);
        for (size_t i = 0; i < total; i++)
          if (got[i] != want[i]) {
            fprintf(stderr, "FAIL %s pack rows=%zu kc=%zu lda=%zu: [%zu] = %g want %g\n",
                    pa->name, rows, kc, lda, i, got[i], want[i]);
            failures++;
            break;
          }
        free(a);
        free(got);
        free(want);
      }
}

/* Every packed-A kernel the CPU supports, against the double reference through
 * gemm_compute_packed_a; returns how many were tested. */
static int check_packed_a_kernels(void) {
  int n_pa = 0, n_cfg = 0, tested = 0;
  const gemm_packa_config *pas = gemm_packa_config_list(&n_pa);
  const gemm_config *list = gemm_config_list(&n_cfg);
  for (int pi = 0; pi < n_pa; pi++) {
    const gemm_packa_config *pa = &pas[pi];
    if (pa->isa > tod_cpu_isa_max()) {
      printf("skip %s: not supported by this CPU\n", pa->name);
      continue;
    }
    const gemm_config *cfg = NULL;
    for (int ci = 0; ci < n_cfg && !cfg; ci++)
      if (list[ci].ukernel && list[ci].isa == pa->isa && list[ci].nr == pa->nr) cfg = &list[ci];
    if (!cfg) {
      fprintf(stderr, "FAIL %s: no in-place config shares its B packing\n", pa->name);
      failures++;
      continue;
    }
    check_pack_a(pa);
    const size_t mr = (size_t)pa->mr, nr = (size_t)pa->nr;
    const size_t ms[] = {1, mr - 1, mr, mr + 1, 2 * mr + 3, 50};
    const size_t ns[] = {1, 17, nr, nr + 5, 3 * nr + 7, 1024 + nr + 3};
    const size_t ks[] = {1, 5, 256, 257, 600};
    int cases = 0;
    for (size_t mi = 0; mi < 6; mi++)
      for (size_t ni = 0; ni < 6; ni++)
        for (size_t ki = 0; ki < 5; ki++) {
          const size_t m = ms[mi], n = ns[ni], k = ks[ki];
          if (m == 0 || m * n * k > 4000000) continue;
          const int v = (int)(mi + ni + ki);
          const float lo = v % 3 == 0 ? 0.0f : -INFINITY, hi = v % 3 == 1 ? 0.5f : INFINITY;
          check_packed_a_case(cfg, pa, m, n, 0, k, lo, hi, 0);
          if (n > nr) check_packed_a_case(cfg, pa, m, n, nr, k, lo, hi, 0);
          cases++;
        }
    check_packed_a_case(cfg, pa, 130, 1024 + nr + 3, nr, 257, -INFINITY, INFINITY, 1);
    check_packed_a_case(cfg, pa, 140, 200, 0, 600, 0.0f, INFINITY, 1);
    check_packed_a_case(cfg, pa, 300, 300, 0, 300, -INFINITY, 0.5f, 2);
    cases += 3;
    printf("%s: %d cases\n", pa->name, cases);
    tested++;
  }
  return tested;
}

/* cfg's segmented-K kernel (implicit-GEMM convolutions) against a double reference: K runs of
 * overlapping rows (a stride shorter than a run, as a stem convolution's pixels), every row
 * count, partial column panels, clamps. Outside the mr x nc tile C keeps its sentinels. */
static void check_seg(const gemm_config *cfg) {
  const size_t MR = (size_t)cfg->mr, NR = (size_t)cfg->nr, ldc = NR + 3;
  const size_t segs[] = {1, 3, 7}, kcs[] = {1, 5, 21, 64};
  int cases = 0;
  for (size_t si = 0; si < 3; si++)
    for (size_t ki = 0; ki < 4; ki++)
      for (size_t mr = 1; mr <= MR; mr++) {
        const size_t nseg = segs[si], kc = kcs[ki], nc = (mr % 3 == 0) ? NR : (mr % 3 == 1 ? 1 : NR - 5);
        const size_t a_stride = kc > 6 ? 6 : kc + 1, seg_stride = MR * a_stride + kc + 11;
        const size_t k = nseg * kc, na = nseg * seg_stride + MR * a_stride + kc;
        float *a = malloc(na * sizeof(float)), *b = malloc(k * NR * sizeof(float));
        float *bias = malloc(NR * sizeof(float)), *c = malloc((MR + 1) * ldc * sizeof(float));
        float *packed = malloc(gemm_packed_size(cfg, k, NR) * sizeof(float));
        for (size_t i = 0; i < na; i++) a[i] = frand();
        for (size_t i = 0; i < k * NR; i++) b[i] = frand();
        for (size_t i = 0; i < NR; i++) bias[i] = frand();
        for (size_t i = 0; i < (MR + 1) * ldc; i++) c[i] = 777.0f;
        gemm_pack_b(cfg, k, NR, b, NR, 0, bias, packed);
        const int v = (int)(si + ki + mr);
        const gemm_minmax mm = {v % 3 == 0 ? 0.0f : -INFINITY, v % 3 == 1 ? 0.5f : INFINITY};
        cfg->seg(mr, nc, nseg, kc, a, a_stride, seg_stride, packed, c, ldc, &mm);
        for (size_t i = 0, bad = 0; i <= MR && !bad; i++)
          for (size_t j = 0; j < ldc && !bad; j++) {
            float want = 777.0f;
            if (i < mr && j < nc) {
              double acc = bias[j];
              for (size_t sg = 0; sg < nseg; sg++)
                for (size_t kk = 0; kk < kc; kk++)
                  acc += (double)a[i * a_stride + sg * seg_stride + kk] * b[(sg * kc + kk) * NR + j];
              if (acc < mm.min) acc = mm.min;
              if (acc > mm.max) acc = mm.max;
              want = (float)acc;
            }
            const float got = c[i * ldc + j], tol = 1e-5f * (float)(k + 1) + 1e-5f * fabsf(want);
            if (!(fabsf(got - want) <= tol)) {
              fprintf(stderr, "FAIL %s seg mr=%zu nc=%zu nseg=%zu kc=%zu: c[%zu,%zu]=%g want %g\n",
                      cfg->name, mr, nc, nseg, kc, i, j, got, want);
              bad = 1;
              failures++;
            }
          }
        free(a);
        free(b);
        free(bias);
        free(c);
        free(packed);
        cases++;
      }
  printf("%s segmented: %d cases\n", cfg->name, cases);
}

static void count_fn(void *ctx, int begin, int end, int thread_id) {
  int *hits = ctx;
  (void)thread_id;
  for (int i = begin; i < end; i++) __atomic_fetch_add(&hits[i], 1, __ATOMIC_RELAXED);
}

static void check_threadpool(void) {
  for (int nt = 1; nt <= 4; nt++) {
    tod_threadpool *tp;
    if (tod_threadpool_create(nt, &tp) != TOD_OK) {
      fprintf(stderr, "FAIL threadpool_create(%d)\n", nt);
      failures++;
      continue;
    }
    if (tod_threadpool_size(tp) != nt) failures++;
    for (int rep = 0; rep < 300; rep++) {
      int n = rep % 37, hits[40] = {0};
      tod_parallel_for(tp, n, count_fn, hits);
      for (int i = 0; i < n; i++)
        if (hits[i] != 1) {
          fprintf(stderr, "FAIL threadpool nt=%d n=%d item %d ran %d times\n", nt, n, i, hits[i]);
          failures++;
          rep = 1000;
          break;
        }
    }
    tod_threadpool_free(tp);
  }
}

int main(void) {
  check_threadpool();
  tod_threadpool *tp = NULL;
  if (tod_threadpool_create(3, &tp) != TOD_OK) return 1;
  static const size_t ms[] = {1, 2, 3, 5, 7, 8, 9, 13, 17, 31, 64, 100, 130};
  /* 1100 columns: the one-row kernel over many panels (m = 1) */
  static const size_t ns[] = {1, 3, 8, 15, 16, 17, 31, 32, 33, 47, 64, 65, 100, 130, 1100};
  static const size_t ks[] = {0, 1, 2, 7, 16, 33, 255, 256, 257, 600};
  int tested = 0;
  int n_cfg = 0;
  const gemm_config *list = gemm_config_list(&n_cfg);
  for (int ci = 0; ci < n_cfg; ci++) {
    const gemm_config *cfg = &list[ci];
    if (!cfg->ukernel) continue;
    if (cfg->isa > tod_cpu_isa_max()) {
      printf("skip %s: not supported by this CPU\n", cfg->name);
      continue;
    }
    tested++;
    check_accumulate(cfg);
    if (cfg->seg) check_seg(cfg);
    const gemm_ukernel_fn row_kernel = gemm_row_ukernel_for(cfg);
    if (row_kernel) { /* the one-row kernel gemm_compute runs when m == 1 (cases below) */
      gemm_config row = *cfg;
      row.mr = 1;
      row.ukernel = row_kernel;
      check_accumulate(&row);
    }
    int cases = 0;
    for (size_t mi = 0; mi < sizeof ms / sizeof *ms; mi++)
      for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
        for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++) {
          const size_t m = ms[mi], n = ns[ni], k = ks[ki];
          if (m * n * k > 2000000) continue;
          const int v = (int)(mi + ni + ki);
          const float lo = v % 3 == 0 ? 0.0f : -INFINITY, hi = v % 3 == 1 ? 0.5f : INFINITY;
          check_case(cfg, (v & 1) ? tp : NULL, m, n, k, v % 2, v % 4 != 3, lo, hi);
          cases++;
        }
    printf("%s: %d cases\n", cfg->name, cases);
  }
  tod_threadpool_free(tp);
  if (tested == 0 || check_packed_a_kernels() == 0) failures++;
  if (failures) {
    printf("%d failures\n", failures);
    return 1;
  }
  printf("ok\n");
  return 0;
}
