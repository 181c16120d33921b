/* min_run: inference through the minimal device library (tod_min: no stdio, no threads) for
 * tests/arm/min_runtime.py. The model is read into memory at a given byte offset (1 makes every
 * weight misaligned) and loaded with tod_model_load_buffer; input 0 comes from a raw float32
 * file, output 0 goes to one.
 *   min_run MODEL.ms IN.bin OUT.bin [OFFSET]      prints the output's dims */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tod/tod.h"

static unsigned char *slurp(const char *path, size_t *n, size_t offset) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *p = malloc((size_t)len + offset + 1);
  if (p && fread(p + offset, 1, (size_t)len, f) != (size_t)len) {
    free(p);
    p = NULL;
  }
  fclose(f);
  *n = (size_t)len;
  return p;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: min_run MODEL.ms IN.bin OUT.bin [OFFSET]\n");
    return 2;
  }
  size_t off = argc > 4 ? (size_t)atoi(argv[4]) : 0, size = 0, in_size = 0;
  unsigned char *model = slurp(argv[1], &size, off), *in = slurp(argv[2], &in_size, 0);
  if (!model || !in) {
    fprintf(stderr, "min_run: cannot read %s or %s\n", argv[1], argv[2]);
    free(model);
    free(in);
    return 1;
  }
  char err[512];
  tod_model *m = NULL;
  tod_status st = tod_model_load_buffer(model + off, size, NULL, &m, err, sizeof err);
  if (st != TOD_OK) {
    fprintf(stderr, "min_run: load failed (%d): %s\n", st, err);
    free(model);
    free(in);
    return 1;
  }
  st = tod_model_set_input(m, 0, in, in_size);
  if (st == TOD_OK) st = tod_model_run(m);
  const void *y = NULL;
  size_t nb = 0;
  if (st == TOD_OK) st = tod_model_output(m, 0, &y, &nb);
  FILE *f = st == TOD_OK ? fopen(argv[3], "wb") : NULL;
  int ok = f && fwrite(y, 1, nb, f) == nb;
  if (f) fclose(f);
  if (!ok) {
    fprintf(stderr, "min_run: run failed (%d): %s\n", st, st ? tod_model_error(m) : argv[3]);
    tod_model_free(m);
    free(model);
    free(in);
    return 1;
  }
  tod_tensor_info info;
  tod_model_output_info(m, 0, &info);
  for (int d = 0; d < info.ndim; d++) printf("%s%lld", d ? " " : "", (long long)info.dims[d]);
  printf("\n");
  tod_model_stats s;
  tod_model_stats_get(m, &s);
  fprintf(stderr, "threads %d isa %s\n", s.num_threads, s.isa);
  tod_model_free(m);
  free(model);
  free(in);
  return 0;
}
