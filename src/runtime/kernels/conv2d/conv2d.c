/* Conv2DFusion, float32, NHWC activations and KHWC weights [O, kh, kw, I/group].
 *
 * Four paths, chosen in setup:
 *  - 1x1, stride 1, no padding: the input already is the GEMM's A ([N*H*W, C_in], row stride
 *    C_in), so the convolution is one GEMM per group with no copy;
 *  - depthwise (group == C_in == C_out): a direct kernel vectorised over channels, since a
 *    GEMM with one output column per group would waste the micro-kernel;
 *  - 3x3, stride 1, dilation 1, one group, enough channels and pixels: Winograd F(4x4, 3x3)
 *    (winograd.h): per block of 4x4 output tiles, input transform, 36 GEMMs against the
 *    transformed weights, output transform, all in per-thread scratch;
 *  - everything else: per tile of output pixels, im2col into per-thread scratch (bounded: a
 *    tile, never the whole image), then GEMM with the packed weights.
 * Constant weights are packed at the first setup, for the path that setup chooses only (a
 * model pays the memory of one packed copy).
 * Clamp activations (RELU, RELU6) are fused into the GEMM store; others run over each tile
 * while it is in cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "runtime/cpu_features.h"
#include "runtime/kernels/conv2d/conv2d.h"
#include "runtime/kernels/conv2d/dwconv.h"
#include "runtime/kernels/conv2d/pixconv.h"
#include "runtime/kernels/conv2d/winograd.h"
#include "runtime/kernels/fast_kernels.h"
#include "runtime/kernels/gemm/fused_act.h"
#include "runtime/kernels/gemm/gemm.h"

enum {
  MODE_GEMM_1X1 = 0, MODE_IM2COL = 1, MODE_DEPTHWISE = 2, MODE_WINOGRAD = 3, MODE_IMPLICIT = 4,
  MODE_PIXCONV = 5, MODE_WRAP = 6
};

/* Paths the small device library (tod_min: no training, size-gated) leaves out: the row-wrapped
 * GEMM serves training graphs only, and pixconv has SIMD kernels on x86 only (elsewhere its
 * config is never chosen). Constant-false conditions let the compiler drop their code. */
#if defined(TOD_NO_TRAIN)
#define CONV_HAS_WRAP 0
#else
#define CONV_HAS_WRAP 1
#endif
/* tod_min leaves out the 1x1 -> depthwise fold (fuse_pointwise_dw.h) too. */
#if defined(TOD_SIZE_FIRST)
#define CONV_HAS_FOLD 0
#else
#define CONV_HAS_FOLD 1
#endif
#if defined(__x86_64__) || defined(__i386__)
#define CONV_HAS_PIXCONV 1
#else
#define CONV_HAS_PIXCONV 0
#endif

/* Bytes of Winograd scratch (transformed inputs and GEMM results of one tile block) per
 * thread: half the L2, leaving room for the transformed weights streaming past. */
#define WINO_BLOCK_BYTES (1024 * 1024)

/* 1: Winograd allowed; TOD_WINOGRAD=0 in the environment (read at the first setup) or
 * conv2d_winograd_enable(0) turns it off, e.g. to compare with the direct path. -1: unread. */
static int g_winograd = -1;
static int winograd_allowed(void) {
  if (g_winograd < 0) {
    const char *e = getenv("TOD_WINOGRAD");
    g_winograd = !(e && strcmp(e, "0") == 0);
  }
  return g_winograd;
}
int conv2d_winograd_enable(int on) {
  const int old = winograd_allowed();
  if (on >= 0) g_winograd = on != 0;
  return old;
}

/* Bytes of im2col tile per thread: large enough to amortise B panel reloads over many rows,
 * small enough to stay in L2 next to the panels. */
#define IM2COL_TILE_BYTES (1024 * 1024)

typedef struct {
  /* attributes */
  int kh, kw, sh, sw, dh, dw, pad_mode, group, act;
  int node_act; /* the node's activation_type; act is post_act instead while an Activation is
                 * folded in (kernel.post_out without post_res) */
  int64_t pad_list[4];
  gemm_minmax mm;
  int act_loop;
  /* weights */
  int have_w; /* weight geometry known and packed */
  int runtime_w; /* weights or bias are not constant: packed into scratch by run */
  int cout, ig, og, kg; /* kg = kh*kw*ig: K of each group's GEMM */
  const gemm_config *gemm;
  const dwconv_config *dwk;
  dwconv3x3_rows_fn dw_rows; /* interior of 3x3 depthwise rows, or NULL */
  size_t packed_group; /* floats of one group's packed B */
  float *packed;       /* owned (constant weights), packed at the first setup that needs it */
  const float *w_src, *b_src; /* constant weights and bias (the model's), for lazy packing */
  const wino_config *wino;
  size_t wino_packed;  /* floats of one position's packed transformed weights */
  float *wino_u;       /* owned: 36 packed [ig, og] GEMM B matrices, bias zero */
  float *wino_bias;    /* owned: [cout], zeros when the node has no bias */
  float *dw_w, *dw_bias, *zero; /* depthwise: [taps][C], [C], zero row [C]; owned */
  const pixconv_config *pixk;   /* few output channels (pixconv.h), or NULL */
  float *pix_w;                 /* pixconv, constant weights: w^T [kg][cout] then bias; owned */
  size_t pix_rows, pix_splits;  /* pixconv: output rows per task, tasks per image */
  /* per shape (setup) */
  int mode;
  int n, ih, iw, cin, oh, ow, pt, pl;
  size_t tile_rows, m_tiles, n_splits, slots, slot_bytes;
  size_t wt_h, wt_w, wt_tiles; /* Winograd: output tiles per column, per row, in all */
  gemm_minmax post_mm;         /* the clamp of a folded residual Add (kernel.post_*) */
  int unit_split; /* one tile; splits share (panel, MR-row tile) units: 1 panel-major,
                   * 2 row-major (gemm_rects) */
  size_t fold_chunk; /* depthwise with kernel.pre: rows of the 1x1 output computed at once */
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
  free(s->wino_u);
  free(s->wino_bias);
  free(s->dw_w);
  free(s->dw_bias);
  free(s->zero);
  free(s->pix_w);
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
  return s->group > 1 && s->ig == 1 && s->cout == s->group;
}

/* Pixels of a folded 1x1 convolution's output computed by one GEMM (conv_dw_fused_tasks):
 * enough rows of A to reuse each B panel loaded into L1, as the unfolded GEMM's tiles do. */
#define FOLD_CHUNK_PIXELS 256

/* Bytes of a depthwise slot's border indirection pointers; a fused slot's ring follows. */
static size_t dw_ptr_bytes(const conv_state *s) {
  return ((size_t)s->ow * s->kh * s->kw * sizeof(float *) + 63) / 64 * 64;
}

int conv2d_can_fold_pointwise(const kernel *dw, const kernel *pw) {
  const conv_state *d = dw->state, *p = pw->state;
  if (!d || !p || dw->ops != &kernel_Conv2DFusion || pw->ops != &kernel_Conv2DFusion) return 0;
  const int p_unpadded = p->pad_mode != 0 || (p->pad_list[0] == 0 && p->pad_list[1] == 0 &&
                                               p->pad_list[2] == 0 && p->pad_list[3] == 0);
  return d->have_w && p->have_w && !d->runtime_w && !p->runtime_w && is_depthwise(d) &&
         d->kh == 3 && d->kw == 3 && d->dh == 1 && d->dw == 1 && d->sh <= 2 && d->sw <= 2 &&
         p->group == 1 && p->kh == 1 && p->kw == 1 && p->sh == 1 && p->sw == 1 && p_unpadded &&
         p->cout == d->cout && !pw->post_res;
}

int conv2d_can_scale_input(const kernel *k) {
  const conv_state *s = k->state;
  if (!s || k->ops != &kernel_Conv2DFusion) return 0;
  const int unpadded = s->pad_mode != 0 || (s->pad_list[0] == 0 && s->pad_list[1] == 0 &&
                                            s->pad_list[2] == 0 && s->pad_list[3] == 0);
  return s->have_w && !s->runtime_w && s->group == 1 && s->kh == 1 && s->kw == 1 && s->sh == 1 &&
         s->sw == 1 && unpadded;
}

/* Copies the packed weights with input row k of every panel scaled by scale[k] (a folded
 * channel scale, kernel.scale_*); the panels' bias rows are copied as they are. */
static void scale_packed_rows(const conv_state *s, const float *scale, float *dst) {
  const size_t nr = (size_t)s->gemm->nr, kg = (size_t)s->kg;
  const size_t panels = ((size_t)s->og + nr - 1) / nr;
  const float *src = s->packed;
  for (size_t p = 0; p < panels; p++) {
    for (size_t j = 0; j < nr; j++) *dst++ = *src++;
    for (size_t kk = 0; kk < kg; kk++) {
      const float f = scale[kk];
      for (size_t j = 0; j < nr; j++) dst[j] = src[j] * f;
      dst += nr;
      src += nr;
    }
  }
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
  s->w_src = w;
  s->b_src = bias;
  return TOD_OK;
}

/* Winograd pays where the GEMMs have enough rows and columns to run the micro-kernel well. */
static int wants_winograd(const conv_state *s, int oh, int ow) {
  return winograd_allowed() && !s->runtime_w && s->group == 1 && s->kh == 3 && s->kw == 3 &&
         s->sh == 1 && s->sw == 1 && s->dh == 1 && s->dw == 1 && s->ig >= 8 && s->og >= 8 &&
         (size_t)oh * (size_t)ow >= 100;
}

/* Implicit GEMM: for one output row and one kernel row ky, the receptive-field spans of
 * consecutive interior pixels are kw * C_in contiguous input values, sw * C_in apart: the GEMM's
 * A read in place with that row stride, one K block per ky. It replaces im2col where the spans
 * are short (stem convolutions over 3 channels), there im2col cost as much as the GEMM. */
static int wants_implicit(const conv_state *s, int ow) {
  return !s->runtime_w && s->group == 1 && s->dh == 1 && s->dw == 1 && s->kh * s->kw > 1 &&
         (size_t)s->kw * (size_t)s->cin <= 64 && ow >= 16;
}

/* Pixconv (pixconv.h): few output channels, where a GEMM would leave most vector lanes idle.
 * Stride 1 along x, no dilation, one group; the planar padded input of a task must stay
 * small. */
static int wants_pixconv(const conv_state *s, int ih, int ow) {
  if (s->cin > (1 << 16) || ih > (1 << 16) || ow > (1 << 16) || s->kh > 64 || s->kw > 64)
    return 0; /* also keeps the products below far from overflow */
  const size_t iwp = (size_t)ow + (size_t)s->kw - 1, ihp = (size_t)ih + (size_t)s->kh;
  return s->pixk && s->group == 1 && s->sw == 1 && s->dh == 1 && s->dw == 1 &&
         s->cout <= PIXCONV_MAX_COUT && s->kh * s->kw > 1 && ow >= 8 &&
         (size_t)s->cin * ihp * iwp * sizeof(float) <= ((size_t)1 << 20);
}

/* Row-wrapped implicit GEMM, training graphs (weights packed at every run anyway): stride and
 * dilation 1, short kernel-row spans (LeNet's 6 -> 16, 5x5 on 14x14). In a padded image
 * (width iwp = ow + kw - 1), output pixel (oy, ox) reads kernel row ky at padded pixel
 * (oy + ky) * iwp + ox: over "virtual" pixels p = oy * iwp + ox, ox < iwp, the A rows of each
 * ky are one run cin apart, so one GEMM over the whole image reads A in place (no im2col)
 * and computes iwp / ow times the needed rows; the extra columns are dropped. At most
 * 2 x the rows, images at least twice the threads (tasks are images). */
static int wants_wrap(const conv_state *s, const kernel *k, int oh, int ow) {
  if (s->cin > (1 << 16) || s->cout > (1 << 16) || oh > (1 << 16) || ow > (1 << 16) ||
      s->kh > 64 || s->kw > 64)
    return 0; /* also keeps the products below far from overflow */
  const size_t iwp = (size_t)ow + (size_t)s->kw - 1, ihp = (size_t)oh + (size_t)s->kh - 1;
  const size_t floats = ihp * iwp * (size_t)s->cin + (size_t)oh * iwp * (size_t)s->cout;
  return s->runtime_w && !k->post_out && s->group == 1 && s->sh == 1 && s->sw == 1 &&
         s->dh == 1 && s->dw == 1 && s->kh * s->kw > 1 && (size_t)s->kw * (size_t)s->cin <= 64 &&
         (size_t)s->kw - 1 <= (size_t)ow && (size_t)s->n >= 2 * s->slots &&
         floats * sizeof(float) <= ((size_t)1 << 20);
}

/* w^T [kg][cout] (KHWC transposed: a tap's output channels adjacent), then the bias [cout]. */
static void pixconv_weights(const conv_state *s, const float *w, const float *bias, float *dst) {
  const size_t kg = (size_t)s->kg, co = (size_t)s->cout;
  for (size_t o = 0; o < co; o++)
    for (size_t k = 0; k < kg; k++) dst[k * co + o] = w[o * kg + k];
  for (size_t o = 0; o < co; o++) dst[kg * co + o] = bias ? bias[o] : 0.0f;
}

/* Packs the constant weights for the path setup chose, once. */
static tod_status pack_for_mode(conv_state *s) {
  if (s->runtime_w || s->mode == MODE_DEPTHWISE) return TOD_OK;
  if (CONV_HAS_PIXCONV && s->mode == MODE_PIXCONV) {
    if (s->pix_w) return TOD_OK;
    s->pix_w = malloc(((size_t)s->kg + 1) * (size_t)s->cout * sizeof(float));
    if (!s->pix_w) return TOD_MEMORY_FAILED;
    pixconv_weights(s, s->w_src, s->b_src, s->pix_w);
    return TOD_OK;
  }
  if (s->mode != MODE_WINOGRAD) {
    if (s->packed) return TOD_OK;
    s->packed = gemm_alloc_packed(s->packed_group * (size_t)s->group);
    if (!s->packed) return TOD_MEMORY_FAILED;
    pack_gemm_weights(s, s->w_src, s->b_src, s->packed);
    return TOD_OK;
  }
  if (s->wino_u) return TOD_OK;
  const size_t ci = (size_t)s->ig, co = (size_t)s->cout;
  s->wino = wino_config_get();
  s->wino_packed = gemm_packed_size(s->gemm, ci, co);
  s->wino_u = gemm_alloc_packed(WINO_POS * s->wino_packed);
  s->wino_bias = calloc(co, sizeof(float));
  float *u = malloc(WINO_POS * co * ci * sizeof(float)); /* [pos][co][ci] */
  if (!s->wino_u || !s->wino_bias || !u) {
    free(u);
    return TOD_MEMORY_FAILED;
  }
  for (size_t o = 0; o < co; o++)
    for (size_t i = 0; i < ci; i++) {
      float g[9];
      for (int t = 0; t < 9; t++) g[t] = s->w_src[(o * 9 + (size_t)t) * ci + i];
      wino_f43_weight(g, u + o * ci + i, co * ci);
    }
  for (int p = 0; p < WINO_POS; p++)
    gemm_pack_b(s->gemm, ci, co, u + (size_t)p * co * ci, ci, 1, NULL,
                s->wino_u + (size_t)p * s->wino_packed);
  free(u);
  if (s->b_src) memcpy(s->wino_bias, s->b_src, co * sizeof(float));
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
  s->node_act = s->act;
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
  s->dw_rows = dwconv3x3_rows_get();
  s->pixk = CONV_HAS_PIXCONV ? pixconv_config_get() : NULL;
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
  s->unit_split = 0;
  const size_t m = (size_t)s->n * oh * ow;
  if (is_depthwise(s)) {
    s->mode = MODE_DEPTHWISE;
    s->slot_bytes = dw_ptr_bytes(s);
    if (CONV_HAS_FOLD && k->pre) {
      /* A folded 1x1 convolution: set up (and packed) here, its session node is skipped. */
      tod_view pin[3];
      size_t pscratch = 0;
      for (int j = 0; j < k->pre_n_in && j < 3; j++) pin[j] = *k->pre_in[j];
      tod_status st = conv_setup(k->pre, pin, k->pre_n_in, k->pre_out, 1, &pscratch);
      const conv_state *p = k->pre->state;
      if (st != TOD_OK || pscratch != 0 || p->mode != MODE_GEMM_1X1 ||
          !conv2d_can_fold_pointwise(k, k->pre) || p->n != s->n || p->oh != s->ih ||
          p->ow != s->iw) {
        snprintf(k->err, sizeof k->err, "Conv2DFusion: cannot fold the 1x1 convolution: %s",
                 st != TOD_OK ? k->pre->err : "shapes");
        return st != TOD_OK ? st : TOD_INPUT_TENSOR_ERROR;
      }
      s->fold_chunk = (FOLD_CHUNK_PIXELS + (size_t)s->iw - 1) / (size_t)s->iw;
      if (s->fold_chunk > (size_t)s->ih) s->fold_chunk = (size_t)s->ih;
      const size_t ring = (s->fold_chunk + 3) * (size_t)s->iw * (size_t)s->cout;
      s->slot_bytes += (ring * sizeof(float) + 63) / 64 * 64;
    }
  } else if (wants_winograd(s, oh, ow)) {
    s->mode = MODE_WINOGRAD;
    const size_t mr = (size_t)s->gemm->mr;
    s->wt_h = ((size_t)oh + WINO_TILE_OUT - 1) / WINO_TILE_OUT;
    s->wt_w = ((size_t)ow + WINO_TILE_OUT - 1) / WINO_TILE_OUT;
    s->wt_tiles = (size_t)s->n * s->wt_h * s->wt_w;
    const size_t budget =
        WINO_BLOCK_BYTES / (WINO_POS * sizeof(float) * (size_t)(s->ig + s->cout));
    size_t rows = budget < mr ? mr : budget / mr * mr;
    /* Few tiles: one block, the threads split its columns (each streams part of the
     * transformed weights) rather than each streaming all of them for part of the tiles. */
    if (s->wt_tiles <= 2 * rows) rows = s->wt_tiles;
    else {
      /* Blocks of equal size, as many for every thread (tasks are split into one contiguous
       * range a thread): resnet18's 49 tiles at 28x28 in blocks of 24 were 36 tiles of work
       * for one thread and 13 for the other, its 196 at 56x56 in blocks of 56, 112 and 84. */
      const size_t cap = budget > rows ? budget : rows;
      size_t blocks = (s->wt_tiles + cap - 1) / cap;
      if (s->slots > 1) blocks = (blocks + s->slots - 1) / s->slots * s->slots;
      rows = (s->wt_tiles + blocks - 1) / blocks;
    }
    s->tile_rows = rows;
    s->m_tiles = (s->wt_tiles + rows - 1) / rows;
    const size_t panels = ((size_t)s->og + (size_t)s->gemm->nr - 1) / (size_t)s->gemm->nr;
    s->n_splits = 1;
    if (s->slots > 1 && s->m_tiles < 2 * s->slots) {
      s->n_splits = (2 * s->slots + s->m_tiles - 1) / s->m_tiles;
      if (s->n_splits > panels) s->n_splits = panels;
    }
    s->slot_bytes = ((WINO_POS * rows * (size_t)(s->ig + s->cout) +
                      WINO_TILE_IN * WINO_TILE_IN * (size_t)s->cin) * sizeof(float) + 63) /
                    64 * 64;
  } else if (CONV_HAS_PIXCONV && wants_pixconv(s, s->ih, ow)) {
    /* Tasks are blocks of output rows of one image (images split when they are fewer than
     * twice the threads); a slot holds the block's input rows, planar and padded. */
    s->mode = MODE_PIXCONV;
    size_t splits = 1;
    if (s->slots > 1 && (size_t)s->n < 2 * s->slots)
      splits = (2 * s->slots + (size_t)s->n - 1) / (size_t)s->n;
    if (splits > (size_t)oh) splits = (size_t)oh;
    s->pix_rows = ((size_t)oh + splits - 1) / splits;
    s->pix_splits = ((size_t)oh + s->pix_rows - 1) / s->pix_rows;
    const size_t in_rows = (s->pix_rows - 1) * (size_t)s->sh + (size_t)s->kh;
    s->slot_bytes = ((size_t)s->cin * in_rows * ((size_t)ow + (size_t)s->kw - 1) *
                     sizeof(float) + 63) / 64 * 64;
  } else if (CONV_HAS_WRAP && wants_wrap(s, k, oh, ow)) {
    /* A slot holds the padded image (and a slack of kw - 1 pixels the last virtual rows read)
     * and the virtual rows' results. */
    s->mode = MODE_WRAP;
    const size_t iwp = (size_t)ow + (size_t)s->kw - 1, ihp = (size_t)oh + (size_t)s->kh - 1;
    s->slot_bytes = ((ihp * iwp * (size_t)s->cin + (size_t)(s->kw - 1) * s->cin + 15) / 16 * 16 +
                     (size_t)oh * iwp * (size_t)s->cout) * sizeof(float);
    s->slot_bytes = (s->slot_bytes + 63) / 64 * 64;
  } else if (wants_implicit(s, ow)) {
    /* Tasks are output rows (x column splits when rows are few); a slot holds the im2col
     * rows of one output row's border pixels. */
    s->mode = MODE_IMPLICIT;
    const size_t rows_all = (size_t)s->n * oh;
    const size_t panels = ((size_t)s->og + (size_t)s->gemm->nr - 1) / (size_t)s->gemm->nr;
    s->n_splits = 1;
    if (s->slots > 1 && rows_all < 2 * s->slots) s->n_splits = panels < s->slots ? panels : s->slots;
    s->slot_bytes = ((size_t)ow * (size_t)s->kg * sizeof(float) + 63) / 64 * 64;
  } else {
    s->mode = s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 && pt == 0 && pl == 0 &&
                      pb == 0 && pr == 0
                  ? MODE_GEMM_1X1
                  : MODE_IM2COL;
    const size_t mr = (size_t)s->gemm->mr, kg = (size_t)s->kg;
    size_t rows = IM2COL_TILE_BYTES / (kg * sizeof(float));
    if (rows > 256) rows = 256;
    if (s->mode == MODE_GEMM_1X1) rows = gemm_block_rows(s->gemm, kg);
    const size_t panels = ((size_t)s->og + (size_t)s->gemm->nr - 1) / (size_t)s->gemm->nr;
    if (s->slots > 1 && s->group == 1 && m <= rows && (size_t)s->og > m && panels >= s->slots) {
      /* Few pixels, many output channels (late layers): one tile of every pixel and the
       * threads split the columns, so each streams only its share of the weights (the larger
       * operand here) rather than all of them for a share of the pixels. */
      s->tile_rows = m;
      s->m_tiles = 1;
      s->n_splits = s->slots;
      s->unit_split = 1;
    } else if (s->slots > 1 && s->group == 1 && s->mode == MODE_GEMM_1X1 && m <= rows &&
               m > mr * s->slots) {
      /* Pixels that fit one cache block but not evenly the threads' row tiles (14x14: 104
       * and 92 rows): one tile, the threads share its (row tile, panel) units row-major,
       * so each keeps a band of rows (the previous layer's rows on its core) and the split
       * is even to one 8 x 32 unit. */
      s->tile_rows = m;
      s->m_tiles = 1;
      s->n_splits = s->slots;
      s->unit_split = 2;
    } else {
      /* Enough tiles for every thread; beyond that, bigger tiles reuse B better. */
      const size_t per_slot = ((m + s->slots - 1) / s->slots + mr - 1) / mr * mr;
      if (s->slots > 1 && rows > per_slot) rows = per_slot;
      rows = rows / mr * mr;
      if (rows == 0) rows = mr;
      if (s->slots > 1 && s->group == 1 && (m + rows - 1) / rows > s->slots) {
        /* A tile count that is a multiple of the threads, tiles of equal size: 784 pixels
         * in 256-row tiles were 3 tiles for one thread and 1 (16 rows) for the other. */
        const size_t tiles = ((m + rows - 1) / rows + s->slots - 1) / s->slots * s->slots;
        rows = ((m + tiles - 1) / tiles + mr - 1) / mr * mr;
      }
      s->tile_rows = rows;
      s->m_tiles = (m + rows - 1) / rows;
      const size_t base = s->m_tiles * (size_t)s->group;
      s->n_splits = 1;
      if (s->slots > 1 && base < 2 * s->slots) {
        s->n_splits = (2 * s->slots + base - 1) / base;
        if (s->n_splits > panels) s->n_splits = panels;
      }
    }
    rows = s->tile_rows;
    s->slot_bytes = s->mode == MODE_IM2COL ? (rows * kg * sizeof(float) + 63) / 64 * 64 : 0;
  }
  *scratch = s->slots * s->slot_bytes;
  if (s->runtime_w) {
    size_t wf = s->packed_group * (size_t)s->group;
    const size_t dwf = ((size_t)s->kh * s->kw + 2) * (size_t)s->cout; /* depthwise run copy */
    if (s->mode == MODE_DEPTHWISE && dwf > wf) wf = dwf;
    const size_t pxf = ((size_t)s->kg + 1) * (size_t)s->cout; /* pixconv run copy */
    if (s->mode == MODE_PIXCONV && pxf > wf) wf = pxf;
    *scratch += wf * sizeof(float);
  }
  if (k->post_out) {
    /* Folded in by the session: a residual Add (post_res: same shape as the output, clamp
     * activation) or an Activation alone (its type replaces the node's, which is none). */
    int loop = 0;
    const tod_view *r = k->post_res, *o = k->post_out;
    int same = (!r || r->ndim == 4) && o->ndim == 4 && s->node_act == IR_ACT_NONE;
    for (int d = 0; same && d < 4; d++)
      same = (!r || r->dims[d] == out[0].dims[d]) && o->dims[d] == out[0].dims[d];
    if (!same || fused_act_init(k->post_act, &s->post_mm, &loop) != TOD_OK || (r && loop)) {
      snprintf(k->err, sizeof k->err, "Conv2DFusion: cannot fold this %s",
               r ? "residual Add" : "Activation");
      return TOD_INPUT_TENSOR_ERROR;
    }
  }
  if (k->scale_s) {
    /* A channel scale folded in by the session: x and the convolution's input alike. */
    const tod_view *x = k->scale_x, *v = k->scale_s;
    int64_t vn = 1;
    for (int d = 0; d < v->ndim; d++) vn *= v->dims[d];
    int ok = s->mode == MODE_GEMM_1X1 && s->group == 1 && !s->runtime_w && x->ndim == 4 &&
             v->ndim >= 1 && vn == s->cin;
    for (int d = 0; ok && d < 4; d++) ok = x->dims[d] == in[0].dims[d];
    if (!ok) {
      snprintf(k->err, sizeof k->err, "Conv2DFusion: cannot fold this channel scale");
      return TOD_INPUT_TENSOR_ERROR;
    }
    *scratch += (s->packed_group * sizeof(float) + 63) / 64 * 64;
  }
  s->act = k->post_out && !k->post_res ? k->post_act : s->node_act;
  if (fused_act_init(s->act, &s->mm, &s->act_loop) != TOD_OK) {
    snprintf(k->err, sizeof k->err, "Conv2DFusion: activation %d not supported", s->act);
    return TOD_NOT_SUPPORT;
  }
  if (pack_for_mode(s) != TOD_OK) {
    snprintf(k->err, sizeof k->err, "Conv2DFusion: out of memory packing weights");
    return TOD_MEMORY_FAILED;
  }
  return TOD_OK;
}

typedef struct {
  const conv_state *s;
  const float *x;
  float *y;
  const float *packed;
  char *scratch;
  const float *res;        /* a folded residual Add's operand (y's layout), or NULL */
  const gemm_minmax *mm;   /* the clamp of the final store (the Add's when res) */
  const float *dw_w, *dw_bias, *zero; /* depthwise: the state's, or this run's (training) */
  const conv_state *pre; /* depthwise with a folded 1x1 convolution (kernel.pre): its state */
  const float *pre_x;    /* and its input */
  /* One tile (or Winograd block) shared by every thread: its im2col rows (input transforms)
   * were built once, split over the threads, into slot 0's buffer, instead of by each. */
  int shared_a;
} conv_run_ctx;

/* y = clamp(y + r) on rows x cols values with row stride ld: a folded residual Add, run on a
 * tile the GEMM just wrote, while it is in cache. */
static void add_residual_2d(float *y, const float *r, size_t rows, size_t cols, size_t ld,
                            const gemm_minmax *p) {
  const float lo = p->min, hi = p->max;
#if defined(__SSE2__)
  /* SSE2 is the x86-64 baseline. max(lo, v) and min(hi, v) return v when it is NaN, as the
   * scalar tail does. */
  const __m128 vlo = _mm_set1_ps(lo), vhi = _mm_set1_ps(hi);
#endif
  for (size_t i = 0; i < rows; i++, y += ld, r += ld) {
    size_t j = 0;
#if defined(__SSE2__)
    for (; j + 4 <= cols; j += 4) {
      const __m128 v = _mm_add_ps(_mm_loadu_ps(y + j), _mm_loadu_ps(r + j));
      _mm_storeu_ps(y + j, _mm_min_ps(vhi, _mm_max_ps(vlo, v)));
    }
#endif
    for (; j < cols; j++) {
      float v = y[j] + r[j];
      v = v < lo ? lo : v;
      y[j] = v > hi ? hi : v;
    }
  }
}

/* Writes the im2col rows of output pixels [row0, row0+rows) for group g: row r holds the
 * pixel's receptive field in (ky, kx, ci) order, the order of the KHWC weights. */
static void im2col_tile(const conv_state *s, const float *x, size_t row0, size_t rows, int g,
                        float *col) {
  const size_t ig = (size_t)s->ig, kg = (size_t)s->kg, cin = (size_t)s->cin;
  const int contiguous = s->group == 1 && s->dw == 1; /* a kernel row is one input span */
  /* The pixel's (b, oy, ox) is divided out once and then stepped: per-row divisions cost a
   * stem conv (27 values a row) as much as its copies. */
  int b = (int)(row0 / ((size_t)s->oh * s->ow));
  const int rem0 = (int)(row0 % ((size_t)s->oh * s->ow));
  int oy = rem0 / s->ow, ox = rem0 % s->ow - 1;
  for (size_t r = 0; r < rows; r++) {
    if (++ox == s->ow) {
      ox = 0;
      if (++oy == s->oh) oy = 0, b++;
    }
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
        const size_t z0 = (size_t)kx0 * ig, v1 = (size_t)kx1 * ig, span = (size_t)s->kw * ig;
        /* The first valid value, for dst + z0 (no valid column: not read). */
        const float *src = v1 > z0 ? src_row + (size_t)(ix0 + kx0) * cin : src_row;
        if (span <= 64) {
          /* Short rows (a stem conv over 3 channels): inline copies beat three library
           * calls, and fixed-size chunks become vector moves (a float loop cost a stem conv
           * a third of its time). */
          for (size_t e = 0; e < z0; e++) dst[e] = 0.0f;
          size_t e = z0;
          for (; e + 8 <= v1; e += 8) memcpy(dst + e, src + (e - z0), 8 * sizeof(float));
          for (; e + 4 <= v1; e += 4) memcpy(dst + e, src + (e - z0), 4 * sizeof(float));
          for (; e < v1; e++) dst[e] = src[e - z0];
          for (e = v1; e < span; e++) dst[e] = 0.0f;
          continue;
        }
        memset(dst, 0, z0 * sizeof(float));
        if (v1 > z0) memcpy(dst + z0, src, (v1 - z0) * sizeof(float));
        memset(dst + v1, 0, (span - v1) * sizeof(float));
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

/* The rectangles of a tile of `rows` rows that column split `split` computes (returns their
 * count, 0 to 3). Usually one: whole rows, the split's share of the column panels. With
 * unit_split the splits share the (panel, MR-row tile) units instead, panel-major: 5 panels
 * on 2 threads are 2.5 each rather than 2 and 3 (mobilenet_v2's 7x7 projections to 160
 * channels). A share is then the end of one panel, whole panels and the start of another. */
static int gemm_rects(const conv_state *s, size_t split, size_t rows, size_t rect[3][4]) {
  const size_t nr = (size_t)s->gemm->nr, og = (size_t)s->og, panels = (og + nr - 1) / nr;
  if (!s->unit_split) {
    const size_t p0 = split * panels / s->n_splits, p1 = (split + 1) * panels / s->n_splits;
    const size_t n0 = p0 * nr, n1 = p1 * nr < og ? p1 * nr : og;
    if (n0 >= n1) return 0;
    rect[0][0] = 0, rect[0][1] = rows, rect[0][2] = n0, rect[0][3] = n1;
    return 1;
  }
  const size_t mr = (size_t)s->gemm->mr, rt = (rows + mr - 1) / mr, units = panels * rt;
  const size_t u1 = (split + 1) * units / s->n_splits;
  int n = 0;
  if (s->unit_split == 2) { /* row-major: a row tile's end, whole row tiles, a row tile's start */
    for (size_t u = split * units / s->n_splits; u < u1 && n < 3; n++) {
      const size_t r = u / panels, p = u % panels;
      if (p == 0 && u + panels <= u1) {
        size_t rend = r + 1;
        while ((rend + 1) * panels <= u1) rend++;
        rect[n][0] = r * mr, rect[n][1] = rend * mr < rows ? rend * mr : rows;
        rect[n][2] = 0, rect[n][3] = og;
        u = rend * panels;
      } else {
        const size_t pend = u1 - r * panels < panels ? u1 - r * panels : panels;
        rect[n][0] = r * mr, rect[n][1] = (r + 1) * mr < rows ? (r + 1) * mr : rows;
        rect[n][2] = p * nr, rect[n][3] = pend * nr < og ? pend * nr : og;
        u = r * panels + pend;
      }
    }
    return n;
  }
  for (size_t u = split * units / s->n_splits; u < u1 && n < 3; n++) {
    const size_t p = u / rt, t0 = u % rt;
    size_t t1 = u1 - p * rt < rt ? u1 - p * rt : rt, pend = p + 1;
    if (t0 == 0 && t1 == rt)
      while ((pend + 1) * rt <= u1) pend++; /* whole panels: one rectangle */
    rect[n][0] = t0 * mr;
    rect[n][1] = t1 * mr < rows ? t1 * mr : rows;
    rect[n][2] = p * nr;
    rect[n][3] = pend * nr < og ? pend * nr : og;
    u = t0 == 0 && t1 == rt ? pend * rt : p * rt + t1;
  }
  return n;
}

/* Tasks are im2col rows of the one tile (shared_a), written to slot 0's buffer. */
static void conv_im2col_rows(void *ctx, size_t slot, size_t begin, size_t end) {
  const conv_run_ctx *c = ctx;
  (void)slot;
  im2col_tile(c->s, c->x, begin, end - begin, 0,
              (float *)(void *)c->scratch + begin * (size_t)c->s->kg);
}

/* Tasks are (pixel tile, group, column split), column split innermost. */
static void conv_gemm_tasks(void *ctx, size_t slot, size_t begin, size_t end) {
  const conv_run_ctx *c = ctx;
  const conv_state *s = c->s;
  const size_t m = (size_t)s->n * s->oh * s->ow, cout = (size_t)s->cout, og = (size_t)s->og;
  float *col = (float *)(c->scratch + slot * s->slot_bytes);
  size_t built_tile = (size_t)-1;
  int built_group = -1;
  for (size_t t = begin; t < end; t++) {
    const size_t split = t % s->n_splits, tg = t / s->n_splits;
    const int g = (int)(tg % (size_t)s->group);
    const size_t tile = tg / (size_t)s->group;
    const size_t row0 = tile * s->tile_rows;
    const size_t rows = m - row0 < s->tile_rows ? m - row0 : s->tile_rows;
    size_t rect[3][4]; /* [row0, row1, col0, col1) of the tile */
    const int nrect = gemm_rects(s, split, rows, rect);
    if (nrect == 0) continue;
    const float *a;
    size_t lda;
    if (s->mode == MODE_GEMM_1X1) {
      a = c->x + row0 * (size_t)s->cin + (size_t)g * s->ig;
      lda = (size_t)s->cin;
    } else if (c->shared_a) {
      a = (const float *)(const void *)c->scratch;
      lda = (size_t)s->kg;
    } else {
      if (built_tile != tile || built_group != g) {
        im2col_tile(s, c->x, row0, rows, g, col);
        built_tile = tile;
        built_group = g;
      }
      a = col;
      lda = (size_t)s->kg;
    }
    for (int q = 0; q < nrect; q++) {
      const size_t r0 = rect[q][0], nrow = rect[q][1] - r0, n0 = rect[q][2], n1 = rect[q][3];
      float *y = c->y + (row0 + r0) * cout + (size_t)g * og;
      gemm_compute(s->gemm, nrow, n0, n1, og, (size_t)s->kg, a + r0 * lda, lda,
                   c->packed + (size_t)g * s->packed_group, y, cout, &s->mm);
      if (s->act_loop) fused_act_apply_2d(s->act, y + n0, nrow, n1 - n0, cout);
      if (c->res)
        add_residual_2d(y + n0, c->res + (row0 + r0) * cout + (size_t)g * og + n0, nrow, n1 - n0,
                        cout, c->mm);
    }
  }
}

/* Tasks are (output row, column split). Interior pixels (every tap inside the input, rows
 * with all kh input rows) run the implicit GEMM; the rest go through im2col. */
static void conv_implicit_tasks(void *ctx, size_t slot, size_t begin, size_t end) {
  const conv_run_ctx *c = ctx;
  const conv_state *s = c->s;
  const size_t cout = (size_t)s->cout, cin = (size_t)s->cin, kg = (size_t)s->kg;
  const size_t ow = (size_t)s->ow, nr = (size_t)s->gemm->nr, mr = (size_t)s->gemm->mr;
  const size_t panels = (cout + nr - 1) / nr, panel = nr + kg * nr, span = (size_t)s->kw * cin;
  const gemm_minmax none = {-__builtin_inff(), __builtin_inff()};
  float *col = (float *)(void *)(c->scratch + slot * s->slot_bytes);
  const int lo = (s->pl + s->sw - 1) / s->sw;
  int hi = s->iw - s->kw + s->pl >= 0 ? (s->iw - s->kw + s->pl) / s->sw + 1 : 0;
  if (hi > s->ow) hi = s->ow;
  for (size_t t = begin; t < end; t++) {
    const size_t split = t % s->n_splits, row = t / s->n_splits;
    const size_t b = row / (size_t)s->oh, oy = row % (size_t)s->oh;
    const size_t p0 = split * panels / s->n_splits, p1 = (split + 1) * panels / s->n_splits;
    const size_t n0 = p0 * nr, n1 = p1 * nr < cout ? p1 * nr : cout;
    if (n0 >= n1) continue;
    const int iy0 = (int)oy * s->sh - s->pt;
    size_t x0 = ow, x1 = ow;
    if (iy0 >= 0 && iy0 + s->kh <= s->ih && lo < hi) x0 = (size_t)lo, x1 = (size_t)hi;
    float *y = c->y + row * ow * cout;
    for (int part = 0; part < 2; part++) { /* border pixels [0, x0) and [x1, ow) */
      const size_t q0 = part ? x1 : 0, q1 = part ? ow : x0;
      if (q0 >= q1) continue;
      im2col_tile(s, c->x, row * ow + q0, q1 - q0, 0, col);
      gemm_compute(s->gemm, q1 - q0, n0, n1, cout, kg, col, kg, c->packed, y + q0 * cout, cout,
                   &s->mm);
    }
    const float *xrow = c->x + (b * (size_t)s->ih + (size_t)iy0) * (size_t)s->iw * cin;
    for (size_t i = x0; i < x1; i += mr) {
      const size_t rows = x1 - i < mr ? x1 - i : mr;
      const float *a = xrow + (i * (size_t)s->sw - (size_t)s->pl) * cin;
      for (size_t cc = n0; cc < n1; cc += nr) {
        const size_t nc = n1 - cc < nr ? n1 - cc : nr;
        if (s->gemm->seg) { /* the kernel rows as K runs, C in registers across them */
          s->gemm->seg(rows, nc, (size_t)s->kh, span, a, (size_t)s->sw * cin, (size_t)s->iw * cin,
                       c->packed + (cc / nr) * panel, y + i * cout + cc, cout, &s->mm);
          continue;
        }
        /* K blocks are the kernel rows; a later block's w starts one packed row early (the
         * kernel skips that "bias" row), as in gemm_compute. */
        for (int ky = 0; ky < s->kh; ky++)
          s->gemm->ukernel(rows, nc, span, a + (size_t)ky * s->iw * cin, (size_t)s->sw * cin,
                           c->packed + (cc / nr) * panel + (size_t)ky * span * nr,
                           y + i * cout + cc, cout, ky == s->kh - 1 ? &s->mm : &none, ky > 0);
      }
    }
    if (s->act_loop) fused_act_apply_2d(s->act, y + n0, ow, n1 - n0, cout);
    if (c->res) add_residual_2d(y + n0, c->res + row * ow * cout + n0, ow, n1 - n0, cout, c->mm);
  }
}

/* Input transforms of tiles tile0 + [k0, k1) into v (row k at v + k * cin, T rows a
 * position); border tiles go through patch (WINO_TILE_IN^2 x cin floats). */
static void wino_input_tiles(const conv_run_ctx *c, size_t tile0, size_t k0, size_t k1, float *v,
                             float *patch) {
  const conv_state *s = c->s;
  const size_t cin = (size_t)s->cin, T = s->tile_rows, iw = (size_t)s->iw;
  for (size_t k = k0; k < k1; k++) {
    const size_t tile = tile0 + k, b = tile / (s->wt_h * s->wt_w);
    const size_t rem = tile % (s->wt_h * s->wt_w);
    const int iy0 = (int)(rem / s->wt_w) * WINO_TILE_OUT - s->pt;
    const int ix0 = (int)(rem % s->wt_w) * WINO_TILE_OUT - s->pl;
    const float *xb = c->x + b * (size_t)s->ih * iw * cin;
    if (iy0 >= 0 && ix0 >= 0 && iy0 + WINO_TILE_IN <= s->ih && ix0 + WINO_TILE_IN <= s->iw) {
      s->wino->input(cin, xb + ((size_t)iy0 * iw + (size_t)ix0) * cin, cin, iw * cin,
                     v + k * cin, T * cin);
      continue;
    }
    /* Border tile: the patch with its padding made explicit. */
    for (int i = 0; i < WINO_TILE_IN; i++)
      for (int j = 0; j < WINO_TILE_IN; j++) {
        const int iy = iy0 + i, ix = ix0 + j;
        float *dst = patch + (size_t)(i * WINO_TILE_IN + j) * cin;
        if (iy < 0 || iy >= s->ih || ix < 0 || ix >= s->iw)
          memset(dst, 0, cin * sizeof(float));
        else
          memcpy(dst, xb + ((size_t)iy * iw + (size_t)ix) * cin, cin * sizeof(float));
      }
    s->wino->input(cin, patch, cin, WINO_TILE_IN * cin, v + k * cin, T * cin);
  }
}

/* shared_a: tasks are the tiles of the one block, transformed into slot 0's v; each thread
 * uses its own slot's patch. */
static void conv_wino_input_tasks(void *ctx, size_t slot, size_t begin, size_t end) {
  const conv_run_ctx *c = ctx;
  const conv_state *s = c->s;
  const size_t cin = (size_t)s->cin, T = s->tile_rows, cout = (size_t)s->cout;
  float *v0 = (float *)(void *)c->scratch;
  float *patch = (float *)(void *)(c->scratch + slot * s->slot_bytes) + WINO_POS * T * (cin + cout);
  wino_input_tiles(c, 0, begin, end, v0, patch);
}

/* Tasks are (tile block, column split), column split innermost. A block's input transform is
 * kept for the next task on the same thread when only the column split changes. */
static void conv_wino_tasks(void *ctx, size_t slot, size_t begin, size_t end) {
  const conv_run_ctx *c = ctx;
  const conv_state *s = c->s;
  const size_t cin = (size_t)s->cin, cout = (size_t)s->cout, T = s->tile_rows;
  const size_t nr = (size_t)s->gemm->nr, panels = (cout + nr - 1) / nr;
  const size_t ow = (size_t)s->ow;
  float *v = (float *)(void *)(c->scratch + slot * s->slot_bytes);
  float *mres = v + WINO_POS * T * cin;
  float *patch = mres + WINO_POS * T * cout;
  const gemm_minmax none = {-__builtin_inff(), __builtin_inff()};
  size_t built = (size_t)-1;
  for (size_t t = begin; t < end; t++) {
    const size_t split = t % s->n_splits, blk = t / s->n_splits;
    const size_t tile0 = blk * T, nt = s->wt_tiles - tile0 < T ? s->wt_tiles - tile0 : T;
    const size_t p0 = split * panels / s->n_splits, p1 = (split + 1) * panels / s->n_splits;
    const size_t n0 = p0 * nr, n1 = p1 * nr < cout ? p1 * nr : cout;
    if (n0 >= n1) continue;
    if (c->shared_a) {
      v = (float *)(void *)c->scratch; /* slot 0's, built by conv_wino_input_tasks */
    } else if (built != blk) {
      wino_input_tiles(c, tile0, 0, nt, v, patch);
      built = blk;
    }
    for (size_t p = 0; p < WINO_POS; p++)
      gemm_compute(s->gemm, nt, n0, n1, cout, cin, v + p * T * cin, cin,
                   s->wino_u + p * s->wino_packed, mres + p * T * cout, cout, &none);
    for (size_t k = 0; k < nt; k++) {
      const size_t tile = tile0 + k, b = tile / (s->wt_h * s->wt_w);
      const size_t rem = tile % (s->wt_h * s->wt_w);
      const size_t oy0 = rem / s->wt_w * WINO_TILE_OUT, ox0 = rem % s->wt_w * WINO_TILE_OUT;
      const size_t rows = (size_t)s->oh - oy0 < WINO_TILE_OUT ? (size_t)s->oh - oy0 : WINO_TILE_OUT;
      const size_t cols = ow - ox0 < WINO_TILE_OUT ? ow - ox0 : WINO_TILE_OUT;
      const size_t off = ((b * (size_t)s->oh + oy0) * ow + ox0) * cout + n0;
      s->wino->output(n1 - n0, mres + k * cout + n0, T * cout, s->wino_bias + n0,
                      c->res ? c->res + off : NULL, c->y + off, cout, ow * cout, rows, cols,
                      c->mm);
      if (s->act_loop)
        for (size_t i = 0; i < rows; i++)
          fused_act_apply_2d(s->act, c->y + off + i * ow * cout, cols, n1 - n0, cout);
    }
  }
}

/* Tasks are output rows (batch, oy): the row's indirection pointers (ow x taps) are built,
 * then one micro-kernel call computes the whole row. */
static void conv_dw_tasks(void *ctx, size_t slot, size_t begin, size_t end) {
  const conv_run_ctx *c = ctx;
  const conv_state *s = c->s;
  const size_t ch = (size_t)s->cout, taps = (size_t)s->kh * s->kw;
  const float **ptrs = (const float **)(void *)(c->scratch + slot * s->slot_bytes);
  const dwconv3x3_rows_fn rows_fn =
      s->kh == 3 && s->kw == 3 && s->dh == 1 && s->dw == 1 ? s->dw_rows : NULL;
  /* Output columns [lo, hi) have every tap inside the input (when the row's are too). */
  const int lo = (s->pl + s->sw - 1) / s->sw;
  int hi = s->iw - 3 + s->pl >= 0 ? (s->iw - 3 + s->pl) / s->sw + 1 : 0;
  if (hi > s->ow) hi = s->ow;
  for (size_t t = begin; t < end; t++) {
    const int b = (int)(t / (size_t)s->oh), oy = (int)(t % (size_t)s->oh);
    const float *xb = c->x + (size_t)b * s->ih * s->iw * ch;
    float *y = c->y + t * (size_t)s->ow * ch;
    const int iy0 = oy * s->sh - s->pt;
    int x0 = s->ow, x1 = s->ow; /* the columns the interior kernel runs; the rest indirect */
    if (rows_fn && iy0 >= 0 && iy0 + 3 <= s->ih && lo < hi) x0 = lo, x1 = hi;
    for (int part = 0; part < 2; part++) {
      const int p0 = part ? x1 : 0, p1 = part ? s->ow : x0;
      if (p0 >= p1) continue;
      size_t i = 0;
      for (int ox = p0; ox < p1; ox++)
        for (int ky = 0; ky < s->kh; ky++) {
          const int iy = iy0 + ky * s->dh;
          for (int kx = 0; kx < s->kw; kx++, i++) {
            const int ix = ox * s->sw - s->pl + kx * s->dw;
            ptrs[i] = (iy < 0 || iy >= s->ih || ix < 0 || ix >= s->iw)
                          ? c->zero
                          : xb + ((size_t)iy * s->iw + ix) * ch;
          }
        }
      s->dwk->ukernel(ch, (size_t)(p1 - p0), taps, ptrs, c->dw_w, c->dw_bias, y + p0 * ch,
                      &s->mm);
    }
    if (x0 < x1) {
      const float *rows[3];
      for (int ky = 0; ky < 3; ky++)
        rows[ky] = xb + ((size_t)(iy0 + ky) * s->iw + (size_t)(x0 * s->sw - s->pl)) * ch;
      rows_fn(ch, (size_t)(x1 - x0), (size_t)s->sw, rows, c->dw_w, c->dw_bias, y + x0 * ch,
              &s->mm);
    }
    if (s->act_loop) fused_act_apply(s->act, y, (size_t)s->ow * ch);
  }
}

/* Tasks are (image, block of output rows): the block's input rows are relaid out planar with
 * the padding explicit ([c][row][x], rows of ow + kw - 1), then one kernel call per row. */
static void conv_pix_tasks(void *ctx, size_t slot, size_t begin, size_t end) {
  const conv_run_ctx *c = ctx;
  const conv_state *s = c->s;
  const size_t cin = (size_t)s->cin, cout = (size_t)s->cout, ow = (size_t)s->ow;
  const size_t iwp = ow + (size_t)s->kw - 1, iw = (size_t)s->iw, sh = (size_t)s->sh;
  const size_t in_rows = (s->pix_rows - 1) * sh + (size_t)s->kh, cstride = in_rows * iwp;
  float *buf = (float *)(void *)(c->scratch + slot * s->slot_bytes);
  const float *wt = c->packed, *bias = c->packed + (size_t)s->kg * cout;
  for (size_t t = begin; t < end; t++) {
    const size_t b = t / s->pix_splits, oy0 = t % s->pix_splits * s->pix_rows;
    const size_t rows = (size_t)s->oh - oy0 < s->pix_rows ? (size_t)s->oh - oy0 : s->pix_rows;
    const size_t used = (rows - 1) * sh + (size_t)s->kh;
    const float *xb = c->x + b * (size_t)s->ih * iw * cin;
    for (size_t y = 0; y < used; y++) {
      const long iy = (long)(oy0 * sh + y) - s->pt;
      float *d = buf + y * iwp;
      if (iy < 0 || iy >= s->ih) {
        for (size_t ci = 0; ci < cin; ci++) memset(d + ci * cstride, 0, iwp * sizeof(float));
        continue;
      }
      /* Columns [x0, x1) of the padded row hold input columns x - pl. */
      const size_t x0 = (size_t)s->pl < iwp ? (size_t)s->pl : iwp;
      const size_t x1 = iw + (size_t)s->pl < iwp ? iw + (size_t)s->pl : iwp;
      const float *src = xb + (size_t)iy * iw * cin;
      for (size_t ci = 0; ci < cin; ci++) {
        float *dc = d + ci * cstride;
        memset(dc, 0, x0 * sizeof(float));
        memset(dc + x1, 0, (iwp - x1) * sizeof(float));
      }
      if (cin == 1) memcpy(d + x0, src, (x1 - x0) * sizeof(float));
      else
        for (size_t xx = x0; xx < x1; xx++)
          for (size_t ci = 0; ci < cin; ci++) d[ci * cstride + xx] = src[(xx - (size_t)s->pl) * cin + ci];
    }
    for (size_t r = 0; r < rows; r++) {
      float *y = c->y + ((b * (size_t)s->oh + oy0 + r) * ow) * cout;
      s->pixk->ukernel(ow, cin, (size_t)s->kh, (size_t)s->kw, cout, buf + r * sh * iwp, iwp,
                       cstride, wt, bias, y, &s->mm);
      if (s->act_loop) fused_act_apply_2d(s->act, y, ow, cout, cout);
      if (c->res)
        add_residual_2d(y, c->res + (size_t)(y - c->y), ow, cout, cout, c->mm);
    }
  }
}

/* Depthwise 3x3 over the output of a 1x1 convolution that is never stored (kernel.pre,
 * mobilenet_v2's expansions: 112x112x96 floats are 4.8 MB, written to memory and read back).
 * Tasks are output rows as in conv_dw_tasks. A thread computes the input rows its windows reach
 * fold_chunk rows per GEMM into a ring of fold_chunk + 3 rows in its slot (after the border
 * pointers), each once per contiguous range of output rows, and reads them back from L2 (a row
 * shared by two threads' ranges is computed by both). Row r of the batch (b * ih + iy) lives
 * at ring row r % (fold_chunk + 3); rows are computed in increasing order, and a chunk that
 * ends past the window's last row leaves its first row in the ring. */
static void conv_dw_fused_tasks(void *ctx, size_t slot, size_t begin, size_t end) {
  const conv_run_ctx *c = ctx;
  const conv_state *s = c->s, *p = c->pre;
  const size_t ch = (size_t)s->cout, iw = (size_t)s->iw, ih = (size_t)s->ih, pk = (size_t)p->cin;
  const size_t cap = s->fold_chunk + 3, row = iw * ch;
  char *base = c->scratch + slot * s->slot_bytes;
  const float **ptrs = (const float **)(void *)base;
  float *ring = (float *)(void *)(base + dw_ptr_bytes(s));
  const int lo = (s->pl + s->sw - 1) / s->sw;
  int hi = s->iw - 3 + s->pl >= 0 ? (s->iw - 3 + s->pl) / s->sw + 1 : 0;
  if (hi > s->ow) hi = s->ow;
  /* The last input row (batch-wide index) the range's windows reach, plus one. */
  const size_t tl = end - 1;
  long last_iy = (long)(tl % (size_t)s->oh) * s->sh - s->pt + 2;
  if (last_iy > (long)ih - 1) last_iy = (long)ih - 1;
  const size_t key_end = tl / (size_t)s->oh * ih + (size_t)(last_iy < 0 ? 0 : last_iy) + 1;
  size_t klo = 0, khi = 0; /* rows [klo, khi) computed; [max(klo, khi - cap), khi) in the ring */
  for (size_t t = begin; t < end; t++) {
    const size_t b = t / (size_t)s->oh;
    const int oy = (int)(t % (size_t)s->oh), iy0 = oy * s->sh - s->pt;
    float *y = c->y + t * (size_t)s->ow * ch;
    const int y0 = iy0 < 0 ? 0 : iy0, y1 = iy0 + 3 > s->ih ? s->ih : iy0 + 3; /* valid rows */
    if (y0 < y1) {
      const size_t kmin = b * ih + (size_t)y0, kmax = b * ih + (size_t)y1 - 1;
      if (kmin < klo || kmin > khi || kmin + cap < khi) klo = khi = kmin; /* start afresh */
      while (khi <= kmax) {
        size_t n = s->fold_chunk;
        if (n > (b + 1) * ih - khi) n = (b + 1) * ih - khi; /* this image's rows only */
        if (n > key_end - khi && key_end > kmax) n = key_end - khi;
        for (size_t done = 0; done < n;) { /* at most two pieces: the ring wraps */
          const size_t k = khi + done, at = k % cap;
          const size_t piece = n - done < cap - at ? n - done : cap - at;
          float *r = ring + at * row;
          gemm_compute(p->gemm, piece * iw, 0, ch, ch, pk, c->pre_x + k * iw * pk, pk, p->packed,
                       r, ch, &p->mm);
          if (p->act_loop) fused_act_apply(p->act, r, piece * row);
          done += piece;
        }
        khi += n;
        if (khi - klo > cap) klo = khi - cap;
      }
    }
    const float *rp[3]; /* the window's input rows, NULL where padding */
    for (int ky = 0; ky < 3; ky++) {
      const int iy = iy0 + ky;
      rp[ky] = iy < 0 || iy >= s->ih ? NULL : ring + (b * ih + (size_t)iy) % cap * row;
    }
    int x0 = s->ow, x1 = s->ow;
    if (s->dw_rows && rp[0] && rp[1] && rp[2] && lo < hi) x0 = lo, x1 = hi;
    for (int part = 0; part < 2; part++) {
      const int q0 = part ? x1 : 0, q1 = part ? s->ow : x0;
      if (q0 >= q1) continue;
      size_t i = 0;
      for (int ox = q0; ox < q1; ox++)
        for (int ky = 0; ky < 3; ky++)
          for (int kx = 0; kx < 3; kx++, i++) {
            const int ix = ox * s->sw - s->pl + kx;
            ptrs[i] = !rp[ky] || ix < 0 || ix >= s->iw ? c->zero : rp[ky] + (size_t)ix * ch;
          }
      s->dwk->ukernel(ch, (size_t)(q1 - q0), 9, ptrs, c->dw_w, c->dw_bias, y + q0 * ch, &s->mm);
    }
    if (x0 < x1) {
      const float *rows[3];
      for (int ky = 0; ky < 3; ky++) rows[ky] = rp[ky] + (size_t)(x0 * s->sw - s->pl) * ch;
      s->dw_rows(ch, (size_t)(x1 - x0), (size_t)s->sw, rows, c->dw_w, c->dw_bias, y + x0 * ch,
                 &s->mm);
    }
    if (s->act_loop) fused_act_apply(s->act, y, (size_t)s->ow * ch);
  }
}

/* Tasks are images (see wants_wrap): the padded image, one GEMM over its virtual rows (K
 * blocked by kernel row, A read in place), the real columns copied out. */
static void conv_wrap_tasks(void *ctx, size_t slot, size_t begin, size_t end) {
  const conv_run_ctx *c = ctx;
  const conv_state *s = c->s;
  const size_t cin = (size_t)s->cin, cout = (size_t)s->cout, iw = (size_t)s->iw;
  const size_t ow = (size_t)s->ow, oh = (size_t)s->oh, kw = (size_t)s->kw, kh = (size_t)s->kh;
  const size_t iwp = ow + kw - 1, ihp = oh + kh - 1, prow = iwp * cin, slack = (kw - 1) * cin;
  const size_t nr = (size_t)s->gemm->nr, mr = (size_t)s->gemm->mr, kg = (size_t)s->kg;
  const size_t span = kw * cin, panel = nr + kg * nr, m = oh * iwp;
  const gemm_minmax none = {-__builtin_inff(), __builtin_inff()};
  float *xp = (float *)(void *)(c->scratch + slot * s->slot_bytes);
  float *tmp = xp + (ihp * prow + slack + 15) / 16 * 16;
  const size_t x0 = (size_t)s->pl < iwp ? (size_t)s->pl : iwp;
  const size_t x1 = iw + (size_t)s->pl < iwp ? iw + (size_t)s->pl : iwp;
  for (size_t b = begin; b < end; b++) {
    const float *xb = c->x + b * (size_t)s->ih * iw * cin;
    for (size_t y = 0; y < ihp; y++) {
      float *d = xp + y * prow;
      const long iy = (long)y - s->pt;
      if (iy < 0 || iy >= s->ih) {
        memset(d, 0, prow * sizeof(float));
        continue;
      }
      memset(d, 0, x0 * cin * sizeof(float));
      memcpy(d + x0 * cin, xb + (size_t)iy * iw * cin + (x0 - (size_t)s->pl) * cin,
             (x1 - x0) * cin * sizeof(float));
      memset(d + x1 * cin, 0, (iwp - x1) * cin * sizeof(float));
    }
    memset(xp + ihp * prow, 0, slack * sizeof(float));
    for (size_t i = 0; i < m; i += mr) {
      const size_t rows = m - i < mr ? m - i : mr;
      for (size_t cc = 0; cc < cout; cc += nr) {
        const size_t nc = cout - cc < nr ? cout - cc : nr;
        /* K blocks are the kernel rows; a later block's w starts one packed row early (the
         * kernel skips that "bias" row), as in gemm_compute. */
        for (size_t ky = 0; ky < kh; ky++)
          s->gemm->ukernel(rows, nc, span, xp + (i + ky * iwp) * cin, cin,
                           c->packed + (cc / nr) * panel + ky * span * nr, tmp + i * cout + cc,
                           cout, ky == kh - 1 ? &s->mm : &none, ky > 0);
      }
    }
    for (size_t oy = 0; oy < oh; oy++) {
      float *y = c->y + (b * oh + oy) * ow * cout;
      memcpy(y, tmp + oy * iwp * cout, ow * cout * sizeof(float));
      if (s->act_loop) fused_act_apply_2d(s->act, y, ow, cout, cout);
    }
  }
}

static tod_status conv_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                           void *scratch, tod_threadpool *tp) {
  const conv_state *s = k->state;
  conv_run_ctx c = {s,    in[0].data, out[0].data, s->packed, scratch,
                    NULL, &s->mm,     s->dw_w,     s->dw_bias, s->zero, NULL, NULL, 0};
  if (k->post_out) {
    c.y = k->post_out->data;
    if (k->post_res) {
      c.res = k->post_res->data;
      c.mm = &s->post_mm;
    }
  }
  if (s->mode == MODE_WINOGRAD) {
    if (s->m_tiles == 1 && s->n_splits > 1 && tod_threadpool_size(tp) > 1) {
      /* One block, the threads split its columns: transform its tiles once, split too. */
      gemm_run_slots(tp, s->slots, s->wt_tiles, conv_wino_input_tasks, &c);
      c.shared_a = 1;
    }
    gemm_run_slots(tp, s->slots, s->m_tiles * s->n_splits, conv_wino_tasks, &c);
    return TOD_OK;
  }
  if (s->mode == MODE_DEPTHWISE) {
    if (s->runtime_w) {
      /* Training graphs: this step's weights as [taps][C], bias and a zero row, after the
       * slots (setup reserved the GEMM packing's size, which is larger). */
      const size_t ch = (size_t)s->cout, taps = (size_t)s->kh * s->kw;
      float *wt = (float *)(void *)((char *)scratch + s->slots * s->slot_bytes);
      float *bias = wt + taps * ch, *zero = bias + ch;
      const float *w = in[1].data;
      for (size_t i = 0; i < ch; i++)
        for (size_t t = 0; t < taps; t++) wt[t * ch + i] = w[i * taps + t];
      if (n_in > 2 && in[2].data) memcpy(bias, in[2].data, ch * sizeof(float));
      else memset(bias, 0, ch * sizeof(float));
      memset(zero, 0, ch * sizeof(float));
      c.dw_w = wt;
      c.dw_bias = bias;
      c.zero = zero;
    }
    if (CONV_HAS_FOLD && k->pre) {
      c.pre = k->pre->state;
      c.pre_x = k->pre_in[0]->data;
      gemm_run_slots(tp, s->slots, (size_t)s->n * s->oh, conv_dw_fused_tasks, &c);
    } else {
      gemm_run_slots(tp, s->slots, (size_t)s->n * s->oh, conv_dw_tasks, &c);
    }
    if (c.res)
      add_residual_2d(c.y, c.res, (size_t)s->n * s->oh * s->ow, (size_t)s->cout,
                      (size_t)s->cout, c.mm);
    return TOD_OK;
  }
  if (s->mode == MODE_IMPLICIT) {
    gemm_run_slots(tp, s->slots, (size_t)s->n * s->oh * s->n_splits, conv_implicit_tasks, &c);
    return TOD_OK;
  }
  if (CONV_HAS_PIXCONV && s->mode == MODE_PIXCONV) {
    if (s->runtime_w) {
      /* Training graphs: this step's weights, transposed after the slots. */
      float *dst = (float *)(void *)((char *)scratch + s->slots * s->slot_bytes);
      pixconv_weights(s, in[1].data, n_in > 2 && in[2].data ? in[2].data : NULL, dst);
      c.packed = dst;
    } else {
      c.packed = s->pix_w;
    }
    gemm_run_slots(tp, s->slots, (size_t)s->n * s->pix_splits, conv_pix_tasks, &c);
    return TOD_OK;
  }
  if (CONV_HAS_WRAP && s->mode == MODE_WRAP) {
    if (s->runtime_w) {
      float *dst = (float *)(void *)((char *)scratch + s->slots * s->slot_bytes);
      pack_gemm_weights(s, in[1].data, n_in > 2 && in[2].data ? in[2].data : NULL, dst);
      c.packed = dst;
    }
    gemm_run_slots(tp, s->slots, (size_t)s->n, conv_wrap_tasks, &c);
    return TOD_OK;
  }
  if (k->scale_s) {
    /* A folded channel scale: this run's weights, scaled, after the slots; x read in place. */
    float *dst = (float *)(void *)((char *)scratch + s->slots * s->slot_bytes);
    scale_packed_rows(s, k->scale_s->data, dst);
    c.packed = dst;
    c.x = k->scale_x->data;
  }
  if (s->runtime_w) {
    /* Non-constant weights (training graphs): pack them for this run after the slots. */
    float *dst = (float *)(void *)((char *)scratch + s->slots * s->slot_bytes);
    const float *bias = n_in > 2 && in[2].data ? in[2].data : NULL;
    pack_gemm_weights(s, in[1].data, bias, dst);
    c.packed = dst;
  }
  if (s->unit_split && s->mode == MODE_IM2COL && s->group == 1 && s->m_tiles == 1 &&
      tod_threadpool_size(tp) > 1) {
    /* Every thread would build the same tile for its share of the columns. */
    gemm_run_slots(tp, s->slots, s->tile_rows, conv_im2col_rows, &c);
    c.shared_a = 1;
  }
  gemm_run_slots(tp, s->slots, s->m_tiles * (size_t)s->group * s->n_splits, conv_gemm_tasks, &c);
  return TOD_OK;
}

const kernel_ops kernel_Conv2DFusion = {IR_OP_Conv2DFusion, conv_create, conv_setup, conv_run,
                                        conv_destroy};
