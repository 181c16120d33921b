/* libFuzzer target: mindir_import on arbitrary bytes (inference and training modes) must fail
 * cleanly or produce a valid graph whose constant data is fully readable. External data is
 * refused (no model directory), so the target never touches the file system. */
#include <stddef.h>
#include <stdint.h>

#include "import/mindir.h"
#include "ir/ir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  for (int train = 0; train < 2; train++) {
    ir_graph g;
    char err[256];
    if (mindir_import(data, size, NULL, train, &g, err, sizeof err) == TOD_OK) {
      volatile uint8_t sink = 0;
      for (int i = 0; i < g.n_tensors; i++) {
        const ir_tensor *t = &g.tensors[i];
        if (t->nbytes && !t->data) __builtin_trap();
        for (size_t k = 0; k < t->nbytes; k++) sink ^= ((const uint8_t *)t->data)[k];
      }
      (void)sink;
      char msg[256];
      if (ir_validate(&g, msg, sizeof msg) != TOD_OK) __builtin_trap();
    }
    ir_graph_free(&g);
  }
  return 0;
}
