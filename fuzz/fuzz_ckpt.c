/* libFuzzer target: ckpt_parse on arbitrary bytes must fail cleanly with a message, or give
 * values whose data lies inside the input and matches dims and type; such a checkpoint written
 * again by ckpt_serialize must parse back to the same values. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "format/ckpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ckpt_file f;
  char err[256] = "";
  if (ckpt_parse(data, size, &f, err, sizeof err) != TOD_OK) {
    if (!err[0]) __builtin_trap(); /* every refusal says why */
    ckpt_file_free(&f);
    return 0;
  }
  volatile uint8_t sink = 0;
  for (int i = 0; i < f.n; i++) {
    const ckpt_value *v = &f.values[i];
    const uint8_t *p = v->data;
    if (v->nbytes && (p < data || p + v->nbytes > data + size)) __builtin_trap();
    for (size_t k = 0; k < v->nbytes; k++) sink ^= p[k];
    if (ckpt_find(&f, v->name) == NULL) __builtin_trap();
  }
  (void)sink;
  pb_buf out = {0};
  if (ckpt_serialize(f.values, f.n, &out, err, sizeof err) == TOD_OK && pb_buf_status(&out) == TOD_OK) {
    ckpt_file g;
    if (ckpt_parse(out.data, out.len, &g, err, sizeof err) != TOD_OK || g.n != f.n) __builtin_trap();
    for (int i = 0; i < f.n; i++) {
      const ckpt_value *a = &f.values[i], *b = &g.values[i];
      if (strcmp(a->name, b->name) || a->dtype != b->dtype || a->ndim != b->ndim || a->nbytes != b->nbytes ||
          memcmp(a->dims, b->dims, sizeof a->dims[0] * (size_t)(a->ndim > 0 ? a->ndim : 0)) ||
          (a->nbytes && memcmp(a->data, b->data, a->nbytes)))
        __builtin_trap();
    }
    ckpt_file_free(&g);
  }
  pb_buf_free(&out);
  ckpt_file_free(&f);
  return 0;
}
