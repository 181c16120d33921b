/* Protocol buffers wire format reader and writer. See pb.h. */
#include "proto/pb.h"

#include <stdlib.h>
#include <string.h>

void pb_reader_init(pb_reader *r, const uint8_t *data, size_t size) {
  /* A NULL base with a size would make every bound check meaningless: treat it as empty. */
  if (!data) size = 0;
  r->p = data;
  r->end = data ? data + size : data;
  r->depth = 0;
}

static size_t remaining(const pb_reader *r) { return (size_t)(r->end - r->p); }

static int fail(pb_reader *r) {
  r->p = r->end;
  return TOD_GRAPH_FILE_ERR;
}

tod_status pb_read_varint(pb_reader *r, uint64_t *v) {
  uint64_t x = 0;
  for (int i = 0; i < 10; i++) {
    if (r->p >= r->end) return fail(r);
    uint8_t b = *r->p++;
    /* The 10th byte may only carry bit 63; anything more is an overlong (or 65+ bit) value. */
    if (i == 9 && b > 1) return fail(r);
    x |= (uint64_t)(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) {
      *v = x;
      return TOD_OK;
    }
  }
  return fail(r);
}

uint32_t pb_load_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t pb_load_le64(const uint8_t *p) {
  return (uint64_t)pb_load_le32(p) | (uint64_t)pb_load_le32(p + 4) << 32;
}

float pb_bits_to_float(uint32_t bits) {
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

double pb_bits_to_double(uint64_t bits) {
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

int pb_next(pb_reader *r, pb_field *f) {
  if (r->p >= r->end) return 0;
  uint64_t key;
  if (pb_read_varint(r, &key) != TOD_OK) return TOD_GRAPH_FILE_ERR;
  uint64_t num = key >> 3;
  /* Field numbers are 1 .. 2^29-1; 0 never appears in a valid message. */
  if (num == 0 || num > 0x1fffffff) return fail(r);
  f->num = (uint32_t)num;
  f->wire = (int)(key & 7);
  f->v = 0;
  f->data = NULL;
  f->len = 0;
  switch (f->wire) {
    case PB_VARINT:
      if (pb_read_varint(r, &f->v) != TOD_OK) return TOD_GRAPH_FILE_ERR;
      return 1;
    case PB_FIXED64:
      if (remaining(r) < 8) return fail(r);
      f->v = pb_load_le64(r->p);
      r->p += 8;
      return 1;
    case PB_FIXED32:
      if (remaining(r) < 4) return fail(r);
      f->v = pb_load_le32(r->p);
      r->p += 4;
      return 1;
    case PB_LEN: {
      uint64_t len;
      if (pb_read_varint(r, &len) != TOD_OK) return TOD_GRAPH_FILE_ERR;
      if (len > remaining(r)) return fail(r);
      f->data = r->p;
      f->len = (size_t)len;
      r->p += len;
      return 1;
    }
    default: /* 3/4 are groups (never used by proto3-era files); 6/7 do not exist */
      return fail(r);
  }
}

tod_status pb_sub(const pb_reader *parent, const pb_field *f, pb_reader *child) {
  if (f->wire != PB_LEN || parent->depth + 1 > PB_MAX_DEPTH) {
    pb_reader_init(child, NULL, 0);
    return TOD_GRAPH_FILE_ERR;
  }
  pb_reader_init(child, f->data, f->len);
  child->depth = parent->depth + 1;
  return TOD_OK;
}

int64_t pb_count_packed_varints(const uint8_t *data, size_t len) {
  int64_t n = 0;
  /* Every varint ends with a byte whose top bit is clear, so counting those counts the values;
   * the last byte must be such a terminator, and no run may exceed 10 bytes. */
  int run = 0;
  for (size_t i = 0; i < len; i++) {
    run++;
    if (run > 10 || (run == 10 && data[i] > 1)) return TOD_GRAPH_FILE_ERR;
    if (!(data[i] & 0x80)) {
      n++;
      run = 0;
    }
  }
  if (run) return TOD_GRAPH_FILE_ERR;
  return n;
}

tod_status pb_decode_packed_varints(const uint8_t *data, size_t len, uint64_t *out, size_t n) {
  pb_reader r;
  pb_reader_init(&r, data, len);
  for (size_t i = 0; i < n; i++)
    if (pb_read_varint(&r, &out[i]) != TOD_OK) return TOD_GRAPH_FILE_ERR;
  return r.p == r.end ? TOD_OK : TOD_GRAPH_FILE_ERR;
}

int pb_str_eq(const pb_field *f, const char *s) {
  size_t n = strlen(s);
  return f->wire == PB_LEN && f->len == n && (n == 0 || memcmp(f->data, s, n) == 0);
}

/* --- writer ---------------------------------------------------------------------------- */

void pb_buf_free(pb_buf *b) {
  free(b->data);
  memset(b, 0, sizeof *b);
}

tod_status pb_buf_status(const pb_buf *b) { return b->failed ? TOD_MEMORY_FAILED : TOD_OK; }

static int reserve(pb_buf *b, size_t extra) {
  if (b->failed) return 0;
  if (extra > SIZE_MAX - b->len) {
    b->failed = 1;
    return 0;
  }
  size_t need = b->len + extra;
  if (need <= b->cap) return 1;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need) {
    if (cap > SIZE_MAX / 2) {
      cap = need;
      break;
    }
    cap *= 2;
  }
  uint8_t *d = realloc(b->data, cap);
  if (!d) {
    b->failed = 1;
    return 0;
  }
  b->data = d;
  b->cap = cap;
  return 1;
}

void pb_put_raw(pb_buf *b, const void *data, size_t len) {
  if (!len || !reserve(b, len)) return;
  memcpy(b->data + b->len, data, len);
  b->len += len;
}

void pb_put_varint(pb_buf *b, uint64_t v) {
  uint8_t tmp[10];
  size_t n = 0;
  do {
    uint8_t byte = v & 0x7f;
    v >>= 7;
    tmp[n++] = byte | (v ? 0x80 : 0);
  } while (v);
  pb_put_raw(b, tmp, n);
}

void pb_put_tag(pb_buf *b, uint32_t num, int wire) {
  pb_put_varint(b, (uint64_t)num << 3 | (uint64_t)(wire & 7));
}

void pb_put_uint(pb_buf *b, uint32_t num, uint64_t v) {
  pb_put_tag(b, num, PB_VARINT);
  pb_put_varint(b, v);
}

void pb_put_sint(pb_buf *b, uint32_t num, int64_t v) {
  pb_put_tag(b, num, PB_VARINT);
  pb_put_varint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void pb_put_fixed32(pb_buf *b, uint32_t num, uint32_t v) {
  uint8_t t[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  pb_put_tag(b, num, PB_FIXED32);
  pb_put_raw(b, t, 4);
}

void pb_put_fixed64(pb_buf *b, uint32_t num, uint64_t v) {
  uint8_t t[8];
  for (int i = 0; i < 8; i++) t[i] = (uint8_t)(v >> (8 * i));
  pb_put_tag(b, num, PB_FIXED64);
  pb_put_raw(b, t, 8);
}

void pb_put_float(pb_buf *b, uint32_t num, float v) {
  uint32_t bits;
  memcpy(&bits, &v, 4);
  pb_put_fixed32(b, num, bits);
}

void pb_put_double(pb_buf *b, uint32_t num, double v) {
  uint64_t bits;
  memcpy(&bits, &v, 8);
  pb_put_fixed64(b, num, bits);
}

void pb_put_bytes(pb_buf *b, uint32_t num, const void *data, size_t len) {
  pb_put_tag(b, num, PB_LEN);
  pb_put_varint(b, len);
  pb_put_raw(b, data, len);
}

void pb_put_string(pb_buf *b, uint32_t num, const char *s) { pb_put_bytes(b, num, s, strlen(s)); }

size_t pb_put_begin(pb_buf *b, uint32_t num) {
  pb_put_tag(b, num, PB_LEN);
  static const uint8_t placeholder[5] = {0x80, 0x80, 0x80, 0x80, 0x00};
  pb_put_raw(b, placeholder, 5);
  return b->len;
}

void pb_put_end(pb_buf *b, size_t mark) {
  if (b->failed || mark < 5 || mark > b->len) return;
  size_t len = b->len - mark;
  if (len > 0xffffffffu) {
    b->failed = 1;
    return;
  }
  /* A padded 5-byte varint: protobuf parsers accept non-minimal encodings, and this keeps the
   * payload where it already is. */
  uint8_t *p = b->data + mark - 5;
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(((len >> (7 * i)) & 0x7f) | 0x80);
  p[4] = (uint8_t)((len >> 28) & 0x0f);
}
