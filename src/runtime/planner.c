/* Greedy-by-size arena planner. */
#include "runtime/planner.h"

#include <stdlib.h>

#define PLAN_ALIGN 64

static size_t align_up(size_t v) { return (v + PLAN_ALIGN - 1) & ~(size_t)(PLAN_ALIGN - 1); }

/* Sort key copied out of the items: C11 qsort has no context argument. */
typedef struct {
  size_t size;
  int first;
  int idx;
} sort_key;

static int by_size_desc(const void *a, const void *b) {
  const sort_key *x = a, *y = b;
  if (x->size != y->size) return x->size < y->size ? 1 : -1;
  if (x->first != y->first) return x->first < y->first ? -1 : 1;
  return x->idx - y->idx;
}

tod_status plan_memory(plan_item *items, int n, size_t *total) {
  *total = 0;
  if (n <= 0) return TOD_OK;
  sort_key *keys = malloc(sizeof(sort_key) * (size_t)n);
  int *order = malloc(sizeof(int) * (size_t)n);
  int *placed = malloc(sizeof(int) * (size_t)n);
  if (!keys || !order || !placed) {
    free(keys);
    free(order);
    free(placed);
    return TOD_MEMORY_FAILED;
  }
  int m = 0;
  for (int i = 0; i < n; i++)
    if (items[i].size > 0) keys[m++] = (sort_key){items[i].size, items[i].first, i};
  qsort(keys, (size_t)m, sizeof(sort_key), by_size_desc);
  for (int k = 0; k < m; k++) order[k] = keys[k].idx;
  free(keys);
  int n_placed = 0;
  size_t end = 0;
  for (int k = 0; k < m; k++) {
    plan_item *it = &items[order[k]];
    size_t need = align_up(it->size);
    /* Candidate offsets: 0 and the end of every placed item that overlaps in time. Take the
     * lowest candidate that collides with no overlapping placed item. */
    size_t best = (size_t)-1;
    for (int c = -1; c < n_placed; c++) {
      size_t cand;
      if (c < 0) {
        cand = 0;
      } else {
        const plan_item *p = &items[placed[c]];
        if (p->last < it->first || p->first > it->last) continue;
        cand = p->offset + align_up(p->size);
      }
      if (cand >= best) continue;
      int ok = 1;
      for (int j = 0; j < n_placed && ok; j++) {
        const plan_item *p = &items[placed[j]];
        if (p->last < it->first || p->first > it->last) continue;
        size_t pe = p->offset + align_up(p->size);
        if (cand < pe && p->offset < cand + need) ok = 0;
      }
      if (ok) best = cand;
    }
    it->offset = best;
    placed[n_placed++] = order[k];
    if (best + need > end) end = best + need;
  }
  free(order);
  free(placed);
  *total = end;
  return TOD_OK;
}
