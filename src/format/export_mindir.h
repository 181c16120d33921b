/* MINDIR export: an IR graph (typically a trained .ms) back to MindSpore's MindIR protobuf. */
#ifndef TOD_FORMAT_EXPORT_MINDIR_H
#define TOD_FORMAT_EXPORT_MINDIR_H

#include <stddef.h>

#include "ir/ir.h"
#include "tod/status.h"

/* Writes g as a mind_ir.ModelProto (MindSpore 2.x conventions of ../shared/formats/mindir.md:
 * `REF::` primitives with typed attributes, Constant value nodes, `<graph>:<name>` Parameters
 * with raw_data, node scopes in `domain`, NCHW activations and KCHW convolution weights, the
 * runtime's channel-last tensors transposed back). A graph with optimizer nodes goes out whole,
 * as MindSpore exports a TrainOneStepCell: data and label inputs, the loss as output, MindSpore's
 * gradient and optimizer primitives with Load/UpdateState/U-monad plumbing, the optimizer state
 * as Parameters (docs/checkpoints.md); pass the inference part (export.c) for an inference
 * export. The file is written atomically. TOD_NOT_SUPPORT names an operator without a MindSpore
 * counterpart here. */
tod_status mindir_export(const ir_graph *g, const char *path, char *err, size_t errlen);

#endif
