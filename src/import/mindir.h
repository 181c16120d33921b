/* MINDIR (MindSpore's mind_ir protobuf) -> IR importer. */
#ifndef TOD_IMPORT_MINDIR_H
#define TOD_IMPORT_MINDIR_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"
#include "tod/status.h"

/* Parses a serialized mind_ir.ModelProto (MindSpore 1.x and 2.x layouts, ../shared/formats/
 * mindir.md) into g: MindSpore primitives become MindSpore Lite primitives (docs/ops.md), tuple
 * and side-effect plumbing (MakeTuple, TupleGetItem, Depend, UpdateState, Load, monads) is
 * resolved, and graphs called from the main graph are inlined. The graph stays NCHW with KCHW
 * convolution weights (like onnx_import) and fmk_type 3, except for training primitives that
 * only exist channel-last in the runtime (gradients), which are wrapped in Transposes; conv
 * weights read by gradient nodes are the same tensors the layout pass turns into KHWC.
 *
 * train = 0: a training graph (one with optimizer nodes) keeps only its inference part; the
 * outputs are the values the forward pass hands to the loss. train = 1: MindSpore's own
 * gradient and optimizer nodes are kept; nodes are named after their scope (NodeProto.domain),
 * so `Gradients/...` and `..._loss_fn...` roles hold; outputs are the loss, then one output per
 * optimizer node.
 *
 * Ownership as onnx_import: aligned raw_data is BORROWED from data. model_dir is where external
 * data files are looked up (NULL refuses them; absolute paths and ".." are refused). */
tod_status mindir_import(const uint8_t *data, size_t size, const char *model_dir, int train,
                         ir_graph *g, char *err, size_t errlen);

/* 1 when g holds optimizer nodes (a MINDIR training graph imported with train = 1). */
int mindir_has_optimizer(const ir_graph *g);

#endif
