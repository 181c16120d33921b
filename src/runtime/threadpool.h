/* A fixed pool of worker threads for data-parallel loops. */
#ifndef TOD_RUNTIME_THREADPOOL_H
#define TOD_RUNTIME_THREADPOOL_H

#include "tod/status.h"

typedef struct tod_threadpool tod_threadpool;

/* Work item: process the half-open range [begin, end) of a loop of n items. */
typedef void (*tod_task_fn)(void *ctx, int begin, int end, int thread_id);

/* Creates a pool that runs loops on num_threads threads (the caller's included); num_threads
 * <= 0 means all online cores. The caller owns the pool and frees it with tod_threadpool_free. */
tod_status tod_threadpool_create(int num_threads, tod_threadpool **out);
void tod_threadpool_free(tod_threadpool *tp);
/* Threads that run a loop (>= 1). tp may be NULL: 1. */
int tod_threadpool_size(const tod_threadpool *tp);
/* Runs fn over [0, n) split into contiguous chunks, one per thread, and waits. tp may be NULL
 * (runs inline). Not reentrant: kernels must not call it from inside fn. */
void tod_parallel_for(tod_threadpool *tp, int n, tod_task_fn fn, void *ctx);

#endif
