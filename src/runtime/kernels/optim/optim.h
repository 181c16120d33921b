/* Optimizer kernels (Adam, ApplyMomentum, SGD, AdamWeightDecay): the session's handle on their
 * learning rate. Each optimizer reads lr from its lr input once at create and caches it, as
 * MindSpore Lite does; SetLearningRate and the schedules change the cached value only (the lr
 * tensor's data is left alone). */
#ifndef TOD_KERNELS_OPTIM_H
#define TOD_KERNELS_OPTIM_H

#include "runtime/kernel.h"

/* Whether k is one of the optimizer kernels above (created). */
int optim_is_optimizer(const kernel *k);
/* Sets the cached learning rate of an optimizer kernel; no effect on any other kernel. */
void optim_set_lr(kernel *k, float lr);
/* The cached learning rate of an optimizer kernel; 0 for any other kernel. */
float optim_get_lr(const kernel *k);

#endif
