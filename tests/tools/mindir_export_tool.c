/* mindir_export_tool MODEL.ms OUT.mindir: reads a .ms with ms_read and writes it with
 * mindir_export (the C API under `tod export --format MINDIR`). Built by
 * tests/py/test_mindir_export.py against the build's libtod.a. */
#include <stdio.h>

#include "format/export_mindir.h"
#include "format/file_io.h"
#include "format/ms_read.h"
#include "ir/ir.h"

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: mindir_export_tool MODEL.ms OUT.mindir\n");
    return 2;
  }
  char err[512] = "";
  tod_mapped_file f;
  if (tod_map_file(argv[1], &f, err, sizeof err) != TOD_OK) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  ir_graph g;
  tod_status st = ms_read(f.data, f.size, &g, err, sizeof err);
  if (st == TOD_OK) st = mindir_export(&g, argv[2], err, sizeof err);
  if (st != TOD_OK) fprintf(stderr, "error %d: %s\n", (int)st, err);
  ir_graph_free(&g);
  tod_unmap_file(&f);
  return st == TOD_OK ? 0 : 1;
}
