/* The conversion pipeline: import -> passes -> .ms. Data flows one way; each step is one
 * module, this file only sequences them and decides which apply. */
#include "tod/convert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/file_io.h"
#include "format/ms_write.h"
#include "import/onnx.h"
#include "convert/train_config.h"
#include "ir/autodiff.h"
#include "ir/ir.h"
#include "ir/passes.h"
#include "tod/tod.h"

void tod_convert_options_init(tod_convert_options *o) {
  memset(o, 0, sizeof *o);
  o->fmk = TOD_FMK_ONNX;
  o->bit_num = 8;
  o->quant_weight_size = 0;
  o->quant_weight_channel = 16;
}

/* Directory part of a path (for external data files), in buf. */
static void dir_of(const char *path, char *buf, size_t n) {
  const char *slash = strrchr(path, '/');
  if (!slash) {
    snprintf(buf, n, ".");
    return;
  }
  size_t len = (size_t)(slash - path);
  if (len == 0) len = 1;
  if (len >= n) len = n - 1;
  memcpy(buf, path, len);
  buf[len] = 0;
}

tod_status tod_convert(const tod_convert_options *o, char *err, size_t errlen) {
  if (o->fmk == TOD_FMK_MINDIR) {
    snprintf(err, errlen, "--fmk=MINDIR is not supported yet (MINDIR import arrives in a later version)");
    return TOD_NOT_SUPPORT;
  }
  if (o->fmk != TOD_FMK_ONNX) {
    snprintf(err, errlen, "unsupported source framework %d", (int)o->fmk);
    return TOD_NOT_SUPPORT;
  }
  if (o->quant_weight) {
    snprintf(err, errlen, "--quantType=WeightQuant is not supported yet (weight quantization arrives in a later version)");
    return TOD_NOT_SUPPORT;
  }
  /* The config file is validated whatever the mode: a typo should not pass silently. */
  tod_train_config cfg;
  tod_train_config_init(&cfg);
  tod_status st = TOD_OK;
  if (o->config_file) st = tod_train_config_load(&cfg, o->config_file, err, errlen);
  if (st != TOD_OK) {
    tod_train_config_free(&cfg);
    return st;
  }
  tod_mapped_file f;
  st = tod_map_file(o->model_file, &f, err, errlen);
  if (st != TOD_OK) {
    tod_train_config_free(&cfg);
    return st;
  }
  if (f.size == 0) {
    snprintf(err, errlen, "%s is empty", o->model_file);
    tod_unmap_file(&f);
    tod_train_config_free(&cfg);
    return TOD_GRAPH_FILE_ERR;
  }
  char dir[4096];
  dir_of(o->model_file, dir, sizeof dir);
  ir_graph g;
  ir_graph_init(&g);
  st = onnx_import(f.data, f.size, dir, &g, err, errlen);
  if (st == TOD_OK) st = ir_validate(&g, err, errlen);
  if (st == TOD_OK) st = ir_toposort(&g, err, errlen);
  if (o->train_model) {
    /* Training: BatchNorm stays (its statistics train), nothing is folded (a folded node could
     * swallow a trainable weight) and activations stay unfused (each has its own gradient).
     * Shapes are inferred before autodiff, which shapes the gradient tensors itself. */
    if (st == TOD_OK) st = ir_pass_layout(&g, o->input_nhwc, err, errlen);
    if (st == TOD_OK) st = ir_pass_infer_and_fold(&g, 0, err, errlen);
    if (st == TOD_OK) st = ir_pass_autodiff(&g, &cfg.spec, err, errlen);
  } else {
    if (st == TOD_OK) st = ir_pass_fold_batchnorm(&g, err, errlen);
    if (st == TOD_OK) st = ir_pass_layout(&g, o->input_nhwc, err, errlen);
    if (st == TOD_OK) st = ir_pass_infer_and_fold(&g, 1, err, errlen);
    if (st == TOD_OK) st = ir_pass_fuse_activation(&g, err, errlen);
  }
  if (st == TOD_OK) st = ir_compact(&g);
  if (st == TOD_OK) st = ir_toposort(&g, err, errlen);
  if (st == TOD_OK) {
    free(g.version);
    g.version = malloc(64);
    if (g.version) snprintf(g.version, 64, "tod %s", TOD_VERSION);
    g.fmk_type = (int)o->fmk;
    st = ms_write_file(&g, o->output_file, err, errlen);
  }
  ir_graph_free(&g);
  tod_unmap_file(&f);
  tod_train_config_free(&cfg);
  return st;
}
