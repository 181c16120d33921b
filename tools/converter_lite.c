/* converter_lite: MindSpore Lite's model converter command line, on tod's conversion engine.
 * Parses and validates flags (`--name=value`, no spaces), calls tod_convert, and prints the
 * result line MindSpore Lite's scripts look for. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tod/convert.h"
#include "tod/tod.h"

static void usage(FILE *f) {
  fprintf(f,
          "Usage: converter_lite --fmk=ONNX|MINDIR --modelFile=FILE --outputFile=FILE [options]\n"
          "\n"
          "  --help                          print this help\n"
          "  --fmk=<FMK>                     source framework: ONNX or MINDIR\n"
          "  --modelFile=<MODELFILE>         input model file\n"
          "  --outputFile=<OUTPUTFILE>       output model; \".ms\" is appended when missing\n"
          "  --trainModel=true|false         convert a training model (default false)\n"
          "  --quantType=WeightQuant         weight quantization (the one kind a training model accepts)\n"
          "  --bitNum=<1..16>                weight quantization bits (default 8)\n"
          "  --quantWeightSize=<N>           quantize weights with more than N elements (default 0)\n"
          "  --quantWeightChannel=<N>        quantize conv weights with more than N channels (default 16)\n"
          "  --inputDataFormat=NCHW|NHWC     layout of the converted model's 4-D inputs\n"
          "                                  (default: the source model's own, NCHW for ONNX)\n"
          "  --configFile=<CONFIGFILE>       [train] and [common_quant_param] settings\n"
          "\n"
          "A parameter is --name=value with no space around '='.\n"
          "On success the last line is \"CONVERT RESULT SUCCESS:0\"; on failure\n"
          "\"CONVERT RESULT FAILED:<code> <message>\" with a MindSpore Lite status code.\n");
}

static int fail(tod_status code, const char *fmt, const char *a, const char *b) {
  char msg[1200];
  snprintf(msg, sizeof msg, fmt, a ? a : "", b ? b : "");
  fprintf(stdout, "CONVERT RESULT FAILED:%d %s\n", code, msg);
  fflush(stdout);
  return 1;
}

static int parse_long(const char *s, long lo, long hi, long *out) {
  if (!*s) return 0;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < lo || v > hi) return 0;
  *out = v;
  return 1;
}

int main(int argc, char **argv) {
  tod_convert_options o;
  tod_convert_options_init(&o);
  const char *fmk = NULL, *model = NULL, *output = NULL;
  int saw_quant_param = 0;
  if (argc <= 1) {
    usage(stdout);
    return fail(TOD_PARAM_INVALID, "no parameters given; see --help", NULL, NULL);
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    }
    if (strncmp(a, "--", 2) != 0)
      return fail(TOD_PARAM_INVALID,
                  "unexpected argument '%s': parameters are --name=value with no space after '='", a,
                  NULL);
    const char *eq = strchr(a, '=');
    if (!eq) return fail(TOD_PARAM_INVALID, "parameter '%s' has no value: use %s=<value>", a, a);
    char name[64];
    size_t nl = (size_t)(eq - a - 2);
    if (nl == 0 || nl >= sizeof name) return fail(TOD_PARAM_INVALID, "unknown parameter '%s'", a, NULL);
    memcpy(name, a + 2, nl);
    name[nl] = 0;
    const char *v = eq + 1;
    if (!*v)
      return fail(TOD_PARAM_INVALID,
                  "parameter --%s has an empty value (no space is allowed after '=')", name, NULL);
    if (*v == ' ' || v[strlen(v) - 1] == ' ')
      return fail(TOD_PARAM_INVALID, "parameter --%s has spaces around its value '%s'", name, v);
    long lv;
    if (strcmp(name, "fmk") == 0) {
      fmk = v;
    } else if (strcmp(name, "modelFile") == 0) {
      model = v;
    } else if (strcmp(name, "outputFile") == 0) {
      output = v;
    } else if (strcmp(name, "trainModel") == 0) {
      if (strcmp(v, "true") == 0) o.train_model = 1;
      else if (strcmp(v, "false") == 0) o.train_model = 0;
      else return fail(TOD_PARAM_INVALID, "--trainModel must be true or false, not '%s'", v, NULL);
    } else if (strcmp(name, "quantType") == 0) {
      if (strcmp(v, "WeightQuant") == 0) o.quant_weight = 1;
      else return fail(TOD_PARAM_INVALID, "--quantType must be WeightQuant, not '%s'", v, NULL);
    } else if (strcmp(name, "bitNum") == 0) {
      if (!parse_long(v, 1, 16, &lv))
        return fail(TOD_PARAM_INVALID, "--bitNum must be an integer in [1, 16], not '%s'", v, NULL);
      o.bit_num = (int)lv;
      saw_quant_param = 1;
    } else if (strcmp(name, "quantWeightSize") == 0) {
      if (!parse_long(v, 0, 2147483647L, &lv))
        return fail(TOD_PARAM_INVALID, "--quantWeightSize must be an integer >= 0, not '%s'", v, NULL);
      o.quant_weight_size = lv;
      saw_quant_param = 1;
    } else if (strcmp(name, "quantWeightChannel") == 0) {
      if (!parse_long(v, 0, 2147483647L, &lv))
        return fail(TOD_PARAM_INVALID, "--quantWeightChannel must be an integer >= 0, not '%s'", v, NULL);
      o.quant_weight_channel = lv;
      saw_quant_param = 1;
    } else if (strcmp(name, "inputDataFormat") == 0) {
      if (strcmp(v, "NHWC") == 0) o.input_nhwc = 1;
      else if (strcmp(v, "NCHW") == 0) o.input_nhwc = 0;
      else return fail(TOD_PARAM_INVALID, "--inputDataFormat must be NCHW or NHWC, not '%s'", v, NULL);
    } else if (strcmp(name, "configFile") == 0) {
      struct stat st;
      if (stat(v, &st) != 0 || !S_ISREG(st.st_mode))
        return fail(TOD_PARAM_INVALID, "--configFile '%s' is not a readable file", v, NULL);
      o.config_file = v;
    } else {
      return fail(TOD_PARAM_INVALID, "unknown parameter '--%s'", name, NULL);
    }
  }
  if (!fmk) return fail(TOD_PARAM_INVALID, "--fmk is required (ONNX or MINDIR)", NULL, NULL);
  if (strcmp(fmk, "ONNX") == 0) o.fmk = TOD_FMK_ONNX;
  else if (strcmp(fmk, "MINDIR") == 0) o.fmk = TOD_FMK_MINDIR;
  else if (strcmp(fmk, "TF") == 0 || strcmp(fmk, "CAFFE") == 0 || strcmp(fmk, "TFLITE") == 0 ||
           strcmp(fmk, "PYTORCH") == 0)
    return fail(TOD_NOT_SUPPORT, "--fmk=%s is not supported: tod converts ONNX and MINDIR", fmk, NULL);
  else return fail(TOD_PARAM_INVALID, "--fmk must be ONNX or MINDIR, not '%s'", fmk, NULL);
  if (!model) return fail(TOD_PARAM_INVALID, "--modelFile is required", NULL, NULL);
  if (!output) return fail(TOD_PARAM_INVALID, "--outputFile is required", NULL, NULL);
  if (saw_quant_param && !o.quant_weight)
    return fail(TOD_PARAM_INVALID,
                "--bitNum, --quantWeightSize and --quantWeightChannel need --quantType=WeightQuant", NULL, NULL);
  struct stat st;
  if (stat(model, &st) != 0)
    return fail(TOD_PARAM_INVALID, "--modelFile '%s' does not exist: %s", model, strerror(errno));
  size_t ol = strlen(output);
  char *out_path = malloc(ol + 4);
  if (!out_path) return fail(TOD_MEMORY_FAILED, "out of memory", NULL, NULL);
  memcpy(out_path, output, ol + 1);
  if (ol < 3 || strcmp(output + ol - 3, ".ms") != 0) strcat(out_path, ".ms");
  o.model_file = model;
  o.output_file = out_path;
  char err[1024] = "";
  tod_quant_summary qs = {0};
  o.quant_summary = &qs;
  tod_status s = tod_convert(&o, err, sizeof err);
  if (s != TOD_OK) {
    int r = fail(s, "%s", err[0] ? err : tod_status_name(s), NULL);
    free(out_path);
    return r;
  }
  free(out_path);
  if (qs.ran)
    printf("WEIGHT QUANT: %d-bit, %d tensors quantized (%d with k-means codebooks), %d kept float; "
           "weight bytes %zu -> %zu (%.3fx)\n",
           qs.bit_num, qs.n_quantized, qs.n_kmeans, qs.n_float, qs.bytes_before, qs.bytes_after,
           qs.bytes_before ? (double)qs.bytes_after / (double)qs.bytes_before : 1.0);
  printf("CONVERT RESULT SUCCESS:0\n");
  return 0;
}
