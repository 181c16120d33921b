/* Internal to shape inference: the per-family entry points ir_infer_node dispatches to, and
 * the error helper that names the node. */
#ifndef TOD_IR_SHAPE_INTERNAL_H
#define TOD_IR_SHAPE_INTERNAL_H

#include <stddef.h>

#include "ir/ir.h"
#include "ir/ir_op.h"
#include "ir/shape_util.h"

typedef struct {
  const ir_node *n;
  const tod_view *in;
  int n_in;
  tod_view *out;
  int n_out;
  char *err;
  size_t errlen;
} shape_ctx;

/* Writes "node 'name' (Op): <message>" into c->err and returns code. */
tod_status shape_fail(const shape_ctx *c, tod_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#ifdef TOD_TERSE_ERRORS /* the minimal build: node, operator and status only (see kutil.h) */
tod_status shape_fail_status(const shape_ctx *c, tod_status code);
static inline void shape_fail_unused(int unused, ...) { (void)unused; }
#define shape_fail(c, code, ...) (shape_fail_unused(0, __VA_ARGS__), shape_fail_status(c, code))
#endif
/* Checks n_in >= min_in and inputs [0, min_in) have a known rank; n_out >= 1. */
tod_status shape_need(const shape_ctx *c, int min_in);
/* out[0] = in[i] (dtype and shape). */
void shape_copy(tod_view *out, const tod_view *in);

/* Families; each returns TOD_NOT_FIND_OP when it does not know c->n->op. */
tod_status shape_infer_nn(const shape_ctx *c);     /* conv, matmul, pool, norm, resize, pad, reduce */
tod_status shape_infer_tensor(const shape_ctx *c); /* reshape, transpose, concat, slice, gather... */
tod_status shape_infer_ext(const shape_ctx *c);    /* shape_ext.c: ONNX-coverage operators */
tod_status shape_infer_train(const shape_ctx *c);  /* gradients, losses, optimizers (shape_train.c) */
tod_status shape_infer_more(const shape_ctx *c);   /* shape_more.c: Custom, ConvTranspose, ... */

#endif
