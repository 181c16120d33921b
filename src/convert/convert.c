/* The conversion pipeline: import -> passes -> .ms. Data flows one way; each step is one
 * module, this file only sequences them and decides which apply. */
#include "tod/convert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format/file_io.h"
#include "format/ms_write.h"
#include "import/mindir.h"
#include "import/onnx.h"
#include "convert/train_config.h"
#include "ir/autodiff.h"
#include "ir/ir.h"
#include "ir/passes.h"
#include "ir/quant.h"
#include "ir/shuffle.h"
#include "ir/source_pages.h"
#include "tod/tod.h"

void tod_convert_options_init(tod_convert_options *o) {
  if (!o) return;
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

/* Import, then the checks every pass relies on (valid indices, topological order). */
static tod_status import_graph(const tod_convert_options *o, tod_mapped_file *f, const char *dir, ir_graph *g,
                               char *err, size_t errlen) {
  tod_status st;
  if (o->fmk == TOD_FMK_MINDIR)
    st = mindir_import(f->data, f->size, dir, o->train_model, g, err, errlen);
  else
    st = onnx_import_deferred(f->data, f->size, dir, g, err, errlen); /* weights read once, by the writer */
  /* Whatever import touched goes back now (a weight still borrowed is re-read from the file
   * when a pass or the writer uses it). */
  ir_source_release(f->data, f->size);
  if (st == TOD_OK) st = ir_validate(g, err, errlen);
  if (st == TOD_OK) st = ir_toposort(g, err, errlen);
  return st;
}

tod_status tod_convert(const tod_convert_options *o, char *err, size_t errlen) {
  char dummy[8];
  if (!err) err = dummy, errlen = sizeof dummy;
  if (!o || !o->model_file || !o->output_file) {
    snprintf(err, errlen, "no %s", !o ? "options" : !o->model_file ? "model file" : "output file");
    return TOD_NULL_PTR;
  }
  if (o->fmk != TOD_FMK_ONNX && o->fmk != TOD_FMK_MINDIR) {
    snprintf(err, errlen, "unsupported source framework %d", (int)o->fmk);
    return TOD_NOT_SUPPORT;
  }
  /* The config file is validated whatever the mode: a typo should not pass silently. */
  tod_train_config cfg;
  tod_train_config_init(&cfg);
  tod_status st = TOD_OK;
  if (o->config_file) st = tod_train_config_load(&cfg, o->config_file, err, errlen);
  /* Weight quantization: the flags, then [common_quant_param] (which wins where it sets a key). */
  ir_quant_options qo = {o->bit_num, o->quant_weight_size, o->quant_weight_channel, 1};
  int quant = o->quant_weight || cfg.quant_weight;
  if (cfg.bit_num >= 0) qo.bit_num = cfg.bit_num;
  if (cfg.min_quant_weight_size >= 0) qo.min_size = cfg.min_quant_weight_size;
  if (cfg.min_quant_weight_channel >= 0) qo.min_channel = cfg.min_quant_weight_channel;
  if (st == TOD_OK && quant) st = ir_quant_check_options(&qo, err, errlen);
  if (st != TOD_OK) {
    tod_train_config_free(&cfg);
    return st;
  }
  tod_mapped_file f;
  int src_fd; /* the mapped file, for copying unchanged weights in the kernel (tod_atomic_copy) */
  st = tod_map_file_fd(o->model_file, &f, &src_fd, err, errlen);
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
  /* Weights the passes rewrite give their source pages back (peak memory: about one copy
   * of the weights, not two). */
  ir_source_register(f.data, f.size);
  ir_source_set_file(f.data, src_fd);
  char dir[4096];
  dir_of(o->model_file, dir, sizeof dir);
  ir_graph g;
  ir_graph_init(&g);
  st = import_graph(o, &f, dir, &g, err, errlen);
  /* A MINDIR training graph (TrainOneStepCell export) brings MindSpore's own gradient and
   * optimizer nodes: no autodiff then. */
  int has_grads = o->fmk == TOD_FMK_MINDIR && st == TOD_OK && mindir_has_optimizer(&g);
  if (o->train_model) {
    /* Training: BatchNorm stays (its statistics train), nothing is folded (a folded node could
     * swallow a trainable weight) and activations stay unfused (each has its own gradient).
     * Shapes are inferred before autodiff, which shapes the gradient tensors itself. */
    if (st == TOD_OK) st = ir_pass_layout(&g, o->input_nhwc, err, errlen);
    if (st == TOD_OK) st = ir_pass_infer_and_fold(&g, 0, err, errlen);
    if (st == TOD_OK) st = ir_pass_check_shuffles(&g, err, errlen);
    if (st == TOD_OK && !has_grads) st = ir_pass_autodiff(&g, &cfg.spec, err, errlen);
  } else {
    if (st == TOD_OK) st = ir_pass_fold_batchnorm(&g, err, errlen);
    if (st == TOD_OK) st = ir_pass_layout(&g, o->input_nhwc, err, errlen);
    if (st == TOD_OK) st = ir_pass_infer_and_fold(&g, 1, err, errlen);
    /* Channel shuffles run on NHWC data only when the layout pass knows their NCHW dims, which
     * a model may not declare: then the inferred dims are carried into a second import. */
    ir_shuffle_hint *hints = NULL;
    int nh = st == TOD_OK ? ir_shuffle_hints(&g, &hints) : 0;
    if (nh < 0) {
      snprintf(err, errlen, "out of memory");
      st = TOD_MEMORY_FAILED;
    } else if (nh > 0) {
      ir_graph_free(&g);
      ir_graph_init(&g);
      st = import_graph(o, &f, dir, &g, err, errlen);
      if (st == TOD_OK) st = ir_pass_fold_batchnorm(&g, err, errlen);
      if (st == TOD_OK) ir_shuffle_apply_hints(&g, hints, nh);
      if (st == TOD_OK) st = ir_pass_layout(&g, o->input_nhwc, err, errlen);
      if (st == TOD_OK) st = ir_pass_infer_and_fold(&g, 1, err, errlen);
    }
    ir_shuffle_hints_free(hints, nh > 0 ? nh : 0);
    if (st == TOD_OK) st = ir_pass_check_shuffles(&g, err, errlen);
    if (st == TOD_OK) st = ir_pass_fuse_activation(&g, err, errlen);
  }
  if (st == TOD_OK) st = ir_compact(&g);
  if (st == TOD_OK) st = ir_toposort(&g, err, errlen);
  if (st == TOD_OK) {
    free(g.version);
    g.version = malloc(64);
    if (g.version) snprintf(g.version, 64, "tod %s", TOD_VERSION);
    g.fmk_type = (int)o->fmk;
    if (quant) {
      ir_quant_summary qs;
      st = ir_pass_quantize_weights(&g, &qo, &qs, err, errlen);
      if (st == TOD_OK && o->quant_summary)
        *o->quant_summary = (tod_quant_summary){1, qo.bit_num, qs.n_quantized, qs.n_kmeans, qs.n_float,
                                                qs.bytes_before, qs.bytes_after};
    }
    /* The same before writing: the passes' reads are done, the writer reads what it writes. */
    ir_source_release(f.data, f.size);
    if (st == TOD_OK) st = ms_write_file(&g, o->output_file, err, errlen);
  }
  ir_graph_free(&g);
  ir_source_unregister(f.data);
  tod_unmap_file(&f);
  if (src_fd >= 0) close(src_fd);
  tod_train_config_free(&cfg);
  return st;
}
