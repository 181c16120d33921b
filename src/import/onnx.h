/* ONNX -> IR importer. */
#ifndef TOD_IMPORT_ONNX_H
#define TOD_IMPORT_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"
#include "tod/status.h"

/* Parses a serialized ONNX ModelProto (default-domain opsets 7..17) into g, translating ONNX
 * operators into MindSpore Lite primitives as docs/ops.md specifies. The graph stays NCHW with
 * KCHW weights (tensor format tag IR_FMT_NCHW) and fmk_type 2; no layout change, shape
 * inference, folding or fusion happens here.
 *
 * Ownership: g is initialised by this call; whatever the result, the caller frees it with
 * ir_graph_free. Initializers whose raw_data is suitably aligned are BORROWED from data, so data
 * must outlive g (map the file and unmap after freeing the graph); everything else is owned by g.
 * model_dir is the directory external-data paths are relative to (NULL: external data is
 * refused); paths that are absolute or contain ".." are refused.
 *
 * Returns TOD_OK; TOD_GRAPH_FILE_ERR for malformed or inconsistent files; TOD_NOT_SUPPORT for
 * valid models using an operator, attribute or feature tod does not handle (the message names
 * the node and op); TOD_MEMORY_FAILED. err (may be NULL) receives a message. */
tod_status onnx_import(const uint8_t *data, size_t size, const char *model_dir, ir_graph *g,
                       char *err, size_t errlen);
/* As onnx_import, for the converter: large float weights whose raw_data is not aligned and that
 * only convolutions and matrix products read (as their weight) are left deferred
 * (ir/deferred.h) instead of copied, so that the .ms writer reads them from data once. */
tod_status onnx_import_deferred(const uint8_t *data, size_t size, const char *model_dir, ir_graph *g,
                                char *err, size_t errlen);

#endif
