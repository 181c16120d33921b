/* The thread pool of the single-threaded device build (TOD_MINIMAL's tod_min): the same API as
 * runtime/threadpool.c, every loop runs inline on the caller, and nothing links pthreads. */
#include <stdlib.h>

#include "runtime/threadpool.h"

struct tod_threadpool {
  int unused;
};

tod_status tod_threadpool_create(int num_threads, tod_threadpool **out) {
  (void)num_threads; /* one thread whatever was asked: the library has no others */
  *out = calloc(1, sizeof **out);
  return *out ? TOD_OK : TOD_MEMORY_FAILED;
}

void tod_threadpool_free(tod_threadpool *tp) { free(tp); }

int tod_threadpool_size(const tod_threadpool *tp) {
  (void)tp;
  return 1;
}

void tod_parallel_for(tod_threadpool *tp, int n, tod_task_fn fn, void *ctx) {
  (void)tp;
  if (n > 0) fn(ctx, 0, n, 0);
}
