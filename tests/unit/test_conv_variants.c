/* Conv2DFusion, MatMulFusion and the pools through the kernel_ops interface, for every ISA
 * the CPU supports (scalar, AVX2, AVX-512), held against direct double-precision loops written
 * here from the operator definitions in docs/ops.md: many shapes, odd sizes, groups,
 * depthwise, strides, dilations, pads, pad modes, 1x1, fused activations, thread counts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "runtime/cpu_features.h"
#include "runtime/kernels/fast_kernels.h"
#include "runtime/threadpool.h"

static int failures;
static unsigned rng_state = 777;
static float frand(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return (float)((rng_state >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

static int add_tensor(ir_graph *g, const char *name, int ndim, const int64_t *dims,
                      const float *data) {
  int t = ir_add_tensor(g, name);
  ir_tensor_set_shape(&g->tensors[t], ndim, dims);
  if (data) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    ir_tensor_set_data_borrow(&g->tensors[t], data, n * sizeof(float));
    g->tensors[t].kind = IR_TENSOR_CONST;
  }
  return t;
}

static tod_view view(int ndim, const int64_t *dims, const void *data) {
  tod_view v;
  memset(&v, 0, sizeof v);
  v.dtype = IR_DT_FLOAT32;
  v.ndim = ndim;
  for (int i = 0; i < ndim; i++) v.dims[i] = dims[i];
  v.data = (void *)data;
  return v;
}

/* create/setup/run/destroy; returns the status of the first failing call. */
static tod_status run_kernel(const kernel_ops *ops, const ir_graph *g, const ir_node *n,
                             const tod_view *in, int n_in, tod_view *out, tod_threadpool *tp) {
  kernel k;
  memset(&k, 0, sizeof k);
  k.ops = ops;
  k.node = n;
  tod_status st = ops->create(&k, g, n);
  if (st != TOD_OK) {
    fprintf(stderr, "create: %s\n", k.err);
    return st;
  }
  size_t scratch = 0;
  st = ops->setup(&k, in, n_in, out, 1, &scratch);
  if (st == TOD_OK) {
    void *buf = aligned_alloc(64, (scratch + 63) / 64 * 64 + 64);
    st = ops->run(&k, in, n_in, out, 1, buf, tp);
    free(buf);
  } else {
    fprintf(stderr, "setup: %s\n", k.err);
  }
  if (ops->destroy) ops->destroy(&k);
  return st;
}

static int compare(const char *what, const float *got, const float *want, size_t n, double tol) {
  double maxabs = 1e-6;
  for (size_t i = 0; i < n; i++) maxabs = fmax(maxabs, fabs(want[i]));
  for (size_t i = 0; i < n; i++)
    if (!(fabs(got[i] - want[i]) <= tol * maxabs)) {
      fprintf(stderr, "FAIL %s: [%zu] got %g want %g\n", what, i, got[i], want[i]);
      failures++;
      return 1;
    }
  return 0;
}

static double act_ref(int act, double v) {
  switch (act) {
  case IR_ACT_RELU: return v < 0 ? 0 : v;
  case IR_ACT_RELU6: return v < 0 ? 0 : v > 6 ? 6 : v;
  case IR_ACT_SIGMOID: return 1 / (1 + exp(-v));
  case IR_ACT_HSWISH: return v * fmin(fmax(v + 3, 0), 6) / 6;
  case IR_ACT_SWISH: return v / (1 + exp(-v));
  default: return v;
  }
}

/* ---- convolution ------------------------------------------------------------------------ */
typedef struct {
  int n, h, w, cin, cout, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, pad_mode, group, act, bias;
} conv_case;

static void conv_ref(const conv_case *c, const float *x, const float *w, const float *b, int oh,
                     int ow, int pt, int pl, float *y) {
  const int ig = c->cin / c->group, og = c->cout / c->group;
  for (int n = 0; n < c->n; n++)
    for (int oy = 0; oy < oh; oy++)
      for (int ox = 0; ox < ow; ox++)
        for (int o = 0; o < c->cout; o++) {
          const int g = o / og;
          double s = b ? b[o] : 0;
          for (int ky = 0; ky < c->kh; ky++)
            for (int kx = 0; kx < c->kw; kx++) {
              const int iy = oy * c->sh - pt + ky * c->dh, ix = ox * c->sw - pl + kx * c->dw;
              if (iy < 0 || iy >= c->h || ix < 0 || ix >= c->w) continue;
              for (int i = 0; i < ig; i++)
                s += (double)x[((n * c->h + iy) * c->w + ix) * c->cin + g * ig + i] *
                     w[((o * c->kh + ky) * c->kw + kx) * ig + i];
            }
          y[((n * oh + oy) * ow + ox) * c->cout + o] = (float)act_ref(c->act, s);
        }
}

static void test_conv(const conv_case *c, tod_threadpool *tp, int weights_const) {
  const int ig = c->cin / c->group, ekh = (c->kh - 1) * c->dh + 1, ekw = (c->kw - 1) * c->dw + 1;
  int pt = c->pt, pb = c->pb, pl = c->pl, pr = c->pr, oh, ow;
  if (c->pad_mode == 1) {
    oh = (c->h + c->sh - 1) / c->sh;
    ow = (c->w + c->sw - 1) / c->sw;
    int th = (oh - 1) * c->sh + ekh - c->h, tw = (ow - 1) * c->sw + ekw - c->w;
    th = th < 0 ? 0 : th;
    tw = tw < 0 ? 0 : tw;
    pt = th / 2, pb = th - pt, pl = tw / 2, pr = tw - pl;
  } else if (c->pad_mode == 2) {
    pt = pb = pl = pr = 0;
  }
  oh = (c->h + pt + pb - ekh) / c->sh + 1;
  ow = (c->w + pl + pr - ekw) / c->sw + 1;
  const int64_t xd[4] = {c->n, c->h, c->w, c->cin}, wd[4] = {c->cout, c->kh, c->kw, ig},
                bd[1] = {c->cout}, yd[4] = {c->n, oh, ow, c->cout};
  const size_t xn = (size_t)c->n * c->h * c->w * c->cin, wn = (size_t)c->cout * c->kh * c->kw * ig,
               yn = (size_t)c->n * oh * ow * c->cout;
  float *x = malloc(xn * 4), *w = malloc(wn * 4), *b = malloc((size_t)c->cout * 4);
  float *y = malloc(yn * 4 + 4), *r = malloc(yn * 4 + 4);
  for (size_t i = 0; i < xn; i++) x[i] = frand();
  for (size_t i = 0; i < wn; i++) w[i] = frand();
  for (int i = 0; i < c->cout; i++) b[i] = frand();
  conv_ref(c, x, w, c->bias ? b : NULL, oh, ow, pt, pl, r);

  ir_graph g;
  ir_graph_init(&g);
  int tx = add_tensor(&g, "x", 4, xd, NULL);
  int tw = add_tensor(&g, "w", 4, wd, weights_const ? w : NULL);
  int tb = c->bias ? add_tensor(&g, "b", 1, bd, weights_const ? b : NULL) : -1;
  int ty = add_tensor(&g, "y", 4, yd, NULL);
  int ins[3] = {tx, tw, tb}, outs[1] = {ty};
  int ni = ir_add_node(&g, IR_OP_Conv2DFusion, "conv", ins, c->bias ? 3 : 2, outs, 1);
  ir_node *node = &g.nodes[ni];
  const int64_t ks[2] = {c->kh, c->kw}, st[2] = {c->sh, c->sw}, dl[2] = {c->dh, c->dw},
                pads[4] = {c->pt, c->pb, c->pl, c->pr};
  ir_attr_set_ints(node, "kernel_size", ks, 2);
  ir_attr_set_ints(node, "stride", st, 2);
  ir_attr_set_ints(node, "dilation", dl, 2);
  ir_attr_set_ints(node, "pad_list", pads, 4);
  ir_attr_set_int(node, "pad_mode", c->pad_mode);
  ir_attr_set_int(node, "group", c->group);
  ir_attr_set_int(node, "activation_type", c->act);
  tod_view in[3] = {view(4, xd, x), view(4, wd, w), view(1, bd, b)};
  tod_view out = view(4, yd, y);
  tod_status s = run_kernel(&kernel_Conv2DFusion, &g, node, in, c->bias ? 3 : 2, &out, tp);
  char what[256];
  snprintf(what, sizeof what,
           "conv[%s] n%d %dx%dx%d->%d k%dx%d s%d,%d d%d,%d p%d,%d,%d,%d mode%d g%d act%d bias%d const%d",
           tod_isa_name(tod_cpu_isa()), c->n, c->h, c->w, c->cin, c->cout, c->kh, c->kw, c->sh,
           c->sw, c->dh, c->dw, c->pt, c->pb, c->pl, c->pr, c->pad_mode, c->group, c->act,
           c->bias, weights_const);
  if (s != TOD_OK) {
    fprintf(stderr, "FAIL %s: status %d\n", what, s);
    failures++;
  } else {
    /* Winograd F(4x4,3x3) (3x3, stride 1, one group) trades a little precision for 4x fewer
     * multiplies: its transforms scale values by up to 10x before the sums cancel back. */
    const int wino = c->kh == 3 && c->kw == 3 && c->sh == 1 && c->sw == 1 && c->dh == 1 &&
                     c->dw == 1 && c->group == 1;
    compare(what, y, r, yn, wino ? 5e-5 : 1e-5);
  }
  ir_graph_free(&g);
  free(x), free(w), free(b), free(y), free(r);
}

static const conv_case conv_cases[] = {
  /* n  h   w  cin cout kh kw sh sw dh dw pt pb pl pr mode g act bias */
  {1, 5, 5, 3, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1},
  {2, 7, 6, 5, 9, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1},
  {1, 8, 8, 16, 33, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 3, 1}, /* 1x1 GEMM path */
  {2, 9, 7, 17, 40, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0},
  {1, 9, 9, 8, 12, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1},  /* 1x1 stride 2 */
  {1, 11, 13, 3, 16, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 0, 1, 1, 1}, /* resnet stem-like */
  {1, 10, 10, 6, 8, 3, 3, 2, 1, 2, 2, 2, 1, 0, 3, 0, 1, 0, 1}, /* dilation, asym pads */
  /* implicit GEMM (short spans, >= 16 output columns): interior rows and border pixels */
  {1, 20, 40, 3, 40, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 0, 1, 1, 1},  /* resnet stem, wider */
  {2, 17, 35, 3, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 1, 3, 1},  /* mobilenet stem, relu6 */
  {1, 9, 20, 5, 33, 3, 3, 1, 1, 1, 1, 0, 2, 1, 0, 0, 1, 0, 0},   /* asym pads, no bias */
  {1, 3, 40, 3, 70, 3, 3, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 12, 1},  /* one row: column splits */
  {1, 9, 8, 4, 6, 3, 2, 2, 3, 1, 1, 0, 0, 0, 0, 1, 1, 0, 1},   /* SAME_UPPER */
  {1, 9, 8, 4, 6, 3, 3, 2, 2, 1, 1, 5, 5, 5, 5, 2, 1, 0, 1},   /* VALID ignores pad_list */
  {1, 8, 8, 8, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 4, 1, 1},  /* grouped */
  {2, 6, 7, 6, 9, 3, 3, 2, 2, 1, 1, 1, 0, 1, 0, 0, 3, 2, 1},   /* grouped, sigmoid */
  {1, 9, 9, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 32, 3, 1}, /* depthwise */
  {2, 10, 11, 19, 19, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 19, 0, 0}, /* depthwise odd C */
  {1, 12, 12, 70, 70, 5, 5, 1, 2, 2, 1, 4, 4, 2, 2, 0, 70, 12, 1}, /* dw dilated, hswish */
  {1, 7, 7, 100, 100, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 100, 1, 1}, /* dw SAME */
  /* 5x5 depthwise (EfficientNet): 4-pixel blocks, pixel and channel tails, SWISH epilogue */
  {1, 11, 13, 40, 40, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 0, 40, 18, 1}, /* stride 1, swish */
  {2, 15, 14, 24, 24, 5, 5, 2, 2, 1, 1, 1, 2, 1, 2, 0, 24, 0, 1},  /* stride 2, asym pads */
  /* 3x3 depthwise rows: interior kernel between indirect borders; pixel and channel tails */
  {2, 9, 23, 40, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 40, 3, 1},  /* stride 1, relu6 */
  {1, 12, 30, 19, 19, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 19, 3, 1}, /* stride 2 */
  {1, 8, 26, 16, 16, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 0, 16, 0, 0},  /* no padding */
  {1, 8, 25, 17, 17, 3, 3, 2, 3, 1, 1, 0, 2, 2, 0, 0, 17, 1, 1},  /* stride 3, asym pads */
  {1, 14, 14, 64, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1}, /* k=576 crosses K blocks */
  {1, 4, 4, 300, 37, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1},  /* k=2700, few rows */
  {3, 1, 1, 5, 7, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1},     /* 1x1 spatial */
  {1, 3, 3, 2, 3, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 0, 1, 0, 1},     /* kernel > input */
  /* Winograd F(4x4,3x3): partial tiles, channel tails, batch, asymmetric pads, SAME */
  {2, 13, 11, 19, 23, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1},
  {1, 12, 12, 8, 8, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1},
  {1, 20, 18, 64, 40, 3, 3, 1, 1, 1, 1, 2, 0, 1, 2, 0, 1, 0, 0},
  {1, 16, 16, 33, 130, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 3, 1},
  {1, 15, 17, 24, 16, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2, 1},
  {1, 28, 28, 128, 128, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1},
  /* pixconv (<= 8 output channels, x stride 1): one and two vectors, tails, row steps */
  {2, 28, 28, 1, 6, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 0, 1, 0, 1},   /* LeNet-5 conv1 */
  {1, 11, 37, 3, 5, 3, 4, 2, 1, 1, 1, 1, 0, 2, 1, 0, 1, 1, 1},   /* sh 2, asym pads, relu */
  {3, 9, 12, 2, 8, 2, 3, 1, 1, 1, 1, 0, 1, 0, 0, 0, 1, 12, 0},   /* hswish loop, no bias */
  {1, 6, 9, 4, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1},     /* one channel, SAME */
};

/* Also run with weights that are not constant (training graphs), every case: the row-wrapped
 * GEMM takes stride-1 short-span convolutions of >= 2 images per thread. */
static const conv_case runtime_w_cases[] = {
  /* n  h   w  cin cout kh kw sh sw dh dw pt pb pl pr mode g act bias */
  {4, 14, 14, 6, 16, 5, 5, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1},  /* LeNet-5 conv2 */
  {5, 9, 11, 3, 20, 3, 3, 1, 1, 1, 1, 1, 0, 2, 1, 0, 1, 3, 1},   /* pads, 2 panels, relu6 */
  {7, 6, 5, 2, 9, 2, 4, 1, 1, 1, 1, 0, 1, 3, 0, 0, 1, 12, 0},    /* hswish loop, no bias */
  {6, 28, 28, 1, 6, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 0, 1, 0, 1},   /* LeNet-5 conv1 (pixconv) */
};

/* ---- matmul ----------------------------------------------------------------------------- */
static void test_matmul(int a_nd, const int64_t *ad, int b_nd, const int64_t *bd, int ta, int tb,
                        int bias, int act, int b_const, tod_threadpool *tp) {
  /* numpy semantics on the reference side */
  const int64_t M = a_nd == 1 ? 1 : ta ? ad[a_nd - 1] : ad[a_nd - 2];
  const int64_t K = a_nd == 1 ? ad[0] : ta ? ad[a_nd - 2] : ad[a_nd - 1];
  const int64_t N = b_nd == 1 ? 1 : tb ? bd[b_nd - 2] : bd[b_nd - 1];
  const int ra = a_nd > 2 ? a_nd - 2 : 0, rb = b_nd > 2 ? b_nd - 2 : 0, nb = ra > rb ? ra : rb;
  int64_t od[IR_MAX_DIMS];
  int ond = 0;
  size_t batches = 1;
  for (int i = 0; i < nb; i++) {
    int64_t da = i - (nb - ra) >= 0 ? ad[i - (nb - ra)] : 1;
    int64_t db = i - (nb - rb) >= 0 ? bd[i - (nb - rb)] : 1;
    od[ond++] = da > db ? da : db;
    batches *= (size_t)od[ond - 1];
  }
  if (a_nd > 1) od[ond++] = M;
  if (b_nd > 1) od[ond++] = N;
  size_t an = 1, bn = 1;
  for (int i = 0; i < a_nd; i++) an *= (size_t)ad[i];
  for (int i = 0; i < b_nd; i++) bn *= (size_t)bd[i];
  const size_t yn = batches * (size_t)(M * N);
  float *a = malloc(an * 4), *b = malloc(bn * 4), *bi = malloc((size_t)N * 4);
  float *y = malloc(yn * 4 + 4), *r = malloc(yn * 4 + 4);
  for (size_t i = 0; i < an; i++) a[i] = frand();
  for (size_t i = 0; i < bn; i++) b[i] = frand();
  for (int64_t i = 0; i < N; i++) bi[i] = frand();
  for (size_t bt = 0; bt < batches; bt++) {
    size_t rem = bt, aoff = 0, boff = 0, sa = 1, sb = 1;
    for (int i = nb - 1; i >= 0; i--) {
      size_t idx = rem % (size_t)od[i];
      rem /= (size_t)od[i];
      int64_t da = i - (nb - ra) >= 0 ? ad[i - (nb - ra)] : 1;
      int64_t db = i - (nb - rb) >= 0 ? bd[i - (nb - rb)] : 1;
      aoff += (da == 1 ? 0 : idx) * sa;
      boff += (db == 1 ? 0 : idx) * sb;
      sa *= (size_t)da;
      sb *= (size_t)db;
    }
    const float *am = a + aoff * (size_t)(M * K), *bm = b + boff * (size_t)(K * N);
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        double s = bias ? bi[j] : 0;
        for (int64_t k = 0; k < K; k++) {
          double av = a_nd == 1 ? am[k] : ta ? am[k * M + i] : am[i * K + k];
          double bv = b_nd == 1 ? bm[k] : tb ? bm[j * K + k] : bm[k * N + j];
          s += av * bv;
        }
        r[bt * (size_t)(M * N) + (size_t)(i * N + j)] = (float)act_ref(act, s);
      }
  }
  ir_graph g;
  ir_graph_init(&g);
  const int64_t bias_d[1] = {N};
  int t0 = add_tensor(&g, "a", a_nd, ad, NULL), t1 = add_tensor(&g, "b", b_nd, bd, b_const ? b : NULL);
  int t2 = bias ? add_tensor(&g, "bias", 1, bias_d, b_const ? bi : NULL) : -1;
  int t3 = add_tensor(&g, "y", ond, od, NULL);
  int ins[3] = {t0, t1, t2}, outs[1] = {t3};
  int ni = ir_add_node(&g, IR_OP_MatMulFusion, "mm", ins, bias ? 3 : 2, outs, 1);
  ir_attr_set_int(&g.nodes[ni], "transpose_a", ta);
  ir_attr_set_int(&g.nodes[ni], "transpose_b", tb);
  ir_attr_set_int(&g.nodes[ni], "activation_type", act);
  tod_view in[3] = {view(a_nd, ad, a), view(b_nd, bd, b), view(1, bias_d, bi)};
  tod_view out = view(ond, od, y);
  tod_status s = run_kernel(&kernel_MatMulFusion, &g, &g.nodes[ni], in, bias ? 3 : 2, &out, tp);
  char what[160];
  snprintf(what, sizeof what, "matmul[%s] a%dd b%dd M%lld K%lld N%lld ta%d tb%d bias%d act%d const%d",
           tod_isa_name(tod_cpu_isa()), a_nd, b_nd, (long long)M, (long long)K, (long long)N, ta,
           tb, bias, act, b_const);
  if (s != TOD_OK) {
    fprintf(stderr, "FAIL %s: status %d\n", what, s);
    failures++;
  } else {
    compare(what, y, r, yn, 1e-5);
  }
  ir_graph_free(&g);
  free(a), free(b), free(bi), free(y), free(r);
}

static void matmul_cases(tod_threadpool *tp) {
  const int64_t a1[2] = {7, 13}, b1[2] = {13, 37}, b1t[2] = {37, 13}, a1t[2] = {13, 7};
  for (int bc = 0; bc < 2; bc++) {
    test_matmul(2, a1, 2, b1, 0, 0, 1, 0, bc, tp);
    test_matmul(2, a1, 2, b1t, 0, 1, 1, 1, bc, tp);
    test_matmul(2, a1t, 2, b1, 1, 0, 0, 3, bc, tp);
    test_matmul(2, a1t, 2, b1t, 1, 1, 1, 2, bc, tp);
    const int64_t a3[4] = {2, 3, 5, 40}, b3[3] = {3, 40, 50}, b4[4] = {2, 1, 40, 9};
    test_matmul(4, a3, 3, b3, 0, 0, 1, 0, bc, tp);
    test_matmul(4, a3, 4, b4, 0, 0, 0, 0, bc, tp);
    const int64_t av[1] = {40}, bv[1] = {40}, fc_a[2] = {1, 512}, fc_b[2] = {1000, 512};
    test_matmul(1, av, 3, b3, 0, 0, 0, 0, bc, tp);
    test_matmul(4, a3, 1, bv, 0, 0, 0, 0, bc, tp);
    test_matmul(2, fc_a, 2, fc_b, 0, 1, 1, 0, bc, tp); /* classifier */
    const int64_t big_a[2] = {100, 300}, big_b[2] = {300, 70};
    test_matmul(2, big_a, 2, big_b, 0, 0, 1, 1, bc, tp);
  }
}

/* ---- pooling ---------------------------------------------------------------------------- */
static void test_pool(int is_max, int n, int h, int w, int c, int kh, int kw, int sh, int sw,
                      const int pads[4], int pad_mode, int ceil_mode, int global, int act,
                      tod_threadpool *tp) {
  int pt = pads[0], pb = pads[1], pl = pads[2], pr = pads[3], oh, ow;
  if (global) {
    kh = h, kw = w, sh = sw = 1, pt = pb = pl = pr = 0;
  } else if (pad_mode == 1) {
    oh = (h + sh - 1) / sh, ow = (w + sw - 1) / sw;
    int th = (oh - 1) * sh + kh - h, tw = (ow - 1) * sw + kw - w;
    th = th < 0 ? 0 : th, tw = tw < 0 ? 0 : tw;
    pt = th / 2, pb = th - pt, pl = tw / 2, pr = tw - pl;
  } else if (pad_mode == 2) {
    pt = pb = pl = pr = 0;
  }
  /* PyTorch's pooling_output_shape */
  oh = (h + pt + pb - kh + (ceil_mode ? sh - 1 : 0)) / sh + 1;
  ow = (w + pl + pr - kw + (ceil_mode ? sw - 1 : 0)) / sw + 1;
  if (ceil_mode && (oh - 1) * sh >= h + pt) oh--;
  if (ceil_mode && (ow - 1) * sw >= w + pl) ow--;
  const int64_t xd[4] = {n, h, w, c}, yd[4] = {n, oh, ow, c};
  const size_t xn = (size_t)n * h * w * c, yn = (size_t)n * oh * ow * c;
  float *x = malloc(xn * 4), *y = malloc(yn * 4 + 4), *r = malloc(yn * 4 + 4);
  for (size_t i = 0; i < xn; i++) x[i] = frand();
  for (int b = 0; b < n; b++)
    for (int oy = 0; oy < oh; oy++)
      for (int ox = 0; ox < ow; ox++)
        for (int ch = 0; ch < c; ch++) {
          double m = -INFINITY, s = 0;
          int cnt = 0;
          for (int ky = 0; ky < kh; ky++)
            for (int kx = 0; kx < kw; kx++) {
              int iy = oy * sh - pt + ky, ix = ox * sw - pl + kx;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              double v = x[((b * h + iy) * w + ix) * c + ch];
              m = fmax(m, v), s += v, cnt++;
            }
          r[((b * oh + oy) * ow + ox) * c + ch] = (float)act_ref(act, is_max ? m : s / cnt);
        }
  ir_graph g;
  ir_graph_init(&g);
  int tx = add_tensor(&g, "x", 4, xd, NULL), ty = add_tensor(&g, "y", 4, yd, NULL);
  int ni = ir_add_node(&g, is_max ? IR_OP_MaxPoolFusion : IR_OP_AvgPoolFusion, "p", &tx, 1, &ty, 1);
  const int64_t ks[2] = {kh, kw}, st[2] = {sh, sw}, pd[4] = {pads[0], pads[1], pads[2], pads[3]};
  ir_attr_set_ints(&g.nodes[ni], "kernel_size", ks, 2);
  ir_attr_set_ints(&g.nodes[ni], "strides", st, 2);
  ir_attr_set_ints(&g.nodes[ni], "pad", pd, 4);
  ir_attr_set_int(&g.nodes[ni], "pad_mode", pad_mode);
  ir_attr_set_int(&g.nodes[ni], "round_mode", ceil_mode);
  ir_attr_set_int(&g.nodes[ni], "global", global);
  ir_attr_set_int(&g.nodes[ni], "activation_type", act);
  tod_view in = view(4, xd, x), out = view(4, yd, y);
  tod_status s = run_kernel(is_max ? &kernel_MaxPoolFusion : &kernel_AvgPoolFusion, &g,
                            &g.nodes[ni], &in, 1, &out, tp);
  char what[160];
  snprintf(what, sizeof what, "%s[%s] %dx%dx%dx%d k%dx%d s%d,%d p%d,%d,%d,%d mode%d ceil%d global%d",
           is_max ? "maxpool" : "avgpool", tod_isa_name(tod_cpu_isa()), n, h, w, c, kh, kw, sh,
           sw, pads[0], pads[1], pads[2], pads[3], pad_mode, ceil_mode, global);
  if (s != TOD_OK) {
    fprintf(stderr, "FAIL %s: status %d\n", what, s);
    failures++;
  } else {
    compare(what, y, r, yn, 1e-6);
  }
  ir_graph_free(&g);
  free(x), free(y), free(r);
}

static void pool_cases(tod_threadpool *tp) {
  const int p0[4] = {0, 0, 0, 0}, p1[4] = {1, 1, 1, 1}, pa[4] = {0, 1, 1, 0};
  for (int is_max = 0; is_max < 2; is_max++) {
    test_pool(is_max, 1, 12, 12, 64, 3, 3, 2, 2, p1, 0, 0, 0, 0, tp); /* resnet maxpool */
    test_pool(is_max, 2, 7, 9, 19, 3, 3, 2, 2, p0, 0, 1, 0, 0, tp);   /* ceil */
    test_pool(is_max, 1, 8, 8, 70, 3, 3, 2, 2, p1, 0, 1, 0, 1, tp);   /* ceil + pad: drop */
    test_pool(is_max, 1, 6, 7, 5, 2, 3, 1, 2, pa, 0, 0, 0, 3, tp);
    test_pool(is_max, 1, 9, 8, 33, 3, 3, 2, 2, p0, 1, 0, 0, 0, tp);   /* SAME_UPPER */
    test_pool(is_max, 1, 9, 8, 33, 3, 3, 2, 2, p1, 2, 0, 0, 0, tp);   /* VALID */
    test_pool(is_max, 2, 7, 7, 130, 1, 1, 1, 1, p0, 0, 0, 1, 0, tp);  /* global */
    /* global over >= 4096 pixels: the average's pixel ranges summed by separate tasks */
    test_pool(is_max, 2, 71, 66, 35, 1, 1, 1, 1, p0, 0, 0, 1, 0, tp);
    test_pool(is_max, 1, 112, 112, 32, 1, 1, 1, 1, p0, 0, 0, 1, 0, tp);
  }
}

int main(void) {
  int tested = 0;
  for (int isa = 0; isa < TOD_ISA_COUNT; isa++) {
    if (isa > tod_cpu_isa_max()) {
      printf("skip %s: not supported by this CPU\n", tod_isa_name(isa));
      continue;
    }
    tod_cpu_force_isa(isa);
    tested++;
    for (int threads = 1; threads <= 3; threads += 2) {
      tod_threadpool *tp = NULL;
      if (tod_threadpool_create(threads, &tp) != TOD_OK) return 1;
      for (size_t i = 0; i < sizeof conv_cases / sizeof *conv_cases; i++) {
        test_conv(&conv_cases[i], tp, 1);
        if (i % 4 == 0) test_conv(&conv_cases[i], tp, 0); /* weights packed at run */
      }
      for (size_t i = 0; i < sizeof runtime_w_cases / sizeof *runtime_w_cases; i++) {
        test_conv(&runtime_w_cases[i], tp, 0);
        test_conv(&runtime_w_cases[i], tp, 1);
      }
      matmul_cases(tp);
      pool_cases(tp);
      tod_threadpool_free(tp);
    }
    printf("%s: done\n", tod_isa_name(isa));
  }
  tod_cpu_force_isa(-1);
  if (!tested) failures++;
  if (failures) {
    printf("%d failures\n", failures);
    return 1;
  }
  printf("ok\n");
  return 0;
}
