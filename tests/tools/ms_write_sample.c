/* Test helper for tests/py/test_ms_flatc.py.
 *   ms_write_sample sample OUT.ms OUT.json   writes the sample graph (tests/unit/ms_sample.h)
 *                                            with ms_write_file and dumps that IR as JSON
 *   ms_write_sample dump IN.ms OUT.json      reads IN.ms with ms_read and dumps the IR as JSON
 * The JSON is compared with flatc's decoding of the same .ms file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flatbuf/ms_ops_schema.h"
#include "format/file_io.h"
#include "format/ms_read.h"
#include "format/ms_write.h"
#include "ir/ir.h"
#include "ms_sample.h"

static void put_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
    else if (*p < 32) fprintf(f, "\\u%04x", *p);
    else fputc(*p, f);
  }
  fputc('"', f);
}

static void put_num(FILE *f, double v, int digits) {
  if (isnan(v) || isinf(v)) fputs("null", f);
  else fprintf(f, "%.*g", digits, v);
}

static void put_ints(FILE *f, const int64_t *v, int n) {
  fputc('[', f);
  for (int i = 0; i < n; i++) fprintf(f, "%s%lld", i ? "," : "", (long long)v[i]);
  fputc(']', f);
}

static void put_idx(FILE *f, const int *v, int n) {
  fputc('[', f);
  for (int i = 0; i < n; i++) fprintf(f, "%s%d", i ? "," : "", v[i]);
  fputc(']', f);
}

static void dump(FILE *f, const ir_graph *g) {
  fputs("{\"name\":", f);
  put_str(f, g->name);
  fputs(",\"version\":", f);
  put_str(f, g->version);
  fprintf(f, ",\"fmk_type\":%d,\"inputs\":", g->fmk_type);
  put_idx(f, g->inputs, g->n_inputs);
  fputs(",\"outputs\":", f);
  put_idx(f, g->outputs, g->n_outputs);
  fputs(",\"tensors\":[", f);
  for (int i = 0; i < g->n_tensors; i++) {
    const ir_tensor *t = &g->tensors[i];
    fputs(i ? ",\n{\"name\":" : "\n{\"name\":", f);
    put_str(f, t->name);
    fprintf(f, ",\"dtype\":%d,\"format\":%d,\"kind\":%d,\"ndim\":%d,\"dims\":", t->dtype, t->format,
            (int)t->kind, t->ndim);
    put_ints(f, t->dims, t->ndim > 0 ? t->ndim : 0);
    fprintf(f, ",\"compress\":%d", t->compress_type);
    if (t->kind == IR_TENSOR_CONST) {
      fputs(",\"data\":[", f);
      for (size_t k = 0; k < t->nbytes; k++) fprintf(f, "%s%u", k ? "," : "", ((const uint8_t *)t->data)[k]);
      fputc(']', f);
    }
    fputs(",\"quant\":[", f);
    for (int q = 0; q < t->n_quant; q++) {
      const ir_quant_param *p = &t->quant[q];
      fprintf(f, "%s{\"scale\":", q ? "," : "");
      put_num(f, p->scale, 17);
      fprintf(f, ",\"zero_point\":%d,\"min\":", p->zero_point);
      put_num(f, p->min, 17);
      fputs(",\"max\":", f);
      put_num(f, p->max, 17);
      fprintf(f, ",\"num_bits\":%d,\"inited\":%s}", p->num_bits, p->inited ? "true" : "false");
    }
    fputs("],\"clusters\":[", f);
    for (int c = 0; c < t->n_clusters; c++) {
      if (c) fputc(',', f);
      put_num(f, t->clusters[c], 9);
    }
    fputs("]}", f);
  }
  fputs("],\"nodes\":[", f);
  for (int i = 0; i < g->n_nodes; i++) {
    const ir_node *n = &g->nodes[i];
    fputs(i ? ",\n{\"name\":" : "\n{\"name\":", f);
    put_str(f, n->name);
    fputs(",\"op\":", f);
    put_str(f, ir_op_name(n->op));
    fprintf(f, ",\"op_id\":%d,\"quant_type\":%d,\"in\":", n->op, n->quant_type);
    put_idx(f, n->in, n->n_in);
    fputs(",\"out\":", f);
    put_idx(f, n->out, n->n_out);
    fputs(",\"attrs\":{", f);
    for (int k = 0; k < n->n_attrs; k++) {
      const ir_attr *a = &n->attrs[k];
      if (k) fputc(',', f);
      put_str(f, a->key);
      fputc(':', f);
      switch (a->type) {
        case IR_ATTR_INT: fprintf(f, "%lld", (long long)a->i); break;
        case IR_ATTR_FLOAT: put_num(f, a->f, 9); break;
        case IR_ATTR_INTS: put_ints(f, a->ints, a->n); break;
        case IR_ATTR_FLOATS:
          fputc('[', f);
          for (int j = 0; j < a->n; j++) {
            if (j) fputc(',', f);
            put_num(f, a->floats[j], 9);
          }
          fputc(']', f);
          break;
        case IR_ATTR_STRING: put_str(f, a->s); break;
        case IR_ATTR_INTS2D:
          fputc('[', f);
          for (int r = 0; r < a->n; r++) {
            if (r) fputc(',', f);
            put_ints(f, a->ints + (size_t)r * (size_t)a->cols, a->cols);
          }
          fputc(']', f);
          break;
      }
    }
    fputs("}}", f);
  }
  fputs("]}\n", f);
}

static int write_json(const char *path, const ir_graph *g) {
  FILE *f = fopen(path, "w");
  if (!f) {
    perror(path);
    return 1;
  }
  dump(f, g);
  return fclose(f) != 0;
}

int main(int argc, char **argv) {
  char err[512] = "";
  ir_graph g;
  ir_graph_init(&g);
  if (argc == 4 && strcmp(argv[1], "sample") == 0) {
    if (ms_sample_build(&g) != 0) {
      fprintf(stderr, "cannot build the sample graph\n");
      return 1;
    }
    tod_status st = ms_write_file(&g, argv[2], err, sizeof err);
    if (st) {
      fprintf(stderr, "ms_write_file: %s (%d)\n", err, st);
      return 1;
    }
    int rc = write_json(argv[3], &g);
    ir_graph_free(&g);
    return rc;
  }
  if (argc == 4 && strcmp(argv[1], "dump") == 0) {
    tod_mapped_file m;
    tod_status st = tod_map_file(argv[2], &m, err, sizeof err);
    if (!st) st = ms_read(m.data, m.size, &g, err, sizeof err);
    if (st) {
      fprintf(stderr, "%s: %s (%d)\n", argv[2], err, st);
      return 1;
    }
    int rc = write_json(argv[3], &g);
    ir_graph_free(&g);
    tod_unmap_file(&m);
    return rc;
  }
  fprintf(stderr, "usage: %s sample OUT.ms OUT.json | dump IN.ms OUT.json\n", argv[0]);
  return 2;
}
