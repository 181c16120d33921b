/* The files tod reads (.ms, .ckpt, .npy '<' arrays) store little-endian numbers, and tod uses
 * .ms weights in place. A big-endian host would read every weight byte-swapped, so readers
 * refuse it up front with TOD_NOT_SUPPORT and this message instead of computing garbage. */
#ifndef TOD_FORMAT_BYTE_ORDER_H
#define TOD_FORMAT_BYTE_ORDER_H

#include <stdint.h>
#include <string.h>

#define TOD_BIG_ENDIAN_MESSAGE                                                                   \
  "this host is big-endian; tod reads little-endian model data in place and supports only "     \
  "little-endian hosts"

/* 1 on a little-endian host. A run-time test the compiler folds to a constant. */
static inline int tod_host_is_little_endian(void) {
  const uint16_t one = 1;
  uint8_t first;
  memcpy(&first, &one, 1);
  return first == 1;
}

#endif
