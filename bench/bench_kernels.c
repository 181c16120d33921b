/* Micro benchmark of Conv2DFusion on resnet18 / mobilenet_v2 shapes, for every ISA the CPU
 * has, on 1 thread and on all cores: prints GFLOP/s (2 flops per multiply-add).
 * GFLOP/s counts the direct convolution's flops, whatever algorithm ran (Winograd shows as
 * more than the FMA peak).
 * Usage: [BENCH_NO_WINOGRAD=1] bench_kernels [seconds per case, default 0.3]
 *        bench_kernels --peak [seconds]   (FMA peak and one-thread SGEMM 1024^3) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ir/ir.h"
#include "runtime/cpu_features.h"
#include "runtime/kernels/conv2d/winograd.h"
#include "runtime/kernels/fast_kernels.h"
#include "runtime/kernels/gemm/gemm.h"
#include "runtime/threadpool.h"

typedef struct {
  const char *name;
  int h, w, cin, cout, k, s, pad, group;
} shape;

static const shape shapes[] = {
  {"r18 conv1 224x224x3 7x7s2 ->64", 224, 224, 3, 64, 7, 2, 3, 1},
  {"r18 56x56x64 3x3 ->64", 56, 56, 64, 64, 3, 1, 1, 1},
  {"r18 28x28x128 3x3 ->128", 28, 28, 128, 128, 3, 1, 1, 1},
  {"r18 14x14x256 3x3 ->256", 14, 14, 256, 256, 3, 1, 1, 1},
  {"r18 7x7x512 3x3 ->512", 7, 7, 512, 512, 3, 1, 1, 1},
  {"r18 56x56x64 1x1s2 ->128", 56, 56, 64, 128, 1, 2, 0, 1},
  {"mv2 112x112x32 1x1 ->16", 112, 112, 32, 16, 1, 1, 0, 1},
  {"mv2 56x56x24 1x1 ->144", 56, 56, 24, 144, 1, 1, 0, 1},
  {"mv2 56x56x144 1x1 ->24", 56, 56, 144, 24, 1, 1, 0, 1},
  {"mv2 28x28x192 1x1 ->64", 28, 28, 192, 64, 1, 1, 0, 1},
  {"mv2 7x7x320 1x1 ->1280", 7, 7, 320, 1280, 1, 1, 0, 1},
  {"mv2 dw 112x112x96 3x3s2", 112, 112, 96, 96, 3, 2, 1, 96},
  {"mv2 dw 56x56x144 3x3", 56, 56, 144, 144, 3, 1, 1, 144},
  {"mv2 dw 14x14x384 3x3", 14, 14, 384, 384, 3, 1, 1, 384},
};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double bench(const shape *sh, tod_threadpool *tp, double secs) {
  const int ig = sh->cin / sh->group;
  const int oh = (sh->h + 2 * sh->pad - sh->k) / sh->s + 1, ow = (sh->w + 2 * sh->pad - sh->k) / sh->s + 1;
  const int64_t xd[4] = {1, sh->h, sh->w, sh->cin}, wd[4] = {sh->cout, sh->k, sh->k, ig},
                bd[1] = {sh->cout}, yd[4] = {1, oh, ow, sh->cout};
  const size_t xn = (size_t)sh->h * sh->w * sh->cin, wn = (size_t)sh->cout * sh->k * sh->k * ig,
               yn = (size_t)oh * ow * sh->cout;
  float *x = malloc(xn * 4), *w = malloc(wn * 4), *b = malloc((size_t)sh->cout * 4), *y = malloc(yn * 4);
  for (size_t i = 0; i < xn; i++) x[i] = (float)(i % 7) * 0.1f;
  for (size_t i = 0; i < wn; i++) w[i] = (float)(i % 5) * 0.01f;
  for (int i = 0; i < sh->cout; i++) b[i] = 0.5f;
  ir_graph g;
  ir_graph_init(&g);
  int tx = ir_add_tensor(&g, "x"), tw = ir_add_tensor(&g, "w"), tb = ir_add_tensor(&g, "b"),
      ty = ir_add_tensor(&g, "y");
  ir_tensor_set_shape(&g.tensors[tx], 4, xd);
  ir_tensor_set_shape(&g.tensors[tw], 4, wd);
  ir_tensor_set_shape(&g.tensors[tb], 1, bd);
  ir_tensor_set_shape(&g.tensors[ty], 4, yd);
  ir_tensor_set_data_borrow(&g.tensors[tw], w, wn * 4);
  ir_tensor_set_data_borrow(&g.tensors[tb], b, (size_t)sh->cout * 4);
  g.tensors[tw].kind = g.tensors[tb].kind = IR_TENSOR_CONST;
  int ins[3] = {tx, tw, tb};
  int ni = ir_add_node(&g, IR_OP_Conv2DFusion, "c", ins, 3, &ty, 1);
  const int64_t ks[2] = {sh->k, sh->k}, st[2] = {sh->s, sh->s}, pd[4] = {sh->pad, sh->pad, sh->pad, sh->pad};
  ir_attr_set_ints(&g.nodes[ni], "kernel_size", ks, 2);
  ir_attr_set_ints(&g.nodes[ni], "stride", st, 2);
  ir_attr_set_ints(&g.nodes[ni], "pad_list", pd, 4);
  ir_attr_set_int(&g.nodes[ni], "group", sh->group);
  ir_attr_set_int(&g.nodes[ni], "activation_type", IR_ACT_RELU);
  kernel k;
  memset(&k, 0, sizeof k);
  k.ops = &kernel_Conv2DFusion;
  k.node = &g.nodes[ni];
  double gflops = -1;
  tod_view in[3], out;
  memset(in, 0, sizeof in);
  memset(&out, 0, sizeof out);
  in[0].dtype = in[1].dtype = in[2].dtype = out.dtype = IR_DT_FLOAT32;
  in[0].ndim = 4, memcpy(in[0].dims, xd, sizeof xd), in[0].data = x;
  in[1].ndim = 4, memcpy(in[1].dims, wd, sizeof wd), in[1].data = w;
  in[2].ndim = 1, memcpy(in[2].dims, bd, sizeof bd), in[2].data = b;
  out.ndim = 4, memcpy(out.dims, yd, sizeof yd), out.data = y;
  size_t scratch = 0;
  if (kernel_Conv2DFusion.create(&k, &g, &g.nodes[ni]) == TOD_OK &&
      kernel_Conv2DFusion.setup(&k, in, 3, &out, 1, &scratch) == TOD_OK) {
    void *buf = aligned_alloc(64, (scratch + 63) / 64 * 64 + 64);
    kernel_Conv2DFusion.run(&k, in, 3, &out, 1, buf, tp); /* warm-up */
    int reps = 0;
    double t0 = now(), t;
    do {
      kernel_Conv2DFusion.run(&k, in, 3, &out, 1, buf, tp);
      reps++;
      t = now() - t0;
    } while (t < secs);
    const double flops = 2.0 * (double)yn * sh->k * sh->k * ig;
    gflops = flops * reps / t * 1e-9;
    free(buf);
  } else {
    fprintf(stderr, "%s: %s\n", sh->name, k.err);
  }
  kernel_Conv2DFusion.destroy(&k);
  ir_graph_free(&g);
  free(x), free(w), free(b), free(y);
  return gflops;
}

/* The machine's FMA peak on one core: 16 independent chains of AVX-512 FMAs (AVX2 when the CPU
 * has no AVX-512), enough to cover the latency of two FMA ports. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
__attribute__((target("avx512f"))) static double fma_peak_avx512(double secs) {
  __m512 acc[16];
  for (int i = 0; i < 16; i++) acc[i] = _mm512_set1_ps(0.001f * (float)i);
  const __m512 b = _mm512_set1_ps(0.99999f), c = _mm512_set1_ps(1e-6f);
  long iters = 0;
  double t0 = now(), t;
  do {
    for (int r = 0; r < 100000; r++)
#pragma GCC unroll 16
      for (int i = 0; i < 16; i++) acc[i] = _mm512_fmadd_ps(acc[i], b, c);
    iters += 100000;
    t = now() - t0;
  } while (t < secs);
  float sink = 0;
  for (int i = 0; i < 16; i++) sink += _mm512_reduce_add_ps(acc[i]);
  if (sink == 12345.0f) printf(" ");
  return (double)iters * 16 * 32 / t * 1e-9;
}
__attribute__((target("avx2,fma"))) static double fma_peak_avx2(double secs) {
  __m256 acc[12];
  for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps(0.001f * (float)i);
  const __m256 b = _mm256_set1_ps(0.99999f), c = _mm256_set1_ps(1e-6f);
  long iters = 0;
  double t0 = now(), t;
  do {
    for (int r = 0; r < 100000; r++)
#pragma GCC unroll 12
      for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], b, c);
    iters += 100000;
    t = now() - t0;
  } while (t < secs);
  float tmp[8], sink = 0;
  for (int i = 0; i < 12; i++) {
    _mm256_storeu_ps(tmp, acc[i]);
    sink += tmp[0];
  }
  if (sink == 12345.0f) printf(" ");
  return (double)iters * 12 * 16 / t * 1e-9;
}
#endif

/* --peak: the FMA peak and SGEMM 1024x1024x1024 (packed B, one thread), for bench/RESULTS.md.
 * The two are measured in alternation, ten rounds, and each keeps its best sample: on a
 * shared machine one long measurement of each compares a quiet moment with a busy one. */
static int peak_main(double secs) {
  double peak = 0;
  const size_t n = 1024;
  const gemm_config *cfg = gemm_config_get(n);
  float *a = malloc(n * n * 4), *b = malloc(n * n * 4), *c = malloc(n * n * 4);
  float *packed = gemm_alloc_packed(gemm_packed_size(cfg, n, n)); /* as the runtime's */
  if (!a || !b || !c || !packed) return 1;
  for (size_t i = 0; i < n * n; i++) a[i] = (float)(i % 13) * 0.01f, b[i] = (float)(i % 7) * 0.01f;
  gemm_pack_b(cfg, n, n, b, n, 0, NULL, packed);
  const gemm_minmax none = {-__builtin_inff(), __builtin_inff()};
  tod_threadpool *tp1 = NULL;
  if (tod_threadpool_create(1, &tp1) != TOD_OK) return 1;
  gemm_parallel(tp1, cfg, n, n, n, a, n, packed, c, n, &none);
  double sgemm = 0;
  for (int round = 0; round < 10; round++) {
#if defined(__x86_64__) || defined(__i386__)
    /* Samples of about 10 ms too, the length of one product. */
    for (const double t0 = now(); now() - t0 < secs / 20;) {
      const double p = tod_cpu_isa_max() >= TOD_ISA_AVX512 ? fma_peak_avx512(0.01)
                                                           : fma_peak_avx2(0.01);
      if (p > peak) peak = p;
    }
#endif
    /* Each product timed alone (about 10 ms at peak), so one preemption spoils one sample. */
    const double t0 = now();
    do {
      const double t1 = now();
      gemm_parallel(tp1, cfg, n, n, n, a, n, packed, c, n, &none);
      const double g = 2.0 * (double)n * n * n / (now() - t1) * 1e-9;
      if (g > sgemm) sgemm = g;
    } while (now() - t0 < secs / 20);
  }
  /* The kernel that runs: rows 4 KB apart take the packed-A one when the CPU has it. */
  const gemm_packa_config *pa = gemm_packa_for(cfg);
  printf("fma_peak_gflops %.1f\nsgemm1024_gflops %.1f\nsgemm_share %.3f\nkernel %s\n", peak, sgemm,
         peak > 0 ? sgemm / peak : 0.0, pa ? pa->name : cfg->name);
  tod_threadpool_free(tp1);
  free(a), free(b), free(c), free(packed);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--peak") == 0) return peak_main(argc > 2 ? atof(argv[2]) : 1.0);
  const double secs = argc > 1 ? atof(argv[1]) : 0.3;
  /* BENCH_NO_WINOGRAD=1: the direct (im2col + GEMM) path for 3x3 convolutions, for A/B runs. */
  if (getenv("BENCH_NO_WINOGRAD")) conv2d_winograd_enable(0);
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  tod_threadpool *tp1 = NULL, *tpn = NULL;
  if (tod_threadpool_create(1, &tp1) != TOD_OK || tod_threadpool_create((int)cores, &tpn) != TOD_OK)
    return 1;
  printf("%-34s %8s %10s %10s\n", "shape", "isa", "1 thread", "all cores");
  for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
    for (int isa = TOD_ISA_COUNT - 1; isa >= 0; isa--) {
      if (isa > tod_cpu_isa_max()) continue;
      tod_cpu_force_isa(isa);
      const double g1 = bench(&shapes[i], tp1, secs);
      const double gn = isa == TOD_ISA_SCALAR ? -1 : bench(&shapes[i], tpn, secs);
      printf("%-34s %8s %10.1f %10.1f\n", shapes[i].name, tod_isa_name(isa), g1, gn);
      fflush(stdout);
    }
  }
  tod_threadpool_free(tp1);
  tod_threadpool_free(tpn);
  return 0;
}
