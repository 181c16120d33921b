/* MatMulFusion, float32: numpy matmul with broadcast batch dimensions, optional transposes of
 * the last two dims, bias over the last dim, fused activation.
 *
 * Each output matrix is one GEMM through the shared driver. A constant B (weights: Linear,
 * Gemm) is packed once at create, bias folded into its panels; a variable B is packed per
 * batch into scratch. A transposed A is copied into scratch, since the micro-kernels read A
 * rows in place. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/fast_kernels.h"
#include "runtime/kernels/gemm/fused_act.h"
#include "runtime/kernels/gemm/gemm.h"

typedef struct {
  int trans_a, trans_b, act, act_loop;
  gemm_minmax mm;
  const gemm_config *gemm;
  /* constant B, packed per B batch matrix (bias included) */
  float *packed;
  size_t packed_one; /* floats per packed matrix */
  int b_const;
  int64_t cb_dims[IR_MAX_DIMS];
  int cb_ndim;
  /* per shape */
  size_t m, k, n, batches;
  int nb; /* rank of the broadcast batch shape */
  int64_t bdims[IR_MAX_DIMS];
  size_t a_stride[IR_MAX_DIMS], b_stride[IR_MAX_DIMS]; /* in matrices; 0 = broadcast */
  size_t scratch_at, scratch_b;                        /* float offsets in scratch */
} matmul_state;

static void matmul_destroy(kernel *k) {
  matmul_state *s = k->state;
  if (!s) return;
  free(s->packed);
  free(s);
  k->state = NULL;
}

/* K, N of B and the count of B matrices, from its shape. */
static void b_geometry(const matmul_state *s, int ndim, const int64_t *d, size_t *kk, size_t *nn,
                       size_t *count) {
  if (ndim == 1) {
    *kk = (size_t)d[0];
    *nn = 1;
    *count = 1;
    return;
  }
  const size_t r = (size_t)d[ndim - 2], c = (size_t)d[ndim - 1];
  *kk = s->trans_b ? c : r;
  *nn = s->trans_b ? r : c;
  size_t cnt = 1;
  for (int i = 0; i < ndim - 2; i++) cnt *= (size_t)d[i];
  *count = cnt;
}

static void pack_b_matrix(const matmul_state *s, int b_ndim, const float *b, size_t kk, size_t nn,
                          const float *bias, float *dst) {
  if (b_ndim == 1)
    gemm_pack_b(s->gemm, kk, nn, b, 1, 0, bias, dst);
  else if (s->trans_b)
    gemm_pack_b(s->gemm, kk, nn, b, kk, 1, bias, dst);
  else
    gemm_pack_b(s->gemm, kk, nn, b, nn, 0, bias, dst);
}

static tod_status matmul_create(kernel *k, const ir_graph *g, const ir_node *n) {
  if (n->n_in < 2 || n->n_out < 1 || n->in[0] < 0 || n->in[1] < 0) {
    snprintf(k->err, sizeof k->err, "MatMulFusion: needs two inputs");
    return TOD_INPUT_TENSOR_ERROR;
  }
  const ir_tensor *a = &g->tensors[n->in[0]], *b = &g->tensors[n->in[1]];
  const ir_tensor *bias = n->n_in > 2 && n->in[2] >= 0 ? &g->tensors[n->in[2]] : NULL;
  if (a->dtype != IR_DT_FLOAT32 || b->dtype != IR_DT_FLOAT32 ||
      (bias && bias->dtype != IR_DT_FLOAT32)) {
    snprintf(k->err, sizeof k->err, "MatMulFusion: only float32 is supported");
    return TOD_NOT_SUPPORT;
  }
  matmul_state *s = calloc(1, sizeof *s);
  if (!s) return TOD_MEMORY_FAILED;
  k->state = s;
  s->trans_a = ir_attr_int(n, "transpose_a", 0) != 0;
  s->trans_b = ir_attr_int(n, "transpose_b", 0) != 0;
  s->act = (int)ir_attr_int(n, "activation_type", 0);
  tod_status st = fused_act_init(s->act, &s->mm, &s->act_loop);
  if (st != TOD_OK) {
    snprintf(k->err, sizeof k->err, "MatMulFusion: activation %d not supported", s->act);
    matmul_destroy(k);
    return st;
  }
  int known = b->ndim >= 1;
  for (int i = 0; i < b->ndim; i++) known = known && b->dims[i] >= 0;
  const int bias_const = !bias || (bias->kind == IR_TENSOR_CONST && bias->data);
  if (b->kind == IR_TENSOR_CONST && b->data && known && bias_const) {
    size_t kk, nn, cnt;
    b_geometry(s, b->ndim, b->dims, &kk, &nn, &cnt);
    s->gemm = gemm_config_get(nn);
    if (b->nbytes < kk * nn * cnt * sizeof(float) ||
        (bias && bias->nbytes < nn * sizeof(float))) {
      snprintf(k->err, sizeof k->err, "MatMulFusion: constant B or bias data too short");
      matmul_destroy(k);
      return TOD_INPUT_TENSOR_ERROR;
    }
    s->packed_one = gemm_packed_size(s->gemm, kk, nn);
    s->packed = malloc((s->packed_one * cnt + 1) * sizeof(float));
    if (!s->packed) {
      matmul_destroy(k);
      return TOD_MEMORY_FAILED;
    }
    for (size_t i = 0; i < cnt; i++)
      pack_b_matrix(s, b->ndim, (const float *)b->data + i * kk * nn, kk, nn,
                    bias ? bias->data : NULL, s->packed + i * s->packed_one);
    s->b_const = 1;
    s->cb_ndim = b->ndim;
    memcpy(s->cb_dims, b->dims, sizeof s->cb_dims);
  }
  return TOD_OK;
}

static tod_status matmul_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                               int n_out, size_t *scratch) {
  matmul_state *s = k->state;
  *scratch = 0;
  const tod_view *a = &in[0], *b = &in[1];
  if (n_in < 2 || n_out < 1 || a->ndim < 1 || b->ndim < 1) {
    snprintf(k->err, sizeof k->err, "MatMulFusion: inputs must have rank >= 1");
    return TOD_INPUT_TENSOR_ERROR;
  }
  if (a->dtype != IR_DT_FLOAT32 || b->dtype != IR_DT_FLOAT32 || out[0].dtype != IR_DT_FLOAT32) {
    snprintf(k->err, sizeof k->err, "MatMulFusion: only float32 is supported");
    return TOD_NOT_SUPPORT;
  }
  if (s->b_const && (b->ndim != s->cb_ndim ||
                     memcmp(b->dims, s->cb_dims, (size_t)b->ndim * sizeof(int64_t)))) {
    snprintf(k->err, sizeof k->err, "MatMulFusion: constant B changed shape");
    return TOD_INPUT_TENSOR_ERROR;
  }
  size_t am, ak;
  if (a->ndim == 1) {
    am = 1;
    ak = (size_t)a->dims[0];
  } else {
    const size_t r = (size_t)a->dims[a->ndim - 2], c = (size_t)a->dims[a->ndim - 1];
    am = s->trans_a ? c : r;
    ak = s->trans_a ? r : c;
  }
  size_t bk, bn, bcnt;
  b_geometry(s, b->ndim, b->dims, &bk, &bn, &bcnt);
  if (ak != bk) {
    snprintf(k->err, sizeof k->err, "MatMulFusion: inner dims differ (%zu vs %zu)", ak, bk);
    return TOD_INPUT_TENSOR_ERROR;
  }
  if (n_in > 2 && in[2].data) {
    size_t bias_n = 1;
    for (int i = 0; i < in[2].ndim; i++) bias_n *= (size_t)in[2].dims[i];
    if (bias_n != bn) {
      snprintf(k->err, sizeof k->err, "MatMulFusion: bias has %zu values, N is %zu", bias_n, bn);
      return TOD_INPUT_TENSOR_ERROR;
    }
  }
  if (!s->b_const) s->gemm = gemm_config_get(bn); /* packed per run: pick by this N */
  s->m = am;
  s->k = ak;
  s->n = bn;
  /* Broadcast batch dims, right-aligned as numpy does. */
  const int ra = a->ndim > 2 ? a->ndim - 2 : 0, rb = b->ndim > 2 ? b->ndim - 2 : 0;
  s->nb = ra > rb ? ra : rb;
  size_t sa = 1, sb = 1;
  s->batches = 1;
  for (int i = s->nb - 1; i >= 0; i--) {
    const int ia = i - (s->nb - ra), ib = i - (s->nb - rb);
    const int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
    if (da != db && da != 1 && db != 1) {
      snprintf(k->err, sizeof k->err, "MatMulFusion: batch dims %lld and %lld do not broadcast",
               (long long)da, (long long)db);
      return TOD_INPUT_TENSOR_ERROR;
    }
    s->bdims[i] = da > db ? da : db;
    s->a_stride[i] = da == 1 ? 0 : sa;
    s->b_stride[i] = db == 1 ? 0 : sb;
    sa *= (size_t)da;
    sb *= (size_t)db;
    s->batches *= (size_t)s->bdims[i];
  }
  size_t on = 1;
  for (int i = 0; i < out[0].ndim; i++) on *= (size_t)out[0].dims[i];
  if (on != s->batches * s->m * s->n) {
    snprintf(k->err, sizeof k->err, "MatMulFusion: output has %zu values, expected %zu", on,
             s->batches * s->m * s->n);
    return TOD_INPUT_TENSOR_ERROR;
  }
  size_t floats = 0;
  s->scratch_at = 0;
  if (s->trans_a && a->ndim > 1) floats += (s->m * s->k + 15) / 16 * 16;
  s->scratch_b = floats;
  if (!s->b_const) floats += gemm_packed_size(s->gemm, s->k, s->n);
  *scratch = floats * sizeof(float);
  return TOD_OK;
}

static tod_status matmul_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                             void *scratch, tod_threadpool *tp) {
  const matmul_state *s = k->state;
  const float *a = in[0].data, *b = in[1].data;
  const float *bias = n_in > 2 && in[2].data ? in[2].data : NULL;
  float *y = out[0].data;
  float *sf = scratch;
  const size_t m = s->m, kk = s->k, n = s->n;
  for (size_t bi = 0; bi < s->batches; bi++) {
    size_t ao = 0, bo = 0, rem = bi;
    for (int i = s->nb - 1; i >= 0; i--) {
      const size_t idx = rem % (size_t)s->bdims[i];
      rem /= (size_t)s->bdims[i];
      ao += idx * s->a_stride[i];
      bo += idx * s->b_stride[i];
    }
    const float *am = a + ao * m * kk;
    if (s->trans_a && in[0].ndim > 1) {
      float *at = sf + s->scratch_at;
      for (size_t r = 0; r < kk; r++)
        for (size_t c = 0; c < m; c++) at[c * kk + r] = am[r * m + c];
      am = at;
    }
    const float *packed;
    if (s->b_const) {
      packed = s->packed + bo * s->packed_one;
    } else {
      float *pb = sf + s->scratch_b;
      pack_b_matrix(s, in[1].ndim, b + bo * kk * n, kk, n, bias, pb);
      packed = pb;
    }
    float *ym = y + bi * m * n;
    gemm_parallel(tp, s->gemm, m, n, kk, am, kk, packed, ym, n, &s->mm);
    if (s->act_loop) fused_act_apply(s->act, ym, m * n);
  }
  return TOD_OK;
}

const kernel_ops kernel_MatMulFusion = {IR_OP_MatMulFusion, matmul_create, matmul_setup,
                                        matmul_run, matmul_destroy};
