/* What the session needs to know of the Conv2DFusion kernel (conv2d.c) to fold operators
 * into it. */
#ifndef TOD_KERNELS_CONV2D_H
#define TOD_KERNELS_CONV2D_H

#include "runtime/kernel.h"

/* Whether the depthwise convolution dw can compute the 1x1 convolution pw's output rows itself
 * as its windows reach them (kernel.pre; both created): constant weights; pw 1x1, stride 1,
 * no padding, one group, no folded Add, producing dw's channels; dw 3x3, dilation 1, strides
 * 1 or 2. Shapes are checked again at setup. */
int conv2d_can_fold_pointwise(const kernel *dw, const kernel *pw);
/* Whether Conv2DFusion kernel k (created) can take a channel scale of its input
 * (kernel.scale_*, runtime/fuse_channel_scale.c): constant weights, 1x1, stride 1, no padding,
 * one group. Shapes are checked again at setup. */
int conv2d_can_scale_input(const kernel *k);

#endif
