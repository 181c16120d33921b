/* Conv2DFusion's folded and split paths through the kernel_ops interface, for every ISA the CPU
 * supports and 1, 2 and 3 threads, held against direct double-precision loops written here from
 * docs/ops.md:
 *  - a 1x1 convolution folded into the 3x3 depthwise convolution that reads it (kernel.pre, as
 *    runtime/fuse_pointwise_dw.c sets it): strides 1 and 2, padded and unpadded, batches,
 *    channel tails, rows wider than a GEMM chunk, activations of both (clamps and a loop);
 *  - 1x1 convolutions with few pixels, whose threads share (column panel, row tile) units
 *    (panel-major when the output channels are many, row-major otherwise), with and without a
 *    folded residual Add (kernel.post_*);
 *  - 1x1 convolutions whose row tiles are balanced across threads. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "runtime/cpu_features.h"
#include "runtime/kernels/fast_kernels.h"
#include "runtime/threadpool.h"

static int failures;
static unsigned rng_state = 4242;
static float frand(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return (float)((rng_state >> 8) & 0xFFFF) / 32768.0f - 1.0f;
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

static double act_ref(int act, double v) {
  switch (act) {
  case IR_ACT_RELU: return v < 0 ? 0 : v;
  case IR_ACT_RELU6: return v < 0 ? 0 : v > 6 ? 6 : v;
  case IR_ACT_HSWISH: return v * fmin(fmax(v + 3, 0), 6) / 6;
  default: return v;
  }
}

static int compare(const char *what, const float *got, const double *want, size_t n, double tol) {
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

/* A Conv2DFusion node over constant weights w [cout, k, k, cin / group] and bias b. */
static int add_conv(ir_graph *g, int x, int y, int cout, int k, int s, int pad, int group,
                    int cin, int act, const float *w, const float *b) {
  const int64_t wd[4] = {cout, k, k, cin / group}, bd[1] = {cout};
  int tw = ir_add_tensor(g, "w"), tb = ir_add_tensor(g, "b");
  ir_tensor_set_shape(&g->tensors[tw], 4, wd);
  ir_tensor_set_data_borrow(&g->tensors[tw], w, (size_t)cout * k * k * (cin / group) * 4);
  g->tensors[tw].kind = IR_TENSOR_CONST;
  ir_tensor_set_shape(&g->tensors[tb], 1, bd);
  ir_tensor_set_data_borrow(&g->tensors[tb], b, (size_t)cout * 4);
  g->tensors[tb].kind = IR_TENSOR_CONST;
  int ins[3] = {x, tw, tb}, outs[1] = {y};
  int ni = ir_add_node(g, IR_OP_Conv2DFusion, "conv", ins, 3, outs, 1);
  ir_node *n = &g->nodes[ni];
  const int64_t ks[2] = {k, k}, st[2] = {s, s}, dl[2] = {1, 1}, pads[4] = {pad, pad, pad, pad};
  ir_attr_set_ints(n, "kernel_size", ks, 2);
  ir_attr_set_ints(n, "stride", st, 2);
  ir_attr_set_ints(n, "dilation", dl, 2);
  ir_attr_set_ints(n, "pad_list", pads, 4);
  ir_attr_set_int(n, "pad_mode", 0);
  ir_attr_set_int(n, "group", group);
  ir_attr_set_int(n, "activation_type", act);
  return ni;
}

static float *rand_buf(size_t n) {
  float *p = malloc(n * sizeof *p + 4);
  for (size_t i = 0; i < n; i++) p[i] = frand();
  return p;
}

/* ---- 1x1 folded into 3x3 depthwise ---------------------------------------------------------- */
typedef struct {
  int n, h, w, cin, cexp, s, pad, act_pw, act_dw;
} fold_case;

static void test_fold(const fold_case *c, tod_threadpool *tp) {
  const int oh = (c->h + 2 * c->pad - 3) / c->s + 1, ow = (c->w + 2 * c->pad - 3) / c->s + 1;
  const size_t xn = (size_t)c->n * c->h * c->w * c->cin, en = (size_t)c->n * c->h * c->w * c->cexp;
  const size_t yn = (size_t)c->n * oh * ow * c->cexp;
  float *x = rand_buf(xn), *w1 = rand_buf((size_t)c->cexp * c->cin);
  float *b1 = rand_buf((size_t)c->cexp);
  float *w2 = rand_buf((size_t)c->cexp * 9), *b2 = rand_buf((size_t)c->cexp);
  float *y = malloc(yn * sizeof *y);
  double *e = malloc(en * sizeof *e), *r = malloc(yn * sizeof *r);
  for (size_t p = 0; p < (size_t)c->n * c->h * c->w; p++)
    for (int o = 0; o < c->cexp; o++) {
      double s = b1[o];
      for (int i = 0; i < c->cin; i++) s += (double)x[p * c->cin + i] * w1[o * c->cin + i];
      e[p * c->cexp + o] = (double)(float)act_ref(c->act_pw, s); /* stored as float */
    }
  for (int b = 0; b < c->n; b++)
    for (int oy = 0; oy < oh; oy++)
      for (int ox = 0; ox < ow; ox++)
        for (int o = 0; o < c->cexp; o++) {
          double s = b2[o];
          for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
              const int iy = oy * c->s - c->pad + ky, ix = ox * c->s - c->pad + kx;
              if (iy < 0 || iy >= c->h || ix < 0 || ix >= c->w) continue;
              s += e[(((size_t)b * c->h + iy) * c->w + ix) * c->cexp + o] * w2[o * 9 + ky * 3 + kx];
            }
          r[(((size_t)b * oh + oy) * ow + ox) * c->cexp + o] = act_ref(c->act_dw, s);
        }

  const int64_t xd[4] = {c->n, c->h, c->w, c->cin}, ed[4] = {c->n, c->h, c->w, c->cexp},
                yd[4] = {c->n, oh, ow, c->cexp};
  const int64_t w1d[4] = {c->cexp, 1, 1, c->cin}, w2d[4] = {c->cexp, 3, 3, 1}, bd[1] = {c->cexp};
  ir_graph g;
  ir_graph_init(&g);
  int tx = ir_add_tensor(&g, "x"), te = ir_add_tensor(&g, "e"), ty = ir_add_tensor(&g, "y");
  ir_tensor_set_shape(&g.tensors[tx], 4, xd);
  ir_tensor_set_shape(&g.tensors[te], 4, ed);
  ir_tensor_set_shape(&g.tensors[ty], 4, yd);
  int n1 = add_conv(&g, tx, te, c->cexp, 1, 1, 0, 1, c->cin, c->act_pw, w1, b1);
  int n2 = add_conv(&g, te, ty, c->cexp, 3, c->s, c->pad, c->cexp, c->cexp, c->act_dw, w2, b2);
  kernel kp, kd;
  memset(&kp, 0, sizeof kp);
  memset(&kd, 0, sizeof kd);
  kp.ops = kd.ops = &kernel_Conv2DFusion;
  kp.node = &g.nodes[n1];
  kd.node = &g.nodes[n2];
  char what[160];
  snprintf(what, sizeof what, "fold[%s] n%d %dx%dx%d->%d s%d p%d act %d,%d threads %d",
           tod_isa_name(tod_cpu_isa()), c->n, c->h, c->w, c->cin, c->cexp, c->s, c->pad,
           c->act_pw, c->act_dw, tod_threadpool_size(tp));
  tod_status st = kp.ops->create(&kp, &g, &g.nodes[n1]);
  if (st == TOD_OK) st = kd.ops->create(&kd, &g, &g.nodes[n2]);
  const tod_view pin[3] = {view(4, xd, x), view(4, w1d, w1), view(1, bd, b1)};
  const tod_view pout = view(4, ed, NULL);
  tod_view din[3] = {view(4, ed, NULL), view(4, w2d, w2), view(1, bd, b2)}, dout = view(4, yd, y);
  kd.pre = &kp;
  for (int j = 0; j < 3; j++) kd.pre_in[j] = &pin[j];
  kd.pre_out = &pout;
  kd.pre_n_in = 3;
  size_t scratch = 0;
  if (st == TOD_OK) st = kd.ops->setup(&kd, din, 3, &dout, 1, &scratch);
  if (st == TOD_OK) {
    void *buf = aligned_alloc(64, (scratch + 63) / 64 * 64 + 64);
    st = kd.ops->run(&kd, din, 3, &dout, 1, buf, tp);
    free(buf);
  }
  if (st != TOD_OK) {
    fprintf(stderr, "FAIL %s: status %d (%s%s)\n", what, st, kp.err, kd.err);
    failures++;
  } else {
    compare(what, y, r, yn, 1e-5);
  }
  if (kp.state) kp.ops->destroy(&kp);
  if (kd.state) kd.ops->destroy(&kd);
  ir_graph_free(&g);
  free(x), free(w1), free(b1), free(w2), free(b2), free(y), free(e), free(r);
}

static const fold_case fold_cases[] = {
  /* n  h    w  cin cexp s pad act_pw act_dw */
  {1, 16, 16, 16, 96, 2, 1, IR_ACT_RELU6, IR_ACT_RELU6}, /* mobilenet features.2, smaller */
  {2, 9, 11, 24, 40, 1, 1, IR_ACT_RELU6, IR_ACT_RELU6},  /* batch: rows of two images */
  {1, 13, 7, 8, 19, 1, 1, IR_ACT_RELU, IR_ACT_NONE},     /* channel tail, odd sizes */
  {3, 10, 9, 5, 33, 2, 0, IR_ACT_NONE, IR_ACT_RELU},     /* unpadded stride 2 */
  {1, 7, 300, 4, 16, 1, 1, IR_ACT_RELU6, IR_ACT_RELU6},  /* a row wider than a GEMM chunk */
  {2, 11, 5, 6, 20, 2, 1, IR_ACT_HSWISH, IR_ACT_HSWISH}, /* activation loops, not clamps */
  {1, 3, 4, 7, 12, 1, 1, IR_ACT_RELU6, IR_ACT_RELU6},    /* fewer rows than threads */
};

/* ---- 1x1 splits -------------------------------------------------------------------------- */
typedef struct {
  int h, w, cin, cout, act, residual;
} pw_case;

static void test_pw(const pw_case *c, tod_threadpool *tp) {
  const size_t m = (size_t)c->h * c->w, xn = m * c->cin, yn = m * c->cout;
  float *x = rand_buf(xn), *w = rand_buf((size_t)c->cout * c->cin), *b = rand_buf((size_t)c->cout);
  float *res = rand_buf(yn), *y = malloc(yn * sizeof *y), *yo = malloc(yn * sizeof *yo);
  double *r = malloc(yn * sizeof *r);
  for (size_t p = 0; p < m; p++)
    for (int o = 0; o < c->cout; o++) {
      double s = b[o];
      for (int i = 0; i < c->cin; i++) s += (double)x[p * c->cin + i] * w[o * c->cin + i];
      /* A folded Add: the convolution has no activation, the Add's clamp (RELU6) applies. */
      r[p * c->cout + o] = c->residual
                               ? act_ref(IR_ACT_RELU6, (double)(float)s + res[p * c->cout + o])
                               : act_ref(c->act, s);
    }
  const int64_t xd[4] = {1, c->h, c->w, c->cin}, yd[4] = {1, c->h, c->w, c->cout};
  const int64_t wd[4] = {c->cout, 1, 1, c->cin}, bd[1] = {c->cout};
  ir_graph g;
  ir_graph_init(&g);
  int tx = ir_add_tensor(&g, "x"), ty = ir_add_tensor(&g, "y");
  ir_tensor_set_shape(&g.tensors[tx], 4, xd);
  ir_tensor_set_shape(&g.tensors[ty], 4, yd);
  const int act = c->residual ? IR_ACT_NONE : c->act;
  int ni = add_conv(&g, tx, ty, c->cout, 1, 1, 0, 1, c->cin, act, w, b);
  kernel k;
  memset(&k, 0, sizeof k);
  k.ops = &kernel_Conv2DFusion;
  k.node = &g.nodes[ni];
  const tod_view rv = view(4, yd, res), ov = view(4, yd, yo);
  if (c->residual) {
    k.post_res = &rv;
    k.post_out = &ov;
    k.post_act = IR_ACT_RELU6;
  }
  tod_view in[3] = {view(4, xd, x), view(4, wd, w), view(1, bd, b)}, out = view(4, yd, y);
  char what[160];
  snprintf(what, sizeof what, "1x1[%s] %dx%dx%d->%d act %d residual %d threads %d",
           tod_isa_name(tod_cpu_isa()), c->h, c->w, c->cin, c->cout, c->act, c->residual,
           tod_threadpool_size(tp));
  size_t scratch = 0;
  tod_status st = k.ops->create(&k, &g, &g.nodes[ni]);
  if (st == TOD_OK) st = k.ops->setup(&k, in, 3, &out, 1, &scratch);
  if (st == TOD_OK) {
    void *buf = aligned_alloc(64, (scratch + 63) / 64 * 64 + 64);
    st = k.ops->run(&k, in, 3, &out, 1, buf, tp);
    free(buf);
  }
  if (st != TOD_OK) {
    fprintf(stderr, "FAIL %s: status %d (%s)\n", what, st, k.err);
    failures++;
  } else {
    compare(what, c->residual ? yo : y, r, yn, 1e-5);
  }
  if (k.state) k.ops->destroy(&k);
  ir_graph_free(&g);
  free(x), free(w), free(b), free(res), free(y), free(yo), free(r);
}

static const pw_case pw_cases[] = {
  {7, 7, 40, 160, IR_ACT_RELU6, 0}, /* 5 panels: units split 2.5 / 2.5 on two threads */
  {7, 7, 96, 160, IR_ACT_NONE, 1},  /* with a folded residual Add (mobilenet projections) */
  {5, 5, 24, 100, IR_ACT_RELU, 0},  /* last panel of 4 columns, 25 rows */
  {3, 3, 300, 70, IR_ACT_NONE, 1},  /* 9 rows, K blocks */
  {1, 1, 33, 64, IR_ACT_HSWISH, 0}, /* one row */
  {14, 14, 96, 64, IR_ACT_NONE, 1},  /* 196 rows: row-major units (rows shared to one tile) */
  {13, 11, 40, 100, IR_ACT_RELU6, 0}, /* row-major units, last panel of 4 columns */
  {28, 28, 32, 48, IR_ACT_RELU6, 0}, /* 784 rows: tiles balanced across threads */
  {28, 28, 192, 32, IR_ACT_NONE, 1},
};

int main(void) {
  int tested = 0;
  for (int isa = 0; isa < TOD_ISA_COUNT; isa++) {
    if (isa > tod_cpu_isa_max()) {
      printf("skip %s: not supported by this CPU\n", tod_isa_name(isa));
      continue;
    }
    tod_cpu_force_isa(isa);
    tested++;
    for (int threads = 1; threads <= 3; threads++) {
      tod_threadpool *tp = NULL;
      if (tod_threadpool_create(threads, &tp) != TOD_OK) return 1;
      for (size_t i = 0; i < sizeof fold_cases / sizeof *fold_cases; i++)
        test_fold(&fold_cases[i], tp);
      for (size_t i = 0; i < sizeof pw_cases / sizeof *pw_cases; i++) test_pw(&pw_cases[i], tp);
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
