/* Helpers shared by shape inference (src/ir/shape_*.c) and the kernels that must agree with it
 * (broadcasting, slicing, reading small integer tensors). Internal to libtod. */
#ifndef TOD_IR_SHAPE_UTIL_H
#define TOD_IR_SHAPE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

/* Elements of a view; -1 when the rank or a dimension is unknown. A rank-0 view has 1. */
int64_t shape_numel(const tod_view *v);
/* Whether a view's dtype is an integer type whose values shape_read_int can read. */
int shape_is_int_dtype(int dtype);
/* Reads element i of an integer (or bool) view as int64. Returns 0 when the dtype is not an
 * integer type or there is no data; the caller bounds i by shape_numel. */
int shape_read_int(const tod_view *v, int64_t i, int64_t *out);
/* Copies an integer 1-D (or scalar) view's values into vals (at most cap). Returns the count,
 * -1 when the value is unknown or not integer, -2 when it holds more than cap values. */
int shape_read_ints(const tod_view *v, int64_t *vals, int cap);
/* Normalises a possibly negative axis against rank; 0 when out of [-rank, rank). */
int shape_norm_axis(int64_t axis, int rank, int *out);
/* Formats dims as "[1,3,224,224]" (or "[?]" for unknown rank). Returns buf. */
const char *shape_str(const tod_view *v, char *buf, size_t len);

/* numpy broadcasting of a and b into out (rank max(a,b)); unknown (-1) dims propagate.
 * Returns 0 on success, -1 when two known dims differ and neither is 1. */
int shape_broadcast(const int64_t *a, int ra, const int64_t *b, int rb, int64_t *out, int *rout);

/* A StridedSlice resolved against an input shape: per input axis, start, step and count.
 * Shrunk axes have count 1 and are dropped from out_dims. */
typedef struct {
  int rank;
  int64_t start[IR_MAX_DIMS], step[IR_MAX_DIMS], count[IR_MAX_DIMS];
  int out_ndim;
  int64_t out_dims[IR_MAX_DIMS];
} shape_slice_plan;

/* Resolves begin/end/strides (n values each, n <= rank; missing axes are taken whole) with the
 * masks of ops.fbs StridedSlice, ONNX Slice clamping. ellipsis and new_axis masks are not
 * supported. Returns 0, or -1 with a reason in err. dims must be known. */
int shape_strided_slice_plan(const int64_t *dims, int rank, const int64_t *begin,
                             const int64_t *end, const int64_t *strides, int n, int64_t begin_mask,
                             int64_t end_mask, int64_t ellipsis_mask, int64_t new_axis_mask,
                             int64_t shrink_mask, shape_slice_plan *plan, char *err, size_t errlen);

/* StridedSlice's five-input form (x, starts, ends, axes, steps: ONNX Slice; empty axes mean
 * 0..n-1, empty steps all 1): expands in[1..4] into full-rank begin/end/strides for rank, axes
 * not listed taken whole (shape_dyn.c). Returns 0, -1 when a value is unknown, -2 when bad. */
int shape_onnx_slice_full(const tod_view *in, int n_in, int rank, int64_t *begin, int64_t *end,
                          int64_t *strides);

/* SliceFusion: begin/size over `axes` (NULL: axes 0..n-1); size -1 means to the end. Same plan
 * as StridedSlice with steps 1. */
int shape_slice_fusion_plan(const int64_t *dims, int rank, const int64_t *begin,
                            const int64_t *size, int n, const int64_t *axes, int n_axes,
                            shape_slice_plan *plan, char *err, size_t errlen);

/* Reads PadFusion paddings ([rank,2] begin/end per axis) from input 1 when present with a known
 * value, else from the `paddings` attribute. Returns 0, -1 when input 1 is present but its value
 * unknown, -2 when the count does not match rank. */
int shape_pad_amounts(const struct ir_node *n, const tod_view *in, int n_in, int rank,
                      int64_t *pads /* [2*rank] */);

/* Reduce axes as a mask over rank from input 1 (or all axes when absent/empty), honouring
 * reduce_to_end. Returns 0, -1 when the axes value is unknown, -2 on a bad axis. */
int shape_reduce_axes(const struct ir_node *n, const tod_view *in, int n_in, int rank,
                      int *mask /* [rank] */);

/* Resize output height/width for an NHWC input: attributes new_height/new_width when both are
 * positive, else input 1 (float scales or integer sizes, 2 values [h,w] or 4 in NHWC order).
 * Returns 0, -1 when the value is unknown, -2 on bad values. */
int shape_resize_hw(const struct ir_node *n, const tod_view *in, int n_in, int64_t *oh,
                    int64_t *ow);

#endif
