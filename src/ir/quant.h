/* Weight quantization (issue 5): the converter pass that turns float weights into per-channel
 * integer codes, and the codec that decodes them again (runtime load, `tod info`).
 *
 * Storage follows MindSpore Lite (shared/formats/ms-quant.md): per-channel asymmetric QuantParams
 * (scale, zeroPoint, min, max, numBits, inited), codes int8 (b <= 8) or int16, raw for 8 and 16
 * bits (weightQuantCompressType NONE), packed LSB-first for other widths (BITPACKING). The
 * converter searches each channel's clipping range for the least squared error instead of using
 * plain min/max. For b <= 4 it may store per-channel k-means codebooks in `quantClusters`
 * (n_channels x 2^b floats, channel-major, ascending); the code of an element is then
 * index - 2^(b-1) into its channel's codebook. The QuantParams of such a tensor hold the
 * least-squares linear fit of each codebook, so MindSpore Lite (which ignores clusters when
 * there are per-channel QuantParams) still decodes it, to that linear approximation; tod decodes
 * the codebooks exactly.
 */
#ifndef TOD_IR_QUANT_H
#define TOD_IR_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

/* model.fbs WeightQuantCompressType */
enum { IR_QC_NONE = 0, IR_QC_INDEXING = 1, IR_QC_SPARSE = 2, IR_QC_FSE = 3, IR_QC_BITPACKING = 4,
       IR_QC_FSE_INT = 5, IR_QC_FSE_INFER = 6 };
/* model.fbs QuantType of a CNode */
enum { IR_QT_NONE = 0, IR_QT_WEIGHT_LEGACY = 2, IR_QT_WEIGHT = 4 };

typedef struct {
  int bit_num;          /* 1..16 */
  long min_size;        /* quantize when element count > min_size */
  long min_channel;     /* conv weights: quantize when channels > min_channel */
  int allow_kmeans;     /* per-channel k-means codebooks for bit_num <= 4 where they beat linear */
} ir_quant_options;

typedef struct {
  int n_quantized, n_kmeans, n_float; /* weights quantized (of which k-means), candidates kept float */
  size_t bytes_before, bytes_after;   /* weight data bytes of the quantized tensors, + params */
} ir_quant_summary;

/* Validates options: bit_num in 1..16, thresholds >= 0. TOD_PARAM_INVALID with a message. */
tod_status ir_quant_check_options(const ir_quant_options *o, char *err, size_t errlen);

/* Quantizes the weights of Conv2DFusion, Conv2dTransposeFusion, MatMulFusion and Gather nodes
 * that pass the thresholds (ms-quant.md §1). Only IR_TENSOR_CONST tensors are touched: the
 * trainable weights (IR_TENSOR_PARAM) of a training graph stay float. */
tod_status ir_pass_quantize_weights(ir_graph *g, const ir_quant_options *o, ir_quant_summary *s,
                                    char *err, size_t errlen);

/* The channel axis of a weight input as MindSpore Lite's runtime picks it for `version` (the
 * model's version string): the >= 1.6 table for "MindSpore Lite x.y.z" versions, else the legacy
 * rule (0; 1 for MatMulFusion B without transpose_b / A with transpose_a). */
int ir_quant_axis(const ir_graph *g, const ir_node *n, int input, int ndim, const char *version);

/* Packs N signed b-bit codes (b in 1..7 or 9..15) as MindSpore Lite's BITPACKING: code + 2^(b-1)
 * as an unsigned b-bit field, LSB-first; b <= 7 into bytes, 9..15 into 16-bit LE words.
 * Returns the packed size; out must hold ir_quant_packed_size(b, n) bytes. */
size_t ir_quant_packed_size(int b, size_t n);
void ir_quant_pack(const int16_t *codes, size_t n, int b, uint8_t *out);

/* Describes a tensor's stored quantization (for `tod info`). */
typedef struct {
  int quantized;   /* 1 when the tensor has quant params or clusters */
  int bits;
  const char *scheme; /* "linear", "kmeans" or "codebook" (MS Lite per-tensor clusters) */
  const char *storage; /* "raw", "bitpacking", "indexing", "sparse", "fse" */
  int channels;    /* number of QuantParams */
} ir_quant_desc;
void ir_quant_describe(const ir_tensor *t, ir_quant_desc *d);

/* Decodes the quantized constant tensor t (consumed by node n of g at input `input`; the axis follows g->version) into a new float
 * buffer of numel floats (*out, malloc'd). Every stored value is checked: bit widths, data
 * length, code and index ranges, parameter and cluster counts. */
tod_status ir_quant_decode(const ir_graph *g, const ir_tensor *t, const ir_node *n, int input,
                           float **out, char *err, size_t errlen);

#endif
