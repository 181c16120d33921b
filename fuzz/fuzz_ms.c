/* libFuzzer target: ms_read on arbitrary bytes must fail cleanly or produce a valid graph whose
 * borrowed constant data lies inside the input. */
#include <stddef.h>
#include <stdint.h>

#include "format/ms_read.h"
#include "ir/ir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ir_graph g;
  char err[256];
  if (ms_read(data, size, &g, err, sizeof err) == TOD_OK) {
    /* touch every byte the graph claims, so ASan flags an out-of-range pointer */
    volatile uint8_t sink = 0;
    for (int i = 0; i < g.n_tensors; i++)
      for (size_t k = 0; k < g.tensors[i].nbytes; k++) sink ^= ((const uint8_t *)g.tensors[i].data)[k];
    (void)sink;
    char msg[256];
    if (ir_validate(&g, msg, sizeof msg) != TOD_OK) __builtin_trap();
  }
  ir_graph_free(&g);
  return 0;
}
