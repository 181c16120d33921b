/* A 1x1 convolution folded into the depthwise convolution that alone reads it, at load,
 * without touching the graph.
 *
 * mobilenet_v2's blocks expand with a 1x1 convolution (16 -> 96 channels at 112x112: 4.8 MB)
 * that only the following 3x3 depthwise convolution reads. Run as two nodes, the expanded
 * feature map goes to memory and comes back; folded, the depthwise kernel computes each
 * expanded row into a small per-thread ring as its windows reach it (kernel.pre,
 * kernels/conv2d/conv2d.c), and the expanded tensor gets no arena space. The .ms file and the
 * graph keep both nodes; the session skips the 1x1 one. Inference models only. */
#ifndef TOD_RUNTIME_FUSE_POINTWISE_DW_H
#define TOD_RUNTIME_FUSE_POINTWISE_DW_H

#include "runtime/planner.h"
#include "runtime/session_internal.h"

#if defined(TOD_SIZE_FIRST)
/* tod_min (size-gated) leaves the fold out: nothing is ever folded. */
static inline void fuse_pointwise_dw_find(tod_model *m) { (void)m; }
static inline void fuse_pointwise_dw_prepare(tod_model *m) { (void)m; }
static inline void fuse_pointwise_dw_lifetimes(const tod_model *m, plan_item *items) {
  (void)m;
  (void)items;
}
#else
/* At load, after the kernels exist (inference models): finds the 1x1 -> depthwise pairs
 * (conv2d_can_fold_pointwise) whose link no other node and no graph output reads; the link may
 * pass through an Activation fuse_residual_find folded into the 1x1 one. Allocates
 * m->fold_pw; failure to allocate leaves nothing folded. */
void fuse_pointwise_dw_find(tod_model *m);
/* In prepare, once shapes are inferred: points each pair's depthwise kernel at the 1x1 one
 * (kernel.pre_*) and marks the 1x1 node skipped, unless either was computed at load. */
void fuse_pointwise_dw_prepare(tod_model *m);
/* In prepare's lifetime pass: the 1x1 convolution's input lives to the depthwise step; its
 * output is never written. */
void fuse_pointwise_dw_lifetimes(const tod_model *m, plan_item *items);

#endif

#endif
