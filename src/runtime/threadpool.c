/* A persistent pthread pool for data-parallel loops.
 *
 * Kernels call tod_parallel_for many times per inference, often for work of tens of
 * microseconds, so waking sleeping threads through the OS on every call would cost as much as
 * the work. Workers therefore spin on a generation counter for a short while after each loop
 * and only then sleep on a condition variable.
 *
 * The loop is split into one contiguous chunk per thread. Each thread claims its own chunk
 * first (so consecutive layers keep the same rows on the same core, in its cache), then any
 * chunk nobody has claimed yet; the caller waits only for workers that joined the loop. On a
 * busy machine a worker the OS has not scheduled then costs nothing: the caller runs its chunk
 * too, instead of every loop waiting out the worker's time slice. A worker that wakes after
 * the loop is closed leaves without touching it. */
#include "runtime/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* Tens of microseconds of spinning (PAUSE costs 10-140 cycles depending on the core): longer
 * than the gap between consecutive kernels of a network, short enough that an idle pool soon
 * stops burning a core. Every SPIN_YIELD iterations the spinner yields, so that when cores are
 * oversubscribed the thread it waits for gets to run. */
#define SPIN_ITERS 4000
#define SPIN_YIELD 512

static void spin_pause(int i) {
  if ((i + 1) % SPIN_YIELD == 0)
    sched_yield();
  else
    cpu_relax();
}

struct tod_threadpool {
  int nthreads; /* including the caller */
  pthread_t *threads;
  pthread_mutex_t mu;
  pthread_cond_t wake;  /* workers sleep here for a new generation */
  pthread_cond_t done;  /* the caller sleeps here for active == 0 */
  atomic_uint generation;
  atomic_uint closed;   /* the last generation whose items are all done: late workers skip it */
  atomic_int active;    /* workers inside a loop (joined and not yet left) */
  atomic_uint *claim;   /* per chunk: the generation that claimed it (no reset needed) */
  atomic_int sleeping_caller;
  int shutdown;
  /* The current loop; written by the caller before generation is bumped (release). */
  tod_task_fn fn;
  void *ctx;
  int n;
};

typedef struct {
  tod_threadpool *tp;
  int id;
} worker_arg;

/* Runs thread id's own chunk of loop gen, then every chunk still unclaimed. */
static void run_items(tod_threadpool *tp, int id, unsigned gen) {
  const long long n = tp->n, t = tp->nthreads;
  for (int k = 0; k < t; k++) {
    const int c = (int)((id + k) % t);
    const int begin = (int)(n * c / t), end = (int)(n * (c + 1) / t);
    if (begin >= end) continue;
    if (atomic_exchange_explicit(&tp->claim[c], gen, memory_order_relaxed) == gen) continue;
    tp->fn(tp->ctx, begin, end, id);
  }
}

static void *worker_main(void *p) {
  worker_arg wa = *(worker_arg *)p;
  free(p);
  tod_threadpool *tp = wa.tp;
  /* Generation 0 is the pool's creation: a loop issued before this thread got here must still
   * be seen as new. */
  unsigned seen = 0;
  for (;;) {
    unsigned gen = seen;
    for (int i = 0; i < SPIN_ITERS; i++) {
      gen = atomic_load_explicit(&tp->generation, memory_order_acquire);
      if (gen != seen) break;
      spin_pause(i);
    }
    if (gen == seen) {
      pthread_mutex_lock(&tp->mu);
      while ((gen = atomic_load_explicit(&tp->generation, memory_order_acquire)) == seen &&
             !tp->shutdown)
        pthread_cond_wait(&tp->wake, &tp->mu);
      int stop = tp->shutdown;
      pthread_mutex_unlock(&tp->mu);
      if (stop) return NULL;
    }
    seen = gen;
    /* Join, then look whether loop `gen` is still open and still the current one: the caller
     * closes it before reading active (both seq_cst), so either it waits for this worker or
     * this worker sees it closed (or superseded, when this thread slept through whole loops)
     * and leaves without reading the loop's fields. */
    atomic_fetch_add_explicit(&tp->active, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&tp->closed, memory_order_seq_cst) != gen &&
        atomic_load_explicit(&tp->generation, memory_order_seq_cst) == gen)
      run_items(tp, wa.id, gen);
    /* seq_cst on both sides (here and in the caller) so that either the caller sees active
     * reach 0 or this worker sees the caller asleep: never neither. */
    if (atomic_fetch_sub_explicit(&tp->active, 1, memory_order_seq_cst) == 1 &&
        atomic_load_explicit(&tp->sleeping_caller, memory_order_seq_cst)) {
      /* Signal under the mutex so a caller between its check and its wait cannot miss it. */
      pthread_mutex_lock(&tp->mu);
      pthread_cond_signal(&tp->done);
      pthread_mutex_unlock(&tp->mu);
    }
  }
}

tod_status tod_threadpool_create(int num_threads, tod_threadpool **out) {
  if (!out) return TOD_NULL_PTR;
  *out = NULL;
  if (num_threads <= 0) {
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    num_threads = c > 0 ? (int)c : 1;
  }
  if (num_threads > 256) num_threads = 256;
  tod_threadpool *tp = calloc(1, sizeof *tp);
  if (!tp) return TOD_MEMORY_FAILED;
  tp->nthreads = num_threads;
  atomic_init(&tp->generation, 0);
  atomic_init(&tp->closed, 0);
  atomic_init(&tp->active, 0);
  tp->claim = malloc((size_t)num_threads * sizeof *tp->claim);
  if (!tp->claim) {
    free(tp);
    return TOD_MEMORY_FAILED;
  }
  for (int i = 0; i < num_threads; i++) atomic_init(&tp->claim[i], 0);
  atomic_init(&tp->sleeping_caller, 0);
  if (pthread_mutex_init(&tp->mu, NULL)) {
    free(tp->claim);
    free(tp);
    return TOD_THREAD_POOL_ERROR;
  }
  pthread_cond_init(&tp->wake, NULL);
  pthread_cond_init(&tp->done, NULL);
  if (num_threads > 1) {
    tp->threads = calloc((size_t)num_threads - 1, sizeof *tp->threads);
    if (!tp->threads) {
      tod_threadpool_free(tp);
      return TOD_MEMORY_FAILED;
    }
  }
  for (int i = 1; i < num_threads; i++) {
    worker_arg *wa = malloc(sizeof *wa);
    if (!wa) {
      tp->nthreads = i; /* free joins only the threads started so far */
      tod_threadpool_free(tp);
      return TOD_MEMORY_FAILED;
    }
    wa->tp = tp;
    wa->id = i;
    if (pthread_create(&tp->threads[i - 1], NULL, worker_main, wa)) {
      free(wa);
      tp->nthreads = i;
      tod_threadpool_free(tp);
      return TOD_THREAD_POOL_ERROR;
    }
  }
  *out = tp;
  return TOD_OK;
}

void tod_threadpool_free(tod_threadpool *tp) {
  if (!tp) return;
  pthread_mutex_lock(&tp->mu);
  tp->shutdown = 1;
  pthread_cond_broadcast(&tp->wake);
  pthread_mutex_unlock(&tp->mu);
  for (int i = 1; i < tp->nthreads; i++) pthread_join(tp->threads[i - 1], NULL);
  pthread_cond_destroy(&tp->wake);
  pthread_cond_destroy(&tp->done);
  pthread_mutex_destroy(&tp->mu);
  free(tp->threads);
  free(tp->claim);
  free(tp);
}

int tod_threadpool_size(const tod_threadpool *tp) { return tp ? tp->nthreads : 1; }

void tod_parallel_for(tod_threadpool *tp, int n, tod_task_fn fn, void *ctx) {
  if (n <= 0) return;
  if (!tp || tp->nthreads == 1 || n == 1) {
    fn(ctx, 0, n, 0);
    return;
  }
  /* No worker is inside the previous loop: the caller waited for every worker that found it
   * open, and one that found it closed reads none of the fields below. */
  tp->fn = fn;
  tp->ctx = ctx;
  tp->n = n;
  atomic_store_explicit(&tp->sleeping_caller, 0, memory_order_relaxed);
  /* Bump under the mutex so a worker that checked the generation and is about to wait cannot
   * miss the broadcast; spinning workers see the release store directly. */
  pthread_mutex_lock(&tp->mu);
  /* The caller is the only writer. Generation 0 is skipped on wrap-around: it is the value
   * of chunks never claimed since creation. */
  unsigned gen = atomic_load_explicit(&tp->generation, memory_order_relaxed) + 1;
  if (gen == 0) gen = 1;
  atomic_store_explicit(&tp->generation, gen, memory_order_release);
  pthread_cond_broadcast(&tp->wake);
  pthread_mutex_unlock(&tp->mu);

  run_items(tp, 0, gen);
  /* The two handshakes below (closed -> active, sleeping_caller -> active, mirrored by the
   * worker's active -> closed and active -> sleeping_caller) are store-buffering patterns: each
   * side writes one word and then reads the other's. They are written as read-modify-writes
   * (exchange), not plain seq_cst stores: an RMW is a full barrier on every target, whereas
   * qemu-user's emulation of AArch64 STLR followed by LDAR lets the load pass the store on an
   * x86 host, and the caller then slept forever (both threads in futex waits; seen in CI). */
  atomic_exchange_explicit(&tp->closed, gen, memory_order_seq_cst);

  for (int i = 0; i < SPIN_ITERS; i++) {
    if (atomic_load_explicit(&tp->active, memory_order_seq_cst) == 0) return;
    spin_pause(i);
  }
  pthread_mutex_lock(&tp->mu);
  atomic_exchange_explicit(&tp->sleeping_caller, 1, memory_order_seq_cst);
  while (atomic_load_explicit(&tp->active, memory_order_seq_cst) != 0)
    pthread_cond_wait(&tp->done, &tp->mu);
  pthread_mutex_unlock(&tp->mu);
}
