/* The model session's state, shared by session.c (load, resize, run), train.c (training steps,
 * learning rate, virtual batch) and export.c. Not part of the public API. */
#ifndef TOD_RUNTIME_SESSION_INTERNAL_H
#define TOD_RUNTIME_SESSION_INTERNAL_H

#include <stdarg.h>

#include "format/file_io.h"
#include "ir/ir.h"
#include "runtime/kernel.h"
#include "runtime/threadpool.h"
#include "tod/tod.h"

/* Node roles, decided as MindSpore Lite's TrainSession does (docs/training.md). */
enum { ROLE_FWD = 0, ROLE_LOSS = 1, ROLE_GRAD = 2, ROLE_OPT = 3, ROLE_ASSIGN = 4 };

struct tod_model {
  tod_mapped_file file;
  void *own_copy;  /* tod_model_load_buffer of a training model: its private copy, or NULL */
  ir_graph g;
  tod_threadpool *tp;
  int num_threads;
  kernel *kernels; /* one per node, in node order (topological) */
  tod_view *views; /* one per tensor */
  void **eager;    /* per tensor: owned buffer of a value computed at resize, or NULL */
  char *skip;      /* per node: outputs computed at resize, nothing to do at run */
  tod_node_time_fn node_timer; /* tod_model_set_node_timer, or NULL */
  void *node_timer_ctx;
  int *fuse_conv;  /* per node: the convolution a residual AddFusion is folded into
                    * (fuse_residual.c), else -1; NULL when nothing is */
  int *fold_pw;    /* per depthwise node: the 1x1 convolution folded into it
                    * (fuse_pointwise_dw.c), else -1; NULL when nothing is */
  int *scale_conv; /* per MulFusion node: the 1x1 convolution its channel scale is folded
                    * into (fuse_channel_scale.c), else -1; NULL when nothing is */
  uint8_t *arena;
  size_t arena_size;
  void *scratch;
  size_t scratch_size;
  char err[512];
  size_t max_memory;  /* tod_options.max_memory (0: no limit) */
  size_t eager_bytes; /* bytes of the current eager buffers */
  /* training */
  int trainable;   /* has optimizer nodes */
  int train;       /* current mode */
  char *role;      /* per node */
  char *in_infer;  /* per node: part of the inference (eval) subgraph */
  int *eval_out;   /* eval outputs (tensor indices) */
  int n_eval_out;
  int label_input; /* index into g.inputs, or -1 */
  int vbatch;      /* virtual batch size (>= 1) */
  int vstep;       /* micro-steps accumulated so far */
  float **grad_acc; /* per optimizer node: accumulated gradient, or NULL */
  uint64_t seed;
  /* Value-dependent models: shape inference needs the values of some graph inputs (Reshape's
   * shape, Resize's sizes, Slice's starts, ... fed by the caller). Set at load only when the
   * first prepare fails for want of such a value; all NULL/0 for ordinary models. */
  int valdep;
  int dirty;          /* the plan must be redone before the next run */
  void **inval;       /* per tensor: persistent buffer of a small value input, or NULL */
  char *inval_known;  /* per tensor: inval holds the caller's value */
  void **staged;      /* per tensor: copy of an ordinary input set while dirty, or NULL */
  size_t *staged_n;   /* per tensor: its byte size */
};

tod_status session_fail(tod_model *m, tod_status st, const char *fmt, ...);
/* Runs node i with the current views. */
tod_status session_run_node(tod_model *m, int i);
/* Byte size of a view (0 when unknown, SIZE_MAX when it does not fit in size_t). */
size_t session_view_bytes(const tod_view *v);
/* No tensor may need more bytes than this: an absurd shape is refused before any allocation. */
/* (1 TiB; half the address space on 32-bit targets, where size_t cannot hold 2^40) */
#define SESSION_TENSOR_BYTES_MAX \
  (SIZE_MAX >> 20 >= ((size_t)1 << 20) ? (size_t)((uint64_t)1 << 40) : SIZE_MAX / 2)
/* TOD_OK when need more bytes fit under the memory limit (what), else the error (the limit and
 * the need named in the message). */
tod_status session_reserve(tod_model *m, size_t used, size_t need, const char *what);

/* train.c: decides roles, marks parameters, eval outputs; called at load before kernels exist. */
tod_status train_setup_roles(tod_model *m);
void train_free(tod_model *m);
/* The outputs of the current mode. */
int train_num_outputs(const tod_model *m);
int train_output_tensor(const tod_model *m, int i);

#endif
