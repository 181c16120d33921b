/* UTF-8, time and search helpers of the service. */
#include "service/text.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

size_t tod_utf8_decode(const char *str, size_t n, uint32_t *cp) {
  const unsigned char *s = (const unsigned char *)str;
  if (n == 0) return 0;
  if (s[0] < 0x80) {
    *cp = s[0];
    return 1;
  }
  size_t len;
  uint32_t v, min;
  if ((s[0] & 0xe0) == 0xc0) len = 2, v = s[0] & 0x1f, min = 0x80;
  else if ((s[0] & 0xf0) == 0xe0) len = 3, v = s[0] & 0x0f, min = 0x800;
  else if ((s[0] & 0xf8) == 0xf0) len = 4, v = s[0] & 0x07, min = 0x10000;
  else return 0;
  if (len > n) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    v = v << 6 | (s[i] & 0x3f);
  }
  if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
  *cp = v;
  return len;
}

long tod_utf8_length(const char *s) {
  size_t n = strlen(s);
  long count = 0;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    size_t l = tod_utf8_decode(s + i, n - i, &cp);
    if (!l) return -1;
    i += l;
    count++;
  }
  return count;
}

void tod_now_rfc3339(char out[32]) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char base[24];
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, 32, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
}

int64_t tod_monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tod_contains_ci(const char *hay, const char *needle) {
  size_t nl = strlen(needle);
  if (!nl) return 1;
  for (const char *h = hay; *h; h++) {
    size_t i = 0;
    while (i < nl && h[i] && tolower((unsigned char)h[i]) == tolower((unsigned char)needle[i])) i++;
    if (i == nl) return 1;
  }
  return 0;
}
