/* MaxPoolFusion and AvgPoolFusion, float32 NHWC, ONNX/PyTorch semantics: explicit pads
 * [t,b,l,r], SAME_UPPER or VALID; floor or ceil rounding, where with ceil a window that would
 * start in the bottom/right padding is dropped; average excludes padding from the divisor;
 * global pools over the whole H x W. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime/kernels/fast_kernels.h"
#include "runtime/kernels/gemm/fused_act.h"
#include "runtime/kernels/pool/pool.h"

typedef struct {
  int is_max;
  int kh, kw, sh, sw, pad_mode, round_mode, global, act, act_loop;
  int64_t pads[4];
  gemm_minmax mm;
  const pool_config *cfg;
  /* per shape */
  int n, ih, iw, c, oh, ow, pt, pl, ekh, ekw;
  size_t slots, slot_bytes;
  size_t parts; /* global average over many pixels: pixel ranges summed by separate tasks */
} pool_state;

/* Values of a global average pool worth a task of their own. An SE block's pool over a whole
 * map was one task: one thread summed it while the other waited, reading the half of the map
 * the other core had produced (and kept in its cache) through the shared cache, so on two
 * threads it ran 1.5-4x slower than on one. Split by pixel ranges, each thread sums about the
 * rows it produced (the producers split rows in the same order). */
#define GLOBAL_PART_VALUES 16384

static int64_t attr_pair(const ir_node *n, const char *key, int idx, int64_t dflt) {
  const int64_t *v;
  int cnt = ir_attr_ints(n, key, &v);
  if (cnt == 1) return v[0];
  return cnt > idx ? v[idx] : dflt;
}

static void pool_destroy(kernel *k) {
  free(k->state);
  k->state = NULL;
}

static tod_status pool_create(kernel *k, const ir_graph *g, const ir_node *n, int is_max) {
  const char *name = is_max ? "MaxPoolFusion" : "AvgPoolFusion";
  if (n->n_in < 1 || n->n_out < 1 || n->in[0] < 0) {
    snprintf(k->err, sizeof k->err, "%s: needs an input", name);
    return TOD_INPUT_TENSOR_ERROR;
  }
  if (g->tensors[n->in[0]].dtype != IR_DT_FLOAT32) {
    snprintf(k->err, sizeof k->err, "%s: only float32 is supported", name);
    return TOD_NOT_SUPPORT;
  }
  pool_state *s = calloc(1, sizeof *s);
  if (!s) return TOD_MEMORY_FAILED;
  k->state = s;
  s->is_max = is_max;
  s->kh = (int)attr_pair(n, "kernel_size", 0, 1);
  s->kw = (int)attr_pair(n, "kernel_size", 1, 1);
  s->sh = (int)attr_pair(n, "strides", 0, 1);
  s->sw = (int)attr_pair(n, "strides", 1, 1);
  s->pad_mode = (int)ir_attr_int(n, "pad_mode", 0);
  s->round_mode = (int)ir_attr_int(n, "round_mode", 0);
  s->global = ir_attr_int(n, "global", 0) != 0;
  s->act = (int)ir_attr_int(n, "activation_type", 0);
  const int64_t *pd;
  int np = ir_attr_ints(n, "pad", &pd);
  for (int i = 0; i < 4; i++) s->pads[i] = np == 4 ? pd[i] : 0;
  if ((!s->global && (s->kh <= 0 || s->kw <= 0 || s->sh <= 0 || s->sw <= 0)) ||
      s->pad_mode < 0 || s->pad_mode > 2 || (np != 0 && np != 4) || s->pads[0] < 0 ||
      s->pads[1] < 0 || s->pads[2] < 0 || s->pads[3] < 0) {
    snprintf(k->err, sizeof k->err, "%s: invalid kernel_size/strides/pad", name);
    pool_destroy(k);
    return TOD_INVALID_OP_ATTR;
  }
  tod_status st = fused_act_init(s->act, &s->mm, &s->act_loop);
  if (st != TOD_OK) {
    snprintf(k->err, sizeof k->err, "%s: activation %d not supported", name, s->act);
    pool_destroy(k);
    return st;
  }
  s->cfg = pool_config_get();
  return TOD_OK;
}

static tod_status maxpool_create(kernel *k, const ir_graph *g, const ir_node *n) {
  return pool_create(k, g, n, 1);
}

static tod_status avgpool_create(kernel *k, const ir_graph *g, const ir_node *n) {
  return pool_create(k, g, n, 0);
}

/* Output length of one spatial axis (ONNX / PyTorch rules). */
static int pool_out_len(int in, int k, int s, int p0, int p1, int ceil_mode) {
  const int span = in + p0 + p1 - k;
  if (span < 0) return 0;
  int out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  /* The last window must start inside the input or its leading padding. */
  if (ceil_mode && (out - 1) * s >= in + p0) out--;
  return out;
}

static tod_status pool_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out,
                             int n_out, size_t *scratch) {
  pool_state *s = k->state;
  const char *name = s->is_max ? "MaxPoolFusion" : "AvgPoolFusion";
  *scratch = 0;
  if (n_in < 1 || n_out < 1 || in[0].ndim != 4 || out[0].ndim != 4) {
    snprintf(k->err, sizeof k->err, "%s: input and output must be 4-D NHWC", name);
    return TOD_INPUT_TENSOR_ERROR;
  }
  if (in[0].dtype != IR_DT_FLOAT32 || out[0].dtype != IR_DT_FLOAT32) {
    snprintf(k->err, sizeof k->err, "%s: only float32 is supported", name);
    return TOD_NOT_SUPPORT;
  }
  s->n = (int)in[0].dims[0];
  s->ih = (int)in[0].dims[1];
  s->iw = (int)in[0].dims[2];
  s->c = (int)in[0].dims[3];
  int kh = s->kh, kw = s->kw, sh = s->sh, sw = s->sw, pt, pb, pl, pr, oh, ow;
  if (s->global) {
    kh = s->ih;
    kw = s->iw;
    sh = sw = 1;
    pt = pb = pl = pr = 0;
    oh = ow = 1;
  } else if (s->pad_mode == 1) { /* SAME_UPPER */
    oh = (s->ih + sh - 1) / sh;
    ow = (s->iw + sw - 1) / sw;
    int th = (oh - 1) * sh + kh - s->ih, tw = (ow - 1) * sw + kw - s->iw;
    th = th < 0 ? 0 : th;
    tw = tw < 0 ? 0 : tw;
    pt = th / 2;
    pb = th - pt;
    pl = tw / 2;
    pr = tw - pl;
  } else {
    if (s->pad_mode == 2) {
      pt = pb = pl = pr = 0;
    } else {
      pt = (int)s->pads[0];
      pb = (int)s->pads[1];
      pl = (int)s->pads[2];
      pr = (int)s->pads[3];
    }
    oh = pool_out_len(s->ih, kh, sh, pt, pb, s->round_mode == 1);
    ow = pool_out_len(s->iw, kw, sw, pl, pr, s->round_mode == 1);
  }
  if (out[0].dims[0] != s->n || out[0].dims[1] != oh || out[0].dims[2] != ow ||
      out[0].dims[3] != s->c) {
    snprintf(k->err, sizeof k->err,
             "%s: output [%lld,%lld,%lld,%lld] does not match the computed [%d,%d,%d,%d]", name,
             (long long)out[0].dims[0], (long long)out[0].dims[1], (long long)out[0].dims[2],
             (long long)out[0].dims[3], s->n, oh, ow, s->c);
    return TOD_INPUT_TENSOR_ERROR;
  }
  s->oh = oh;
  s->ow = ow;
  s->pt = pt;
  s->pl = pl;
  s->ekh = kh;
  s->ekw = kw;
  s->sh = sh;
  s->sw = sw;
  s->slots = gemm_scratch_slots();
  s->slot_bytes = ((size_t)kh * kw * sizeof(float *) + 63) / 64 * 64;
  *scratch = s->slots * s->slot_bytes;
  s->parts = 1;
  if (s->global && !s->is_max && s->slots > 1) {
    const size_t pixels = (size_t)kh * (size_t)kw;
    const size_t want = pixels >= 2 ? pixels * (size_t)s->c / GLOBAL_PART_VALUES : 1;
    s->parts = want < s->slots ? want : s->slots;
    if (s->parts < 1) s->parts = 1;
  }
  if (s->parts > 1) *scratch += s->parts * (size_t)s->n * (size_t)s->c * sizeof(float);
  return TOD_OK;
}

typedef struct {
  const pool_state *s;
  const float *x;
  float *y;
  char *scratch;
} pool_ctx;

/* Tasks are output rows (batch, oy). */
static void pool_rows(void *ctx, size_t slot, size_t begin, size_t end) {
  const pool_ctx *pc = ctx;
  const pool_state *s = pc->s;
  const size_t ch = (size_t)s->c;
  const float **ptrs = (const float **)(void *)(pc->scratch + slot * s->slot_bytes);
  for (size_t t = begin; t < end; t++) {
    const int b = (int)(t / (size_t)s->oh), oy = (int)(t % (size_t)s->oh);
    const float *xb = pc->x + (size_t)b * s->ih * s->iw * ch;
    float *y = pc->y + t * (size_t)s->ow * ch;
    int y0 = oy * s->sh - s->pt, y1 = y0 + s->ekh;
    y0 = y0 < 0 ? 0 : y0;
    y1 = y1 > s->ih ? s->ih : y1;
    for (int ox = 0; ox < s->ow; ox++, y += ch) {
      int x0 = ox * s->sw - s->pl, x1 = x0 + s->ekw;
      x0 = x0 < 0 ? 0 : x0;
      x1 = x1 > s->iw ? s->iw : x1;
      size_t taps = 0;
      for (int iy = y0; iy < y1; iy++)
        for (int ix = x0; ix < x1; ix++) ptrs[taps++] = xb + ((size_t)iy * s->iw + ix) * ch;
      if (taps == 0) { /* window entirely in padding (pads >= kernel): no input to pool */
        for (size_t c = 0; c < ch; c++) y[c] = 0.0f;
      } else if (s->is_max) {
        s->cfg->max(ch, taps, ptrs, y, &s->mm);
      } else {
        s->cfg->avg(ch, taps, ptrs, 1.0f / (float)taps, y, &s->mm);
      }
      if (s->act_loop) fused_act_apply(s->act, y, ch);
    }
  }
}

/* Global average, split: task (b, part) sums part's range of image b's pixels into
 * partials[part][b][c] (the float after the slots' pointer arrays). */
static void pool_global_parts(void *ctx, size_t slot, size_t begin, size_t end) {
  const pool_ctx *pc = ctx;
  const pool_state *s = pc->s;
  const size_t ch = (size_t)s->c, pixels = (size_t)s->ih * (size_t)s->iw;
  const float **ptrs = (const float **)(void *)(pc->scratch + slot * s->slot_bytes);
  float *partials = (float *)(void *)(pc->scratch + s->slots * s->slot_bytes);
  const gemm_minmax none = {-INFINITY, INFINITY};
  for (size_t t = begin; t < end; t++) {
    const size_t b = t / s->parts, part = t % s->parts;
    const size_t p0 = pixels * part / s->parts, p1 = pixels * (part + 1) / s->parts;
    const float *xb = pc->x + b * pixels * ch;
    for (size_t p = p0; p < p1; p++) ptrs[p - p0] = xb + p * ch;
    s->cfg->avg(ch, p1 - p0, ptrs, 1.0f, partials + (part * (size_t)s->n + b) * ch, &none);
  }
}

static tod_status pool_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                           void *scratch, tod_threadpool *tp) {
  const pool_state *s = k->state;
  pool_ctx pc = {s, in[0].data, out[0].data, scratch};
  if (s->parts > 1) {
    gemm_run_slots(tp, s->slots, (size_t)s->n * s->parts, pool_global_parts, &pc);
    const float *partials = (const float *)(const void *)((char *)scratch + s->slots * s->slot_bytes);
    const size_t ch = (size_t)s->c;
    const float inv = 1.0f / (float)((size_t)s->ih * (size_t)s->iw);
    for (size_t b = 0; b < (size_t)s->n; b++) {
      float *y = pc.y + b * ch;
      for (size_t c = 0; c < ch; c++) {
        float sum = 0.0f;
        for (size_t part = 0; part < s->parts; part++) sum += partials[(part * (size_t)s->n + b) * ch + c];
        const float v = sum * inv;
        y[c] = v < s->mm.min ? s->mm.min : v > s->mm.max ? s->mm.max : v;
      }
      if (s->act_loop) fused_act_apply(s->act, y, ch);
    }
    return TOD_OK;
  }
  gemm_run_slots(tp, s->slots, (size_t)s->n * s->oh, pool_rows, &pc);
  return TOD_OK;
}

const kernel_ops kernel_MaxPoolFusion = {IR_OP_MaxPoolFusion, maxpool_create, pool_setup,
                                         pool_run, pool_destroy};
const kernel_ops kernel_AvgPoolFusion = {IR_OP_AvgPoolFusion, avgpool_create, pool_setup,
                                         pool_run, pool_destroy};
