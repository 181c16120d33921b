/* Channel shuffle on channel-last data (shuffle.c), for the layout pass. */
#ifndef TOD_IR_SHUFFLE_H
#define TOD_IR_SHUFFLE_H

#include <stdint.h>

#include "ir/ir.h"

/* Is Reshape node r1, reading a tensor whose NCHW dims are d, the start of an NCHW channel
 * shuffle (Reshape to [N,g,C/g,H,W], Transpose (0,2,1,3,4), Reshape to [N,C,H,W], each the
 * only reader of the previous)? 1 with the Transpose and second Reshape in *p and *r2, or 0. */
int ir_shuffle_match(const ir_graph *g, int r1, const int64_t d[4], int *p, int *r2);

/* Rewrites a matched shuffle to run on the NHWC copy of its input (the caller points r1 at
 * it): new shape and permutation constants. 0, or -1 when out of memory. */
int ir_shuffle_rewrite(ir_graph *g, int r1, int p, int r2, const int64_t d[4]);

/* The layout pass runs before shape inference and needs the NCHW dims of a shuffle's input;
 * a model that does not declare them (no value_info) is laid out once, shapes are inferred,
 * and these hints carry the dims (by tensor name) into a second import and layout. */
typedef struct {
  char *name;
  int64_t dims[4];
} ir_shuffle_hint;

/* Hints for every shuffle left in NCHW in a laid-out, shape-inferred graph: the count (0: none),
 * or -1 when out of memory. *out is the caller's to free with ir_shuffle_hints_free. */
int ir_shuffle_hints(const ir_graph *g, ir_shuffle_hint **out);
/* Sets the hinted dims on the tensors of a freshly imported graph that carry those names. */
void ir_shuffle_apply_hints(ir_graph *g, const ir_shuffle_hint *h, int n);
void ir_shuffle_hints_free(ir_shuffle_hint *h, int n);

#endif
