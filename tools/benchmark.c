/* benchmark: MindSpore Lite's benchmark tool's flags and result line, on libtod.
 *   benchmark --modelFile=M.ms [--inDataFile=a.bin,b.bin] [--loopCount=10]
 *             [--warmUpLoopCount=3] [--numThreads=2] [--timeProfiling=true]
 *             [--benchmarkDataFile=ref.out [--accuracyThreshold=0.5]]
 * Inputs are raw little-endian binaries, one per model input; random when absent.
 * --benchmarkDataFile holds the expected outputs in MindSpore Lite's calibration text format:
 * per output tensor a line `NAME NDIM D0 D1 ...` and a line of its values. Outputs are matched
 * by name (by position when no name matches); the mean relative error of the values outside
 * the tolerance is printed as `Mean bias of all nodes/tensors: X%`, and the tool fails when it
 * exceeds --accuracyThreshold (percent). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "tod/tod.h"

static int parse_bool(const char *v) { return strcmp(v, "true") == 0 || strcmp(v, "1") == 0; }

/* ---- --benchmarkDataFile ------------------------------------------------------------------- */

/* Mean relative error of the values outside MindSpore Lite's tolerance (1e-8 + 1e-5 |ref|):
 * the benchmark tool's per-tensor bias. */
static double tensor_bias(const float *got, const double *want, size_t n) {
  double err = 0;
  size_t count = 0;
  for (size_t i = 0; i < n; i++) {
    const double tol = 1e-8 + 1e-5 * fabs(want[i]), abs_err = fabs((double)got[i] - want[i]);
    if (!(abs_err <= tol)) {
      if (isnan(got[i]) || isnan(abs_err)) {
        err += 1.0;
        count++;
      } else if (fabs(want[i]) < FLT_EPSILON) {
        if (abs_err > 1e-5) {
          err += abs_err;
          count++;
        }
      } else {
        err += abs_err / (fabs(want[i]) + FLT_MIN);
        count++;
      }
    }
  }
  return count ? err / (double)count : 0.0;
}

/* Compares every output with the calibration file; returns the mean bias in percent, or a
 * negative value when the file does not fit the model. */
static double compare_outputs(tod_model *m, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "benchmark: cannot open %s\n", path);
    return -1;
  }
  double total = 0;
  int tensors = 0, bad = 0;
  char name[1024];
  for (int idx = 0; !bad && fscanf(f, "%1023s", name) == 1; idx++) {
    int ndim = 0;
    size_t n = 1;
    if (fscanf(f, "%d", &ndim) != 1 || ndim < 0 || ndim > 8) {
      bad = 1;
      break;
    }
    for (int d = 0; d < ndim; d++) {
      long long v = 0;
      if (fscanf(f, "%lld", &v) != 1 || v < 0) bad = 1;
      n *= (size_t)(v < 0 ? 0 : v);
    }
    double *want = bad ? NULL : malloc((n ? n : 1) * sizeof *want);
    for (size_t i = 0; want && i < n; i++)
      if (fscanf(f, "%lf", &want[i]) != 1) bad = 1;
    if (!want || bad) {
      free(want);
      bad = 1;
      break;
    }
    int out = -1;
    for (int i = 0; i < tod_model_num_outputs(m) && out < 0; i++) {
      tod_tensor_info ti;
      if (tod_model_output_info(m, i, &ti) == TOD_OK && ti.name && strcmp(ti.name, name) == 0)
        out = i;
    }
    if (out < 0 && idx < tod_model_num_outputs(m)) out = idx;
    tod_tensor_info ti;
    const void *data = NULL;
    size_t nbytes = 0;
    if (out < 0 || tod_model_output_info(m, out, &ti) != TOD_OK || ti.dtype != TOD_DT_FLOAT32 ||
        tod_model_output(m, out, &data, &nbytes) != TOD_OK || nbytes != n * sizeof(float)) {
      fprintf(stderr, "benchmark: output %s does not match the %zu values of %s\n", name, n, path);
      free(want);
      bad = 1;
      break;
    }
    const double bias = tensor_bias(data, want, n);
    printf("Data of node %s : ", name);
    for (size_t i = 0; i < n && i < 10; i++) printf("%g ", ((const float *)data)[i]);
    printf("\nMean bias of node/tensor %s: %g%%\n", name, bias * 100);
    total += bias;
    tensors++;
    free(want);
  }
  fclose(f);
  if (bad || tensors == 0) {
    if (!bad) fprintf(stderr, "benchmark: %s holds no tensors\n", path);
    else fprintf(stderr, "benchmark: %s is not a calibration file for this model\n", path);
    return -1;
  }
  return total / tensors * 100;
}

int main(int argc, char **argv) {
  const char *model = NULL, *in_files = NULL, *ref_file = NULL;
  int loops = 10, warmup = 3, threads = 2, time_prof = 0;
  double threshold = 0.5;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--modelFile=", 12) == 0) model = a + 12;
    else if (strncmp(a, "--inDataFile=", 13) == 0) in_files = a + 13;
    else if (strncmp(a, "--loopCount=", 12) == 0) loops = atoi(a + 12);
    else if (strncmp(a, "--warmUpLoopCount=", 18) == 0) warmup = atoi(a + 18);
    else if (strncmp(a, "--numThreads=", 13) == 0) threads = atoi(a + 13);
    else if (strncmp(a, "--timeProfiling=", 16) == 0) time_prof = parse_bool(a + 16);
    else if (strcmp(a, "--timeProfiling") == 0) time_prof = 1;
    else if (strncmp(a, "--benchmarkDataFile=", 20) == 0) ref_file = a + 20;
    else if (strncmp(a, "--accuracyThreshold=", 20) == 0) threshold = atof(a + 20);
    else {
      fprintf(stderr, "benchmark: unknown parameter '%s'\n", a);
      return 1;
    }
  }
  if (!model || loops <= 0 || warmup < 0 || threads <= 0 || !(threshold >= 0)) {
    fprintf(stderr, "usage: benchmark --modelFile=M.ms [--inDataFile=F[,F..]] [--loopCount=N] "
                    "[--warmUpLoopCount=N] [--numThreads=N] [--timeProfiling=true] "
                    "[--benchmarkDataFile=F [--accuracyThreshold=PERCENT]]\n");
    return 1;
  }
  char err[1024];
  tod_model *m;
  tod_options opts = {.num_threads = threads};
  tod_status st = tod_model_load(model, &opts, &m, err, sizeof err);
  if (st != TOD_OK) {
    fprintf(stderr, "benchmark: cannot load %s: %d %s\n", model, st, err);
    return 1;
  }
  char *files = in_files ? strdup(in_files) : NULL;
  char *save = NULL, *tok = files ? strtok_r(files, ",", &save) : NULL;
  srand(1);
  for (int i = 0; i < tod_model_num_inputs(m); i++) {
    tod_tensor_info ti;
    tod_model_input_info(m, i, &ti);
    size_t nb = bench_tensor_bytes(&ti);
    unsigned char *buf = malloc(nb ? nb : 1);
    if (!buf) return 1;
    if (tok) {
      FILE *f = fopen(tok, "rb");
      if (!f || fread(buf, 1, nb, f) != nb) {
        fprintf(stderr, "benchmark: %s does not hold the %zu bytes of input %d\n", tok, nb, i);
        return 1;
      }
      fclose(f);
      tok = strtok_r(NULL, ",", &save);
    } else if (in_files) {
      fprintf(stderr, "benchmark: --inDataFile names fewer files than the model's %d inputs\n",
              tod_model_num_inputs(m));
      return 1;
    } else if (ti.dtype == TOD_DT_FLOAT32) {
      float *p = (float *)buf;
      for (size_t k = 0; k < nb / 4; k++) p[k] = (float)rand() / (float)RAND_MAX - 0.5f;
    } else {
      memset(buf, 0, nb);
    }
    st = tod_model_set_input(m, i, buf, nb);
    free(buf);
    if (st != TOD_OK) {
      fprintf(stderr, "benchmark: %s\n", tod_model_error(m));
      return 1;
    }
  }
  free(files);
  static bench_profile prof;
  if (time_prof) tod_model_set_node_timer(m, bench_profile_node, &prof);
  for (int i = 0; i < warmup; i++) {
    st = tod_model_run(m);
    if (st != TOD_OK) {
      fprintf(stderr, "benchmark: run failed: %s\n", tod_model_error(m));
      return 1;
    }
  }
  prof.on = 1;
  double *t = malloc(sizeof(double) * (size_t)loops), sum = 0;
  if (!t) return 1;
  for (int i = 0; i < loops; i++) {
    double t0 = bench_now_ms();
    st = tod_model_run(m);
    t[i] = bench_now_ms() - t0;
    sum += t[i];
    if (st != TOD_OK) {
      fprintf(stderr, "benchmark: run failed: %s\n", tod_model_error(m));
      return 1;
    }
  }
  if (time_prof) {
    tod_model_set_node_timer(m, NULL, NULL);
    bench_profile_print("opName", prof.nodes, prof.n_nodes, loops, BENCH_PROF_NODES);
    bench_profile_print("opType", prof.ops, prof.n_ops, loops, BENCH_PROF_OPS);
    printf("-------------------------------------------------------------------------\n");
  }
  int rc = 0;
  if (ref_file) {
    const double bias = compare_outputs(m, ref_file);
    if (bias < 0) {
      rc = 1;
    } else {
      printf("Mean bias of all nodes/tensors: %g%%\n", bias);
      if (bias > threshold) {
        fprintf(stderr, "benchmark: mean bias %g%% is above the accuracy threshold %g%%\n", bias,
                threshold);
        rc = 1;
      }
    }
  }
  qsort(t, (size_t)loops, sizeof(double), bench_cmp_double);
  printf("Model = %s, NumThreads = %d, MinRunTime = %.3f ms, MaxRuntime = %.3f ms, AvgRunTime = %.3f ms, "
         "MedianRunTime = %.3f ms, PeakRSS = %.1f MB\n",
         model, threads, t[0], t[loops - 1], sum / loops, t[loops / 2], bench_peak_rss_mb());
  free(t);
  tod_model_free(m);
  return rc;
}
