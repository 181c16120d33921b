/* test_planner_never_overlaps_live_tensors: random lifetimes and sizes; every pair of items
 * alive at the same step must occupy disjoint, 64-byte aligned byte ranges inside the arena,
 * and the arena must be no larger than the sum of all sizes (and at least the peak live set). */
#include <stdio.h>
#include <stdlib.h>

#include "runtime/planner.h"

static size_t up(size_t v) { return (v + 63) & ~(size_t)63; }

int main(void) {
  srand(42);
  int failures = 0;
  for (int trial = 0; trial < 500; trial++) {
    int n = 1 + rand() % 60, steps = 1 + rand() % 40;
    plan_item it[60];
    size_t sum = 0;
    for (int i = 0; i < n; i++) {
      it[i].size = (rand() % 5 == 0) ? 0 : (size_t)(1 + rand() % 100000);
      it[i].first = rand() % steps;
      it[i].last = it[i].first + rand() % (steps - it[i].first + 1);
      sum += up(it[i].size);
    }
    size_t total = 0;
    if (plan_memory(it, n, &total) != 0) {
      printf("FAIL trial %d: plan_memory failed\n", trial);
      return 1;
    }
    size_t peak = 0;
    for (int s = 0; s <= steps; s++) {
      size_t live = 0;
      for (int i = 0; i < n; i++)
        if (it[i].size && it[i].first <= s && s <= it[i].last) live += up(it[i].size);
      if (live > peak) peak = live;
    }
    if (total > sum || total < peak) {
      printf("FAIL trial %d: arena %zu outside [peak %zu, sum %zu]\n", trial, total, peak, sum);
      failures++;
    }
    for (int i = 0; i < n; i++) {
      if (!it[i].size) continue;
      if (it[i].offset % 64 || it[i].offset + it[i].size > total) {
        printf("FAIL trial %d: item %d at %zu size %zu (arena %zu)\n", trial, i, it[i].offset, it[i].size, total);
        failures++;
      }
      for (int j = i + 1; j < n; j++) {
        if (!it[j].size) continue;
        int overlap_t = !(it[i].last < it[j].first || it[j].last < it[i].first);
        int overlap_m = it[i].offset < it[j].offset + it[j].size && it[j].offset < it[i].offset + it[i].size;
        if (overlap_t && overlap_m) {
          printf("FAIL trial %d: items %d and %d share memory while both alive\n", trial, i, j);
          failures++;
        }
      }
    }
  }
  printf("%s\n", failures ? "planner test failed" : "planner test passed");
  return failures ? 1 : 0;
}
