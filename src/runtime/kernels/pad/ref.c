/* PadFusion: constant (any dtype; negative pads crop), reflect and symmetric padding (any
 * dtype). Each output row maps its outer coordinates back to the input once; the last axis is
 * a left border, a contiguous copy and a right border. */
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"

typedef struct {
  int mode;
  float cval;
  int rank;
  int64_t pads[2 * IR_MAX_DIMS];
  int64_t idims[IR_MAX_DIMS], odims[IR_MAX_DIMS];
  size_t esz;
  unsigned char cbytes[8]; /* the constant in the tensor's dtype */
} pad_state;

static void pad_destroy(kernel *k) {
  free(k->state);
  k->state = NULL;
}

static tod_status pad_create_impl(kernel *k, const ir_graph *g, const ir_node *n) {
  (void)g;
  pad_state *s = calloc(1, sizeof *s);
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  k->state = s;
  if (n->n_in < 1 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs an input");
  s->mode = (int)ir_attr_int(n, "padding_mode", 0);
  s->cval = (float)ir_attr_float(n, "constant_value", 0.0);
  if (s->mode < 0 || s->mode > 2) return kfail(k, TOD_NOT_SUPPORT, "padding_mode %d", s->mode);
  return TOD_OK;
}
KCREATE_GUARDED(pad_create, pad_create_impl, pad_destroy)

static tod_status pad_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                            int n_out, size_t *scratch) {
  pad_state *s = k->state;
  const tod_view *x = &in[0];
  *scratch = 0;
  int r = shape_pad_amounts(k->node, in, n_in, x->ndim, s->pads);
  if (r) return kfail(k, TOD_INPUT_TENSOR_ERROR, "paddings must be 2 known values per axis");
  s->esz = ir_dtype_size(x->dtype);
  if (!s->esz || out[0].dtype != x->dtype || out[0].ndim != x->ndim)
    return kfail(k, TOD_NOT_SUPPORT, "bad dtype or rank");
  s->rank = x->ndim;
  for (int i = 0; i < x->ndim; i++) {
    int64_t b = s->pads[2 * i], e = s->pads[2 * i + 1], d = x->dims[i];
    if (out[0].dims[i] != d + b + e) return kfail(k, TOD_INPUT_TENSOR_ERROR, "output shape mismatch");
    if (s->mode != 0 && (b < 0 || e < 0 || (s->mode == 1 ? (b >= d || e >= d) : (b > d || e > d))))
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "padding %lld/%lld invalid for axis %d of size %lld",
                   (long long)b, (long long)e, i, (long long)d);
    s->idims[i] = d, s->odims[i] = out[0].dims[i];
  }
  /* The constant: input 2 when present, else the attribute. */
  double cv = s->cval;
  if (n_in >= 3 && in[2].ndim >= 0 && in[2].data && knumel(&in[2]) == 1) {
    int64_t iv;
    if (in[2].dtype == IR_DT_FLOAT32) cv = ((const float *)in[2].data)[0];
    else if (shape_read_int(&in[2], 0, &iv)) cv = (double)iv;
  }
  memset(s->cbytes, 0, sizeof s->cbytes);
  switch (x->dtype) {
    case IR_DT_FLOAT32: { float f = (float)cv; memcpy(s->cbytes, &f, 4); break; }
    case IR_DT_FLOAT64: memcpy(s->cbytes, &cv, 8); break;
    case IR_DT_INT32: { int32_t t = cv > -2147483648.0 && cv < 2147483647.0 ? (int32_t)cv : 0; memcpy(s->cbytes, &t, 4); break; }
    case IR_DT_INT64: { int64_t t = cv > -9.2e18 && cv < 9.2e18 ? (int64_t)cv : 0; memcpy(s->cbytes, &t, 8); break; }
    default:
      if (cv != 0.0) return kfail(k, TOD_NOT_SUPPORT, "non-zero constant for %s", ir_dtype_name(x->dtype));
  }
  return TOD_OK;
}

/* Input coordinate for output coordinate o on an axis, or -1 for the constant. */
static int64_t src_coord(int mode, int64_t o, int64_t before, int64_t d) {
  int64_t i = o - before;
  if (i >= 0 && i < d) return i;
  if (mode == 0) return -1;
  if (mode == 1) return i < 0 ? -i : 2 * (d - 1) - i;   /* reflect: edge not repeated */
  return i < 0 ? -i - 1 : 2 * d - 1 - i;                 /* symmetric: edge repeated */
}

static tod_status pad_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                          void *scratch, tod_threadpool *tp) {
  const pad_state *s = k->state;
  const int r = s->rank;
  const size_t es = s->esz;
  int64_t total = knumel(&out[0]);
  if (total == 0) return TOD_OK;
  const char *x = in[0].data;
  char *y = out[0].data;
  if (r == 0) {
    memcpy(y, x, es);
    return TOD_OK;
  }
  int64_t istr[IR_MAX_DIMS], acc = 1;
  for (int i = r - 1; i >= 0; i--) istr[i] = acc, acc *= s->idims[i];
  int64_t inner = s->odims[r - 1], rows = total / inner, idx[IR_MAX_DIMS] = {0};
  int64_t pb = s->pads[2 * (r - 1)], d = s->idims[r - 1];
  for (int64_t row = 0; row < rows; row++) {
    char *dst = y + (size_t)(row * inner) * es;
    int64_t off = 0;
    int outside = 0;
    for (int a = 0; a < r - 1; a++) {
      int64_t c = src_coord(s->mode, idx[a], s->pads[2 * a], s->idims[a]);
      if (c < 0) outside = 1;
      else off += c * istr[a];
    }
    if (outside || d == 0) {
      for (int64_t t = 0; t < inner; t++) memcpy(dst + (size_t)t * es, s->cbytes, es);
    } else {
      const char *src = x + (size_t)off * es;
      /* [0, lo) border, [lo, hi) straight copy, [hi, inner) border. */
      int64_t lo = pb > 0 ? pb : 0, hi = pb + d < inner ? pb + d : inner;
      if (hi < lo) hi = lo;
      for (int64_t t = 0; t < lo; t++) {
        int64_t c = src_coord(s->mode, t, pb, d);
        memcpy(dst + (size_t)t * es, c < 0 ? (const char *)s->cbytes : src + (size_t)c * es, es);
      }
      if (hi > lo) memcpy(dst + (size_t)lo * es, src + (size_t)(lo - pb) * es, (size_t)(hi - lo) * es);
      for (int64_t t = hi; t < inner; t++) {
        int64_t c = src_coord(s->mode, t, pb, d);
        memcpy(dst + (size_t)t * es, c < 0 ? (const char *)s->cbytes : src + (size_t)c * es, es);
      }
    }
    for (int a = r - 2; a >= 0; a--) {
      if (++idx[a] < s->odims[a]) break;
      idx[a] = 0;
    }
  }
  return TOD_OK;
}

const kernel_ops kernel_PadFusion = {IR_OP_PadFusion, pad_create, pad_setup, pad_run, pad_destroy};
