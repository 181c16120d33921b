/* benchmark: MindSpore Lite's benchmark tool's flags and result line, on libtod.
 *   benchmark --modelFile=M.ms [--inDataFile=a.bin,b.bin] [--loopCount=10]
 *             [--warmUpLoopCount=3] [--numThreads=2]
 * Inputs are raw little-endian binaries, one per model input; random when absent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "tod/tod.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Peak resident memory of this process in MB. VmHWM belongs to the address space created at
 * exec, unlike getrusage's ru_maxrss, which keeps the parent's peak across fork+exec. */
static double peak_rss_mb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  double kb = 0;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "VmHWM:", 6) == 0) kb = atof(line + 6);
  if (f) fclose(f);
  if (kb == 0) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    kb = (double)ru.ru_maxrss;
  }
  return kb / 1024.0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static size_t info_bytes(const tod_tensor_info *ti) {
  size_t n = ti->dtype == TOD_DT_FLOAT64 || ti->dtype == TOD_DT_INT64 ? 8
             : ti->dtype == TOD_DT_FLOAT32 || ti->dtype == TOD_DT_INT32 ? 4
             : ti->dtype == TOD_DT_FLOAT16 || ti->dtype == TOD_DT_INT16 ? 2 : 1;
  for (int d = 0; d < ti->ndim; d++) n *= (size_t)ti->dims[d];
  return n;
}

int main(int argc, char **argv) {
  const char *model = NULL, *in_files = NULL;
  int loops = 10, warmup = 3, threads = 2;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--modelFile=", 12) == 0) model = a + 12;
    else if (strncmp(a, "--inDataFile=", 13) == 0) in_files = a + 13;
    else if (strncmp(a, "--loopCount=", 12) == 0) loops = atoi(a + 12);
    else if (strncmp(a, "--warmUpLoopCount=", 18) == 0) warmup = atoi(a + 18);
    else if (strncmp(a, "--numThreads=", 13) == 0) threads = atoi(a + 13);
    else {
      fprintf(stderr, "benchmark: unknown parameter '%s'\n", a);
      return 1;
    }
  }
  if (!model || loops <= 0 || warmup < 0) {
    fprintf(stderr, "usage: benchmark --modelFile=M.ms [--inDataFile=F[,F..]] [--loopCount=N] "
                    "[--warmUpLoopCount=N] [--numThreads=N]\n");
    return 1;
  }
  char err[1024];
  tod_model *m;
  tod_options opts = {threads};
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
    size_t nb = info_bytes(&ti);
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
  for (int i = 0; i < warmup; i++) tod_model_run(m);
  double *t = malloc(sizeof(double) * (size_t)loops), sum = 0;
  if (!t) return 1;
  for (int i = 0; i < loops; i++) {
    double t0 = now_ms();
    st = tod_model_run(m);
    t[i] = now_ms() - t0;
    sum += t[i];
    if (st != TOD_OK) {
      fprintf(stderr, "benchmark: run failed: %s\n", tod_model_error(m));
      return 1;
    }
  }
  qsort(t, (size_t)loops, sizeof(double), cmp_double);
  printf("Model = %s, NumThreads = %d, MinRunTime = %.3f ms, MaxRuntime = %.3f ms, AvgRunTime = %.3f ms, "
         "MedianRunTime = %.3f ms, PeakRSS = %.1f MB\n",
         model, threads, t[0], t[loops - 1], sum / loops, t[loops / 2], peak_rss_mb());
  free(t);
  tod_model_free(m);
  return 0;
}
