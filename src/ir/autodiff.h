/* Training graphs: the autodiff pass turns an NHWC inference graph into a MindSpore Lite style
 * training graph (forward, loss, gradient nodes, optimizer nodes), as docs/training.md fixes it. */
#ifndef TOD_IR_AUTODIFF_H
#define TOD_IR_AUTODIFF_H

#include <stddef.h>

#include "ir/ir.h"

typedef enum {
  IR_LOSS_SOFTMAX_CE = 0, /* softmax cross-entropy over the last axis of [N,C] logits */
  IR_LOSS_MSE,            /* mean over all elements of (y - label)^2 */
  IR_LOSS_BCE_LOGITS      /* binary cross-entropy on logits (torch BCEWithLogitsLoss, mean) */
} ir_loss_kind;

typedef enum {
  IR_LABEL_CLASS = 0, /* int32 class indices [N] (SparseSoftmaxCrossEntropyWithLogits) */
  IR_LABEL_ONEHOT     /* float32 one-hot / soft labels [N,C] (SoftmaxCrossEntropyWithLogits) */
} ir_label_type;

typedef enum {
  IR_OPT_SGD = 0,  /* plain SGD (SGD primitive, momentum 0) */
  IR_OPT_MOMENTUM, /* torch.optim.SGD(momentum) (ApplyMomentum) */
  IR_OPT_NESTEROV, /* torch.optim.SGD(momentum, nesterov=True) (ApplyMomentum use_nesterov) */
  IR_OPT_ADAM,     /* torch.optim.Adam (Adam + beta powers advanced by MulFusion/Assign) */
  IR_OPT_ADAMW     /* torch.optim.AdamW (decoupled decay by MulFusion/Assign, then Adam) */
} ir_optimizer_kind;

typedef struct {
  ir_loss_kind loss;
  ir_label_type label_type; /* softmax cross-entropy only */
  ir_optimizer_kind optimizer;
  double learning_rate, momentum, beta1, beta2, epsilon, weight_decay;
  /* Globs (fnmatch-style '*', '?') over source parameter names. No trainable globs = every
   * parameter is trainable; a frozen match wins over a trainable one. */
  const char *const *trainable;
  int n_trainable;
  const char *const *frozen;
  int n_frozen;
} ir_train_spec;

/* Fills the defaults: softmax cross-entropy with class labels, Adam, lr 1e-3, beta1 0.9,
 * beta2 0.999, epsilon 1e-8, momentum 0.9, weight decay 0, everything trainable. */
void ir_train_spec_init(ir_train_spec *s);

/* Whether a parameter name is trainable under the spec's globs. */
int ir_train_spec_trainable(const ir_train_spec *s, const char *name);

/* Rewrites g (NHWC, shapes inferred, graph output 0 = the prediction) into a training graph:
 * adds the `label` input, the loss (graph output 0), gradient nodes for everything between a
 * trainable weight and the loss, and one optimizer node per trainable weight (outputs appended
 * after the loss). Trainable weights, optimizer state and BatchNorm running statistics become
 * IR_TENSOR_PARAM. Unsupported operators on a gradient path fail with TOD_NOT_SUPPORT. */
tod_status ir_pass_autodiff(ir_graph *g, const ir_train_spec *spec, char *err, size_t errlen);

#endif
