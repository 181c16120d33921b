/* LSTM, GRU and Custom "RNN", float32, with ONNX's inputs and gate orders (docs/ops.md):
 * X [seq, batch, in], W [dirs, G*H, in], R [dirs, G*H, H], B [dirs, 2*G*H], sequence_lens [batch],
 * initial_h [dirs, batch, H] (LSTM: initial_c, P [dirs, 3H]); an empty tensor stands for an
 * absent optional input (zeros / full length). Outputs Y [seq, dirs, batch, H], Y_h (LSTM: Y_c)
 * [dirs, batch, H]. Gates: LSTM i,o,f,c; GRU z,r,h (linear_before_reset 0); RNN tanh. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/custom_ops.h"
#include "runtime/kernels/common/kutil.h"
#include "runtime/kernels/custom/custom.h"

static float sigm(float x) { return 1.f / (1.f + expf(-x)); }

/* A present, non-empty float input i, else NULL (checked to hold n values). */
static const float *opt(const tod_view *in, int n_in, int i, int64_t n, int *bad) {
  if (i >= n_in || in[i].ndim < 0 || knumel(&in[i]) == 0) return NULL;
  if (in[i].dtype != IR_DT_FLOAT32 || knumel(&in[i]) != n) *bad = 1;
  return in[i].data;
}

tod_status rnn_compute(kernel *k, int gates, const tod_view *in, int n_in, tod_view *out, int n_out,
                       float *scratch) {
  const tod_view *x = &in[0], *w = &in[1], *r = &in[2];
  if (n_in < 3 || x->ndim != 3 || w->ndim != 3 || r->ndim != 3 || x->dtype != IR_DT_FLOAT32 ||
      w->dtype != IR_DT_FLOAT32 || r->dtype != IR_DT_FLOAT32)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs float32 X, W, R of rank 3");
  int64_t S = x->dims[0], Bn = x->dims[1], I = x->dims[2], D = w->dims[0], H = r->dims[2], GH = gates * H;
  if (w->dims[1] != GH || w->dims[2] != I || r->dims[0] != D || r->dims[1] != GH || D < 1 || D > 2)
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "W/R shapes do not match");
  int bad = 0, lstm = gates == 4;
  const float *B = opt(in, n_in, 3, D * 2 * GH, &bad), *h0 = opt(in, n_in, 5, D * Bn * H, &bad);
  const float *c0 = lstm ? opt(in, n_in, 6, D * Bn * H, &bad) : NULL, *P = lstm ? opt(in, n_in, 7, D * 3 * H, &bad) : NULL;
  if (bad) return kfail(k, TOD_INPUT_TENSOR_ERROR, "optional input of the wrong size or dtype");
  const tod_view *sl = n_in > 4 && in[4].ndim >= 0 && knumel(&in[4]) ? &in[4] : NULL;
  if (sl && (knumel(sl) != Bn || (sl->dtype != IR_DT_INT32 && sl->dtype != IR_DT_INT64)))
    return kfail(k, TOD_INPUT_TENSOR_ERROR, "sequence_lens must be int32/int64 [batch]");
  float *Y = n_out > 0 && out[0].data ? out[0].data : NULL;
  float *Yh = n_out > 1 ? out[1].data : NULL, *Yc = lstm && n_out > 2 ? out[2].data : NULL;
  float *h = scratch, *c = h + H, *g = c + H, *hr = g + GH;
  if (Y) memset(Y, 0, sizeof(float) * (size_t)(S * D * Bn * H));
  for (int64_t d = 0; d < D; d++)
    for (int64_t b = 0; b < Bn; b++) {
      int64_t len = S;
      if (sl) {
        len = sl->dtype == IR_DT_INT32 ? ((const int32_t *)sl->data)[b] : ((const int64_t *)sl->data)[b];
        if (len < 0 || len > S) return kfail(k, TOD_INPUT_TENSOR_ERROR, "sequence length %lld out of [0, %lld]", (long long)len, (long long)S);
      }
      for (int64_t j = 0; j < H; j++) {
        h[j] = h0 ? h0[(d * Bn + b) * H + j] : 0.f;
        c[j] = c0 ? c0[(d * Bn + b) * H + j] : 0.f;
      }
      const float *Wd = (const float *)w->data + d * GH * I, *Rd = (const float *)r->data + d * GH * H;
      const float *Wb = B ? B + d * 2 * GH : NULL, *Rb = B ? Wb + GH : NULL, *Pd = P ? P + d * 3 * H : NULL;
      for (int64_t step = 0; step < len; step++) {
        int64_t t = d == 1 ? len - 1 - step : step;
        const float *xt = (const float *)x->data + (t * Bn + b) * I;
        for (int64_t q = 0; q < GH; q++) {
          double acc = Wb ? (double)Wb[q] + Rb[q] : 0;
          for (int64_t i = 0; i < I; i++) acc += (double)xt[i] * Wd[q * I + i];
          /* GRU's candidate gate multiplies R by r*h, done below */
          if (!(gates == 3 && q >= 2 * H))
            for (int64_t i = 0; i < H; i++) acc += (double)h[i] * Rd[q * H + i];
          g[q] = (float)acc;
        }
        if (gates == 1) {
          for (int64_t j = 0; j < H; j++) h[j] = tanhf(g[j]);
        } else if (gates == 3) {
          for (int64_t j = 0; j < H; j++) hr[j] = sigm(g[H + j]) * h[j];
          for (int64_t j = 0; j < H; j++) {
            double acc = g[2 * H + j];
            for (int64_t i = 0; i < H; i++) acc += (double)hr[i] * Rd[(2 * H + j) * H + i];
            float z = sigm(g[j]), hh = tanhf((float)acc);
            g[2 * H + j] = (1.f - z) * hh + z * h[j];
          }
          for (int64_t j = 0; j < H; j++) h[j] = g[2 * H + j];
        } else {
          for (int64_t j = 0; j < H; j++) {
            float ig = sigm(g[j] + (Pd ? Pd[j] * c[j] : 0.f));
            float fg = sigm(g[2 * H + j] + (Pd ? Pd[2 * H + j] * c[j] : 0.f));
            float cc = tanhf(g[3 * H + j]);
            c[j] = fg * c[j] + ig * cc;
            float og = sigm(g[H + j] + (Pd ? Pd[H + j] * c[j] : 0.f));
            h[j] = og * tanhf(c[j]);
          }
        }
        if (Y) memcpy(Y + ((t * D + d) * Bn + b) * H, h, sizeof(float) * (size_t)H);
      }
      if (Yh) memcpy(Yh + (d * Bn + b) * H, h, sizeof(float) * (size_t)H);
      if (Yc) memcpy(Yc + (d * Bn + b) * H, c, sizeof(float) * (size_t)H);
    }
  return TOD_OK;
}

static tod_status rn_create(kernel *k, const ir_graph *g, const ir_node *n) {
  (void)g;
  if (n->n_in < 3 || n->n_out < 1) return kfail(k, TOD_INPUT_TENSOR_ERROR, "needs X, W, R");
  return TOD_OK;
}

static tod_status rn_setup(kernel *k, const tod_view *in, int n_in, const tod_view *out, int n_out,
                           size_t *scratch) {
  if (n_in < 3 || in[2].ndim != 3) return kfail(k, TOD_INPUT_TENSOR_ERROR, "R must be 3-D");
  *scratch = sizeof(float) * (size_t)(8 * in[2].dims[1] + 16);
  return TOD_OK;
}

static tod_status rn_run(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                         void *scratch, tod_threadpool *tp) {
  return rnn_compute(k, k->node->op == IR_OP_LSTM ? 4 : 3, in, n_in, out, n_out, scratch);
}

const kernel_ops kernel_LSTM = {IR_OP_LSTM, rn_create, rn_setup, rn_run, NULL};
const kernel_ops kernel_GRU = {IR_OP_GRU, rn_create, rn_setup, rn_run, NULL};
