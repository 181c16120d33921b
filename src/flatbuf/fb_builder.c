/* FlatBuffers builder: see fb_builder.h for the layout strategy. */
#include "flatbuf/fb_builder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FlatBuffers offsets are 32-bit and soffsets signed, so a buffer must stay below 2 GiB. */
#define FB_MAX_SIZE ((size_t)0x7fffffff)
/* Highest field slot whose vtable entry still fits a 16-bit vtable size. */
#define FB_MAX_SLOT 32765

static void fail(fb_builder *b, tod_status s, const char *msg) {
  if (b->status != TOD_OK) return;
  b->status = s;
  snprintf(b->msg, sizeof b->msg, "%s", msg);
}

void fb_builder_init(fb_builder *b, size_t initial_cap) {
  memset(b, 0, sizeof *b);
  b->minalign = 4;
  if (initial_cap) {
    if (initial_cap > FB_MAX_SIZE) initial_cap = FB_MAX_SIZE;
    b->buf = malloc(initial_cap);
    if (b->buf) b->cap = initial_cap;
  }
}

void fb_builder_free(fb_builder *b) {
  free(b->buf);
  free(b->ext);
  free(b->fields);
  free(b->vtables);
  memset(b, 0, sizeof *b);
  b->minalign = 4;
}

/* Address of the byte `off` bytes before the end: the first byte of an object at off. */
static uint8_t *at(fb_builder *b, size_t off) { return b->buf + b->cap - off; }

/* Makes room for n more bytes at the front; existing data keeps its distance from the end. */
static int reserve(fb_builder *b, size_t n) {
  if (b->status != TOD_OK) return 0;
  if (n > FB_MAX_SIZE - b->used) {
    fail(b, TOD_NOT_SUPPORT, "flatbuffer would exceed 2 GiB");
    return 0;
  }
  size_t need = b->used + n;
  if (need <= b->cap) return 1;
  size_t ncap = b->cap ? b->cap : 1024;
  while (ncap < need) ncap = ncap > FB_MAX_SIZE ? need : ncap * 2;
  uint8_t *nb = malloc(ncap);
  if (!nb) {
    fail(b, TOD_MEMORY_FAILED, "out of memory building flatbuffer");
    return 0;
  }
  if (b->used) memcpy(nb + ncap - b->used, b->buf + b->cap - b->used, b->used);
  free(b->buf);
  b->buf = nb;
  b->cap = ncap;
  return 1;
}

static void pad(fb_builder *b, size_t n) {
  if (!n || !reserve(b, n)) return;
  b->used += n;
  memset(at(b, b->used), 0, n);
}

/* Pads so that after `extra` more bytes the front is `align`-aligned (align: power of two). */
static void align_to(fb_builder *b, size_t extra, size_t align) {
  if (align > b->minalign) b->minalign = align;
  pad(b, (size_t)(0 - (b->used + extra)) & (align - 1));
}

static void put_le(uint8_t *dst, uint64_t v, size_t size) {
  for (size_t i = 0; i < size; i++) dst[i] = (uint8_t)(v >> (8 * i));
}

static int host_is_le(void) {
  const uint16_t one = 1;
  uint8_t first;
  memcpy(&first, &one, 1);
  return first == 1;
}

/* Pushes an aligned little-endian scalar; returns its position or 0. */
static fb_off push_scalar(fb_builder *b, uint64_t bits, size_t size) {
  align_to(b, 0, size);
  if (!reserve(b, size)) return 0;
  b->used += size;
  put_le(at(b, b->used), bits, size);
  return (fb_off)b->used;
}

fb_off fb_create_string(fb_builder *b, const char *s, size_t len) {
  if (b->in_table) fail(b, TOD_ERROR, "flatbuffer: string created inside a table");
  if (len >= FB_MAX_SIZE) fail(b, TOD_NOT_SUPPORT, "flatbuffer: string too long");
  if (b->status != TOD_OK) return 0;
  align_to(b, len + 1, 4);
  if (!reserve(b, len + 1)) return 0;
  b->used += len + 1;
  uint8_t *p = at(b, b->used);
  if (len) memcpy(p, s, len);
  p[len] = 0;
  return push_scalar(b, (uint32_t)len, 4);
}

/* Copies count elements of elem_size bytes into the front, little-endian. */
static void push_elems(fb_builder *b, const void *elems, size_t count, size_t elem_size) {
  size_t bytes = count * elem_size;
  if (!reserve(b, bytes)) return;
  b->used += bytes;
  uint8_t *dst = at(b, b->used);
  if (!bytes) return;
  if (host_is_le() || elem_size == 1) {
    memcpy(dst, elems, bytes);
    return;
  }
  const uint8_t *src = elems;
  for (size_t i = 0; i < count; i++)
    for (size_t j = 0; j < elem_size; j++) dst[i * elem_size + j] = src[i * elem_size + elem_size - 1 - j];
}

static fb_off vector_common(fb_builder *b, const void *elems, size_t count, size_t elem_size,
                            size_t align) {
  if (b->in_table) fail(b, TOD_ERROR, "flatbuffer: vector created inside a table");
  if (elem_size == 0 || count > FB_MAX_SIZE / elem_size)
    fail(b, TOD_NOT_SUPPORT, "flatbuffer: vector too long");
  if (b->status != TOD_OK) return 0;
  size_t bytes = count * elem_size;
  /* the length prefix needs 4-byte alignment, the elements their own (or the requested) */
  align_to(b, bytes, 4);
  align_to(b, bytes, align);
  push_elems(b, elems, count, elem_size);
  return push_scalar(b, (uint32_t)count, 4);
}

fb_off fb_create_vector(fb_builder *b, const void *elems, size_t count, size_t elem_size) {
  if (elem_size != 1 && elem_size != 2 && elem_size != 4 && elem_size != 8) {
    fail(b, TOD_ERROR, "flatbuffer: bad scalar size");
    return 0;
  }
  return vector_common(b, elems, count, elem_size, elem_size);
}

fb_off fb_create_vector_aligned(fb_builder *b, const void *bytes, size_t count, size_t align) {
  if (align == 0 || (align & (align - 1)) || align > 256) {
    fail(b, TOD_ERROR, "flatbuffer: bad alignment");
    return 0;
  }
  return vector_common(b, bytes, count, 1, align);
}

static fb_off vector_external(fb_builder *b, const void *bytes, fb_fill_fn fill, size_t unit,
                              size_t count, size_t align);

fb_off fb_create_vector_external(fb_builder *b, const void *bytes, size_t count, size_t align) {
  return vector_external(b, bytes, NULL, 0, count, align);
}

fb_off fb_create_vector_filled(fb_builder *b, fb_fill_fn fill, const void *ctx, size_t unit, size_t count,
                               size_t align) {
  if (!fill) fail(b, TOD_ERROR, "flatbuffer: no fill function");
  return vector_external(b, ctx, fill, unit ? unit : 1, count, align);
}

static fb_off vector_external(fb_builder *b, const void *bytes, fb_fill_fn fill, size_t unit,
                              size_t count, size_t align) {
  if (align == 0 || (align & (align - 1)) || align > 256) fail(b, TOD_ERROR, "flatbuffer: bad alignment");
  if (b->in_table) fail(b, TOD_ERROR, "flatbuffer: vector created inside a table");
  if (count > FB_MAX_SIZE) fail(b, TOD_NOT_SUPPORT, "flatbuffer: vector too long");
  if (b->status != TOD_OK) return 0;
  if (b->n_ext == b->cap_ext) {
    const int cap = b->cap_ext ? b->cap_ext * 2 : 64;
    fb_extern *e = realloc(b->ext, sizeof *e * (size_t)cap);
    if (!e) {
      fail(b, TOD_MEMORY_FAILED, "out of memory building flatbuffer");
      return 0;
    }
    b->ext = e;
    b->cap_ext = cap;
  }
  align_to(b, count, 4);
  align_to(b, count, align);
  if (!reserve(b, count)) return 0;
  b->used += count; /* the bytes' place: left as it is, written from bytes at the end */
  if (count) b->ext[b->n_ext++] = (fb_extern){b->used, bytes, count, fill, unit};
  return push_scalar(b, (uint32_t)count, 4);
}

fb_off fb_create_vector_offsets(fb_builder *b, const fb_off *offs, size_t count) {
  if (b->in_table) fail(b, TOD_ERROR, "flatbuffer: vector created inside a table");
  if (count > FB_MAX_SIZE / 4) fail(b, TOD_NOT_SUPPORT, "flatbuffer: vector too long");
  if (b->status != TOD_OK) return 0;
  align_to(b, count * 4, 4);
  if (!reserve(b, count * 4 + 4)) return 0;
  /* back to front: the last element is written first; each uoffset is relative to itself */
  for (size_t i = count; i-- > 0;) {
    if (offs[i] == 0 || offs[i] > b->used) {
      fail(b, TOD_ERROR, "flatbuffer: vector refers to a missing object");
      return 0;
    }
    b->used += 4;
    put_le(at(b, b->used), (uint32_t)(b->used - offs[i]), 4);
  }
  return push_scalar(b, (uint32_t)count, 4);
}

void fb_start_table(fb_builder *b) {
  if (b->in_table) fail(b, TOD_ERROR, "flatbuffer: nested table construction");
  b->in_table = 1;
  b->n_fields = 0;
  /* keep earlier padding out of the object size so equal tables get equal vtables */
  align_to(b, 0, 4);
  b->table_start = b->used;
}

static void record_field(fb_builder *b, int slot, fb_off off) {
  if (b->status != TOD_OK || !off) return;
  if (b->n_fields == b->cap_fields) {
    int cap = b->cap_fields ? b->cap_fields * 2 : 16;
    fb_field_loc *f = realloc(b->fields, sizeof *f * (size_t)cap);
    if (!f) {
      fail(b, TOD_MEMORY_FAILED, "out of memory building flatbuffer");
      return;
    }
    b->fields = f;
    b->cap_fields = cap;
  }
  b->fields[b->n_fields].off = off;
  b->fields[b->n_fields].slot = (uint16_t)slot;
  b->n_fields++;
}

static int field_ok(fb_builder *b, int slot) {
  if (!b->in_table) fail(b, TOD_ERROR, "flatbuffer: field added outside a table");
  if (slot < 0 || slot > FB_MAX_SLOT) fail(b, TOD_ERROR, "flatbuffer: bad field slot");
  return b->status == TOD_OK;
}

void fb_add_scalar_force(fb_builder *b, int slot, uint64_t bits, size_t size) {
  if (!field_ok(b, slot)) return;
  if (size != 1 && size != 2 && size != 4 && size != 8) {
    fail(b, TOD_ERROR, "flatbuffer: bad scalar size");
    return;
  }
  record_field(b, slot, push_scalar(b, bits, size));
}

void fb_add_u8(fb_builder *b, int slot, uint8_t v, uint8_t dflt) {
  if (v != dflt) fb_add_scalar_force(b, slot, v, 1);
}
void fb_add_i8(fb_builder *b, int slot, int8_t v, int8_t dflt) {
  if (v != dflt) fb_add_scalar_force(b, slot, (uint8_t)v, 1);
}
void fb_add_bool(fb_builder *b, int slot, int v, int dflt) {
  if (!v != !dflt) fb_add_scalar_force(b, slot, v ? 1u : 0u, 1);
}
void fb_add_i32(fb_builder *b, int slot, int32_t v, int32_t dflt) {
  if (v != dflt) fb_add_scalar_force(b, slot, (uint32_t)v, 4);
}
void fb_add_u32(fb_builder *b, int slot, uint32_t v, uint32_t dflt) {
  if (v != dflt) fb_add_scalar_force(b, slot, v, 4);
}
void fb_add_i64(fb_builder *b, int slot, int64_t v, int64_t dflt) {
  if (v != dflt) fb_add_scalar_force(b, slot, (uint64_t)v, 8);
}
void fb_add_f32(fb_builder *b, int slot, float v, float dflt) {
  /* compare bits so -0.0 and NaN payloads survive */
  uint32_t bv, bd;
  memcpy(&bv, &v, 4);
  memcpy(&bd, &dflt, 4);
  if (bv != bd) fb_add_scalar_force(b, slot, bv, 4);
}
void fb_add_f64(fb_builder *b, int slot, double v, double dflt) {
  uint64_t bv, bd;
  memcpy(&bv, &v, 8);
  memcpy(&bd, &dflt, 8);
  if (bv != bd) fb_add_scalar_force(b, slot, bv, 8);
}

void fb_add_offset(fb_builder *b, int slot, fb_off off) {
  if (!off || !field_ok(b, slot)) return;
  align_to(b, 0, 4);
  if (off > b->used) {
    fail(b, TOD_ERROR, "flatbuffer: field refers to a missing object");
    return;
  }
  if (!reserve(b, 4)) return;
  b->used += 4;
  put_le(at(b, b->used), (uint32_t)(b->used - off), 4);
  record_field(b, slot, (fb_off)b->used);
}

fb_off fb_end_table(fb_builder *b) {
  if (!b->in_table) fail(b, TOD_ERROR, "flatbuffer: end of a table never started");
  b->in_table = 0;
  if (b->status != TOD_OK) return 0;
  fb_off table = push_scalar(b, 0, 4); /* soffset to the vtable, patched below */
  if (!table) return 0;
  size_t obj_size = table - b->table_start;
  int max_slot = -1;
  for (int i = 0; i < b->n_fields; i++)
    if (b->fields[i].slot > max_slot) max_slot = b->fields[i].slot;
  size_t vt_len = 4 + 2 * (size_t)(max_slot + 1);
  if (obj_size > 0xffff) {
    fail(b, TOD_NOT_SUPPORT, "flatbuffer: table larger than 64 KiB");
    return 0;
  }
  uint8_t *vt = calloc(1, vt_len);
  if (!vt) {
    fail(b, TOD_MEMORY_FAILED, "out of memory building flatbuffer");
    return 0;
  }
  put_le(vt, vt_len, 2);
  put_le(vt + 2, obj_size, 2);
  for (int i = 0; i < b->n_fields; i++)
    put_le(vt + 4 + 2 * b->fields[i].slot, table - b->fields[i].off, 2);
  /* share an identical vtable written earlier (it lies after this table: negative soffset) */
  fb_off vt_off = 0;
  for (int i = 0; i < b->n_vtables; i++) {
    const uint8_t *p = at(b, b->vtables[i]);
    if ((size_t)(p[0] | p[1] << 8) == vt_len && memcmp(p, vt, vt_len) == 0) {
      vt_off = b->vtables[i];
      break;
    }
  }
  if (!vt_off) {
    if (!reserve(b, vt_len)) {
      free(vt);
      return 0;
    }
    b->used += vt_len;
    memcpy(at(b, b->used), vt, vt_len);
    vt_off = (fb_off)b->used;
    if (b->n_vtables == b->cap_vtables) {
      int cap = b->cap_vtables ? b->cap_vtables * 2 : 16;
      fb_off *v = realloc(b->vtables, sizeof *v * (size_t)cap);
      if (v) {
        b->vtables = v;
        b->cap_vtables = cap;
      }
    }
    if (b->n_vtables < b->cap_vtables) b->vtables[b->n_vtables++] = vt_off; /* else: no dedup */
  }
  free(vt);
  /* vtable address = table address - soffset; addresses grow as distances from the end shrink */
  int64_t soff = (int64_t)vt_off - (int64_t)table;
  put_le(at(b, table), (uint32_t)(int32_t)soff, 4);
  return table;
}

/* Writes the header (root reference, identifier) and returns the first error of the build. */
static tod_status finish_header(fb_builder *b, fb_off root, const char *ident, char *err,
                                size_t errlen);

tod_status fb_builder_finish(fb_builder *b, fb_off root, const char *ident, uint8_t **out,
                             size_t *len, char *err, size_t errlen) {
  *out = NULL;
  *len = 0;
  for (int i = 0; i < b->n_ext; i++)
    if (!b->ext[i].fill) fail(b, TOD_ERROR, "flatbuffer: external vectors need fb_builder_finish_write");
  tod_status st = finish_header(b, root, ident, err, errlen);
  if (st != TOD_OK) return st;
  for (int i = 0; i < b->n_ext; i++) b->ext[i].fill(b->ext[i].src, 0, b->ext[i].len, at(b, b->ext[i].off));
  size_t size = b->used;
  memmove(b->buf, at(b, size), size);
  uint8_t *shrunk = realloc(b->buf, size ? size : 1);
  *out = shrunk ? shrunk : b->buf;
  *len = size;
  b->buf = NULL;
  fb_builder_free(b);
  return TOD_OK;
}

tod_status fb_builder_finish_write(fb_builder *b, fb_off root, const char *ident,
                                   fb_write_fn write, void *ctx, char *err, size_t errlen) {
  tod_status st = finish_header(b, root, ident, err, errlen);
  if (st != TOD_OK) return st;
  /* Filled vectors go through one buffer of about FILL_CHUNK bytes (whole units; it stays in
   * the cache between the fill and the write), allocated for the largest piece. */
  enum { FILL_CHUNK = 512 << 10 };
  size_t chunk_cap = 0;
  for (int i = 0; i < b->n_ext; i++)
    if (b->ext[i].fill) {
      const size_t u = b->ext[i].unit, piece = u >= FILL_CHUNK ? u : FILL_CHUNK / u * u;
      const size_t need = piece < b->ext[i].len ? piece : b->ext[i].len;
      if (need > chunk_cap) chunk_cap = need;
    }
  uint8_t *chunk = chunk_cap ? malloc(chunk_cap) : NULL;
  if (chunk_cap && !chunk) {
    if (err && errlen) snprintf(err, errlen, "out of memory writing flatbuffer");
    fb_builder_free(b);
    return TOD_MEMORY_FAILED;
  }
  /* External vectors were created back to front: the last one is first in the file. */
  size_t pos = b->used; /* distance from the end of the next byte to write */
  for (int i = b->n_ext - 1; i >= 0 && st == TOD_OK; i--) {
    const fb_extern *e = &b->ext[i];
    if (pos > e->off) st = write(ctx, at(b, pos), pos - e->off);
    if (st == TOD_OK && !e->fill) st = write(ctx, e->src, e->len);
    if (e->fill) {
      const size_t piece = e->unit >= FILL_CHUNK ? e->unit : FILL_CHUNK / e->unit * e->unit;
      for (size_t done = 0; done < e->len && st == TOD_OK;) {
        const size_t n = e->len - done < piece ? e->len - done : piece;
        e->fill(e->src, done, n, chunk);
        st = write(ctx, chunk, n);
        done += n;
      }
    }
    pos = e->off - e->len;
  }
  free(chunk);
  if (st == TOD_OK && pos) st = write(ctx, at(b, pos), pos);
  if (st != TOD_OK && err && errlen && !err[0]) snprintf(err, errlen, "flatbuffer write failed");
  fb_builder_free(b);
  return st;
}

static tod_status finish_header(fb_builder *b, fb_off root, const char *ident, char *err,
                                size_t errlen) {
  if (b->in_table) fail(b, TOD_ERROR, "flatbuffer: finished inside a table");
  if (!root || root > b->used) fail(b, TOD_ERROR, "flatbuffer: bad root object");
  size_t head = 4 + (ident ? 4 : 0);
  if (b->status == TOD_OK) {
    /* after the header the total size is a multiple of minalign (see fb_builder.h) */
    align_to(b, head, b->minalign);
    if (ident && reserve(b, 4)) {
      b->used += 4;
      memcpy(at(b, b->used), ident, 4);
    }
    if (reserve(b, 4)) {
      b->used += 4;
      put_le(at(b, b->used), (uint32_t)(b->used - root), 4);
    }
  }
  tod_status st = b->status;
  if (st != TOD_OK) {
    if (err && errlen) snprintf(err, errlen, "%s", b->msg);
    fb_builder_free(b);
  }
  return st;
}
