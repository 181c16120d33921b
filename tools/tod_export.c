/* `tod export`: a model (plus, optionally, a checkpoint) in another format, as MindSpore's
 * export(net, ..., file_format=...) after load_checkpoint (seed 003).
 *   tod export MODEL.ms [--ckpt C.ckpt] [--batch N] --format MS|MINDIR|ONNX|AIR [--inference-only] -o OUT
 * --batch resizes every input's leading dimension first (tod_model_resize), as exporting a
 * network built for another batch size. */
#include <stdlib.h>
#include "tod_export.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tod/tod.h"

static int die(tod_status st, const char *msg) {
  fprintf(stderr, "tod: error %d (%s): %s\n", st, tod_status_name(st), msg);
  return 1;
}

static int usage_err(const char *msg) {
  fprintf(stderr, "tod export: %s\n"
                  "usage: tod export MODEL.ms [--ckpt C.ckpt] [--batch N] --format MS|MINDIR|ONNX|AIR [--inference-only] -o OUT\n",
          msg);
  return 2;
}

int tod_cmd_export(int argc, char **argv) {
  const char *model = NULL, *ckpt = NULL, *fmt = NULL, *out = NULL;
  int inference_only = 0;
  long batch = 0;
  for (int i = 2; i < argc; i++) {
    const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(s, "--ckpt") == 0 && v) ckpt = v, i++;
    else if (strcmp(s, "--format") == 0 && v) fmt = v, i++;
    else if (strncmp(s, "--format=", 9) == 0) fmt = s + 9;
    else if ((strcmp(s, "-o") == 0 || strcmp(s, "--output") == 0) && v) out = v, i++;
    else if (strcmp(s, "--inference-only") == 0) inference_only = 1;
    else if (strcmp(s, "--batch") == 0 && v) {
      char *end;
      batch = strtol(v, &end, 10);
      if (*end || batch < 1 || batch > 1 << 20) return usage_err("--batch needs a positive integer");
      i++;
    }
    else if (s[0] != '-' && !model) model = s;
    else {
      char msg[256];
      snprintf(msg, sizeof msg, "unexpected argument '%s'", s);
      return usage_err(msg);
    }
  }
  if (!model || !fmt || !out) return usage_err("MODEL.ms, --format and -o are required");
  tod_export_format f;
  if (strcasecmp(fmt, "MS") == 0) f = TOD_FORMAT_MS;
  else if (strcasecmp(fmt, "MINDIR") == 0) f = TOD_FORMAT_MINDIR;
  else if (strcasecmp(fmt, "ONNX") == 0) f = TOD_FORMAT_ONNX;
  else if (strcasecmp(fmt, "AIR") == 0) f = TOD_FORMAT_AIR;
  else {
    char msg[256];
    snprintf(msg, sizeof msg, "--format must be MS, MINDIR, ONNX or AIR, not '%s'", fmt);
    return die(TOD_INPUT_PARAM_INVALID, msg);
  }
  char err[1024];
  tod_model *m;
  tod_options opts = {.num_threads = 1};
  tod_status st = tod_model_load(model, &opts, &m, err, sizeof err);
  if (st != TOD_OK) return die(st, err);
  int rc = 1;
  if (ckpt) {
    int64_t step;
    st = tod_model_load_checkpoint(m, ckpt, &step);
    if (st != TOD_OK) {
      die(st, tod_model_error(m));
      goto out;
    }
  }
  if (batch > 0) {
    int n = tod_model_num_inputs(m), nd[64];
    int64_t dims[64][8];
    const int64_t *dp[64];
    for (int i = 0; i < n && i < 64; i++) {
      tod_tensor_info ti;
      st = tod_model_input_info(m, i, &ti);
      if (st != TOD_OK || ti.ndim < 1 || ti.ndim > 8) {
        die(st != TOD_OK ? st : TOD_NOT_SUPPORT, "--batch: an input has no leading dimension");
        goto out;
      }
      nd[i] = ti.ndim;
      for (int k = 0; k < ti.ndim; k++) dims[i][k] = ti.dims[k];
      dims[i][0] = batch;
      dp[i] = dims[i];
    }
    st = n > 64 ? TOD_NOT_SUPPORT : tod_model_resize(m, nd, dp);
    if (st != TOD_OK) {
      die(st, tod_model_error(m));
      goto out;
    }
  }
  st = tod_model_export_as(m, out, f, inference_only);
  if (st != TOD_OK) {
    die(st, tod_model_error(m));
    goto out;
  }
  printf("exported %s (%s%s)\n", out, fmt, inference_only || f == TOD_FORMAT_ONNX ? ", inference" : "");
  rc = 0;
out:
  tod_model_free(m);
  return rc;
}
