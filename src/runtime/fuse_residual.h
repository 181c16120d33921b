/* Residual Add folded into the producing convolution, at load, without touching the graph.
 *
 * resnet's `relu(conv(x) + identity)` and mobilenet_v2's `project(x) + x` are an AddFusion
 * whose one operand is a Conv2DFusion output read by nothing else. Running the Add as its own
 * node reads and writes the whole feature map once more; folded into the convolution's store it
 * costs one load per output while the tile is in cache. The .ms file and the in-memory graph
 * keep both nodes (export and MindSpore Lite see the model as converted); the session only
 * skips the Add and points the convolution's kernel at the Add's operand and result
 * (kernel.post_*). */
#ifndef TOD_RUNTIME_FUSE_RESIDUAL_H
#define TOD_RUNTIME_FUSE_RESIDUAL_H

#include "runtime/planner.h"
#include "runtime/session_internal.h"

/* At load, after the kernels exist: finds the Conv -> Add pairs that can fold and the
 * Conv -> Activation pairs (a parameterless activation, kernel.post_res NULL) (inference
 * models) or the training-mode FusedBatchNorm -> RELU/RELU6 Activation pairs (training
 * models: the BatchNorm stores the clamped result in the Activation's output, which is skipped;
 * m->fuse_conv then names the BatchNorm). Allocates m->fuse_conv; failure to allocate just
 * leaves nothing fused. */
void fuse_residual_find(tod_model *m);
/* In prepare, once shapes are inferred: activates the pairs whose shapes match exactly (no
 * broadcast), marking each Add skipped, and deactivates the others. */
void fuse_residual_prepare(tod_model *m);
/* In prepare's lifetime pass: the Add's operand and result live at the convolution's step; the
 * convolution's own output is never written. */
void fuse_residual_lifetimes(const tod_model *m, plan_item *items);

#endif
