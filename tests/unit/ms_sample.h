/* A sample IR graph exercising every .ms feature the writer maps: constants of several dtypes
 * (KHWC conv weights, an odd-sized uint8 tensor), a per-channel quantized int8 weight with
 * clusters, an unknown-rank activation, and attributes of every kind (byte/int/long/bool
 * scalars, float, [long], [int], [float], string, Vec2D), including attributes equal to their
 * schema default and a trailing absent input. Shared by test_ms_roundtrip and
 * tests/tools/ms_write_sample. Shapes are plausible but not checked by anything. */
#ifndef TOD_TEST_MS_SAMPLE_H
#define TOD_TEST_MS_SAMPLE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "ir/ir_op.h"

static inline int ms_sample_tensor(ir_graph *g, const char *name, int dtype, int fmt, int ndim,
                                   const int64_t *dims) {
  int t = ir_add_tensor(g, name);
  if (t < 0) return -1;
  g->tensors[t].dtype = dtype;
  g->tensors[t].format = fmt;
  if (ndim >= 0) ir_tensor_set_shape(&g->tensors[t], ndim, dims);
  return t;
}

/* Builds the sample into g (initialized by the caller). Returns 0 on success. */
static inline int ms_sample_build(ir_graph *g) {
  int rc = 0;
  g->name = strdup("sample");
  g->fmk_type = 2;
  int64_t dx[] = {1, 8, 8, 3}, dw[] = {4, 3, 3, 3}, db[] = {4}, dc[] = {1, 6, 6, 4},
          dp[] = {1, 8, 8, 4}, dpad[] = {4, 2}, dfc[] = {10, 256}, dsh[] = {2}, dflat[] = {1, 256},
          dout[] = {1, 10}, du8[] = {3};
  int x = ms_sample_tensor(g, "x", IR_DT_FLOAT32, IR_FMT_NHWC, 4, dx);
  int w = ms_sample_tensor(g, "conv.weight", IR_DT_FLOAT32, IR_FMT_KHWC, 4, dw);
  int b = ms_sample_tensor(g, "conv.bias", IR_DT_FLOAT32, IR_FMT_NHWC, 1, db);
  int conv = ms_sample_tensor(g, "conv_out", IR_DT_FLOAT32, IR_FMT_NHWC, 4, dc);
  int pad = ms_sample_tensor(g, "pad_out", IR_DT_FLOAT32, IR_FMT_NHWC, 4, dp);
  int pads = ms_sample_tensor(g, "paddings", IR_DT_INT32, IR_FMT_NCHW, 2, dpad);
  int fcw = ms_sample_tensor(g, "fc.weight", IR_DT_INT8, IR_FMT_KCHW, 2, dfc);
  int shp = ms_sample_tensor(g, "shape", IR_DT_INT32, IR_FMT_NCHW, 1, dsh);
  int flat = ms_sample_tensor(g, "flat", IR_DT_FLOAT32, IR_FMT_NHWC, 2, dflat);
  int fc = ms_sample_tensor(g, "fc_out", IR_DT_FLOAT32, IR_FMT_NHWC, 2, dout);
  int d2s = ms_sample_tensor(g, "d2s_out", IR_DT_FLOAT32, IR_FMT_NHWC, -1, NULL);
  int pb = ms_sample_tensor(g, "prior_out", IR_DT_FLOAT32, IR_FMT_NHWC, -1, NULL);
  int ta = ms_sample_tensor(g, "ta_out", IR_DT_FLOAT32, IR_FMT_NHWC, -1, NULL);
  int u8 = ms_sample_tensor(g, "odd_bytes", IR_DT_UINT8, IR_FMT_NCHW, 1, du8);
  int am = ms_sample_tensor(g, "argmax_out", IR_DT_INT32, IR_FMT_NHWC, 0, NULL);
  if (am < 0) return -1;
  g->tensors[x].kind = IR_TENSOR_INPUT;

  float wd[4 * 3 * 3 * 3], bd[4] = {0.5f, -0.25f, 1e-8f, 3.0f};
  for (int i = 0; i < 108; i++) wd[i] = (float)i * 0.01f - 0.5f;
  int32_t padd[8] = {0, 0, 1, 1, 1, 1, 0, 0}, shd[2] = {1, -1};
  int8_t fcd[2560];
  for (int i = 0; i < 2560; i++) fcd[i] = (int8_t)(i * 7 - 128);
  uint8_t u8d[3] = {1, 2, 255};
  rc |= ir_tensor_set_data_copy(&g->tensors[w], wd, sizeof wd);
  rc |= ir_tensor_set_data_copy(&g->tensors[b], bd, sizeof bd);
  rc |= ir_tensor_set_data_copy(&g->tensors[pads], padd, sizeof padd);
  rc |= ir_tensor_set_data_copy(&g->tensors[fcw], fcd, sizeof fcd);
  rc |= ir_tensor_set_data_copy(&g->tensors[shp], shd, sizeof shd);
  rc |= ir_tensor_set_data_copy(&g->tensors[u8], u8d, sizeof u8d);

  ir_tensor *q = &g->tensors[fcw];
  q->n_quant = 10;
  q->quant = calloc(10, sizeof *q->quant);
  if (!q->quant) return -1;
  for (int i = 0; i < 10; i++) {
    q->quant[i].scale = 0.01 * (i + 1);
    q->quant[i].zero_point = i - 5;
    q->quant[i].min = -1.5 * i;
    q->quant[i].max = 2.25 * i;
    q->quant[i].num_bits = i == 3 ? 8 : 4;
    q->quant[i].inited = 1;
  }
  q->n_clusters = 4;
  q->clusters = malloc(4 * sizeof(float));
  if (!q->clusters) return -1;
  q->clusters[0] = -1.0f, q->clusters[1] = -0.5f, q->clusters[2] = 0.25f, q->clusters[3] = 7.0f;
  q->compress_type = 4; /* BITPACKING */

  int in0[] = {x, w, b}, out0[] = {conv};
  int n = ir_add_node(g, IR_OP_Conv2DFusion, "conv", in0, 3, out0, 1);
  if (n < 0) return -1;
  int64_t k33[] = {3, 3}, one2[] = {1, 1}, zero4[] = {0, 0, 0, 0};
  ir_node *nd = &g->nodes[n];
  rc |= ir_attr_set_int(nd, "format", IR_FMT_NHWC);
  rc |= ir_attr_set_ints(nd, "kernel_size", k33, 2);
  rc |= ir_attr_set_ints(nd, "stride", one2, 2);
  rc |= ir_attr_set_ints(nd, "dilation", one2, 2);
  rc |= ir_attr_set_int(nd, "pad_mode", 2);
  rc |= ir_attr_set_ints(nd, "pad_list", zero4, 4);
  rc |= ir_attr_set_int(nd, "group", 1);
  rc |= ir_attr_set_int(nd, "in_channel", 3);
  rc |= ir_attr_set_int(nd, "out_channel", 4);
  rc |= ir_attr_set_int(nd, "activation_type", IR_ACT_RELU);

  int in1[] = {conv, pads}, out1[] = {pad};
  if ((n = ir_add_node(g, IR_OP_PadFusion, "pad", in1, 2, out1, 1)) < 0) return -1;
  int64_t p2d[] = {0, 0, 1, 1, 1, 1, 0, 0};
  nd = &g->nodes[n];
  rc |= ir_attr_set_ints2d(nd, "paddings", p2d, 4, 2);
  rc |= ir_attr_set_int(nd, "padding_mode", 0); /* equal to the default: must still round-trip */
  rc |= ir_attr_set_float(nd, "constant_value", 1.5);

  int in2[] = {pad, shp}, out2[] = {flat};
  if (ir_add_node(g, IR_OP_Reshape, "reshape", in2, 2, out2, 1) < 0) return -1;

  int in3[] = {flat, fcw, -1}, out3[] = {fc};
  if ((n = ir_add_node(g, IR_OP_MatMulFusion, "fc", in3, 3, out3, 1)) < 0) return -1;
  nd = &g->nodes[n];
  nd->quant_type = 4; /* QUANT_WEIGHT */
  rc |= ir_attr_set_int(nd, "transpose_b", 1);
  rc |= ir_attr_set_int(nd, "activation_type", IR_ACT_NONE);

  int in4[] = {fc}, out4[] = {d2s};
  if ((n = ir_add_node(g, IR_OP_DepthToSpace, "d2s", in4, 1, out4, 1)) < 0) return -1;
  nd = &g->nodes[n];
  rc |= ir_attr_set_int(nd, "block_size", 2);
  rc |= ir_attr_set_string(nd, "mode", "DCR");

  int out5[] = {pb};
  if ((n = ir_add_node(g, IR_OP_PriorBox, "prior", in4, 1, out5, 1)) < 0) return -1;
  nd = &g->nodes[n];
  float ar[] = {1.0f, 2.0f, 0.5f};
  int64_t mins[] = {30};
  rc |= ir_attr_set_floats(nd, "aspect_ratios", ar, 3);
  rc |= ir_attr_set_ints(nd, "min_sizes", mins, 1);
  rc |= ir_attr_set_int(nd, "clip", 1);
  rc |= ir_attr_set_float(nd, "step_w", 8.0);
  rc |= ir_attr_set_float(nd, "offset", 0.5);

  int in6[] = {u8}, out6[] = {ta};
  if ((n = ir_add_node(g, IR_OP_TensorArray, "tarr", in6, 1, out6, 1)) < 0) return -1;
  nd = &g->nodes[n];
  int64_t es[] = {-1, 3};
  rc |= ir_attr_set_ints(nd, "element_shape", es, 2);
  rc |= ir_attr_set_int(nd, "data_type", IR_DT_FLOAT32);
  rc |= ir_attr_set_int(nd, "dynamic_size", 0);

  int out7[] = {am};
  if ((n = ir_add_node(g, IR_OP_ArgMaxFusion, "argmax", in4, 1, out7, 1)) < 0) return -1;
  nd = &g->nodes[n];
  rc |= ir_attr_set_int(nd, "axis", -1);
  rc |= ir_attr_set_int(nd, "top_k", 1); /* schema default 1 */
  rc |= ir_attr_set_int(nd, "keep_dims", 1);

  rc |= ir_add_input(g, x);
  rc |= ir_add_output(g, ta);
  rc |= ir_add_output(g, am);
  rc |= ir_add_output(g, d2s);
  rc |= ir_add_output(g, pb);
  return rc ? -1 : 0;
}

#endif
