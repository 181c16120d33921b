/* Training hooks of the inference-only device build (TOD_MINIMAL's tod_min): the session asks
 * train.c for node roles and outputs; here every node is inference and a training model is
 * refused with a clear status instead of failing later on a missing gradient kernel. */
#include <stdlib.h>

#include "ir/ir_op.h"
#include "runtime/session_internal.h"

tod_status train_setup_roles(tod_model *m) {
  for (int i = 0; i < m->g.n_nodes; i++) {
    int op = m->g.nodes[i].op;
    if (op == IR_OP_Adam || op == IR_OP_SGD || op == IR_OP_ApplyMomentum)
      return session_fail(m, TOD_NOT_SUPPORT,
                          "%s is a training model; this runtime is the inference-only build "
                          "(tod_min): use tod_rt or libtod", m->g.name && m->g.name[0] ? m->g.name : "the model");
  }
  m->label_input = -1;
  m->vbatch = 1;
  return TOD_OK;
}

void train_free(tod_model *m) { (void)m; }

int train_num_outputs(const tod_model *m) { return m->g.n_outputs; }

int train_output_tensor(const tod_model *m, int i) { return m->g.outputs[i]; }
