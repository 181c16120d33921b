/* Shape inference: output dtypes and shapes of each operator from its inputs. Used by the
 * converter (shape pass) and by the runtime when input shapes change (resize). */
#ifndef TOD_IR_SHAPE_H
#define TOD_IR_SHAPE_H

#include "ir/ir.h"

/* Fills out[i].dtype, ndim and dims for node n. in[i] describes input i (n->in[i] may be -1
 * for an absent optional input: then in[i].ndim == -1 and in[i].data == NULL). in[i].data is
 * non-NULL when the value is known (a constant, or computed eagerly from shapes), which
 * value-dependent operators (Reshape, Range, ConstantOfShape, Tile, ...) need; when such a
 * value is missing it returns TOD_INFER_INVALID. Bad shapes return TOD_INFER_ERR; unknown
 * operators TOD_NOT_FIND_OP. err receives a message naming the node. */
tod_status ir_infer_node(const ir_node *n, const tod_view *in, int n_in, tod_view *out, int n_out,
                         char *err, size_t errlen);

/* Whether the runtime should compute this node's outputs while inferring shapes (outputs are
 * small integer tensors derived from shapes: Shape, Gather on a shape, Concat of shape
 * pieces, ...). True when every input value is known and every output is an integer tensor
 * of at most 64 elements. */
int ir_is_shape_computation(const ir_node *n, const tod_view *in, int n_in, const tod_view *out,
                            int n_out);

#endif
