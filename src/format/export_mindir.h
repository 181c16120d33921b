/* MINDIR export: an IR graph (typically a trained .ms) back to MindSpore's MindIR protobuf. */
#ifndef TOD_FORMAT_EXPORT_MINDIR_H
#define TOD_FORMAT_EXPORT_MINDIR_H

#include <stddef.h>

#include "ir/ir.h"
#include "tod/status.h"

/* Writes g's inference part as a mind_ir.ModelProto (MindSpore 2.x conventions of
 * ../shared/formats/mindir.md: `REF::` primitives with typed attributes, Constant value nodes,
 * `<graph>:<name>` weights with raw_data, node scopes in `domain`, NCHW activations and KCHW
 * convolution weights, the runtime's channel-last tensors transposed back). A training graph
 * (optimizer nodes) loses its loss, gradient and optimizer nodes; its outputs become what the
 * forward pass hands to the loss. The file is written atomically. TOD_NOT_SUPPORT names an
 * operator without a MindSpore counterpart here. */
tod_status mindir_export(const ir_graph *g, const char *path, char *err, size_t errlen);

#endif
