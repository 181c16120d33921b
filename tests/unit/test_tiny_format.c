/* test_tiny_format_matches_libc: the stdio-free formatter of the minimal build
 * (runtime/tiny_format.c) against the C library's snprintf: integers, strings, characters and
 * pointers byte for byte (flags, width, precision, length modifiers, truncation and the returned
 * length); floating point to the same value within 1e-6 relative (it rounds in double
 * arithmetic, so the last digit may differ) and exactly on short decimals. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/tiny_format.h"

static int failures = 0;

#define SAME(...)                                                                                  \
  do {                                                                                             \
    char a[256], b[256];                                                                           \
    int na = tod_snprintf(a, sizeof a, __VA_ARGS__), nb = snprintf(b, sizeof b, __VA_ARGS__);     \
    if (na != nb || strcmp(a, b) != 0) {                                                           \
      printf("FAIL line %d: tod \"%s\" (%d) libc \"%s\" (%d)\n", __LINE__, a, na, b, nb);        \
      failures++;                                                                                  \
    }                                                                                              \
  } while (0)

/* Same value (parsed back) within rel (plus one unit of %f's sixth decimal for %f), and the same
 * text when exact is set. */
static void same_float(const char *fmt, double v, double rel, int exact) {
  char a[512], b[512];
  tod_snprintf(a, sizeof a, fmt, v);
  snprintf(b, sizeof b, fmt, v);
  double va = strtod(a, NULL), vb = strtod(b, NULL);
  double unit = strchr(fmt, 'f') ? 1.01e-6 : 0;
  int ok = exact ? strcmp(a, b) == 0 : (va == vb || fabs(va - vb) <= rel * fabs(vb) + unit);
  if (!ok) {
    printf("FAIL %s of %.17g: tod \"%s\" libc \"%s\"\n", fmt, v, a, b);
    failures++;
  }
}

int main(void) {
  SAME("plain text");
  SAME("%d %i %d %d", 0, -1, 2147483647, (int)-2147483647 - 1);
  SAME("%5d|%-5d|%05d|%+d|% d|%.3d|%8.3d|%-8.3d|", 42, 42, 42, 42, 42, 7, -7, 7);
  SAME("%u %x %X %o %#x %#o %#X", 3000000000u, 0xbeefu, 0xbeefu, 8u, 255u, 8u, 0u);
  SAME("%ld %lu %lld %llu %lx", -5L, 5UL, -1234567890123LL, 18446744073709551615ULL, 0xabcdefUL);
  SAME("%zu %zd %jd %td %hd %hhu", (size_t)123456, (ptrdiff_t)-3, (intmax_t)-99, (ptrdiff_t)17,
       (short)-300, (unsigned char)250);
  SAME("%s|%10s|%-10s|%.2s|%.*s|%*d|%-*d|", "abc", "abc", "abc", "abc", 3, "abcdef", 6, 9, 6, 9);
  SAME("%c%c%c %%", 'x', 'y', 'z');
  SAME("%p", (void *)(uintptr_t)0x1234);
  SAME("tensor %d (%s) holds %zu bytes, its shape needs %zu", 3, "conv1.weight", (size_t)600, (size_t)2400);
  SAME("%.0d|%.0x|%5.0d|", 0, 0u, 0);
  /* Truncation: output cut to the buffer, return value the full length. */
  {
    char a[8], b[8];
    int na = tod_snprintf(a, sizeof a, "%s-%d", "truncated", 12345);
    int nb = snprintf(b, sizeof b, "%s-%d", "truncated", 12345);
    if (na != nb || strcmp(a, b) != 0) {
      printf("FAIL truncation: tod \"%s\" (%d) libc \"%s\" (%d)\n", a, na, b, nb);
      failures++;
    }
    if (tod_snprintf(NULL, 0, "%d", 123456) != 6) {
      printf("FAIL size 0 must only count\n");
      failures++;
    }
  }
  /* Floating point. */
  same_float("%g", 0.5, 0, 1);
  same_float("%g", 1e-3, 0, 1);
  same_float("%g", 1234.5, 0, 1);
  same_float("%g", -2.25, 0, 1);
  same_float("%.3f", 3.25, 0, 1);
  same_float("%f", 0.0, 0, 1);
  same_float("%g", 0.0, 0, 1);
  same_float("%e", 1.0, 0, 1);
  same_float("%.2e", 12345.678, 0, 1);
  same_float("%g", 1e20, 0, 1);
  same_float("%g", 1.5e-7, 0, 1);
  same_float("%10.4f|", 2.5, 0, 1);
  same_float("%g", INFINITY, 0, 1);
  same_float("%g", -INFINITY, 0, 1);
  same_float("%g", NAN, 0, 1);
  same_float("%f", 1e300, 1e-15, 0);
  same_float("%.40g", 1.0 / 3, 1e-15, 0);
  same_float("%g", 4.9e-324, 1e-3, 0);
  srand(7);
  for (int i = 0; i < 2000; i++) {
    double m = (double)rand() / RAND_MAX * 2 - 1;
    int e = rand() % 61 - 30;
    double v = m * pow(10, e);
    same_float("%g", v, 1e-5, 0);
    same_float("%.9g", v, 1e-8, 0);
    same_float("%e", v, 1e-6, 0);
    if (fabs(v) < 1e12) same_float("%.6f", v, 1e-9, 0);
  }
  if (failures) {
    printf("%d check(s) failed\n", failures);
    return 1;
  }
  printf("ok: tod_snprintf matches libc's snprintf\n");
  return 0;
}
