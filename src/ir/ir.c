/* Graph IR: construction, attributes and structural helpers. */
#include "ir/ir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/deferred.h"
#include "ir/ir_op.h"
#include "ir/source_pages.h"

static char *dup_str(const char *s) {
  if (!s) s = "";
  size_t n = strlen(s);
  char *r = malloc(n + 1);
  if (r) memcpy(r, s, n + 1);
  return r;
}

void ir_graph_init(ir_graph *g) { memset(g, 0, sizeof *g); }

static void free_attrs(ir_node *n) {
  for (int i = 0; i < n->n_attrs; i++) {
    free(n->attrs[i].ints);
    free(n->attrs[i].floats);
    free(n->attrs[i].s);
  }
  free(n->attrs);
  n->attrs = NULL;
  n->n_attrs = 0;
}

static void free_node(ir_node *n) {
  free(n->name);
  free(n->in);
  free(n->out);
  free_attrs(n);
}

static void free_tensor(ir_tensor *t) {
  free(t->name);
  free(t->owned);
  free(t->quant);
  free(t->clusters);
}

void ir_graph_free(ir_graph *g) {
  if (!g) return;
  for (int i = 0; i < g->n_tensors; i++) free_tensor(&g->tensors[i]);
  for (int i = 0; i < g->n_nodes; i++) free_node(&g->nodes[i]);
  free(g->tensors);
  free(g->nodes);
  free(g->inputs);
  free(g->outputs);
  free(g->name);
  free(g->version);
  memset(g, 0, sizeof *g);
}

void ir_graph_uses(const ir_graph *g, int *producer, int *readers) {
  for (int t = 0; t < g->n_tensors; t++) {
    producer[t] = -1;
    readers[t] = 0;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const ir_node *n = &g->nodes[i];
    for (int j = 0; j < n->n_out; j++)
      if (n->out[j] >= 0) producer[n->out[j]] = i;
    for (int j = 0; j < n->n_in; j++)
      if (n->in[j] >= 0) readers[n->in[j]]++;
  }
  for (int i = 0; i < g->n_outputs; i++) readers[g->outputs[i]]++;
}

int ir_add_tensor(ir_graph *g, const char *name) {
  if (g->n_tensors == g->cap_tensors) {
    int cap = g->cap_tensors ? g->cap_tensors * 2 : 64;
    ir_tensor *t = realloc(g->tensors, (size_t)cap * sizeof *t);
    if (!t) return -1;
    g->tensors = t;
    g->cap_tensors = cap;
  }
  ir_tensor *t = &g->tensors[g->n_tensors];
  memset(t, 0, sizeof *t);
  t->name = dup_str(name);
  if (!t->name) return -1;
  t->dtype = IR_DT_FLOAT32;
  t->ndim = -1;
  t->format = IR_FMT_NCHW;
  t->kind = IR_TENSOR_ACT;
  return g->n_tensors++;
}

int ir_add_node(ir_graph *g, int op, const char *name, const int *in, int n_in, const int *out,
                int n_out) {
  if (n_in < 0 || n_out < 0) return -1;
  if (g->n_nodes == g->cap_nodes) {
    int cap = g->cap_nodes ? g->cap_nodes * 2 : 64;
    ir_node *n = realloc(g->nodes, (size_t)cap * sizeof *n);
    if (!n) return -1;
    g->nodes = n;
    g->cap_nodes = cap;
  }
  ir_node *n = &g->nodes[g->n_nodes];
  memset(n, 0, sizeof *n);
  n->op = op;
  n->name = dup_str(name);
  n->in = malloc(sizeof(int) * (size_t)(n_in ? n_in : 1));
  n->out = malloc(sizeof(int) * (size_t)(n_out ? n_out : 1));
  if (!n->name || !n->in || !n->out) {
    free_node(n);
    return -1;
  }
  if (n_in) memcpy(n->in, in, sizeof(int) * (size_t)n_in);
  if (n_out) memcpy(n->out, out, sizeof(int) * (size_t)n_out);
  n->n_in = n_in;
  n->n_out = n_out;
  return g->n_nodes++;
}

static tod_status append_int(int **arr, int *n, int v) {
  int *a = realloc(*arr, sizeof(int) * (size_t)(*n + 1));
  if (!a) return TOD_MEMORY_FAILED;
  a[(*n)++] = v;
  *arr = a;
  return TOD_OK;
}

tod_status ir_add_input(ir_graph *g, int tensor) { return append_int(&g->inputs, &g->n_inputs, tensor); }
tod_status ir_add_output(ir_graph *g, int tensor) {
  return append_int(&g->outputs, &g->n_outputs, tensor);
}

void ir_tensor_set_shape(ir_tensor *t, int ndim, const int64_t *dims) {
  if (ndim > IR_MAX_DIMS) ndim = IR_MAX_DIMS;
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++) t->dims[i] = dims[i];
}

int64_t ir_tensor_numel(const ir_tensor *t) {
  if (t->ndim < 0) return -1;
  int64_t n = 1;
  for (int i = 0; i < t->ndim; i++) {
    if (t->dims[i] < 0) return -1;
    n *= t->dims[i];
  }
  return n;
}

size_t ir_dtype_size(int dtype) {
  switch (dtype) {
    case IR_DT_BOOL:
    case IR_DT_INT8:
    case IR_DT_UINT8: return 1;
    case IR_DT_INT16:
    case IR_DT_UINT16:
    case IR_DT_FLOAT16: return 2;
    case IR_DT_INT32:
    case IR_DT_UINT32:
    case IR_DT_FLOAT32: return 4;
    case IR_DT_INT64:
    case IR_DT_UINT64:
    case IR_DT_FLOAT64: return 8;
    default: return 0;
  }
}

const char *ir_dtype_name(int dtype) {
  switch (dtype) {
    case IR_DT_BOOL: return "bool";
    case IR_DT_INT8: return "int8";
    case IR_DT_UINT8: return "uint8";
    case IR_DT_INT16: return "int16";
    case IR_DT_UINT16: return "uint16";
    case IR_DT_FLOAT16: return "float16";
    case IR_DT_INT32: return "int32";
    case IR_DT_UINT32: return "uint32";
    case IR_DT_FLOAT32: return "float32";
    case IR_DT_INT64: return "int64";
    case IR_DT_UINT64: return "uint64";
    case IR_DT_FLOAT64: return "float64";
    default: return "unknown";
  }
}

tod_status ir_tensor_set_data_copy(ir_tensor *t, const void *data, size_t nbytes) {
  void *buf = malloc(nbytes ? nbytes : 1);
  if (!buf) return TOD_MEMORY_FAILED;
  if (data && nbytes) memcpy(buf, data, nbytes);
  else memset(buf, 0, nbytes ? nbytes : 1);
  ir_tensor_set_data_owned(t, buf, nbytes);
  return TOD_OK;
}

void ir_tensor_set_data_borrow(ir_tensor *t, const void *data, size_t nbytes) {
  free(t->owned);
  t->owned = NULL;
  t->src = NULL;
  t->data = data;
  t->nbytes = nbytes;
  t->kind = IR_TENSOR_CONST;
}

void ir_tensor_set_data_owned(ir_tensor *t, void *buf, size_t nbytes) {
  /* Borrowed data replaced (a folded or relaid-out weight): its source pages can go. */
  if (!t->owned && t->data && t->data != buf) ir_source_release(t->data, t->nbytes);
  if (t->src) ir_source_release(t->src, t->nbytes);
  t->src = NULL;
  if (t->owned != buf) free(t->owned);
  t->owned = buf;
  t->data = buf;
  t->nbytes = nbytes;
  t->kind = IR_TENSOR_CONST;
}

tod_status ir_graph_clone(const ir_graph *src, ir_graph *dst) {
  ir_graph_init(dst);
  dst->name = dup_str(src->name);
  dst->version = dup_str(src->version);
  dst->fmk_type = src->fmk_type;
  if (!dst->name || !dst->version) goto oom;
  for (int i = 0; i < src->n_tensors; i++) {
    const ir_tensor *s = &src->tensors[i];
    int t = ir_add_tensor(dst, s->name);
    if (t < 0) goto oom;
    ir_tensor *d = &dst->tensors[t];
    d->dtype = s->dtype;
    d->ndim = s->ndim;
    memcpy(d->dims, s->dims, sizeof d->dims);
    d->format = s->format;
    d->kind = s->kind;
    d->compress_type = s->compress_type;
    if (s->src) { /* a deferred weight is copied as its final bytes */
      void *buf = malloc(s->nbytes ? s->nbytes : 1);
      if (!buf) goto oom;
      ir_tensor_fill(s, 0, s->nbytes, buf);
      ir_tensor_set_data_owned(d, buf, s->nbytes);
      d->kind = s->kind;
    } else if (s->data || s->nbytes) {
      ir_tensor_kind kind = s->kind;
      if (ir_tensor_set_data_copy(d, s->data, s->nbytes) != TOD_OK) goto oom;
      d->kind = kind;
    }
    if (s->n_quant) {
      d->quant = malloc(sizeof(ir_quant_param) * (size_t)s->n_quant);
      if (!d->quant) goto oom;
      memcpy(d->quant, s->quant, sizeof(ir_quant_param) * (size_t)s->n_quant);
      d->n_quant = s->n_quant;
    }
    if (s->n_clusters) {
      d->clusters = malloc(sizeof(float) * (size_t)s->n_clusters);
      if (!d->clusters) goto oom;
      memcpy(d->clusters, s->clusters, sizeof(float) * (size_t)s->n_clusters);
      d->n_clusters = s->n_clusters;
    }
  }
  for (int i = 0; i < src->n_nodes; i++) {
    const ir_node *s = &src->nodes[i];
    int k = ir_add_node(dst, s->op, s->name, s->in, s->n_in, s->out, s->n_out);
    if (k < 0) goto oom;
    ir_node *d = &dst->nodes[k];
    d->quant_type = s->quant_type;
    for (int a = 0; a < s->n_attrs; a++) {
      const ir_attr *at = &s->attrs[a];
      tod_status st = TOD_OK;
      switch (at->type) {
        case IR_ATTR_INT: st = ir_attr_set_int(d, at->key, at->i); break;
        case IR_ATTR_FLOAT: st = ir_attr_set_float(d, at->key, at->f); break;
        case IR_ATTR_INTS: st = ir_attr_set_ints(d, at->key, at->ints, at->n); break;
        case IR_ATTR_FLOATS: st = ir_attr_set_floats(d, at->key, at->floats, at->n); break;
        case IR_ATTR_STRING: st = ir_attr_set_string(d, at->key, at->s); break;
        case IR_ATTR_INTS2D: st = ir_attr_set_ints2d(d, at->key, at->ints, at->n, at->cols); break;
      }
      if (st != TOD_OK) goto oom;
    }
  }
  for (int i = 0; i < src->n_inputs; i++)
    if (ir_add_input(dst, src->inputs[i]) != TOD_OK) goto oom;
  for (int i = 0; i < src->n_outputs; i++)
    if (ir_add_output(dst, src->outputs[i]) != TOD_OK) goto oom;
  return TOD_OK;
oom:
  ir_graph_free(dst);
  return TOD_MEMORY_FAILED;
}

/* --- attributes ---------------------------------------------------------------------------- */

static ir_attr *attr_slot(ir_node *n, const char *key) {
  for (int i = 0; i < n->n_attrs; i++) {
    if (strcmp(n->attrs[i].key, key) == 0) {
      ir_attr *a = &n->attrs[i];
      free(a->ints);
      free(a->floats);
      free(a->s);
      memset(a, 0, sizeof *a);
      a->key = key;
      return a;
    }
  }
  ir_attr *arr = realloc(n->attrs, sizeof(ir_attr) * (size_t)(n->n_attrs + 1));
  if (!arr) return NULL;
  n->attrs = arr;
  ir_attr *a = &arr[n->n_attrs++];
  memset(a, 0, sizeof *a);
  a->key = key;
  return a;
}

tod_status ir_attr_set_int(ir_node *n, const char *key, int64_t v) {
  ir_attr *a = attr_slot(n, key);
  if (!a) return TOD_MEMORY_FAILED;
  a->type = IR_ATTR_INT;
  a->i = v;
  return TOD_OK;
}

tod_status ir_attr_set_float(ir_node *n, const char *key, double v) {
  ir_attr *a = attr_slot(n, key);
  if (!a) return TOD_MEMORY_FAILED;
  a->type = IR_ATTR_FLOAT;
  a->f = v;
  return TOD_OK;
}

tod_status ir_attr_set_ints(ir_node *n, const char *key, const int64_t *v, int count) {
  if (count < 0) return TOD_PARAM_INVALID;
  int64_t *copy = malloc(sizeof(int64_t) * (size_t)(count ? count : 1));
  if (!copy) return TOD_MEMORY_FAILED;
  if (count) memcpy(copy, v, sizeof(int64_t) * (size_t)count);
  ir_attr *a = attr_slot(n, key);
  if (!a) {
    free(copy);
    return TOD_MEMORY_FAILED;
  }
  a->type = IR_ATTR_INTS;
  a->ints = copy;
  a->n = count;
  return TOD_OK;
}

tod_status ir_attr_set_floats(ir_node *n, const char *key, const float *v, int count) {
  if (count < 0) return TOD_PARAM_INVALID;
  float *copy = malloc(sizeof(float) * (size_t)(count ? count : 1));
  if (!copy) return TOD_MEMORY_FAILED;
  if (count) memcpy(copy, v, sizeof(float) * (size_t)count);
  ir_attr *a = attr_slot(n, key);
  if (!a) {
    free(copy);
    return TOD_MEMORY_FAILED;
  }
  a->type = IR_ATTR_FLOATS;
  a->floats = copy;
  a->n = count;
  return TOD_OK;
}

tod_status ir_attr_set_string(ir_node *n, const char *key, const char *s) {
  char *copy = dup_str(s);
  if (!copy) return TOD_MEMORY_FAILED;
  ir_attr *a = attr_slot(n, key);
  if (!a) {
    free(copy);
    return TOD_MEMORY_FAILED;
  }
  a->type = IR_ATTR_STRING;
  a->s = copy;
  return TOD_OK;
}

tod_status ir_attr_set_ints2d(ir_node *n, const char *key, const int64_t *v, int rows, int cols) {
  if (rows < 0 || cols < 0) return TOD_PARAM_INVALID;
  size_t cnt = (size_t)rows * (size_t)cols;
  int64_t *copy = malloc(sizeof(int64_t) * (cnt ? cnt : 1));
  if (!copy) return TOD_MEMORY_FAILED;
  if (cnt) memcpy(copy, v, sizeof(int64_t) * cnt);
  ir_attr *a = attr_slot(n, key);
  if (!a) {
    free(copy);
    return TOD_MEMORY_FAILED;
  }
  a->type = IR_ATTR_INTS2D;
  a->ints = copy;
  a->n = rows;
  a->cols = cols;
  return TOD_OK;
}

const ir_attr *ir_attr_find(const ir_node *n, const char *key) {
  for (int i = 0; i < n->n_attrs; i++)
    if (strcmp(n->attrs[i].key, key) == 0) return &n->attrs[i];
  return NULL;
}

int64_t ir_attr_int(const ir_node *n, const char *key, int64_t dflt) {
  const ir_attr *a = ir_attr_find(n, key);
  if (!a) return dflt;
  if (a->type == IR_ATTR_INT) return a->i;
  if (a->type == IR_ATTR_FLOAT) return (int64_t)a->f;
  return dflt;
}

double ir_attr_float(const ir_node *n, const char *key, double dflt) {
  const ir_attr *a = ir_attr_find(n, key);
  if (!a) return dflt;
  if (a->type == IR_ATTR_FLOAT) return a->f;
  if (a->type == IR_ATTR_INT) return (double)a->i;
  return dflt;
}

int ir_attr_ints(const ir_node *n, const char *key, const int64_t **v) {
  const ir_attr *a = ir_attr_find(n, key);
  if (!a || (a->type != IR_ATTR_INTS && a->type != IR_ATTR_INTS2D)) {
    *v = NULL;
    return 0;
  }
  *v = a->ints;
  return a->type == IR_ATTR_INTS2D ? a->n * a->cols : a->n;
}

int ir_attr_floats(const ir_node *n, const char *key, const float **v) {
  const ir_attr *a = ir_attr_find(n, key);
  if (!a || a->type != IR_ATTR_FLOATS) {
    *v = NULL;
    return 0;
  }
  *v = a->floats;
  return a->n;
}

void ir_attr_remove(ir_node *n, const char *key) {
  for (int i = 0; i < n->n_attrs; i++) {
    if (strcmp(n->attrs[i].key, key) == 0) {
      free(n->attrs[i].ints);
      free(n->attrs[i].floats);
      free(n->attrs[i].s);
      memmove(&n->attrs[i], &n->attrs[i + 1], sizeof(ir_attr) * (size_t)(n->n_attrs - i - 1));
      n->n_attrs--;
      return;
    }
  }
}

/* --- structure ----------------------------------------------------------------------------- */

int ir_producer(const ir_graph *g, int t) {
  for (int i = 0; i < g->n_nodes; i++)
    for (int j = 0; j < g->nodes[i].n_out; j++)
      if (g->nodes[i].out[j] == t) return i;
  return -1;
}

int ir_use_count(const ir_graph *g, int t) {
  int c = 0;
  for (int i = 0; i < g->n_nodes; i++)
    for (int j = 0; j < g->nodes[i].n_in; j++)
      if (g->nodes[i].in[j] == t) c++;
  for (int i = 0; i < g->n_outputs; i++)
    if (g->outputs[i] == t) c++;
  return c;
}

void ir_remove_node(ir_graph *g, int i) {
  if (i < 0 || i >= g->n_nodes) return;
  free_node(&g->nodes[i]);
  memmove(&g->nodes[i], &g->nodes[i + 1], sizeof(ir_node) * (size_t)(g->n_nodes - i - 1));
  g->n_nodes--;
}

void ir_remove_nodes(ir_graph *g, const char *dead) {
  int k = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    if (dead[i]) {
      free_node(&g->nodes[i]);
      continue;
    }
    if (k != i) g->nodes[k] = g->nodes[i];
    k++;
  }
  g->n_nodes = k;
}

/* A node is dead when none of its outputs is read; dropping it can kill its producers. One
 * sweep over a worklist, with reader counts kept up to date: linear in the graph's size. */
static tod_status drop_dead_nodes(ir_graph *g) {
  int nt = g->n_tensors, nn = g->n_nodes;
  size_t cap = (size_t)nn + 1; /* every node once, then once per output that loses its readers */
  for (int i = 0; i < nn; i++) cap += (size_t)(g->nodes[i].n_out > 0 ? g->nodes[i].n_out : 0);
  int *producer = malloc(sizeof(int) * (size_t)(nt ? nt : 1));
  int *readers = malloc(sizeof(int) * (size_t)(nt ? nt : 1));
  int *stack = malloc(sizeof(int) * cap);
  char *dead = calloc((size_t)(nn ? nn : 1), 1);
  tod_status st = TOD_OK;
  if (!producer || !readers || !stack || !dead) {
    st = TOD_MEMORY_FAILED;
    goto out;
  }
  ir_graph_uses(g, producer, readers);
  int top = 0;
  for (int i = nn - 1; i >= 0; i--) stack[top++] = i;
  while (top > 0) {
    int i = stack[--top];
    const ir_node *n = &g->nodes[i];
    if (dead[i]) continue;
    int live = 0;
    for (int j = 0; j < n->n_out && !live; j++)
      if (n->out[j] >= 0 && readers[n->out[j]] > 0) live = 1;
    if (live) continue;
    dead[i] = 1;
    for (int j = 0; j < n->n_in; j++) {
      int t = n->in[j];
      if (t < 0 || --readers[t] > 0) continue;
      /* its producer may have just lost its last reader */
      if (producer[t] >= 0 && !dead[producer[t]]) stack[top++] = producer[t];
    }
  }
  ir_remove_nodes(g, dead);
out:
  free(producer);
  free(readers);
  free(stack);
  free(dead);
  return st;
}

tod_status ir_compact(ir_graph *g) {
  tod_status st = drop_dead_nodes(g);
  if (st != TOD_OK) return st;
  /* Renumber the tensors that are still referred to. */
  int *map = malloc(sizeof(int) * (size_t)(g->n_tensors ? g->n_tensors : 1));
  if (!map) return TOD_MEMORY_FAILED;
  for (int i = 0; i < g->n_tensors; i++) map[i] = -1;
  for (int i = 0; i < g->n_inputs; i++) map[g->inputs[i]] = 1;
  for (int i = 0; i < g->n_outputs; i++) map[g->outputs[i]] = 1;
  for (int i = 0; i < g->n_nodes; i++) {
    for (int j = 0; j < g->nodes[i].n_in; j++)
      if (g->nodes[i].in[j] >= 0) map[g->nodes[i].in[j]] = 1;
    for (int j = 0; j < g->nodes[i].n_out; j++)
      if (g->nodes[i].out[j] >= 0) map[g->nodes[i].out[j]] = 1;
  }
  int k = 0;
  for (int i = 0; i < g->n_tensors; i++) {
    if (map[i] < 0) {
      free_tensor(&g->tensors[i]);
      continue;
    }
    if (k != i) g->tensors[k] = g->tensors[i];
    map[i] = k++;
  }
  g->n_tensors = k;
  for (int i = 0; i < g->n_inputs; i++) g->inputs[i] = map[g->inputs[i]];
  for (int i = 0; i < g->n_outputs; i++) g->outputs[i] = map[g->outputs[i]];
  for (int i = 0; i < g->n_nodes; i++) {
    for (int j = 0; j < g->nodes[i].n_in; j++)
      if (g->nodes[i].in[j] >= 0) g->nodes[i].in[j] = map[g->nodes[i].in[j]];
    for (int j = 0; j < g->nodes[i].n_out; j++)
      if (g->nodes[i].out[j] >= 0) g->nodes[i].out[j] = map[g->nodes[i].out[j]];
  }
  free(map);
  return TOD_OK;
}

tod_status ir_toposort(ir_graph *g, char *err, size_t errlen) {
  size_t nt = g->n_tensors > 0 ? (size_t)g->n_tensors : 0, nn = g->n_nodes > 0 ? (size_t)g->n_nodes : 0;
  int *prod = malloc(sizeof(int) * (size_t)(nt ? nt : 1));
  int *pending = malloc(sizeof(int) * (size_t)(nn ? nn : 1));
  int *order = malloc(sizeof(int) * (size_t)(nn ? nn : 1));
  char *done = calloc((size_t)(nn ? nn : 1), 1);
  tod_status st = TOD_OK;
  if (!prod || !pending || !order || !done) {
    st = TOD_MEMORY_FAILED;
    goto out;
  }
  for (size_t i = 0; i < nt; i++) prod[i] = -1;
  for (int i = 0; i < (int)nn; i++)
    for (int j = 0; j < g->nodes[i].n_out; j++) {
      int t = g->nodes[i].out[j];
      if (t < 0) continue;
      if (prod[t] >= 0) {
        snprintf(err, errlen, "tensor %d (%s) is produced by two nodes", t, g->tensors[t].name);
        st = TOD_GRAPH_FILE_ERR;
        goto out;
      }
      prod[t] = i;
    }
  /* Repeated stable passes: pick the first node (in current order) whose producers are done.
   * O(n^2) in the worst case but graphs are already ordered in practice, so one pass does. */
  size_t k = 0;
  while (k < nn) {
    int progress = 0;
    for (int i = 0; i < (int)nn; i++) {
      if (done[i]) continue;
      int ready = 1;
      for (int j = 0; j < g->nodes[i].n_in && ready; j++) {
        int t = g->nodes[i].in[j];
        if (t >= 0 && prod[t] >= 0 && prod[t] != i && !done[prod[t]]) ready = 0;
        if (t >= 0 && prod[t] == i) ready = 0;
      }
      if (ready) {
        done[i] = 1;
        order[k++] = i;
        progress = 1;
      }
    }
    if (!progress) {
      snprintf(err, errlen, "the graph has a cycle");
      st = TOD_GRAPH_FILE_ERR;
      goto out;
    }
  }
  ir_node *sorted = malloc(sizeof(ir_node) * (size_t)(nn ? nn : 1));
  if (!sorted) {
    st = TOD_MEMORY_FAILED;
    goto out;
  }
  for (size_t i = 0; i < nn; i++) sorted[i] = g->nodes[order[i]];
  if (nn) memcpy(g->nodes, sorted, sizeof(ir_node) * nn); /* nodes is NULL in an empty graph */
  free(sorted);
out:
  free(prod);
  free(pending);
  free(order);
  free(done);
  return st;
}

tod_status ir_validate(const ir_graph *g, char *err, size_t errlen) {
  for (int i = 0; i < g->n_inputs; i++)
    if (g->inputs[i] < 0 || g->inputs[i] >= g->n_tensors) {
      snprintf(err, errlen, "graph input %d refers to tensor %d of %d", i, g->inputs[i],
               g->n_tensors);
      return TOD_GRAPH_FILE_ERR;
    }
  for (int i = 0; i < g->n_outputs; i++)
    if (g->outputs[i] < 0 || g->outputs[i] >= g->n_tensors) {
      snprintf(err, errlen, "graph output %d refers to tensor %d of %d", i, g->outputs[i],
               g->n_tensors);
      return TOD_GRAPH_FILE_ERR;
    }
  for (int i = 0; i < g->n_nodes; i++) {
    const ir_node *n = &g->nodes[i];
    if (n->op <= IR_OP_NONE || n->op >= IR_OP_COUNT) {
      snprintf(err, errlen, "node %d (%s) has unknown primitive type %d", i, n->name, n->op);
      return TOD_GRAPH_FILE_ERR;
    }
    for (int j = 0; j < n->n_in; j++)
      if (n->in[j] < -1 || n->in[j] >= g->n_tensors) {
        snprintf(err, errlen, "node %d (%s) input %d refers to tensor %d of %d", i, n->name, j,
                 n->in[j], g->n_tensors);
        return TOD_GRAPH_FILE_ERR;
      }
    for (int j = 0; j < n->n_out; j++)
      if (n->out[j] < 0 || n->out[j] >= g->n_tensors) {
        snprintf(err, errlen, "node %d (%s) output %d refers to tensor %d of %d", i, n->name, j,
                 n->out[j], g->n_tensors);
        return TOD_GRAPH_FILE_ERR;
      }
  }
  for (int i = 0; i < g->n_tensors; i++) {
    const ir_tensor *t = &g->tensors[i];
    if (t->ndim > IR_MAX_DIMS || t->ndim < -1) {
      snprintf(err, errlen, "tensor %d (%s) has rank %d", i, t->name, t->ndim);
      return TOD_GRAPH_FILE_ERR;
    }
  }
  return TOD_OK;
}
