/* A FlatBuffers builder written from the binary format specification.
 *
 * The buffer is built back to front, as the reference implementation does: an object is
 * written before the objects that refer to it, so every uoffset points forward (FlatBuffers
 * offsets are unsigned). Positions are kept as distances from the buffer's end (fb_off), which
 * do not move when the buffer grows. fb_builder_finish pads the front so the total size is a
 * multiple of the largest alignment ever requested; an object aligned relative to the end is
 * then aligned relative to the start too. That is how fb_create_vector_aligned(…, 64) gives
 * weight data that starts 64-byte aligned in the file, usable in place from an mmap.
 *
 * Errors are sticky: after an allocation failure or misuse every call returns 0 and
 * fb_builder_finish reports the first failure, so callers check once at the end.
 * All multi-byte values are written little-endian whatever the host.
 */
#ifndef TOD_FB_BUILDER_H
#define TOD_FB_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "tod/status.h"

/* An object's position: its distance from the end of the buffer. 0 means "no object". */
typedef uint32_t fb_off;

typedef struct {
  fb_off off;    /* where the field's value was written */
  uint16_t slot; /* field index in the table: vtable entry 4 + 2*slot */
} fb_field_loc;

/* Produces bytes [off, off + len) of a vector's contents into dst (fb_create_vector_filled). */
typedef void (*fb_fill_fn)(const void *ctx, size_t off, size_t len, uint8_t *dst);

/* A byte vector whose contents stay in the caller's memory until the buffer is written. */
typedef struct {
  size_t off;      /* distance from the buffer's end of its first byte */
  const void *src; /* the caller's bytes (or fill's context); valid until the buffer is finished */
  size_t len;
  fb_fill_fn fill; /* NULL: the bytes are src itself */
  size_t unit;     /* fill: pieces are multiples of unit bytes */
} fb_extern;

typedef struct {
  uint8_t *buf; /* data occupies the last `used` bytes of buf[0..cap) */
  size_t cap, used;
  size_t minalign;
  /* the table being built (FlatBuffers builds one object at a time) */
  int in_table;
  size_t table_start;
  fb_field_loc *fields;
  int n_fields, cap_fields;
  /* vtables written so far, for deduplication */
  fb_off *vtables;
  int n_vtables, cap_vtables;
  fb_extern *ext; /* external vectors, in creation order (decreasing file position) */
  int n_ext, cap_ext;
  tod_status status; /* first failure, sticky */
  char msg[128];
} fb_builder;

/* Prepares an empty builder; initial_cap is a size hint (0 for a default). */
void fb_builder_init(fb_builder *b, size_t initial_cap);
/* Frees everything the builder owns (not a buffer already taken with fb_builder_finish). */
void fb_builder_free(fb_builder *b);

/* A string (bytes copied, NUL-terminated as the format requires). Returns 0 on failure. */
fb_off fb_create_string(fb_builder *b, const char *s, size_t len);
/* A vector of count little-endian scalars of elem_size bytes (1, 2, 4 or 8), taken from host
 * memory and byte-swapped on big-endian hosts. Returns 0 on failure. */
fb_off fb_create_vector(fb_builder *b, const void *elems, size_t count, size_t elem_size);
/* A byte vector whose first element starts `align`-byte aligned from the buffer start (align:
 * power of two, at most 256). Returns 0 on failure. */
fb_off fb_create_vector_aligned(fb_builder *b, const void *bytes, size_t count, size_t align);
/* As fb_create_vector_aligned, but the bytes are not copied: their place in the buffer is
 * left untouched (never paged in) and fb_builder_finish_write writes them from `bytes`, which
 * must stay valid until then. For weights: the file is written without a second copy. */
fb_off fb_create_vector_external(fb_builder *b, const void *bytes, size_t count, size_t align);
/* As fb_create_vector_external, but the bytes are produced by fill(ctx, ...) when the buffer is
 * finished: in place by fb_builder_finish, or a few hundred KB at a time (multiples of unit
 * bytes, or what is left) into one reused buffer by fb_builder_finish_write. For weights whose
 * stored form is computed from the source (a relayout): no full copy is ever in memory. */
fb_off fb_create_vector_filled(fb_builder *b, fb_fill_fn fill, const void *ctx, size_t unit, size_t count,
                               size_t align);
/* A vector of references to objects (tables or strings) built earlier. */
fb_off fb_create_vector_offsets(fb_builder *b, const fb_off *offs, size_t count);

/* Tables: start, add fields in any order, end. Scalars equal to their default are omitted
 * (readers see the default); the *_force variants always store the value. */
void fb_start_table(fb_builder *b);
void fb_add_u8(fb_builder *b, int slot, uint8_t v, uint8_t dflt);
void fb_add_i8(fb_builder *b, int slot, int8_t v, int8_t dflt);
void fb_add_bool(fb_builder *b, int slot, int v, int dflt);
void fb_add_i32(fb_builder *b, int slot, int32_t v, int32_t dflt);
void fb_add_u32(fb_builder *b, int slot, uint32_t v, uint32_t dflt);
void fb_add_i64(fb_builder *b, int slot, int64_t v, int64_t dflt);
void fb_add_f32(fb_builder *b, int slot, float v, float dflt);
void fb_add_f64(fb_builder *b, int slot, double v, double dflt);
/* Stores a scalar of `size` bytes (1, 2, 4, 8) unconditionally; bits holds its value. */
void fb_add_scalar_force(fb_builder *b, int slot, uint64_t bits, size_t size);
/* A reference field (table, string, vector); off 0 leaves the field absent. */
void fb_add_offset(fb_builder *b, int slot, fb_off off);
/* Writes the vtable (shared with an identical earlier one) and returns the table. */
fb_off fb_end_table(fb_builder *b);

/* Writes the root reference and the 4-byte file identifier (may be NULL), then hands the
 * finished buffer to the caller (*out, malloc'd; the caller frees it). The builder is left
 * empty. Returns the first error of the whole build, with a message in err. */
tod_status fb_builder_finish(fb_builder *b, fb_off root, const char *ident, uint8_t **out,
                             size_t *len, char *err, size_t errlen);
/* Receives the finished buffer piece by piece, in order; returns 0 or a tod_status. */
typedef tod_status (*fb_write_fn)(void *ctx, const void *bytes, size_t len);
/* As fb_builder_finish, but the buffer goes to write() in pieces (external vectors from their
 * callers' memory) instead of into one allocation. The builder is freed either way. */
tod_status fb_builder_finish_write(fb_builder *b, fb_off root, const char *ident,
                                   fb_write_fn write, void *ctx, char *err, size_t errlen);

#endif
