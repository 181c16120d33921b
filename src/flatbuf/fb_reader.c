/* Verifying FlatBuffers reader: see fb_reader.h. All arithmetic on positions read from the
 * buffer is done in 64 bits so a hostile offset cannot wrap around a bounds check. */
#include "flatbuf/fb_reader.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* uoffsets are 32-bit and soffsets signed: no valid buffer is larger. */
#define FB_MAX_SIZE ((size_t)0x7fffffff)

static tod_status bad(fb_reader *r, const char *fmt, ...) {
  if (r->err && r->errlen) {
    int n = snprintf(r->err, r->errlen, "malformed flatbuffer: ");
    if (n > 0 && (size_t)n < r->errlen) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
      va_end(ap);
    }
  }
  return TOD_GRAPH_FILE_ERR;
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* Charges work against the budget that bounds a walk over shared sub-objects. */
static tod_status charge(fb_reader *r, uint64_t n) {
  if (n > r->budget) return bad(r, "buffer refers to more data than it holds (shared objects?)");
  r->budget -= n;
  return TOD_OK;
}

static tod_status table_at(fb_reader *r, uint64_t pos, int depth, fb_table *out) {
  memset(out, 0, sizeof *out);
  if (depth > FB_MAX_DEPTH) return bad(r, "tables nested deeper than %d", FB_MAX_DEPTH);
  tod_status st = charge(r, 1);
  if (st) return st;
  if (pos % 4 || pos + 4 > r->size) return bad(r, "table at %llu out of bounds or misaligned",
                                               (unsigned long long)pos);
  int32_t soff = (int32_t)rd32(r->buf + pos);
  int64_t vt = (int64_t)pos - soff;
  if (vt < 0 || vt % 2 || (uint64_t)vt + 4 > r->size)
    return bad(r, "vtable of table at %llu out of bounds or misaligned", (unsigned long long)pos);
  uint16_t vt_len = rd16(r->buf + vt), obj_len = rd16(r->buf + vt + 2);
  if (vt_len < 4 || vt_len % 2 || (uint64_t)vt + vt_len > r->size)
    return bad(r, "vtable of table at %llu has bad size %u", (unsigned long long)pos, vt_len);
  if (obj_len < 4 || pos + obj_len > r->size)
    return bad(r, "table at %llu has bad size %u", (unsigned long long)pos, obj_len);
  out->pos = (uint32_t)pos;
  out->vt = (uint32_t)vt;
  out->vt_len = vt_len;
  out->obj_len = obj_len;
  out->depth = depth;
  return TOD_OK;
}

tod_status fb_reader_init(fb_reader *r, const uint8_t *buf, size_t size, const char *ident,
                          fb_table *root, char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  memset(root, 0, sizeof *root);
  r->buf = buf;
  r->size = size;
  r->err = err;
  r->errlen = errlen;
  if (err && errlen) err[0] = 0;
  if (!buf || size < 8) return bad(r, "%zu bytes is too small", size);
  if (size > FB_MAX_SIZE) return bad(r, "larger than 2 GiB");
  /* legitimate walks touch each byte about once; 4x leaves room for reading some twice */
  r->budget = (uint64_t)size * 4 + 4096;
  if (ident && memcmp(buf + 4, ident, 4) != 0) {
    char got[5];
    for (int i = 0; i < 4; i++) got[i] = (buf[4 + i] >= 32 && buf[4 + i] < 127) ? (char)buf[4 + i] : '?';
    got[4] = 0;
    if (err && errlen)
      snprintf(err, errlen, "file identifier is '%s', expected '%.4s'", got, ident);
    return TOD_GRAPH_FILE_ERR;
  }
  return table_at(r, rd32(buf), 0, root);
}

/* Offset of a field inside its table, 0 when absent. */
static uint16_t field_off(const fb_reader *r, const fb_table *t, int slot) {
  if (slot < 0) return 0;
  uint32_t entry = 4 + 2 * (uint32_t)slot;
  if (entry + 2 > t->vt_len) return 0;
  return rd16(r->buf + t->vt + entry);
}

int fb_has_field(const fb_reader *r, const fb_table *t, int slot) {
  return field_off(r, t, slot) != 0;
}

/* Address of a present scalar field of `size` bytes after checking it lies in the table and is
 * aligned; NULL (with *st set) when absent or bad. */
static const uint8_t *scalar_at(fb_reader *r, const fb_table *t, int slot, uint32_t size,
                                tod_status *st) {
  *st = TOD_OK;
  uint16_t off = field_off(r, t, slot);
  if (!off) return NULL;
  if (off < 4 || (uint32_t)off + size > t->obj_len || ((uint64_t)t->pos + off) % size) {
    *st = bad(r, "field %d of table at %u out of bounds or misaligned", slot, t->pos);
    return NULL;
  }
  return r->buf + t->pos + off;
}

#define DEFINE_SCALAR(name, type, size, conv)                                              \
  tod_status name(fb_reader *r, const fb_table *t, int slot, type dflt, type *v) {        \
    tod_status st;                                                                         \
    const uint8_t *p = scalar_at(r, t, slot, size, &st);                                   \
    *v = dflt;                                                                             \
    if (p) conv;                                                                           \
    return st;                                                                             \
  }

DEFINE_SCALAR(fb_read_u8, uint8_t, 1, *v = p[0])
DEFINE_SCALAR(fb_read_i8, int8_t, 1, *v = (int8_t)p[0])
DEFINE_SCALAR(fb_read_i32, int32_t, 4, *v = (int32_t)rd32(p))
DEFINE_SCALAR(fb_read_u32, uint32_t, 4, *v = rd32(p))
DEFINE_SCALAR(fb_read_i64, int64_t, 8, *v = (int64_t)rd64(p))
DEFINE_SCALAR(fb_read_f32, float, 4, {
  uint32_t bits = rd32(p);
  memcpy(v, &bits, 4);
})
DEFINE_SCALAR(fb_read_f64, double, 8, {
  uint64_t bits = rd64(p);
  memcpy(v, &bits, 8);
})

/* Follows a uoffset stored at absolute position at; *target = referenced position. */
static tod_status follow(fb_reader *r, uint64_t at, uint64_t *target) {
  if (at % 4 || at + 4 > r->size) return bad(r, "offset at %llu out of bounds or misaligned",
                                             (unsigned long long)at);
  uint32_t u = rd32(r->buf + at);
  /* uoffsets point strictly forward, and a valid one fits a signed 32-bit value */
  if (u == 0 || u > 0x7fffffffu || at + u >= r->size)
    return bad(r, "offset at %llu points outside the buffer", (unsigned long long)at);
  *target = at + u;
  return TOD_OK;
}

/* The target of a present offset field; 0 in *target when absent. */
static tod_status field_target(fb_reader *r, const fb_table *t, int slot, uint64_t *target) {
  *target = 0;
  uint16_t off = field_off(r, t, slot);
  if (!off) return TOD_OK;
  if (off < 4 || (uint32_t)off + 4 > t->obj_len)
    return bad(r, "field %d of table at %u out of bounds", slot, t->pos);
  return follow(r, (uint64_t)t->pos + off, target);
}

tod_status fb_read_table(fb_reader *r, const fb_table *t, int slot, fb_table *out, int *present) {
  uint64_t target;
  memset(out, 0, sizeof *out);
  *present = 0;
  tod_status st = field_target(r, t, slot, &target);
  if (st || !target) return st;
  st = table_at(r, target, t->depth + 1, out);
  if (!st) *present = 1;
  return st;
}

static tod_status vec_at(fb_reader *r, uint64_t pos, uint32_t elem_size, int depth, fb_vec *out) {
  if (pos % 4 || pos + 4 > r->size)
    return bad(r, "vector at %llu out of bounds or misaligned", (unsigned long long)pos);
  uint32_t len = rd32(r->buf + pos);
  if ((uint64_t)len * elem_size > r->size - pos - 4)
    return bad(r, "vector at %llu of %u elements overruns the buffer", (unsigned long long)pos, len);
  if (elem_size > 4 && (pos + 4) % elem_size)
    return bad(r, "vector at %llu misaligned for %u-byte elements", (unsigned long long)pos,
               elem_size);
  tod_status st = charge(r, len);
  if (st) return st;
  out->pos = (uint32_t)(pos + 4);
  out->len = len;
  out->elem_size = elem_size;
  out->depth = depth;
  return TOD_OK;
}

tod_status fb_read_vec(fb_reader *r, const fb_table *t, int slot, uint32_t elem_size, fb_vec *out,
                       int *present) {
  uint64_t target;
  memset(out, 0, sizeof *out);
  out->elem_size = elem_size;
  out->depth = t->depth;
  if (present) *present = 0;
  if (elem_size != 1 && elem_size != 2 && elem_size != 4 && elem_size != 8)
    return bad(r, "bad element size");
  tod_status st = field_target(r, t, slot, &target);
  if (st || !target) return st;
  st = vec_at(r, target, elem_size, t->depth, out);
  if (!st && present) *present = 1;
  return st;
}

static tod_status string_at(fb_reader *r, uint64_t pos, const char **s, uint32_t *len) {
  fb_vec v;
  tod_status st = vec_at(r, pos, 1, 0, &v);
  if (st) return st;
  /* the format stores a NUL after the bytes; we hand out C strings, so insist on it */
  if ((uint64_t)v.pos + v.len >= r->size || r->buf[v.pos + v.len] != 0)
    return bad(r, "string at %llu is not NUL-terminated", (unsigned long long)pos);
  *s = (const char *)r->buf + v.pos;
  *len = v.len;
  return TOD_OK;
}

tod_status fb_read_string(fb_reader *r, const fb_table *t, int slot, const char **s,
                          uint32_t *len) {
  uint64_t target;
  *s = NULL;
  *len = 0;
  tod_status st = field_target(r, t, slot, &target);
  if (st || !target) return st;
  return string_at(r, target, s, len);
}

tod_status fb_read_union(fb_reader *r, const fb_table *t, int type_slot, int value_slot,
                         uint8_t *type, fb_table *out, int *present) {
  memset(out, 0, sizeof *out);
  *present = 0;
  tod_status st = fb_read_u8(r, t, type_slot, 0, type);
  if (st || *type == 0) return st;
  return fb_read_table(r, t, value_slot, out, present);
}

const uint8_t *fb_vec_bytes(const fb_reader *r, const fb_vec *v) { return r->buf + v->pos; }

static const uint8_t *elem(const fb_reader *r, const fb_vec *v, uint32_t i, uint32_t size) {
  if (i >= v->len || v->elem_size != size) return NULL;
  return r->buf + v->pos + (size_t)i * size;
}

uint32_t fb_vec_u32(const fb_reader *r, const fb_vec *v, uint32_t i) {
  const uint8_t *p = elem(r, v, i, 4);
  return p ? rd32(p) : 0;
}
int32_t fb_vec_i32(const fb_reader *r, const fb_vec *v, uint32_t i) {
  return (int32_t)fb_vec_u32(r, v, i);
}
int64_t fb_vec_i64(const fb_reader *r, const fb_vec *v, uint32_t i) {
  const uint8_t *p = elem(r, v, i, 8);
  return p ? (int64_t)rd64(p) : 0;
}
float fb_vec_f32(const fb_reader *r, const fb_vec *v, uint32_t i) {
  uint32_t bits = fb_vec_u32(r, v, i);
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

tod_status fb_vec_table(fb_reader *r, const fb_vec *v, uint32_t i, fb_table *out) {
  uint64_t target;
  memset(out, 0, sizeof *out);
  if (i >= v->len || v->elem_size != 4) return bad(r, "vector index %u out of range", i);
  tod_status st = follow(r, (uint64_t)v->pos + 4ull * i, &target);
  if (st) return st;
  return table_at(r, target, v->depth + 1, out);
}

tod_status fb_vec_string(fb_reader *r, const fb_vec *v, uint32_t i, const char **s,
                         uint32_t *len) {
  uint64_t target;
  *s = NULL;
  *len = 0;
  if (i >= v->len || v->elem_size != 4) return bad(r, "vector index %u out of range", i);
  tod_status st = follow(r, (uint64_t)v->pos + 4ull * i, &target);
  if (st) return st;
  return string_at(r, target, s, len);
}
