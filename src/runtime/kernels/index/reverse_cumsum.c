/* ReverseV2 (flip along the axes in attribute `axis`, any dtype) and CumSum (ONNX CumSum:
 * inclusive or exclusive running sum along the axis given as input 1, optionally from the end;
 * any numeric dtype, accumulated in double, or in int64 for integer dtypes). */
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"
#include "runtime/kernels/common/kvalue.h"

static tod_status rv_create(kernel *k, const ir_graph *g, const ir_node *n) {
  (void)g;
  if (n->n_in < 1 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs 1 input");
  return TOD_OK;
}

static tod_status rv_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out, int n_out,
                           size_t *scratch) {
  (void)n_in, (void)n_out;
  *scratch = 0;
  if (!kshape_equal(&in[0], &out[0]) || in[0].dtype != out[0].dtype || !ir_dtype_size(in[0].dtype))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "input and output differ");
  const int64_t *ax;
  int na = ir_attr_ints(k->node, "axis", &ax), a;
  for (int i = 0; i < na; i++)
    if (!shape_norm_axis(ax[i], in[0].ndim, &a)) return kfail(k, TOD_INPUT_TENSOR_ERROR, "axis out of range");
  return TOD_OK;
}

static tod_status rv_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                         void *scratch, tod_threadpool *tp) {
  (void)n_in, (void)n_out, (void)scratch, (void)tp;
  const tod_view *x = &in[0];
  int r = x->ndim, flip[IR_MAX_DIMS] = {0};
  const int64_t *ax;
  int na = ir_attr_ints(k->node, "axis", &ax);
  for (int i = 0; i < na; i++) {
    int a;
    if (shape_norm_axis(ax[i], r, &a)) flip[a] = 1;
  }
  int64_t st[IR_MAX_DIMS], cnt[IR_MAX_DIMS] = {0}, s = 1;
  for (int d = r - 1; d >= 0; d--) st[d] = s, s *= x->dims[d];
  size_t esz = ir_dtype_size(x->dtype);
  int64_t n = knumel(x);
  for (int64_t i = 0; i < n; i++) {
    int64_t off = 0;
    for (int d = 0; d < r; d++) off += (flip[d] ? x->dims[d] - 1 - cnt[d] : cnt[d]) * st[d];
    memcpy((uint8_t *)out[0].data + (size_t)i * esz, (const uint8_t *)x->data + (size_t)off * esz, esz);
    for (int d = r - 1; d >= 0; d--) {
      if (++cnt[d] < x->dims[d]) break;
      cnt[d] = 0;
    }
  }
  return TOD_OK;
}

const kernel_ops kernel_ReverseV2 = {IR_OP_ReverseV2, rv_create, rv_setup, rv_run, NULL};

static tod_status cs_create(kernel *k, const ir_graph *g, const ir_node *n) {
  (void)g;
  if (n->n_in < 2 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs x and axis");
  return TOD_OK;
}

static tod_status cs_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out, int n_out,
                           size_t *scratch) {
  (void)n_in, (void)n_out;
  *scratch = 0;
  if (!kshape_equal(&in[0], &out[0]) || in[0].dtype != out[0].dtype || !kv_supported(in[0].dtype) ||
      in[0].dtype == IR_DT_BOOL)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "input and output differ or dtype unsupported");
  if (knumel(&in[1]) != 1 || (in[1].dtype != IR_DT_INT32 && in[1].dtype != IR_DT_INT64))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "axis must be one int32/int64");
  return TOD_OK;
}

static tod_status cs_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                         void *scratch, tod_threadpool *tp) {
  (void)n_in, (void)n_out, (void)scratch, (void)tp;
  const tod_view *x = &in[0];
  int64_t axv;
  int a;
  if (shape_read_ints(&in[1], &axv, 1) != 1 || !shape_norm_axis(axv, x->ndim, &a))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "axis out of range for rank %d", x->ndim);
  int excl = ir_attr_int(k->node, "exclusive", 0) != 0, rev = ir_attr_int(k->node, "reverse", 0) != 0;
  int dt = x->dtype;
  int is_int = dt != IR_DT_FLOAT16 && dt != IR_DT_FLOAT32 && dt != IR_DT_FLOAT64;
  int64_t outer = 1, dim = x->dims[a], inner = 1;
  for (int i = 0; i < a; i++) outer *= x->dims[i];
  for (int i = a + 1; i < x->ndim; i++) inner *= x->dims[i];
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      double acc = 0;
      int64_t iacc = 0;
      for (int64_t t = 0; t < dim; t++) {
        int64_t d = rev ? dim - 1 - t : t;
        int64_t idx = (o * dim + d) * inner + i;
        if (is_int) {
          int64_t v = kv_load_i64(dt, x->data, idx);
          if (!excl) iacc = (int64_t)((uint64_t)iacc + (uint64_t)v);
          if (dt == IR_DT_INT64 || dt == IR_DT_UINT64) ((int64_t *)out[0].data)[idx] = iacc;
          else kv_store(dt, out[0].data, idx, (double)iacc);
          if (excl) iacc = (int64_t)((uint64_t)iacc + (uint64_t)v);
        } else {
          double v = kv_load(dt, x->data, idx);
          if (!excl) acc += v;
          kv_store(dt, out[0].data, idx, acc);
          if (excl) acc += v;
        }
      }
    }
  return TOD_OK;
}

const kernel_ops kernel_CumSum = {IR_OP_CumSum, cs_create, cs_setup, cs_run, NULL};
