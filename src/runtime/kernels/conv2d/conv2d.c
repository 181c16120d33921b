/* Conv2DFusion, float32, NHWC activations and KHWC weights [O, kh, kw, I/group].
 *
 * Three paths, chosen in setup:
 *  - 1x1, stride 1, no padding: the input already is the GEMM's A ([N*H*W, C_in], row stride
 *    C_in), so the convolution is one GEMM per group with no copy;
 *  - depthwise (group == C_in == C_out): a direct kernel vectorised over channels, since a
 *    GEMM with one output column per group would waste the micro-kernel;
 *  - everything else: per tile of output pixels, im2col into per-thread scratch (bounded: a
 *    tile, never the whole image), then GEMM with the weights packed at create.
 * Clamp activations (RELU, RELU6) are fused into the GEMM store; others run over each tile
 * while it is in cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cpu_features.h"
#include "runtime/kernels/conv2d/dwconv.h"
#include "runtime/kernels/fast_kernels.h"
#include "runtime/kernels/gemm/fused_act.h"
#include "runtime/kernels/gemm/gemm.h"

enum { MODE_GEMM_1X1 = 0, MODE_IM2COL = 1, MODE_DEPTHWISE = 2 };

/* Bytes of im2col tile per thread: large enough to amortise B panel reloads over many rows,
 * small enough to stay in L2 next to the panels. */
#define IM2COL_TILE_BYTES (1024 * 1024)

typedef struct {
  /* attributes */
  int kh, kw, sh, sw, dh, dw, pad_mode, group, act;
  int64_t pad_list[4];
  gemm_minmax mm;
  int act_loop;
  /* weights */
  int have_w; /* weight geometry known and packed */
  int runtime_w; /* weights or bias are not constant: packed into scratch by run */
  int cout, ig, og, kg; /* kg = kh*kw*ig: K of each group's GEMM */
  const gemm_config *gemm;
  const dwconv_config *dwk;
  size_t packed_group; /* floats of one group's packed B */
  float *packed;       /* owned (constant weights) */
  float *dw_w, *dw_bias, *zero; /* depthwise: [taps][C], [C], zero row [C]; owned */
  /* per shape (setup) */
  int mode;
  int n, ih, iw, cin, oh, ow, pt, pl;
  size_t tile_rows, m_tiles, n_splits, slots, slot_bytes;
} conv_state;

static int64_t attr_pair(const ir_node *n, const char *key, int idx, int64_t dflt) {
  const int64_t *v;
  int cnt = ir_attr_ints(n, key, &v);
  if (cnt == 1) return v[0];
  return cnt > idx ? v[idx] : dflt;
}

static void conv_destroy(kernel *k) {
  conv_state *s = k->state;
  if (!s) return;
  free(s->packed);
  free(s->dw_w);
  free(s->dw_bias);
  free(s->zero);
  free(s);
  k->state = NULL;
}

/* Packs constant weights (w: [cout, kh, kw, ig]) for the GEMM or depthwise path into dst
 * (GEMM) or the dw_* buffers. bias may be NULL. */
static void pack_gemm_weights(const conv_state *s, const float *w, const float *bias, float *dst) {
  for (int g = 0; g < s->group; g++)
    gemm_pack_b(s->gemm, (size_t)s->kg, (size_t)s->og, w + (size_t)g * s->og * s->kg,
                (size_t)s->kg, 1, bias ? bias + (size_t)g * s->og : NULL,
                dst + (size_t)g * s->packed_group);
}

static int is_depthwise(const conv_state *s) {
  return s->group > 1 && s->ig == 1 && s->cout == s->group && !s->runtime_w;
}

/* Fixes the weight geometry (from the weight tensor's dims) and packs constant weights. */
static tod_status prepare_weights(kernel *k, conv_state *s, const int64_t *wd, const float *w,
                                  const float *bias) {
  if (wd[0] <= 0 || wd[1] <= 0 || wd[2] <= 0 || wd[3] <= 0 || wd[0] % s->group) {
    snprintf(k->err, sizeof k->err, "Conv2DFusion: bad weight shape [%lld,%lld,%lld,%lld]",
             (long long)wd[0], (long long)wd[1], (long long)wd[2], (long long)wd[3]);
    return TOD_PARAM_INVALID;
  }
  if ((s->kh > 0 && s->kh != wd[1]) || (s->kw > 0 && s->kw != wd[2])) {
    snprintf(k->err, sizeof k->err, "Conv2DFusion: kernel_size %dx%d but weights %lldx%lld",
             s->kh, s->kw, (long long)wd[1], (long long)wd[2]);
    return TOD_PARAM_INVALID;
  }
  s->cout = (int)wd[0];
  s->kh = (int)wd[1];
  s->kw = (int)wd[2];
  s->ig = (int)wd[3];
  s->og = s->cout / s->group;
  s->kg = s->kh * s->kw * s->ig;
  s->gemm = gemm_config_get((size_t)s->og);
  s->packed_group = gemm_packed_size(s->gemm, (size_t)s->kg, (size_t)s->og);
  s->have_w = 1;
  if (s->runtime_w) return TOD_OK;
  if (is_depthwise(s)) {
    const size_t c = (size_t)s->cout, taps = (size_t)s->kh * s->kw;
    s->dw_w = malloc(c * taps * sizeof(float));
    s->dw_bias = calloc(c, sizeof(float));
    s->zero = calloc(c, sizeof(float));
    if (!s->dw_w || !s->dw_bias || !s->zero) return TOD_MEMORY_FAILED;
    for (size_t ch = 0; ch < c; ch++)
      for (size_t t = 0; t < taps; t++) s->dw_w[t * c + ch] = w[ch * taps + t];
    if (bias) memcpy(s->dw_bias, bias, c * sizeof(float));
    return TOD_OK;
  }
  s->packed = malloc(s->packed_group * (size_t)s->group * sizeof(float));
  if (!s->packed) return TOD_MEMORY_FAILED;
  pack_gemm_weights(s, w, bias, s->packed);
  return TOD_OK;
}

static tod_status conv_create(kernel *k, const ir_graph *g, const ir_node *n) {
  if (n->n_in < 2 || n->n_out < 1 || n->in[0] < 0 || n->in[1] < 0) {
    snprintf(k->err, sizeof k->err, "Conv2DFusion: needs input and weight");
    return TOD_INPUT_TENSOR_ERROR;
  }
  const ir_tensor *x = &g->tensors[n->in[0]], *wt = &g->tensors[n->in[1]];
  const ir_tensor *bt = n->n_in > 2 && n->in[2] >= 0 ? &g->tensors[n->in[2]] : NULL;
  if (x->dtype != IR_DT_FLOAT32 || wt->dtype != IR_DT_FLOAT32 ||
      (bt && bt->dtype != IR_DT_FLOAT32)) {
    snprintf(k->err, sizeof k->err, "Conv2DFusion: only float32 is supported");
    return TOD_NOT_SUPPORT;
  }
  conv_state *s = calloc(1, sizeof *s);
  if (!s) return TOD_MEMORY_FAILED;
  k->state = s;
  s->kh = (int)attr_pair(n, "kernel_size", 0, 0);
  s->kw = (int)attr_pair(n, "kernel_size", 1, 0);
  s->sh = (int)attr_pair(n, "stride", 0, 1);
  s->sw = (int)attr_pair(n, "stride", 1, 1);
  s->dh = (int)attr_pair(n, "dilation", 0, 1);
  s->dw = (int)attr_pair(n, "dilation", 1, 1);
  s->pad_mode = (int)ir_attr_int(n, "pad_mode", 0);
  s->group = (int)ir_attr_int(n, "group", 1);
  s->act = (int)ir_attr_int(n, "activation_type", 0);
  const int64_t *pl;
  int npl = ir_attr_ints(n, "pad_list", &pl);
  for (int i = 0; i < 4; i++) s->pad_list[i] = npl == 4 ? pl[i] : 0;
  if (s->sh <= 0 || s->sw <= 0 || s->dh <= 0 || s->dw <= 0 || s->group <= 0 || s->kh < 0 ||
      s->kw < 0 || s->pad_mode < 0 || s->pad_mode > 2 || (npl != 0 && npl != 4) ||
      s->pad_list[0] < 0 || s->pad_list[1] < 0 || s->pad_list[2] < 0 || s->pad_list[3] < 0) {
    snprintf(k->err, sizeof k->err, "Conv2DFusion: invalid stride/dilation/group/pads");
    conv_destroy(k);
    return TOD_INVALID_OP_ATTR;
  }
  tod_status st = fused_act_init(s->act, &s->mm, &s->act_loop);
  if (st != TOD_OK) {
    snprintf(k->err, sizeof k->err, "Conv2DFusion: activation %d not supported", s->act);
    conv_destroy(k);
    return st;
  }
  s->dwk = dwconv_config_get();
  s->runtime_w = !(wt->kind == IR_TENSOR_CONST && wt->data) ||
                 (bt && !(bt->kind == IR_TENSOR_CONST && bt->data));
  if (wt->ndim == 4 && wt->dims[0] > 0 && wt->dims[1] > 0 && wt->dims[2] > 0 && wt->dims[3] > 0) {
    if (!s->runtime_w) {
      const size_t wn = (size_t)(wt->dims[0] * wt->dims[1] * wt->dims[2] * wt->dims[3]);
      if (wt->nbytes < wn * sizeof(float) ||
          (bt && bt->nbytes < (size_t)wt->dims[0] * sizeof(float))) {
        snprintf(k->err, sizeof k->err, "Conv2DFusion: weight or bias data too short");
        conv_destroy(k);
        return TOD_INPUT_TENSOR_ERROR;
      }
    }
    st = prepare_weights(k, s, wt->dims, s->runtime_w ? NULL : wt->data,
                         bt && !s->runtime_w ? bt->data : NULL);
    if (st != TOD_OK) {
      conv_destroy(k);
      return st;
    }
  } else if (!s->runtime_w) {
    snprintf(k->err, sizeof k->err, "Conv2DFusion: weight must be 4-D [O,kh,kw,I/group]");
    conv_destroy(k);
    return TOD_INPUT_TENSOR_ERROR;
  }
  return TOD_OK;
}

static tod_status conv_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                             int n_out, size_t *scratch) {
  conv_state *s = k->state;
  *scratch = 0;
  if (n_in < 2 || n_out < 1 || in[0].ndim != 4 || out[0].ndim != 4 || in[1].ndim != 4) {
    snprintf(k->err, sizeof k->err, "Conv2DFusion: input, weight and output must be 4-D");
    return TOD_INPUT_TENSOR_ERROR;
  }
  if (in[0].dtype != IR_DT_FLOAT32 || out[0].dtype != IR_DT_FLOAT32 ||
      in[1].dtype != IR_DT_FLOAT32 || (n_in > 2 && in[2].data && in[2].dtype != IR_DT_FLOAT32)) {
    snprintf(k->err, sizeof k->err, "Conv2DFusion: only float32 is supported");
    return TOD_NOT_SUPPORT;
  }
  if (!s->have_w) {
    tod_status st = prepare_weights(k, s, in[1].dims, NULL, NULL);
    if (st != TOD_OK) return st;
  } else if (in[1].dims[0] != s->cout || in[1].dims[1] != s->kh || in[1].dims[2] != s->kw ||
             in[1].dims[3] != s->ig) {
    snprintf(k->err, sizeof k->err, "Conv2DFusion: weight shape changed after create");
    return TOD_INPUT_TENSOR_ERROR;
  }
  s->n = (int)in[0].dims[0];
  s->ih = (int)in[0].dims[1];
  s->iw = (int)in[0].dims[2];
  s->cin = (int)in[0].dims[3];
  if (s->cin != s->ig * s->group) {
    snprintf(k->err, sizeof k->err, "Conv2DFusion: input has %d channels, weights want %d x %d",
             s->cin, s->ig, s->group);
    return TOD_INPUT_TENSOR_ERROR;
  }
  const int ekh = (s->kh - 1) * s->dh + 1, ekw = (s->kw - 1) * s->dw + 1;
  int pt, pb, pl, pr;
  if (s->pad_mode == 1) { /* SAME_UPPER: output = ceil(in / stride), extra pad at the end */
    const int oh = (s->ih + s->sh - 1) / s->sh, ow = (s->iw + s->sw - 1) / s->sw;
    int th = (oh - 1) * s->sh + ekh - s->ih, tw = (ow - 1) * s->sw + ekw - s->iw;
    th = th < 0 ? 0 : th;
    tw = tw < 0 ? 0 : tw;
    pt = th / 2;
    pb = th - pt;
    pl = tw / 2;
    pr = tw - pl;
  } else if (s->pad_mode == 2) {
    pt = pb = pl = pr = 0;
  } else {
    pt = (int)s->pad_list[0];
    pb = (int)s->pad_list[1];
    pl = (int)s->pad_list[2];
    pr = (int)s->pad_list[3];
  }
  const int oh = (s->ih + pt + pb - ekh) / s->sh + 1, ow = (s->iw + pl + pr - ekw) / s->sw + 1;
  if (s->ih + pt + pb < ekh || s->iw + pl + pr < ekw || out[0].dims[0] != s->n ||
      out[0].dims[1] != oh || out[0].dims[2] != ow || out[0].dims[3] != s->cout) {
    snprintf(k->err, sizeof k->err,
             "Conv2DFusion: output [%lld,%lld,%lld,%lld] does not match the computed [%d,%d,%d,%d]",
             (long long)out[0].dims[0], (long long)out[0].dims[1], (long long)out[0].dims[2],
             (long long)out[0].dims[3], s->n, oh, ow, s->cout);
    return TOD_INPUT_TENSOR_ERROR;
  }
  s->oh = oh;
  s->ow = ow;
  s->pt = pt;
  s->pl = pl;
  s->slots = gemm_scratch_slots();
  const size_t m = (size_t)s->n * oh * ow;
  if (is_depthwise(s)) {
    s->mode = MODE_DEPTHWISE;
    s->slot_bytes = ((size_t)ow * s->kh * s->kw * sizeof(float *) + 63) / 64 * 64;
  } else {
    s->mode = s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 && pt == 0 && pl == 0 &&
                      pb == 0 && pr == 0
                  ? MODE_GEMM_1X1
                  : MODE_IM2COL;
    const size_t mr = (size_t)s->gemm->mr, kg = (size_t)s->kg;
    size_t rows = IM2COL_TILE_BYTES / (kg * sizeof(float));
    if (rows > 256) rows = 256;
    if (s->mode == MODE_GEMM_1X1) rows = gemm_block_rows(s->gemm, kg);
    /* Enough tiles for every thread; beyond that, bigger tiles reuse B better. */
    const size_t per_slot = ((m + s->slots - 1) / s->slots + mr - 1) / mr * mr;
    if (s->slots > 1 && rows > per_slot) rows = per_slot;
    rows = rows / mr * mr;
    if (rows == 0) rows = mr;
    s->tile_rows = rows;
    s->m_tiles = (m + rows - 1) / rows;
    const size_t panels = ((size_t)s->og + (size_t)s->gemm->nr - 1) / (size_t)s->gemm->nr;
    const size_t base = s->m_tiles * (size_t)s->group;
    s->n_splits = 1;
    if (s->slots > 1 && base < 2 * s->slots) {
      s->n_splits = (2 * s->slots + base - 1) / base;
      if (s->n_splits > panels) s->n_splits = panels;
    }
    s->slot_bytes = s->mode == MODE_IM2COL ? (rows * kg * sizeof(float) + 63) / 64 * 64 : 0;
  }
  *scratch = s->slots * s->slot_bytes;
  if (s->runtime_w) *scratch += s->packed_group * (size_t)s->group * sizeof(float);
  return TOD_OK;
}

typedef struct {
  const conv_state *s;
  const float *x;
  float *y;
  const float *packed;
  char *scratch;
} conv_run_ctx;

/* Writes the im2col rows of output pixels [row0, row0+rows) for group g: row r holds the
 * pixel's receptive field in (ky, kx, ci) order, the order of the KHWC weights. */
static void im2col_tile(const conv_state *s, const float *x, size_t row0, size_t rows, int g,
                        float *col) {
  const size_t ig = (size_t)s->ig, kg = (size_t)s->kg, cin = (size_t)s->cin;
  const int contiguous = s->group == 1 && s->dw == 1; /* a kernel row is one input span */
  for (size_t r = 0; r < rows; r++) {
    const size_t p = row0 + r;
    const int b = (int)(p / ((size_t)s->oh * s->ow));
    const int rem = (int)(p % ((size_t)s->oh * s->ow));
    const int oy = rem / s->ow, ox = rem % s->ow;
    float *dst = col + r * kg;
    const int iy0 = oy * s->sh - s->pt, ix0 = ox * s->sw - s->pl;
    for (int ky = 0; ky < s->kh; ky++, dst += (size_t)s->kw * ig) {
      const int iy = iy0 + ky * s->dh;
      if (iy < 0 || iy >= s->ih) {
        memset(dst, 0, (size_t)s->kw * ig * sizeof(float));
        continue;
      }
      const float *src_row = x + ((size_t)b * s->ih + iy) * s->iw * cin + (size_t)g * ig;
      if (contiguous) {
        /* Valid kernel columns [kx0, kx1): the rest of the row is padding. */
        int kx0 = ix0 < 0 ? -ix0 : 0;
        if (kx0 > s->kw) kx0 = s->kw;
        int kx1 = s->iw - ix0 < s->kw ? s->iw - ix0 : s->kw;
        if (kx1 < kx0) kx1 = kx0;
        memset(dst, 0, (size_t)kx0 * ig * sizeof(float));
        if (kx1 > kx0)
          memcpy(dst + (size_t)kx0 * ig, src_row + (size_t)(ix0 + kx0) * cin,
                 (size_t)(kx1 - kx0) * ig * sizeof(float));
        memset(dst + (size_t)kx1 * ig, 0, (size_t)(s->kw - kx1) * ig * sizeof(float));
        continue;
      }
      for (int kx = 0; kx < s->kw; kx++) {
        const int ix = ix0 + kx * s->dw;
        if (ix < 0 || ix >= s->iw)
          memset(dst + (size_t)kx * ig, 0, ig * sizeof(float));
        else
          memcpy(dst + (size_t)kx * ig, src_row + (size_t)ix * cin, ig * sizeof(float));
      }
    }
  }
}

/* Tasks are (pixel tile, group, column split), column split innermost. */
static void conv_gemm_tasks(void *ctx, size_t slot, size_t begin, size_t end) {
  const conv_run_ctx *c = ctx;
  const conv_state *s = c->s;
  const size_t m = (size_t)s->n * s->oh * s->ow, cout = (size_t)s->cout, og = (size_t)s->og;
  const size_t nr = (size_t)s->gemm->nr, panels = (og + nr - 1) / nr;
  float *col = (float *)(c->scratch + slot * s->slot_bytes);
  size_t built_tile = (size_t)-1;
  int built_group = -1;
  for (size_t t = begin; t < end; t++) {
    const size_t split = t % s->n_splits, tg = t / s->n_splits;
    const int g = (int)(tg % (size_t)s->group);
    const size_t tile = tg / (size_t)s->group;
    const size_t row0 = tile * s->tile_rows;
    const size_t rows = m - row0 < s->tile_rows ? m - row0 : s->tile_rows;
    const size_t p0 = split * panels / s->n_splits, p1 = (split + 1) * panels / s->n_splits;
    const size_t n0 = p0 * nr, n1 = p1 * nr < og ? p1 * nr : og;
    if (n0 >= n1) continue;
    const float *a;
    size_t lda;
    if (s->mode == MODE_GEMM_1X1) {
      a = c->x + row0 * (size_t)s->cin + (size_t)g * s->ig;
      lda = (size_t)s->cin;
    } else {
      if (built_tile != tile || built_group != g) {
        im2col_tile(s, c->x, row0, rows, g, col);
        built_tile = tile;
        built_group = g;
      }
      a = col;
      lda = (size_t)s->kg;
    }
    float *y = c->y + row0 * cout + (size_t)g * og;
    gemm_compute(s->gemm, rows, n0, n1, og, (size_t)s->kg, a, lda,
                 c->packed + (size_t)g * s->packed_group, y, cout, &s->mm);
    if (s->act_loop) fused_act_apply_2d(s->act, y + n0, rows, n1 - n0, cout);
  }
}

/* Tasks are output rows (batch, oy): the row's indirection pointers (ow x taps) are built,
 * then one micro-kernel call computes the whole row. */
static void conv_dw_tasks(void *ctx, size_t slot, size_t begin, size_t end) {
  const conv_run_ctx *c = ctx;
  const conv_state *s = c->s;
  const size_t ch = (size_t)s->cout, taps = (size_t)s->kh * s->kw;
  const float **ptrs = (const float **)(void *)(c->scratch + slot * s->slot_bytes);
  for (size_t t = begin; t < end; t++) {
    const int b = (int)(t / (size_t)s->oh), oy = (int)(t % (size_t)s->oh);
    const float *xb = c->x + (size_t)b * s->ih * s->iw * ch;
    float *y = c->y + t * (size_t)s->ow * ch;
    size_t i = 0;
    for (int ox = 0; ox < s->ow; ox++)
      for (int ky = 0; ky < s->kh; ky++) {
        const int iy = oy * s->sh - s->pt + ky * s->dh;
        for (int kx = 0; kx < s->kw; kx++, i++) {
          const int ix = ox * s->sw - s->pl + kx * s->dw;
          ptrs[i] = (iy < 0 || iy >= s->ih || ix < 0 || ix >= s->iw)
                        ? s->zero
                        : xb + ((size_t)iy * s->iw + ix) * ch;
        }
      }
    s->dwk->ukernel(ch, (size_t)s->ow, taps, ptrs, s->dw_w, s->dw_bias, y, &s->mm);
    if (s->act_loop) fused_act_apply(s->act, y, (size_t)s->ow * ch);
  }
}

static tod_status conv_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                           void *scratch, tod_threadpool *tp) {
  const conv_state *s = k->state;
  conv_run_ctx c = {s, in[0].data, out[0].data, s->packed, scratch};
  if (s->mode == MODE_DEPTHWISE) {
    gemm_run_slots(tp, s->slots, (size_t)s->n * s->oh, conv_dw_tasks, &c);
    return TOD_OK;
  }
  if (s->runtime_w) {
    /* Non-constant weights (training graphs): pack them for this run after the slots. */
    float *dst = (float *)(void *)((char *)scratch + s->slots * s->slot_bytes);
    const float *bias = n_in > 2 && in[2].data ? in[2].data : NULL;
    pack_gemm_weights(s, in[1].data, bias, dst);
    c.packed = dst;
  }
  gemm_run_slots(tp, s->slots, s->m_tiles * (size_t)s->group * s->n_splits, conv_gemm_tasks, &c);
  return TOD_OK;
}

const kernel_ops kernel_Conv2DFusion = {IR_OP_Conv2DFusion, conv_create, conv_setup, conv_run,
                                        conv_destroy};
