/* GEMM driver: B packing, cache blocking and the parallel split. See gemm.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/kernels/gemm/gemm.h"

size_t gemm_packed_size(const gemm_config *cfg, size_t k, size_t n) {
  const size_t nr = (size_t)cfg->nr, panels = (n + nr - 1) / nr;
  return panels * (nr + k * nr);
}

float *gemm_alloc_packed(size_t floats) {
  if (floats > (SIZE_MAX - 64) / sizeof(float)) return NULL;
  const size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
  return aligned_alloc(64, bytes ? bytes : 64);
}

void gemm_pack_b(const gemm_config *cfg, size_t k, size_t n, const float *b, size_t ldb,
                 int b_trans, const float *bias, float *dst) {
  const size_t nr = (size_t)cfg->nr;
  for (size_t col0 = 0; col0 < n; col0 += nr) {
    const size_t nc = n - col0 < nr ? n - col0 : nr;
    for (size_t j = 0; j < nr; j++) dst[j] = (j < nc && bias) ? bias[col0 + j] : 0.0f;
    dst += nr;
    if (b_trans) {
      /* b is [n, k]: column col of B is row col of b; the zero tail is written row by row. */
      memset(dst, 0, k * nr * sizeof *dst);
      for (size_t j = 0; j < nc; j++) {
        const float *src = b + (col0 + j) * ldb;
        for (size_t kk = 0; kk < k; kk++) dst[kk * nr + j] = src[kk];
      }
    } else {
      for (size_t kk = 0; kk < k; kk++) {
        memcpy(dst + kk * nr, b + kk * ldb + col0, nc * sizeof *dst);
        for (size_t j = nc; j < nr; j++) dst[kk * nr + j] = 0.0f;
      }
    }
    dst += k * nr;
  }
}

/* K block: one panel's block (KC x NR floats, 32 KB for NR=32) stays in L1 while MR-row
 * tiles of A stream past it; blocks are balanced so no tiny tail block is left over. */
#define GEMM_KC_MAX 256

/* Packed-A path. Per K block and per block of columns whose packed B (KC x GEMM_NC floats,
 * 1 MB) stays in L2: each MR-row panel of A is packed once into a small stack buffer that
 * stays in L1, then runs against every column panel of the block. */
#define GEMM_NC_MAX 1024
#define GEMM_PACKA_MR_MAX 16

void gemm_pack_a(size_t mr, size_t rows, size_t kc, const float *a, size_t lda, float *dst) {
  const float *src[GEMM_PACKA_MR_MAX];
  if (mr > GEMM_PACKA_MR_MAX) return; /* no kernel that wide in the table */
  for (size_t i = 0; i < mr; i++) src[i] = a + (i < rows ? i : rows - 1) * lda;
  /* k outer: the panel is written in order, the mr rows are read as parallel streams. */
  for (size_t kk = 0; kk < kc; kk++, dst += mr)
    for (size_t i = 0; i < mr; i++) dst[i] = src[i][kk];
}

void gemm_compute_packed_a(const gemm_config *cfg, const gemm_packa_config *pa, size_t m,
                           size_t n0, size_t n1, size_t k, const float *a, size_t lda,
                           const float *packed, float *c, size_t ldc, const gemm_minmax *p) {
  const size_t mr = (size_t)pa->mr, nr = (size_t)cfg->nr, panel = nr + k * nr;
  const gemm_minmax none = {-__builtin_inff(), __builtin_inff()};
  float apanel[GEMM_PACKA_MR_MAX * GEMM_KC_MAX] __attribute__((aligned(64)));
  if (mr > GEMM_PACKA_MR_MAX || pa->nr != cfg->nr) return; /* no such config in the table */
  const size_t kblocks = k > GEMM_KC_MAX ? (k + GEMM_KC_MAX - 1) / GEMM_KC_MAX : 1;
  const size_t kc_step = (k + kblocks - 1) / kblocks;
  for (size_t kb = 0; kb < k || kb == 0; kb += kc_step) {
    const size_t kc = k - kb < kc_step ? k - kb : kc_step;
    const int first = kb == 0, last = kb + kc >= k;
    for (size_t nb = n0; nb < n1; nb += GEMM_NC_MAX) {
      const size_t nb1 = n1 - nb < GEMM_NC_MAX ? n1 : nb + GEMM_NC_MAX;
      for (size_t i = 0; i < m; i += mr) {
        const size_t rows = m - i < mr ? m - i : mr;
        pa->pack(mr, rows, kc, a + i * lda + kb, lda, apanel);
        for (size_t col = nb; col < nb1; col += nr) {
          const float *w = packed + (col / nr) * panel + kb * nr;
          const size_t nc = nb1 - col < nr ? nb1 - col : nr;
          pa->ukernel(rows, nc, kc, apanel, w, c + i * ldc + col, ldc, last ? p : &none, !first);
        }
      }
    }
    if (k == 0) break;
  }
}

/* When A's rows are a multiple of 4 KB apart, the MR rows the in-place kernel reads map to
 * one L1 set and evict each other and the B panel (1024^3: the 8x32 kernel at 66% of the FMA
 * peak). Packed A is one contiguous stream. Elsewhere the in-place order measured as fast or
 * faster on every mobilenet_v2 / resnet18 shape (each B panel stays in L1 across all row tiles,
 * where the packed order streams the B block from L2 per panel of A; packing costs a copy of
 * A per column block), so packing is kept to the aliasing case, and to products large enough
 * to amortise it. */
#define GEMM_PACKA_MIN 128

static int packed_a_pays(const gemm_config *cfg, size_t m, size_t ncols, size_t k, size_t lda) {
  (void)cfg;
  return lda % 1024 == 0 && m >= GEMM_PACKA_MIN && ncols >= GEMM_PACKA_MIN && k >= GEMM_PACKA_MIN;
}

void gemm_compute(const gemm_config *cfg, size_t m, size_t n0, size_t n1, size_t n, size_t k,
                  const float *a, size_t lda, const float *packed, float *c, size_t ldc,
                  const gemm_minmax *p) {
  const size_t mr = (size_t)cfg->mr, nr = (size_t)cfg->nr, panel = nr + k * nr;
  const gemm_minmax none = {-__builtin_inff(), __builtin_inff()};
  (void)n;
  const gemm_packa_config *pa = gemm_packa_for(cfg);
  if (pa && packed_a_pays(cfg, m, n1 - n0, k, lda)) {
    gemm_compute_packed_a(cfg, pa, m, n0, n1, k, a, lda, packed, c, ldc, p);
    return;
  }
  const gemm_ukernel_fn row_kernel = m % mr == 1 ? gemm_row_ukernel_for(cfg) : NULL;
  if (m == 1 && row_kernel) {
    /* One row: nothing to keep in cache but the row itself, so no K blocking; each panel of B
     * streams once, start to end. */
    for (size_t col = n0; col < n1; col += nr)
      row_kernel(1, n1 - col < nr ? n1 - col : nr, k, a, lda, packed + (col / nr) * panel,
                 c + col, ldc, p, 0);
    return;
  }
  const size_t kblocks = k > GEMM_KC_MAX ? (k + GEMM_KC_MAX - 1) / GEMM_KC_MAX : 1;
  const size_t kc_step = (k + kblocks - 1) / kblocks;
  for (size_t kb = 0; kb < k || kb == 0; kb += kc_step) {
    const size_t kc = k - kb < kc_step ? k - kb : kc_step;
    const int first = kb == 0, last = kb + kc >= k;
    for (size_t col = n0; col < n1; col += nr) {
      /* For later blocks w starts one packed row early: the kernel skips that "bias" row. */
      const float *w = packed + (col / nr) * panel + kb * nr;
      const size_t nc = n1 - col < nr ? n1 - col : nr;
      for (size_t i = 0; i < m; i += mr) {
        const size_t rows = m - i < mr ? m - i : mr;
        /* A last tile of one row (49 pixels of a 7x7 layer: 1 in 7 tiles) takes the one-row
         * kernel rather than computing MR copies of it. */
        const gemm_ukernel_fn uk = rows == 1 && row_kernel ? row_kernel : cfg->ukernel;
        uk(rows, nc, kc, a + i * lda + kb, lda, w, c + i * ldc + col, ldc, last ? p : &none,
           !first);
      }
    }
    if (k == 0) break;
  }
}

size_t gemm_block_rows(const gemm_config *cfg, size_t k) {
  const size_t mr = (size_t)cfg->mr;
  const size_t kc = k < GEMM_KC_MAX ? (k ? k : 1) : GEMM_KC_MAX;
  const size_t budget = 256 * 1024 / sizeof(float); /* floats of an A block, within L2 */
  size_t rows = budget / kc;
  if (rows > 32 * mr) rows = 32 * mr;
  rows = rows / mr * mr;
  return rows ? rows : mr;
}

typedef struct {
  const gemm_config *cfg;
  size_t m, n, k, lda, ldc, mb, n_splits, panels;
  const float *a, *packed;
  float *c;
  const gemm_minmax *p;
} gemm_task;

static void gemm_task_fn(void *ctx, int begin, int end, int thread_id) {
  const gemm_task *t = ctx;
  const size_t nr = (size_t)t->cfg->nr;
  (void)thread_id;
  for (int task = begin; task < end; task++) {
    const size_t mi = (size_t)task / t->n_splits, ns = (size_t)task % t->n_splits;
    const size_t row = mi * t->mb, rows = t->m - row < t->mb ? t->m - row : t->mb;
    const size_t p0 = ns * t->panels / t->n_splits, p1 = (ns + 1) * t->panels / t->n_splits;
    const size_t n1 = p1 * nr < t->n ? p1 * nr : t->n;
    if (p0 * nr >= n1) continue;
    gemm_compute(t->cfg, rows, p0 * nr, n1, t->n, t->k, t->a + row * t->lda, t->lda, t->packed,
                 t->c + row * t->ldc, t->ldc, t->p);
  }
}

void gemm_parallel(tod_threadpool *tp, const gemm_config *cfg, size_t m, size_t n, size_t k,
                   const float *a, size_t lda, const float *packed, float *c, size_t ldc,
                   const gemm_minmax *p) {
  if (m == 0 || n == 0) return;
  const size_t threads = (size_t)tod_threadpool_size(tp);
  const gemm_packa_config *pa = gemm_packa_for(cfg);
  const int packs_a = pa && packed_a_pays(cfg, m, n, k, lda);
  const size_t mr = packs_a ? (size_t)pa->mr : (size_t)cfg->mr;
  size_t mb = gemm_block_rows(cfg, k);
  /* Enough blocks to keep every thread busy; small m falls back on splitting columns. */
  const size_t per_thread = ((m + threads - 1) / threads + mr - 1) / mr * mr;
  /* Packed A keeps no block of A in cache, so a thread takes all its rows at once: each K
   * block of B is then fetched into L2 once per thread, not once per row block. */
  if (packs_a || (threads > 1 && mb > per_thread)) mb = per_thread;
  const size_t m_blocks = (m + mb - 1) / mb;
  const size_t panels = (n + (size_t)cfg->nr - 1) / (size_t)cfg->nr;
  size_t n_splits = 1;
  if (threads > 1 && m_blocks < 2 * threads) {
    n_splits = (2 * threads + m_blocks - 1) / m_blocks;
    if (n_splits > panels) n_splits = panels;
  }
  gemm_task t = {cfg, m, n, k, lda, ldc, mb, n_splits, panels, a, packed, c, p};
  const size_t tasks = m_blocks * n_splits;
  tod_parallel_for(threads > 1 ? tp : NULL, (int)tasks, gemm_task_fn, &t);
}

size_t gemm_scratch_slots(void) {
  long c = sysconf(_SC_NPROCESSORS_ONLN);
  if (c < 1) c = 1;
  if (c > 64) c = 64;
  return (size_t)c;
}

typedef struct {
  gemm_slot_fn fn;
  void *ctx;
  size_t used, ntasks;
} slot_run;

static void slot_task_fn(void *ctx, int begin, int end, int thread_id) {
  const slot_run *r = ctx;
  (void)thread_id;
  for (int s = begin; s < end; s++) {
    const size_t b = (size_t)s * r->ntasks / r->used, e = ((size_t)s + 1) * r->ntasks / r->used;
    if (b < e) r->fn(r->ctx, (size_t)s, b, e);
  }
}

void gemm_run_slots(tod_threadpool *tp, size_t slots, size_t ntasks, gemm_slot_fn fn, void *ctx) {
  if (ntasks == 0) return;
  size_t used = (size_t)tod_threadpool_size(tp);
  if (used > slots) used = slots;
  if (used > ntasks) used = ntasks;
  if (used <= 1) {
    fn(ctx, 0, 0, ntasks);
    return;
  }
  slot_run r = {fn, ctx, used, ntasks};
  tod_parallel_for(tp, (int)used, slot_task_fn, &r);
}
