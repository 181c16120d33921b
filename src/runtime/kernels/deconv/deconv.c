/* Conv2dTransposeFusion (ONNX ConvTranspose), float32, NHWC. Weight [Cin, kh, kw, Cout/group]
 * (docs/ops.md). Per image and group, one GEMM  X_g [H*W, Cin_g] x W_g [Cin_g, kh*kw*Cout_g]
 * on the GEMM driver gives every input pixel's contribution to a kh x kw output patch; col2im
 * then adds the patches into the output, which starts from the bias. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/common/kutil.h"
#include "runtime/kernels/gemm/gemm.h"

typedef struct {
  int64_t kh, kw, sh, sw, dh, dw, pt, pl, group;
  kact act;
  const gemm_config *cfg;
  float *packed; /* per group, when the weight is a constant; else packed at run into scratch */
  size_t packed_group; /* floats per group */
  int runtime_w;
  /* setup */
  int64_t n, h, w, cin, oh, ow, cout, cin_g, cout_g, ncol;
} dc_state;

static void dc_destroy(kernel *k) {
  dc_state *s = k->state;
  if (s) free(s->packed);
  free(s);
  k->state = NULL;
}

static int pair(const ir_node *n, const char *key, int64_t dflt, int64_t *a, int64_t *b) {
  const int64_t *v;
  int cnt = ir_attr_ints(n, key, &v);
  *a = *b = dflt;
  if (cnt <= 0) return 0;
  if (cnt != 2) return -1;
  *a = v[0], *b = v[1];
  return 0;
}

static tod_status dc_create_impl(kernel *k, const ir_graph *g, const ir_node *n) {
  dc_state *s = calloc(1, sizeof *s);
  if (!s) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
  k->state = s;
  if (n->n_in < 2 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs x and w");
  const int64_t *pl;
  int npl = ir_attr_ints(n, "pad_list", &pl);
  if (pair(n, "kernel_size", 0, &s->kh, &s->kw) || pair(n, "stride", 1, &s->sh, &s->sw) ||
      pair(n, "dilation", 1, &s->dh, &s->dw) || (npl > 0 && npl != 4))
    return kfail(k, TOD_INVALID_OP_ATTR, "bad kernel_size/stride/dilation/pad_list");
  if (ir_attr_int(n, "pad_mode", 0) != 0) return kfail(k, TOD_NOT_SUPPORT, "only explicit pad_list is supported");
  s->pt = npl == 4 ? pl[0] : 0;
  s->pl = npl == 4 ? pl[2] : 0;
  s->group = ir_attr_int(n, "group", 1);
  if (s->sh < 1 || s->sw < 1 || s->dh < 1 || s->dw < 1 || s->group < 1)
    return kfail(k, TOD_INVALID_OP_ATTR, "bad stride/dilation/group");
  kact_from_node(n, &s->act);
  if (!kact_supported(s->act.type)) return kfail(k, TOD_NOT_SUPPORT, "activation %d", s->act.type);
  const ir_tensor *wt = &g->tensors[n->in[1]];
  const ir_tensor *bt = n->n_in > 2 && n->in[2] >= 0 ? &g->tensors[n->in[2]] : NULL;
  if (wt->dtype != IR_DT_FLOAT32 || (bt && bt->dtype != IR_DT_FLOAT32)) return kfail(k, TOD_NOT_SUPPORT, "only float32 is supported");
  s->runtime_w = !(wt->kind == IR_TENSOR_CONST && wt->data && wt->ndim == 4);
  if (!s->runtime_w) {
    int64_t cin = wt->dims[0], kk = wt->dims[1] * wt->dims[2], cout_g = wt->dims[3];
    if (cin % s->group || (size_t)(cin * kk * cout_g) * 4 > wt->nbytes)
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "weight does not fit group %lld", (long long)s->group);
    int64_t cin_g = cin / s->group, ncol = kk * cout_g;
    s->cfg = gemm_config_get((size_t)ncol);
    s->packed_group = gemm_packed_size(s->cfg, (size_t)cin_g, (size_t)ncol);
    s->packed = malloc(sizeof(float) * s->packed_group * (size_t)s->group);
    if (!s->packed) return kfail(k, TOD_MEMORY_FAILED, "out of memory");
    const float *w = wt->data;
    for (int64_t gi = 0; gi < s->group; gi++)
      gemm_pack_b(s->cfg, (size_t)cin_g, (size_t)ncol, w + gi * cin_g * ncol, (size_t)ncol, 0, NULL,
                  s->packed + (size_t)gi * s->packed_group);
  }
  return TOD_OK;
}
KCREATE_GUARDED(dc_create, dc_create_impl, dc_destroy)

static tod_status dc_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out, int n_out,
                           size_t *scratch) {
  dc_state *s = k->state;
  const tod_view *x = &in[0], *w = &in[1];
  if (x->dtype != IR_DT_FLOAT32 || w->dtype != IR_DT_FLOAT32 || x->ndim != 4 || w->ndim != 4 || out[0].ndim != 4)
    return kfail(k, TOD_NOT_SUPPORT, "needs float32 NHWC input and 4-D weight");
  if (w->dims[1] != s->kh || w->dims[2] != s->kw || w->dims[0] != x->dims[3] || x->dims[3] % s->group)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "weight shape does not match");
  s->n = x->dims[0], s->h = x->dims[1], s->w = x->dims[2], s->cin = x->dims[3];
  s->oh = out[0].dims[1], s->ow = out[0].dims[2], s->cout = out[0].dims[3];
  s->cin_g = s->cin / s->group;
  s->cout_g = w->dims[3];
  if (s->cout != s->cout_g * s->group) return kfail(k, TOD_INPUT_TENSOR_ERROR, "output channels do not match");
  s->ncol = s->kh * s->kw * s->cout_g;
  if (n_in > 2 && in[2].ndim >= 0 && knumel(&in[2]) != s->cout)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "bias has %lld values for %lld channels", (long long)knumel(&in[2]), (long long)s->cout);
  size_t col = (size_t)(s->h * s->w * s->ncol);
  size_t pk = 0;
  if (s->runtime_w) {
    s->cfg = gemm_config_get((size_t)s->ncol);
    s->packed_group = gemm_packed_size(s->cfg, (size_t)s->cin_g, (size_t)s->ncol);
    pk = s->packed_group;
  }
  *scratch = sizeof(float) * (col + pk + 16);
  return TOD_OK;
}

static tod_status dc_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                         void *scratch, tod_threadpool *tp) {
  const dc_state *s = k->state;
  const float *x = in[0].data, *bias = n_in > 2 && in[2].ndim >= 0 ? in[2].data : NULL;
  float *y = out[0].data, *col = scratch;
  float *wpack = col + (size_t)(s->h * s->w * s->ncol);
  gemm_minmax mm = {-INFINITY, INFINITY};
  int64_t hw = s->h * s->w, ohw = s->oh * s->ow;
  for (int64_t b = 0; b < s->n; b++) {
    float *yb = y + b * ohw * s->cout;
    for (int64_t p = 0; p < ohw; p++)
      for (int64_t c = 0; c < s->cout; c++) yb[p * s->cout + c] = bias ? bias[c] : 0.f;
    for (int64_t gi = 0; gi < s->group; gi++) {
      const float *packed = s->packed ? s->packed + (size_t)gi * s->packed_group : wpack;
      if (!s->packed) {
        const float *w = in[1].data;
        gemm_pack_b(s->cfg, (size_t)s->cin_g, (size_t)s->ncol, w + gi * s->cin_g * s->ncol, (size_t)s->ncol, 0,
                    NULL, wpack);
      }
      gemm_parallel(tp, s->cfg, (size_t)hw, (size_t)s->ncol, (size_t)s->cin_g,
                    x + b * hw * s->cin + gi * s->cin_g, (size_t)s->cin, packed, col, (size_t)s->ncol, &mm);
      /* col2im: input pixel (ih, iw), tap (ki, kj) lands on (ih*sh - pt + ki*dh, iw*sw - pl + kj*dw). */
      for (int64_t ih = 0; ih < s->h; ih++)
        for (int64_t iw = 0; iw < s->w; iw++) {
          const float *cp = col + (ih * s->w + iw) * s->ncol;
          for (int64_t ki = 0; ki < s->kh; ki++) {
            int64_t oy = ih * s->sh - s->pt + ki * s->dh;
            if (oy < 0 || oy >= s->oh) continue;
            for (int64_t kj = 0; kj < s->kw; kj++) {
              int64_t ox = iw * s->sw - s->pl + kj * s->dw;
              if (ox < 0 || ox >= s->ow) continue;
              const float *src = cp + (ki * s->kw + kj) * s->cout_g;
              float *dst = yb + (oy * s->ow + ox) * s->cout + gi * s->cout_g;
              for (int64_t c = 0; c < s->cout_g; c++) dst[c] += src[c];
            }
          }
        }
    }
  }
  if (s->act.type) kact_apply(&s->act, y, y, knumel(&out[0]));
  return TOD_OK;
}

const kernel_ops kernel_Conv2dTransposeFusion = {IR_OP_Conv2dTransposeFusion, dc_create, dc_setup, dc_run, dc_destroy};
