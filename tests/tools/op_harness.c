/* op_harness: runs one operator through shape inference and its kernel, for tests that compare
 * kernels with an independent reference: inference operators (tests/py/test_ops_vs_torch.py)
 * and training primitives — gradients, losses, optimizers, Assign, Dropout, FusedBatchNorm in
 * train mode (tests/py/test_grad_ops_vs_torch.py, against PyTorch autograd / numpy formulas).
 *
 * Usage: op_harness SPEC. SPEC is a line-based text file:
 *   op <PrimitiveName>
 *   attr <key> int <v> | float <v> | ints <n> <v...> | floats <n> <v...> | ints2d <r> <c> <v...>
 *   in <dtype> <const|act|param> <ndim> <dims...> <raw data file> (one per input, in order)
 *   in none                                                       (absent optional input)
 *   outputs <n>
 *   threads <n>                                                   (optional, default 1)
 *   outprefix <path>          outputs go to <path><i>.bin (raw, row-major)
 *   train <0|1>               the kernel's train mode (default 0)
 *   seed <n>                  the kernel's seed (Dropout)
 *   steps <n>                 runs the kernel n times (optimizers: n updates), default 1
 *   setlr <f>                 sets the optimizer's cached learning rate after create
 * After the runs, every param input (updated in place) is written to <path>in<i>.bin.
 * Prints "out <i> <dtype> <ndim> <dims...>" per output, or "error <STATUS> <message>" and exits 2.
 * Const inputs are graph constants (kernels may read them at create); param inputs are
 * parameters (kind IR_TENSOR_PARAM: updated in place); act inputs are neither, and shape
 * inference sees the values of const and param inputs only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "ir/ir_op.h"
#include "ir/shape.h"
#include "runtime/kernel.h"
#include "runtime/kernels/optim/optim.h"
#include "runtime/threadpool.h"

#define MAXIO 64

static int dtype_of(const char *s) {
  static const struct { const char *n; int dt; } t[] = {
      {"float32", IR_DT_FLOAT32}, {"float16", IR_DT_FLOAT16}, {"float64", IR_DT_FLOAT64},
      {"int8", IR_DT_INT8},       {"uint8", IR_DT_UINT8},     {"int16", IR_DT_INT16},
      {"int32", IR_DT_INT32},     {"int64", IR_DT_INT64},     {"bool", IR_DT_BOOL}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (!strcmp(s, t[i].n)) return t[i].dt;
  return -1;
}

static int fail(tod_status st, const char *msg) {
  printf("error %s %s\n", tod_status_name(st), msg);
  return 2;
}

static void *read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *buf = malloc(len > 0 ? (size_t)len : 1);
  if (buf && len > 0 && fread(buf, 1, (size_t)len, f) != (size_t)len) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *n = len > 0 ? (size_t)len : 0;
  return buf;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: op_harness SPEC\n");
    return 1;
  }
  FILE *f = fopen(argv[1], "r");
  if (!f) return fail(TOD_ERROR, "cannot open spec");
  ir_graph g;
  ir_graph_init(&g);
  char *keys[64];
  int n_keys = 0;
  int op = 0, n_out = 1, threads = 1, n_in = 0, train = 0, steps = 1, is_param[MAXIO] = {0};
  unsigned long long seed = 0;
  double setlr = -1.0;
  int in_idx[MAXIO], is_const[MAXIO];
  void *bufs[MAXIO] = {0};
  tod_view in[MAXIO], out[MAXIO];
  char prefix[1024] = "out";
  /* Attributes are parsed into a scratch node first; the graph node is created at the end. */
  ir_node tmp;
  memset(&tmp, 0, sizeof tmp);
  char word[256];
  int rc = 0;
  while (fscanf(f, "%255s", word) == 1) {
    if (!strcmp(word, "op")) {
      if (fscanf(f, "%255s", word) != 1) return fail(TOD_ERROR, "bad op line");
      op = ir_op_from_name(word);
      if (!op) return fail(TOD_INVALID_OP_NAME, word);
    } else if (!strcmp(word, "attr")) {
      char key[128], kind[32];
      if (fscanf(f, "%127s %31s", key, kind) != 2 || n_keys >= 64) return fail(TOD_ERROR, "bad attr");
      keys[n_keys] = strdup(key); /* attr keys are borrowed: keep them alive */
      const char *k = keys[n_keys++];
      if (!strcmp(kind, "int")) {
        long long v;
        if (fscanf(f, "%lld", &v) != 1) return fail(TOD_ERROR, "bad int attr");
        ir_attr_set_int(&tmp, k, v);
      } else if (!strcmp(kind, "float")) {
        double v;
        if (fscanf(f, "%lf", &v) != 1) return fail(TOD_ERROR, "bad float attr");
        ir_attr_set_float(&tmp, k, v);
      } else if (!strcmp(kind, "ints") || !strcmp(kind, "ints2d")) {
        int r = 1, c = 0;
        if (!strcmp(kind, "ints2d") ? fscanf(f, "%d %d", &r, &c) != 2 : fscanf(f, "%d", &c) != 1)
          return fail(TOD_ERROR, "bad ints attr");
        if (r < 0 || c < 0 || r * c > 4096) return fail(TOD_ERROR, "bad ints count");
        int64_t v[4096];
        for (int i = 0; i < r * c; i++) {
          long long x;
          if (fscanf(f, "%lld", &x) != 1) return fail(TOD_ERROR, "bad ints value");
          v[i] = x;
        }
        if (!strcmp(kind, "ints2d")) ir_attr_set_ints2d(&tmp, k, v, r, c);
        else ir_attr_set_ints(&tmp, k, v, c);
      } else if (!strcmp(kind, "floats")) {
        int c;
        if (fscanf(f, "%d", &c) != 1 || c < 0 || c > 4096) return fail(TOD_ERROR, "bad floats");
        float v[4096];
        for (int i = 0; i < c; i++)
          if (fscanf(f, "%f", &v[i]) != 1) return fail(TOD_ERROR, "bad floats value");
        ir_attr_set_floats(&tmp, k, v, c);
      } else {
        return fail(TOD_ERROR, "unknown attr kind");
      }
    } else if (!strcmp(word, "in")) {
      char dts[32], kind[16], path[1024];
      if (n_in >= MAXIO || fscanf(f, "%31s", dts) != 1) return fail(TOD_ERROR, "bad in line");
      memset(&in[n_in], 0, sizeof in[n_in]);
      if (!strcmp(dts, "none")) {
        in_idx[n_in] = -1;
        is_const[n_in] = 0;
        in[n_in].ndim = -1;
        n_in++;
        continue;
      }
      int nd;
      if (fscanf(f, "%15s %d", kind, &nd) != 2 || nd < 0 || nd > IR_MAX_DIMS)
        return fail(TOD_ERROR, "bad in line");
      tod_view *v = &in[n_in];
      v->dtype = dtype_of(dts);
      v->ndim = nd;
      if (v->dtype < 0) return fail(TOD_ERROR, "bad dtype");
      for (int i = 0; i < nd; i++) {
        long long d;
        if (fscanf(f, "%lld", &d) != 1) return fail(TOD_ERROR, "bad dims");
        v->dims[i] = d;
      }
      if (fscanf(f, "%1023s", path) != 1) return fail(TOD_ERROR, "bad path");
      size_t nb;
      bufs[n_in] = read_file(path, &nb);
      if (!bufs[n_in]) return fail(TOD_ERROR, "cannot read input data");
      char name[32];
      snprintf(name, sizeof name, "in%d", n_in);
      int t = ir_add_tensor(&g, name);
      ir_tensor *tt = &g.tensors[t];
      tt->dtype = v->dtype;
      ir_tensor_set_shape(tt, nd, v->dims);
      is_param[n_in] = !strcmp(kind, "param");
      is_const[n_in] = !strcmp(kind, "const") || is_param[n_in];
      if (is_const[n_in]) ir_tensor_set_data_borrow(tt, bufs[n_in], nb);
      else tt->kind = IR_TENSOR_INPUT;
      if (is_param[n_in]) tt->kind = IR_TENSOR_PARAM;
      in_idx[n_in] = t;
      v->data = bufs[n_in];
      n_in++;
    } else if (!strcmp(word, "outputs")) {
      if (fscanf(f, "%d", &n_out) != 1 || n_out < 1 || n_out > MAXIO) return fail(TOD_ERROR, "bad outputs");
    } else if (!strcmp(word, "threads")) {
      if (fscanf(f, "%d", &threads) != 1) return fail(TOD_ERROR, "bad threads");
    } else if (!strcmp(word, "train")) {
      if (fscanf(f, "%d", &train) != 1) return fail(TOD_ERROR, "bad train");
    } else if (!strcmp(word, "seed")) {
      if (fscanf(f, "%llu", &seed) != 1) return fail(TOD_ERROR, "bad seed");
    } else if (!strcmp(word, "steps")) {
      if (fscanf(f, "%d", &steps) != 1 || steps < 1) return fail(TOD_ERROR, "bad steps");
    } else if (!strcmp(word, "setlr")) {
      if (fscanf(f, "%lf", &setlr) != 1) return fail(TOD_ERROR, "bad setlr");
    } else if (!strcmp(word, "outprefix")) {
      if (fscanf(f, "%1023s", prefix) != 1) return fail(TOD_ERROR, "bad outprefix");
    } else {
      return fail(TOD_ERROR, "unknown spec keyword");
    }
  }
  fclose(f);
  int out_idx[MAXIO];
  for (int i = 0; i < n_out; i++) {
    char name[32];
    snprintf(name, sizeof name, "out%d", i);
    out_idx[i] = ir_add_tensor(&g, name);
  }
  int ni = ir_add_node(&g, op, "node", in_idx, n_in, out_idx, n_out);
  if (ni < 0) return fail(TOD_MEMORY_FAILED, "add node");
  ir_node *node = &g.nodes[ni];
  node->attrs = tmp.attrs;
  node->n_attrs = tmp.n_attrs;

  /* Shape inference sees only constant values, as the converter would. */
  tod_view inf_in[MAXIO];
  for (int i = 0; i < n_in; i++) {
    inf_in[i] = in[i];
    if (!is_const[i]) inf_in[i].data = NULL;
  }
  char err[512] = "";
  for (int i = 0; i < n_out; i++) {
    memset(&out[i], 0, sizeof out[i]);
    out[i].ndim = -1;
  }
  tod_status st = ir_infer_node(node, inf_in, n_in, out, n_out, err, sizeof err);
  if (st != TOD_OK) {
    rc = fail(st, err);
    goto done;
  }
  const kernel_ops *ops = kernel_lookup(op);
  if (!ops) {
    rc = fail(TOD_NOT_FIND_OP, "no kernel");
    goto done;
  }
  for (int i = 0; i < n_out; i++) {
    size_t nb = ir_dtype_size(out[i].dtype);
    for (int d = 0; d < out[i].ndim; d++) nb *= (size_t)out[i].dims[d];
    out[i].data = malloc(nb ? nb : 1);
    memset(out[i].data, 0xA5, nb ? nb : 1); /* poison: unwritten outputs show up in compares */
  }
  kernel k;
  memset(&k, 0, sizeof k);
  k.ops = ops;
  k.node = node;
  k.train = train;
  k.seed = seed;
  st = ops->create(&k, &g, node);
  if (st != TOD_OK) {
    rc = fail(st, k.err);
    goto done_out;
  }
  if (setlr >= 0.0) optim_set_lr(&k, (float)setlr);
  if (optim_is_optimizer(&k)) printf("lr %.9g\n", (double)optim_get_lr(&k));
  size_t scratch_bytes = 0;
  void *scratch = NULL;
  tod_threadpool *tp = NULL;
  if (ops->setup) st = ops->setup(&k, in, n_in, out, n_out, &scratch_bytes);
  if (st == TOD_OK && scratch_bytes) {
    scratch = aligned_alloc(64, (scratch_bytes + 63) & ~(size_t)63);
    if (!scratch) st = TOD_MEMORY_FAILED;
  }
  if (st == TOD_OK && threads > 1) st = tod_threadpool_create(threads, &tp);
  for (int r = 0; r < steps && st == TOD_OK; r++)
    st = ops->run(&k, in, n_in, out, n_out, scratch, tp);
  if (st != TOD_OK) rc = fail(st, k.err);
  tod_threadpool_free(tp);
  free(scratch);
  if (ops->destroy) ops->destroy(&k);
  for (int i = 0; i < n_out && rc == 0; i++) {
    char path[1100];
    snprintf(path, sizeof path, "%s%d.bin", prefix, i);
    FILE *o = fopen(path, "wb");
    size_t nb = ir_dtype_size(out[i].dtype);
    for (int d = 0; d < out[i].ndim; d++) nb *= (size_t)out[i].dims[d];
    if (!o || fwrite(out[i].data, 1, nb, o) != nb) rc = fail(TOD_ERROR, "cannot write output");
    if (o) fclose(o);
    printf("out %d %s %d", i, ir_dtype_name(out[i].dtype), out[i].ndim);
    for (int d = 0; d < out[i].ndim; d++) printf(" %lld", (long long)out[i].dims[d]);
    printf("\n");
  }
  for (int i = 0; i < n_in && rc == 0; i++) {
    if (!is_param[i]) continue;
    char path[1100];
    snprintf(path, sizeof path, "%sin%d.bin", prefix, i);
    FILE *o = fopen(path, "wb");
    size_t nb = ir_dtype_size(in[i].dtype);
    for (int d = 0; d < in[i].ndim; d++) nb *= (size_t)in[i].dims[d];
    if (!o || fwrite(in[i].data, 1, nb, o) != nb) rc = fail(TOD_ERROR, "cannot write input");
    if (o) fclose(o);
  }
done_out:
  for (int i = 0; i < n_out; i++) free(out[i].data);
done:
  ir_graph_free(&g);
  for (int i = 0; i < n_in; i++) free(bufs[i]);
  for (int i = 0; i < n_keys; i++) free(keys[i]);
  return rc;
}
