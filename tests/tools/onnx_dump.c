/* Test helper: imports an ONNX file with onnx_import and prints the IR as JSON, so the Python
 * tests can compare it with the onnx package's own view of the model.
 *
 *   onnx_dump MODEL.onnx [DATA_DIR]
 *
 * stdout: {"status": int, "error": str, "graph": {...}}. With DATA_DIR, the bytes of every
 * constant tensor i are written to DATA_DIR/<i>.bin. Exit status 0 whenever the import ran
 * (its result is in "status"); 2 on usage or I/O errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/file_io.h"
#include "import/onnx.h"
#include "ir/ir.h"
#include "ir/ir_op.h"

static void jstr(const char *s) {
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') printf("\\%c", *p);
    else if (*p < 32 || *p >= 127) printf("\\u%04x", *p);
    else putchar(*p);
  }
  putchar('"');
}

static void dump_attr(const ir_attr *a) {
  jstr(a->key);
  printf(": ");
  switch (a->type) {
    case IR_ATTR_INT: printf("%lld", (long long)a->i); break;
    case IR_ATTR_FLOAT: printf("%.9g", a->f); break;
    case IR_ATTR_STRING: jstr(a->s ? a->s : ""); break;
    case IR_ATTR_FLOATS:
      printf("[");
      for (int i = 0; i < a->n; i++) printf("%s%.9g", i ? "," : "", a->floats[i]);
      printf("]");
      break;
    case IR_ATTR_INTS:
      printf("[");
      for (int i = 0; i < a->n; i++) printf("%s%lld", i ? "," : "", (long long)a->ints[i]);
      printf("]");
      break;
    case IR_ATTR_INTS2D:
      printf("[");
      for (int r = 0; r < a->n; r++) {
        printf("%s[", r ? "," : "");
        for (int k = 0; k < a->cols; k++) printf("%s%lld", k ? "," : "", (long long)a->ints[r * a->cols + k]);
        printf("]");
      }
      printf("]");
      break;
  }
}

static int write_data(const char *dir, int i, const ir_tensor *t) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%d.bin", dir, i);
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = t->nbytes ? fwrite(t->data, 1, t->nbytes, f) : 0;
  int bad = fclose(f) != 0 || w != t->nbytes;
  return bad ? -1 : 0;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s MODEL.onnx [DATA_DIR]\n", argv[0]);
    return 2;
  }
  char err[1024] = "";
  tod_mapped_file m;
  if (tod_map_file(argv[1], &m, err, sizeof err) != TOD_OK) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  /* External data lives beside the model. */
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", argv[1]);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = 0;
  else snprintf(dir, sizeof dir, ".");
  ir_graph g;
  tod_status st = onnx_import(m.data, m.size, dir, &g, err, sizeof err);
  printf("{\"status\": %d, \"error\": ", st);
  jstr(err);
  if (st == TOD_OK) {
    printf(", \"graph\": {\"name\": ");
    jstr(g.name ? g.name : "");
    printf(", \"fmk_type\": %d, \"inputs\": [", g.fmk_type);
    for (int i = 0; i < g.n_inputs; i++) printf("%s%d", i ? "," : "", g.inputs[i]);
    printf("], \"outputs\": [");
    for (int i = 0; i < g.n_outputs; i++) printf("%s%d", i ? "," : "", g.outputs[i]);
    printf("],\n\"tensors\": [\n");
    for (int i = 0; i < g.n_tensors; i++) {
      const ir_tensor *t = &g.tensors[i];
      printf("%s{\"name\": ", i ? ",\n" : "");
      jstr(t->name);
      printf(", \"dtype\": %d, \"kind\": %d, \"format\": %d, \"nbytes\": %zu, \"borrowed\": %d, \"dims\": ",
             t->dtype, (int)t->kind, t->format, t->nbytes,
             t->kind == IR_TENSOR_CONST && t->data && !t->owned);
      if (t->ndim < 0) {
        printf("null");
      } else {
        printf("[");
        for (int k = 0; k < t->ndim; k++) printf("%s%lld", k ? "," : "", (long long)t->dims[k]);
        printf("]");
      }
      printf("}");
      if (argc == 3 && t->kind == IR_TENSOR_CONST && write_data(argv[2], i, t) != 0) {
        fprintf(stderr, "cannot write tensor %d data\n", i);
        ir_graph_free(&g);
        tod_unmap_file(&m);
        return 2;
      }
    }
    printf("],\n\"nodes\": [\n");
    for (int i = 0; i < g.n_nodes; i++) {
      const ir_node *n = &g.nodes[i];
      printf("%s{\"name\": ", i ? ",\n" : "");
      jstr(n->name);
      printf(", \"op\": ");
      jstr(ir_op_name(n->op) ? ir_op_name(n->op) : "?");
      printf(", \"in\": [");
      for (int k = 0; k < n->n_in; k++) printf("%s%d", k ? "," : "", n->in[k]);
      printf("], \"out\": [");
      for (int k = 0; k < n->n_out; k++) printf("%s%d", k ? "," : "", n->out[k]);
      printf("], \"attrs\": {");
      for (int k = 0; k < n->n_attrs; k++) {
        if (k) printf(", ");
        dump_attr(&n->attrs[k]);
      }
      printf("}}");
    }
    printf("]}");
  }
  printf("}\n");
  ir_graph_free(&g);
  tod_unmap_file(&m);
  return 0;
}
