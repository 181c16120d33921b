/* Test helper for tests/py/test_weight_quant.py: applies the converter's weight-quantization pass
 * (ir_pass_quantize_weights, the same function `converter_lite --quantType=WeightQuant` runs) to
 * the graph of an existing .ms file, e.g. a model trained and saved by `tod train`.
 *   ms_quantize IN.ms OUT.ms BITS [MIN_SIZE [MIN_CHANNEL [KMEANS(0|1)]]]
 * Prints the same summary numbers as converter_lite. */
#include <stdio.h>
#include <stdlib.h>

#include "format/file_io.h"
#include "format/ms_read.h"
#include "format/ms_write.h"
#include "ir/ir.h"
#include "ir/quant.h"

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: ms_quantize IN.ms OUT.ms BITS [MIN_SIZE [MIN_CHANNEL [KMEANS]]]\n");
    return 2;
  }
  ir_quant_options o = {atoi(argv[3]), argc > 4 ? atol(argv[4]) : 0, argc > 5 ? atol(argv[5]) : 16,
                        argc > 6 ? atoi(argv[6]) : 1};
  char err[1024] = "";
  tod_mapped_file f;
  ir_graph g;
  ir_graph_init(&g);
  tod_status st = tod_map_file(argv[1], &f, err, sizeof err);
  if (st == TOD_OK) st = ms_read(f.data, f.size, &g, err, sizeof err);
  ir_quant_summary s;
  if (st == TOD_OK) st = ir_pass_quantize_weights(&g, &o, &s, err, sizeof err);
  if (st == TOD_OK) st = ms_write_file(&g, argv[2], err, sizeof err);
  if (st == TOD_OK)
    printf("quantized %d (kmeans %d) float %d bytes %zu -> %zu\n", s.n_quantized, s.n_kmeans, s.n_float,
           s.bytes_before, s.bytes_after);
  else
    fprintf(stderr, "ms_quantize: %s (%d)\n", err, (int)st);
  ir_graph_free(&g);
  tod_unmap_file(&f);
  return st == TOD_OK ? 0 : 1;
}
