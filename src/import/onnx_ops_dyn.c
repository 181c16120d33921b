/* ONNX operators whose axes / sizes / slice bounds come from a non-constant input (a graph input
 * or a computed tensor). The primitives then read those values from their inputs, and the
 * runtime infers shapes once the values are known (value-dependent models, docs/ops.md
 * "Shapes from input values"). Nodes whose value inputs are constants go through onnx_ops.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/onnx_internal.h"

static int opt_in(const onnx_node *n, int i) { return i < n->n_in ? n->in[i] : -1; }
/* Input i is present and not a constant. */
static int dyn_in(const onnx_ctx *c, const onnx_node *n, int i) {
  int t = opt_in(n, i);
  return t >= 0 && c->g->tensors[t].kind != IR_TENSOR_CONST;
}

static tod_status dyn_squeeze(onnx_ctx *c, onnx_node *n, int op) {
  int out, in[2] = {n->in[0], n->in[1]};
  TRY(onnx_out(c, n, 0, &out));
  return onnx_emit(c, op, n->name, in, 2, &out, 1, NULL);
}

static tod_status dyn_reduce(onnx_ctx *c, onnx_node *n, int mode) {
  if (onnx_attr_i(n, "noop_with_empty_axes", 0))
    return onnx_unsupported(c, n, "with noop_with_empty_axes and a non-constant axes input");
  int out, in[2] = {n->in[0], n->in[1]};
  ir_node *nd = NULL;
  TRY(onnx_out(c, n, 0, &out));
  TRY(onnx_emit(c, IR_OP_ReduceFusion, n->name, in, 2, &out, 1, &nd));
  TRY(seti(c, nd, "keep_dims", onnx_attr_i(n, "keepdims", 1) != 0));
  TRY(seti(c, nd, "mode", mode));
  TRY(seti(c, nd, "reduce_to_end", 0));
  return setf(c, nd, "coeff", 1.0);
}

static tod_status dyn_split(onnx_ctx *c, onnx_node *n) {
  if (n->n_out < 1 || n->n_out > 64) return onnx_bad(c, n, "has %d outputs", n->n_out);
  int outs[64], in[2] = {n->in[0], n->in[1]};
  for (int i = 0; i < n->n_out; i++) TRY(onnx_out(c, n, i, &outs[i]));
  ir_node *nd = NULL;
  TRY(onnx_emit(c, IR_OP_Split, n->name, in, 2, outs, n->n_out, &nd));
  TRY(seti(c, nd, "output_num", n->n_out));
  return seti(c, nd, "axis", onnx_attr_i(n, "axis", 0));
}

/* ONNX Slice-10+: StridedSlice in its five-input form (x, starts, ends, axes, steps), absent axes
 * or steps given as empty tensors. */
static tod_status dyn_slice(onnx_ctx *c, onnx_node *n) {
  if (opt_in(n, 1) < 0 || opt_in(n, 2) < 0) return onnx_bad(c, n, "lacks starts or ends");
  int in[5] = {n->in[0], n->in[1], n->in[2], opt_in(n, 3), opt_in(n, 4)};
  for (int i = 3; i < 5; i++)
    if (in[i] < 0) TRY(onnx_const_i32(c, n, i == 3 ? "axes" : "steps", NULL, 0, 1, &in[i]));
  int out;
  ir_node *nd = NULL;
  TRY(onnx_out(c, n, 0, &out));
  TRY(onnx_emit(c, IR_OP_StridedSlice, n->name, in, 5, &out, 1, &nd));
  static const char *masks[] = {"begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask",
                                "shrink_axis_mask"};
  for (int i = 0; i < 5; i++) TRY(seti(c, nd, masks[i], 0));
  return TOD_OK;
}

static const struct {
  const char *name;
  int input;  /* the value input */
  int since;  /* opset from which it is an input */
  int arg;
} dyn_ops[] = {
    {"Squeeze", 1, 13, IR_OP_Squeeze},   {"Unsqueeze", 1, 13, IR_OP_Unsqueeze},
    {"ReduceSum", 1, 13, 4},             {"ReduceMean", 1, 18, 0},
    {"ReduceMax", 1, 18, 1},             {"ReduceMin", 1, 18, 2},
    {"ReduceProd", 1, 18, 3},            {"ReduceSumSquare", 1, 18, 5},
    {"ReduceL1", 1, 18, 6},              {"ReduceL2", 1, 18, 8},
    {"Split", 1, 13, 0},                 {"Slice", 1, 10, 0},
};

tod_status onnx_translate_dyn(onnx_ctx *c, onnx_node *n) {
  for (size_t i = 0; i < sizeof dyn_ops / sizeof dyn_ops[0]; i++) {
    if (strcmp(dyn_ops[i].name, n->op_type) != 0) continue;
    if (c->opset < dyn_ops[i].since || n->n_in < 1 || n->in[0] < 0 || n->n_out < 1) return TOD_NOT_FIND_OP;
    int dyn = dyn_in(c, n, dyn_ops[i].input);
    if (strcmp(n->op_type, "Slice") == 0)
      for (int k = 2; k <= 4; k++) dyn |= dyn_in(c, n, k);
    if (!dyn) return TOD_NOT_FIND_OP;
    if (strcmp(n->op_type, "Slice") == 0) return dyn_slice(c, n);
    if (strcmp(n->op_type, "Split") == 0) return dyn_split(c, n);
    if (strncmp(n->op_type, "Reduce", 6) == 0) return dyn_reduce(c, n, dyn_ops[i].arg);
    return dyn_squeeze(c, n, dyn_ops[i].arg);
  }
  return TOD_NOT_FIND_OP;
}
