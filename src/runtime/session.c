/* The inference session behind the public tod_model API: load a .ms file through mmap, create
 * one kernel per node, and on every resize infer shapes, compute shape-only subgraphs eagerly,
 * plan the activation arena and set kernels up. A run then only calls kernels. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "format/file_io.h"
#include "format/ms_read.h"
#include "ir/ir.h"
#include "ir/ir_op.h"
#include "ir/shape.h"
#include "runtime/cpu_features.h"
#include "runtime/dequant.h"
#include "runtime/fuse_channel_scale.h"
#include "runtime/fuse_pointwise_dw.h"
#include "runtime/fuse_residual.h"
#include "runtime/kernel.h"
#include "runtime/planner.h"
#include "runtime/session_internal.h"
#include "runtime/threadpool.h"
#include "tod/tod.h"

tod_status session_fail(tod_model *m, tod_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m->err, sizeof m->err, fmt, ap);
  va_end(ap);
  return st;
}

#define fail session_fail

static void *aligned_alloc64(size_t n) {
  void *p = NULL;
  if (n == 0) n = 64;
  if (n > SIZE_MAX - 63) return NULL;
  n = (n + 63) & ~(size_t)63;
  p = aligned_alloc(64, n);
  return p;
}

size_t session_view_bytes(const tod_view *v) {
  if (v->ndim < 0) return 0;
  size_t n = ir_dtype_size(v->dtype);
  int over = 0;
  for (int i = 0; i < v->ndim; i++) {
    if (v->dims[i] < 0) return 0;
    if (v->dims[i] && n > SIZE_MAX / (uint64_t)v->dims[i]) over = 1; /* a later 0 still wins */
    else n *= (size_t)v->dims[i];
  }
  for (int i = 0; over && i < v->ndim; i++)
    if (v->dims[i] == 0) return 0;
  return over ? SIZE_MAX : n;
}

/* Without a limit the session still never asks for more than the machine's physical memory:
 * such a need comes from an absurd shape, and refusing it beats an allocation that fails late
 * (or succeeds through overcommit and is killed on first touch). 0 when unknown. */
static size_t machine_memory(void) {
#ifdef _SC_PHYS_PAGES
  long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || psz <= 0) return 0;
  if ((unsigned long)pages > SIZE_MAX / (unsigned long)psz) return SIZE_MAX;
  return (size_t)pages * (size_t)psz;
#else
  return 0;
#endif
}

tod_status session_reserve(tod_model *m, size_t used, size_t need, const char *what) {
  if (need > SESSION_TENSOR_BYTES_MAX)
    return fail(m, TOD_MEMORY_FAILED, "%s needs %s%zu bytes, more than any tensor may hold (%zu)", what,
                need == SIZE_MAX ? "over " : "", need, SESSION_TENSOR_BYTES_MAX);
  size_t limit = m->max_memory ? m->max_memory : machine_memory();
  if (limit && (used > limit || need > limit - used))
    return fail(m, TOD_MEMORY_FAILED, "%s needs %zu bytes (%zu in use): over %s of %zu bytes", what, need, used,
                m->max_memory ? "the memory limit (max_memory)" : "this machine's physical memory", limit);
  return TOD_OK;
}

/* 1 when the node has outputs and every one has a known shape with a zero dimension. */
static int outputs_empty(const tod_model *m, const ir_node *n) {
  for (int j = 0; j < n->n_out; j++) {
    const tod_view *v = &m->views[n->out[j]];
    int zero = 0;
    for (int d = 0; d < v->ndim; d++) zero |= v->dims[d] == 0;
    if (v->ndim < 0 || !zero) return 0;
  }
  return n->n_out > 0;
}

/* Refuses a tensor whose shape makes it absurdly large before anything is allocated for it. */
static tod_status check_view_size(tod_model *m, int t) {
  const tod_view *v = &m->views[t];
  size_t b = session_view_bytes(v);
  if (b <= SESSION_TENSOR_BYTES_MAX) return TOD_OK;
  char shape[160] = "";
  size_t k = 0;
  for (int d = 0; d < v->ndim && k < sizeof shape; d++)
    k += (size_t)snprintf(shape + k, sizeof shape - k, "%s%lld", d ? ", " : "", (long long)v->dims[d]);
  if (b == SIZE_MAX)
    return fail(m, TOD_MEMORY_FAILED, "tensor %d (%s) of shape [%s]: its byte size overflows", t,
                m->g.tensors[t].name, shape);
  char what[400];
  snprintf(what, sizeof what, "tensor %d (%s) of shape [%s]", t, m->g.tensors[t].name, shape);
  return session_reserve(m, 0, b, what);
}

static void free_eager(tod_model *m) {
  m->eager_bytes = 0;
  if (!m->eager) return;
  for (int i = 0; i < m->g.n_tensors; i++) {
    free(m->eager[i]);
    m->eager[i] = NULL;
  }
}

void tod_model_free(tod_model *m) {
  if (!m) return;
  if (m->kernels) {
    for (int i = 0; i < m->g.n_nodes; i++)
      if (m->kernels[i].ops && m->kernels[i].ops->destroy) m->kernels[i].ops->destroy(&m->kernels[i]);
    free(m->kernels);
  }
  free_eager(m);
  free(m->eager);
  for (int i = 0; (m->inval || m->staged) && i < m->g.n_tensors; i++) {
    if (m->inval) free(m->inval[i]);
    if (m->staged) free(m->staged[i]);
  }
  free(m->inval);
  free(m->inval_known);
  free(m->staged);
  free(m->staged_n);
  free(m->views);
  free(m->skip);
  free(m->fuse_conv);
  free(m->fold_pw);
  free(m->scale_conv);
  free(m->arena);
  free(m->scratch);
  tod_threadpool_free(m->tp);
  train_free(m);
  ir_graph_free(&m->g);
  tod_unmap_file(&m->file);
  free(m->own_copy);
  free(m);
}

const char *tod_model_error(const tod_model *m) { return m ? m->err : "no model"; }

/* Collects the views of a node's inputs; absent optional inputs get rank -1. */
static void gather_inputs(const tod_model *m, const ir_node *n, tod_view *in) {
  for (int j = 0; j < n->n_in; j++) {
    if (n->in[j] < 0) {
      memset(&in[j], 0, sizeof in[j]);
      in[j].ndim = -1;
    } else {
      in[j] = m->views[n->in[j]];
    }
  }
}

/* In a value-dependent model (no trained weights), any node whose inputs are all known and whose
 * outputs are small is computed at prepare like a shape computation, whatever its dtype: the
 * float scales of a Resize or bounds of a Range then become known too. */
static int small_known(const tod_model *m, const ir_node *n, const tod_view *in, const tod_view *out) {
  if (!m->valdep) return 0;
  for (int j = 0; j < n->n_in; j++)
    if (n->in[j] >= 0 && !in[j].data && session_view_bytes(&in[j]) != 0) return 0;
  for (int j = 0; j < n->n_out; j++) {
    size_t b = session_view_bytes(&out[j]);
    if ((b == 0 && out[j].ndim < 0) || b > 64 * 8) return 0;
  }
  return n->n_out > 0;
}

/* Infers every shape for the current input shapes, computes shape-only nodes, plans the arena
 * and sets up every kernel. */
static tod_status prepare(tod_model *m) {
  ir_graph *g = &m->g;
  free_eager(m);
  /* Reset activation views; constants and inputs keep theirs. */
  for (int i = 0; i < g->n_tensors; i++) {
    ir_tensor *t = &g->tensors[i];
    if (t->kind == IR_TENSOR_CONST || t->kind == IR_TENSOR_PARAM) {
      m->views[i].dtype = t->dtype;
      m->views[i].ndim = t->ndim < 0 ? 0 : t->ndim;
      for (int d = 0; d < m->views[i].ndim; d++) m->views[i].dims[d] = t->dims[d];
      m->views[i].data = (void *)t->data;
      if (session_view_bytes(&m->views[i]) > t->nbytes)
        return fail(m, TOD_GRAPH_FILE_ERR, "constant tensor %d (%s) holds %zu bytes, its shape needs %zu",
                    i, t->name, t->nbytes, session_view_bytes(&m->views[i]));
    } else if (t->kind == IR_TENSOR_ACT) {
      m->views[i].ndim = -1;
      m->views[i].data = NULL;
    } else {
      /* A value input of a value-dependent model is known once set; others get arena space. */
      m->views[i].data = m->inval && m->inval_known[i] ? m->inval[i] : NULL;
    }
  }
  int nn = g->n_nodes;
  tod_view in[64], out[64];
  for (int i = 0; i < g->n_inputs; i++) {
    tod_status st = check_view_size(m, g->inputs[i]);
    if (st != TOD_OK) return st;
  }
  for (int i = 0; i < nn; i++) {
    ir_node *n = &g->nodes[i];
    m->skip[i] = 0;
    if (n->n_in > 64 || n->n_out > 64) return fail(m, TOD_NOT_SUPPORT, "node %s has too many inputs", n->name);
    gather_inputs(m, n, in);
    for (int j = 0; j < n->n_out; j++) {
      memset(&out[j], 0, sizeof out[j]);
      out[j].ndim = -1;
    }
    char err[256] = "";
    tod_status st = ir_infer_node(n, in, n->n_in, out, n->n_out, err, sizeof err);
    if (st != TOD_OK)
      return fail(m, st, "shape inference failed at node %d %s (%s): %s", i, n->name,
                  ir_op_name(n->op), err);
    for (int j = 0; j < n->n_out; j++) {
      tod_view *v = &m->views[n->out[j]];
      *v = out[j];
      v->data = NULL;
      ir_tensor *t = &g->tensors[n->out[j]];
      t->dtype = out[j].dtype;
      ir_tensor_set_shape(t, out[j].ndim, out[j].dims);
      st = check_view_size(m, n->out[j]);
      if (st != TOD_OK) return st;
    }
    if (outputs_empty(m, n) && !(m->role && (m->role[i] == ROLE_OPT || m->role[i] == ROLE_ASSIGN))) {
      /* Nothing to compute into empty outputs (a batch of 0): the kernel never sees them. */
      m->skip[i] = 1;
      continue;
    }
    if (ir_is_shape_computation(n, in, n->n_in, out, n->n_out) || small_known(m, n, in, out)) {
      /* Compute now: later shape inference (Reshape, Range, ...) needs the values. */
      for (int j = 0; j < n->n_out; j++) {
        size_t b = session_view_bytes(&m->views[n->out[j]]);
        st = session_reserve(m, m->eager_bytes, b, "a value computed at load");
        if (st != TOD_OK) return st;
        m->eager_bytes += b;
        m->eager[n->out[j]] = aligned_alloc64(b);
        if (!m->eager[n->out[j]]) return fail(m, TOD_MEMORY_FAILED, "out of memory");
        m->views[n->out[j]].data = m->eager[n->out[j]];
        out[j].data = m->eager[n->out[j]];
      }
      kernel *k = &m->kernels[i];
      size_t scratch = 0;
      if (k->ops->setup) {
        st = k->ops->setup(k, in, n->n_in, out, n->n_out, &scratch);
        if (st != TOD_OK) return fail(m, st, "node %s: %s", n->name, k->err);
      }
      void *tmp = scratch ? aligned_alloc64(scratch) : NULL;
      if (scratch && !tmp) return fail(m, TOD_MEMORY_FAILED, "out of memory");
      st = k->ops->run(k, in, n->n_in, out, n->n_out, tmp, NULL);
      free(tmp);
      if (st != TOD_OK) return fail(m, st, "node %s: %s", n->name, k->err);
      m->skip[i] = 1;
    }
  }
  fuse_residual_prepare(m);
  fuse_pointwise_dw_prepare(m);
  fuse_channel_scale_prepare(m);
  /* Lifetimes: graph inputs from step 0, outputs to the end; intermediates from their producer
   * to their last reader. Eagerly computed values and constants need no arena space. */
  int nt = g->n_tensors;
  plan_item *items = calloc((size_t)(nt ? nt : 1), sizeof *items);
  if (!items) return fail(m, TOD_MEMORY_FAILED, "out of memory");
  for (int t = 0; t < nt; t++) {
    items[t].first = nn + 1;
    items[t].last = -1;
  }
  /* Inputs stay intact for the whole run, so a caller may set them once and run many times. */
  for (int i = 0; i < g->n_inputs; i++) {
    items[g->inputs[i]].first = 0;
    items[g->inputs[i]].last = nn;
  }
  for (int i = 0; i < nn; i++) {
    const ir_node *n = &g->nodes[i];
    if (m->skip[i]) continue;
    /* A training step runs Assigns and optimizers after every other node (train.c), so what
     * they read and write must stay alive to the end of the step. */
    int late = m->role && (m->role[i] == ROLE_OPT || m->role[i] == ROLE_ASSIGN);
    for (int j = 0; j < n->n_in; j++) {
      int t = n->in[j];
      if (t < 0) continue;
      if (items[t].first > i) items[t].first = i;
      if (items[t].last < i) items[t].last = i;
      if (late) items[t].last = nn;
    }
    for (int j = 0; j < n->n_out; j++) {
      int t = n->out[j];
      if (items[t].first > i) items[t].first = i;
      if (items[t].last < i) items[t].last = i;
      if (late) items[t].last = nn;
    }
  }
  for (int i = 0; i < g->n_outputs; i++) items[g->outputs[i]].last = nn;
  fuse_residual_lifetimes(m, items);
  fuse_pointwise_dw_lifetimes(m, items);
  fuse_channel_scale_lifetimes(m, items);
  for (int t = 0; t < nt; t++) {
    ir_tensor *tt = &g->tensors[t];
    if (tt->kind == IR_TENSOR_CONST || tt->kind == IR_TENSOR_PARAM || m->eager[t] || items[t].last < 0) continue;
    if (m->inval && m->inval[t]) continue; /* value inputs live in their own buffers */
    items[t].size = session_view_bytes(&m->views[t]);
    if (items[t].size == 0 && m->views[t].ndim >= 0) items[t].size = 1; /* empty tensors */
  }
  /* Inference models: a Reshape-like node whose input dies there writes nothing; its output is
   * the input's bytes (alias[t]: the tensor whose arena slot t shares, -1). Training models keep
   * the copy: backward kernels read both sides. */
  int *alias = m->trainable ? NULL : malloc(sizeof(int) * (size_t)(nt ? nt : 1));
  for (int t = 0; alias && t < nt; t++) alias[t] = -1;
  for (int i = 0; alias && i < nn; i++) {
    const ir_node *n = &g->nodes[i];
    int op = n->op;
    if (m->skip[i] || n->n_in < 1 || n->n_out != 1 || n->in[0] < 0 ||
        (op != IR_OP_Reshape && op != IR_OP_Flatten && op != IR_OP_Squeeze && op != IR_OP_Unsqueeze &&
         op != IR_OP_ExpandDims))
      continue;
    int r = n->in[0], y = n->out[0];
    while (alias[r] >= 0) r = alias[r];
    if (!items[r].size || !items[y].size || items[y].size > items[r].size || items[r].last != i) continue;
    items[r].last = items[y].last;
    items[y].size = 0;
    alias[y] = r;
  }
  size_t total = 0;
  tod_status st = plan_memory(items, nt, &total);
  if (st != TOD_OK) {
    free(items);
    free(alias);
    return fail(m, st, "memory planning failed");
  }
  st = session_reserve(m, m->eager_bytes, total, "the activation arena");
  if (st != TOD_OK) {
    free(items);
    free(alias);
    return st;
  }
  if (total > m->arena_size) {
    free(m->arena);
    m->arena = aligned_alloc64(total);
    m->arena_size = m->arena ? total : 0;
    if (!m->arena) {
      free(items);
      free(alias);
      return fail(m, TOD_MEMORY_FAILED, "cannot allocate %zu bytes of activation memory", total);
    }
  }
  for (int t = 0; t < nt; t++)
    if (items[t].size > 0) m->views[t].data = m->arena + items[t].offset;
  for (int t = 0; alias && t < nt; t++) {
    int r = t;
    while (alias[r] >= 0) r = alias[r];
    if (r != t) m->views[t].data = m->views[r].data;
  }
  free(items);
  free(alias);
  /* Kernels see their shapes once here; the largest scratch is shared by all. */
  size_t max_scratch = 0;
  for (int i = 0; i < nn; i++) {
    if (m->skip[i]) continue;
    const ir_node *n = &g->nodes[i];
    kernel *k = &m->kernels[i];
    gather_inputs(m, n, in);
    for (int j = 0; j < n->n_out; j++) out[j] = m->views[n->out[j]];
    size_t scratch = 0;
    if (k->ops->setup) {
      st = k->ops->setup(k, in, n->n_in, out, n->n_out, &scratch);
      if (st != TOD_OK) return fail(m, st, "setup failed at node %s (%s): %s", n->name, ir_op_name(n->op), k->err);
    }
    if (scratch > max_scratch) max_scratch = scratch;
  }
  st = session_reserve(m, m->eager_bytes + total, max_scratch, "kernel scratch memory");
  if (st != TOD_OK) return st;
  if (max_scratch > m->scratch_size) {
    free(m->scratch);
    m->scratch = aligned_alloc64(max_scratch);
    m->scratch_size = m->scratch ? max_scratch : 0;
    if (!m->scratch) return fail(m, TOD_MEMORY_FAILED, "cannot allocate %zu bytes of scratch", max_scratch);
  }
  return TOD_OK;
}

/* Value-dependent models (docs/ops.md, "Shapes from input values"). A small graph input may carry
 * a value shape inference needs: integers (int32/int64) of at most 64 elements, or floats of
 * rank <= 1 and at most 64 elements (Resize scales, Range bounds). */
#define VALUE_INPUT_MAX 64
static int is_value_input(const tod_view *v) {
  int64_t k = 1;
  for (int d = 0; d < v->ndim; d++) k *= v->dims[d];
  if (k > VALUE_INPUT_MAX) return 0;
  if (v->dtype == IR_DT_INT32 || v->dtype == IR_DT_INT64) return 1;
  return (v->dtype == IR_DT_FLOAT32 || v->dtype == IR_DT_FLOAT64) && v->ndim <= 1;
}

/* Called when the first prepare fails for want of a value: gives every small input its own
 * persistent buffer (outside the arena, like m->eager) and defers planning to the first run.
 * Keeps the original error when no input could supply the value. */
static tod_status setup_value_inputs(tod_model *m) {
  int nt = m->g.n_tensors, any = 0;
  for (int i = 0; i < m->g.n_inputs; i++) any |= is_value_input(&m->views[m->g.inputs[i]]);
  if (!any || m->trainable) return TOD_INFER_INVALID;
  m->inval = calloc((size_t)nt, sizeof *m->inval);
  m->inval_known = calloc((size_t)nt, 1);
  m->staged = calloc((size_t)nt, sizeof *m->staged);
  m->staged_n = calloc((size_t)nt, sizeof *m->staged_n);
  if (!m->inval || !m->inval_known || !m->staged || !m->staged_n)
    return fail(m, TOD_MEMORY_FAILED, "out of memory");
  for (int i = 0; i < m->g.n_inputs; i++) {
    int t = m->g.inputs[i];
    if (!is_value_input(&m->views[t])) continue;
    m->inval[t] = aligned_alloc64(VALUE_INPUT_MAX * 8);
    if (!m->inval[t]) return fail(m, TOD_MEMORY_FAILED, "out of memory");
  }
  m->valdep = 1;
  m->dirty = 1;
  return TOD_OK;
}

/* Marks the plan of a value-dependent model stale; ordinary inputs already in the arena are
 * kept as staged copies, since the next plan may move them. */
static tod_status mark_dirty(tod_model *m) {
  for (int i = 0; !m->dirty && i < m->g.n_inputs; i++) {
    int t = m->g.inputs[i];
    size_t b = session_view_bytes(&m->views[t]);
    if (m->inval[t] || m->staged[t] || !m->views[t].data || !b) continue;
    m->staged[t] = malloc(b);
    if (!m->staged[t]) return fail(m, TOD_MEMORY_FAILED, "out of memory");
    memcpy(m->staged[t], m->views[t].data, b);
    m->staged_n[t] = b;
  }
  m->dirty = 1;
  return TOD_OK;
}

/* Loads from a file (path) or from the caller's bytes (buf, size). */
static tod_status load(const char *path, const void *buf, size_t size, const tod_options *opts,
                       tod_model **out, char *err, size_t errlen) {
  char dummy[8];
  if (!err) {
    err = dummy;
    errlen = sizeof dummy;
  }
  if (errlen) err[0] = 0;
  if (!out) {
    snprintf(err, errlen, "no place for the model (out is NULL)");
    return TOD_NULL_PTR;
  }
  *out = NULL;
  if (!path && !buf) {
    snprintf(err, errlen, "no model path or buffer");
    return TOD_NULL_PTR;
  }
  tod_model *m = calloc(1, sizeof *m);
  if (!m) return TOD_MEMORY_FAILED;
  ir_graph_init(&m->g);
  tod_status st = path ? tod_map_file(path, &m->file, m->err, sizeof m->err) : TOD_OK;
  if (st == TOD_OK)
    st = path ? ms_read(m->file.data, m->file.size, &m->g, m->err, sizeof m->err)
              : ms_read(buf, size, &m->g, m->err, sizeof m->err);
  if (st == TOD_OK) {
    /* A training model updates weights in place: map it again copy-on-write. */
    int has_opt = 0;
    for (int i = 0; i < m->g.n_nodes; i++) {
      int op = m->g.nodes[i].op;
      if (op == IR_OP_Adam || op == IR_OP_SGD || op == IR_OP_ApplyMomentum) has_opt = 1;
    }
    if (has_opt && path) {
      ir_graph_free(&m->g);
      tod_unmap_file(&m->file);
      st = tod_map_file_private(path, &m->file, m->err, sizeof m->err);
      if (st == TOD_OK) st = ms_read(m->file.data, m->file.size, &m->g, m->err, sizeof m->err);
    } else if (has_opt) {
      /* The caller's bytes are read-only to us: train on a private copy. */
      ir_graph_free(&m->g);
      m->own_copy = malloc(size ? size : 1);
      if (!m->own_copy) st = fail(m, TOD_MEMORY_FAILED, "out of memory");
      if (st == TOD_OK) memcpy(m->own_copy, buf, size);
      if (st == TOD_OK) st = ms_read(m->own_copy, size, &m->g, m->err, sizeof m->err);
    }
  }
  if (st == TOD_OK) st = ir_validate(&m->g, m->err, sizeof m->err);
  if (st == TOD_OK) st = ir_toposort(&m->g, m->err, sizeof m->err);
  /* Weight-quantized tensors become float before any kernel packs them (runtime/dequant.c). */
  if (st == TOD_OK) st = tod_dequant_graph(&m->g, &m->file, NULL, m->err, sizeof m->err);
  if (st == TOD_OK) {
    int nt = m->g.n_tensors, nn = m->g.n_nodes;
    m->views = calloc((size_t)(nt ? nt : 1), sizeof *m->views);
    m->eager = calloc((size_t)(nt ? nt : 1), sizeof *m->eager);
    m->skip = calloc((size_t)(nn ? nn : 1), 1);
    m->kernels = calloc((size_t)(nn ? nn : 1), sizeof *m->kernels);
    if (!m->views || !m->eager || !m->skip || !m->kernels) st = fail(m, TOD_MEMORY_FAILED, "out of memory");
  }
  /* Roles and parameters before kernels exist: kernels must not pack weights that train. */
  if (st == TOD_OK) st = train_setup_roles(m);
  if (st == TOD_OK) {
    m->num_threads = opts && opts->num_threads > 0 ? opts->num_threads : 0;
    m->max_memory = opts ? opts->max_memory : 0;
    st = tod_threadpool_create(m->num_threads, &m->tp);
    if (st != TOD_OK) fail(m, st, "cannot start the thread pool");
    m->num_threads = tod_threadpool_size(m->tp);
  }
  /* Graph inputs: their stored shape (unknown dims taken as 1 until a resize). */
  for (int i = 0; st == TOD_OK && i < m->g.n_inputs; i++) {
    ir_tensor *t = &m->g.tensors[m->g.inputs[i]];
    t->kind = IR_TENSOR_INPUT;
    tod_view *v = &m->views[m->g.inputs[i]];
    v->dtype = t->dtype;
    v->ndim = t->ndim < 0 ? 0 : t->ndim;
    for (int d = 0; d < v->ndim; d++) v->dims[d] = t->dims[d] < 0 ? 1 : t->dims[d];
  }
  for (int i = 0; st == TOD_OK && i < m->g.n_nodes; i++) {
    ir_node *n = &m->g.nodes[i];
    kernel *k = &m->kernels[i];
    k->ops = kernel_lookup(n->op);
    k->node = n;
    if (!k->ops) {
      const char *name = ir_op_name(n->op);
      st = fail(m, TOD_NOT_FIND_OP, "no kernel for operator %s (node %s)", name ? name : "?", n->name);
      break;
    }
    st = k->ops->create(k, &m->g, n);
    if (st != TOD_OK) {
      fail(m, st, "cannot create %s node %s: %s", ir_op_name(n->op), n->name, k->err);
      k->ops = NULL; /* nothing to destroy */
    }
  }
  if (st == TOD_OK) fuse_residual_find(m);
  if (st == TOD_OK) fuse_pointwise_dw_find(m);
  if (st == TOD_OK) fuse_channel_scale_find(m);
  if (st == TOD_OK) st = prepare(m);
  if (st == TOD_INFER_INVALID) st = setup_value_inputs(m);
  if (st != TOD_OK) {
    snprintf(err, errlen, "%s", m->err);
    tod_model_free(m);
    return st;
  }
  *out = m;
  return TOD_OK;
}

tod_status tod_model_load(const char *path, const tod_options *opts, tod_model **out, char *err,
                          size_t errlen) {
  return load(path, NULL, 0, opts, out, err, errlen);
}

tod_status tod_model_load_buffer(const void *buf, size_t size, const tod_options *opts,
                                 tod_model **out, char *err, size_t errlen) {
  return load(NULL, buf, size, opts, out, err, errlen);
}

int tod_model_num_inputs(const tod_model *m) { return m ? m->g.n_inputs : -1; }
int tod_model_num_outputs(const tod_model *m) { return m ? train_num_outputs(m) : -1; }

static void fill_info(const tod_model *m, int t, tod_tensor_info *info) {
  const tod_view *v = &m->views[t];
  info->name = m->g.tensors[t].name;
  info->dtype = v->dtype;
  info->ndim = v->ndim < 0 ? 0 : v->ndim;
  for (int d = 0; d < info->ndim; d++) info->dims[d] = v->dims[d];
}

tod_status tod_model_input_info(const tod_model *m, int i, tod_tensor_info *info) {
  if (!m || !info) return TOD_NULL_PTR;
  if (i < 0 || i >= m->g.n_inputs) return TOD_OUT_OF_TENSOR_RANGE;
  fill_info(m, m->g.inputs[i], info);
  return TOD_OK;
}

tod_status tod_model_output_info(const tod_model *m, int i, tod_tensor_info *info) {
  if (!m || !info) return TOD_NULL_PTR;
  if (i < 0 || i >= train_num_outputs(m)) return TOD_OUT_OF_TENSOR_RANGE;
  fill_info(m, train_output_tensor(m, i), info);
  return TOD_OK;
}

tod_status tod_model_resize(tod_model *m, const int *ndims, const int64_t *const *dims) {
  if (!m) return TOD_NULL_PTR;
  if (!ndims || !dims) return fail(m, TOD_NULL_PTR, "resize: ndims and dims are required");
  for (int i = 0; i < m->g.n_inputs; i++)
    if (ndims[i] > 0 && !dims[i]) return fail(m, TOD_NULL_PTR, "resize: input %d has no dims", i);
  for (int i = 0; i < m->g.n_inputs; i++) {
    if (ndims[i] < 0 || ndims[i] > IR_MAX_DIMS)
      return fail(m, TOD_INPUT_PARAM_INVALID, "input %d: rank %d out of range", i, ndims[i]);
    for (int d = 0; d < ndims[i]; d++)
      if (dims[i][d] < 0) return fail(m, TOD_INPUT_PARAM_INVALID, "input %d: negative dimension", i);
  }
  for (int i = 0; i < m->g.n_inputs; i++) {
    tod_view *v = &m->views[m->g.inputs[i]];
    v->ndim = ndims[i];
    for (int d = 0; d < ndims[i]; d++) v->dims[d] = dims[i][d];
    ir_tensor_set_shape(&m->g.tensors[m->g.inputs[i]], ndims[i], dims[i]);
  }
  if (!m->valdep) return prepare(m);
  /* Value-dependent: a value input's old value no longer fits its new shape; plan at run. */
  for (int i = 0; i < m->g.n_inputs; i++) {
    int t = m->g.inputs[i];
    if (!m->inval[t]) continue;
    if (!is_value_input(&m->views[t]))
      return fail(m, TOD_INPUT_PARAM_INVALID, "input %d (%s) carries a value shapes depend on: at most %d elements",
                  i, m->g.tensors[t].name, VALUE_INPUT_MAX);
    m->inval_known[t] = 0;
  }
  for (int t = 0; t < m->g.n_tensors; t++) {
    free(m->staged[t]);
    m->staged[t] = NULL;
  }
  m->dirty = 1;
  return TOD_OK;
}

tod_status tod_model_set_input(tod_model *m, int i, const void *data, size_t nbytes) {
  if (!m) return TOD_NULL_PTR;
  if (!data) return fail(m, TOD_NULL_PTR, "input %d: no data", i);
  if (i < 0 || i >= m->g.n_inputs) return fail(m, TOD_OUT_OF_TENSOR_RANGE, "no input %d", i);
  tod_view *v = &m->views[m->g.inputs[i]];
  size_t need = session_view_bytes(v);
  if (nbytes != need)
    return fail(m, TOD_INPUT_TENSOR_ERROR, "input %d (%s) needs %zu bytes, got %zu", i,
                m->g.tensors[m->g.inputs[i]].name, need, nbytes);
  int t = m->g.inputs[i];
  if (m->valdep && m->inval[t]) {
    /* A value shapes may depend on: a new value needs a new plan. */
    if (m->inval_known[t] && memcmp(m->inval[t], data, need) == 0) return TOD_OK;
    tod_status st = mark_dirty(m);
    if (st != TOD_OK) return st;
    if (need) memcpy(m->inval[t], data, need);
    m->inval_known[t] = 1;
    return TOD_OK;
  }
  if (m->valdep && m->dirty) {
    /* The arena is planned at the next run: keep a copy until then. */
    void *p = realloc(m->staged[t], need ? need : 1);
    if (!p) return fail(m, TOD_MEMORY_FAILED, "out of memory");
    memcpy(p, data, need);
    m->staged[t] = p;
    m->staged_n[t] = need;
    return TOD_OK;
  }
  if (need && v->data) memcpy(v->data, data, need);
  return TOD_OK;
}

/* Plans a value-dependent model for the values set, then moves staged inputs into the arena. */
static tod_status replan(tod_model *m) {
  tod_status st = prepare(m);
  if (st != TOD_OK) return st;
  for (int i = 0; i < m->g.n_inputs; i++) {
    int t = m->g.inputs[i];
    if (!m->staged[t]) continue;
    if (m->staged_n[t] == session_view_bytes(&m->views[t]) && m->views[t].data)
      memcpy(m->views[t].data, m->staged[t], m->staged_n[t]);
    free(m->staged[t]);
    m->staged[t] = NULL;
  }
  m->dirty = 0;
  return TOD_OK;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

tod_status session_run_node(tod_model *m, int i) {
  tod_view in[64], out[64];
  const ir_node *n = &m->g.nodes[i];
  kernel *k = &m->kernels[i];
  gather_inputs(m, n, in);
  for (int j = 0; j < n->n_out; j++) out[j] = m->views[n->out[j]];
  k->train = m->train;
  tod_status st = k->ops->run(k, in, n->n_in, out, n->n_out, m->scratch, m->tp);
  if (st != TOD_OK)
    return fail(m, st, "node %s (%s) failed: %s", n->name, ir_op_name(n->op), k->err);
  return TOD_OK;
}

/* Inference (or eval mode of a training model): the inference part only. In train mode this is
 * a forward pass with batch statistics and no updates (use tod_model_train_step to learn). */
tod_status tod_model_run(tod_model *m) {
  if (!m) return TOD_NULL_PTR;
  if (m->valdep && m->dirty) {
    tod_status st = replan(m);
    if (st != TOD_OK) return st;
  }
  for (int i = 0; i < m->g.n_nodes; i++) {
    if (m->skip[i]) continue;
    if (m->trainable && !m->in_infer[i]) continue;
    /* Optional per-node timing hook (benchmark --timeProfiling): one branch when off. */
    const double t0 = m->node_timer ? now_ms() : 0;
    tod_status st = session_run_node(m, i);
    if (st != TOD_OK) return st;
    if (m->node_timer)
      m->node_timer(ir_op_name(m->g.nodes[i].op), m->g.nodes[i].name, now_ms() - t0,
                    m->node_timer_ctx);
  }
  return TOD_OK;
}

void tod_model_set_node_timer(tod_model *m, tod_node_time_fn fn, void *ctx) {
  if (!m) return;
  m->node_timer = fn;
  m->node_timer_ctx = ctx;
}

tod_status tod_model_output(const tod_model *m, int i, const void **data, size_t *nbytes) {
  if (!m || !data || !nbytes) return TOD_NULL_PTR;
  if (i < 0 || i >= train_num_outputs(m)) return TOD_OUT_OF_TENSOR_RANGE;
  const tod_view *v = &m->views[train_output_tensor(m, i)];
  *data = v->data;
  *nbytes = session_view_bytes(v);
  return TOD_OK;
}

tod_status tod_model_stats_get(const tod_model *m, tod_model_stats *s) {
  if (!m || !s) return TOD_NULL_PTR;
  memset(s, 0, sizeof *s);
  s->num_nodes = m->g.n_nodes;
  s->num_tensors = m->g.n_tensors;
  for (int i = 0; i < m->g.n_tensors; i++)
    if (m->g.tensors[i].kind == IR_TENSOR_CONST || m->g.tensors[i].kind == IR_TENSOR_PARAM) s->weight_bytes += m->g.tensors[i].nbytes;
  s->arena_bytes = m->arena_size;
  s->num_threads = m->num_threads;
  s->isa = tod_isa_name(tod_cpu_isa());
  return TOD_OK;
}

void tod_model_op_counts(const tod_model *m, void (*fn)(const char *op, int count, void *ctx),
                         void *ctx) {
  if (!m || !fn) return;
  int counts[IR_OP_COUNT] = {0};
  for (int i = 0; i < m->g.n_nodes; i++)
    if (m->g.nodes[i].op > 0 && m->g.nodes[i].op < IR_OP_COUNT) counts[m->g.nodes[i].op]++;
  for (int op = 1; op < IR_OP_COUNT; op++)
    if (counts[op]) fn(ir_op_name(op), counts[op], ctx);
}
