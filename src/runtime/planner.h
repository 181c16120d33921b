/* Activation memory planning: every intermediate tensor gets an offset in one arena, chosen
 * once per set of input shapes from the tensors' lifetimes, so a run allocates nothing. */
#ifndef TOD_RUNTIME_PLANNER_H
#define TOD_RUNTIME_PLANNER_H

#include <stddef.h>
#include <stdint.h>

#include "tod/status.h"

typedef struct {
  size_t size;  /* bytes; 0 = not planned (constant, or not an activation) */
  int first;    /* first step that writes or reads it */
  int last;     /* last step that reads it */
  size_t offset; /* result: byte offset in the arena, 64-byte aligned */
} plan_item;

/* Assigns offsets so that no two items whose [first, last] ranges overlap share bytes.
 * Greedy by decreasing size, lowest fitting offset (as TFLite's arena planner). Sets *total to
 * the arena size. */
tod_status plan_memory(plan_item *items, int n, size_t *total);

#endif
