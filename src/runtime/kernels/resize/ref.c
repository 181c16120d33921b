/* Resize on NHWC float32: nearest (every NearestMode) and bilinear, with the asymmetric,
 * align_corners and half_pixel coordinate transforms. setup precomputes, per output row and
 * column, the source indices and weights; run is then a pure gather-and-blend over channels.
 * The coordinate map uses the node's float scales when it has them (ONNX), else out/in of the
 * actual sizes (as MindSpore Lite). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"

enum { M_LINEAR = 0, M_NEAREST = 1 };
enum { C_ASYM = 0, C_ALIGN = 1, C_HALF = 2 };

typedef struct {
  int method, coord, nearest;
  int64_t n, ih, iw, oh, ow, c;
  int64_t *i0, *i1; /* [oh + ow]: rows then columns */
  float *w;         /* weight of i1 */
  int64_t cap;
} rs_state;

static void rs_destroy(kernel *k) {
  rs_state *s = k->state;
  if (s) free(s->i0), free(s->i1), free(s->w);
  free(s);
  k->state = NULL;
}

static tod_status rs_create_impl(kernel *k, const ir_graph *g, const ir_node *n) {
  (void)g;
  rs_state *s = calloc(1, sizeof *s);
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  k->state = s;
  if (n->n_in < 1 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs an input");
  s->method = (int)ir_attr_int(n, "method", M_LINEAR);
  s->coord = (int)ir_attr_int(n, "coordinate_transform_mode", C_ASYM);
  s->nearest = (int)ir_attr_int(n, "nearest_mode", 0);
  if (s->method != M_LINEAR && s->method != M_NEAREST)
    return kfail(k, TOD_NOT_SUPPORT, "resize method %d is not supported", s->method);
  if (s->coord < C_ASYM || s->coord > C_HALF)
    return kfail(k, TOD_NOT_SUPPORT, "coordinate_transform_mode %d", s->coord);
  if (s->nearest < 0 || s->nearest > 4) return kfail(k, TOD_NOT_SUPPORT, "nearest_mode %d", s->nearest);
  return TOD_OK;
}
KCREATE_GUARDED(rs_create, rs_create_impl, rs_destroy)

/* ratio: in/out, or 1/scale when the node was given float scales (ONNX maps with the scale). */
static double src_coord(int coord, int64_t o, int64_t in, int64_t out, double ratio, double scale) {
  /* With scales ONNX aligns corners on the unrounded output length in * scale. */
  double len = scale > 0 ? (double)in * scale : (double)out;
  switch (coord) {
    case C_ALIGN: return len > 1 ? (double)o * (double)(in - 1) / (len - 1) : 0.0;
    case C_HALF: return ((double)o + 0.5) * ratio - 0.5;
    default: return (double)o * ratio;
  }
}

static int64_t clampi(int64_t v, int64_t hi) { return v < 0 ? 0 : v > hi ? hi : v; }

static void axis_table(const rs_state *s, int64_t in, int64_t out, double scale, int64_t *i0, int64_t *i1,
                       float *w) {
  double ratio = scale > 0 ? 1.0 / scale : out ? (double)in / (double)out : 0.0;
  for (int64_t o = 0; o < out; o++) {
    double x = src_coord(s->coord, o, in, out, ratio, scale);
    if (s->method == M_NEAREST) {
      double r;
      switch (s->nearest) {
        case 1: r = ceil(x - 0.5); break;  /* ROUND_HALF_DOWN (round_prefer_floor) */
        case 2: r = floor(x + 0.5); break; /* ROUND_HALF_UP (round_prefer_ceil) */
        case 3: r = floor(x); break;
        case 4: r = ceil(x); break;
        default: r = round(x); break;
      }
      i0[o] = i1[o] = clampi((int64_t)r, in - 1);
      w[o] = 0.0f;
    } else {
      if (x < 0) x = 0;
      int64_t a = (int64_t)floor(x);
      if (a > in - 1) a = in - 1;
      i0[o] = a;
      i1[o] = a + 1 < in ? a + 1 : in - 1;
      w[o] = (float)(x - (double)a);
    }
  }
}

static tod_status rs_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                           int n_out, size_t *scratch) {
  rs_state *s = k->state;
  const tod_view *x = &in[0], *y = &out[0];
  *scratch = 0;
  if (x->dtype != IR_DT_FLOAT32 || y->dtype != IR_DT_FLOAT32)
    return kfail(k, TOD_NOT_SUPPORT, "only float32 is supported");
  if (x->ndim != 4 || y->ndim != 4 || y->dims[0] != x->dims[0] || y->dims[3] != x->dims[3])
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs NHWC input and output with equal N and C");
  s->n = x->dims[0], s->ih = x->dims[1], s->iw = x->dims[2], s->c = x->dims[3];
  s->oh = y->dims[1], s->ow = y->dims[2];
  if ((s->ih == 0 || s->iw == 0) && s->oh * s->ow > 0)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "cannot resize an empty image");
  int64_t need = s->oh + s->ow;
  if (need > s->cap) {
    free(s->i0), free(s->i1), free(s->w);
    s->i0 = malloc((size_t)(need ? need : 1) * sizeof(int64_t));
    s->i1 = malloc((size_t)(need ? need : 1) * sizeof(int64_t));
    s->w = malloc((size_t)(need ? need : 1) * sizeof(float));
    s->cap = need;
    if (!s->i0 || !s->i1 || !s->w) {
      s->cap = 0;
      return kfail(k, TOD_MEMORY_FAILED, "out of memory");
    }
  }
  /* Float scales (NHWC order [n,h,w,c], or [h,w]) define the coordinate map, as in ONNX. */
  double sh = 0, sw = 0;
  if (n_in > 1 && in[1].data && in[1].dtype == IR_DT_FLOAT32 && (knumel(&in[1]) == 4 || knumel(&in[1]) == 2)) {
    const float *sc = in[1].data;
    int hi = knumel(&in[1]) == 4 ? 1 : 0;
    sh = sc[hi], sw = sc[hi + 1];
  }
  axis_table(s, s->ih, s->oh, sh, s->i0, s->i1, s->w);
  axis_table(s, s->iw, s->ow, sw, s->i0 + s->oh, s->i1 + s->oh, s->w + s->oh);
  return TOD_OK;
}

typedef struct {
  const rs_state *s;
  const float *x;
  float *y;
} rs_job;

/* [b, e) are output rows over n * oh. */
static void rs_rows(void *ctx, int64_t b, int64_t e) {
  const rs_job *j = ctx;
  const rs_state *s = j->s;
  const int64_t c = s->c, iw = s->iw, ow = s->ow;
  const int64_t *c0 = s->i0 + s->oh, *c1 = s->i1 + s->oh;
  const float *cw = s->w + s->oh;
  for (int64_t r = b; r < e; r++) {
    int64_t n = r / s->oh, oy = r % s->oh;
    const float *img = j->x + n * s->ih * iw * c;
    const float *r0 = img + s->i0[oy] * iw * c, *r1 = img + s->i1[oy] * iw * c;
    const float wy = s->w[oy];
    float *dst = j->y + r * ow * c;
    for (int64_t ox = 0; ox < ow; ox++) {
      float *restrict d = dst + ox * c;
      if (s->method == M_NEAREST) {
        memcpy(d, r0 + c0[ox] * c, (size_t)c * sizeof(float));
        continue;
      }
      const float *restrict p00 = r0 + c0[ox] * c, *restrict p01 = r0 + c1[ox] * c;
      const float *restrict p10 = r1 + c0[ox] * c, *restrict p11 = r1 + c1[ox] * c;
      const float wx = cw[ox];
      for (int64_t ch = 0; ch < c; ch++) {
        float top = p00[ch] + (p01[ch] - p00[ch]) * wx;
        float bot = p10[ch] + (p11[ch] - p10[ch]) * wx;
        d[ch] = top + (bot - top) * wy;
      }
    }
  }
}

static tod_status rs_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                         void *scratch, tod_threadpool *tp) {
  const rs_state *s = k->state;
  rs_job j = {s, in[0].data, out[0].data};
  int64_t per = s->ow * s->c;
  int64_t grain = per > 0 ? 16384 / per : 1;
  kpar_for(tp, s->n * s->oh, grain < 1 ? 1 : grain, rs_rows, &j);
  return TOD_OK;
}

const kernel_ops kernel_Resize = {IR_OP_Resize, rs_create, rs_setup, rs_run, rs_destroy};
