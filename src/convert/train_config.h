/* converter_lite --configFile: the INI-like settings file. `[train]` configures training graphs
 * (README "Training models"); `[common_quant_param]` is kept verbatim for weight quantization. */
#ifndef TOD_CONVERT_TRAIN_CONFIG_H
#define TOD_CONVERT_TRAIN_CONFIG_H

#include <stddef.h>

#include "ir/autodiff.h"

typedef struct {
  char *key, *value;
} tod_config_kv;

typedef struct {
  ir_train_spec spec;  /* [train], defaults where absent; globs point into this struct */
  int has_train;       /* a [train] section was present */
  char **globs;        /* storage of spec.trainable then spec.frozen */
  int n_globs;
  tod_config_kv *quant; /* [common_quant_param] key/value pairs, in file order, unvalidated */
  int n_quant;
  int has_quant;
  /* [common_quant_param], validated: quant_type=WEIGHT_QUANT sets quant_weight; the numbers are
   * -1 when absent (bit_num 1..16, min_quant_weight_size / _channel 0..65535) */
  int quant_weight;
  int bit_num;
  long min_quant_weight_size, min_quant_weight_channel;
} tod_train_config;

/* Defaults only (no file). */
void tod_train_config_init(tod_train_config *c);
/* Parses text (len bytes; need not be NUL-terminated). Unknown sections or keys, malformed
 * lines and bad values give TOD_PARAM_INVALID with a message naming the line and key. */
tod_status tod_train_config_parse(tod_train_config *c, const char *text, size_t len, char *err,
                                  size_t errlen);
/* Reads and parses a file. */
tod_status tod_train_config_load(tod_train_config *c, const char *path, char *err, size_t errlen);
void tod_train_config_free(tod_train_config *c);

#endif
