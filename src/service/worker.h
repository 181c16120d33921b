/* The bounded worker pool. Each worker claims a task from the store and runs converter_lite in a
 * child process with a timeout and an address-space limit, so a conversion that crashes, hangs
 * or eats memory fails its own task and nothing else. */
#ifndef TOD_SERVICE_WORKER_H
#define TOD_SERVICE_WORKER_H

#include <stddef.h>

#include "service/store.h"

typedef struct {
  tod_store *store;
  const char *root_real;   /* --root, resolved */
  const char *converter;   /* converter_lite executable */
  const char *worker_name; /* "HOST:PID" */
  int workers;             /* threads, each runs one conversion at a time */
  int timeout_s;           /* per conversion; the child is killed after it */
  long mem_limit_mb;       /* RLIMIT_AS of the child; 0 = none */
  int poll_ms;             /* idle workers look for work this often (other processes may add tasks) */
  int lease_s;             /* > 0: re-queue running tasks whose heartbeat is older (shared databases) */
  int max_attempts;        /* claims before an interrupted task is failed */
} tod_worker_config;

typedef struct tod_worker_pool tod_worker_pool;

/* Starts cfg->workers threads. The strings in cfg must outlive the pool. NULL with err on failure. */
tod_worker_pool *tod_worker_pool_start(const tod_worker_config *cfg, char *err, size_t errlen);

/* Wakes idle workers: a task was created. */
void tod_worker_pool_notify(tod_worker_pool *p);

/* Stops claiming, waits for the running conversions to end, joins and frees the pool. */
void tod_worker_pool_stop(tod_worker_pool *p);

#endif
