/* tod_snprintf: a small snprintf for builds without stdio (runtime/nostdio.h maps snprintf and
 * vsnprintf to these in TOD_MINIMAL builds). Same contract as C's: writes at most size bytes
 * including the terminator and returns the length the whole output would have. */
#ifndef TOD_RUNTIME_TINY_FORMAT_H
#define TOD_RUNTIME_TINY_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

int tod_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int tod_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
