/* libFuzzer target: tod_npy_parse on arbitrary bytes must fail cleanly with a message or give an
 * array whose data size matches its shape. An accepted float32 array then feeds a fixed model
 * input (y = Abs(x), stored shape [1, 2, 3]) through the public API as `tod run` does: resize
 * to the array's shape under a 64 MiB memory limit, set the input, run, and y must equal |x|. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format/ms_write.h"
#include "format/npy.h"
#include "ir/ir.h"
#include "ir/ir_op.h"
#include "tod/tod.h"

static tod_model *model;

static void make_model(void) {
  ir_graph g;
  ir_graph_init(&g);
  int64_t dims[3] = {1, 2, 3};
  int x = ir_add_tensor(&g, "x"), y = ir_add_tensor(&g, "y");
  ir_tensor_set_shape(&g.tensors[x], 3, dims);
  ir_tensor_set_shape(&g.tensors[y], 3, dims);
  g.tensors[x].kind = IR_TENSOR_INPUT;
  if (ir_add_node(&g, IR_OP_Abs, "abs", &x, 1, &y, 1) < 0 || ir_add_input(&g, x) || ir_add_output(&g, y))
    __builtin_trap();
  char path[] = "/tmp/tod_fuzz_npy_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) __builtin_trap();
  close(fd);
  char err[256];
  if (ms_write_file(&g, path, err, sizeof err) != TOD_OK) __builtin_trap();
  ir_graph_free(&g);
  tod_options o = {.num_threads = 1, .max_memory = 64 << 20};
  if (tod_model_load(path, &o, &model, err, sizeof err) != TOD_OK) __builtin_trap();
  unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!model) make_model();
  tod_npy a;
  char err[256] = "";
  if (tod_npy_parse(data, size, "fuzz.npy", &a, err, sizeof err) != TOD_OK) {
    if (!err[0]) __builtin_trap();
    return 0;
  }
  size_t numel = 1;
  for (int d = 0; d < a.ndim; d++) numel *= (size_t)a.dims[d];
  size_t es = a.dtype == TOD_DT_FLOAT32 ? 4 : 0;
  if (es && numel * es != a.nbytes) __builtin_trap();
  if (a.dtype == TOD_DT_FLOAT32) {
    int nd = a.ndim;
    const int64_t *dims = a.dims;
    if (tod_model_resize(model, &nd, &dims) == TOD_OK &&
        tod_model_set_input(model, 0, a.data, a.nbytes) == TOD_OK && tod_model_run(model) == TOD_OK) {
      const void *out;
      size_t nb;
      if (tod_model_output(model, 0, &out, &nb) != TOD_OK || nb != a.nbytes) __builtin_trap();
      for (size_t i = 0; i < numel; i++) {
        float x = ((const float *)a.data)[i], y = ((const float *)out)[i];
        if (!(y == fabsf(x) || (isnan(x) && isnan(y)))) __builtin_trap();
      }
    } else if (!tod_model_error(model)[0]) {
      __builtin_trap();
    }
  }
  tod_npy_free(&a);
  return 0;
}
