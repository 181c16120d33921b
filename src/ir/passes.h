/* Graph passes run by the converter between import and .ms output, one per file. */
#ifndef TOD_IR_PASSES_H
#define TOD_IR_PASSES_H

#include <stddef.h>

#include "ir/ir.h"

/* layout.c: rewrites an imported NCHW graph (ONNX, MINDIR conventions) into the runtime's
 * channel-last convention (docs/ops.md): spatial operators get NHWC activations and KHWC
 * weights, Transposes are inserted only where an operator needs the source layout, and graph
 * outputs keep the source layout and names. input_nhwc: the converted model's 4-D inputs are
 * NHWC (--inputDataFormat=NHWC) instead of the source's NCHW. */
tod_status ir_pass_layout(ir_graph *g, int input_nhwc, char *err, size_t errlen);

/* fuse_bn.c: folds inference BatchNorm into the preceding Conv2DFusion or MatMulFusion when the
 * intermediate has no other reader (new weights and bias are owned constants). */
tod_status ir_pass_fold_batchnorm(ir_graph *g, char *err, size_t errlen);

/* fuse_act.c: moves Activation (RELU, RELU6, ...) and Clip(0,6) into the activation_type of a
 * producing Conv2DFusion, MatMulFusion, AddFusion, ... when the schema carries one. */
tod_status ir_pass_fuse_activation(ir_graph *g, char *err, size_t errlen);

/* fold.c: infers every shape from the graph inputs' shapes and replaces each node whose inputs
 * are all constants by its computed output (constant folding, with the runtime's kernels). */
tod_status ir_pass_infer_and_fold(ir_graph *g, int fold, char *err, size_t errlen);

/* shuffle.c: after shape inference, refuses a model whose channel shuffles the layout pass
 * rewrote for NHWC from its declared (value_info) dims turn out to have other dims. */
tod_status ir_pass_check_shuffles(const ir_graph *g, char *err, size_t errlen);


/* Helpers shared by passes (pass_util.c). */
/* Adds a constant int32 1-D tensor holding v[0..n) and returns its index (or -1). */
int ir_add_const_i32(ir_graph *g, const char *name, const int32_t *v, int n);
/* Values of a constant int32/int64 tensor (a scalar counts as one value) into v[0..cap): the
 * count, or -1 when t is not such a constant or holds more than cap values. */
int ir_const_ints(const ir_graph *g, int t, int64_t *v, int cap);
/* Inserts a Transpose reading src with the given permutation; returns the output tensor. The
 * node is appended (callers run ir_toposort afterwards). */
int ir_add_transpose(ir_graph *g, int src, const int *perm, int rank, const char *suffix);
/* Points input j of node `node` at a new int32 1-D constant holding v[0..n) (n <= IR_MAX_DIMS;
 * values clamped to int32), named after the tensor it replaces plus suffix. Returns the new
 * tensor, or -1 when out of memory. */
int ir_set_const_input(ir_graph *g, int node, int j, const int64_t *v, int n, const char *suffix);
/* Appends out = Gather(src, idx[0..n), axis 0), a reordering of a 1-D tensor's values (a Shape
 * read back in another axis order). Returns 0, or -1 when out of memory. */
int ir_add_gather_1d(ir_graph *g, int src, const int32_t *idx, int n, int out);
/* Replaces every read of tensor from by tensor to (nodes and graph outputs). */
void ir_replace_uses(ir_graph *g, int from, int to);

#endif
