/* Fused activations; see fused_act.h. */
#include "runtime/kernels/gemm/fused_act.h"

#include <math.h>

#include "ir/ir.h"
#include "runtime/kernels/activation/vec.h"

tod_status fused_act_init(int type, gemm_minmax *mm, int *needs_loop) {
  mm->min = -INFINITY;
  mm->max = INFINITY;
  *needs_loop = 0;
  switch (type) {
  case IR_ACT_NONE:
  case IR_ACT_LINEAR: return TOD_OK;
  case IR_ACT_RELU: mm->min = 0.0f; return TOD_OK;
  case IR_ACT_RELU6: mm->min = 0.0f; mm->max = 6.0f; return TOD_OK;
  case IR_ACT_RELU1: mm->min = 0.0f; mm->max = 1.0f; return TOD_OK;
  case IR_ACT_HARD_TANH: mm->min = -1.0f; mm->max = 1.0f; return TOD_OK;
  case IR_ACT_SIGMOID:
  case IR_ACT_TANH:
  case IR_ACT_ELU:
  case IR_ACT_ABS:
  case IR_ACT_SOFTSIGN:
  case IR_ACT_SOFTPLUS:
  case IR_ACT_SELU:
  case IR_ACT_HSWISH:
  case IR_ACT_HSIGMOID:
  case IR_ACT_SIGN:
  case IR_ACT_SWISH:
  case IR_ACT_GELU: *needs_loop = 1; return TOD_OK;
  default: return TOD_NOT_SUPPORT;
  }
}

/* The activations without a vectorised kernel (vec_for). */
static float act1(int type, float x) {
  switch (type) {
  case IR_ACT_TANH: return tanhf(x);
  case IR_ACT_ELU: return x > 0 ? x : expm1f(x);
  case IR_ACT_ABS: return fabsf(x);
  case IR_ACT_SOFTSIGN: return x / (1.0f + fabsf(x));
  case IR_ACT_SOFTPLUS: return x > 20.0f ? x : log1pf(expf(x));
  case IR_ACT_SELU: {
    const float alpha = 1.6732632423543772f, scale = 1.0507009873554805f;
    return scale * (x > 0 ? x : alpha * expm1f(x));
  }
  case IR_ACT_SIGN: return (float)((x > 0) - (x < 0));
  case IR_ACT_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
  default: return x;
  }
}

/* The vectorised kernel for type, or NULL (act1 per element then). */
static act_vec_fn vec_for(int type) {
  const act_vec_config *c = act_vec_config_get();
  switch (type) {
  case IR_ACT_SIGMOID: return c->sigmoid;
  case IR_ACT_SWISH: return c->swish;
  case IR_ACT_HSIGMOID: return c->hsigmoid;
  case IR_ACT_HSWISH: return c->hswish;
  default: return NULL;
  }
}

void fused_act_apply(int type, float *x, size_t n) {
  const act_vec_fn f = vec_for(type);
  if (f) {
    f(x, x, n);
    return;
  }
  for (size_t i = 0; i < n; i++) x[i] = act1(type, x[i]);
}

void fused_act_apply_2d(int type, float *x, size_t rows, size_t cols, size_t ld) {
  if (cols == ld) {
    fused_act_apply(type, x, rows * cols);
    return;
  }
  const act_vec_fn f = vec_for(type);
  for (size_t r = 0; r < rows; r++) {
    if (f) f(x + r * ld, x + r * ld, cols);
    else fused_act_apply(type, x + r * ld, cols);
  }
}
