/* benchmark_train: MindSpore Lite's benchmark_train flags and result line, on libtod.
 *   benchmark_train --modelFile=M.ms [--epochs=10] [--warmUpLoopCount=3] [--numThreads=2]
 *                   [--virtualBatch=N] [--exportFile=OUT.ms] [--inferenceFile=OUT.ms]
 *                   [--timeProfiling[=true]]
 * Times training steps on random data (labels 0); prints step times and peak memory, and with
 * --timeProfiling the time of every node and operator type over the timed steps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "tod/tod.h"

int main(int argc, char **argv) {
  const char *model = NULL, *export_file = NULL, *infer_file = NULL;
  int epochs = 10, warmup = 3, threads = 2, vbatch = 1, time_prof = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--modelFile=", 12) == 0) model = a + 12;
    else if (strncmp(a, "--epochs=", 9) == 0) epochs = atoi(a + 9);
    else if (strncmp(a, "--warmUpLoopCount=", 18) == 0) warmup = atoi(a + 18);
    else if (strncmp(a, "--numThreads=", 13) == 0) threads = atoi(a + 13);
    else if (strncmp(a, "--virtualBatch=", 15) == 0) vbatch = atoi(a + 15);
    else if (strncmp(a, "--exportFile=", 13) == 0) export_file = a + 13;
    else if (strncmp(a, "--inferenceFile=", 16) == 0) infer_file = a + 16;
    else if (strcmp(a, "--timeProfiling") == 0) time_prof = 1;
    else if (strncmp(a, "--timeProfiling=", 16) == 0)
      time_prof = strcmp(a + 16, "true") == 0 || strcmp(a + 16, "1") == 0;
    else {
      fprintf(stderr, "benchmark_train: unknown parameter '%s'\n", a);
      return 1;
    }
  }
  if (!model || epochs <= 0) {
    fprintf(stderr, "usage: benchmark_train --modelFile=M.ms [--epochs=N] [--warmUpLoopCount=N] [--numThreads=N]\n");
    return 1;
  }
  char err[1024];
  tod_model *m;
  tod_options opts = {.num_threads = threads};
  tod_status st = tod_model_load(model, &opts, &m, err, sizeof err);
  if (st != TOD_OK || !tod_model_is_trainable(m)) {
    fprintf(stderr, "benchmark_train: cannot train %s: %d %s\n", model, st, st ? err : "no optimizer");
    return 1;
  }
  if (vbatch > 1) tod_model_set_virtual_batch(m, vbatch);
  srand(1);
  for (int i = 0; i < tod_model_num_inputs(m); i++) {
    tod_tensor_info ti;
    tod_model_input_info(m, i, &ti);
    size_t nb = bench_tensor_bytes(&ti);
    unsigned char *buf = calloc(nb ? nb : 1, 1);
    if (!buf) return 1;
    if (ti.dtype == TOD_DT_FLOAT32 && i != tod_model_label_input(m)) {
      float *p = (float *)buf;
      for (size_t k = 0; k < nb / 4; k++) p[k] = (float)rand() / (float)RAND_MAX - 0.5f;
    }
    tod_model_set_input(m, i, buf, nb);
    free(buf);
  }
  static bench_profile prof;
  if (time_prof) tod_model_set_node_timer(m, bench_profile_node, &prof);
  float loss = 0;
  for (int i = 0; i < warmup; i++) tod_model_train_step(m, &loss);
  prof.on = 1;
  double *t = malloc(sizeof(double) * (size_t)epochs), sum = 0;
  if (!t) return 1;
  for (int i = 0; i < epochs; i++) {
    double t0 = bench_now_ms();
    st = tod_model_train_step(m, &loss);
    t[i] = bench_now_ms() - t0;
    sum += t[i];
    if (st != TOD_OK) {
      fprintf(stderr, "benchmark_train: step failed: %s\n", tod_model_error(m));
      return 1;
    }
  }
  qsort(t, (size_t)epochs, sizeof(double), bench_cmp_double);
  printf("Model = %s, NumThreads = %d, MinStepTime = %.3f ms, MaxStepTime = %.3f ms, AvgStepTime = %.3f ms, "
         "MedianStepTime = %.3f ms, PeakRSS = %.1f MB, LastLoss = %.6f\n",
         model, threads, t[0], t[epochs - 1], sum / epochs, t[epochs / 2], bench_peak_rss_mb(), loss);
  free(t);
  if (time_prof) {
    tod_model_set_node_timer(m, NULL, NULL);
    bench_profile_print("opName", prof.nodes, prof.n_nodes, epochs, 60);
    bench_profile_print("opType", prof.ops, prof.n_ops, epochs, BENCH_PROF_OPS);
  }
  if (export_file && tod_model_export(m, export_file, 0) != TOD_OK) fprintf(stderr, "%s\n", tod_model_error(m));
  if (infer_file && tod_model_export(m, infer_file, 1) != TOD_OK) fprintf(stderr, "%s\n", tod_model_error(m));
  tod_model_free(m);
  return 0;
}
