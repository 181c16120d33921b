/* libFuzzer target: the converter's inference passes on whatever onnx_import accepts. An
 * imported graph of arbitrary structure must go through BatchNorm folding, the layout pass,
 * shape inference with constant folding, the shuffle check and activation fusion, and what comes
 * out must serialize to a .ms that ms_read accepts, or some step must refuse it with a status. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "format/ms_read.h"
#include "format/ms_write.h"
#include "import/onnx.h"
#include "ir/ir.h"
#include "ir/passes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ir_graph g;
  char err[256];
  tod_status st = onnx_import(data, size, NULL, &g, err, sizeof err);
  if (st == TOD_OK) st = ir_validate(&g, err, sizeof err);
  if (st == TOD_OK) st = ir_toposort(&g, err, sizeof err);
  if (st == TOD_OK) st = ir_pass_fold_batchnorm(&g, err, sizeof err);
  if (st == TOD_OK) st = ir_pass_layout(&g, 0, err, sizeof err);
  if (st == TOD_OK) st = ir_pass_infer_and_fold(&g, 1, err, sizeof err);
  if (st == TOD_OK) st = ir_pass_check_shuffles(&g, err, sizeof err);
  if (st == TOD_OK) st = ir_pass_fuse_activation(&g, err, sizeof err);
  if (st == TOD_OK) st = ir_compact(&g);
  if (st == TOD_OK) st = ir_toposort(&g, err, sizeof err);
  if (st == TOD_OK && ir_validate(&g, err, sizeof err) != TOD_OK) __builtin_trap();
  uint8_t *buf = NULL;
  size_t len = 0;
  if (st == TOD_OK && ms_serialize(&g, &buf, &len, err, sizeof err) == TOD_OK) {
    ir_graph back;
    if (ms_read(buf, len, &back, err, sizeof err) != TOD_OK) __builtin_trap();
    ir_graph_free(&back);
  }
  free(buf);
  ir_graph_free(&g);
  return 0;
}
