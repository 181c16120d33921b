/* Model conversion: ONNX (and later MINDIR) in, MindSpore Lite .ms out. The engine behind
 * converter_lite and the conversion service. */
#ifndef TOD_CONVERT_H
#define TOD_CONVERT_H

#include <stddef.h>

#include "tod/status.h"

typedef enum { TOD_FMK_ONNX = 2, TOD_FMK_MINDIR = 3 } tod_fmk;

typedef struct {
  tod_fmk fmk;
  const char *model_file;  /* input model */
  const char *output_file; /* full output path (".ms" already appended by the caller) */
  int train_model;         /* --trainModel=true */
  int input_nhwc;          /* --inputDataFormat=NHWC; default: the source's own layout */
  int quant_weight;        /* --quantType=WeightQuant */
  int bit_num;             /* 1..16 */
  long quant_weight_size;
  long quant_weight_channel;
  const char *config_file; /* NULL when absent */
  struct tod_quant_summary *quant_summary; /* optional out: what weight quantization did */
} tod_convert_options;

/* Filled by tod_convert when weight quantization ran (options.quant_summary non-NULL). */
typedef struct tod_quant_summary {
  int ran;                      /* quantization was requested (flags or [common_quant_param]) */
  int bit_num;
  int n_quantized, n_kmeans;    /* weight tensors quantized, of which with k-means codebooks */
  int n_float;                  /* candidate weights kept float (too short per channel, shared) */
  size_t bytes_before, bytes_after; /* their float bytes; codes + params + codebooks */
} tod_quant_summary;

/* Fills the documented defaults (bit_num 8, quant_weight_size 0, quant_weight_channel 16). */
void tod_convert_options_init(tod_convert_options *o);

/* Converts o->model_file into o->output_file. The output appears atomically and only on
 * success. err (errlen bytes) receives the reason of a failure. */
tod_status tod_convert(const tod_convert_options *o, char *err, size_t errlen);

#endif
