/* A squeeze-and-excitation block's channel scale folded into the 1x1 convolution that reads
 * it, at load, without touching the graph.
 *
 * EfficientNet's and MobileNetV3's SE blocks end in MulFusion(x, s), s one value per channel
 * ([1,1,1,C] on NHWC data), read only by the block's 1x1 projection. conv(x * s) equals x
 * convolved with the weights' input rows scaled by s, and the weights (C x C_out) are far
 * smaller than x on the large maps (56x56x144: 450k values against 3.5k): the session skips
 * the Mul, and the convolution (kernel.scale_*, kernels/conv2d/conv2d.c) scales a copy of its
 * packed weights by s each run and reads x itself. The .ms file and the graph keep both nodes.
 * Inference models, batch 1, maps of at least 2 x C_out pixels. */
#ifndef TOD_RUNTIME_FUSE_CHANNEL_SCALE_H
#define TOD_RUNTIME_FUSE_CHANNEL_SCALE_H

#include "runtime/planner.h"
#include "runtime/session_internal.h"

/* At load, after the other folds are found: the MulFusion -> 1x1 Conv2DFusion pairs
 * (conv2d_can_scale_input) whose link nothing else reads. Allocates m->scale_conv; failure to
 * allocate leaves nothing folded. */
void fuse_channel_scale_find(tod_model *m);
/* In prepare, once shapes are inferred: activates the pairs whose Mul scales a [1,H,W,C] map
 * by a [C] vector (either operand order) with H x W >= 2 x C_out, marking each Mul skipped. */
void fuse_channel_scale_prepare(tod_model *m);
/* In prepare's lifetime pass: the Mul's operands live to the convolution's step; its output
 * is never written. */
void fuse_channel_scale_lifetimes(const tod_model *m, plan_item *items);

#endif
