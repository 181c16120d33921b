/* Deferred constant data: weights the converter writes straight from the source file.
 *
 * A conversion reads most weights once and writes them once. Copying each one into memory
 * first (to align it, then to relay it out KCHW -> KHWC) touches fresh pages the kernel must
 * zero, and holds a second copy of every weight until the file is written. A deferred tensor
 * instead keeps a pointer into the source mapping (any alignment) and how its bytes derive from
 * it; the .ms writer produces them a chunk at a time into one small buffer (ir_tensor_fill).
 *
 * Only the converter's pipeline creates them (onnx_import_deferred, the layout pass). A tensor
 * is deferred when t->src is set; then t->data and t->owned are NULL. Code that reads t->data
 * calls ir_tensor_settle (or ir_graph_settle) first, which turns it into an ordinary owned
 * constant with the same bytes. */
#ifndef TOD_IR_DEFERRED_H
#define TOD_IR_DEFERRED_H

#include <stddef.h>

#include "ir/ir.h"

enum {
  IR_SRC_BYTES = 0, /* src holds the nbytes bytes as they are */
  IR_SRC_KCHW = 1   /* src holds the 4-byte weight [O, I, H, W] of the tensor's KHWC [O, H, W, I] */
};

/* Makes t deferred: its data is now derived from src (borrowed; it must outlive the graph). Any
 * owned data is freed; shape, dtype and nbytes must already describe the result. */
void ir_tensor_defer(ir_tensor *t, const void *src, int layout);
/* Writes bytes [off, off + len) of t's data (deferred or not) to dst. off and len are multiples
 * of the element size; whole multiples of ir_tensor_fill_unit are the fast case. */
void ir_tensor_fill(const ir_tensor *t, size_t off, size_t len, void *dst);
/* Where t's data already lies as it is (data, or a deferred source it equals: IR_SRC_BYTES, or a
 * relayout that moves nothing), or NULL when it must be produced with ir_tensor_fill. */
const void *ir_tensor_bytes(const ir_tensor *t);
/* The natural piece of a deferred tensor's data (one output channel of a relaid-out weight). */
size_t ir_tensor_fill_unit(const ir_tensor *t);
/* Materializes a deferred tensor as owned data (nothing to do otherwise). TOD_MEMORY_FAILED
 * when the allocation fails (t is unchanged then). */
tod_status ir_tensor_settle(ir_tensor *t);
tod_status ir_graph_settle(ir_graph *g);

/* KCHW -> KHWC for 4-byte elements: dst[o][hw][i] = src[o][i][hw]. src may be unaligned; the
 * ranges must not overlap. Tiles of 8 x 8 (contiguous reads, 32-byte writes). */
void ir_relayout_kchw_khwc(void *dst, const void *src, size_t O, size_t I, size_t HW);

#endif
