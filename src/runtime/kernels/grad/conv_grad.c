/* Conv2DBackpropFilterFusion and Conv2DBackpropInputFusion, float32, NHWC activations and
 * KHWC weights [O, kh, kw, I/group] (the layout of Conv2DFusion, see conv2d/conv2d.c).
 *
 * Filter gradient, per group g: dW_g [og, kg] = dy_g^T [og, M] · col_g [M, kg], where col is
 * the forward im2col (kg = kh*kw*ig). M (all output pixels of the batch) is cut into tiles
 * whose dy and col rows fit in L2; each thread accumulates its tiles into a private dW and the
 * copies are summed at the end, so no two threads ever write the same memory. The product is
 * the transposed-A GEMM (gemm_tn.h): dy and col are read in place, neither transposed nor
 * packed; a 1x1 stride-1 convolution reads the NHWC input itself as col (no im2col).
 *
 * Input gradient, per group g: dcol_g [M, kg] = dy_g [M, og] · W_g [og, kg], then col2im
 * scatters (adds) dcol into dx. Tasks are (image, group) pairs: they write disjoint parts of
 * dx, so the scatter needs no locks. Weights are parameters (updated in place by the
 * optimizer), so they are packed at every run, never at create.
 *
 * Depthwise (ig == og == 1) takes direct micro-kernels vectorised over channels for both
 * gradients (dwconv_grad.h: a GEMM with a single column per group would waste the GEMM
 * micro-kernel). Tasks are output rows; each builds the row's indirection pointers (one per
 * pixel and tap) and makes one micro-kernel call. Filter: each thread accumulates [taps][C]
 * privately and the copies are summed (and transposed to KHWC) at the end. Input: a scatter
 * of every dy pixel into its window of dx, by image, each dx row zeroed just before the first
 * window reaches it (while it is in cache). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "runtime/kernels/common/kutil.h"
#include "runtime/kernels/conv2d/pixconv.h"
#include "runtime/kernels/gemm/gemm.h"
#include "runtime/kernels/grad/dwconv_grad.h"
#include "runtime/kernels/grad/gemm_tn.h"

/* Bytes of im2col / dcol tile per thread (the same trade-off as the forward convolution). */
#define TILE_BYTES (1024 * 1024)
/* Filter gradient: bytes of one tile's dy and col rows, read by every micro-kernel tile. */
#define FILTER_TILE_BYTES (128 * 1024)
/* Most output channels for which the filter gradient takes pixconv rather than the GEMM. */
#define PIX_FILTER_MAX_COUT 8
/* Bound on the per-thread private dW copies of the filter gradient. */
#define ACC_BYTES_MAX ((size_t)64 << 20)

typedef struct {
  int is_input; /* Conv2DBackpropInputFusion */
  int kh_attr, kw_attr, sh, sw, dh, dw, pad_mode, group, fmt;
  int64_t pads[4]; /* top, bottom, left, right (explicit mode) */
  /* per shape */
  int n, ih, iw, cin, oh, ow, cout, kh, kw, ig, og, kg, pt, pl, depthwise, direct_1x1;
  int swap; /* filter grad, one group: dW^T [kg, cout] = col^T dy fills the vector lanes better */
  int padded; /* filter grad by padded input rows (no im2col); ihp x iwp image per slot */
  int pix;    /* filter grad by pixconv (few output channels): planar padded image and dy */
  int wrap;   /* padded, stride 1: one GEMM per ky over all rows, dy padded to the row width */
  size_t ihp, iwp;
  const gemm_config *gemm;
  const dwconv_grad_config *dwk;
  const gemm_tn_config *tn;
  const pixconv_filter_config *pixf;
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
  s->dwk = dwconv_grad_config_get();
  s->tn = gemm_tn_config_get();
  s->pixf = is_input ? NULL : pixconv_filter_config_get();
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
    /* Per slot: one output row's indirection pointers (2 floats' room each). */
    const size_t ptr_floats = 2 * (size_t)s->ow * taps;
    if (s->is_input) {
      /* Shared transposed weights [taps][C]; per slot a discard row [C] and the pointers. */
      s->acc_off = (taps * cout + 15) / 16 * 16;
      s->slot_floats = (cout + 15) / 16 * 16 + (ptr_floats + 15) / 16 * 16;
    } else {
      /* Per slot the private gradient [taps][C] and the pointers; one shared zero row. */
      const size_t tasks = (size_t)s->n * s->oh;
      if (s->slots > tasks) s->slots = tasks;
      while (s->slots > 1 && s->slots * taps * cout * sizeof(float) > ACC_BYTES_MAX) s->slots--;
      s->acc_off = 0;
      s->slot_floats = (taps * cout + 15) / 16 * 16 + (ptr_floats + 15) / 16 * 16;
    }
    *scratch = (s->acc_off + s->slots * s->slot_floats + cout) * sizeof(float);
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
    /* + 8: col2im_gather reads 8 channels at a time past a tap's last (unused lanes) */
    s->slot_floats = (rows * kg + 8 + 15) / 16 * 16;
    *scratch = (s->slots * s->slot_floats + s->packed_group * (size_t)s->group) * sizeof(float);
    return TOD_OK;
  }
  /* Filter gradient: tiles of rows whose dy and col fit FILTER_TILE_BYTES, as many tiles per
   * thread (each thread with a private dW) and of equal size. */
  rows = FILTER_TILE_BYTES / ((kg + cout) * sizeof(float));
  if (rows > 4096) rows = 4096;
  if (rows < 16) rows = 16;
  if (rows > m) rows = m;
  size_t tiles = (m + rows - 1) / rows;
  if (s->slots > 1) tiles = (tiles + s->slots - 1) / s->slots * s->slots;
  rows = (m + tiles - 1) / tiles;
  s->rows = rows;
  s->m_tiles = (m + rows - 1) / rows;
  if (s->slots > s->m_tiles) s->slots = s->m_tiles;
  const size_t wsize = cout * kg;
  while (s->slots > 1 && s->slots * wsize * sizeof(float) > ACC_BYTES_MAX) s->slots--;
  /* The micro-kernel's vector runs along the columns of the product: along kg, or (swap) along
   * cout when that leaves fewer lanes idle, e.g. a 1x1 expansion from 16 to 96 channels. */
  const size_t nr = (size_t)s->tn->nr;
  s->swap = s->group == 1 &&
            kg * ((cout + nr - 1) / nr) < cout * ((kg + nr - 1) / nr); /* kg/pad(kg) < cout/pad(cout) */
  /* One group, no dilation along x, not 1x1: the kernel row ky of output row oy reads, for
   * every ox, kw*cin contiguous values of a zero-padded copy of the input row, ox*sw*cin
   * apart: B is read in place (overlapping rows) and no im2col is built. Tasks are images.
   * Worth it where im2col rows are short (LeNet's 1-channel input: 25 values a row). */
  s->ihp = (size_t)(s->oh - 1) * s->sh + (size_t)(s->kh - 1) * s->dh + 1;
  s->iwp = (size_t)(s->ow - 1) * s->sw + (size_t)s->kw;
  if (s->ihp < (size_t)s->ih + s->pt) s->ihp = (size_t)s->ih + s->pt;
  if (s->iwp < (size_t)s->iw + s->pl) s->iwp = (size_t)s->iw + s->pl;
  s->padded = s->group == 1 && s->dw == 1 && !s->direct_1x1 &&
              s->ihp * s->iwp * (size_t)s->cin * sizeof(float) <= ((size_t)4 << 20);
  /* Few output channels, stride 1 along x, no dilation: pixconv (pixconv.h) with the pixels
   * in the lanes, where the GEMM would fill only cout of its vector's lanes. Tasks are
   * images; a slot holds the planar padded image, dy planar ([oy][o][ox]) and dW^T. */
  s->pix = s->pixf && s->padded && s->sw == 1 && s->dh == 1 && s->cout <= PIX_FILTER_MAX_COUT &&
           s->ow >= 8 && s->kh <= 64 && s->kw <= 64;
  if (s->pix) {
    s->padded = 0;
    s->iwp = (size_t)s->ow + (size_t)s->kw - 1;
    s->ihp = (size_t)(s->oh - 1) * s->sh + (size_t)s->kh;
    s->slots = gemm_scratch_slots();
    if (s->slots > (size_t)s->n) s->slots = (size_t)s->n;
    while (s->slots > 1 && s->slots * wsize * sizeof(float) > ACC_BYTES_MAX) s->slots--;
    s->acc_off = (s->ihp * s->iwp * (size_t)s->cin + 15) / 16 * 16 + (m / (size_t)s->n * cout + 15) / 16 * 16;
    s->slot_floats = (s->acc_off + wsize + 15) / 16 * 16;
    *scratch = s->slots * s->slot_floats * sizeof(float);
    return TOD_OK;
  }
  if (s->padded) {
    const size_t run = (size_t)s->kw * s->cin;
    s->swap = run * ((cout + nr - 1) / nr) < cout * ((run + nr - 1) / nr);
    s->slots = gemm_scratch_slots();
    if (s->slots > (size_t)s->n) s->slots = (size_t)s->n;
    while (s->slots > 1 && s->slots * wsize * sizeof(float) > ACC_BYTES_MAX) s->slots--;
    /* Stride 1: output pixel (oy, ox) reads padded pixel (oy + ky) * iwp + ox + kx, so over
     * "virtual" pixels p = oy * iwp + ox (ox < iwp) the B rows of kernel row ky are one run
     * cin apart, and one GEMM per ky covers the image (LeNet's 10x10 output: K = 140, not 10
     * GEMMs of K = 10, whose accumulator loads and stores cost more than their FMAs). dy is
     * copied with zeros at ox >= ow; those columns read past the rows (and past the image by
     * (kw - 1) * cin zeroed floats) but add 0. */
    s->wrap = s->sh == 1 && s->sw == 1 && s->dh == 1 && s->iwp <= 2 * (size_t)s->ow;
  }
  /* col [rows*kg] (none for 1x1) or the padded image (wrap: + slack, then dy padded) |
   * acc [cout*kg] ([kg][cout] swapped) */
  s->acc_off = s->padded ? (s->ihp * s->iwp * (size_t)s->cin + 15) / 16 * 16
               : s->direct_1x1 ? 0 : (rows * kg + 15) / 16 * 16;
  if (s->padded && s->wrap)
    s->acc_off = (s->ihp * s->iwp * (size_t)s->cin + (size_t)(s->kw - 1) * s->cin + 15) / 16 * 16 +
                 ((size_t)s->oh * s->iwp * cout + 15) / 16 * 16;
  s->slot_floats = s->acc_off + wsize;
  s->slot_floats = (s->slot_floats + 15) / 16 * 16;
  *scratch = s->slots * s->slot_floats * sizeof(float);
  return TOD_OK;
}

/* Short runs (a few channels per tap) are the common case here: plain SSE2 (the x86-64
 * baseline) loops instead of a libc call per run. */
static inline __attribute__((always_inline)) void copy_run(float *d, const float *x, size_t n) {
  if (n >= 64) {
    memcpy(d, x, n * sizeof(float));
    return;
  }
  size_t i = 0;
#if defined(__SSE2__)
  for (; i + 4 <= n; i += 4) _mm_storeu_ps(d + i, _mm_loadu_ps(x + i));
#endif
  for (; i < n; i++) d[i] = x[i];
}

static inline __attribute__((always_inline)) void zero_run(float *d, size_t n) {
  if (n >= 64) {
    memset(d, 0, n * sizeof(float));
    return;
  }
  size_t i = 0;
#if defined(__SSE2__)
  for (; i + 4 <= n; i += 4) _mm_storeu_ps(d + i, _mm_setzero_ps());
#endif
  for (; i < n; i++) d[i] = 0.0f;
}

static inline __attribute__((always_inline)) void add_run(float *d, const float *x, size_t n) {
  size_t i = 0;
#if defined(__SSE2__)
  for (; i + 4 <= n; i += 4) _mm_storeu_ps(d + i, _mm_add_ps(_mm_loadu_ps(d + i), _mm_loadu_ps(x + i)));
#endif
  for (; i < n; i++) d[i] += x[i];
}

/* The taps kx in [*lo, *hi) of output column ox that fall inside the input row. With one
 * group and no dilation their channels are one contiguous run of the NHWC row. */
static void tap_range(const cg_state *s, int ox, int *lo, int *hi) {
  const int ix0 = ox * s->sw - s->pl;
  *lo = ix0 < 0 ? (-ix0 < s->kw ? -ix0 : s->kw) : 0; /* pads may exceed the kernel */
  *hi = s->iw - ix0 < s->kw ? s->iw - ix0 : s->kw;
  if (*hi < *lo) *hi = *lo;
}

/* im2col of pixels [row0, row0+rows) (flat over the batch) for group g: row r holds the
 * receptive field in (ky, kx, ci) order, the order of the KHWC weights; padding reads 0. */
static void im2col(const cg_state *s, const float *x, size_t row0, size_t rows, int g,
                   float *col) {
  const size_t ig = (size_t)s->ig, kg = (size_t)s->kg, cin = (size_t)s->cin;
  const size_t ohw = (size_t)s->oh * s->ow, kw = (size_t)s->kw;
  const int runs = s->group == 1 && s->dw == 1;
  /* The pixel's (image, row, column), stepped rather than divided out per row: with few
   * channels a row is only a few runs and the divisions would cost more than the copies. */
  size_t b = row0 / ohw;
  int oy = (int)(row0 % ohw / (size_t)s->ow), ox = (int)(row0 % (size_t)s->ow) - 1;
  for (size_t r = 0; r < rows; r++) {
    if (++ox == s->ow) {
      ox = 0;
      if (++oy == s->oh) oy = 0, b++;
    }
    float *dst = col + r * kg;
    int lo = 0, hi = 0;
    if (runs) tap_range(s, ox, &lo, &hi);
    for (int ky = 0; ky < s->kh; ky++, dst += kw * ig) {
      const int iy = oy * s->sh - s->pt + ky * s->dh;
      if (iy < 0 || iy >= s->ih) {
        zero_run(dst, kw * ig);
        continue;
      }
      const float *xrow = x + (b * s->ih + (size_t)iy) * s->iw * cin + (size_t)g * ig;
      if (runs) {
        const int ix0 = ox * s->sw - s->pl;
        zero_run(dst, (size_t)lo * ig);
        copy_run(dst + (size_t)lo * ig, xrow + (size_t)(ix0 + lo) * cin, (size_t)(hi - lo) * ig);
        zero_run(dst + (size_t)hi * ig, (kw - (size_t)hi) * ig);
        continue;
      }
      for (int kx = 0; kx < s->kw; kx++) {
        const int ix = ox * s->sw - s->pl + kx * s->dw;
        if (ix < 0 || ix >= s->iw) zero_run(dst + (size_t)kx * ig, ig);
        else copy_run(dst + (size_t)kx * ig, xrow + (size_t)ix * cin, ig);
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
  const size_t cout = (size_t)s->cout, cin = (size_t)s->cin, rows_max = s->rows;
  float *col = c->scratch + slot * s->slot_floats;
  float *acc = col + s->acc_off;
  for (size_t t = begin; t < end; t++) {
    const size_t row0 = t * rows_max, rows = m - row0 < rows_max ? m - row0 : rows_max;
    for (int g = 0; g < s->group; g++) {
      const float *b = col;
      size_t ldb = kg;
      if (s->direct_1x1) { /* the input rows are the im2col rows */
        b = c->x + row0 * cin + (size_t)g * s->ig;
        ldb = cin;
      } else {
        im2col(s, c->x, row0, rows, g, col);
      }
      const float *dy = c->dy + row0 * cout + (size_t)g * og;
      if (s->swap)
        gemm_tn_accumulate(s->tn, kg, cout, rows, b, ldb, dy, cout, acc, cout);
      else
        gemm_tn_accumulate(s->tn, og, kg, rows, dy, cout, b, ldb, acc + (size_t)g * og * kg, kg);
    }
  }
}

/* Filter gradient by padded rows, tasks are images (see cg_setup). */
static void filter_padded_tasks(void *ctx, size_t slot, size_t begin, size_t end) {
  const cg_ctx *c = ctx;
  const cg_state *s = c->s;
  const size_t cin = (size_t)s->cin, cout = (size_t)s->cout, kg = (size_t)s->kg;
  const size_t ow = (size_t)s->ow, run = (size_t)s->kw * cin, prow = s->iwp * cin;
  float *xp = c->scratch + slot * s->slot_floats;
  float *acc = xp + s->acc_off;
  for (size_t b = begin; b < end; b++) {
    /* The padded image: rows [pt, pt+ih) and columns [pl, pl+iw) hold x, the rest 0. */
    const float *xb = c->x + b * (size_t)s->ih * s->iw * cin;
    for (size_t y = 0; y < s->ihp; y++) {
      float *d = xp + y * prow;
      const size_t iy = y - (size_t)s->pt;
      if (y < (size_t)s->pt || iy >= (size_t)s->ih) {
        memset(d, 0, prow * sizeof(float));
        continue;
      }
      const size_t left = (size_t)s->pl * cin, body = (size_t)s->iw * cin;
      memset(d, 0, left * sizeof(float));
      memcpy(d + left, xb + iy * body, body * sizeof(float));
      memset(d + left + body, 0, (prow - left - body) * sizeof(float));
    }
    if (s->wrap) {
      const size_t slack = (size_t)(s->kw - 1) * cin, K = (size_t)s->oh * s->iwp;
      float *dyp = xp + (s->ihp * prow + slack + 15) / 16 * 16;
      memset(xp + s->ihp * prow, 0, slack * sizeof(float));
      const float *dyb = c->dy + b * (size_t)s->oh * ow * cout;
      for (size_t oy = 0; oy < (size_t)s->oh; oy++) {
        memcpy(dyp + oy * s->iwp * cout, dyb + oy * ow * cout, ow * cout * sizeof(float));
        memset(dyp + (oy * s->iwp + ow) * cout, 0, (s->iwp - ow) * cout * sizeof(float));
      }
      for (int ky = 0; ky < s->kh; ky++) {
        const float *xr = xp + (size_t)ky * prow;
        if (s->swap)
          gemm_tn_accumulate(s->tn, run, cout, K, xr, cin, dyp, cout,
                             acc + (size_t)ky * run * cout, cout);
        else
          gemm_tn_accumulate(s->tn, cout, run, K, dyp, cout, xr, cin, acc + (size_t)ky * run, kg);
      }
      continue;
    }
    for (int oy = 0; oy < s->oh; oy++) {
      const float *dy = c->dy + (b * (size_t)s->oh + (size_t)oy) * ow * cout;
      for (int ky = 0; ky < s->kh; ky++) {
        const float *xr = xp + ((size_t)oy * s->sh + (size_t)ky * s->dh) * prow;
        if (s->swap)
          gemm_tn_accumulate(s->tn, run, cout, ow, xr, (size_t)s->sw * cin, dy, cout,
                             acc + (size_t)ky * run * cout, cout);
        else
          gemm_tn_accumulate(s->tn, cout, run, ow, dy, cout, xr, (size_t)s->sw * cin,
                             acc + (size_t)ky * run, kg);
      }
    }
  }
}

/* dst [cols][rows] = src [rows][cols] for few columns (a row of dy: [ow][cout] -> [cout][ow]).
 * SSE2: 4x4 blocks; a last column block overlapping the one before it rewrites equal values. */
static void transpose_rows(const float *src, size_t rows, size_t cols, float *dst) {
  size_t r = 0;
#if defined(__SSE2__)
  if (cols >= 4)
    for (; r + 4 <= rows; r += 4)
      for (size_t c0 = 0; c0 < cols; c0 += 4) {
        const size_t c = c0 + 4 <= cols ? c0 : cols - 4;
        __m128 a = _mm_loadu_ps(src + r * cols + c), b = _mm_loadu_ps(src + (r + 1) * cols + c);
        __m128 e = _mm_loadu_ps(src + (r + 2) * cols + c), f = _mm_loadu_ps(src + (r + 3) * cols + c);
        _MM_TRANSPOSE4_PS(a, b, e, f);
        _mm_storeu_ps(dst + c * rows + r, a);
        _mm_storeu_ps(dst + (c + 1) * rows + r, b);
        _mm_storeu_ps(dst + (c + 2) * rows + r, e);
        _mm_storeu_ps(dst + (c + 3) * rows + r, f);
      }
#endif
  for (; r < rows; r++)
    for (size_t c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
}

/* Filter gradient by pixconv, tasks are images (see cg_setup): the image planar and padded
 * ([c][y][x]) and dy planar ([oy][o][ox]), then one kernel call over all rows. */
static void filter_pix_tasks(void *ctx, size_t slot, size_t begin, size_t end) {
  const cg_ctx *c = ctx;
  const cg_state *s = c->s;
  const size_t cin = (size_t)s->cin, cout = (size_t)s->cout, iw = (size_t)s->iw;
  const size_t oh = (size_t)s->oh, ow = (size_t)s->ow, iwp = s->iwp, cstride = s->ihp * iwp;
  float *xp = c->scratch + slot * s->slot_floats;
  float *dyt = xp + (s->ihp * iwp * cin + 15) / 16 * 16;
  float *acc = xp + s->acc_off;
  const size_t x0 = (size_t)s->pl < iwp ? (size_t)s->pl : iwp;
  const size_t x1 = iw + (size_t)s->pl < iwp ? iw + (size_t)s->pl : iwp;
  for (size_t b = begin; b < end; b++) {
    const float *xb = c->x + b * (size_t)s->ih * iw * cin;
    for (size_t y = 0; y < s->ihp; y++) {
      const long iy = (long)y - s->pt;
      float *d = xp + y * iwp;
      if (iy < 0 || iy >= s->ih) {
        for (size_t ci = 0; ci < cin; ci++) memset(d + ci * cstride, 0, iwp * sizeof(float));
        continue;
      }
      const float *src = xb + (size_t)iy * iw * cin;
      for (size_t ci = 0; ci < cin; ci++) {
        memset(d + ci * cstride, 0, x0 * sizeof(float));
        memset(d + ci * cstride + x1, 0, (iwp - x1) * sizeof(float));
      }
      if (cin == 1) memcpy(d + x0, src, (x1 - x0) * sizeof(float));
      else
        for (size_t xx = x0; xx < x1; xx++)
          for (size_t ci = 0; ci < cin; ci++) d[ci * cstride + xx] = src[(xx - (size_t)s->pl) * cin + ci];
    }
    const float *dyb = c->dy + b * oh * ow * cout;
    for (size_t oy = 0; oy < oh; oy++)
      transpose_rows(dyb + oy * ow * cout, ow, cout, dyt + oy * cout * ow);
    s->pixf->filter(oh, ow, cin, (size_t)s->kh, (size_t)s->kw, cout, xp, (size_t)s->sh * iwp, iwp,
                    cstride, dyt, cout * ow, ow, acc);
  }
}

/* Depthwise filter gradient: tasks are output rows (image, oy); acc [taps][C] per thread. */
static void dw_filter_tasks(void *ctx, size_t slot, size_t begin, size_t end) {
  const cg_ctx *c = ctx;
  const cg_state *s = c->s;
  const size_t ch = (size_t)s->cout, taps = (size_t)s->kh * s->kw, ow = (size_t)s->ow;
  float *acc = c->scratch + slot * s->slot_floats;
  const float **ptrs = (const float **)(void *)(acc + (taps * ch + 15) / 16 * 16); /* aligned */
  const float *zero = c->packed; /* a zero row */
  for (size_t t = begin; t < end; t++) {
    const size_t b = t / (size_t)s->oh;
    const int oy = (int)(t % (size_t)s->oh);
    const float *xb = c->x + b * (size_t)s->ih * s->iw * ch;
    size_t i = 0;
    for (int ox = 0; ox < s->ow; ox++)
      for (int ky = 0; ky < s->kh; ky++) {
        const int iy = oy * s->sh - s->pt + ky * s->dh;
        for (int kx = 0; kx < s->kw; kx++, i++) {
          const int ix = ox * s->sw - s->pl + kx * s->dw;
          ptrs[i] = iy < 0 || iy >= s->ih || ix < 0 || ix >= s->iw
                        ? zero
                        : xb + ((size_t)iy * s->iw + (size_t)ix) * ch;
        }
      }
    s->dwk->filter(ch, ow, taps, ptrs, c->dy + t * ow * ch, acc);
  }
}

typedef struct {
  const cg_state *s;
  const float *src;
  float *dst;
  size_t slots, stride, n;
  int transpose; /* accumulators [kg][C] -> dW [C][kg] (depthwise, swapped) */
} reduce_ctx;

static void reduce_range(void *ctx, int64_t b, int64_t e) {
  const reduce_ctx *r = ctx;
  const size_t ch = (size_t)r->s->cout, kg = (size_t)r->s->kg;
  for (int64_t i = b; i < e; i++) {
    /* Output element i; transposed, it lives at (k, channel) of the accumulators. */
    size_t j = (size_t)i;
    if (r->transpose) j = ((size_t)i % kg) * ch + (size_t)i / kg;
    float sum = 0.0f;
    for (size_t sl = 0; sl < r->slots; sl++) sum += r->src[sl * r->stride + j];
    r->dst[i] = sum;
  }
}

static tod_status filter_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                             void *scratch, tod_threadpool *tp) {
  const cg_state *s = k->state;
  cg_ctx c = {s, in[0].data, in[1].data, NULL, out[0].data, scratch, NULL};
  const size_t wsize = (size_t)s->cout * s->kg;
  reduce_ctx r = {s, NULL, out[0].data, s->slots, s->slot_floats, wsize,
                  s->depthwise || s->swap || s->pix};
  if (s->depthwise) {
    float *zero = (float *)scratch + s->slots * s->slot_floats;
    memset(scratch, 0, (s->slots * s->slot_floats + (size_t)s->cout) * sizeof(float));
    c.packed = zero;
    gemm_run_slots(tp, s->slots, (size_t)s->n * s->oh, dw_filter_tasks, &c);
    r.src = scratch;
  } else {
    const size_t acc_off = s->acc_off;
    for (size_t sl = 0; sl < s->slots; sl++)
      memset((float *)scratch + sl * s->slot_floats + acc_off, 0, wsize * sizeof(float));
    if (s->pix)
      gemm_run_slots(tp, s->slots, (size_t)s->n, filter_pix_tasks, &c);
    else if (s->padded)
      gemm_run_slots(tp, s->slots, (size_t)s->n, filter_padded_tasks, &c);
    else
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
  const size_t kw = (size_t)s->kw;
  const int runs = s->group == 1 && s->dw == 1;
  int oy = (int)(p0 / (size_t)s->ow), ox = (int)(p0 % (size_t)s->ow) - 1;
  for (size_t r = 0; r < rows; r++) {
    if (++ox == s->ow) ox = 0, oy++;
    const float *src = dcol + r * kg;
    int lo = 0, hi = 0;
    if (runs) tap_range(s, ox, &lo, &hi);
    for (int ky = 0; ky < s->kh; ky++, src += kw * ig) {
      const int iy = oy * s->sh - s->pt + ky * s->dh;
      if (iy < 0 || iy >= s->ih) continue;
      float *drow = dx + (size_t)iy * s->iw * cin + (size_t)g * ig;
      if (runs) {
        const int ix0 = ox * s->sw - s->pl;
        add_run(drow + (size_t)(ix0 + lo) * cin, src + (size_t)lo * ig, (size_t)(hi - lo) * ig);
        continue;
      }
      for (int kx = 0; kx < s->kw; kx++) {
        const int ix = ox * s->sw - s->pl + kx * s->dw;
        if (ix >= 0 && ix < s->iw) add_run(drow + (size_t)ix * cin, src + (size_t)kx * ig, ig);
      }
    }
  }
}

/* The whole image's dcol at once, one group, stride and dilation 1, short kernel-row runs
 * (kw * C_in <= 64, LeNet's 30): each dx pixel sums the dcol values of the taps that cover it
 * in registers and is stored once. A scatter (col2im) would
 * add overlapping short runs into dx, each load waiting on the partly overlapping store just
 * before it. Channels 8 at a time; the unused lanes of a partial block read past the tap
 * (cg_setup leaves 8 floats of slack after dcol) and are never stored. */
static void col2im_gather(const cg_state *s, const float *dcol, float *dx) {
  const size_t cin = (size_t)s->cin, kg = (size_t)s->kg, ow = (size_t)s->ow;
  const int kh = s->kh, kw = s->kw;
  for (int iy = 0; iy < s->ih; iy++) {
    /* taps ky with oy = iy + pt - ky in [0, oh) */
    const int ky0 = iy + s->pt - s->oh + 1 > 0 ? iy + s->pt - s->oh + 1 : 0;
    const int ky1 = iy + s->pt + 1 < kh ? iy + s->pt + 1 : kh;
    for (int ix = 0; ix < s->iw; ix++) {
      const int kx0 = ix + s->pl - s->ow + 1 > 0 ? ix + s->pl - s->ow + 1 : 0;
      const int kx1 = ix + s->pl + 1 < kw ? ix + s->pl + 1 : kw;
      float *d = dx + ((size_t)iy * s->iw + (size_t)ix) * cin;
      for (size_t c0 = 0; c0 < cin; c0 += 8) {
        const size_t n = cin - c0 < 8 ? cin - c0 : 8;
        float sum[8] = {0};
#if defined(__SSE2__)
        __m128 a0 = _mm_setzero_ps(), a1 = _mm_setzero_ps();
#endif
        for (int ky = ky0; ky < ky1; ky++) {
          const size_t oy = (size_t)(iy + s->pt - ky);
          for (int kx = kx0; kx < kx1; kx++) {
            const size_t ox = (size_t)(ix + s->pl - kx);
            const float *src = dcol + (oy * ow + ox) * kg + (size_t)(ky * kw + kx) * cin + c0;
#if defined(__SSE2__)
            a0 = _mm_add_ps(a0, _mm_loadu_ps(src));
            a1 = _mm_add_ps(a1, _mm_loadu_ps(src + 4));
#else
            for (size_t i = 0; i < n; i++) sum[i] += src[i];
#endif
          }
        }
#if defined(__SSE2__)
        _mm_storeu_ps(sum, a0);
        _mm_storeu_ps(sum + 4, a1);
#endif
        for (size_t i = 0; i < n; i++) d[c0 + i] = sum[i];
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
      if (rows == ohw && s->group == 1 && s->sh == 1 && s->sw == 1 && s->dh == 1 && s->dw == 1 &&
          kg / (size_t)s->kh <= 64) { /* short kernel-row runs: where col2im stalls */
        gemm_compute(s->gemm, rows, 0, kg, kg, og, a, cout, packed, dcol, kg, &mm_none);
        col2im_gather(s, dcol, dx);
        continue;
      }
      if (p0 == 0)
        for (size_t i = 0; i < ihw; i++) memset(dx + i * cin + (size_t)g * ig, 0, ig * sizeof(float));
      gemm_compute(s->gemm, rows, 0, kg, kg, og, a, cout, packed, dcol, kg, &mm_none);
      col2im(s, dcol, p0, rows, g, dx);
    }
  }
}

/* Depthwise input gradient, tasks are images; c->packed is the weight as [taps][C]. */
static void dw_input_tasks(void *ctx, size_t slot, size_t begin, size_t end) {
  const cg_ctx *c = ctx;
  const cg_state *s = c->s;
  const size_t ch = (size_t)s->cout, taps = (size_t)s->kh * s->kw, ow = (size_t)s->ow;
  const size_t row = (size_t)s->iw * ch;
  float *discard = c->scratch + s->acc_off + slot * s->slot_floats;
  float **ptrs = (float **)(void *)(discard + (ch + 15) / 16 * 16); /* aligned */
  memset(discard, 0, ch * sizeof(float)); /* never read; kept finite so its sums stay fast */
  for (size_t b = begin; b < end; b++) {
    float *dx = c->out + b * (size_t)s->ih * row;
    int zeroed = 0; /* dx rows [0, zeroed) are cleared */
    for (int oy = 0; oy < s->oh; oy++) {
      int last = oy * s->sh - s->pt + (s->kh - 1) * s->dh;
      if (last >= s->ih) last = s->ih - 1;
      if (last >= zeroed) {
        memset(dx + (size_t)zeroed * row, 0, (size_t)(last + 1 - zeroed) * row * sizeof(float));
        zeroed = last + 1;
      }
      size_t i = 0;
      for (int ox = 0; ox < s->ow; ox++)
        for (int ky = 0; ky < s->kh; ky++) {
          const int iy = oy * s->sh - s->pt + ky * s->dh;
          for (int kx = 0; kx < s->kw; kx++, i++) {
            const int ix = ox * s->sw - s->pl + kx * s->dw;
            ptrs[i] = iy < 0 || iy >= s->ih || ix < 0 || ix >= s->iw
                          ? discard
                          : dx + (size_t)iy * row + (size_t)ix * ch;
          }
        }
      s->dwk->input(ch, ow, taps, ptrs, c->dy + (b * (size_t)s->oh + (size_t)oy) * ow * ch,
                    c->packed);
    }
    if (zeroed < s->ih)
      memset(dx + (size_t)zeroed * row, 0, (size_t)(s->ih - zeroed) * row * sizeof(float));
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
