/* Training on the device: node roles, parameters, train/eval modes, training steps with
 * gradient accumulation, and learning rates. Roles follow MindSpore Lite's TrainSession so its
 * own training files train here unchanged (docs/training.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ir/ir_op.h"
#include "runtime/kernels/optim/optim.h"
#include "runtime/session_internal.h"

static int is_optimizer(int op) { return op == IR_OP_Adam || op == IR_OP_SGD || op == IR_OP_ApplyMomentum; }

static int is_loss_name(const char *name) {
  return strstr(name, "loss_fct") || strstr(name, "_loss_fn") || strstr(name, "SigmoidCrossEntropy");
}

/* Optimizer inputs holding state updated in place (besides input 0, the weight). */
static void mark_state(tod_model *m, const ir_node *n) {
  static const int adam[] = {0, 1, 2}, momentum[] = {0, 1}, sgd[] = {0, 3, 5};
  const int *idx = NULL;
  int k = 0;
  if (n->op == IR_OP_Adam) idx = adam, k = 3;
  if (n->op == IR_OP_ApplyMomentum) idx = momentum, k = 2;
  if (n->op == IR_OP_SGD) idx = sgd, k = 3;
  if (n->op == IR_OP_Assign) idx = adam, k = 1;
  for (int j = 0; j < k; j++) {
    if (idx[j] >= n->n_in || n->in[idx[j]] < 0) continue;
    ir_tensor *t = &m->g.tensors[n->in[idx[j]]];
    if (t->kind == IR_TENSOR_CONST) t->kind = IR_TENSOR_PARAM;
  }
}

/* Gradient input of an optimizer node, or -1. */
static int grad_input(const ir_node *n) {
  int j = n->op == IR_OP_Adam ? 9 : n->op == IR_OP_ApplyMomentum ? 3 : n->op == IR_OP_SGD ? 1 : -1;
  return j >= 0 && j < n->n_in ? n->in[j] : -1;
}

tod_status train_setup_roles(tod_model *m) {
  ir_graph *g = &m->g;
  int nn = g->n_nodes;
  m->role = calloc((size_t)(nn ? nn : 1), 1);
  m->in_infer = calloc((size_t)(nn ? nn : 1), 1);
  m->label_input = -1;
  m->vbatch = 1;
  m->seed = 0x9E3779B97F4A7C15ull;
  if (!m->role || !m->in_infer) return session_fail(m, TOD_MEMORY_FAILED, "out of memory");
  for (int i = 0; i < nn; i++) {
    const ir_node *n = &g->nodes[i];
    if (is_optimizer(n->op)) {
      m->role[i] = ROLE_OPT;
      m->trainable = 1;
    } else if (n->op == IR_OP_Assign) {
      m->role[i] = ROLE_ASSIGN;
    } else if (strstr(n->name, "Gradients")) {
      m->role[i] = ROLE_GRAD;
    } else if (is_loss_name(n->name)) {
      m->role[i] = ROLE_LOSS;
    }
  }
  if (!m->trainable) {
    memset(m->in_infer, 1, (size_t)nn);
    return TOD_OK;
  }
  m->train = 1;
  for (int i = 0; i < nn; i++) {
    const ir_node *n = &g->nodes[i];
    if (m->role[i] == ROLE_OPT || m->role[i] == ROLE_ASSIGN) mark_state(m, n);
    /* BatchNorm in training mode updates its running statistics in place. */
    if (n->op == IR_OP_FusedBatchNorm && ir_attr_int(n, "mode", 0) != 0 && n->n_in >= 5)
      for (int j = 3; j < 5; j++)
        if (n->in[j] >= 0 && g->tensors[n->in[j]].kind == IR_TENSOR_CONST) g->tensors[n->in[j]].kind = IR_TENSOR_PARAM;
  }
  /* Eval outputs: what forward nodes hand to a (non-gradient) loss node. */
  int *prod = malloc(sizeof(int) * (size_t)(g->n_tensors ? g->n_tensors : 1));
  m->eval_out = malloc(sizeof(int) * (size_t)(g->n_tensors ? g->n_tensors : 1));
  if (!prod || !m->eval_out) {
    free(prod);
    return session_fail(m, TOD_MEMORY_FAILED, "out of memory");
  }
  for (int t = 0; t < g->n_tensors; t++) prod[t] = -1;
  for (int i = 0; i < nn; i++)
    for (int j = 0; j < g->nodes[i].n_out; j++) prod[g->nodes[i].out[j]] = i;
  for (int i = 0; i < nn; i++) {
    if (m->role[i] != ROLE_LOSS) continue;
    const ir_node *n = &g->nodes[i];
    for (int j = 0; j < n->n_in; j++) {
      int t = n->in[j];
      if (t < 0 || prod[t] < 0 || m->role[prod[t]] != ROLE_FWD) continue;
      int dup = 0;
      for (int k = 0; k < m->n_eval_out; k++) dup |= m->eval_out[k] == t;
      if (!dup) m->eval_out[m->n_eval_out++] = t;
    }
  }
  if (m->n_eval_out == 0)
    for (int i = 0; i < g->n_outputs; i++) m->eval_out[m->n_eval_out++] = g->outputs[i];
  /* The inference part: ancestors of the eval outputs (loss nodes excluded). */
  char *need = calloc((size_t)(g->n_tensors ? g->n_tensors : 1), 1);
  if (!need) {
    free(prod);
    return session_fail(m, TOD_MEMORY_FAILED, "out of memory");
  }
  for (int k = 0; k < m->n_eval_out; k++) need[m->eval_out[k]] = 1;
  for (int i = nn - 1; i >= 0; i--) {
    const ir_node *n = &g->nodes[i];
    if (m->role[i] != ROLE_FWD) continue;
    int wanted = 0;
    for (int j = 0; j < n->n_out; j++) wanted |= need[n->out[j]];
    if (!wanted) continue;
    m->in_infer[i] = 1;
    for (int j = 0; j < n->n_in; j++)
      if (n->in[j] >= 0) need[n->in[j]] = 1;
  }
  /* Labels: a graph input the inference part does not read. */
  for (int i = 0; i < g->n_inputs; i++)
    if (!need[g->inputs[i]]) {
      m->label_input = i;
      break;
    }
  free(need);
  free(prod);
  m->grad_acc = calloc((size_t)(nn ? nn : 1), sizeof *m->grad_acc);
  if (!m->grad_acc) return session_fail(m, TOD_MEMORY_FAILED, "out of memory");
  return TOD_OK;
}

void train_free(tod_model *m) {
  if (m->grad_acc)
    for (int i = 0; i < m->g.n_nodes; i++) free(m->grad_acc[i]);
  free(m->grad_acc);
  free(m->role);
  free(m->in_infer);
  free(m->eval_out);
}

int train_num_outputs(const tod_model *m) {
  return m->trainable && !m->train ? m->n_eval_out : m->g.n_outputs;
}

int train_output_tensor(const tod_model *m, int i) {
  return m->trainable && !m->train ? m->eval_out[i] : m->g.outputs[i];
}

int tod_model_is_trainable(const tod_model *m) { return m ? m->trainable : 0; }
int tod_model_is_train(const tod_model *m) { return m ? m->train : 0; }
int tod_model_label_input(const tod_model *m) { return m ? m->label_input : -1; }

tod_status tod_model_set_train(tod_model *m, int train) {
  if (!m) return TOD_NULL_PTR;
  if (!m->trainable && train) return session_fail(m, TOD_NOT_SUPPORT, "the model has no optimizer: it cannot train");
  if (!train && m->vstep > 0) {
    /* Leaving train mode applies what the virtual batch accumulated (MindSpore Lite's Eval). */
    tod_status st = tod_model_set_virtual_batch(m, 1);
    if (st != TOD_OK) return st;
  }
  m->train = train ? 1 : 0;
  return TOD_OK;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* Runs the nodes of one phase in topological order (timed when a node timer is set:
 * benchmark_train --timeProfiling). */
static tod_status run_phase(tod_model *m, int role_a, int role_b, int role_c) {
  for (int i = 0; i < m->g.n_nodes; i++) {
    int r = m->role[i];
    if (m->skip[i] || (r != role_a && r != role_b && r != role_c)) continue;
    const double t0 = m->node_timer ? now_ms() : 0;
    tod_status st = session_run_node(m, i);
    if (st != TOD_OK) return st;
    if (m->node_timer)
      m->node_timer(ir_op_name(m->g.nodes[i].op), m->g.nodes[i].name, now_ms() - t0,
                    m->node_timer_ctx);
  }
  return TOD_OK;
}

/* Gradient accumulation over micro-batches. add: sums the current gradients into the
 * accumulators. apply: writes the mean of `count` accumulated micro-batches into the gradient
 * tensors the optimizers read, and clears the accumulators. */
static tod_status accumulate(tod_model *m, int add, int apply_count) {
  for (int i = 0; i < m->g.n_nodes; i++) {
    if (m->role[i] != ROLE_OPT) continue;
    int gt = grad_input(&m->g.nodes[i]);
    if (gt < 0) continue;
    tod_view *v = &m->views[gt];
    if (v->dtype != IR_DT_FLOAT32 || !v->data) continue;
    size_t n = session_view_bytes(v) / sizeof(float);
    if (!m->grad_acc[i]) {
      m->grad_acc[i] = calloc(n ? n : 1, sizeof(float));
      if (!m->grad_acc[i]) return session_fail(m, TOD_MEMORY_FAILED, "out of memory");
    }
    float *acc = m->grad_acc[i], *gd = v->data;
    if (add)
      for (size_t k = 0; k < n; k++) acc[k] += gd[k];
    if (apply_count > 0) {
      float s = 1.0f / (float)apply_count;
      for (size_t k = 0; k < n; k++) {
        gd[k] = acc[k] * s;
        acc[k] = 0.0f;
      }
    }
  }
  return TOD_OK;
}

tod_status tod_model_train_step(tod_model *m, float *loss) {
  if (!m) return TOD_NULL_PTR;
  if (!m->trainable) return session_fail(m, TOD_NOT_SUPPORT, "the model has no optimizer: it cannot train");
  if (!m->train) return session_fail(m, TOD_ERROR, "the model is in eval mode: call tod_model_set_train(m, 1)");
  /* Forward, loss and gradients first; then Assigns (they overwrite variables only after every
   * reader of this step has run); then the optimizers, which update weights in place. */
  tod_status st = run_phase(m, ROLE_FWD, ROLE_LOSS, ROLE_GRAD);
  if (st != TOD_OK) return st;
  if (loss) {
    const tod_view *lv = &m->views[m->g.outputs[0]];
    *loss = lv->data && lv->dtype == IR_DT_FLOAT32 ? *(const float *)lv->data : NAN;
  }
  if (m->vbatch > 1) {
    int last = m->vstep + 1 >= m->vbatch;
    st = accumulate(m, 1, last ? m->vstep + 1 : 0);
    if (st != TOD_OK) return st;
    if (!last) {
      m->vstep++;
      return TOD_OK;
    }
    m->vstep = 0;
  }
  st = run_phase(m, ROLE_ASSIGN, ROLE_ASSIGN, ROLE_ASSIGN);
  if (st == TOD_OK) st = run_phase(m, ROLE_OPT, ROLE_OPT, ROLE_OPT);
  return st;
}

tod_status tod_model_set_virtual_batch(tod_model *m, int n) {
  if (!m) return TOD_NULL_PTR;
  if (!m->trainable) return session_fail(m, TOD_NOT_SUPPORT, "the model has no optimizer");
  if (n <= 1 && m->vstep > 0) {
    /* Apply the pending micro-batches (already summed) as their mean. The gradient tensors still
     * hold the views' memory of the last step: shapes are unchanged since then. */
    tod_status st = accumulate(m, 0, m->vstep);
    m->vstep = 0;
    if (st == TOD_OK) st = run_phase(m, ROLE_ASSIGN, ROLE_ASSIGN, ROLE_ASSIGN);
    if (st == TOD_OK) st = run_phase(m, ROLE_OPT, ROLE_OPT, ROLE_OPT);
    if (st != TOD_OK) return st;
  }
  m->vbatch = n < 1 ? 1 : n;
  m->vstep = 0;
  return TOD_OK;
}

tod_status tod_model_set_lr(tod_model *m, float lr) {
  if (!m) return TOD_NULL_PTR;
  if (!(lr >= 0.0f)) return session_fail(m, TOD_PARAM_INVALID, "the learning rate must be >= 0");
  for (int i = 0; i < m->g.n_nodes; i++)
    if (m->role[i] == ROLE_OPT) optim_set_lr(&m->kernels[i], lr);
  return TOD_OK;
}

float tod_model_get_lr(const tod_model *m) {
  if (!m) return 0.0f;
  for (int i = 0; i < m->g.n_nodes; i++)
    if (m->role && m->role[i] == ROLE_OPT) return optim_get_lr(&m->kernels[i]);
  return 0.0f;
}

float tod_lr_at(const tod_lr_schedule *s, int epoch) {
  if (!s) return 0.0f;
  switch (s->kind) {
    case TOD_LR_STEP:
      return s->base_lr * powf(s->gamma, (float)(s->step_size > 0 ? epoch / s->step_size : 0));
    case TOD_LR_EXPONENTIAL:
      return s->base_lr * powf(s->gamma, (float)epoch);
    case TOD_LR_COSINE: {
      if (s->total_epochs <= 0) return s->base_lr;
      double pi = 3.14159265358979323846;
      double c = (1.0 + cos(pi * (double)epoch / (double)s->total_epochs)) / 2.0;
      return (float)(s->min_lr + (s->base_lr - s->min_lr) * c);
    }
    default:
      return s->base_lr;
  }
}
