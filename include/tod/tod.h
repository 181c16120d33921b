/* tod: train on device. The public C API.
 *
 * A model's life: tod_model_load (map the .ms file, validate, plan memory, create kernels),
 * optionally tod_model_resize (new input shapes, e.g. another batch size), then any number of
 * tod_model_set_input / tod_model_run / tod_model_output calls, then tod_model_free.
 * Every fallible call returns a tod_status (0 or a negative MindSpore Lite code) and leaves a
 * message readable with tod_model_error (or in the caller's err buffer before a model exists).
 * A NULL model, handle or required pointer argument is TOD_NULL_PTR (getters return 0, -1 or
 * ""; functions without a result do nothing); an input or output index out of range is
 * TOD_OUT_OF_TENSOR_RANGE.
 */
#ifndef TOD_TOD_H
#define TOD_TOD_H

#include <stddef.h>
#include <stdint.h>

#include "tod/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TOD_VERSION "0.1.0"
#define TOD_MAX_DIMS 8

/* Element types: MindSpore TypeId numbers, as stored in .ms files. */
typedef enum {
  TOD_DT_BOOL = 30,
  TOD_DT_INT8 = 32,
  TOD_DT_INT16 = 33,
  TOD_DT_INT32 = 34,
  TOD_DT_INT64 = 35,
  TOD_DT_UINT8 = 37,
  TOD_DT_FLOAT16 = 42,
  TOD_DT_FLOAT32 = 43,
  TOD_DT_FLOAT64 = 44
} tod_dtype;

typedef struct tod_model tod_model;

typedef struct {
  int num_threads;   /* <= 0: all online cores */
  size_t max_memory; /* the most bytes the session allocates for activations, values computed
                      * at load and kernel scratch (weights are mapped, not counted); 0: the
                      * machine's physical memory. A load or resize that needs more fails with
                      * TOD_MEMORY_FAILED naming the need and the limit, before allocating. */
} tod_options;

/* Shape and type of a model input or output. name points into the model (valid until it is
 * freed). */
typedef struct {
  const char *name;
  int dtype;
  int ndim;
  int64_t dims[TOD_MAX_DIMS];
} tod_tensor_info;

/* Loads a .ms file (mmap; weights are used in place, not copied). opts may be NULL. On
 * success *out owns the model; free it with tod_model_free. On failure *out is NULL and err
 * (errlen bytes, may be NULL) holds the reason. */
tod_status tod_model_load(const char *path, const tod_options *opts, tod_model **out, char *err,
                          size_t errlen);
/* Loads a .ms model from memory (a device without a file system, a model built into the
 * program). The buffer is borrowed: it must stay unchanged until tod_model_free, since weights
 * are used in place; any address works (weights a kernel could not read in place there are
 * copied). A training model trains on a private copy of the buffer. Otherwise as
 * tod_model_load. */
tod_status tod_model_load_buffer(const void *buf, size_t size, const tod_options *opts,
                                 tod_model **out, char *err, size_t errlen);
void tod_model_free(tod_model *m);
/* Message of the last failure on m ("" if none). Owned by m. */
const char *tod_model_error(const tod_model *m);

int tod_model_num_inputs(const tod_model *m);
int tod_model_num_outputs(const tod_model *m);
tod_status tod_model_input_info(const tod_model *m, int i, tod_tensor_info *info);
/* Output shapes are those of the last resize (known before the first run). */
tod_status tod_model_output_info(const tod_model *m, int i, tod_tensor_info *info);

/* Changes the shapes of all inputs (ndims[i] dims in dims[i]), re-infers every shape and
 * re-plans memory, as MindSpore Lite's Model::Resize. */
tod_status tod_model_resize(tod_model *m, const int *ndims, const int64_t *const *dims);

/* Copies nbytes of input i (must equal the input's size) into the model. */
tod_status tod_model_set_input(tod_model *m, int i, const void *data, size_t nbytes);
/* Runs the graph on the inputs set so far. */
tod_status tod_model_run(tod_model *m);
/* Per-node timing (benchmark --timeProfiling, as MindSpore Lite's): while fn is set,
 * tod_model_run calls fn(op, node, ms, ctx) after each node it runs, with the operator's name,
 * the node's name (both owned by the model) and the node's wall time. NULL turns it off. A
 * residual Add folded into its convolution is not run, so its time shows in the Conv2DFusion. */
typedef void (*tod_node_time_fn)(const char *op, const char *node, double ms, void *ctx);
void tod_model_set_node_timer(tod_model *m, tod_node_time_fn fn, void *ctx);
/* Output i of the last run: *data points into the model, valid until the next run, resize or
 * free; *nbytes is its size. */
tod_status tod_model_output(const tod_model *m, int i, const void **data, size_t *nbytes);

/* Summary numbers for `tod info`. */
typedef struct {
  int num_nodes;
  int num_tensors;
  size_t weight_bytes; /* constant data in the file */
  size_t arena_bytes;  /* planned activation memory */
  int num_threads;
  const char *isa;     /* kernels chosen at start-up: "avx512", "avx2", "neon", "scalar" */
} tod_model_stats;
tod_status tod_model_stats_get(const tod_model *m, tod_model_stats *st);
/* Number of nodes of each primitive: calls fn(name, count) once per primitive present. */
void tod_model_op_counts(const tod_model *m, void (*fn)(const char *op, int count, void *ctx),
                         void *ctx);

/* --- training ------------------------------------------------------------------------------
 * A training model (one with optimizer nodes: Adam, SGD, ApplyMomentum) is mapped copy-on-write:
 * training updates its weights in place in this process's memory, never in the file. */

/* 1 when the model holds optimizer nodes and can train. */
int tod_model_is_trainable(const tod_model *m);
/* Train mode (1): a step runs forward, loss, gradients and optimizers; BatchNorm uses batch
 * statistics and Dropout drops. Eval mode (0): only the inference part runs and the outputs are
 * the tensors the loss reads (the predictions). New models start in train mode when trainable. */
tod_status tod_model_set_train(tod_model *m, int train);
int tod_model_is_train(const tod_model *m);
/* One training step on the inputs set so far (data and labels): *loss receives the loss. With a
 * virtual batch of n > 1, gradients are accumulated and the weights change every n-th call. */
tod_status tod_model_train_step(tod_model *m, float *loss);
/* Gradient accumulation over n micro-batches (MindSpore Lite's virtual batch); the applied
 * gradient is the mean over the n micro-batches. n <= 1 turns it off (pending sums are applied). */
tod_status tod_model_set_virtual_batch(tod_model *m, int n);
/* Learning rate of every optimizer (MindSpore Lite's SetLearningRate: the lr tensor keeps its
 * stored value). */
tod_status tod_model_set_lr(tod_model *m, float lr);
float tod_model_get_lr(const tod_model *m);

typedef enum { TOD_LR_CONSTANT = 0, TOD_LR_STEP, TOD_LR_EXPONENTIAL, TOD_LR_COSINE } tod_lr_kind;
typedef struct {
  tod_lr_kind kind;
  float base_lr;
  int step_size;   /* STEP: multiply by gamma every step_size epochs */
  float gamma;     /* STEP, EXPONENTIAL (per epoch) */
  int total_epochs; /* COSINE: lr = min_lr + (base-min)(1+cos(pi*e/total))/2 */
  float min_lr;
} tod_lr_schedule;
/* The learning rate a schedule gives at epoch e (0-based). */
float tod_lr_at(const tod_lr_schedule *s, int epoch);

/* Index of the labels input (the input the loss reads that the inference part does not), or
 * -1 when there is none. */
int tod_model_label_input(const tod_model *m);

/* Writes the model with its current weights: the whole training graph (inference_only = 0), or
 * only the inference part with BatchNorm folded (inference_only = 1). Atomic. */
tod_status tod_model_export(tod_model *m, const char *path, int inference_only);

typedef enum { TOD_FORMAT_MS = 0, TOD_FORMAT_MINDIR, TOD_FORMAT_ONNX, TOD_FORMAT_AIR } tod_export_format;
/* Writes the model in another format (seed 003's export): MS as tod_model_export; ONNX (opset 13,
 * the inference part, NCHW in and out as the source model); MINDIR (the training graph, or the
 * inference part); AIR is TOD_NOT_SUPPORT (Ascend's toolchain only). Atomic. */
tod_status tod_model_export_as(tod_model *m, const char *path, tod_export_format format, int inference_only);

/* --- checkpoints (MindSpore .ckpt files, seed 003; docs/checkpoints.md) -----------------------
 * A checkpoint holds every parameter of a training model (weights, optimizer state such as
 * moment1./moment2./accum., BatchNorm running statistics, Adam's beta powers) under the source
 * model's names, plus `global_step` (Int32 [1]) and `learning_rate` (Float32 [1]). 4-D weights
 * the runtime keeps KHWC are stored in the source's OIHW order, as MindSpore's load_checkpoint
 * expects. Files are written crash-safely (temporary file, fsync, rename, fsync of the directory). */

/* Writes m's parameters and global_step to path. m must be a training model. */
tod_status tod_model_save_checkpoint(tod_model *m, const char *path, int64_t global_step);
/* Loads a checkpoint into a training model: every parameter of m must be present with its type
 * and shape (values the model does not have are ignored, as MindSpore's load_param_into_net
 * does); the learning rate is restored when present. *global_step (may be NULL) receives the
 * stored step, 0 when absent. A truncated or corrupt file is TOD_GRAPH_FILE_ERR, a checkpoint
 * of another model TOD_INPUT_PARAM_INVALID; on failure m is unchanged. */
tod_status tod_model_load_checkpoint(tod_model *m, const char *path, int64_t *global_step);

/* CheckpointConfig. The step policy and the time policy cannot act together: when both are set
 * the step policy wins; 0 turns either off. */
typedef struct {
  int save_checkpoint_steps;      /* save every N steps (default 1; 0: off) */
  double save_checkpoint_seconds; /* save every S seconds when the step policy is off (default 0) */
  int keep_checkpoint_max;        /* keep at most K checkpoint files of this run (default 5; 0: all) */
  double keep_checkpoint_per_n_minutes; /* besides, keep the first file of every M minutes (0: off) */
  const char *prefix;             /* file name prefix (default "checkpoint"); copied */
  const char *directory;          /* created when missing (default "."); copied */
  int steps_per_epoch;            /* for names PREFIX-EPOCH_STEP.ckpt (<= 0: every step in epoch 1) */
  double (*clock)(void *ctx);     /* seconds, for the time policies; NULL: CLOCK_MONOTONIC */
  void *clock_ctx;
} tod_checkpoint_config;

/* Fills c with MindSpore's defaults (above). */
void tod_checkpoint_config_default(tod_checkpoint_config *c);

/* A ModelCheckpoint callback: decides when to save, names files and applies retention. */
typedef struct tod_checkpointer tod_checkpointer;
/* Creates the directory if needed and picks the prefix of this run: PREFIX, or PREFIX_N with the
 * next free N when PREFIX's .ckpt files exist from an earlier run. start_step is the global step
 * training starts from (0, or the step of a resumed checkpoint). *out is owned by the caller
 * (tod_checkpointer_free); on failure it is NULL and err holds the reason. */
tod_status tod_checkpointer_create(const tod_checkpoint_config *cfg, int64_t start_step,
                                   tod_checkpointer **out, char *err, size_t errlen);
void tod_checkpointer_free(tod_checkpointer *c);
/* Call after every training step (global_step counts from 1): saves when the policy says so,
 * then deletes the checkpoints retention no longer keeps. */
tod_status tod_checkpointer_step_end(tod_checkpointer *c, tod_model *m, int64_t global_step);
/* Call when training ends normally: saves the last step unless it was just saved. */
tod_status tod_checkpointer_train_end(tod_checkpointer *c, tod_model *m, int64_t global_step);
/* Saves now (PREFIX-EPOCH_STEP.ckpt, and PREFIX-graph.meta once: the training graph as .ms). */
tod_status tod_checkpointer_save(tod_checkpointer *c, tod_model *m, int64_t global_step);
/* The prefix of this run (with its _N), the last file saved ("" before any), the last error.
 * Owned by c. */
const char *tod_checkpointer_prefix(const tod_checkpointer *c);
const char *tod_checkpointer_last_path(const tod_checkpointer *c);
const char *tod_checkpointer_error(const tod_checkpointer *c);

#ifdef __cplusplus
}
#endif

#endif
