/* Runs one of the fast kernels (Conv2DFusion, MatMulFusion, MaxPoolFusion, AvgPoolFusion)
 * through the kernel_ops interface on a real thread pool, for tests that compare against an
 * outside reference (tests/py/test_kernels_vs_torch.py).
 *
 * Usage: kernel_harness SPEC. SPEC is a text file of lines:
 *   op NAME                         operator (one of the four above)
 *   threads N                       pool size (default 2)
 *   int KEY V                       integer attribute
 *   ints KEY V1 V2 ...              integer-list attribute
 *   input PATH NDIM D0 D1 ...       activation input: raw little-endian float32
 *   const PATH NDIM D0 D1 ...       constant input (weights, bias)
 *   absent                          an absent optional input
 *   output PATH NDIM D0 D1 ...      where the result goes (raw float32)
 * Inputs are in operator order. Exit status 0 on success; messages on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "runtime/kernels/fast_kernels.h"
#include "runtime/threadpool.h"

#define MAX_IO 8

typedef struct {
  char path[512];
  int ndim;
  int64_t dims[IR_MAX_DIMS];
  int is_const, absent;
  float *data;
  size_t n;
} io_spec;

static float *read_floats(const char *path, size_t n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  float *d = malloc(n * sizeof(float) + 4);
  if (d && fread(d, sizeof(float), n, f) != n) {
    free(d);
    d = NULL;
  }
  fclose(f);
  return d;
}

static int parse_io(char *rest, io_spec *io) {
  char *tok = strtok(rest, " \t\n");
  if (!tok) return -1;
  snprintf(io->path, sizeof io->path, "%s", tok);
  tok = strtok(NULL, " \t\n");
  if (!tok) return -1;
  io->ndim = atoi(tok);
  if (io->ndim < 0 || io->ndim > IR_MAX_DIMS) return -1;
  io->n = 1;
  for (int i = 0; i < io->ndim; i++) {
    tok = strtok(NULL, " \t\n");
    if (!tok) return -1;
    io->dims[i] = atoll(tok);
    io->n *= (size_t)io->dims[i];
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: kernel_harness SPEC\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "r");
  if (!f) {
    fprintf(stderr, "cannot open %s\n", argv[1]);
    return 2;
  }
  ir_graph g;
  ir_graph_init(&g);
  int node = -1, threads = 2, n_in = 0;
  io_spec ins[MAX_IO], out;
  memset(ins, 0, sizeof ins);
  memset(&out, 0, sizeof out);
  const kernel_ops *ops = NULL;
  /* attributes are kept until the node exists */
  char attr_lines[64][512];
  int n_attr = 0;
  char line[4096];
  while (fgets(line, sizeof line, f)) {
    char *kw = strtok(line, " \t\n");
    if (!kw || kw[0] == '#') continue;
    char *rest = kw + strlen(kw) + 1;
    if (!strcmp(kw, "op")) {
      char *name = strtok(NULL, " \t\n");
      if (!name) break;
      if (!strcmp(name, "Conv2DFusion")) ops = &kernel_Conv2DFusion;
      else if (!strcmp(name, "MatMulFusion")) ops = &kernel_MatMulFusion;
      else if (!strcmp(name, "MaxPoolFusion")) ops = &kernel_MaxPoolFusion;
      else if (!strcmp(name, "AvgPoolFusion")) ops = &kernel_AvgPoolFusion;
    } else if (!strcmp(kw, "threads")) {
      char *v = strtok(NULL, " \t\n");
      threads = v ? atoi(v) : 2;
    } else if (!strcmp(kw, "int") || !strcmp(kw, "ints")) {
      if (n_attr < 64) snprintf(attr_lines[n_attr++], 512, "%s %s", kw, rest);
    } else if (!strcmp(kw, "input") || !strcmp(kw, "const")) {
      if (n_in >= MAX_IO || parse_io(rest, &ins[n_in])) {
        fprintf(stderr, "bad %s line\n", kw);
        return 2;
      }
      ins[n_in].is_const = !strcmp(kw, "const");
      n_in++;
    } else if (!strcmp(kw, "absent")) {
      if (n_in < MAX_IO) ins[n_in++].absent = 1;
    } else if (!strcmp(kw, "output")) {
      if (parse_io(rest, &out)) {
        fprintf(stderr, "bad output line\n");
        return 2;
      }
    }
  }
  fclose(f);
  if (!ops || !out.path[0]) {
    fprintf(stderr, "spec needs op (a fast kernel) and output\n");
    return 2;
  }
  int tin[MAX_IO];
  tod_view vin[MAX_IO];
  memset(vin, 0, sizeof vin);
  for (int i = 0; i < n_in; i++) {
    if (ins[i].absent) {
      tin[i] = -1;
      continue;
    }
    ins[i].data = read_floats(ins[i].path, ins[i].n);
    if (!ins[i].data) {
      fprintf(stderr, "cannot read %zu floats from %s\n", ins[i].n, ins[i].path);
      return 2;
    }
    char name[16];
    snprintf(name, sizeof name, "in%d", i);
    tin[i] = ir_add_tensor(&g, name);
    ir_tensor *t = &g.tensors[tin[i]];
    ir_tensor_set_shape(t, ins[i].ndim, ins[i].dims);
    if (ins[i].is_const) {
      ir_tensor_set_data_borrow(t, ins[i].data, ins[i].n * sizeof(float));
      t->kind = IR_TENSOR_CONST;
    }
    vin[i].dtype = IR_DT_FLOAT32;
    vin[i].ndim = ins[i].ndim;
    memcpy(vin[i].dims, ins[i].dims, sizeof vin[i].dims);
    vin[i].data = ins[i].data;
  }
  int tout = ir_add_tensor(&g, "out");
  ir_tensor_set_shape(&g.tensors[tout], out.ndim, out.dims);
  node = ir_add_node(&g, ops->op, "node", tin, n_in, &tout, 1);
  for (int a = 0; a < n_attr; a++) {
    char *kw = strtok(attr_lines[a], " \t\n"), *key = strtok(NULL, " \t\n");
    int64_t vals[16];
    int nv = 0;
    char *tok;
    while (nv < 16 && (tok = strtok(NULL, " \t\n"))) vals[nv++] = atoll(tok);
    if (!key) continue;
    /* attribute keys must be static strings: look the key up in a fixed list */
    static const char *keys[] = {"kernel_size", "stride", "strides", "dilation", "pad_mode",
                                 "pad_list", "pad", "group", "activation_type", "round_mode",
                                 "global", "transpose_a", "transpose_b", "in_channel",
                                 "out_channel"};
    const char *skey = NULL;
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
      if (!strcmp(keys[i], key)) skey = keys[i];
    if (!skey) {
      fprintf(stderr, "unknown attribute %s\n", key);
      return 2;
    }
    if (!strcmp(kw, "int"))
      ir_attr_set_int(&g.nodes[node], skey, nv ? vals[0] : 0);
    else
      ir_attr_set_ints(&g.nodes[node], skey, vals, nv);
  }
  float *y = malloc(out.n * sizeof(float) + 4);
  tod_view vout;
  memset(&vout, 0, sizeof vout);
  vout.dtype = IR_DT_FLOAT32;
  vout.ndim = out.ndim;
  memcpy(vout.dims, out.dims, sizeof vout.dims);
  vout.data = y;
  tod_threadpool *tp = NULL;
  if (tod_threadpool_create(threads, &tp) != TOD_OK) return 3;
  kernel k;
  memset(&k, 0, sizeof k);
  k.ops = ops;
  k.node = &g.nodes[node];
  int rc = 0;
  tod_status st = ops->create(&k, &g, &g.nodes[node]);
  size_t scratch = 0;
  if (st == TOD_OK) st = ops->setup(&k, vin, n_in, &vout, 1, &scratch);
  if (st == TOD_OK) {
    void *buf = aligned_alloc(64, (scratch + 63) / 64 * 64 + 64);
    st = ops->run(&k, vin, n_in, &vout, 1, buf, tp);
    free(buf);
  }
  if (st != TOD_OK) {
    fprintf(stderr, "kernel failed: %s (%s)\n", tod_status_name(st), k.err);
    rc = 1;
  } else {
    FILE *o = fopen(out.path, "wb");
    if (!o || fwrite(y, sizeof(float), out.n, o) != out.n) rc = 1;
    if (o) fclose(o);
  }
  if (k.state && ops->destroy) ops->destroy(&k);
  tod_threadpool_free(tp);
  ir_graph_free(&g);
  for (int i = 0; i < n_in; i++) free(ins[i].data);
  free(y);
  return rc;
}
