/* Conv2DBackpropFilterFusion and Conv2DBackpropInputFusion, float32, NHWC activations and
 * KHWC weights [O, kh, kw, I/group] (the layout of Conv2DFusion, see conv2d/conv2d.c).
 *
 * Filter gradient, per group g: dW_g [og, kg] = dy_g^T [og, M] · col_g [M, kg], where col is
 * the forward im2col (kg = kh*kw*ig). M (all output pixels of the batch) is cut into tiles; each
 * thread accumulates its tiles into a private dW and the copies are summed at the end, so no
 * two threads ever write the same memory. The GEMM driver packs the im2col tile as B.
 *
 * Input gradient, per group g: dcol_g [M, kg] = dy_g [M, og] · W_g [og, kg], then col2im
 * scatters (adds) dcol into dx. Tasks are (image, group) pairs: they write disjoint parts of
 * dx, so the scatter needs no locks. Weights are parameters (updated in place by the
 * optimizer), so they are packed at every run, never at create.
 *
 * Depthwise (ig == og == 1) takes a direct per-channel loop for both gradients: a GEMM with a
 * single column per group would waste the micro-kernel. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"
#include "runtime/kernels/gemm/gemm.h"

/* Bytes of im2col / dcol tile per thread (the same trade-off as the forward convolution). */
#define TILE_BYTES (1024 * 1024)
/* Bound on the per-thread private dW copies of the filter gradient. */
#define ACC_BYTES_MAX ((size_t)64 << 20)

typedef struct {
  int is_input; /* Conv2DBackpropInputFusion */
  int kh_attr, kw_attr, sh, sw, dh, dw, pad_mode, group, fmt;
  int64_t pads[4]; /* top, bottom, left, right (explicit mode) */
  /* per shape */
  int n, ih, iw, cin, oh, ow, cout, kh, kw, ig, og, kg, pt, pl, depthwise, direct_1x1;
  const gemm_config *gemm;
  size_t rows, m_tiles, slots, slot_floats, packed_group;
  size_t acc_off; /* filter grad: offset of the private dW inside a slot */
} cg_state;

static const gemm_minmax mm_none = {-INFINITY, INFINITY};

/* A 2-value spatial attribute stored with 1, 2 or 4 entries (4: [1,1,h,w] in NCHW order,
 * [1,h,w,1] in NHWC). Returns 0 when malformed. */
static int attr_hw(const ir_node *n, const char *key, int dflt, int *h, int *w) {
  const int64_t *v;
  int cnt = ir_attr_ints(n, key, &v);
  int64_t a = dflt, b = dflt;
  if (cnt == 1) a = b = v[0];
  else if (cnt == 2) a = v[0], b = v[1];
  else if (cnt == 4 && ir_attr_int(n, "format", 0) == IR_FMT_NHWC) a = v[1], b = v[2];
  else if (cnt == 4) a = v[2], b = v[3];
  else if (cnt != 0) return 0;
  if (a < 0 || b < 0 || a > (1 << 20) || b > (1 << 20)) return 0;
  *h = (int)a;
  *w = (int)b;
  return 1;
}

static void cg_destroy(kernel *k) {
  free(k->state);
  k->state = NULL;
}

static tod_status cg_create(kernel *k, const ir_graph *g, const ir_node *n, int is_input) {
  cg_state *s = calloc(1, sizeof *s);
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  k->state = s;
  s->is_input = is_input;
  if (n->n_in < 2 || n->n_out < 1 || n->in[0] < 0 || n->in[1] < 0)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs dy and %s", is_input ? "w" : "x");
  for (int i = 0; i < 2; i++)
    if (g->tensors[n->in[i]].dtype != IR_DT_FLOAT32)
      return kfail(k, TOD_NOT_SUPPORT, "only float32 is supported");
  s->group = (int)ir_attr_int(n, "group", 1);
  s->pad_mode = (int)ir_attr_int(n, "pad_mode", 0);
  s->fmt = (int)ir_attr_int(n, "format", 0);
  const int64_t *pl;
  int npl = ir_attr_ints(n, "pad_list", &pl);
  if (npl != 4) npl = ir_attr_ints(n, "pad", &pl); /* Conv2DBackpropInputFusion has both */
  for (int i = 0; i < 4; i++) s->pads[i] = npl == 4 ? pl[i] : 0;
  if (!attr_hw(n, "kernel_size", 0, &s->kh_attr, &s->kw_attr) ||
      !attr_hw(n, "stride", 1, &s->sh, &s->sw) || !attr_hw(n, "dilation", 1, &s->dh, &s->dw) ||
      s->sh <= 0 || s->sw <= 0 || s->dh <= 0 || s->dw <= 0 || s->group <= 0 ||
      s->pad_mode < 0 || s->pad_mode > 2 || (npl != 0 && npl != 4))
    return kfail(k, TOD_INVALID_OP_ATTR, "invalid kernel_size/stride/dilation/group/pad_mode");
  for (int i = 0; i < 4; i++)
    if (s->pads[i] < 0 || s->pads[i] > (1 << 20))
      return kfail(k, TOD_INVALID_OP_ATTR, "pad value %lld out of range", (long long)s->pads[i]);
  if (ir_attr_int(n, "activation_type", 0) != 0)
    return kfail(k, TOD_NOT_SUPPORT, "a fused activation on a gradient is not supported");
  return TOD_OK;
}

/* The forward convolution's geometry: padding and output size from the input size. */
static tod_status cg_geometry(kernel *k, cg_state *s) {
  const int ekh = (s->kh - 1) * s->dh + 1, ekw = (s->kw - 1) * s->dw + 1;
  int pt, pb, pl, pr;
  if (s->pad_mode == 1) { /* SAME: output ceil(in / stride), the odd pad at the end */
    const int oh = (s->ih + s->sh - 1) / s->sh, ow = (s->iw + s->sw - 1) / s->sw;
    int th = (oh - 1) * s->sh + ekh - s->ih, tw = (ow - 1) * s->sw + ekw - s->iw;
    th = th < 0 ? 0 : th;
    tw = tw < 0 ? 0 : tw;
    pt = th / 2, pb = th - pt, pl = tw / 2, pr = tw - pl;
  } else if (s->pad_mode == 2) {
    pt = pb = pl = pr = 0;
  } else {
    pt = (int)s->pads[0], pb = (int)s->pads[1], pl = (int)s->pads[2], pr = (int)s->pads[3];
  }
  if (s->ih + pt + pb < ekh || s->iw + pl + pr < ekw)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "kernel larger than the padded input");
  const int oh = (s->ih + pt + pb - ekh) / s->sh + 1, ow = (s->iw + pl + pr - ekw) / s->sw + 1;
  if (oh != s->oh || ow != s->ow)
    return kfail(k, TOD_INPUT_TENSOR_ERROR,
                 "dy is %dx%d but the forward convolution of %dx%d gives %dx%d", s->oh, s->ow,
                 s->ih, s->iw, oh, ow);
  s->pt = pt;
  s->pl = pl;
  s->direct_1x1 = s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 && pt == 0 && pl == 0 &&
                  pb == 0 && pr == 0;
  return TOD_OK;
}

static int dims_ok(const tod_view *v) {
  if (v->ndim != 4 || v->dtype != IR_DT_FLOAT32) return 0;
  for (int i = 0; i < 4; i++)
    if (v->dims[i] <= 0 || v->dims[i] > (1 << 30)) return 0;
  return 1;
}

/* Shared setup: dy = in[0]; x (filter grad) = in[1] or dx (input grad) = out[0]; the weight
 * (input grad: in[1]; filter grad: out[0]) gives O, kh, kw, I/group. */
static tod_status cg_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                           int n_out, size_t *scratch) {
  cg_state *s = k->state;
  *scratch = 0;
  if (n_in < 2 || n_out < 1)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs 2 inputs and an output");
  const tod_view *dy = &in[0], *img = s->is_input ? &out[0] : &in[1];
  const tod_view *w = s->is_input ? &in[1] : &out[0];
  if (!dims_ok(dy) || !dims_ok(img) || !dims_ok(w))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "dy, x/dx and w/dw must be 4-D float32 NHWC/KHWC");
  s->n = (int)img->dims[0], s->ih = (int)img->dims[1], s->iw = (int)img->dims[2];
  s->cin = (int)img->dims[3];
  s->oh = (int)dy->dims[1], s->ow = (int)dy->dims[2], s->cout = (int)dy->dims[3];
  s->kh = (int)w->dims[1], s->kw = (int)w->dims[2], s->ig = (int)w->dims[3];
  if (dy->dims[0] != s->n || w->dims[0] != s->cout || s->cout % s->group ||
      (int64_t)s->ig * s->group != s->cin)
    return kfail(k, TOD_INPUT_TENSOR_ERROR,
                 "shapes disagree: dy N=%lld C=%d, x N=%d C=%d, w [%lld,%d,%d,%d], group %d",
                 (long long)dy->dims[0], s->cout, s->n, s->cin, (long long)w->dims[0], s->kh,
                 s->kw, s->ig, s->group);
  if ((s->kh_attr > 0 && s->kh_attr != s->kh) || (s->kw_attr > 0 && s->kw_attr != s->kw))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "kernel_size %dx%d but the weight is %dx%d",
                 s->kh_attr, s->kw_attr, s->kh, s->kw);
  tod_status st = cg_geometry(k, s);
  if (st) return st;
  s->og = s->cout / s->group;
  s->kg = s->kh * s->kw * s->ig;
  s->depthwise = s->ig == 1 && s->og == 1;
  s->slots = gemm_scratch_slots();
  const size_t m = (size_t)s->n * s->oh * s->ow, kg = (size_t)s->kg, cout = (size_t)s->cout;
  const size_t taps = (size_t)s->kh * s->kw;
  if (s->depthwise) {
    if (s->is_input) {
      /* Transposed weights [taps][C], shared. */
      s->slot_floats = 0;
      *scratch = taps * cout * sizeof(float);
    } else {
      size_t tasks = m;
      if (s->slots > tasks) s->slots = tasks;
      while (s->slots > 1 && s->slots * taps * cout * sizeof(float) > ACC_BYTES_MAX) s->slots--;
      s->slot_floats = taps * cout;
      *scratch = s->slots * s->slot_floats * sizeof(float);
    }
    return TOD_OK;
  }
  size_t rows = TILE_BYTES / (kg * sizeof(float));
  if (rows > 512) rows = 512;
  if (rows < 16) rows = 16;
  if (s->is_input) {
    /* Tiles within one image: tasks are (image, group). */
    const size_t per_img = (size_t)s->oh * s->ow;
    if (rows > per_img) rows = per_img;
    s->rows = rows;
    s->gemm = gemm_config_get(kg);
    s->packed_group = gemm_packed_size(s->gemm, (size_t)s->og, kg);
    s->slot_floats = (rows * kg + 15) / 16 * 16;
    *scratch = (s->slots * s->slot_floats + s->packed_group * (size_t)s->group) * sizeof(float);
    return TOD_OK;
  }
  /* Filter gradient: enough tiles for every thread, each thread with a private dW. */
  const size_t per_slot = (m + s->slots - 1) / s->slots;
  if (s->slots > 1 && rows > per_slot) rows = per_slot < 16 ? 16 : per_slot;
  if (rows > m) rows = m;
  s->rows = rows;
  s->m_tiles = (m + rows - 1) / rows;
  if (s->slots > s->m_tiles) s->slots = s->m_tiles;
  const size_t wsize = cout * kg;
  while (s->slots > 1 && s->slots * wsize * sizeof(float) > ACC_BYTES_MAX) s->slots--;
  s->gemm = gemm_config_get(kg);
  const size_t packed = gemm_packed_size(s->gemm, rows, kg);
  /* col [rows*kg] | packed B | dy^T [og*rows] | tmp [og*kg] | acc [cout*kg] */
  s->acc_off = rows * kg + packed + (size_t)s->og * rows + (size_t)s->og * kg;
  s->slot_floats = s->acc_off + wsize;
  s->slot_floats = (s->slot_floats + 15) / 16 * 16;
  *scratch = s->slots * s->slot_floats * sizeof(float);
  return TOD_OK;
}

/* im2col of pixels [row0, row0+rows) (flat over the batch) for group g: row r holds the
 * receptive field in (ky, kx, ci) order, the order of the KHWC weights; padding reads 0. */
static void im2col(const cg_state *s, const float *x, size_t row0, size_t rows, int g,
                   float *col) {
  const size_t ig = (size_t)s->ig, kg = (size_t)s->kg, cin = (size_t)s->cin;
  const size_t ohw = (size_t)s->oh * s->ow;
  for (size_t r = 0; r < rows; r++) {
    const size_t p = row0 + r, b = p / ohw, rem = p % ohw;
    const int oy = (int)(rem / (size_t)s->ow), ox = (int)(rem % (size_t)s->ow);
    float *dst = col + r * kg;
    for (int ky = 0; ky < s->kh; ky++) {
      const int iy = oy * s->sh - s->pt + ky * s->dh;
      for (int kx = 0; kx < s->kw; kx++, dst += ig) {
        const int ix = ox * s->sw - s->pl + kx * s->dw;
        if (iy < 0 || iy >= s->ih || ix < 0 || ix >= s->iw)
          memset(dst, 0, ig * sizeof(float));
        else
          memcpy(dst, x + ((b * s->ih + (size_t)iy) * s->iw + (size_t)ix) * cin + (size_t)g * ig,
                 ig * sizeof(float));
      }
    }
  }
}

typedef struct {
  const cg_state *s;
  const float *dy, *x, *w;
  float *out, *scratch, *packed;
} cg_ctx;

static void filter_tasks(void *ctx, size_t slot, size_t begin, size_t end) {
  const cg_ctx *c = ctx;
  const cg_state *s = c->s;
  const size_t m = (size_t)s->n * s->oh * s->ow, kg = (size_t)s->kg, og = (size_t)s->og;
  const size_t cout = (size_t)s->cout, rows_max = s->rows;
  float *col = c->scratch + slot * s->slot_floats;
  float *packed = col + rows_max * kg;
  float *dyt = packed + gemm_packed_size(s->gemm, rows_max, kg);
  float *tmp = dyt + og * rows_max;
  float *acc = c->scratch + slot * s->slot_floats + s->acc_off;
  for (size_t t = begin; t < end; t++) {
    const size_t row0 = t * rows_max, rows = m - row0 < rows_max ? m - row0 : rows_max;
    for (int g = 0; g < s->group; g++) {
      if (s->direct_1x1) /* the input rows are the im2col rows */
        gemm_pack_b(s->gemm, rows, kg, c->x + row0 * (size_t)s->cin + (size_t)g * s->ig,
                    (size_t)s->cin, 0, NULL, packed);
      else {
        im2col(s, c->x, row0, rows, g, col);
        gemm_pack_b(s->gemm, rows, kg, col, kg, 0, NULL, packed);
      }
      const float *dyg = c->dy + row0 * cout + (size_t)g * og;
      for (size_t r = 0; r < rows; r++)
        for (size_t o = 0; o < og; o++) dyt[o * rows + r] = dyg[r * cout + o];
      gemm_compute(s->gemm, og, 0, kg, kg, rows, dyt, rows, packed, tmp, kg, &mm_none);
      float *a = acc + (size_t)g * og * kg;
      for (size_t i = 0; i < og * kg; i++) a[i] += tmp[i];
    }
  }
}

/* Depthwise filter gradient: acc [taps][C] per thread, over output pixels [begin, end). */
static void dw_filter_tasks(void *ctx, size_t slot, size_t begin, size_t end) {
  const cg_ctx *c = ctx;
  const cg_state *s = c->s;
  const size_t ch = (size_t)s->cout, ohw = (size_t)s->oh * s->ow;
  float *acc = c->scratch + slot * s->slot_floats;
  for (size_t p = begin; p < end; p++) {
    const size_t b = p / ohw, rem = p % ohw;
    const int oy = (int)(rem / (size_t)s->ow), ox = (int)(rem % (size_t)s->ow);
    const float *dy = c->dy + p * ch;
    for (int ky = 0; ky < s->kh; ky++) {
      const int iy = oy * s->sh - s->pt + ky * s->dh;
      if (iy < 0 || iy >= s->ih) continue;
      for (int kx = 0; kx < s->kw; kx++) {
        const int ix = ox * s->sw - s->pl + kx * s->dw;
        if (ix < 0 || ix >= s->iw) continue;
        const float *x = c->x + ((b * s->ih + (size_t)iy) * s->iw + (size_t)ix) * ch;
        float *a = acc + ((size_t)ky * s->kw + (size_t)kx) * ch;
        for (size_t i = 0; i < ch; i++) a[i] += dy[i] * x[i];
      }
    }
  }
}

typedef struct {
  const cg_state *s;
  const float *src;
  float *dst;
  size_t slots, stride, n;
  int transpose; /* depthwise: [taps][C] -> [C][taps] */
} reduce_ctx;

static void reduce_range(void *ctx, int64_t b, int64_t e) {
  const reduce_ctx *r = ctx;
  const size_t ch = (size_t)r->s->cout, taps = (size_t)r->s->kh * r->s->kw;
  for (int64_t i = b; i < e; i++) {
    /* Output element i; in depthwise layout it lives at (tap, channel) of the accumulators. */
    size_t j = (size_t)i;
    if (r->transpose) j = ((size_t)i % taps) * ch + (size_t)i / taps;
    float sum = 0.0f;
    for (size_t sl = 0; sl < r->slots; sl++) sum += r->src[sl * r->stride + j];
    r->dst[i] = sum;
  }
}

static tod_status filter_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                             void *scratch, tod_threadpool *tp) {
  const cg_state *s = k->state;
  cg_ctx c = {s, in[0].data, in[1].data, NULL, out[0].data, scratch, NULL};
  const size_t m = (size_t)s->n * s->oh * s->ow;
  const size_t wsize = (size_t)s->cout * s->kg;
  reduce_ctx r = {s, NULL, out[0].data, s->slots, s->slot_floats, wsize, s->depthwise};
  if (s->depthwise) {
    memset(scratch, 0, s->slots * s->slot_floats * sizeof(float));
    gemm_run_slots(tp, s->slots, m, dw_filter_tasks, &c);
    r.src = scratch;
  } else {
    const size_t acc_off = s->acc_off;
    for (size_t sl = 0; sl < s->slots; sl++)
      memset((float *)scratch + sl * s->slot_floats + acc_off, 0, wsize * sizeof(float));
    gemm_run_slots(tp, s->slots, s->m_tiles, filter_tasks, &c);
    r.src = (float *)scratch + acc_off;
  }
  kpar_for(tp, (int64_t)wsize, 4096, reduce_range, &r);
  return TOD_OK;
}

/* Adds the dcol rows of image pixels [p0, p0+rows) for group g into dx (one image). */
static void col2im(const cg_state *s, const float *dcol, size_t p0, size_t rows, int g,
                   float *dx) {
  const size_t ig = (size_t)s->ig, kg = (size_t)s->kg, cin = (size_t)s->cin;
  for (size_t r = 0; r < rows; r++) {
    const size_t p = p0 + r;
    const int oy = (int)(p / (size_t)s->ow), ox = (int)(p % (size_t)s->ow);
    const float *src = dcol + r * kg;
    for (int ky = 0; ky < s->kh; ky++) {
      const int iy = oy * s->sh - s->pt + ky * s->dh;
      for (int kx = 0; kx < s->kw; kx++, src += ig) {
        const int ix = ox * s->sw - s->pl + kx * s->dw;
        if (iy < 0 || iy >= s->ih || ix < 0 || ix >= s->iw) continue;
        float *d = dx + ((size_t)iy * s->iw + (size_t)ix) * cin + (size_t)g * ig;
        for (size_t i = 0; i < ig; i++) d[i] += src[i];
      }
    }
  }
}

/* Tasks are (image, group): disjoint channel ranges of disjoint images. */
static void input_tasks(void *ctx, size_t slot, size_t begin, size_t end) {
  const cg_ctx *c = ctx;
  const cg_state *s = c->s;
  const size_t kg = (size_t)s->kg, og = (size_t)s->og, cout = (size_t)s->cout;
  const size_t cin = (size_t)s->cin, ig = (size_t)s->ig;
  const size_t ohw = (size_t)s->oh * s->ow, ihw = (size_t)s->ih * s->iw;
  float *dcol = c->scratch + slot * s->slot_floats;
  for (size_t t = begin; t < end; t++) {
    const size_t b = t / (size_t)s->group;
    const int g = (int)(t % (size_t)s->group);
    float *dx = c->out + b * ihw * cin;
    const float *packed = c->packed + (size_t)g * s->packed_group;
    for (size_t p0 = 0; p0 < ohw; p0 += s->rows) {
      const size_t rows = ohw - p0 < s->rows ? ohw - p0 : s->rows;
      const float *a = c->dy + (b * ohw + p0) * cout + (size_t)g * og;
      if (s->direct_1x1) {
        /* Each dx pixel receives exactly one dcol row: write it in place. */
        gemm_compute(s->gemm, rows, 0, kg, kg, og, a, cout, packed, dx + p0 * cin + (size_t)g * ig,
                     cin, &mm_none);
        continue;
      }
      if (p0 == 0)
        for (size_t i = 0; i < ihw; i++) memset(dx + i * cin + (size_t)g * ig, 0, ig * sizeof(float));
      gemm_compute(s->gemm, rows, 0, kg, kg, og, a, cout, packed, dcol, kg, &mm_none);
      col2im(s, dcol, p0, rows, g, dx);
    }
  }
}

/* Depthwise input gradient, tasks are images; wt is the weight as [taps][C]. */
static void dw_input_tasks(void *ctx, size_t slot, size_t begin, size_t end) {
  const cg_ctx *c = ctx;
  const cg_state *s = c->s;
  const size_t ch = (size_t)s->cout, ohw = (size_t)s->oh * s->ow, ihw = (size_t)s->ih * s->iw;
  for (size_t b = begin; b < end; b++) {
    float *dx = c->out + b * ihw * ch;
    memset(dx, 0, ihw * ch * sizeof(float));
    for (size_t p = 0; p < ohw; p++) {
      const int oy = (int)(p / (size_t)s->ow), ox = (int)(p % (size_t)s->ow);
      const float *dy = c->dy + (b * ohw + p) * ch;
      for (int ky = 0; ky < s->kh; ky++) {
        const int iy = oy * s->sh - s->pt + ky * s->dh;
        if (iy < 0 || iy >= s->ih) continue;
        for (int kx = 0; kx < s->kw; kx++) {
          const int ix = ox * s->sw - s->pl + kx * s->dw;
          if (ix < 0 || ix >= s->iw) continue;
          const float *w = c->packed + ((size_t)ky * s->kw + (size_t)kx) * ch;
          float *d = dx + ((size_t)iy * s->iw + (size_t)ix) * ch;
          for (size_t i = 0; i < ch; i++) d[i] += dy[i] * w[i];
        }
      }
    }
  }
}

static tod_status input_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                            void *scratch, tod_threadpool *tp) {
  const cg_state *s = k->state;
  cg_ctx c = {s, in[0].data, NULL, in[1].data, out[0].data, scratch, NULL};
  const float *w = in[1].data;
  if (s->depthwise) {
    const size_t ch = (size_t)s->cout, taps = (size_t)s->kh * s->kw;
    float *wt = scratch;
    for (size_t i = 0; i < ch; i++)
      for (size_t t = 0; t < taps; t++) wt[t * ch + i] = w[i * taps + t];
    c.packed = wt;
    gemm_run_slots(tp, s->slots, (size_t)s->n, dw_input_tasks, &c);
    return TOD_OK;
  }
  /* B_g = W_g as [og, kg] row-major: K = og, N = kg. */
  float *packed = (float *)scratch + s->slots * s->slot_floats;
  for (int g = 0; g < s->group; g++)
    gemm_pack_b(s->gemm, (size_t)s->og, (size_t)s->kg, w + (size_t)g * s->og * s->kg,
                (size_t)s->kg, 0, NULL, packed + (size_t)g * s->packed_group);
  c.packed = packed;
  gemm_run_slots(tp, s->slots, (size_t)s->n * s->group, input_tasks, &c);
  return TOD_OK;
}

static tod_status cgf_create_i(kernel *k, const ir_graph *g, const ir_node *n) {
  return cg_create(k, g, n, 0);
}
static tod_status cgi_create_i(kernel *k, const ir_graph *g, const ir_node *n) {
  return cg_create(k, g, n, 1);
}
KCREATE_GUARDED(cgf_create_g, cgf_create_i, cg_destroy)
KCREATE_GUARDED(cgi_create_g, cgi_create_i, cg_destroy)

const kernel_ops kernel_Conv2DBackpropFilterFusion = {
    IR_OP_Conv2DBackpropFilterFusion, cgf_create_g, cg_setup, filter_run, cg_destroy};
const kernel_ops kernel_Conv2DBackpropInputFusion = {
    IR_OP_Conv2DBackpropInputFusion, cgi_create_g, cg_setup, input_run, cg_destroy};
