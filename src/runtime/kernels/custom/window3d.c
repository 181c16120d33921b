/* 3-D convolution and pooling for Custom "Conv" / "MaxPool" / "AveragePool" on float32 NCDHW
 * (MindSpore Lite has no 3-D primitives; attrs order in src/ir/custom_ops.c). Direct loops. */
#include <math.h>

#include "ir/custom_ops.h"
#include "runtime/kernels/common/kutil.h"
#include "runtime/kernels/custom/custom.h"

tod_status custom_window3d(kernel *k, int type, const double *a, const tod_view *in, int n_in,
                           tod_view *out) {
  const tod_view *x = &in[0];
  tod_view *y = &out[0];
  if (x->dtype != IR_DT_FLOAT32 || y->dtype != IR_DT_FLOAT32 || x->ndim != 5 || y->ndim != 5)
    return kfail(k, TOD_NOT_SUPPORT, "3-D window ops need float32 5-D tensors");
  int64_t K[3], S[3], D[3], P[3], I[3], O[3];
  for (int i = 0; i < 3; i++) {
    K[i] = (int64_t)a[i], S[i] = (int64_t)a[3 + i], D[i] = (int64_t)a[6 + i], P[i] = (int64_t)a[9 + i];
    I[i] = x->dims[2 + i], O[i] = y->dims[2 + i];
  }
  const float *xd = x->data;
  float *yd = y->data;
  int64_t N = x->dims[0], C = x->dims[1], OC = y->dims[1], isz = I[0] * I[1] * I[2], osz = O[0] * O[1] * O[2];
  if (type == CUSTOM_Conv3D) {
    const tod_view *w = &in[1];
    const float *wd = w->data, *bd = n_in > 2 && in[2].ndim >= 0 ? in[2].data : NULL;
    int64_t g = (int64_t)a[15], cg = C / g, og = OC / g;
    if (w->dtype != IR_DT_FLOAT32 || w->dims[2] != K[0] || w->dims[3] != K[1] || w->dims[4] != K[2] ||
        (bd && (in[2].dtype != IR_DT_FLOAT32 || knumel(&in[2]) != OC)))
      return kfail(k, TOD_INPUT_TENSOR_ERROR, "weight/bias do not match");
    for (int64_t n = 0; n < N; n++)
      for (int64_t oc = 0; oc < OC; oc++) {
        int64_t gi = oc / og;
        for (int64_t od = 0; od < O[0]; od++)
          for (int64_t oh = 0; oh < O[1]; oh++)
            for (int64_t ow = 0; ow < O[2]; ow++) {
              double acc = bd ? bd[oc] : 0;
              for (int64_t ic = 0; ic < cg; ic++) {
                const float *xc = xd + (n * C + gi * cg + ic) * isz;
                const float *wc = wd + ((oc * cg + ic) * K[0]) * K[1] * K[2];
                for (int64_t kd = 0; kd < K[0]; kd++) {
                  int64_t id = od * S[0] - P[0] + kd * D[0];
                  if (id < 0 || id >= I[0]) continue;
                  for (int64_t kh = 0; kh < K[1]; kh++) {
                    int64_t ih = oh * S[1] - P[1] + kh * D[1];
                    if (ih < 0 || ih >= I[1]) continue;
                    for (int64_t kw = 0; kw < K[2]; kw++) {
                      int64_t iw = ow * S[2] - P[2] + kw * D[2];
                      if (iw < 0 || iw >= I[2]) continue;
                      acc += (double)xc[(id * I[1] + ih) * I[2] + iw] * wc[(kd * K[1] + kh) * K[2] + kw];
                    }
                  }
                }
              }
              yd[(n * OC + oc) * osz + (od * O[1] + oh) * O[2] + ow] = (float)acc;
            }
      }
    return TOD_OK;
  }
  int avg = type == CUSTOM_AvgPool3D, incl = avg && a[16] != 0;
  int64_t E[3]; /* end of the padded extent */
  for (int i = 0; i < 3; i++) E[i] = I[i] + (int64_t)a[12 + i];
  for (int64_t nc = 0; nc < N * C; nc++) {
    const float *xc = xd + nc * isz;
    for (int64_t od = 0; od < O[0]; od++)
      for (int64_t oh = 0; oh < O[1]; oh++)
        for (int64_t ow = 0; ow < O[2]; ow++) {
          double acc = avg ? 0 : -INFINITY;
          int64_t cnt = 0, cnt_pad = 0;
          for (int64_t kd = 0; kd < K[0]; kd++) {
            int64_t id = od * S[0] - P[0] + kd * D[0];
            for (int64_t kh = 0; kh < K[1]; kh++) {
              int64_t ih = oh * S[1] - P[1] + kh * D[1];
              for (int64_t kw = 0; kw < K[2]; kw++) {
                int64_t iw = ow * S[2] - P[2] + kw * D[2];
                if (id < E[0] && ih < E[1] && iw < E[2]) cnt_pad++;
                if (id < 0 || id >= I[0] || ih < 0 || ih >= I[1] || iw < 0 || iw >= I[2]) continue;
                double v = xc[(id * I[1] + ih) * I[2] + iw];
                cnt++;
                if (avg) acc += v;
                else if (v > acc || v != v) acc = v;
              }
            }
          }
          if (avg) acc = (incl ? cnt_pad : cnt) ? acc / (double)(incl ? cnt_pad : cnt) : 0;
          yd[nc * osz + (od * O[1] + oh) * O[2] + ow] = (float)acc;
        }
  }
  return TOD_OK;
}
