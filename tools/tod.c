/* tod: run and inspect .ms models on the device.
 *   tod run MODEL.ms --input X.npy [--input ...] --output Y.npy [--output ...] [--numThreads N]
 *   tod info MODEL.ms
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/file_io.h"
#include "format/ms_read.h"
#include "format/npy.h"
#include "ir/quant.h"
#include "tod_export.h"
#include "tod_train.h"
#ifdef TOD_HAVE_SERVICE
#include "service/serve.h"
#endif
#include "tod/tod.h"

#define MAX_IO 64

static void usage(FILE *f) {
  fprintf(f,
          "Usage:\n"
          "  tod run MODEL.ms --input X.npy [--input ...] --output Y.npy [--output ...] [--numThreads N]\n"
          "          [--max-memory SIZE]   (bytes, or 64MB / 2G: the session's memory limit)\n"
          "      inputs and outputs are NumPy .npy files in the model's input and output order;\n"
          "      inputs whose shape differs from the model's (e.g. another batch size) resize it\n"
          "  tod train MODEL.ms --input X.npy --label Y.npy [--batch N] [--epochs E | --steps S]\n"
          "            [--no-shuffle] [--seed K] [--lr F] [--lr-schedule step:S:G|exp:G|cos:MIN]\n"
          "            [--virtual-batch N] [--loss-log L.npy] [--save OUT.ms] [--inference-only]\n"
          "            [--save-checkpoint-steps N] [--save-checkpoint-seconds S] [--keep-checkpoint-max K]\n"
          "            [--keep-checkpoint-per-n-minutes M] [--prefix P] [--directory D] [--resume C.ckpt]\n"
          "            [--max-memory SIZE]\n"
          "      trains a training model (converter_lite --trainModel=true) on device; MindSpore .ckpt\n"
          "      checkpoints with CheckpointConfig's policies; --resume continues from one\n"
          "  tod eval MODEL.ms --input X.npy --label Y.npy [--batch N]\n"
          "      accuracy of output 0 (argmax) against class or one-hot labels\n"
          "  tod export MODEL.ms [--ckpt C.ckpt] [--batch N] --format MS|MINDIR|ONNX|AIR [--inference-only] -o OUT\n"
          "      the model (with a checkpoint's weights) as .ms, MINDIR or ONNX (opset 13)\n"
          "  tod info MODEL.ms\n"
          "      inputs, outputs, operator counts, weight bytes\n"
          "  tod serve [--listen 127.0.0.1:8080] [--data DIR] [--root DIR] [--workers N] [--db URL]\n"
          "      the model conversion task service: REST API and web page (tod serve --help)\n");
}

static int die(tod_status st, const char *msg) {
  fprintf(stderr, "tod: error %d (%s): %s\n", st, tod_status_name(st), msg);
  return 1;
}

static const char *dtype_name(int dt) {
  switch (dt) {
    case TOD_DT_BOOL: return "bool";
    case TOD_DT_INT8: return "int8";
    case TOD_DT_INT16: return "int16";
    case TOD_DT_INT32: return "int32";
    case TOD_DT_INT64: return "int64";
    case TOD_DT_UINT8: return "uint8";
    case TOD_DT_FLOAT16: return "float16";
    case TOD_DT_FLOAT32: return "float32";
    case TOD_DT_FLOAT64: return "float64";
    default: return "?";
  }
}

static void print_info(const tod_tensor_info *ti) {
  printf("  %-40s %-8s [", ti->name, dtype_name(ti->dtype));
  for (int d = 0; d < ti->ndim; d++) printf("%s%lld", d ? ", " : "", (long long)ti->dims[d]);
  printf("]\n");
}

static void print_op(const char *op, int count, void *ctx) {
  (void)ctx;
  printf("  %-32s %d\n", op, count);
}

/* Weight quantization as stored in the file (issue 5): the session has decoded it already. */
static void print_quant_info(const char *path) {
  char err[256];
  tod_mapped_file f;
  ir_graph g;
  ir_graph_init(&g);
  if (tod_map_file(path, &f, err, sizeof err) != TOD_OK) return;
  if (ms_read(f.data, f.size, &g, err, sizeof err) == TOD_OK) {
    int n = 0;
    size_t stored = 0, as_float = 0;
    for (int i = 0; i < g.n_tensors; i++) {
      const ir_tensor *t = &g.tensors[i];
      ir_quant_desc d;
      ir_quant_describe(t, &d);
      if (!d.quantized || !t->data) continue;
      if (!n++) printf("quantized weights (decoded to float32 at load; kernels compute in float):\n");
      int64_t numel = ir_tensor_numel(t);
      size_t extra = (size_t)t->n_clusters * 4;
      printf("  %-40s %2d bits  %-6s %-10s %5d channels  %zu bytes (float %lld)\n", t->name, d.bits, d.scheme,
             d.storage, d.channels, t->nbytes + extra, (long long)(numel > 0 ? numel * 4 : 0));
      stored += t->nbytes + extra;
      as_float += numel > 0 ? (size_t)numel * 4 : 0;
    }
    if (n) printf("quantized tensors: %d, %zu bytes stored for %zu float bytes\n", n, stored, as_float);
  }
  ir_graph_free(&g);
  tod_unmap_file(&f);
}

static int cmd_info(int argc, char **argv) {
  if (argc != 3) {
    usage(stderr);
    return 2;
  }
  char err[1024];
  tod_model *m;
  tod_options opts = {.num_threads = 1};
  tod_status st = tod_model_load(argv[2], &opts, &m, err, sizeof err);
  if (st != TOD_OK) return die(st, err);
  tod_model_stats s;
  tod_model_stats_get(m, &s);
  printf("model: %s\n", argv[2]);
  printf("inputs:\n");
  for (int i = 0; i < tod_model_num_inputs(m); i++) {
    tod_tensor_info ti;
    tod_model_input_info(m, i, &ti);
    print_info(&ti);
  }
  printf("outputs:\n");
  for (int i = 0; i < tod_model_num_outputs(m); i++) {
    tod_tensor_info ti;
    tod_model_output_info(m, i, &ti);
    print_info(&ti);
  }
  printf("operators (%d nodes):\n", s.num_nodes);
  tod_model_op_counts(m, print_op, NULL);
  printf("tensors: %d\n", s.num_tensors);
  printf("weight bytes: %zu\n", s.weight_bytes);
  printf("activation arena bytes: %zu\n", s.arena_bytes);
  printf("kernels: %s\n", s.isa);
  tod_model_free(m);
  print_quant_info(argv[2]);
  return 0;
}

static int cmd_run(int argc, char **argv) {
  const char *model = NULL, *inputs[MAX_IO], *outputs[MAX_IO];
  int ni = 0, no = 0, threads = 0;
  size_t max_memory = 0;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--input") == 0 && i + 1 < argc && ni < MAX_IO) inputs[ni++] = argv[++i];
    else if (strcmp(argv[i], "--output") == 0 && i + 1 < argc && no < MAX_IO) outputs[no++] = argv[++i];
    else if (strncmp(argv[i], "--numThreads=", 13) == 0) threads = atoi(argv[i] + 13);
    else if (strcmp(argv[i], "--numThreads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
    else if (strncmp(argv[i], "--max-memory=", 13) == 0 || (strcmp(argv[i], "--max-memory") == 0 && i + 1 < argc)) {
      const char *v = argv[i][12] == '=' ? argv[i] + 13 : argv[++i];
      if (tod_parse_bytes(v, &max_memory) != 0) {
        fprintf(stderr, "tod run: --max-memory needs a byte count such as 1048576, 64MB or 2G, got '%s'\n", v);
        return 2;
      }
    }
    else if (argv[i][0] != '-' && !model) model = argv[i];
    else {
      fprintf(stderr, "tod run: unexpected argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (!model) {
    usage(stderr);
    return 2;
  }
  char err[1024];
  tod_model *m;
  tod_options opts = {.num_threads = threads, .max_memory = max_memory};
  tod_status st = tod_model_load(model, &opts, &m, err, sizeof err);
  if (st != TOD_OK) return die(st, err);
  int rc = 1;
  tod_npy arrs[MAX_IO];
  int loaded = 0;
  if (ni != tod_model_num_inputs(m)) {
    snprintf(err, sizeof err, "the model has %d inputs, %d given", tod_model_num_inputs(m), ni);
    die(TOD_INPUT_PARAM_INVALID, err);
    goto out;
  }
  if (no > tod_model_num_outputs(m)) {
    snprintf(err, sizeof err, "the model has %d outputs, %d requested", tod_model_num_outputs(m), no);
    die(TOD_INPUT_PARAM_INVALID, err);
    goto out;
  }
  int need_resize = 0;
  int ndims[MAX_IO];
  const int64_t *dims[MAX_IO];
  for (int i = 0; i < ni; i++) {
    st = tod_npy_read(inputs[i], &arrs[i], err, sizeof err);
    if (st != TOD_OK) {
      die(st, err);
      goto out;
    }
    loaded++;
    tod_tensor_info ti;
    tod_model_input_info(m, i, &ti);
    if (arrs[i].dtype != ti.dtype) {
      snprintf(err, sizeof err, "input %d (%s) is %s, the model wants %s", i, ti.name,
               dtype_name(arrs[i].dtype), dtype_name(ti.dtype));
      die(TOD_INPUT_TENSOR_ERROR, err);
      goto out;
    }
    if (arrs[i].ndim != ti.ndim) need_resize = 1;
    for (int d = 0; d < ti.ndim && d < arrs[i].ndim; d++)
      if (arrs[i].dims[d] != ti.dims[d]) need_resize = 1;
    ndims[i] = arrs[i].ndim;
    dims[i] = arrs[i].dims;
  }
  if (need_resize) {
    st = tod_model_resize(m, ndims, dims);
    if (st != TOD_OK) {
      die(st, tod_model_error(m));
      goto out;
    }
  }
  for (int i = 0; i < ni; i++) {
    st = tod_model_set_input(m, i, arrs[i].data, arrs[i].nbytes);
    if (st != TOD_OK) {
      die(st, tod_model_error(m));
      goto out;
    }
  }
  st = tod_model_run(m);
  if (st != TOD_OK) {
    die(st, tod_model_error(m));
    goto out;
  }
  for (int i = 0; i < no; i++) {
    const void *data;
    size_t nbytes;
    tod_tensor_info ti;
    tod_model_output_info(m, i, &ti);
    tod_model_output(m, i, &data, &nbytes);
    st = tod_npy_write(outputs[i], ti.dtype, ti.ndim, ti.dims, data, nbytes, err, sizeof err);
    if (st != TOD_OK) {
      die(st, err);
      goto out;
    }
  }
  rc = 0;
out:
  for (int i = 0; i < loaded; i++) tod_npy_free(&arrs[i]);
  tod_model_free(m);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "run") == 0) return cmd_run(argc, argv);
  if (strcmp(argv[1], "info") == 0) return cmd_info(argc, argv);
  if (strcmp(argv[1], "train") == 0) return tod_cmd_train(argc, argv);
  if (strcmp(argv[1], "eval") == 0) return tod_cmd_eval(argc, argv);
  if (strcmp(argv[1], "export") == 0) return tod_cmd_export(argc, argv);
  if (strcmp(argv[1], "serve") == 0) {
#ifdef TOD_HAVE_SERVICE
    return tod_serve_main(argc, argv);
#else
    fprintf(stderr, "tod: serve is not in this build (configured with TOD_SERVICE=OFF: a cross or "
                    "device build, or SQLite/libmicrohttpd/cJSON missing)\n");
    return 2;
#endif
  }
  fprintf(stderr, "tod: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
