/* Registered source mappings and the release of pages the graph no longer borrows. */
#define _DEFAULT_SOURCE /* madvise(MADV_DONTNEED): posix_madvise's DONTNEED is advisory only */
#include "ir/source_pages.h"

#ifndef TOD_NO_THREADS
#include <pthread.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_SOURCES 16

static struct {
  uintptr_t base;
  size_t size;
  int fd_plus_1; /* the mapped file, open (ir_source_set_file); 0: none */
  size_t pending; /* bytes read since the last release_around */
} g_sources[MAX_SOURCES];
#ifndef TOD_NO_THREADS
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
#define LOCK() pthread_mutex_lock(&g_mu)
#define UNLOCK() pthread_mutex_unlock(&g_mu)
#else /* the single-threaded device build (tod_min) links no pthreads */
#define LOCK() ((void)0)
#define UNLOCK() ((void)0)
#endif

void ir_source_register(const void *base, size_t size) {
  if (!base || !size) return;
  LOCK();
  for (int i = 0; i < MAX_SOURCES; i++)
    if (!g_sources[i].base) {
      g_sources[i].base = (uintptr_t)base;
      g_sources[i].size = size;
      break;
    }
  UNLOCK();
}

void ir_source_unregister(const void *base) {
  LOCK();
  for (int i = 0; i < MAX_SOURCES; i++)
    if (g_sources[i].base == (uintptr_t)base) g_sources[i].base = 0, g_sources[i].size = 0, g_sources[i].fd_plus_1 = 0;
  UNLOCK();
}

void ir_source_set_file(const void *base, int fd) {
  LOCK();
  for (int i = 0; i < MAX_SOURCES; i++)
    if (g_sources[i].base && g_sources[i].base == (uintptr_t)base) g_sources[i].fd_plus_1 = fd >= 0 ? fd + 1 : 0;
  UNLOCK();
}

int ir_source_file_range(const void *data, size_t nbytes, int *fd, uint64_t *offset) {
  const uintptr_t p = (uintptr_t)data;
  int found = 0;
  LOCK();
  for (int i = 0; i < MAX_SOURCES && !found; i++)
    if (g_sources[i].base && g_sources[i].fd_plus_1 && p >= g_sources[i].base &&
        p - g_sources[i].base <= g_sources[i].size && nbytes <= g_sources[i].size - (p - g_sources[i].base)) {
      *fd = g_sources[i].fd_plus_1 - 1;
      *offset = (uint64_t)(p - g_sources[i].base);
      found = 1;
    }
  UNLOCK();
  return found;
}

void ir_source_release(const void *data, size_t nbytes) {
  const long ps = sysconf(_SC_PAGESIZE);
  if (!data || ps <= 0 || nbytes < (size_t)ps) return;
  const uintptr_t p = (uintptr_t)data, page = (uintptr_t)ps;
  /* Whole pages inside the range only: its first and last pages may hold other tensors. */
  const uintptr_t lo = (p + page - 1) / page * page, hi = (p + nbytes) / page * page;
  if (lo >= hi) return;
  LOCK();
  for (int i = 0; i < MAX_SOURCES; i++)
    if (g_sources[i].base && p >= g_sources[i].base &&
        p + nbytes <= g_sources[i].base + g_sources[i].size) {
      /* Under the lock: the mapping cannot be unregistered and unmapped meanwhile. */
      madvise((void *)lo, hi - lo, MADV_DONTNEED);
      break;
    }
  UNLOCK();
}

void ir_source_release_around(const void *p, size_t consumed) {
  const long ps = sysconf(_SC_PAGESIZE);
  const uintptr_t a = (uintptr_t)p, page = (uintptr_t)(ps > 0 ? ps : 4096);
  LOCK();
  for (int i = 0; i < MAX_SOURCES; i++)
    if (g_sources[i].base && a >= g_sources[i].base && a < g_sources[i].base + g_sources[i].size) {
      g_sources[i].pending += consumed;
      if (g_sources[i].pending < IR_SOURCE_RELEASE_STEP) break;
      g_sources[i].pending = 0;
      const uintptr_t lo = (g_sources[i].base + page - 1) / page * page;
      const uintptr_t hi = (g_sources[i].base + g_sources[i].size) / page * page;
      if (lo < hi) madvise((void *)lo, hi - lo, MADV_DONTNEED);
      break;
    }
  UNLOCK();
}

void *ir_weights_malloc(size_t nbytes) {
  void *p = malloc(nbytes ? nbytes : 1);
#ifdef MADV_HUGEPAGE
  const uintptr_t huge = (uintptr_t)2 << 20;
  /* From two huge pages up: glibc serves such blocks with their own fresh mapping. */
  if (p && nbytes >= 2 * huge) {
    const uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1), hi = ((uintptr_t)p + nbytes) & ~(huge - 1);
    if (lo < hi) madvise((void *)lo, hi - lo, MADV_HUGEPAGE); /* advice: a failure changes nothing */
  }
#endif
  return p;
}
