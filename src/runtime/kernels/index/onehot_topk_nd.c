/* OneHot, TopKFusion, GatherNd, ScatterElements, ScatterNdUpdate, TensorScatterAdd on any dtype
 * (docs/ops.md). Every index read from a tensor is range-checked: negative indices wrap once,
 * others out of range fail the run (OneHot: an out-of-range index gives an all-off lane). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"
#include "runtime/kernels/common/kvalue.h"

static tod_status ix_create(kernel *k, const ir_graph *g, const ir_node *n) {
  (void)g;
  if (n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "has no output");
  return TOD_OK;
}

static int is_int(int dt) { return dt == IR_DT_INT32 || dt == IR_DT_INT64; }

static tod_status ix_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out, int n_out,
                           size_t *scratch) {
  *scratch = 0;
  int op = k->node->op;
  if (!kv_supported(in[0].dtype) || !kv_supported(out[0].dtype)) return kfail(k, TOD_NOT_SUPPORT, "dtype %s", ir_dtype_name(in[0].dtype));
  int need = op == IR_OP_OneHot ? 4 : op == IR_OP_TopKFusion || op == IR_OP_GatherNd ? 2 : 3;
  if (n_in < need) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs %d inputs", need);
  if (op != IR_OP_OneHot && op != IR_OP_TopKFusion && !is_int(in[1].dtype))
    return kfail(k, TOD_NOT_SUPPORT, "indices must be int32/int64");
  if ((op == IR_OP_ScatterElements || op == IR_OP_ScatterNdUpdate || op == IR_OP_TensorScatterAdd) &&
      in[2].dtype != in[0].dtype)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "updates dtype differs");
  if (op == IR_OP_TopKFusion) *scratch = sizeof(int64_t) * (size_t)(knumel(&in[0]) + 1);
  return TOD_OK;
}

/* Wraps a negative index once; -1 when out of [0, d). */
static int64_t wrap(int64_t i, int64_t d) {
  if (i < 0) i += d;
  return i < 0 || i >= d ? -1 : i;
}

static tod_status onehot(kernel *k, const tod_view *in, tod_view *out) {
  const tod_view *o = &out[0];
  int r = o->ndim, a;
  if (!shape_norm_axis(ir_attr_int(k->node, "axis", -1), r, &a)) return kfail(k, TOD_INPUT_TENSOR_ERROR, "axis");
  int64_t depth = o->dims[a], outer = 1, inner = 1;
  for (int i = 0; i < a; i++) outer *= o->dims[i];
  for (int i = a + 1; i < r; i++) inner *= o->dims[i];
  double on = kv_load(in[2].dtype, in[2].data, 0), off = kv_load(in[3].dtype, in[3].data, 0);
  for (int64_t p = 0; p < outer; p++)
    for (int64_t j = 0; j < inner; j++) {
      int64_t idx = wrap(kv_load_i64(in[0].dtype, in[0].data, p * inner + j), depth);
      for (int64_t d = 0; d < depth; d++) kv_store(o->dtype, o->data, (p * depth + d) * inner + j, d == idx ? on : off);
    }
  return TOD_OK;
}

static tod_status topk(kernel *k, const tod_view *in, tod_view *out, int n_out, int64_t *sel) {
  const tod_view *x = &in[0];
  int a;
  if (!shape_norm_axis(ir_attr_int(k->node, "axis", -1), x->ndim, &a)) return kfail(k, TOD_INPUT_TENSOR_ERROR, "axis");
  int largest = ir_attr_int(k->node, "largest", 1) != 0;
  int64_t d = x->dims[a], kk = out[0].dims[a], outer = 1, inner = 1;
  for (int i = 0; i < a; i++) outer *= x->dims[i];
  for (int i = a + 1; i < x->ndim; i++) inner *= x->dims[i];
  for (int64_t p = 0; p < outer; p++)
    for (int64_t j = 0; j < inner; j++) {
      /* Insertion into the k best so far: ties keep the lower index first (ONNX). */
      int64_t m = 0;
      for (int64_t t = 0; t < d; t++) {
        double v = kv_load(x->dtype, x->data, (p * d + t) * inner + j);
        int64_t pos = m;
        while (pos > 0) {
          double u = kv_load(x->dtype, x->data, (p * d + sel[pos - 1]) * inner + j);
          if (largest ? v > u : v < u) pos--;
          else break;
        }
        if (pos >= kk) continue;
        int64_t end = m < kk ? m : kk - 1;
        for (int64_t q = end; q > pos; q--) sel[q] = sel[q - 1];
        sel[pos] = t;
        if (m < kk) m++;
      }
      for (int64_t q = 0; q < kk; q++) {
        int64_t oi = (p * kk + q) * inner + j;
        kv_store(out[0].dtype, out[0].data, oi, kv_load(x->dtype, x->data, (p * d + sel[q]) * inner + j));
        if (n_out > 1) kv_store(out[1].dtype, out[1].data, oi, (double)sel[q]);
      }
    }
  return TOD_OK;
}

/* Offset into x of the slice addressed by index row i of [*, q] indices. */
static tod_status nd_offset(kernel *k, const tod_view *x, const tod_view *idx, int64_t row, int64_t q,
                            int64_t *off) {
  int64_t o = 0;
  for (int64_t j = 0; j < q; j++) {
    int64_t v = wrap(kv_load_i64(idx->dtype, idx->data, row * q + j), x->dims[j]);
    if (v < 0) return kfail(k, TOD_INPUT_TENSOR_ERROR, "index out of range");
    o = o * x->dims[j] + v;
  }
  for (int j = (int)q; j < x->ndim; j++) o *= x->dims[j];
  *off = o;
  return TOD_OK;
}

static tod_status ix_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                         void *scratch, tod_threadpool *tp) {
  const tod_view *x = &in[0];
  tod_view *y = &out[0];
  int op = k->node->op;
  size_t es = ir_dtype_size(x->dtype);
  if (op == IR_OP_OneHot) return onehot(k, in, out);
  if (op == IR_OP_TopKFusion) return topk(k, in, out, n_out, scratch);
  const tod_view *idx = &in[1];
  if (op == IR_OP_GatherNd) {
    int64_t q = idx->dims[idx->ndim - 1], rows = q ? knumel(idx) / q : 0, slice = 1;
    for (int j = (int)q; j < x->ndim; j++) slice *= x->dims[j];
    for (int64_t i = 0; i < rows; i++) {
      int64_t off;
      tod_status st = nd_offset(k, x, idx, i, q, &off);
      if (st) return st;
      memcpy((char *)y->data + (size_t)(i * slice) * es, (const char *)x->data + (size_t)off * es, (size_t)slice * es);
    }
    return TOD_OK;
  }
  const tod_view *upd = &in[2];
  memcpy(y->data, x->data, (size_t)knumel(x) * es);
  if (op == IR_OP_ScatterElements) {
    int a;
    if (!shape_norm_axis(ir_attr_int(k->node, "axis", 0), x->ndim, &a) || idx->ndim != x->ndim || !kshape_equal(idx, upd))
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "bad axis or shapes");
    int64_t pos[IR_MAX_DIMS] = {0}, n = knumel(idx);
    for (int64_t i = 0; i < n; i++) {
      int64_t off = 0;
      for (int d = 0; d < x->ndim; d++) {
        int64_t v = pos[d];
        if (d == a) v = wrap(kv_load_i64(idx->dtype, idx->data, i), x->dims[d]);
        if (v < 0 || v >= x->dims[d]) return kfail(k, TOD_INPUT_TENSOR_ERROR, "index out of range");
        off = off * x->dims[d] + v;
      }
      memcpy((char *)y->data + (size_t)off * es, (const char *)upd->data + (size_t)i * es, es);
      for (int d = idx->ndim - 1; d >= 0; d--) {
        if (++pos[d] < idx->dims[d]) break;
        pos[d] = 0;
      }
    }
    return TOD_OK;
  }
  /* ScatterNdUpdate / TensorScatterAdd: updates [rows..., x.shape[q:]]. */
  int64_t q = idx->ndim ? idx->dims[idx->ndim - 1] : 0, rows = q ? knumel(idx) / q : 0, slice = 1;
  if (q < 1 || q > x->ndim) return kfail(k, TOD_INPUT_TENSOR_ERROR, "bad indices shape");
  for (int j = (int)q; j < x->ndim; j++) slice *= x->dims[j];
  if (knumel(upd) != rows * slice) return kfail(k, TOD_INPUT_TENSOR_ERROR, "updates size mismatch");
  for (int64_t i = 0; i < rows; i++) {
    int64_t off;
    tod_status st = nd_offset(k, x, idx, i, q, &off);
    if (st) return st;
    for (int64_t e = 0; e < slice; e++) {
      double u = kv_load(upd->dtype, upd->data, i * slice + e);
      if (op == IR_OP_TensorScatterAdd) u += kv_load(y->dtype, y->data, off + e);
      kv_store(y->dtype, y->data, off + e, u);
    }
  }
  return TOD_OK;
}

const kernel_ops kernel_OneHot = {IR_OP_OneHot, ix_create, ix_setup, ix_run, NULL};
const kernel_ops kernel_TopKFusion = {IR_OP_TopKFusion, ix_create, ix_setup, ix_run, NULL};
const kernel_ops kernel_GatherNd = {IR_OP_GatherNd, ix_create, ix_setup, ix_run, NULL};
const kernel_ops kernel_ScatterElements = {IR_OP_ScatterElements, ix_create, ix_setup, ix_run, NULL};
const kernel_ops kernel_ScatterNdUpdate = {IR_OP_ScatterNdUpdate, ix_create, ix_setup, ix_run, NULL};
const kernel_ops kernel_TensorScatterAdd = {IR_OP_TensorScatterAdd, ix_create, ix_setup, ix_run, NULL};
