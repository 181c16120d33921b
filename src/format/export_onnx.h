/* IR graph (runtime form: NHWC activations, KHWC conv weights) -> ONNX model (opset 13).
 *
 * The graph is written node for node. Layout-sensitive operators (Conv2DFusion, pooling,
 * FusedBatchNorm) become their ONNX NCHW operators between explicit Transposes (NHWC->NCHW
 * before, back after), their KHWC weights go out as OIHW, and fused activations become their own
 * nodes; every other operator keeps its axes. The layout pass already framed the runtime graph
 * with Transposes from and to the source layout, so the ONNX model takes and returns the same
 * NCHW tensors, under the same names, as the model it was converted from. Operators outside the
 * supported set and quantized weights are TOD_NOT_SUPPORT, naming the node.
 */
#ifndef TOD_FORMAT_EXPORT_ONNX_H
#define TOD_FORMAT_EXPORT_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"
#include "tod/status.h"

#define EXPORT_ONNX_OPSET 13

/* Serializes g into *buf (malloc'd, the caller frees it) of *len bytes. */
tod_status onnx_export_serialize(const ir_graph *g, uint8_t **buf, size_t *len, char *err, size_t errlen);
/* Serializes g and writes it to path atomically. */
tod_status onnx_export(const ir_graph *g, const char *path, char *err, size_t errlen);

#endif
