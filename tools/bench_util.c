/* Shared by the benchmark tools: see bench_util.h. */
#define _POSIX_C_SOURCE 200809L
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

double bench_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double bench_peak_rss_mb(void) {
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

int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

size_t bench_tensor_bytes(const tod_tensor_info *ti) {
  size_t n = ti->dtype == TOD_DT_FLOAT64 || ti->dtype == TOD_DT_INT64 ? 8
             : ti->dtype == TOD_DT_FLOAT32 || ti->dtype == TOD_DT_INT32 ? 4
             : ti->dtype == TOD_DT_FLOAT16 || ti->dtype == TOD_DT_INT16 ? 2 : 1;
  for (int d = 0; d < ti->ndim; d++) n *= (size_t)ti->dims[d];
  return n;
}

static void prof_add(bench_prof_entry *e, int *n, int cap, const char *key, double ms) {
  for (int i = 0; i < *n; i++)
    if (e[i].key == key || strcmp(e[i].key, key) == 0) {
      e[i].total += ms;
      e[i].calls++;
      return;
    }
  if (*n == cap) return;
  e[*n] = (bench_prof_entry){key, ms, 1};
  (*n)++;
}

void bench_profile_node(const char *op, const char *node, double ms, void *ctx) {
  bench_profile *p = ctx;
  if (!p->on) return;
  prof_add(p->nodes, &p->n_nodes, BENCH_PROF_NODES, node ? node : "?", ms);
  prof_add(p->ops, &p->n_ops, BENCH_PROF_OPS, op ? op : "?", ms);
}

static int cmp_prof(const void *a, const void *b) {
  double x = ((const bench_prof_entry *)a)->total, y = ((const bench_prof_entry *)b)->total;
  return x > y ? -1 : x < y;
}

void bench_profile_print(const char *title, bench_prof_entry *e, int n, int loops, int max_rows) {
  double sum = 0;
  for (int i = 0; i < n; i++) sum += e[i].total;
  qsort(e, (size_t)n, sizeof *e, cmp_prof);
  printf("-------------------------------------------------------------------------\n");
  printf("%-64s %10s %10s %12s %12s\n", title, "avg(ms)", "percent", "calledTimes", "opTotalTime");
  for (int i = 0; i < n && i < max_rows; i++)
    printf("%-64s %10.4f %9.2f%% %12d %12.4f\n", e[i].key, e[i].total / loops,
           sum > 0 ? 100.0 * e[i].total / sum : 0.0, e[i].calls, e[i].total);
}
