/* Single-precision GEMM: micro-kernels, their config table, and the driver.
 *
 * C[m,n] = clamp(A[m,k] · B[k,n] + bias[n], min, max), all row-major. B (usually weights) is
 * packed once into panels of NR columns: for each panel, NR bias values then k rows of NR
 * values (columns past n zero-filled), so a micro-kernel streams one panel contiguously. A is
 * read in place with a row stride, as XNNPACK's GEMMs do, so im2col tiles and NHWC activations
 * feed the kernel without another copy. */
#ifndef TOD_KERNELS_GEMM_H
#define TOD_KERNELS_GEMM_H

#include <stddef.h>

#include "runtime/threadpool.h"

typedef struct {
  float min, max; /* fused activation as a clamp: RELU [0,inf), RELU6 [0,6], none (-inf,inf) */
} gemm_minmax;

/* Computes an mr x nc tile (mr <= MR, nc <= NR) of C over kc: a points at the tile's first row
 * (row stride a_stride floats), w at NR initial values (the bias) followed by kc rows of NR
 * packed B values, c at the tile's first element (row stride c_stride floats). With accumulate
 * the tile starts from C instead of w's first NR values (later blocks of a K-blocked product;
 * the driver then points w one packed row before the block). The result is clamped to p. */
typedef void (*gemm_ukernel_fn)(size_t mr, size_t nc, size_t kc, const float *a, size_t a_stride,
                                const float *w, float *c, size_t c_stride, const gemm_minmax *p,
                                int accumulate);

/* Segmented-K micro-kernel (implicit GEMM): K is nseg runs of kc values, run s of row i at
 * a + i * a_stride + s * seg_stride; w as for the in-place kernel (NR bias values, then
 * nseg * kc packed rows). Computes the mr x nc tile from the bias, clamped to p. */
typedef void (*gemm_seg_ukernel_fn)(size_t mr, size_t nc, size_t nseg, size_t kc,
                                    const float *a, size_t a_stride, size_t seg_stride,
                                    const float *w, float *c, size_t c_stride,
                                    const gemm_minmax *p);

typedef struct {
  const char *name;
  int isa; /* TOD_ISA_* */
  int mr, nr;
  gemm_ukernel_fn ukernel;
  gemm_seg_ukernel_fn seg; /* same MR, NR and B packing as ukernel, or NULL */
} gemm_config;

/* Micro-kernels, one per file (ref.c, avx2.c, avx512.c, avx512_8x16.c, neon.c,
 * neonfma_8x8.c). */
void gemm_ukernel_4x8__scalar(size_t mr, size_t nc, size_t kc, const float *a, size_t a_stride,
                              const float *w, float *c, size_t c_stride, const gemm_minmax *p,
                              int accumulate);
void gemm_ukernel_6x16__avx2_fma(size_t mr, size_t nc, size_t kc, const float *a,
                                 size_t a_stride, const float *w, float *c, size_t c_stride,
                                 const gemm_minmax *p, int accumulate);
void gemm_ukernel_8x32__avx512f(size_t mr, size_t nc, size_t kc, const float *a, size_t a_stride,
                                const float *w, float *c, size_t c_stride, const gemm_minmax *p,
                                int accumulate);
void gemm_ukernel_8x16__avx512f(size_t mr, size_t nc, size_t kc, const float *a, size_t a_stride,
                                const float *w, float *c, size_t c_stride, const gemm_minmax *p,
                                int accumulate);
void gemm_seg_ukernel_4x8__scalar(size_t mr, size_t nc, size_t nseg, size_t kc, const float *a,
                                  size_t a_stride, size_t seg_stride, const float *w, float *c,
                                  size_t c_stride, const gemm_minmax *p);
void gemm_seg_ukernel_8x32__avx512f(size_t mr, size_t nc, size_t nseg, size_t kc,
                                    const float *a, size_t a_stride, size_t seg_stride,
                                    const float *w, float *c, size_t c_stride,
                                    const gemm_minmax *p);
/* 32-bit Arm NEON (vmla, unfused). */
void gemm_ukernel_4x8__neon(size_t mr, size_t nc, size_t kc, const float *a, size_t a_stride,
                            const float *w, float *c, size_t c_stride, const gemm_minmax *p,
                            int accumulate);
/* AArch64 NEON with FMA. */
void gemm_ukernel_8x8__neonfma(size_t mr, size_t nc, size_t kc, const float *a, size_t a_stride,
                               const float *w, float *c, size_t c_stride, const gemm_minmax *p,
                               int accumulate);

/* Packed-A micro-kernels: like gemm_ukernel_fn, but A is an MR-row panel packed by
 * gemm_pack_a ([kc][MR], rows past mr repeat the last row), so the kernel follows one pointer
 * and has registers for more rows, and large A strides no longer alias in L1. B is packed as
 * for the in-place kernel of the same ISA and NR. */
typedef void (*gemm_packa_ukernel_fn)(size_t mr, size_t nc, size_t kc, const float *a_packed,
                                      const float *w, float *c, size_t c_stride,
                                      const gemm_minmax *p, int accumulate);

/* Packs rows [0, rows) (1 <= rows <= mr), columns [0, kc) of A (row stride lda) as [kc][mr];
 * rows past `rows` repeat the last one. */
typedef void (*gemm_pack_a_fn)(size_t mr, size_t rows, size_t kc, const float *a, size_t lda,
                               float *dst);

typedef struct {
  const char *name;
  int isa; /* TOD_ISA_* */
  int mr, nr;
  gemm_packa_ukernel_fn ukernel;
  gemm_pack_a_fn pack; /* the panel packer the driver runs for this kernel */
} gemm_packa_config;

void gemm_packa_ukernel_4x8__scalar(size_t mr, size_t nc, size_t kc, const float *a_packed,
                                    const float *w, float *c, size_t c_stride,
                                    const gemm_minmax *p, int accumulate);
void gemm_packa_ukernel_14x32__avx512f(size_t mr, size_t nc, size_t kc, const float *a_packed,
                                       const float *w, float *c, size_t c_stride,
                                       const gemm_minmax *p, int accumulate);
/* AVX-512 packer of 14-row panels (16x16 register transposes); other mr: gemm_pack_a. */
void gemm_pack_a_14__avx512f(size_t mr, size_t rows, size_t kc, const float *a, size_t lda,
                             float *dst);

/* One-row kernels (in-place signature, mr == 1): GEMV at batch 1, where an MR-row kernel
 * would compute MR copies of the row. */
void gemm_ukernel_1x32__avx512f(size_t mr, size_t nc, size_t kc, const float *a, size_t a_stride,
                                const float *w, float *c, size_t c_stride, const gemm_minmax *p,
                                int accumulate);
/* The one-row kernel sharing cfg's B packing, or NULL. */
gemm_ukernel_fn gemm_row_ukernel_for(const gemm_config *cfg);

/* Every packed-A config compiled in (for tests, as gemm_config_list). */
const gemm_packa_config *gemm_packa_config_list(int *count);
/* The packed-A kernel that shares cfg's B packing (same ISA and NR), or NULL. */
const gemm_packa_config *gemm_packa_for(const gemm_config *cfg);
/* The portable packer (a gemm_pack_a_fn): the reference the SIMD packers are tested against. */
void gemm_pack_a(size_t mr, size_t rows, size_t kc, const float *a, size_t lda, float *dst);
/* As gemm_compute, through pa (pa->nr == cfg->nr): A is packed panel by panel on the stack. */
void gemm_compute_packed_a(const gemm_config *cfg, const gemm_packa_config *pa, size_t m,
                           size_t n0, size_t n1, size_t k, const float *a, size_t lda,
                           const float *packed, float *c, size_t ldc, const gemm_minmax *p);

/* Every micro-kernel config compiled in (for tests: check cfg->isa <= tod_cpu_isa_max()). */
const gemm_config *gemm_config_list(int *count);
/* The main config for one ISA level, or NULL when the CPU lacks it. */
const gemm_config *gemm_config_for_isa(int isa);
/* The config for tod_cpu_isa() and a GEMM of n columns (narrow GEMMs get a narrower kernel).
 * Never NULL (the scalar one always exists). */
const gemm_config *gemm_config_get(size_t n);

/* Floats needed to pack a k x n B for cfg. */
size_t gemm_packed_size(const gemm_config *cfg, size_t k, size_t n);
/* A buffer of `floats` floats for packed B, 64-byte aligned so that no B vector load of a
 * micro-kernel splits a cache line (malloc's 16-byte alignment splits every other one).
 * The caller owns it and releases it with free(); NULL when out of memory. */
float *gemm_alloc_packed(size_t floats);
/* Packs B into dst. b_trans == 0: b is [k, n] with row stride ldb; b_trans != 0: b is [n, k]
 * (e.g. KHWC conv weights, transpose_b matmul) with row stride ldb. bias may be NULL (zeros). */
void gemm_pack_b(const gemm_config *cfg, size_t k, size_t n, const float *b, size_t ldb,
                 int b_trans, const float *bias, float *dst);
/* Serial: rows [0, m) and columns [n0, n1) of C; n0 must be a multiple of cfg->nr. Runs
 * gemm_compute_packed_a when the CPU has a packed-A kernel and the product is wide enough. */
void gemm_compute(const gemm_config *cfg, size_t m, size_t n0, size_t n1, size_t n, size_t k,
                  const float *a, size_t lda, const float *packed, float *c, size_t ldc,
                  const gemm_minmax *p);
/* Rows per cache block for a given k: A's block stays in L2 while B's panels stream past. */
size_t gemm_block_rows(const gemm_config *cfg, size_t k);
/* Whole C = A·B on the pool, split into row blocks (and column ranges when rows are few). */
void gemm_parallel(tod_threadpool *tp, const gemm_config *cfg, size_t m, size_t n, size_t k,
                   const float *a, size_t lda, const float *packed, float *c, size_t ldc,
                   const gemm_minmax *p);


/* Scratch slots a kernel reserves in setup (one per thread that may run it): the online CPU
 * count, at most 64. setup has no pool, so this is the bound gemm_run_slots respects. */
size_t gemm_scratch_slots(void);
/* Runs fn over ntasks tasks on at most `slots` threads; each call gets a distinct slot index
 * (for per-thread scratch) and a contiguous task range [begin, end). */
typedef void (*gemm_slot_fn)(void *ctx, size_t slot, size_t begin, size_t end);
void gemm_run_slots(tod_threadpool *tp, size_t slots, size_t ntasks, gemm_slot_fn fn, void *ctx);

#endif
