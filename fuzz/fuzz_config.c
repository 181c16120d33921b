/* libFuzzer target: the converter's --configFile parser on arbitrary text must accept it or
 * refuse it with a status (TOD_PARAM_INVALID, TOD_NOT_SUPPORT) and a message; what it accepts
 * is within the documented ranges. */
#include <stddef.h>
#include <stdint.h>

#include "convert/train_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tod_train_config c;
  char err[256] = "";
  tod_train_config_init(&c);
  tod_status st = tod_train_config_parse(&c, (const char *)data, size, err, sizeof err);
  if (st > 0) __builtin_trap();
  if (st != TOD_OK && !err[0]) __builtin_trap();
  if (st == TOD_OK) {
    if (c.bit_num != -1 && (c.bit_num < 1 || c.bit_num > 16)) __builtin_trap();
    for (int i = 0; i < c.n_globs; i++)
      if (!c.globs[i]) __builtin_trap();
    for (int i = 0; i < c.n_quant; i++)
      if (!c.quant[i].key || !c.quant[i].value) __builtin_trap();
  }
  tod_train_config_free(&c);
  return 0;
}
