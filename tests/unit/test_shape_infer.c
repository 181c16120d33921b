/* Shape inference, hand-checked: convolution and pooling sizes (explicit pads, SAME_UPPER,
 * VALID, dilation, ceil mode with the ONNX rule that drops a window starting in the end
 * padding), matmul broadcasting, numpy broadcasting, Reshape 0/-1, value-dependent ops and the
 * errors bad models must produce. */
#include <stdio.h>
#include <string.h>

#include "ir/ir.h"
#include "ir/ir_op.h"
#include "ir/shape.h"

static int failures;

#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (!(cond)) {                                         \
      failures++;                                          \
      printf("FAIL %s:%d: ", __FILE__, __LINE__);          \
      printf(__VA_ARGS__);                                 \
      printf("\n");                                        \
    }                                                      \
  } while (0)

static tod_view V(int dtype, int ndim, const int64_t *dims, void *data) {
  tod_view v;
  memset(&v, 0, sizeof v);
  v.dtype = dtype;
  v.ndim = ndim;
  for (int i = 0; i < ndim; i++) v.dims[i] = dims[i];
  v.data = data;
  return v;
}
#define F32(...) V(IR_DT_FLOAT32, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}, NULL)

/* A fresh node of op with no attributes, in a throwaway graph. */
static ir_graph g;
static ir_node *node(int op, int n_in, int n_out) {
  ir_graph_free(&g);
  ir_graph_init(&g);
  int in[8], out[8];
  for (int i = 0; i < n_in; i++) in[i] = ir_add_tensor(&g, "i");
  for (int i = 0; i < n_out; i++) out[i] = ir_add_tensor(&g, "o");
  int k = ir_add_node(&g, op, "n", in, n_in, out, n_out);
  return &g.nodes[k];
}

static tod_status infer(ir_node *n, tod_view *in, int n_in, tod_view *out, int n_out) {
  char err[256];
  for (int i = 0; i < n_out; i++) memset(&out[i], 0, sizeof out[i]), out[i].ndim = -1;
  tod_status st = ir_infer_node(n, in, n_in, out, n_out, err, sizeof err);
  if (st != TOD_OK && err[0] == 0) {
    failures++;
    printf("FAIL: error %d without a message\n", st);
  }
  return st;
}

static int dims_are(const tod_view *v, int ndim, const int64_t *d) {
  if (v->ndim != ndim) return 0;
  for (int i = 0; i < ndim; i++)
    if (v->dims[i] != d[i]) return 0;
  return 1;
}
#define EXPECT_DIMS(v, ...)                                                                      \
  CHECK(dims_are(&(v), (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)),                \
                 (int64_t[]){__VA_ARGS__}),                                                      \
        "dims [%lld,%lld,%lld,%lld] rank %d", (long long)(v).dims[0], (long long)(v).dims[1],    \
        (long long)(v).dims[2], (long long)(v).dims[3], (v).ndim)

static void test_conv_output_sizes(void) {
  tod_view in[3], out[1];
  ir_node *n = node(IR_OP_Conv2DFusion, 2, 1);
  ir_attr_set_ints(n, "stride", (int64_t[]){2, 2}, 2);
  ir_attr_set_ints(n, "pad_list", (int64_t[]){3, 3, 3, 3}, 4);
  in[0] = F32(1, 224, 224, 3), in[1] = F32(64, 7, 7, 3);
  CHECK(infer(n, in, 2, out, 1) == TOD_OK, "resnet stem");
  EXPECT_DIMS(out[0], 1, 112, 112, 64);

  n = node(IR_OP_Conv2DFusion, 2, 1);
  ir_attr_set_ints(n, "stride", (int64_t[]){2, 2}, 2);
  ir_attr_set_int(n, "pad_mode", 1);
  in[0] = F32(1, 15, 15, 8), in[1] = F32(16, 3, 3, 8);
  CHECK(infer(n, in, 2, out, 1) == TOD_OK, "same");
  EXPECT_DIMS(out[0], 1, 8, 8, 16); /* ceil(15/2) */

  n = node(IR_OP_Conv2DFusion, 3, 1);
  ir_attr_set_ints(n, "dilation", (int64_t[]){2, 2}, 2);
  ir_attr_set_int(n, "pad_mode", 2);
  ir_attr_set_int(n, "group", 4);
  in[0] = F32(1, 10, 10, 4), in[1] = F32(4, 3, 3, 1), in[2] = F32(4);
  CHECK(infer(n, in, 3, out, 1) == TOD_OK, "depthwise dilated valid");
  EXPECT_DIMS(out[0], 1, 6, 6, 4); /* effective kernel 5 */

  n = node(IR_OP_Conv2DFusion, 2, 1);
  ir_attr_set_ints(n, "pad_list", (int64_t[]){1, 0, 0, 2}, 4);
  ir_attr_set_ints(n, "stride", (int64_t[]){1, 3}, 2);
  in[0] = F32(2, 5, 9, 3), in[1] = F32(6, 3, 2, 3);
  CHECK(infer(n, in, 2, out, 1) == TOD_OK, "asymmetric");
  EXPECT_DIMS(out[0], 2, 4, 4, 6); /* (5+1-3)+1, (9+2-2)/3+1 */

  n = node(IR_OP_Conv2DFusion, 2, 1);
  in[0] = F32(1, 8, 8, 5), in[1] = F32(6, 3, 3, 3);
  CHECK(infer(n, in, 2, out, 1) == TOD_INFER_ERR, "channel mismatch must fail");
  n = node(IR_OP_Conv2DFusion, 2, 1);
  in[0] = F32(1, 2, 2, 3), in[1] = F32(6, 3, 3, 3);
  CHECK(infer(n, in, 2, out, 1) == TOD_INFER_ERR, "kernel larger than input must fail");
  n = node(IR_OP_Conv2DFusion, 2, 1);
  in[0] = F32(1, 8, 8, 3), in[1] = F32(6, 3, 3, 3);
  ir_attr_set_ints(n, "stride", (int64_t[]){0, 1}, 2);
  CHECK(infer(n, in, 2, out, 1) == TOD_INFER_ERR, "zero stride must fail");
  n = node(IR_OP_Conv2DFusion, 2, 1);
  in[0] = F32(-1, 8, 8, 3), in[1] = F32(6, 3, 3, 3);
  CHECK(infer(n, in, 2, out, 1) == TOD_OK, "unknown batch");
  EXPECT_DIMS(out[0], -1, 6, 6, 6);
}

static void test_pool_output_sizes(void) {
  tod_view in[1], out[1];
  ir_node *n = node(IR_OP_MaxPoolFusion, 1, 1);
  ir_attr_set_ints(n, "kernel_size", (int64_t[]){3, 3}, 2);
  ir_attr_set_ints(n, "strides", (int64_t[]){2, 2}, 2);
  ir_attr_set_ints(n, "pad", (int64_t[]){1, 1, 1, 1}, 4);
  in[0] = F32(1, 112, 112, 64);
  CHECK(infer(n, in, 1, out, 1) == TOD_OK, "resnet maxpool");
  EXPECT_DIMS(out[0], 1, 56, 56, 64);

  /* Ceil mode: H=5, k=2, s=2, pads 1/1 -> ceil(5/2)+1 = 4 windows, but the 4th would start at
   * padded index 6 = H + pad_begin, inside the end padding: dropped, as PyTorch gives 3. */
  n = node(IR_OP_MaxPoolFusion, 1, 1);
  ir_attr_set_ints(n, "kernel_size", (int64_t[]){2, 2}, 2);
  ir_attr_set_ints(n, "strides", (int64_t[]){2, 2}, 2);
  ir_attr_set_ints(n, "pad", (int64_t[]){1, 1, 0, 0}, 4);
  ir_attr_set_int(n, "round_mode", 1);
  in[0] = F32(1, 5, 5, 1);
  CHECK(infer(n, in, 1, out, 1) == TOD_OK, "ceil drop");
  EXPECT_DIMS(out[0], 1, 3, 3, 1); /* W: no pads, ceil(3/2)+1 = 3 */

  n = node(IR_OP_AvgPoolFusion, 1, 1);
  ir_attr_set_ints(n, "kernel_size", (int64_t[]){3, 3}, 2);
  ir_attr_set_ints(n, "strides", (int64_t[]){2, 2}, 2);
  ir_attr_set_int(n, "round_mode", 1);
  in[0] = F32(1, 6, 8, 2);
  CHECK(infer(n, in, 1, out, 1) == TOD_OK, "ceil keep");
  EXPECT_DIMS(out[0], 1, 3, 4, 2); /* ceil(3/2)+1 = 3, ceil(5/2)+1 = 4 */

  ir_attr_set_int(n, "round_mode", 0);
  CHECK(infer(n, in, 1, out, 1) == TOD_OK, "floor");
  EXPECT_DIMS(out[0], 1, 2, 3, 2);

  ir_attr_set_int(n, "pad_mode", 1);
  in[0] = F32(1, 7, 8, 2);
  CHECK(infer(n, in, 1, out, 1) == TOD_OK, "same upper");
  EXPECT_DIMS(out[0], 1, 4, 4, 2);

  ir_attr_set_int(n, "pad_mode", 2);
  CHECK(infer(n, in, 1, out, 1) == TOD_OK, "valid");
  EXPECT_DIMS(out[0], 1, 3, 3, 2);

  ir_attr_set_int(n, "global", 1);
  in[0] = F32(4, 7, 7, 512);
  CHECK(infer(n, in, 1, out, 1) == TOD_OK, "global");
  EXPECT_DIMS(out[0], 4, 1, 1, 512);

  n = node(IR_OP_MaxPoolFusion, 1, 1);
  ir_attr_set_ints(n, "kernel_size", (int64_t[]){9, 9}, 2);
  in[0] = F32(1, 5, 5, 1);
  CHECK(infer(n, in, 1, out, 1) == TOD_INFER_ERR, "kernel too large must fail");
  n = node(IR_OP_MaxPoolFusion, 1, 1);
  in[0] = F32(1, 5, 5);
  CHECK(infer(n, in, 1, out, 1) == TOD_INFER_ERR, "rank 3 must fail");
}

static void test_matmul_and_broadcast(void) {
  tod_view in[3], out[1];
  ir_node *n = node(IR_OP_MatMulFusion, 2, 1);
  in[0] = F32(2, 1, 3, 4), in[1] = F32(5, 4, 6);
  CHECK(infer(n, in, 2, out, 1) == TOD_OK, "batched");
  EXPECT_DIMS(out[0], 2, 5, 3, 6);
  ir_attr_set_int(n, "transpose_b", 1);
  in[1] = F32(10, 4);
  CHECK(infer(n, in, 2, out, 1) == TOD_OK, "transpose_b");
  EXPECT_DIMS(out[0], 2, 1, 3, 10);
  n = node(IR_OP_MatMulFusion, 2, 1);
  in[0] = F32(4), in[1] = F32(3, 4, 5);
  CHECK(infer(n, in, 2, out, 1) == TOD_OK, "1-D a");
  EXPECT_DIMS(out[0], 3, 5);
  in[0] = F32(3, 7), in[1] = F32(4, 5);
  CHECK(infer(n, in, 2, out, 1) == TOD_INFER_ERR, "K mismatch must fail");

  n = node(IR_OP_AddFusion, 2, 1);
  in[0] = F32(2, 1, 4), in[1] = F32(3, 1);
  CHECK(infer(n, in, 2, out, 1) == TOD_OK, "broadcast");
  EXPECT_DIMS(out[0], 2, 3, 4);
  in[0] = F32(2, 3), in[1] = F32(4);
  CHECK(infer(n, in, 2, out, 1) == TOD_INFER_ERR, "bad broadcast must fail");
  in[0] = F32(-1, 3), in[1] = F32(1, 3);
  CHECK(infer(n, in, 2, out, 1) == TOD_OK, "unknown dim");
  EXPECT_DIMS(out[0], -1, 3);
  n = node(IR_OP_Less, 2, 1);
  in[0] = F32(3), in[1] = F32();
  CHECK(infer(n, in, 2, out, 1) == TOD_OK && out[0].dtype == IR_DT_BOOL, "compare gives bool");
}

static void test_reshape_and_values(void) {
  tod_view in[4], out[4];
  int64_t shp[3] = {0, -1, 2};
  ir_node *n = node(IR_OP_Reshape, 2, 1);
  in[0] = F32(2, 3, 4);
  in[1] = V(IR_DT_INT64, 1, (int64_t[]){3}, shp);
  CHECK(infer(n, in, 2, out, 1) == TOD_OK, "reshape 0 -1");
  EXPECT_DIMS(out[0], 2, 6, 2);
  int32_t s2[2] = {-1, -1};
  in[1] = V(IR_DT_INT32, 1, (int64_t[]){2}, s2);
  CHECK(infer(n, in, 2, out, 1) == TOD_INFER_ERR, "two -1 must fail");
  int32_t s3[2] = {5, -1};
  in[1] = V(IR_DT_INT32, 1, (int64_t[]){2}, s3);
  CHECK(infer(n, in, 2, out, 1) == TOD_INFER_ERR, "indivisible must fail");
  int32_t s4[2] = {0, -7};
  in[1] = V(IR_DT_INT32, 1, (int64_t[]){2}, s4);
  CHECK(infer(n, in, 2, out, 1) == TOD_INFER_ERR, "negative must fail");
  in[1] = V(IR_DT_INT32, 1, (int64_t[]){2}, NULL);
  CHECK(infer(n, in, 2, out, 1) == TOD_INFER_INVALID, "unknown value is INFER_INVALID");

  n = node(IR_OP_Flatten, 1, 1);
  in[0] = F32(2, 3, 4, 5);
  CHECK(infer(n, in, 1, out, 1) == TOD_OK, "flatten");
  EXPECT_DIMS(out[0], 2, 60);

  n = node(IR_OP_Transpose, 2, 1);
  int32_t perm[4] = {0, 2, 3, 1};
  in[1] = V(IR_DT_INT32, 1, (int64_t[]){4}, perm);
  CHECK(infer(n, in, 2, out, 1) == TOD_OK, "transpose");
  EXPECT_DIMS(out[0], 2, 4, 5, 3);
  perm[1] = 7;
  CHECK(infer(n, in, 2, out, 1) == TOD_INFER_ERR, "perm out of range must fail");

  n = node(IR_OP_Gather, 3, 1);
  int64_t axis = 1;
  in[1] = V(IR_DT_INT64, 2, (int64_t[]){2, 2}, NULL);
  in[2] = V(IR_DT_INT64, 0, NULL, &axis);
  CHECK(infer(n, in, 3, out, 1) == TOD_OK, "gather without index values");
  EXPECT_DIMS(out[0], 2, 2, 2, 4, 5);

  n = node(IR_OP_Shape, 1, 1);
  CHECK(infer(n, in, 1, out, 1) == TOD_OK && out[0].dtype == IR_DT_INT32, "shape int32");
  EXPECT_DIMS(out[0], 4);
  CHECK(ir_is_shape_computation(n, in, 1, out, 1), "Shape of a known shape is eager");
  in[0] = F32(-1, 3);
  CHECK(!ir_is_shape_computation(n, in, 1, out, 1), "Shape of an unknown shape is not");

  n = node(IR_OP_Split, 1, 3);
  ir_attr_set_int(n, "axis", -1);
  ir_attr_set_ints(n, "size_splits", (int64_t[]){1, -1, 2}, 3);
  in[0] = F32(2, 10);
  CHECK(infer(n, in, 1, out, 3) == TOD_OK, "split");
  EXPECT_DIMS(out[1], 2, 7);

  n = node(IR_OP_StridedSlice, 4, 1);
  int64_t b[2] = {-1, 1}, e[2] = {INT64_MIN, 100}, st[2] = {-2, 3};
  in[0] = F32(5, 10);
  in[1] = V(IR_DT_INT64, 1, (int64_t[]){2}, b);
  in[2] = V(IR_DT_INT64, 1, (int64_t[]){2}, e);
  in[3] = V(IR_DT_INT64, 1, (int64_t[]){2}, st);
  CHECK(infer(n, in, 4, out, 1) == TOD_OK, "strided slice");
  EXPECT_DIMS(out[0], 3, 3); /* rows 4,2,0; cols 1,4,7 */

  n = node(IR_OP_ConstantOfShape, 1, 1);
  int64_t big[2] = {1 << 30, 1 << 30};
  in[0] = V(IR_DT_INT64, 1, (int64_t[]){2}, big);
  CHECK(infer(n, in, 1, out, 1) == TOD_OK, "large but representable");
  big[0] = -3;
  CHECK(infer(n, in, 1, out, 1) == TOD_INFER_ERR, "negative dim must fail");

  n = node(IR_OP_Concat, 2, 1);
  ir_attr_set_int(n, "axis", 0);
  int32_t c0[2] = {1, 2}, c1[1] = {3};
  in[0] = V(IR_DT_INT32, 1, (int64_t[]){2}, c0);
  in[1] = V(IR_DT_INT32, 1, (int64_t[]){1}, c1);
  CHECK(infer(n, in, 2, out, 1) == TOD_OK, "concat ints");
  EXPECT_DIMS(out[0], 3);
  CHECK(ir_is_shape_computation(n, in, 2, out, 1), "small int concat with values is eager");
  in[1].data = NULL;
  CHECK(!ir_is_shape_computation(n, in, 2, out, 1), "missing value is not eager");

  n = node(IR_OP_Abs + 1000, 1, 1);
  in[0] = F32(1);
  CHECK(infer(n, in, 1, out, 1) == TOD_NOT_FIND_OP, "unknown op");
  n = node(IR_OP_AudioSpectrogram, 1, 1);
  CHECK(infer(n, in, 1, out, 1) == TOD_NOT_FIND_OP, "op without inference");
}

int main(void) {
  ir_graph_init(&g);
  test_conv_output_sizes();
  test_pool_output_sizes();
  test_matmul_and_broadcast();
  test_reshape_and_values();
  ir_graph_free(&g);
  if (failures) {
    printf("%d failures\n", failures);
    return 1;
  }
  printf("ok\n");
  return 0;
}
