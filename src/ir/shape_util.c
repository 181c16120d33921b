/* Shape helpers shared by shape inference and kernels, so both compute the same geometry. */
#include "ir/shape_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ir/ir_op.h"

int64_t shape_numel(const tod_view *v) {
  if (v->ndim < 0) return -1;
  int64_t n = 1;
  for (int i = 0; i < v->ndim; i++) {
    if (v->dims[i] < 0) return -1;
    /* Saturate instead of overflowing: such a tensor can never be allocated anyway. */
    if (v->dims[i] != 0 && n > INT64_MAX / v->dims[i]) return INT64_MAX;
    n *= v->dims[i];
  }
  return n;
}

int shape_is_int_dtype(int dtype) {
  switch (dtype) {
    case IR_DT_BOOL:
    case IR_DT_INT8:
    case IR_DT_INT16:
    case IR_DT_INT32:
    case IR_DT_INT64:
    case IR_DT_UINT8:
    case IR_DT_UINT16:
    case IR_DT_UINT32:
    case IR_DT_UINT64: return 1;
    default: return 0;
  }
}

int shape_read_int(const tod_view *v, int64_t i, int64_t *out) {
  if (!v->data) return 0;
  switch (v->dtype) {
    case IR_DT_BOOL:
    case IR_DT_UINT8: *out = ((const uint8_t *)v->data)[i]; return 1;
    case IR_DT_INT8: *out = ((const int8_t *)v->data)[i]; return 1;
    case IR_DT_INT16: *out = ((const int16_t *)v->data)[i]; return 1;
    case IR_DT_UINT16: *out = ((const uint16_t *)v->data)[i]; return 1;
    case IR_DT_INT32: *out = ((const int32_t *)v->data)[i]; return 1;
    case IR_DT_UINT32: *out = ((const uint32_t *)v->data)[i]; return 1;
    case IR_DT_INT64: *out = ((const int64_t *)v->data)[i]; return 1;
    case IR_DT_UINT64: {
      uint64_t u = ((const uint64_t *)v->data)[i];
      *out = u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)u;
      return 1;
    }
    default: return 0;
  }
}

int shape_read_ints(const tod_view *v, int64_t *vals, int cap) {
  if (!v->data || v->ndim < 0 || !shape_is_int_dtype(v->dtype)) return -1;
  int64_t n = shape_numel(v);
  if (n < 0) return -1;
  if (n > cap) return -2;
  for (int64_t i = 0; i < n; i++) shape_read_int(v, i, &vals[i]);
  return (int)n;
}

int shape_norm_axis(int64_t axis, int rank, int *out) {
  if (axis < -(int64_t)rank || axis >= rank) return 0;
  *out = (int)(axis < 0 ? axis + rank : axis);
  return 1;
}

const char *shape_str(const tod_view *v, char *buf, size_t len) {
  if (len == 0) return buf;
  if (v->ndim < 0) {
    snprintf(buf, len, "[?]");
    return buf;
  }
  size_t pos = 0;
  buf[0] = 0;
  pos += (size_t)snprintf(buf + pos, len - pos, "[");
  for (int i = 0; i < v->ndim && pos < len; i++) {
    if (v->dims[i] < 0)
      pos += (size_t)snprintf(buf + pos, len - pos, "%s?", i ? "," : "");
    else
      pos += (size_t)snprintf(buf + pos, len - pos, "%s%lld", i ? "," : "", (long long)v->dims[i]);
  }
  if (pos < len) snprintf(buf + pos, len - pos, "]");
  return buf;
}

int shape_broadcast(const int64_t *a, int ra, const int64_t *b, int rb, int64_t *out, int *rout) {
  int r = ra > rb ? ra : rb;
  for (int i = 0; i < r; i++) {
    int ia = i - (r - ra), ib = i - (r - rb);
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    int64_t d;
    if (da == db) d = da;
    else if (da == 1) d = db;
    else if (db == 1) d = da;
    else if (da < 0) d = db; /* unknown vs known k>1: must be k for a valid model */
    else if (db < 0) d = da;
    else return -1;
    out[i] = d;
  }
  *rout = r;
  return 0;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

int shape_strided_slice_plan(const int64_t *dims, int rank, const int64_t *begin,
                             const int64_t *end, const int64_t *strides, int n, int64_t begin_mask,
                             int64_t end_mask, int64_t ellipsis_mask, int64_t new_axis_mask,
                             int64_t shrink_mask, shape_slice_plan *plan, char *err, size_t errlen) {
  if (ellipsis_mask || new_axis_mask) {
    snprintf(err, errlen, "ellipsis_mask/new_axis_mask are not supported");
    return -1;
  }
  if (n > rank) {
    snprintf(err, errlen, "%d begin values for a rank-%d input", n, rank);
    return -1;
  }
  plan->rank = rank;
  plan->out_ndim = 0;
  for (int i = 0; i < rank; i++) {
    int64_t d = dims[i];
    int64_t s = i < n && strides ? strides[i] : 1;
    if (s == 0) {
      snprintf(err, errlen, "stride of axis %d is 0", i);
      return -1;
    }
    int64_t b, e;
    if (i >= n) {
      b = 0, e = d, s = 1;
    } else if (shrink_mask & ((int64_t)1 << i)) {
      b = begin[i] < 0 ? begin[i] + d : begin[i];
      if (b < 0 || b >= d) {
        snprintf(err, errlen, "index %lld of shrunk axis %d is outside [0,%lld)",
                 (long long)begin[i], i, (long long)d);
        return -1;
      }
      plan->start[i] = b, plan->step[i] = 1, plan->count[i] = 1;
      continue;
    } else {
      /* ONNX Slice: negative values count from the end, then clamp; a negative step walks
       * from dim-1 down to (but excluding) end, where -1 means "past the front". */
      b = begin[i], e = end[i];
      if (b < 0) b += d;
      if (e < 0) e += d;
      if (s > 0) {
        b = (begin_mask & ((int64_t)1 << i)) ? 0 : clamp64(b, 0, d);
        e = (end_mask & ((int64_t)1 << i)) ? d : clamp64(e, 0, d);
      } else {
        b = (begin_mask & ((int64_t)1 << i)) ? d - 1 : clamp64(b, 0, d - 1);
        e = (end_mask & ((int64_t)1 << i)) ? -1 : clamp64(e, -1, d - 1);
      }
    }
    int64_t cnt;
    if (d == 0) cnt = 0;
    else if (s > 0) cnt = e > b ? (e - b + s - 1) / s : 0;
    else cnt = b > e ? (b - e + (-s) - 1) / (-s) : 0;
    plan->start[i] = cnt ? b : 0;
    plan->step[i] = s;
    plan->count[i] = cnt;
    plan->out_dims[plan->out_ndim++] = cnt;
  }
  return 0;
}

int shape_slice_fusion_plan(const int64_t *dims, int rank, const int64_t *begin,
                            const int64_t *size, int n, const int64_t *axes, int n_axes,
                            shape_slice_plan *plan, char *err, size_t errlen) {
  int64_t b[IR_MAX_DIMS], e[IR_MAX_DIMS], s[IR_MAX_DIMS];
  int seen[IR_MAX_DIMS] = {0};
  if (rank > IR_MAX_DIMS || n > rank || (axes && n_axes != n)) {
    snprintf(err, errlen, "%d begin values, %d axes for a rank-%d input", n, axes ? n_axes : n,
             rank);
    return -1;
  }
  for (int i = 0; i < rank; i++) b[i] = 0, e[i] = dims[i], s[i] = 1;
  for (int k = 0; k < n; k++) {
    int ax = k;
    if (axes && !shape_norm_axis(axes[k], rank, &ax)) {
      snprintf(err, errlen, "axis %lld out of range for rank %d", (long long)axes[k], rank);
      return -1;
    }
    if (seen[ax]++) {
      snprintf(err, errlen, "axis %d repeated", ax);
      return -1;
    }
    int64_t st = begin[k] < 0 ? begin[k] + dims[ax] : begin[k];
    if (st < 0 || st > dims[ax] || size[k] < -1 || (size[k] >= 0 && size[k] > dims[ax] - st)) {
      snprintf(err, errlen, "begin %lld size %lld outside axis %d of size %lld", (long long)begin[k],
               (long long)size[k], ax, (long long)dims[ax]);
      return -1;
    }
    b[ax] = st;
    e[ax] = size[k] < 0 ? dims[ax] : st + size[k];
  }
  return shape_strided_slice_plan(dims, rank, b, e, s, rank, 0, 0, 0, 0, 0, plan, err, errlen);
}

int shape_pad_amounts(const struct ir_node *n, const tod_view *in, int n_in, int rank,
                      int64_t *pads) {
  int64_t v[2 * IR_MAX_DIMS];
  int cnt;
  if (n_in >= 2 && in[1].ndim >= 0) {
    cnt = shape_read_ints(&in[1], v, 2 * IR_MAX_DIMS);
    if (cnt == -1) return -1;
    if (cnt < 0) return -2;
  } else {
    const int64_t *a;
    cnt = ir_attr_ints(n, "paddings", &a);
    if (cnt > 2 * IR_MAX_DIMS) return -2;
    for (int i = 0; i < cnt; i++) v[i] = a[i];
  }
  if (cnt != 2 * rank) return -2;
  for (int i = 0; i < 2 * rank; i++) pads[i] = v[i];
  return 0;
}

int shape_reduce_axes(const struct ir_node *n, const tod_view *in, int n_in, int rank, int *mask) {
  int64_t ax[IR_MAX_DIMS];
  int cnt = 0;
  if (n_in >= 2 && in[1].ndim >= 0) {
    cnt = shape_read_ints(&in[1], ax, IR_MAX_DIMS);
    if (cnt == -1) return -1;
    if (cnt < 0) return -2;
  }
  for (int i = 0; i < rank; i++) mask[i] = cnt == 0;
  for (int k = 0; k < cnt; k++) {
    int a;
    if (!shape_norm_axis(ax[k], rank, &a)) return -2;
    mask[a] = 1;
  }
  /* reduce_to_end: everything from the first listed axis on. */
  if (cnt > 0 && ir_attr_int(n, "reduce_to_end", 0)) {
    int a0 = 0;
    shape_norm_axis(ax[0], rank, &a0);
    for (int i = a0; i < rank; i++) mask[i] = 1;
  }
  return 0;
}

int shape_resize_hw(const struct ir_node *n, const tod_view *in, int n_in, int64_t *oh,
                    int64_t *ow) {
  int64_t nh = ir_attr_int(n, "new_height", 0), nw = ir_attr_int(n, "new_width", 0);
  if (nh > 0 && nw > 0) {
    *oh = nh, *ow = nw;
    return 0;
  }
  if (n_in < 2 || in[1].ndim < 0) return -2;
  const tod_view *s = &in[1];
  if (!s->data) return -1;
  int64_t cnt = shape_numel(s);
  if (cnt != 2 && cnt != 4) return -2;
  int hi = cnt == 2 ? 0 : 1, wi = hi + 1;
  int64_t ih = in[0].dims[1], iw = in[0].dims[2];
  if (s->dtype == IR_DT_FLOAT32 || s->dtype == IR_DT_FLOAT64) {
    double sh, sw;
    if (s->dtype == IR_DT_FLOAT32)
      sh = ((const float *)s->data)[hi], sw = ((const float *)s->data)[wi];
    else
      sh = ((const double *)s->data)[hi], sw = ((const double *)s->data)[wi];
    if (!(sh > 0 && sw > 0 && sh < 1e6 && sw < 1e6)) return -2;
    if (ih < 0 || iw < 0) {
      *oh = ih < 0 ? -1 : (int64_t)floor((double)ih * sh);
      *ow = iw < 0 ? -1 : (int64_t)floor((double)iw * sw);
    } else {
      *oh = (int64_t)floor((double)ih * sh);
      *ow = (int64_t)floor((double)iw * sw);
    }
  } else if (shape_is_int_dtype(s->dtype)) {
    shape_read_int(s, hi, oh);
    shape_read_int(s, wi, ow);
  } else {
    return -2;
  }
  if (*oh == 0 || *ow == 0 || *oh < -1 || *ow < -1 || *oh > (1 << 24) || *ow > (1 << 24))
    return -2;
  return 0;
}
