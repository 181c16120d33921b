/* MaxPoolGrad and AvgPoolGrad, float32 NHWC (the attribute `format` describes MindSpore's
 * original graph, not the runtime layout, which is always NHWC).
 *
 * Inputs x, y, dy; output dx shaped like x. Windows follow the forward pool: VALID (and PAD
 * with no pads: tod's converter puts an explicit PadFusion in front of padded max pools in
 * training graphs) or SAME (output ceil(in/stride), the odd pad at the end). Max: each window's
 * dy goes to its first maximum (row-major scan), as MindSpore's and PyTorch's kernels do.
 * Average: dy spread evenly over the window's in-image elements (padding is not counted, as
 * in the forward AvgPoolFusion). Windows may overlap, so tasks are (image, channel block):
 * disjoint parts of dx. Max pools whose windows do not overlap (stride >= window, no padding,
 * e.g. 2x2 / 2) take a row micro-kernel (maxpool_grad.h) that writes each dx element once;
 * tasks are then output rows. */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "runtime/kernels/common/kutil.h"
#include "runtime/kernels/grad/maxpool_grad.h"

#define CBLOCK 64

typedef struct {
  int is_max, kh, kw, sh, sw, pad_mode;
  int64_t pads[4];
  /* per shape */
  int n, ih, iw, c, oh, ow, pt, pl, cblocks;
  const maxpool_grad_config *rowk; /* non-overlapping max windows, or NULL */
  int gaps; /* rowk: some input elements lie in no window (cleared first) */
} pg_state;

static int64_t attr_at(const ir_node *n, const char *key, int idx, int64_t dflt) {
  const int64_t *v;
  int cnt = ir_attr_ints(n, key, &v);
  if (cnt == 1) return v[0];
  if (cnt == 4) return v[idx + 2 - (ir_attr_int(n, "format", 0) == IR_FMT_NHWC)];
  return cnt > idx ? v[idx] : dflt;
}

static void pg_destroy(kernel *k) {
  free(k->state);
  k->state = NULL;
}

static tod_status pg_create(kernel *k, const ir_graph *g, const ir_node *n, int is_max) {
  pg_state *s = calloc(1, sizeof *s);
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  k->state = s;
  s->is_max = is_max;
  if (n->n_in < 3 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs x, y and dy");
  s->kh = (int)attr_at(n, "kernel_size", 0, 0);
  s->kw = (int)attr_at(n, "kernel_size", 1, 0);
  s->sh = (int)attr_at(n, "strides", 0, 1);
  s->sw = (int)attr_at(n, "strides", 1, 1);
  s->pad_mode = (int)ir_attr_int(n, "pad_mode", 0);
  const int64_t *pd;
  int np = ir_attr_ints(n, "pad", &pd);
  for (int i = 0; i < 4; i++) s->pads[i] = np == 4 ? pd[i] : 0;
  if (s->kh <= 0 || s->kw <= 0 || s->sh <= 0 || s->sw <= 0 || s->kh > (1 << 20) ||
      s->kw > (1 << 20) || s->sh > (1 << 20) || s->sw > (1 << 20) || s->pad_mode < 0 ||
      s->pad_mode > 2)
    return kfail(k, TOD_INVALID_OP_ATTR, "invalid kernel_size/strides/pad_mode");
  for (int i = 0; i < 4; i++)
    if (s->pads[i] < 0 || s->pads[i] > (1 << 20))
      return kfail(k, TOD_INVALID_OP_ATTR, "invalid pad");
  return TOD_OK;
}

static tod_status maxg_create_i(kernel *k, const ir_graph *g, const ir_node *n) {
  return pg_create(k, g, n, 1);
}
static tod_status avgg_create_i(kernel *k, const ir_graph *g, const ir_node *n) {
  return pg_create(k, g, n, 0);
}
KCREATE_GUARDED(maxg_create, maxg_create_i, pg_destroy)
KCREATE_GUARDED(avgg_create, avgg_create_i, pg_destroy)

static tod_status pg_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                           int n_out, size_t *scratch) {
  pg_state *s = k->state;
  *scratch = 0;
  const tod_view *x = &in[0], *dy = &in[2];
  if (n_in < 3 || n_out < 1 || x->ndim != 4 || dy->ndim != 4 || !kshape_equal(x, &out[0]))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "x, dy and dx must be 4-D NHWC, dx shaped like x");
  if (x->dtype != IR_DT_FLOAT32 || dy->dtype != IR_DT_FLOAT32 || out[0].dtype != IR_DT_FLOAT32 ||
      (s->is_max && (in[1].dtype != IR_DT_FLOAT32)))
    return kfail(k, TOD_NOT_SUPPORT, "only float32 is supported");
  for (int i = 0; i < 4; i++)
    if (x->dims[i] <= 0 || x->dims[i] > (1 << 30))
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "bad input dimension");
  s->n = (int)x->dims[0], s->ih = (int)x->dims[1], s->iw = (int)x->dims[2], s->c = (int)x->dims[3];
  int oh, ow, pt = 0, pl = 0;
  if (s->pad_mode == 1) {
    oh = (s->ih + s->sh - 1) / s->sh;
    ow = (s->iw + s->sw - 1) / s->sw;
    int th = (oh - 1) * s->sh + s->kh - s->ih, tw = (ow - 1) * s->sw + s->kw - s->iw;
    pt = th > 0 ? th / 2 : 0;
    pl = tw > 0 ? tw / 2 : 0;
  } else {
    int64_t ph = s->pad_mode == 0 ? s->pads[0] + s->pads[1] : 0;
    int64_t pw = s->pad_mode == 0 ? s->pads[2] + s->pads[3] : 0;
    if (s->ih + ph < s->kh || s->iw + pw < s->kw)
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "window larger than the input");
    if (s->pad_mode == 0) pt = (int)s->pads[0], pl = (int)s->pads[2];
    oh = (int)((s->ih + ph - s->kh) / s->sh + 1);
    ow = (int)((s->iw + pw - s->kw) / s->sw + 1);
  }
  if (dy->dims[0] != s->n || dy->dims[1] != oh || dy->dims[2] != ow || dy->dims[3] != s->c)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "dy is [%lld,%lld,%lld,%lld], the pool gives [%d,%d,%d,%d]",
                 (long long)dy->dims[0], (long long)dy->dims[1], (long long)dy->dims[2],
                 (long long)dy->dims[3], s->n, oh, ow, s->c);
  s->oh = oh, s->ow = ow, s->pt = pt, s->pl = pl;
  s->cblocks = (s->c + CBLOCK - 1) / CBLOCK;
  s->rowk = NULL;
  if (s->is_max && pt == 0 && pl == 0 && s->sh >= s->kh && s->sw >= s->kw &&
      (int64_t)s->kh * s->kw <= INT32_MAX && /* the kernels keep tap indices in int32 lanes */
      (int64_t)(oh - 1) * s->sh + s->kh <= s->ih && (int64_t)(ow - 1) * s->sw + s->kw <= s->iw) {
    s->rowk = maxpool_grad_config_get();
    s->gaps = s->sh != s->kh || s->sw != s->kw || (int64_t)oh * s->sh != s->ih ||
              (int64_t)ow * s->sw != s->iw;
  }
  return TOD_OK;
}

typedef struct {
  const pg_state *s;
  const float *x, *dy;
  float *dx;
} pg_ctx;

static void pg_tasks(void *ctx, int64_t begin, int64_t end) {
  const pg_ctx *j = ctx;
  const pg_state *s = j->s;
  const size_t C = (size_t)s->c, ihw = (size_t)s->ih * s->iw, ohw = (size_t)s->oh * s->ow;
  for (int64_t t = begin; t < end; t++) {
    const size_t b = (size_t)t / (size_t)s->cblocks;
    const int c0 = (int)((size_t)t % (size_t)s->cblocks) * CBLOCK;
    const int c1 = c0 + CBLOCK < s->c ? c0 + CBLOCK : s->c;
    float *dx = j->dx + b * ihw * C;
    const float *x = j->x + b * ihw * C, *dy = j->dy + b * ohw * C;
    if (c0 == 0 && c1 == s->c)
      memset(dx, 0, ihw * C * sizeof(float));
    else
      for (size_t i = 0; i < ihw; i++) memset(dx + i * C + c0, 0, (size_t)(c1 - c0) * sizeof(float));
    for (int oy = 0; oy < s->oh; oy++) {
      int y0 = oy * s->sh - s->pt, y1 = y0 + s->kh;
      y0 = y0 < 0 ? 0 : y0;
      y1 = y1 > s->ih ? s->ih : y1;
      for (int ox = 0; ox < s->ow; ox++) {
        int x0 = ox * s->sw - s->pl, x1 = x0 + s->kw;
        x0 = x0 < 0 ? 0 : x0;
        x1 = x1 > s->iw ? s->iw : x1;
        if (y1 <= y0 || x1 <= x0) continue;
        const float *g = dy + ((size_t)oy * s->ow + (size_t)ox) * C;
        const size_t first = ((size_t)y0 * s->iw + (size_t)x0) * C;
        if (!s->is_max) {
          const float inv = 1.0f / (float)((y1 - y0) * (x1 - x0));
          for (int iy = y0; iy < y1; iy++)
            for (int ix = x0; ix < x1; ix++) {
              float *d = dx + ((size_t)iy * s->iw + (size_t)ix) * C;
              for (int c = c0; c < c1; c++) d[c] += g[c] * inv;
            }
          continue;
        }
        int c = c0;
#if defined(__SSE2__)
        /* 4 channels at a time: the running maximum and the flat index of its element (an
         * int32: images of 2^31 values and more take the scalar loop). */
        for (; c + 4 <= c1 && ihw * C <= INT32_MAX; c += 4) {
          __m128 best = _mm_loadu_ps(x + first + (size_t)c);
          __m128i arg = _mm_set1_epi32((int)first);
          for (int iy = y0; iy < y1; iy++)
            for (int ix = iy == y0 ? x0 + 1 : x0; ix < x1; ix++) {
              const size_t at = ((size_t)iy * s->iw + (size_t)ix) * C;
              const __m128 v = _mm_loadu_ps(x + at + (size_t)c);
              const __m128 take = _mm_or_ps(_mm_cmpgt_ps(v, best),
                                            _mm_and_ps(_mm_cmpunord_ps(v, v), _mm_cmpord_ps(best, best)));
              best = _mm_or_ps(_mm_and_ps(take, v), _mm_andnot_ps(take, best));
              const __m128i ti = _mm_castps_si128(take);
              arg = _mm_or_si128(_mm_and_si128(ti, _mm_set1_epi32((int)at)), _mm_andnot_si128(ti, arg));
            }
          int32_t a[4];
          _mm_storeu_si128((__m128i *)(void *)a, arg);
          for (int l = 0; l < 4; l++) dx[(size_t)a[l] + (size_t)(c + l)] += g[c + l];
        }
#endif
        for (; c < c1; c++) {
          /* The first strict maximum; a NaN wins as in PyTorch (the first NaN). */
          float best = x[first + (size_t)c];
          size_t arg = first + (size_t)c;
          for (int iy = y0; iy < y1; iy++) {
            const size_t row = (size_t)iy * s->iw * C + (size_t)c;
            for (int ix = iy == y0 ? x0 + 1 : x0; ix < x1; ix++) {
              const size_t at = row + (size_t)ix * C;
              const float v = x[at];
              const int take = (v > best) | ((v != v) & (best == best));
              best = take ? v : best;
              arg = take ? at : arg;
            }
          }
          dx[arg] += g[c];
        }
      }
    }
  }
}

/* Non-overlapping max windows, tasks are output rows (image, oy): the input rows
 * [oy * sh, (oy + 1) * sh) (the last row of an image: to its end) are this task's alone. */
static void pg_row_tasks(void *ctx, int64_t begin, int64_t end) {
  const pg_ctx *j = ctx;
  const pg_state *s = j->s;
  const size_t C = (size_t)s->c, row = (size_t)s->iw * C;
  for (int64_t t = begin; t < end; t++) {
    const size_t b = (size_t)t / (size_t)s->oh, oy = (size_t)t % (size_t)s->oh;
    const size_t y0 = oy * (size_t)s->sh;
    const size_t y1 = oy + 1 == (size_t)s->oh ? (size_t)s->ih : y0 + (size_t)s->sh;
    const size_t off = (b * (size_t)s->ih + y0) * row;
    if (s->gaps) memset(j->dx + off, 0, (y1 - y0) * row * sizeof(float));
    s->rowk->row(C, (size_t)s->ow, (size_t)s->kh, (size_t)s->kw, (size_t)s->sw, j->x + off, row,
                 j->dy + ((size_t)t * (size_t)s->ow) * C, j->dx + off);
  }
}

static tod_status pg_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                         void *scratch, tod_threadpool *tp) {
  const pg_state *s = k->state;
  pg_ctx j = {s, in[0].data, in[2].data, out[0].data};
  if (s->rowk) {
    /* Small pools on one thread: waking the pool would cost more than the pass. */
    const int64_t rows = (int64_t)s->n * s->oh, per = (int64_t)s->ow * s->c * s->kh * s->kw;
    kpar_for(tp, rows, per * rows < 16384 ? rows : 1, pg_row_tasks, &j);
    return TOD_OK;
  }
  kpar_for(tp, (int64_t)s->n * s->cblocks, 1, pg_tasks, &j);
  return TOD_OK;
}

const kernel_ops kernel_MaxPoolGrad = {IR_OP_MaxPoolGrad, maxg_create, pg_setup, pg_run,
                                       pg_destroy};
const kernel_ops kernel_AvgPoolGrad = {IR_OP_AvgPoolGrad, avgg_create, pg_setup, pg_run,
                                       pg_destroy};
