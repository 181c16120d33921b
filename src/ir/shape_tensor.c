/* Shape inference for tensor manipulation: Reshape, Flatten, Transpose, Concat, Split, Squeeze,
 * Unsqueeze/ExpandDims, Gather, Shape, Cast, StridedSlice, SliceFusion, Fill, ConstantOfShape,
 * BroadcastTo, Range and TileFusion. Values read from tensors come from untrusted models, so
 * every one is range-checked before it sizes anything. */
#include <math.h>
#include <string.h>

#include "ir/shape_internal.h"

/* Largest dimension a value-derived shape may ask for; keeps products far from overflow. */
#define MAX_DIM ((int64_t)1 << 40)

/* Reads the integer value of input i into v (cap values). Present-but-unknown gives
 * TOD_INFER_INVALID; the count goes to *cnt. */
static tod_status read_value(const shape_ctx *c, int i, int64_t *v, int cap, int *cnt) {
  if (i >= c->n_in || c->in[i].ndim < 0)
    return shape_fail(c, TOD_INFER_ERR, "input %d is missing", i);
  int k = shape_read_ints(&c->in[i], v, cap);
  if (k == -1) {
    if (c->in[i].data && !shape_is_int_dtype(c->in[i].dtype))
      return shape_fail(c, TOD_INFER_ERR, "input %d must be an integer tensor, is %s", i,
                        ir_dtype_name(c->in[i].dtype));
    return shape_fail(c, TOD_INFER_INVALID, "value of input %d is unknown", i);
  }
  if (k == -2) return shape_fail(c, TOD_INFER_ERR, "input %d has more than %d values", i, cap);
  *cnt = k;
  return TOD_OK;
}

static int dtype_supported(int dt) {
  switch (dt) {
    case IR_DT_BOOL:
    case IR_DT_INT8:
    case IR_DT_UINT8:
    case IR_DT_INT16:
    case IR_DT_INT32:
    case IR_DT_INT64:
    case IR_DT_FLOAT16:
    case IR_DT_FLOAT32:
    case IR_DT_FLOAT64: return 1;
    default: return 0;
  }
}

/* Sets out[0] to a shape given as values; every value must be in [0, MAX_DIM]. */
static tod_status set_shape_from_values(const shape_ctx *c, int dtype, const int64_t *v, int k) {
  if (k > IR_MAX_DIMS) return shape_fail(c, TOD_INFER_ERR, "rank %d > %d", k, IR_MAX_DIMS);
  for (int i = 0; i < k; i++)
    if (v[i] < 0 || v[i] > MAX_DIM)
      return shape_fail(c, TOD_INFER_ERR, "shape value %lld at %d out of range", (long long)v[i], i);
  c->out[0].dtype = dtype;
  c->out[0].ndim = k;
  memcpy(c->out[0].dims, v, sizeof(int64_t) * (size_t)k);
  return TOD_OK;
}

static tod_status infer_reshape(const shape_ctx *c) {
  tod_status st = shape_need(c, 1);
  if (st) return st;
  const tod_view *x = &c->in[0];
  if (c->n_in < 2 || c->in[1].ndim < 0)
    return shape_fail(c, TOD_INFER_ERR, "needs the shape input");
  int64_t v[IR_MAX_DIMS];
  int k;
  if ((st = read_value(c, 1, v, IR_MAX_DIMS, &k))) return st;
  int neg = -1;
  int64_t known = 1;
  int unknown = 0;
  char bx[96];
  for (int i = 0; i < k; i++) {
    if (v[i] == 0) {
      /* ONNX allowzero=0: copy the input dimension. */
      if (i >= x->ndim)
        return shape_fail(c, TOD_INFER_ERR, "shape value 0 at %d but input %s has rank %d", i,
                          shape_str(x, bx, sizeof bx), x->ndim);
      v[i] = x->dims[i];
    } else if (v[i] == -1) {
      if (neg >= 0) return shape_fail(c, TOD_INFER_ERR, "more than one -1 in the shape");
      neg = i;
      continue;
    } else if (v[i] < -1 || v[i] > MAX_DIM) {
      return shape_fail(c, TOD_INFER_ERR, "shape value %lld at %d out of range", (long long)v[i], i);
    }
    if (v[i] < 0) unknown = 1;
    else if (v[i] != 0 && known > INT64_MAX / v[i]) /* no tensor has that many elements */
      return shape_fail(c, TOD_INFER_ERR, "shape values multiply past 2^63");
    else known *= v[i];
  }
  int64_t total = shape_numel(x);
  if (neg >= 0) {
    if (total < 0 || unknown) v[neg] = -1;
    else if (known == 0 || total % known != 0)
      return shape_fail(c, TOD_INFER_ERR, "cannot reshape %s (%lld elements) with -1 into %lld-element pieces",
                        shape_str(x, bx, sizeof bx), (long long)total, (long long)known);
    else v[neg] = total / known;
  } else if (total >= 0 && !unknown && total != known) {
    return shape_fail(c, TOD_INFER_ERR, "cannot reshape %s (%lld elements) into %lld elements",
                      shape_str(x, bx, sizeof bx), (long long)total, (long long)known);
  }
  c->out[0].dtype = x->dtype;
  c->out[0].ndim = k;
  memcpy(c->out[0].dims, v, sizeof(int64_t) * (size_t)k);
  return TOD_OK;
}

static tod_status infer_flatten(const shape_ctx *c) {
  tod_status st = shape_need(c, 1);
  if (st) return st;
  const tod_view *x = &c->in[0];
  int64_t axis = ir_attr_int(c->n, "axis", 1);
  if (axis < 0) axis += x->ndim;
  if (axis < 0 || axis > x->ndim)
    return shape_fail(c, TOD_INFER_ERR, "axis %lld out of range for rank %d",
                      (long long)ir_attr_int(c->n, "axis", 1), x->ndim);
  int64_t p[2] = {1, 1};
  for (int i = 0; i < x->ndim; i++) {
    int64_t *q = &p[i >= axis];
    if (x->dims[i] < 0 || *q < 0) *q = -1;
    else *q *= x->dims[i];
  }
  c->out[0].dtype = x->dtype;
  c->out[0].ndim = 2;
  c->out[0].dims[0] = p[0], c->out[0].dims[1] = p[1];
  return TOD_OK;
}

static tod_status infer_transpose(const shape_ctx *c) {
  tod_status st = shape_need(c, 1);
  if (st) return st;
  const tod_view *x = &c->in[0];
  int64_t perm[IR_MAX_DIMS];
  int k = x->ndim;
  if (c->n_in >= 2 && c->in[1].ndim >= 0) {
    if ((st = read_value(c, 1, perm, IR_MAX_DIMS, &k))) return st;
  } else {
    for (int i = 0; i < k; i++) perm[i] = k - 1 - i; /* ONNX default: reverse */
  }
  char bx[96];
  if (k != x->ndim)
    return shape_fail(c, TOD_INFER_ERR, "perm has %d values for input %s", k,
                      shape_str(x, bx, sizeof bx));
  int seen[IR_MAX_DIMS] = {0};
  for (int i = 0; i < k; i++) {
    int a;
    if (!shape_norm_axis(perm[i], k, &a) || seen[a]++)
      return shape_fail(c, TOD_INFER_ERR, "perm is not a permutation of 0..%d", k - 1);
    c->out[0].dims[i] = x->dims[a];
  }
  c->out[0].dtype = x->dtype;
  c->out[0].ndim = k;
  return TOD_OK;
}

static tod_status infer_concat(const shape_ctx *c) {
  tod_status st = shape_need(c, c->n_in < 1 ? 1 : c->n_in);
  if (st) return st;
  const tod_view *x = &c->in[0];
  int rank = x->ndim, axis;
  int64_t a = ir_attr_int(c->n, "axis", 0);
  if (!shape_norm_axis(a, rank, &axis))
    return shape_fail(c, TOD_INFER_ERR, "axis %lld out of range for rank %d", (long long)a, rank);
  tod_view *o = &c->out[0];
  shape_copy(o, x);
  char b0[96], bi[96];
  for (int i = 1; i < c->n_in; i++) {
    const tod_view *y = &c->in[i];
    if (y->ndim != rank || y->dtype != x->dtype)
      return shape_fail(c, TOD_INFER_ERR, "input %d %s %s does not match input 0 %s %s", i,
                        ir_dtype_name(y->dtype), shape_str(y, bi, sizeof bi),
                        ir_dtype_name(x->dtype), shape_str(x, b0, sizeof b0));
    for (int d = 0; d < rank; d++) {
      if (d == axis) {
        o->dims[d] = (o->dims[d] < 0 || y->dims[d] < 0) ? -1 : o->dims[d] + y->dims[d];
      } else if (y->dims[d] >= 0 && o->dims[d] >= 0 && y->dims[d] != o->dims[d]) {
        return shape_fail(c, TOD_INFER_ERR, "input %d %s does not match input 0 %s off axis %d", i,
                          shape_str(y, bi, sizeof bi), shape_str(x, b0, sizeof b0), axis);
      } else if (o->dims[d] < 0) {
        o->dims[d] = y->dims[d];
      }
    }
  }
  return TOD_OK;
}

static tod_status infer_split(const shape_ctx *c) {
  tod_status st = shape_need(c, 1);
  if (st) return st;
  const tod_view *x = &c->in[0];
  int axis;
  int64_t a = ir_attr_int(c->n, "axis", 0);
  if (!shape_norm_axis(a, x->ndim, &axis))
    return shape_fail(c, TOD_INFER_ERR, "axis %lld out of range for rank %d", (long long)a, x->ndim);
  int k = c->n_out;
  int64_t d = x->dims[axis];
  int64_t sizes[64];
  if (k > 64) return shape_fail(c, TOD_INFER_ERR, "%d outputs (max 64)", k);
  const int64_t *ss;
  int ns = ir_attr_ints(c->n, "size_splits", &ss);
  int64_t tmp[64];
  if (ns == 0 && c->n_in >= 2 && c->in[1].ndim >= 0) {
    if ((st = read_value(c, 1, tmp, 64, &ns))) return st;
    ss = tmp;
  }
  char bx[96];
  if (ns > 0) {
    if (ns != k)
      return shape_fail(c, TOD_INFER_ERR, "%d split sizes for %d outputs", ns, k);
    int neg = -1;
    int64_t sum = 0;
    for (int i = 0; i < k; i++) {
      sizes[i] = ss[i];
      if (ss[i] == -1 && neg < 0) neg = i;
      else if (ss[i] < 0 || ss[i] > MAX_DIM)
        return shape_fail(c, TOD_INFER_ERR, "split size %lld out of range", (long long)ss[i]);
      else sum += ss[i];
    }
    if (d >= 0) {
      if (neg >= 0) sizes[neg] = d - sum;
      if ((neg >= 0 && sizes[neg] < 0) || (neg < 0 && sum != d))
        return shape_fail(c, TOD_INFER_ERR, "split sizes do not add up to %lld (input %s)",
                          (long long)d, shape_str(x, bx, sizeof bx));
    }
  } else {
    /* Equal parts, the last one smaller when d does not divide (ONNX opset 18). */
    int64_t part = d < 0 ? -1 : (d + k - 1) / k;
    for (int i = 0; i < k; i++) {
      if (d < 0) sizes[i] = -1;
      else {
        int64_t left = d - part * i;
        sizes[i] = left < 0 ? 0 : (left < part ? left : part);
      }
    }
  }
  for (int i = 0; i < k; i++) {
    shape_copy(&c->out[i], x);
    c->out[i].dims[axis] = sizes[i];
  }
  return TOD_OK;
}

/* Axes from the `axis` attribute, or from input 1 when the attribute is absent. */
static tod_status axes_of(const shape_ctx *c, int64_t *ax, int *k) {
  const int64_t *a;
  int n = ir_attr_ints(c->n, "axis", &a);
  if (n > IR_MAX_DIMS) return shape_fail(c, TOD_INFER_ERR, "%d axes (max %d)", n, IR_MAX_DIMS);
  if (n > 0 || c->n_in < 2 || c->in[1].ndim < 0) {
    if (n == 0 && ir_attr_find(c->n, "axis") && ir_attr_find(c->n, "axis")->type == IR_ATTR_INT) {
      ax[0] = ir_attr_int(c->n, "axis", 0);
      *k = 1;
      return TOD_OK;
    }
    if (n) memcpy(ax, a, sizeof(int64_t) * (size_t)n);
    *k = n;
    return TOD_OK;
  }
  return read_value(c, 1, ax, IR_MAX_DIMS, k);
}

static tod_status infer_squeeze(const shape_ctx *c) {
  tod_status st = shape_need(c, 1);
  if (st) return st;
  const tod_view *x = &c->in[0];
  int64_t ax[IR_MAX_DIMS];
  int k, drop[IR_MAX_DIMS] = {0};
  if ((st = axes_of(c, ax, &k))) return st;
  char bx[96];
  for (int i = 0; i < k; i++) {
    int a;
    if (!shape_norm_axis(ax[i], x->ndim, &a))
      return shape_fail(c, TOD_INFER_ERR, "axis %lld out of range for %s", (long long)ax[i],
                        shape_str(x, bx, sizeof bx));
    if (x->dims[a] > 1 || x->dims[a] == 0)
      return shape_fail(c, TOD_INFER_ERR, "cannot squeeze axis %d of %s", a,
                        shape_str(x, bx, sizeof bx));
    drop[a] = 1;
  }
  if (k == 0) {
    for (int i = 0; i < x->ndim; i++) {
      if (x->dims[i] < 0)
        return shape_fail(c, TOD_INFER_INVALID, "squeeze of all size-1 axes with unknown %s",
                          shape_str(x, bx, sizeof bx));
      drop[i] = x->dims[i] == 1;
    }
  }
  tod_view *o = &c->out[0];
  o->dtype = x->dtype;
  o->ndim = 0;
  for (int i = 0; i < x->ndim; i++)
    if (!drop[i]) o->dims[o->ndim++] = x->dims[i];
  return TOD_OK;
}

static tod_status infer_unsqueeze(const shape_ctx *c) {
  tod_status st = shape_need(c, 1);
  if (st) return st;
  const tod_view *x = &c->in[0];
  int64_t ax[IR_MAX_DIMS];
  int k;
  if (c->n->op == IR_OP_ExpandDims) {
    if ((st = read_value(c, 1, ax, 1, &k))) return st;
  } else if ((st = axes_of(c, ax, &k))) {
    return st;
  }
  int r = x->ndim + k;
  char bx[96];
  if (r > IR_MAX_DIMS) return shape_fail(c, TOD_INFER_ERR, "output rank %d > %d", r, IR_MAX_DIMS);
  int ins[IR_MAX_DIMS] = {0};
  for (int i = 0; i < k; i++) {
    int a;
    if (!shape_norm_axis(ax[i], r, &a) || ins[a]++)
      return shape_fail(c, TOD_INFER_ERR, "axis %lld out of range or repeated for %s",
                        (long long)ax[i], shape_str(x, bx, sizeof bx));
  }
  tod_view *o = &c->out[0];
  o->dtype = x->dtype;
  o->ndim = r;
  for (int i = 0, j = 0; i < r; i++) o->dims[i] = ins[i] ? 1 : x->dims[j++];
  return TOD_OK;
}

static tod_status infer_gather(const shape_ctx *c) {
  tod_status st = shape_need(c, 2);
  if (st) return st;
  const tod_view *x = &c->in[0], *idx = &c->in[1];
  int64_t a = 0;
  if (c->n_in >= 3 && c->in[2].ndim >= 0) {
    int64_t v[1];
    int k;
    if ((st = read_value(c, 2, v, 1, &k))) return st;
    if (k != 1) return shape_fail(c, TOD_INFER_ERR, "axis input must hold one value");
    a = v[0];
  }
  if (!shape_is_int_dtype(idx->dtype) || idx->dtype == IR_DT_BOOL)
    return shape_fail(c, TOD_INFER_ERR, "indices must be integers, are %s",
                      ir_dtype_name(idx->dtype));
  int axis;
  char bx[96];
  if (!shape_norm_axis(a, x->ndim, &axis))
    return shape_fail(c, TOD_INFER_ERR, "axis %lld out of range for %s", (long long)a,
                      shape_str(x, bx, sizeof bx));
  int r = x->ndim - 1 + idx->ndim;
  if (r > IR_MAX_DIMS) return shape_fail(c, TOD_INFER_ERR, "output rank %d > %d", r, IR_MAX_DIMS);
  tod_view *o = &c->out[0];
  o->dtype = x->dtype;
  o->ndim = 0;
  for (int i = 0; i < axis; i++) o->dims[o->ndim++] = x->dims[i];
  for (int i = 0; i < idx->ndim; i++) o->dims[o->ndim++] = idx->dims[i];
  for (int i = axis + 1; i < x->ndim; i++) o->dims[o->ndim++] = x->dims[i];
  return TOD_OK;
}

static tod_status infer_cast(const shape_ctx *c) {
  tod_status st = shape_need(c, 1);
  if (st) return st;
  int64_t v[1];
  int k;
  if (c->n_in < 2) return shape_fail(c, TOD_INFER_ERR, "needs the target type input");
  if ((st = read_value(c, 1, v, 1, &k))) return st;
  if (k != 1 || !dtype_supported((int)v[0]) || v[0] != (int)v[0])
    return shape_fail(c, TOD_INFER_ERR, "target type %lld is not supported", k ? (long long)v[0] : -1LL);
  if (!dtype_supported(c->in[0].dtype))
    return shape_fail(c, TOD_INFER_ERR, "input type %s is not supported",
                      ir_dtype_name(c->in[0].dtype));
  shape_copy(&c->out[0], &c->in[0]);
  c->out[0].dtype = (int)v[0];
  return TOD_OK;
}

static tod_status infer_strided_slice(const shape_ctx *c) {
  tod_status st = shape_need(c, 3);
  if (st) return st;
  const tod_view *x = &c->in[0];
  int64_t b[IR_MAX_DIMS], e[IR_MAX_DIMS], s[IR_MAX_DIMS];
  int nb, ne, ns;
  if (c->n_in >= 5) { /* x, starts, ends, axes, steps (ONNX Slice) */
    int r = shape_onnx_slice_full(c->in, c->n_in, x->ndim, b, e, s);
    if (r == -1) return shape_fail(c, TOD_INFER_INVALID, "value of starts/ends/axes/steps is unknown");
    if (r) return shape_fail(c, TOD_INFER_ERR, "bad starts/ends/axes/steps");
    nb = ne = ns = x->ndim;
  } else if ((st = read_value(c, 1, b, IR_MAX_DIMS, &nb)) || (st = read_value(c, 2, e, IR_MAX_DIMS, &ne))) {
    return st;
  } else if (c->n_in >= 4 && c->in[3].ndim >= 0) {
    if ((st = read_value(c, 3, s, IR_MAX_DIMS, &ns))) return st;
  } else {
    ns = nb;
    for (int i = 0; i < nb; i++) s[i] = 1;
  }
  if (nb != ne || nb != ns)
    return shape_fail(c, TOD_INFER_ERR, "begin/end/strides have %d/%d/%d values", nb, ne, ns);
  char bx[96];
  for (int i = 0; i < x->ndim; i++)
    if (x->dims[i] < 0)
      return shape_fail(c, TOD_INFER_INVALID, "input %s has unknown dims",
                        shape_str(x, bx, sizeof bx));
  shape_slice_plan p;
  char why[128];
  const ir_node *n = c->n;
  if (shape_strided_slice_plan(x->dims, x->ndim, b, e, s, nb, ir_attr_int(n, "begin_mask", 0),
                               ir_attr_int(n, "end_mask", 0), ir_attr_int(n, "ellipsis_mask", 0),
                               ir_attr_int(n, "new_axis_mask", 0),
                               ir_attr_int(n, "shrink_axis_mask", 0), &p, why, sizeof why))
    return shape_fail(c, TOD_INFER_ERR, "%s (input %s)", why, shape_str(x, bx, sizeof bx));
  c->out[0].dtype = x->dtype;
  c->out[0].ndim = p.out_ndim;
  memcpy(c->out[0].dims, p.out_dims, sizeof(int64_t) * (size_t)p.out_ndim);
  return TOD_OK;
}

static tod_status infer_slice_fusion(const shape_ctx *c) {
  tod_status st = shape_need(c, 3);
  if (st) return st;
  const tod_view *x = &c->in[0];
  int64_t b[IR_MAX_DIMS], sz[IR_MAX_DIMS];
  int nb, ns;
  if ((st = read_value(c, 1, b, IR_MAX_DIMS, &nb)) || (st = read_value(c, 2, sz, IR_MAX_DIMS, &ns)))
    return st;
  char bx[96], why[128];
  if (nb != ns) return shape_fail(c, TOD_INFER_ERR, "begin/size have %d/%d values", nb, ns);
  for (int i = 0; i < x->ndim; i++)
    if (x->dims[i] < 0)
      return shape_fail(c, TOD_INFER_INVALID, "input %s has unknown dims",
                        shape_str(x, bx, sizeof bx));
  const int64_t *axes;
  int na = ir_attr_ints(c->n, "axes", &axes);
  shape_slice_plan p;
  if (shape_slice_fusion_plan(x->dims, x->ndim, b, sz, nb, na ? axes : NULL, na, &p, why, sizeof why))
    return shape_fail(c, TOD_INFER_ERR, "%s (input %s)", why, shape_str(x, bx, sizeof bx));
  c->out[0].dtype = x->dtype;
  c->out[0].ndim = p.out_ndim;
  memcpy(c->out[0].dims, p.out_dims, sizeof(int64_t) * (size_t)p.out_ndim);
  return TOD_OK;
}

static tod_status infer_fill(const shape_ctx *c) {
  tod_status st;
  int64_t v[IR_MAX_DIMS + 1];
  int k;
  if (c->n->op == IR_OP_ConstantOfShape) {
    if ((st = shape_need(c, 1)) || (st = read_value(c, 0, v, IR_MAX_DIMS + 1, &k))) return st;
    int dt = (int)ir_attr_int(c->n, "data_type", IR_DT_FLOAT32);
    if (dt == 0) dt = IR_DT_FLOAT32;
    if (!dtype_supported(dt))
      return shape_fail(c, TOD_INFER_ERR, "data_type %d is not supported", dt);
    return set_shape_from_values(c, dt, v, k);
  }
  /* Fill(value, shape) */
  if ((st = shape_need(c, 2)) || (st = read_value(c, 1, v, IR_MAX_DIMS + 1, &k))) return st;
  if (shape_numel(&c->in[0]) != 1)
    return shape_fail(c, TOD_INFER_ERR, "value must be a single element");
  return set_shape_from_values(c, c->in[0].dtype, v, k);
}

static tod_status infer_broadcast_to(const shape_ctx *c) {
  tod_status st = shape_need(c, 1);
  if (st) return st;
  int64_t v[IR_MAX_DIMS + 1];
  int k;
  if (c->n_in >= 2 && c->in[1].ndim >= 0) {
    if ((st = read_value(c, 1, v, IR_MAX_DIMS + 1, &k))) return st;
  } else {
    const int64_t *a;
    k = ir_attr_ints(c->n, "shape", &a);
    if (k > IR_MAX_DIMS) return shape_fail(c, TOD_INFER_ERR, "rank %d > %d", k, IR_MAX_DIMS);
    if (k) memcpy(v, a, sizeof(int64_t) * (size_t)k);
  }
  if (k > IR_MAX_DIMS) return shape_fail(c, TOD_INFER_ERR, "rank %d > %d", k, IR_MAX_DIMS);
  for (int i = 0; i < k; i++)
    if (v[i] < 0 || v[i] > MAX_DIM)
      return shape_fail(c, TOD_INFER_ERR, "shape value %lld out of range", (long long)v[i]);
  tod_view *o = &c->out[0];
  char bx[96];
  /* Bidirectional, as ONNX Expand: a target 1 keeps the input's dimension. */
  if (shape_broadcast(c->in[0].dims, c->in[0].ndim, v, k, o->dims, &o->ndim) != 0)
    return shape_fail(c, TOD_INFER_ERR, "cannot broadcast %s to the %d-value target shape",
                      shape_str(&c->in[0], bx, sizeof bx), k);
  o->dtype = c->in[0].dtype;
  return TOD_OK;
}

static tod_status infer_range(const shape_ctx *c) {
  double v[3];
  int dt;
  if (c->n_in >= 3) {
    tod_status st = shape_need(c, 3);
    if (st) return st;
    dt = c->in[0].dtype;
    for (int i = 0; i < 3; i++) {
      const tod_view *t = &c->in[i];
      if (!t->data) return shape_fail(c, TOD_INFER_INVALID, "value of input %d is unknown", i);
      if (shape_numel(t) != 1) return shape_fail(c, TOD_INFER_ERR, "input %d must be a scalar", i);
      if (t->dtype != dt) return shape_fail(c, TOD_INFER_ERR, "inputs have different dtypes");
      int64_t iv;
      if (t->dtype == IR_DT_FLOAT32) v[i] = ((const float *)t->data)[0];
      else if (t->dtype == IR_DT_FLOAT64) v[i] = ((const double *)t->data)[0];
      else if (t->dtype != IR_DT_BOOL && shape_read_int(t, 0, &iv)) v[i] = (double)iv;
      else return shape_fail(c, TOD_INFER_ERR, "dtype %s unsupported", ir_dtype_name(t->dtype));
    }
  } else {
    dt = (int)ir_attr_int(c->n, "d_type", IR_DT_INT32);
    if (dt == 0) dt = IR_DT_INT32;
    v[0] = (double)ir_attr_int(c->n, "start", 0);
    v[1] = (double)ir_attr_int(c->n, "limit", 0);
    v[2] = (double)ir_attr_int(c->n, "delta", 1);
  }
  if (v[2] == 0 || !isfinite(v[0]) || !isfinite(v[1]) || !isfinite(v[2]))
    return shape_fail(c, TOD_INFER_ERR, "delta must be non-zero and values finite");
  double cnt = ceil((v[1] - v[0]) / v[2]);
  if (cnt < 0) cnt = 0;
  if (cnt > (double)MAX_DIM) return shape_fail(c, TOD_INFER_ERR, "range of %.0f elements", cnt);
  c->out[0].dtype = dt;
  c->out[0].ndim = 1;
  c->out[0].dims[0] = (int64_t)cnt;
  return TOD_OK;
}

static tod_status infer_tile(const shape_ctx *c) {
  tod_status st = shape_need(c, 2);
  if (st) return st;
  const tod_view *x = &c->in[0];
  int64_t m[IR_MAX_DIMS];
  int k;
  if ((st = read_value(c, 1, m, IR_MAX_DIMS, &k))) return st;
  const int64_t *dims;
  int nd = ir_attr_ints(c->n, "dims", &dims);
  tod_view *o = &c->out[0];
  shape_copy(o, x);
  char bx[96];
  if (nd == 0 && k != x->ndim)
    return shape_fail(c, TOD_INFER_ERR, "%d multiples for input %s", k, shape_str(x, bx, sizeof bx));
  if (nd != 0 && nd != k)
    return shape_fail(c, TOD_INFER_ERR, "%d multiples for %d dims", k, nd);
  for (int i = 0; i < k; i++) {
    int a = i;
    if (nd && !shape_norm_axis(dims[i], x->ndim, &a))
      return shape_fail(c, TOD_INFER_ERR, "dims value %lld out of range", (long long)dims[i]);
    if (m[i] < 0 || m[i] > MAX_DIM)
      return shape_fail(c, TOD_INFER_ERR, "multiple %lld out of range", (long long)m[i]);
    if (o->dims[a] >= 0) {
      if (m[i] && o->dims[a] > MAX_DIM / m[i])
        return shape_fail(c, TOD_INFER_ERR, "tiled axis %d too large", a);
      o->dims[a] *= m[i];
    }
  }
  return TOD_OK;
}

tod_status shape_infer_tensor(const shape_ctx *c) {
  tod_status st;
  switch (c->n->op) {
    case IR_OP_Reshape: return infer_reshape(c);
    case IR_OP_Flatten: return infer_flatten(c);
    case IR_OP_Transpose: return infer_transpose(c);
    case IR_OP_Concat: return infer_concat(c);
    case IR_OP_Split: return infer_split(c);
    case IR_OP_Squeeze: return infer_squeeze(c);
    case IR_OP_Unsqueeze:
    case IR_OP_ExpandDims: return infer_unsqueeze(c);
    case IR_OP_Gather: return infer_gather(c);
    case IR_OP_Shape:
      if ((st = shape_need(c, 1))) return st;
      c->out[0].dtype = IR_DT_INT32;
      c->out[0].ndim = 1;
      c->out[0].dims[0] = c->in[0].ndim;
      return TOD_OK;
    case IR_OP_Cast: return infer_cast(c);
    case IR_OP_StridedSlice: return infer_strided_slice(c);
    case IR_OP_SliceFusion: return infer_slice_fusion(c);
    case IR_OP_Fill:
    case IR_OP_ConstantOfShape: return infer_fill(c);
    case IR_OP_BroadcastTo: return infer_broadcast_to(c);
    case IR_OP_Range: return infer_range(c);
    case IR_OP_TileFusion: return infer_tile(c);
    default: return TOD_NOT_FIND_OP;
  }
}
