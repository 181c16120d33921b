/* What the benchmark and benchmark_train tools share: clocks, peak memory, input sizes and the
 * --timeProfiling tables (per node and per operator type, MindSpore Lite's layout). */
#ifndef TOD_TOOLS_BENCH_UTIL_H
#define TOD_TOOLS_BENCH_UTIL_H

#include <stddef.h>

#include "tod/tod.h"

double bench_now_ms(void);
/* Peak resident memory of this process in MB (VmHWM: the address space created at exec, unlike
 * getrusage's ru_maxrss, which keeps the parent's peak across fork+exec). */
double bench_peak_rss_mb(void);
/* qsort comparator for doubles, ascending. */
int bench_cmp_double(const void *a, const void *b);
/* Bytes of a tensor described by ti. */
size_t bench_tensor_bytes(const tod_tensor_info *ti);

#define BENCH_PROF_NODES 8192
#define BENCH_PROF_OPS 256
typedef struct {
  const char *key;
  double total;
  int calls;
} bench_prof_entry;

/* Accumulates node times while `on` (off during warm-up). Large: give it static storage. */
typedef struct {
  bench_prof_entry nodes[BENCH_PROF_NODES], ops[BENCH_PROF_OPS];
  int n_nodes, n_ops;
  int on;
} bench_profile;

/* A tod_node_timer callback; ctx is a bench_profile. */
void bench_profile_node(const char *op, const char *node, double ms, void *ctx);
/* Prints one table sorted by total time: at most max_rows rows, averages over `loops` runs. */
void bench_profile_print(const char *title, bench_prof_entry *e, int n, int loops, int max_rows);

#endif
