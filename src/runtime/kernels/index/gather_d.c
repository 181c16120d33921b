/* GatherD (ONNX GatherElements): y[i0..,ik,..] = x[i0.., index[i0..,ik,..], ..] along dim, any
 * dtype, int32/int64 indices; negative indices wrap once, others outside [0, dim) fail. Also
 * Size (element count as an int32 scalar) and Triu / Tril (ONNX Trilu), small index kernels. */
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"
#include "runtime/kernels/common/kvalue.h"

static tod_status gd_create(kernel *k, const ir_graph *g, const ir_node *n) {
  (void)g;
  if (n->n_in < 3 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs x, dim and index");
  return TOD_OK;
}

static tod_status gd_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out, int n_out,
                           size_t *scratch) {
  (void)n_in, (void)n_out;
  *scratch = 0;
  int64_t dim;
  int a;
  if (shape_read_ints(&in[1], &dim, 1) != 1 || !shape_norm_axis(dim, in[0].ndim, &a))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "dim must be one integer within the rank");
  if (in[2].ndim != in[0].ndim || !kshape_equal(&in[2], &out[0]))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "index and output shapes differ");
  if (in[2].dtype != IR_DT_INT32 && in[2].dtype != IR_DT_INT64)
    return kfail(k, TOD_NOT_SUPPORT, "index dtype %s", ir_dtype_name(in[2].dtype));
  if (!ir_dtype_size(in[0].dtype) || out[0].dtype != in[0].dtype)
    return kfail(k, TOD_NOT_SUPPORT, "dtype %s", ir_dtype_name(in[0].dtype));
  return TOD_OK;
}

static tod_status gd_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                         void *scratch, tod_threadpool *tp) {
  (void)n_in, (void)n_out, (void)scratch, (void)tp;
  const tod_view *x = &in[0], *ix = &in[2];
  int64_t dim;
  int a, r = x->ndim;
  shape_read_ints(&in[1], &dim, 1);
  shape_norm_axis(dim, r, &a);
  size_t esz = ir_dtype_size(x->dtype);
  int64_t xs[IR_MAX_DIMS], cnt[IR_MAX_DIMS];
  int64_t st = 1;
  for (int d = r - 1; d >= 0; d--) xs[d] = st, st *= x->dims[d];
  for (int d = 0; d < r; d++) cnt[d] = 0;
  int64_t n = knumel(ix);
  const uint8_t *xp = x->data;
  uint8_t *yp = out[0].data;
  for (int64_t i = 0; i < n; i++) {
    int64_t v = ix->dtype == IR_DT_INT64 ? ((const int64_t *)ix->data)[i] : ((const int32_t *)ix->data)[i];
    if (v < 0) v += x->dims[a];
    if (v < 0 || v >= x->dims[a])
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "index %lld out of range [0, %lld)", (long long)v,
                   (long long)x->dims[a]);
    int64_t off = 0;
    for (int d = 0; d < r; d++) {
      int64_t c = d == a ? v : cnt[d];
      if (c >= x->dims[d]) return kfail(k, TOD_INPUT_TENSOR_ERROR, "index shape exceeds input");
      off += c * xs[d];
    }
    memcpy(yp + (size_t)i * esz, xp + (size_t)off * esz, esz);
    for (int d = r - 1; d >= 0; d--) {
      if (++cnt[d] < ix->dims[d]) break;
      cnt[d] = 0;
    }
  }
  return TOD_OK;
}

const kernel_ops kernel_GatherD = {IR_OP_GatherD, gd_create, gd_setup, gd_run, NULL};

/* --- Size ------------------------------------------------------------------------------------ */

static tod_status size_create(kernel *k, const ir_graph *g, const ir_node *n) {
  (void)g;
  if (n->n_in < 1 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs 1 input");
  return TOD_OK;
}

static tod_status size_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out, int n_out,
                             size_t *scratch) {
  (void)in, (void)n_in, (void)n_out;
  *scratch = 0;
  if (out[0].dtype != IR_DT_INT32 && out[0].dtype != IR_DT_INT64)
    return kfail(k, TOD_NOT_SUPPORT, "output dtype %s", ir_dtype_name(out[0].dtype));
  return TOD_OK;
}

static tod_status size_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                           void *scratch, tod_threadpool *tp) {
  (void)k, (void)n_in, (void)n_out, (void)scratch, (void)tp;
  int64_t n = shape_numel(&in[0]);
  if (out[0].dtype == IR_DT_INT64) *(int64_t *)out[0].data = n;
  else *(int32_t *)out[0].data = (int32_t)n;
  return TOD_OK;
}

const kernel_ops kernel_Size = {IR_OP_Size, size_create, size_setup, size_run, NULL};

/* --- Triu / Tril ------------------------------------------------------------------------------ */

static tod_status tri_create(kernel *k, const ir_graph *g, const ir_node *n) {
  (void)g;
  if (n->n_in < 1 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs 1 input");
  return TOD_OK;
}

static tod_status tri_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out, int n_out,
                            size_t *scratch) {
  (void)n_out;
  *scratch = 0;
  if (in[0].ndim < 2 || !kshape_equal(&in[0], &out[0]) || in[0].dtype != out[0].dtype ||
      !ir_dtype_size(in[0].dtype))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs matching input/output of rank >= 2");
  if (n_in >= 2 && in[1].ndim >= 0 && knumel(&in[1]) != 1)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "k must be one integer");
  return TOD_OK;
}

static tod_status tri_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                          void *scratch, tod_threadpool *tp) {
  (void)n_out, (void)scratch, (void)tp;
  int64_t kk = 0;
  if (n_in >= 2 && in[1].ndim >= 0 && shape_read_ints(&in[1], &kk, 1) != 1)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "k must be one integer");
  int upper = k->node->op == IR_OP_Triu;
  const tod_view *x = &in[0];
  int64_t rows = x->dims[x->ndim - 2], cols = x->dims[x->ndim - 1];
  int64_t mats = rows > 0 && cols > 0 ? knumel(x) / (rows * cols) : 0;
  size_t esz = ir_dtype_size(x->dtype);
  const uint8_t *xp = x->data;
  uint8_t *yp = out[0].data;
  for (int64_t m = 0; m < mats; m++)
    for (int64_t i = 0; i < rows; i++)
      for (int64_t j = 0; j < cols; j++) {
        size_t off = (size_t)((m * rows + i) * cols + j) * esz;
        int keep = upper ? j - i >= kk : j - i <= kk;
        if (keep) memcpy(yp + off, xp + off, esz);
        else memset(yp + off, 0, esz);
      }
  return TOD_OK;
}

const kernel_ops kernel_Triu = {IR_OP_Triu, tri_create, tri_setup, tri_run, NULL};
const kernel_ops kernel_Tril = {IR_OP_Tril, tri_create, tri_setup, tri_run, NULL};
