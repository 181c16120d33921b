/* Normalisation for training: FusedBatchNorm's batch-statistics path (bn_train_forward, run by
 * norm/batchnorm.c in train mode), BatchNormGrad, LayerNormFusion and LayerNormGrad.
 *
 * Per-channel sums over the batch are the reductions here. Rows are cut into ranges; each
 * thread sums its ranges into a private double accumulator (slot) and the slots are added at
 * the end, so threads never share memory and float rounding does not grow with batch size. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"
#include "runtime/kernels/gemm/gemm.h"
#include "runtime/kernels/grad/grad.h"

/* ---- channel reductions ------------------------------------------------------------------ */

enum { RED_SUM = 0, RED_SQDEV = 1, RED_BNGRAD = 2 };

typedef struct {
  int mode;
  int64_t rows, c, chunk;
  const float *x, *dy;
  const double *mean, *invstd;
  double *acc; /* slots x 2c */
} red_ctx;

static void red_tasks(void *ctx, size_t slot, size_t begin, size_t end) {
  const red_ctx *r = ctx;
  const int64_t c = r->c;
  double *a0 = r->acc + slot * 2 * (size_t)c, *a1 = a0 + c;
  for (size_t t = begin; t < end; t++) {
    const int64_t r0 = (int64_t)t * r->chunk;
    const int64_t r1 = r0 + r->chunk < r->rows ? r0 + r->chunk : r->rows;
    for (int64_t row = r0; row < r1; row++) {
      const float *x = r->x + row * c;
      if (r->mode == RED_SUM) {
        for (int64_t i = 0; i < c; i++) a0[i] += x[i];
      } else if (r->mode == RED_SQDEV) {
        for (int64_t i = 0; i < c; i++) {
          const double d = x[i] - r->mean[i];
          a0[i] += d * d;
        }
      } else {
        const float *dy = r->dy + row * c;
        for (int64_t i = 0; i < c; i++) {
          a0[i] += dy[i];
          a1[i] += dy[i] * (x[i] - r->mean[i]) * r->invstd[i];
        }
      }
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
 * invstd), then 6c floats of per-channel terms. */
static size_t red_scratch(int64_t c) {
  return (gemm_scratch_slots() * 2 + 2) * (size_t)c * sizeof(double) + 6 * (size_t)c * sizeof(float);
}

size_t bn_train_scratch(int64_t c) { return red_scratch(c); }

typedef struct {
  const float *x, *dy, *a, *b, *c3;
  float *y;
  int64_t c;
} row_job;

/* y = x·a[c] + b[c] */
static void affine_rows(void *ctx, int64_t r0, int64_t r1) {
  const row_job *j = ctx;
  const int64_t c = j->c;
  for (int64_t r = r0; r < r1; r++)
    for (int64_t i = 0; i < c; i++) j->y[r * c + i] = j->x[r * c + i] * j->a[i] + j->b[i];
}

void bn_train_forward(const tod_view *in, tod_view *out, int n_out, float eps, float momentum,
                      void *scratch, tod_threadpool *tp) {
  const tod_view *x = &in[0];
  const int64_t c = x->ndim ? x->dims[x->ndim - 1] : 0;
  const int64_t rows = c > 0 ? knumel(x) / c : 0;
  const size_t slots = gemm_scratch_slots();
  double *acc = scratch, *mean = acc + slots * 2 * (size_t)c, *var = mean + c;
  float *a = (float *)(var + c), *b = a + c;
  const float *scale = in[1].data, *bias = in[2].data;
  red_ctx r = {RED_SUM, rows, c, 0, x->data, NULL, mean, NULL, acc};
  chan_reduce(tp, &r, slots);
  for (int64_t i = 0; i < c; i++) mean[i] = rows ? acc[i] / (double)rows : 0.0;
  r.mode = RED_SQDEV;
  chan_reduce(tp, &r, slots);
  float *rmean = in[3].data, *rvar = in[4].data;
  /* MindSpore Lite: unbiased variance for the running update of 4-D input, biased for 2-D. */
  const double ucorr = x->ndim == 4 && rows > 1 ? (double)rows / (double)(rows - 1) : 1.0;
  for (int64_t i = 0; i < c; i++) {
    var[i] = rows ? acc[i] / (double)rows : 0.0;
    const double inv = 1.0 / sqrt(var[i] + (double)eps);
    a[i] = (float)(scale[i] * inv);
    b[i] = (float)(bias[i] - mean[i] * scale[i] * inv);
  }
  row_job j = {x->data, NULL, a, b, NULL, out[0].data, c};
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
 * training, S1 = Σdy/N, S2 = Σdy·xhat/N (0 in eval: the statistics are constants then). */
typedef struct {
  const float *x, *dy, *t; /* t: A | S1 | S2 | M | IS, c floats each */
  float *dx;
  int64_t c;
} bng_job;

static void bng_rows(void *ctx, int64_t r0, int64_t r1) {
  const bng_job *j = ctx;
  const int64_t c = j->c;
  const float *A = j->t, *S1 = A + c, *S2 = S1 + c, *M = S2 + c, *IS = M + c;
  for (int64_t r = r0; r < r1; r++)
    for (int64_t i = 0; i < c; i++) {
      const float xh = (j->x[r * c + i] - M[i]) * IS[i];
      j->dx[r * c + i] = A[i] * (j->dy[r * c + i] - S1[i] - xh * S2[i]);
    }
}

static tod_status bng_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                          void *scratch, tod_threadpool *tp) {
  const ng_state *s = k->state;
  const int64_t c = s->c, rows = s->rows;
  const size_t slots = gemm_scratch_slots();
  double *acc = scratch, *mean = acc + slots * 2 * (size_t)c, *invstd = mean + c;
  float *t = (float *)(invstd + c);
  const float *scale = in[2].data, *smean = in[3].data, *svar = in[4].data;
  for (int64_t i = 0; i < c; i++) {
    mean[i] = smean[i];
    invstd[i] = 1.0 / sqrt((double)svar[i] + (double)s->eps);
  }
  red_ctx r = {RED_BNGRAD, rows, c, 0, in[1].data, in[0].data, mean, invstd, acc};
  chan_reduce(tp, &r, slots);
  const int train = k->train && s->is_training;
  float *dscale = n_out > 1 ? out[1].data : NULL, *dbias = n_out > 2 ? out[2].data : NULL;
  for (int64_t i = 0; i < c; i++) {
    const double sdy = acc[i], sdyx = acc[c + i];
    if (dbias) dbias[i] = (float)sdy;
    if (dscale) dscale[i] = (float)sdyx;
    t[i] = (float)(scale[i] * invstd[i]);
    t[c + i] = train && rows ? (float)(sdy / (double)rows) : 0.0f;
    t[2 * c + i] = train && rows ? (float)(sdyx / (double)rows) : 0.0f;
    t[3 * c + i] = (float)mean[i];
    t[4 * c + i] = (float)invstd[i];
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
