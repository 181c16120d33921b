/* Load-time decoding of weight-quantized tensors (issue 5). */
#ifndef TOD_RUNTIME_DEQUANT_H
#define TOD_RUNTIME_DEQUANT_H

#include <stddef.h>

#include "format/file_io.h"
#include "ir/ir.h"

/* Decodes every quantized constant of g into float32, one tensor at a time, as MindSpore Lite's
 * weight decoder does before kernels are chosen: the decoded tensor owns its floats, its quant
 * params, clusters and compression are dropped and its readers' quantType is cleared. The file
 * pages that held only a decoded tensor's codes are released (madvise), so a quantized model's
 * resident memory stays below the float model's. *n_decoded counts the tensors (may be NULL). */
tod_status tod_dequant_graph(ir_graph *g, const tod_mapped_file *file, int *n_decoded, char *err,
                             size_t errlen);

#endif
