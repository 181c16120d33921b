/* Training kernels shared with other kernel files: FusedBatchNorm's training path (called by
 * norm/batchnorm.c when the kernel is in train mode). */
#ifndef TOD_KERNELS_GRAD_H
#define TOD_KERNELS_GRAD_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/kernel.h"

/* Scratch bytes bn_train_forward needs for c channels. */
size_t bn_train_scratch(int64_t c);
/* FusedBatchNorm in training mode over x = in[0] viewed as [rows, c] (channels last): batch
 * mean and biased variance normalise x into y (out[0]'s data, or a fused activation's output);
 * the running statistics in in[3] / in[4] are updated in place, r <- (1-m)·r + m·batch, with
 * the unbiased variance (÷(rows-1)) when x is 4-D and the biased one otherwise (MindSpore
 * Lite); outputs 1..4, when present, receive scale, bias, batch mean and batch (biased)
 * variance. act: IR_ACT_NONE, or RELU / RELU6 applied to y (NaN -> 0, as the Activation). */
void bn_train_forward(const tod_view *in, tod_view *out, int n_out, float eps, float momentum,
                      float *y, int act, void *scratch, tod_threadpool *tp);

#endif
