/* Custom nodes: ONNX operators without a MindSpore Lite primitive (docs/ops.md, "Custom"). The
 * node's `type` attribute is the ONNX operator name; its ONNX attributes travel as a trailing
 * constant float64 input `attrs` (fixed order per type). One kernel dispatches on the type. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"
#include "runtime/kernels/common/kvalue.h"
#include "ir/custom_ops.h"
#include "runtime/kernels/custom/custom.h"

typedef struct {
  int type; /* CUSTOM_* */
  double attr[CUSTOM_MAX_ATTRS];
  int n_attr;
} cu_state;

static void cu_destroy(kernel *k) {
  free(k->state);
  k->state = NULL;
}

static tod_status cu_create_impl(kernel *k, const ir_graph *g, const ir_node *n) {
  cu_state *s = calloc(1, sizeof *s);
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  k->state = s;
  const ir_attr *a = ir_attr_find(n, "type");
  s->type = custom_type_of(a && a->type == IR_ATTR_STRING ? a->s : NULL);
  if (s->type < 0) return kfail(k, TOD_NOT_SUPPORT, "custom type %s is not supported", a && a->s ? a->s : "(none)");
  int na = s->type == CUSTOM_Einsum ? n->n_in - 1 : custom_n_data(s->type); /* Einsum: attrs last */
  if (n->n_in < na || na < 0 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs %d inputs", na);
  if (n->n_in > na && n->in[na] >= 0) {
    const ir_tensor *t = &g->tensors[n->in[na]];
    if (t->kind != IR_TENSOR_CONST || t->dtype != IR_DT_FLOAT64) return kfail(k, TOD_INPUT_TENSOR_ERROR, "attrs must be a float64 constant");
    size_t cnt = t->nbytes / 8;
    if (cnt > CUSTOM_MAX_ATTRS) cnt = CUSTOM_MAX_ATTRS;
    memcpy(s->attr, t->data, cnt * 8);
    s->n_attr = (int)cnt;
  }
  return TOD_OK;
}
KCREATE_GUARDED(cu_create, cu_create_impl, cu_destroy)

static tod_status cu_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out, int n_out,
                           size_t *scratch) {
  const cu_state *s = k->state;
  if (s->type == CUSTOM_Einsum) *scratch = sizeof(double) * (size_t)(knumel(&out[0]) + 1);
  else *scratch = s->type == CUSTOM_RNN && n_in > 2 && in[2].ndim == 3 ? sizeof(float) * (size_t)(8 * in[2].dims[1] + 16) : 0;
  if (!kv_supported(in[0].dtype) || !kv_supported(out[0].dtype)) return kfail(k, TOD_NOT_SUPPORT, "dtype %s", ir_dtype_name(in[0].dtype));
  if ((s->type == CUSTOM_BitShift || s->type == CUSTOM_Mod) && (!kv_supported(in[1].dtype) || in[1].dtype != in[0].dtype))
    return kfail(k, TOD_NOT_SUPPORT, "needs equal input dtypes");
  return TOD_OK;
}

static double unary(int type, double x, const double *a) {
  switch (type) {
    case CUSTOM_Tan: return tan(x);
    case CUSTOM_Sinh: return sinh(x);
    case CUSTOM_Cosh: return cosh(x);
    case CUSTOM_Asin: return asin(x);
    case CUSTOM_Acos: return acos(x);
    case CUSTOM_Atan: return atan(x);
    case CUSTOM_Asinh: return asinh(x);
    case CUSTOM_Acosh: return acosh(x);
    case CUSTOM_Atanh: return atanh(x);
    case CUSTOM_IsNaN: return isnan(x);
    case CUSTOM_IsInf: return isinf(x) && ((x > 0 && a[0] != 0) || (x < 0 && a[1] != 0));
    case CUSTOM_Shrink: /* attrs: bias, lambd */
      return x < -a[1] ? x + a[0] : x > a[1] ? x - a[0] : 0.0;
    default: return 0;
  }
}

/* Hardmax: 1 at the first maximum of each lane along axis (attr 0), over [outer, d, inner]. */
static tod_status hardmax(kernel *k, const tod_view *x, tod_view *y, const double *a) {
  int r = x->ndim, ax;
  if (!shape_norm_axis((int64_t)a[0], r, &ax)) return kfail(k, TOD_INPUT_TENSOR_ERROR, "axis out of range");
  int64_t outer = 1, d = 1, inner = 1;
  for (int i = 0; i < r; i++) {
    if (i < ax) outer *= x->dims[i];
    else if (i == ax || a[1] != 0) d *= x->dims[i]; /* a[1]: opset < 13 flattens [axis, r) */
    else inner *= x->dims[i];
  }
  int64_t n = knumel(y);
  for (int64_t i = 0; i < n; i++) kv_store(y->dtype, y->data, i, 0);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t in = 0; in < inner; in++) {
      int64_t best = 0;
      double bv = -INFINITY;
      for (int64_t j = 0; j < d; j++) {
        double v = kv_load(x->dtype, x->data, (o * d + j) * inner + in);
        if (v > bv || j == 0) bv = v, best = j;
      }
      if (d > 0) kv_store(y->dtype, y->data, (o * d + best) * inner + in, 1);
    }
  return TOD_OK;
}

/* Einsum: one pass over every combination of labels, summing products into double scratch. */
static tod_status einsum(kernel *k, const cu_state *s, const tod_view *in, int n_in, tod_view *y, double *acc) {
  int nd = n_in - 1, ranks[8];
  if (nd < 1 || nd > 8) return kfail(k, TOD_INPUT_TENSOR_ERROR, "Einsum takes 1 to 8 inputs");
  for (int t = 0; t < nd; t++) ranks[t] = in[t].ndim;
  custom_einsum e;
  if (custom_einsum_parse(s->attr, s->n_attr, nd, ranks, &e)) return kfail(k, TOD_INPUT_TENSOR_ERROR, "bad equation");
  int64_t size[64], idx[64] = {0}, ostr[8];
  for (int l = 0; l < e.n_labels; l++) size[l] = 1;
  for (int t = 0; t < nd; t++)
    for (int j = 0; j < e.rank[t]; j++) {
      int l = e.label[t][j];
      if (size[l] == 1) size[l] = in[t].dims[j];
      else if (in[t].dims[j] != size[l] && in[t].dims[j] != 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "dims disagree");
    }
  int64_t on = knumel(y), st = 1;
  for (int j = e.out_rank - 1; j >= 0; j--) ostr[j] = st, st *= size[e.out_label[j]];
  if (st != on) return kfail(k, TOD_INPUT_TENSOR_ERROR, "output size mismatch");
  for (int64_t i = 0; i < on; i++) acc[i] = 0;
  int64_t total = 1;
  for (int l = 0; l < e.n_labels; l++) total *= size[l];
  for (int64_t it = 0; it < total; it++) {
    double prod = 1;
    for (int t = 0; t < nd; t++) {
      int64_t off = 0;
      for (int j = 0; j < e.rank[t]; j++) off = off * in[t].dims[j] + (in[t].dims[j] == 1 ? 0 : idx[e.label[t][j]]);
      prod *= kv_load(in[t].dtype, in[t].data, off);
    }
    int64_t o = 0;
    for (int j = 0; j < e.out_rank; j++) o += idx[e.out_label[j]] * ostr[j];
    acc[o] += prod;
    for (int l = e.n_labels - 1; l >= 0; l--) {
      if (++idx[l] < size[l]) break;
      idx[l] = 0;
    }
  }
  for (int64_t i = 0; i < on; i++) kv_store(y->dtype, y->data, i, acc[i]);
  return TOD_OK;
}

static tod_status cu_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                         void *scratch, tod_threadpool *tp) {
  const cu_state *s = k->state;
  const tod_view *x = &in[0];
  tod_view *y = &out[0];
  int64_t n = knumel(y);
  switch (s->type) {
    case CUSTOM_Conv3D:
    case CUSTOM_MaxPool3D:
    case CUSTOM_AvgPool3D: return custom_window3d(k, s->type, s->attr, in, n_in, out);
    case CUSTOM_Hardmax: return hardmax(k, x, y, s->attr);
    case CUSTOM_RNN: return rnn_compute(k, 1, in, n_in, out, n_out, scratch);
    case CUSTOM_Einsum: return einsum(k, s, in, n_in, y, scratch);
    case CUSTOM_EyeLike: { /* attrs: k, dtype */
      if (y->ndim != 2) return kfail(k, TOD_INPUT_TENSOR_ERROR, "EyeLike needs a 2-D input");
      int64_t rows = y->dims[0], cols = y->dims[1], kk = (int64_t)s->attr[0];
      for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) kv_store(y->dtype, y->data, i * cols + j, j - i == kk);
      return TOD_OK;
    }
    case CUSTOM_Mod:
    case CUSTOM_BitShift: { /* attrs: left (1) or right (0) / fmod; numpy broadcasting */
      int64_t sa[IR_MAX_DIMS], sb[IR_MAX_DIMS], idx[IR_MAX_DIMS] = {0};
      int r = y->ndim;
      for (int v = 0; v < 2; v++) {
        const tod_view *t = &in[v];
        int64_t st = 1;
        for (int i = r - 1; i >= 0; i--) {
          int ti = i - (r - t->ndim);
          int64_t dd = ti >= 0 ? t->dims[ti] : 1;
          (v ? sb : sa)[i] = dd == 1 ? 0 : st;
          st *= dd;
        }
      }
      int bits = (int)ir_dtype_size(y->dtype) * 8;
      for (int64_t i = 0; i < n; i++) {
        int64_t oa = 0, ob = 0;
        for (int d = 0; d < r; d++) oa += idx[d] * sa[d], ob += idx[d] * sb[d];
        if (s->type == CUSTOM_Mod) {
          if (y->dtype == IR_DT_FLOAT32 || y->dtype == IR_DT_FLOAT64 || y->dtype == IR_DT_FLOAT16) {
            double a = kv_load(x->dtype, x->data, oa), b = kv_load(in[1].dtype, in[1].data, ob);
            double m = fmod(a, b);
            if (s->attr[0] == 0 && m != 0 && (m < 0) != (b < 0)) m += b;
            kv_store(y->dtype, y->data, i, m);
          } else {
            int64_t a = kv_load_i64(x->dtype, x->data, oa), b = kv_load_i64(in[1].dtype, in[1].data, ob);
            if (b == 0) return kfail(k, TOD_INPUT_TENSOR_ERROR, "integer Mod by zero");
            int64_t m;
            if (y->dtype == IR_DT_UINT64) m = (int64_t)((uint64_t)a % (uint64_t)b);
            else if (b == -1) m = 0;
            else m = a % b;
            if (s->attr[0] == 0 && m != 0 && (m < 0) != (b < 0) && y->dtype != IR_DT_UINT64) m += b;
            if (y->dtype == IR_DT_UINT64) ((uint64_t *)y->data)[i] = (uint64_t)m;
            else kv_store(y->dtype, y->data, i, (double)m);
          }
          for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
          }
          continue;
        }
        uint64_t av = (uint64_t)kv_load_i64(x->dtype, x->data, oa), bv = (uint64_t)kv_load_i64(in[1].dtype, in[1].data, ob);
        uint64_t rv = bv >= (uint64_t)bits ? 0 : s->attr[0] != 0 ? av << bv : av >> bv;
        if (bits < 64) rv &= (((uint64_t)1) << bits) - 1;
        switch (y->dtype) {
          case IR_DT_UINT8: ((uint8_t *)y->data)[i] = (uint8_t)rv; break;
          case IR_DT_UINT16: ((uint16_t *)y->data)[i] = (uint16_t)rv; break;
          case IR_DT_UINT32: ((uint32_t *)y->data)[i] = (uint32_t)rv; break;
          case IR_DT_UINT64: ((uint64_t *)y->data)[i] = rv; break;
          default: return kfail(k, TOD_NOT_SUPPORT, "BitShift on %s", ir_dtype_name(y->dtype));
        }
        for (int d = r - 1; d >= 0; d--) {
          if (++idx[d] < y->dims[d]) break;
          idx[d] = 0;
        }
      }
      return TOD_OK;
    }
    default:
      for (int64_t i = 0; i < n; i++) kv_store(y->dtype, y->data, i, unary(s->type, kv_load(x->dtype, x->data, i), s->attr));
      return TOD_OK;
  }
}

const kernel_ops kernel_Custom = {IR_OP_Custom, cu_create, cu_setup, cu_run, cu_destroy};
