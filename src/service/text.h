/* Small text helpers shared by the service: UTF-8 checks, RFC 3339 times, case-insensitive search. */
#ifndef TOD_SERVICE_TEXT_H
#define TOD_SERVICE_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Decodes one UTF-8 code point at s (at most n bytes). Returns its byte length, or 0 when the
 * bytes are not valid UTF-8 (overlong forms, surrogates and values above U+10FFFF included). */
size_t tod_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* Number of code points in a NUL-terminated string, or -1 when it is not valid UTF-8. */
long tod_utf8_length(const char *s);

/* Writes the current UTC time as RFC 3339 with milliseconds ("2025-01-02T03:04:05.678Z"). */
void tod_now_rfc3339(char out[32]);

/* Milliseconds of a monotonic clock. */
int64_t tod_monotonic_ms(void);

/* Case-insensitive (ASCII) substring search; an empty needle matches. */
int tod_contains_ci(const char *hay, const char *needle);

#endif
