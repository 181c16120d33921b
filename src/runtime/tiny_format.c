/* A small snprintf for builds without stdio (TOD_MINIMAL, runtime/nostdio.h): enough of C's
 * conversions for error messages. Integers, strings, characters and pointers print as libc's;
 * floating point (%f %e %g) prints the same digits up to the last one or two (it is rounded in
 * double arithmetic, not exactly), which is all a message needs; with TOD_TERSE_ERRORS (tod_min,
 * whose remaining messages print no floats) it prints '?'. */
#include "runtime/tiny_format.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

typedef struct {
  char *buf;
  size_t cap; /* bytes of buf, terminator included */
  size_t len; /* characters produced so far (may exceed cap) */
} sink;

static void put(sink *s, char c) {
  if (s->len + 1 < s->cap) s->buf[s->len] = c;
  s->len++;
}

static void put_n(sink *s, char c, int n) {
  for (int i = 0; i < n; i++) put(s, c);
}

typedef struct {
  int left, zero, plus, space, alt;
  int width, prec; /* prec < 0: none */
} spec;

/* Emits sign/prefix, padding and the digits text[0..n) as printf would. */
static void emit(sink *s, const spec *f, const char *prefix, const char *text, int n, int numeric) {
  int plen = (int)strlen(prefix);
  int zeros = 0;
  if (numeric && f->prec >= 0 && n < f->prec) zeros = f->prec - n;
  int total = plen + zeros + n;
  int pad = f->width > total ? f->width - total : 0;
  if (!f->left && !(f->zero && numeric)) put_n(s, ' ', pad);
  for (int i = 0; i < plen; i++) put(s, prefix[i]);
  if (!f->left && f->zero && numeric) put_n(s, '0', pad);
  put_n(s, '0', zeros);
  for (int i = 0; i < n; i++) put(s, text[i]);
  if (f->left) put_n(s, ' ', pad);
}

static void emit_uint(sink *s, spec f, uintmax_t v, int base, int upper, int neg) {
  char tmp[72];
  int n = 0;
  const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  while (v) {
    tmp[sizeof tmp - 1 - n++] = digits[v % (unsigned)base];
    v /= (unsigned)base;
  }
  int is_zero = n == 0;
  if (is_zero && f.prec != 0) tmp[sizeof tmp - 1 - n++] = '0';
  const char *prefix = neg ? "-" : f.plus ? "+" : f.space ? " " : "";
  if (f.alt && base == 16 && !is_zero) prefix = upper ? "0X" : "0x";
  if (f.alt && base == 8 && (f.prec <= n)) f.prec = n + (tmp[sizeof tmp - n] != '0');
  if (f.prec >= 0) f.zero = 0;
  emit(s, &f, prefix, tmp + sizeof tmp - n, n, 1);
}

#ifndef TOD_TERSE_ERRORS /* the minimal build formats no floating point (its messages have none) */
/* Decimal digits of x (>= 0, finite) with `frac` digits after the point, into out. */
static int fixed_digits(double x, int frac, char *out, int cap) {
  double scale = 1;
  for (int i = 0; i < frac; i++) scale *= 10;
  if (x * scale > 1e300) { /* %f of a huge value: its fraction is below double's precision */
    scale = 1;
    frac = 0;
  }
  double r = floor(x * scale + 0.5);
  char rev[400];
  int n = 0;
  while (r >= 1 && n < 380) {
    rev[n++] = (char)('0' + (int)fmod(r, 10));
    r = floor(r / 10);
  }
  while (n <= frac) rev[n++] = '0';
  int len = 0;
  for (int i = n - 1; i >= 0 && len < cap - 1; i--) {
    out[len++] = rev[i];
    if (i == frac && frac > 0 && len < cap - 1) out[len++] = '.';
  }
  return len;
}

static void emit_float(sink *s, spec f, double v, char conv) {
  char text[420];
  int n = 0;
  int neg = signbit(v) != 0;
  if (neg) v = -v;
  const char *prefix = neg ? "-" : f.plus ? "+" : f.space ? " " : "";
  int upper = conv == 'E' || conv == 'G' || conv == 'F';
  if (v != v || v > 1.7976931348623157e308) {
    const char *t = v != v ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf");
    f.zero = 0;
    emit(s, &f, prefix, t, 3, 0);
    return;
  }
  int prec = f.prec < 0 ? 6 : f.prec > 40 ? 40 : f.prec;
  char c = (char)(conv | 0x20);
  int exp10 = 0;
  if (v != 0) {
    double m = v;
    while (m >= 10) { m /= 10; exp10++; }
    while (m < 1) { m *= 10; exp10--; }
  }
  int style_e = c == 'e';
  if (c == 'g') {
    int p = prec == 0 ? 1 : prec;
    /* rounding to p significant digits may carry into one more */
    double m = v;
    for (int i = 0; i < exp10; i++) m /= 10;
    for (int i = 0; i > exp10; i--) m *= 10;
    double scale = 1;
    for (int i = 1; i < p; i++) scale *= 10;
    if (v != 0 && floor(m * scale + 0.5) >= 10 * scale) exp10++;
    style_e = exp10 < -4 || exp10 >= p;
    prec = style_e ? p - 1 : p - 1 - exp10;
  }
  if (style_e) {
    double m = v;
    for (int i = 0; i < exp10; i++) m /= 10;
    for (int i = 0; i > exp10; i--) m *= 10;
    n = fixed_digits(m, prec, text, (int)sizeof text - 8);
    if (n > 0 && text[0] == '1' && n >= 2 && text[1] == '0' && m >= 9.5) {
      /* 9.99... rounded up to 10.0: renormalize */
      n = fixed_digits(m / 10, prec, text, (int)sizeof text - 8);
      exp10++;
    }
  } else {
    n = fixed_digits(v, prec, text, (int)sizeof text - 8);
  }
  if (c == 'g' && !f.alt && memchr(text, '.', (size_t)n)) {
    while (n > 0 && text[n - 1] == '0') n--;
    if (n > 0 && text[n - 1] == '.') n--;
  }
  if (style_e) {
    text[n++] = upper ? 'E' : 'e';
    text[n++] = exp10 < 0 ? '-' : '+';
    int e = exp10 < 0 ? -exp10 : exp10;
    if (e >= 100) text[n++] = (char)('0' + e / 100);
    text[n++] = (char)('0' + e / 10 % 10);
    text[n++] = (char)('0' + e % 10);
  }
  f.prec = -1;
  emit(s, &f, prefix, text, n, 1);
}

#endif

int tod_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) {
  sink s = {buf, size, 0};
  for (const char *p = fmt; *p; p++) {
    if (*p != '%') {
      put(&s, *p);
      continue;
    }
    spec f = {0, 0, 0, 0, 0, 0, -1};
    for (p++;; p++) {
      if (*p == '-') f.left = 1;
      else if (*p == '0') f.zero = 1;
      else if (*p == '+') f.plus = 1;
      else if (*p == ' ') f.space = 1;
      else if (*p == '#') f.alt = 1;
      else break;
    }
    if (*p == '*') {
      f.width = va_arg(ap, int);
      if (f.width < 0) {
        f.left = 1;
        f.width = -f.width;
      }
      p++;
    } else {
      while (*p >= '0' && *p <= '9') f.width = f.width * 10 + (*p++ - '0');
    }
    if (*p == '.') {
      p++;
      f.prec = 0;
      if (*p == '*') {
        f.prec = va_arg(ap, int);
        p++;
      } else {
        while (*p >= '0' && *p <= '9') f.prec = f.prec * 10 + (*p++ - '0');
      }
    }
    int lng = 0; /* 1 l, 2 ll, 3 z, 4 j, 5 t, -1 h, -2 hh, 6 L */
    if (*p == 'h') { lng = -1; if (p[1] == 'h') { lng = -2; p++; } p++; }
    else if (*p == 'l') { lng = 1; if (p[1] == 'l') { lng = 2; p++; } p++; }
    else if (*p == 'z') { lng = 3; p++; }
    else if (*p == 'j') { lng = 4; p++; }
    else if (*p == 't') { lng = 5; p++; }
    else if (*p == 'L') { lng = 6; p++; }
    char conv = *p;
    if (!conv) break;
    switch (conv) {
    case 'd':
    case 'i': {
      intmax_t v;
      if (lng == 1) v = va_arg(ap, long);
      else if (lng == 2) v = va_arg(ap, long long);
      else if (lng == 3 || lng == 5) v = (intmax_t)va_arg(ap, ptrdiff_t);
      else if (lng == 4) v = va_arg(ap, intmax_t);
      else v = va_arg(ap, int);
      if (lng == -1) v = (short)v;
      if (lng == -2) v = (signed char)v;
      uintmax_t u = v < 0 ? (uintmax_t)0 - (uintmax_t)v : (uintmax_t)v;
      emit_uint(&s, f, u, 10, 0, v < 0);
      break;
    }
    case 'u':
    case 'x':
    case 'X':
    case 'o': {
      uintmax_t v;
      if (lng == 1) v = va_arg(ap, unsigned long);
      else if (lng == 2) v = va_arg(ap, unsigned long long);
      else if (lng == 3 || lng == 5) v = va_arg(ap, size_t);
      else if (lng == 4) v = va_arg(ap, uintmax_t);
      else v = va_arg(ap, unsigned);
      if (lng == -1) v = (unsigned short)v;
      if (lng == -2) v = (unsigned char)v;
      f.plus = f.space = 0;
      emit_uint(&s, f, v, conv == 'o' ? 8 : conv == 'u' ? 10 : 16, conv == 'X', 0);
      break;
    }
    case 'p': {
      uintptr_t v = (uintptr_t)va_arg(ap, void *);
      if (!v) {
        emit(&s, &f, "", "(nil)", 5, 0);
        break;
      }
      f.alt = 1;
      emit_uint(&s, f, v, 16, 0, 0);
      break;
    }
    case 'c': {
      char c = (char)va_arg(ap, int);
      f.zero = 0;
      emit(&s, &f, "", &c, 1, 0);
      break;
    }
    case 's': {
      const char *str = va_arg(ap, const char *);
      if (!str) str = "(null)";
      size_t n = 0;
      while (str[n] && (f.prec < 0 || n < (size_t)f.prec)) n++;
      f.zero = 0;
      emit(&s, &f, "", str, (int)n, 0);
      break;
    }
    case 'f':
    case 'F':
    case 'e':
    case 'E':
    case 'g':
    case 'G': {
      double v = lng == 6 ? (double)va_arg(ap, long double) : va_arg(ap, double);
#ifndef TOD_TERSE_ERRORS
      emit_float(&s, f, v, conv);
#else
      (void)v;
      put(&s, '?');
#endif
      break;
    }
    case '%': put(&s, '%'); break;
    default: /* unknown conversion: print it as written */
      put(&s, '%');
      put(&s, conv);
      break;
    }
  }
  if (size) buf[s.len < size ? s.len : size - 1] = 0;
  return s.len > INT32_MAX ? INT32_MAX : (int)s.len;
}

int tod_snprintf(char *buf, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = tod_vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return n;
}
