/* The kernel interface: how the executor drives one operator.
 *
 * An operator's life is three calls (as XNNPACK's): create once at load (validate attributes,
 * pack constant weights), setup whenever input shapes change (derive per-shape parameters and
 * the scratch size), run many times (no allocation, no validation). Output shapes are computed
 * before setup by shape inference (ir/shape.h), so kernels never decide shapes themselves.
 */
#ifndef TOD_RUNTIME_KERNEL_H
#define TOD_RUNTIME_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"
#include "ir/ir_op.h"
#include "runtime/threadpool.h"

typedef struct kernel kernel;

typedef struct {
  int op; /* IR_OP_* */
  /* Validates attributes, reads constant inputs (g->tensors[n->in[i]].data when kind CONST)
   * and packs weights into k->state. Activation shapes may still be unknown here. */
  tod_status (*create)(kernel *k, const ir_graph *g, const ir_node *n);
  /* Shapes of all inputs and outputs are known. Sets *scratch to the bytes of temporary memory
   * run needs (0 if none); the executor provides it 64-byte aligned. May be NULL. */
  tod_status (*setup)(kernel *k, const tod_view *in, int n_in, const tod_view *out, int n_out,
                      size_t *scratch);
  tod_status (*run)(kernel *k, const tod_view *in, int n_in, tod_view *out, int n_out,
                    void *scratch, tod_threadpool *tp);
  /* Frees k->state. May be NULL when create allocates nothing. */
  void (*destroy)(kernel *k);
} kernel_ops;

struct kernel {
  const kernel_ops *ops;
  const ir_node *node;
  void *state;
  /* Training mode, set by the session before run (MindSpore Lite's kernel train mode):
   * FusedBatchNorm uses batch statistics, Dropout drops. 0 = eval/inference. */
  int train;
  /* Seed for kernels that draw random numbers (Dropout), set by the session. */
  uint64_t seed;
  /* A residual AddFusion the session folded into this kernel (runtime/fuse_residual.c), set
   * before setup, or all NULL/0: run then stores clamp(result + *post_res, post_act) to
   * *post_out instead of writing out[0]. Conv2DFusion honours it, and with post_res NULL
   * applies post_act (an Activation folded in, inference models: any fused_act.h type) in
   * place of its own none; FusedBatchNorm honours it with post_res NULL (a RELU / RELU6
   * Activation folded in, training models). */
  const tod_view *post_res, *post_out;
  int post_act;
  /* A channel scale (an SE block's Mul) the session folded into this 1x1 Conv2DFusion
   * (runtime/fuse_channel_scale.c), set before setup, or NULL: run reads *scale_x instead of
   * in[0] (the Mul's result, never stored) and scales its packed weights' input rows by
   * *scale_s (one value per input channel) into scratch first. */
  const tod_view *scale_x, *scale_s;
  /* A 1x1 convolution the session folded into this depthwise Conv2DFusion
   * (runtime/fuse_pointwise_dw.c), set before setup, or NULL: its output is never stored; setup
   * sets it up and run computes its rows in scratch as the windows reach them. pre_in: its
   * pre_n_in input views (x, w[, bias]); pre_out: its output view (shape only). */
  kernel *pre;
  const tod_view *pre_in[3], *pre_out;
  int pre_n_in;
  char err[256]; /* message for the last failure */
};

/* The kernel for an operator, or NULL when tod has none (TOD_NOT_FIND_OP). */
const kernel_ops *kernel_lookup(int op);

#endif
