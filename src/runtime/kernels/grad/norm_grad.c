/* Normalisation for training: FusedBatchNorm's batch-statistics path (bn_train_forward, run by
 * norm/batchnorm.c in train mode), BatchNormGrad, LayerNormFusion and LayerNormGrad.
 *
 * Per-channel sums over the batch are the reductions here. Rows are cut into ranges; each
 * thread sums its ranges into a private double accumulator (slot) and the slots are added at
 * the end, so threads never share memory and float rounding does not grow with batch size. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "runtime/kernels/common/kutil.h"
#include "runtime/kernels/gemm/gemm.h"
#include "runtime/kernels/grad/grad.h"

/* ---- channel reductions ------------------------------------------------------------------ */

/* Both reductions are one pass over [rows, c] with d = x - shift[c]:
 *   RED_MOMENTS: s0 += d, s1 += d·d   (FusedBatchNorm: mean and variance about a shift near
 *                the mean, so the single pass does not cancel catastrophically)
 *   RED_BNGRAD:  s0 += dy, s1 += dy·d (BatchNormGrad, shift = the saved mean)
 * Blocks of at most RED_BLOCK rows sum in float vectors, then add into double slots. */
enum { RED_MOMENTS = 0, RED_BNGRAD = 1 };
#define RED_BLOCK 32

typedef struct {
  int mode;
  int64_t rows, c, chunk;
  const float *x, *dy, *shift;
  double *acc; /* slots x 2c */
  float *facc; /* slots x 2c: one block's float sums */
} red_ctx;

/* One block of rows into the float sums f0, f1 (zeroed by the caller). Rows outer: the
 * tensors stream through once in memory order (the passes are bound by memory bandwidth). */
static void red_block(const red_ctx *r, int64_t r0, int64_t r1, float *f0, float *f1) {
  const int64_t c = r->c;
  const float *sh = r->shift;
  for (int64_t row = r0; row < r1; row++) {
    const float *x = r->x + row * c, *u = r->mode == RED_BNGRAD ? r->dy + row * c : NULL;
    int64_t i = 0;
#if defined(__SSE2__)
    for (; i + 4 <= c; i += 4) {
      const __m128 d = _mm_sub_ps(_mm_loadu_ps(x + i), _mm_loadu_ps(sh + i));
      const __m128 w = u ? _mm_loadu_ps(u + i) : d;
      _mm_storeu_ps(f0 + i, _mm_add_ps(_mm_loadu_ps(f0 + i), w));
      _mm_storeu_ps(f1 + i, _mm_add_ps(_mm_loadu_ps(f1 + i), _mm_mul_ps(w, d)));
    }
#endif
    for (; i < c; i++) {
      const float d = x[i] - sh[i], w = u ? u[i] : d;
      f0[i] += w;
      f1[i] += w * d;
    }
  }
}

static void red_tasks(void *ctx, size_t slot, size_t begin, size_t end) {
  const red_ctx *r = ctx;
  const int64_t c = r->c;
  double *a0 = r->acc + slot * 2 * (size_t)c, *a1 = a0 + c;
  float *f0 = r->facc + slot * 2 * (size_t)c, *f1 = f0 + c;
  const int64_t r0 = (int64_t)begin * r->chunk;
  const int64_t r1 = (int64_t)end * r->chunk < r->rows ? (int64_t)end * r->chunk : r->rows;
  for (int64_t b = r0; b < r1; b += RED_BLOCK) {
    memset(f0, 0, 2 * (size_t)c * sizeof(float));
    red_block(r, b, b + RED_BLOCK < r1 ? b + RED_BLOCK : r1, f0, f1);
    for (int64_t i = 0; i < c; i++) {
      a0[i] += f0[i];
      a1[i] += f1[i];
    }
  }
}

/* Runs one reduction; the result is in acc[0..2c) (slot 0) afterwards. */
static void chan_reduce(tod_threadpool *tp, red_ctx *r, size_t slots) {
  const size_t c = (size_t)r->c;
  r->chunk = r->c > 0 ? 8192 / r->c : 1;
  if (r->chunk < 1) r->chunk = 1;
  const size_t tasks = (size_t)((r->rows + r->chunk - 1) / r->chunk);
  if (slots > tasks) slots = tasks ? tasks : 1;
  memset(r->acc, 0, slots * 2 * c * sizeof(double));
  gemm_run_slots(tp, slots, tasks, red_tasks, r);
  for (size_t s = 1; s < slots; s++)
    for (size_t i = 0; i < 2 * c; i++) r->acc[i] += r->acc[s * 2 * c + i];
}

/* Scratch: slots x 2c doubles of accumulators, then two c-double vectors (mean, var or
 * invstd), then 6c floats of per-channel terms, then slots x 2c floats of block sums. */
static size_t red_scratch(int64_t c) {
  return (gemm_scratch_slots() * 2 + 2) * (size_t)c * sizeof(double) +
         (6 + 2 * gemm_scratch_slots()) * (size_t)c * sizeof(float);
}

size_t bn_train_scratch(int64_t c) { return red_scratch(c); }

typedef struct {
  const float *x, *dy, *a, *b, *c3, *c4;
  float *y;
  int64_t c;
  int clamp;   /* a fused RELU / RELU6: y = min(max(y, 0), hi) */
  float hi;
} row_job;

/* y = x·a[c] + b[c] */
static void affine_rows(void *ctx, int64_t r0, int64_t r1) {
  const row_job *j = ctx;
  const int64_t c = j->c;
  for (int64_t r = r0; r < r1; r++) {
    const float *x = j->x + r * c;
    float *y = j->y + r * c;
    int64_t i = 0;
    if (j->clamp) {
#if defined(__SSE2__)
      /* maxps returns its second operand (0) for NaN, as the Activation kernel does */
      const __m128 zero = _mm_setzero_ps(), hi = _mm_set1_ps(j->hi);
      for (; i + 4 <= c; i += 4) {
        const __m128 v = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(x + i), _mm_loadu_ps(j->a + i)),
                                    _mm_loadu_ps(j->b + i));
        _mm_storeu_ps(y + i, _mm_min_ps(_mm_max_ps(v, zero), hi));
      }
#endif
      for (; i < c; i++) {
        const float v = x[i] * j->a[i] + j->b[i], p = v > 0.0f ? v : 0.0f;
        y[i] = p < j->hi ? p : j->hi;
      }
      continue;
    }
#if defined(__SSE2__)
    for (; i + 4 <= c; i += 4)
      _mm_storeu_ps(y + i, _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(x + i), _mm_loadu_ps(j->a + i)),
                                      _mm_loadu_ps(j->b + i)));
#endif
    for (; i < c; i++) y[i] = x[i] * j->a[i] + j->b[i];
  }
}

void bn_train_forward(const tod_view *in, tod_view *out, int n_out, float eps, float momentum,
                      float *y, int act, void *scratch, tod_threadpool *tp) {
  const tod_view *x = &in[0];
  const int64_t c = x->ndim ? x->dims[x->ndim - 1] : 0;
  const int64_t rows = c > 0 ? knumel(x) / c : 0;
  const size_t slots = gemm_scratch_slots();
  double *acc = scratch, *mean = acc + slots * 2 * (size_t)c, *var = mean + c;
  float *a = (float *)(var + c), *b = a + c, *shift = b + c, *facc = a + 6 * c;
  const float *scale = in[1].data, *bias = in[2].data;
  const float *xd = x->data;
  /* The first row as the shift: close to the mean for any real activation. */
  for (int64_t i = 0; i < c; i++) shift[i] = rows ? xd[i] : 0.0f;
  red_ctx r = {RED_MOMENTS, rows, c, 0, xd, NULL, shift, acc, facc};
  chan_reduce(tp, &r, slots);
  float *rmean = in[3].data, *rvar = in[4].data;
  /* MindSpore Lite: unbiased variance for the running update of 4-D input, biased for 2-D. */
  const double ucorr = x->ndim == 4 && rows > 1 ? (double)rows / (double)(rows - 1) : 1.0;
  for (int64_t i = 0; i < c; i++) {
    const double m1 = rows ? acc[i] / (double)rows : 0.0;
    const double v = rows ? acc[c + i] / (double)rows - m1 * m1 : 0.0;
    mean[i] = (double)shift[i] + m1;
    var[i] = v > 0.0 ? v : 0.0;
    const double inv = 1.0 / sqrt(var[i] + (double)eps);
    a[i] = (float)(scale[i] * inv);
    b[i] = (float)(bias[i] - mean[i] * scale[i] * inv);
  }
  row_job j = {xd,   NULL, a, b, NULL, NULL, y, c, act == IR_ACT_RELU || act == IR_ACT_RELU6,
               act == IR_ACT_RELU6 ? 6.0f : INFINITY};
  int64_t grain = c > 0 ? 16384 / c : 1;
  kpar_for(tp, rows, grain < 1 ? 1 : grain, affine_rows, &j);
  for (int64_t i = 0; i < c; i++) {
    rmean[i] = (float)((1.0 - momentum) * rmean[i] + momentum * mean[i]);
    rvar[i] = (float)((1.0 - momentum) * rvar[i] + momentum * var[i] * ucorr);
  }
  if (n_out > 1 && out[1].data) memcpy(out[1].data, scale, (size_t)c * sizeof(float));
  if (n_out > 2 && out[2].data) memcpy(out[2].data, bias, (size_t)c * sizeof(float));
  for (int64_t i = 0; i < c; i++) {
    if (n_out > 3 && out[3].data) ((float *)out[3].data)[i] = (float)mean[i];
    if (n_out > 4 && out[4].data) ((float *)out[4].data)[i] = (float)var[i];
  }
}

/* ---- BatchNormGrad ----------------------------------------------------------------------- */

typedef struct {
  float eps;
  int is_training, is_layer; /* is_layer: LayerNormFusion / LayerNormGrad */
  int norm_axis, params_axis;
  int64_t rows, c; /* BN: rows x channels; LN: blocks x block size */
  int64_t pnum;    /* LN: parameter count */
  int n_out;
} ng_state;

static void ng_destroy(kernel *k) {
  free(k->state);
  k->state = NULL;
}

static tod_status ng_create_i(kernel *k, const ir_graph *g, const ir_node *n) {
  ng_state *s = calloc(1, sizeof *s);
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  k->state = s;
  const int need = n->op == IR_OP_LayerNormFusion ? 1 : 5;
  if (n->n_in < need || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs %d inputs", need);
  for (int i = 0; i < n->n_in && i < 5; i++)
    if (n->in[i] >= 0 && g->tensors[n->in[i]].dtype != IR_DT_FLOAT32)
      return kfail(k, TOD_NOT_SUPPORT, "only float32 is supported");
  /* Absent attributes take ops.fbs's defaults (a .ms omits fields equal to them):
   * BatchNormGrad epsilon 0 and is_training false, LayerNormFusion epsilon 1e-5, axes 0. */
  s->eps = (float)ir_attr_float(n, "epsilon", n->op == IR_OP_LayerNormFusion ? 1e-5 : 0.0);
  if (!(s->eps >= 0.0f)) return kfail(k, TOD_INVALID_OP_ATTR, "epsilon must be >= 0");
  s->is_training = ir_attr_int(n, "is_training", 0) != 0;
  s->is_layer = n->op != IR_OP_BatchNormGrad;
  s->norm_axis = (int)ir_attr_int(n, "begin_norm_axis", 0);
  s->params_axis = (int)ir_attr_int(n, "begin_params_axis", 0);
  return TOD_OK;
}
KCREATE_GUARDED(ng_create, ng_create_i, ng_destroy)

static tod_status bng_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                            int n_out, size_t *scratch) {
  ng_state *s = k->state;
  const tod_view *x = &in[1];
  if (x->ndim < 1 || !kshape_equal(&in[0], x) || knumel(&out[0]) != knumel(x))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "dy, x and dx must have the same shape");
  s->c = x->dims[x->ndim - 1];
  s->rows = s->c > 0 ? knumel(x) / s->c : 0;
  for (int i = 2; i < 5; i++)
    if (in[i].dtype != IR_DT_FLOAT32 || knumel(&in[i]) != s->c)
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "input %d must have %lld values", i, (long long)s->c);
  for (int i = 0; i < n_out && i < 3; i++)
    if (out[i].dtype != IR_DT_FLOAT32 || (i > 0 && knumel(&out[i]) != s->c))
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "output %d has the wrong size or type", i);
  s->n_out = n_out;
  *scratch = red_scratch(s->c);
  return TOD_OK;
}

/* dx = A·(dy − S1 − xhat·S2), xhat = (x − M)·IS; per channel A = scale·invstd and, in
 * training, S1 = Σdy/N, S2 = Σdy·xhat/N (0 in eval: the statistics are constants then).
 * Computed as dx = A·(dy − S1) − B·(x − M) with B = A·IS·S2. */
typedef struct {
  const float *x, *dy, *t; /* t: A | S1 | B | M, c floats each */
  float *dx;
  int64_t c;
} bng_job;

static void bng_rows(void *ctx, int64_t r0, int64_t r1) {
  const bng_job *j = ctx;
  const int64_t c = j->c;
  const float *A = j->t, *S1 = A + c, *B = S1 + c, *M = B + c;
  for (int64_t r = r0; r < r1; r++) {
    const float *x = j->x + r * c, *dy = j->dy + r * c;
    float *dx = j->dx + r * c;
    int64_t i = 0;
#if defined(__SSE2__)
    for (; i + 4 <= c; i += 4) {
      const __m128 g = _mm_mul_ps(_mm_loadu_ps(A + i), _mm_sub_ps(_mm_loadu_ps(dy + i), _mm_loadu_ps(S1 + i)));
      const __m128 h = _mm_mul_ps(_mm_loadu_ps(B + i), _mm_sub_ps(_mm_loadu_ps(x + i), _mm_loadu_ps(M + i)));
      _mm_storeu_ps(dx + i, _mm_sub_ps(g, h));
    }
#endif
    for (; i < c; i++) dx[i] = A[i] * (dy[i] - S1[i]) - B[i] * (x[i] - M[i]);
  }
}

static tod_status bng_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                          void *scratch, tod_threadpool *tp) {
  const ng_state *s = k->state;
  const int64_t c = s->c, rows = s->rows;
  const size_t slots = gemm_scratch_slots();
  double *acc = scratch, *mean = acc + slots * 2 * (size_t)c, *invstd = mean + c;
  float *t = (float *)(invstd + c), *facc = t + 6 * c;
  const float *scale = in[2].data, *smean = in[3].data, *svar = in[4].data;
  for (int64_t i = 0; i < c; i++) {
    mean[i] = smean[i];
    invstd[i] = 1.0 / sqrt((double)svar[i] + (double)s->eps);
    t[3 * c + i] = smean[i];
  }
  red_ctx r = {RED_BNGRAD, rows, c, 0, in[1].data, in[0].data, t + 3 * c, acc, facc};
  chan_reduce(tp, &r, slots);
  const int train = k->train && s->is_training;
  float *dscale = n_out > 1 ? out[1].data : NULL, *dbias = n_out > 2 ? out[2].data : NULL;
  for (int64_t i = 0; i < c; i++) {
    const double sdy = acc[i], sdyx = acc[c + i] * invstd[i];
    if (dbias) dbias[i] = (float)sdy;
    if (dscale) dscale[i] = (float)sdyx;
    const double A = scale[i] * invstd[i];
    t[i] = (float)A;
    t[c + i] = train && rows ? (float)(sdy / (double)rows) : 0.0f;
    t[2 * c + i] = train && rows ? (float)(A * invstd[i] * sdyx / (double)rows) : 0.0f;
  }
  bng_job j = {in[1].data, in[0].data, t, out[0].data, c};
  int64_t grain = c > 0 ? 16384 / c : 1;
  kpar_for(tp, rows, grain < 1 ? 1 : grain, bng_rows, &j);
  return TOD_OK;
}

/* ---- LayerNormFusion and LayerNormGrad --------------------------------------------------- */
/* x is viewed as [blocks, D] with D the product of the normalised axes [begin_norm_axis, rank);
 * gamma/beta cover the axes [begin_params_axis, rank), so element e uses parameter e % P. */

static tod_status ln_axes(kernel *k, ng_state *s, const tod_view *x, const tod_view *gamma) {
  int rank = x->ndim, na = s->norm_axis, pa = s->params_axis;
  if (na < 0) na += rank;
  if (pa < 0) pa += rank;
  if (rank < 1 || na < 0 || na >= rank || pa < 0 || pa >= rank)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "begin_norm_axis %d / begin_params_axis %d out of "
                 "range for rank %d", s->norm_axis, s->params_axis, rank);
  int64_t d = 1, p = 1;
  for (int i = na; i < rank; i++) d *= x->dims[i];
  for (int i = pa; i < rank; i++) p *= x->dims[i];
  s->c = d;
  s->rows = d > 0 ? knumel(x) / d : 0;
  s->pnum = p;
  if (gamma && gamma->ndim >= 0 && knumel(gamma) != p)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "gamma has %lld values, the axes need %lld",
                 (long long)knumel(gamma), (long long)p);
  return TOD_OK;
}

static tod_status ln_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                           int n_out, size_t *scratch) {
  ng_state *s = k->state;
  *scratch = 0;
  const int affine = n_in > 2 && in[1].data && in[2].data;
  if (in[0].dtype != IR_DT_FLOAT32 || !kshape_equal(&in[0], &out[0]))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "x and y must be float32 of the same shape");
  tod_status st = ln_axes(k, s, &in[0], affine ? &in[1] : NULL);
  if (st) return st;
  if (affine && knumel(&in[2]) != s->pnum)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "beta has the wrong size");
  for (int i = 1; i < n_out && i < 3; i++)
    if (knumel(&out[i]) != s->rows || out[i].dtype != IR_DT_FLOAT32)
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "mean/variance outputs need %lld values",
                   (long long)s->rows);
  s->n_out = n_out;
  return TOD_OK;
}

typedef struct {
  const ng_state *s;
  const float *x, *dy, *gamma, *beta, *mean, *var;
  float *y, *omean, *ovar;
} ln_job;

static void ln_blocks(void *ctx, int64_t b0, int64_t b1) {
  const ln_job *j = ctx;
  const int64_t d = j->s->c, p = j->s->pnum;
  for (int64_t b = b0; b < b1; b++) {
    const float *x = j->x + b * d;
    float *y = j->y + b * d;
    double m = 0.0, v = 0.0;
    for (int64_t i = 0; i < d; i++) m += x[i];
    m /= (double)d;
    for (int64_t i = 0; i < d; i++) v += (x[i] - m) * (x[i] - m);
    v /= (double)d;
    const double inv = 1.0 / sqrt(v + (double)j->s->eps);
    for (int64_t i = 0; i < d; i++) {
      float xh = (float)((x[i] - m) * inv);
      if (j->gamma) {
        const int64_t e = (b * d + i) % p;
        xh = xh * j->gamma[e] + j->beta[e];
      }
      y[i] = xh;
    }
    if (j->omean) j->omean[b] = (float)m;
    if (j->ovar) j->ovar[b] = (float)v;
  }
}

static tod_status ln_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                         void *scratch, tod_threadpool *tp) {
  const ng_state *s = k->state;
  const int affine = n_in > 2 && in[1].data && in[2].data;
  ln_job j = {s,           in[0].data, NULL, affine ? in[1].data : NULL, affine ? in[2].data : NULL,
              NULL,        NULL,       out[0].data, n_out > 1 ? out[1].data : NULL,
              n_out > 2 ? out[2].data : NULL};
  int64_t grain = s->c > 0 ? 16384 / s->c : 1;
  kpar_for(tp, s->rows, grain < 1 ? 1 : grain, ln_blocks, &j);
  return TOD_OK;
}

/* LayerNormGrad(x, dy, var, mean, gamma) -> dx, dgamma, dbeta. The variance is MindSpore's
 * forward output (biased); like nnacl the gradient adds a fixed 1e-12, not the forward eps. */
#define LN_GRAD_EPS 1e-12

static tod_status lng_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                            int n_out, size_t *scratch) {
  ng_state *s = k->state;
  for (int i = 0; i < 5; i++)
    if (in[i].dtype != IR_DT_FLOAT32) return kfail(k, TOD_NOT_SUPPORT, "only float32 is supported");
  if (!kshape_equal(&in[0], &in[1]) || knumel(&out[0]) != knumel(&in[0]))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "x, dy and dx must have the same shape");
  tod_status st = ln_axes(k, s, &in[0], &in[4]);
  if (st) return st;
  if (knumel(&in[2]) != s->rows || knumel(&in[3]) != s->rows)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "mean and variance need %lld values", (long long)s->rows);
  for (int i = 1; i < n_out && i < 3; i++)
    if (knumel(&out[i]) != s->pnum)
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "dgamma/dbeta need %lld values", (long long)s->pnum);
  s->n_out = n_out;
  *scratch = 0;
  return TOD_OK;
}

static void lng_dx_blocks(void *ctx, int64_t b0, int64_t b1) {
  const ln_job *j = ctx;
  const int64_t d = j->s->c, p = j->s->pnum;
  for (int64_t b = b0; b < b1; b++) {
    const float *x = j->x + b * d, *dy = j->dy + b * d;
    const double m = j->mean[b], inv = 1.0 / sqrt((double)j->var[b] + LN_GRAD_EPS);
    double s1 = 0.0, s2 = 0.0;
    for (int64_t i = 0; i < d; i++) {
      const double g = (double)dy[i] * j->gamma[(b * d + i) % p];
      s1 += g;
      s2 += g * (x[i] - m) * inv;
    }
    s1 /= (double)d;
    s2 /= (double)d;
    for (int64_t i = 0; i < d; i++) {
      const double g = (double)dy[i] * j->gamma[(b * d + i) % p];
      j->y[b * d + i] = (float)(inv * (g - s1 - (x[i] - m) * inv * s2));
    }
  }
}

/* Parameter ranges: element e contributes to parameter e % P. */
static void lng_param_range(void *ctx, int64_t p0, int64_t p1) {
  const ln_job *j = ctx;
  const int64_t d = j->s->c, p = j->s->pnum, total = j->s->rows * d;
  for (int64_t q = p0; q < p1; q++) {
    double dg = 0.0, db = 0.0;
    for (int64_t e = q; e < total; e += p) {
      const int64_t b = e / d;
      const double inv = 1.0 / sqrt((double)j->var[b] + LN_GRAD_EPS);
      dg += (double)j->dy[e] * (j->x[e] - j->mean[b]) * inv;
      db += j->dy[e];
    }
    if (j->omean) j->omean[q] = (float)dg;
    if (j->ovar) j->ovar[q] = (float)db;
  }
}

static tod_status lng_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                          void *scratch, tod_threadpool *tp) {
  const ng_state *s = k->state;
  ln_job j = {s,          in[0].data, in[1].data, in[4].data, NULL, in[3].data, in[2].data,
              out[0].data, n_out > 1 ? out[1].data : NULL, n_out > 2 ? out[2].data : NULL};
  int64_t grain = s->c > 0 ? 16384 / s->c : 1;
  kpar_for(tp, s->rows, grain < 1 ? 1 : grain, lng_dx_blocks, &j);
  if (j.omean || j.ovar) kpar_for(tp, s->pnum, 64, lng_param_range, &j);
  return TOD_OK;
}

const kernel_ops kernel_BatchNormGrad = {IR_OP_BatchNormGrad, ng_create, bng_setup, bng_run,
                                         ng_destroy};
const kernel_ops kernel_LayerNormFusion = {IR_OP_LayerNormFusion, ng_create, ln_setup, ln_run,
                                           ng_destroy};
const kernel_ops kernel_LayerNormGrad = {IR_OP_LayerNormGrad, ng_create, lng_setup, lng_run,
                                         ng_destroy};
