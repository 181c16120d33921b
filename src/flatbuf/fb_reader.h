/* A verifying FlatBuffers reader.
 *
 * Nothing is trusted: every accessor checks, before reading, that the uoffset, vtable, table
 * object, vector (length prefix and elements), string (including its NUL terminator) or union
 * member it touches lies inside the buffer and is aligned (relative to the buffer start) as the
 * format requires. Nesting is limited to FB_MAX_DEPTH tables, and the total number of tables and
 * vector elements visited is limited to a multiple of the buffer size, so a buffer whose
 * objects share sub-objects cannot make a walk take more than linear time and memory.
 *
 * Accessors return TOD_OK, or TOD_GRAPH_FILE_ERR with a message in the reader's err buffer.
 * Once a table or vector handle has been obtained, reading its scalar elements cannot fail.
 */
#ifndef TOD_FB_READER_H
#define TOD_FB_READER_H

#include <stddef.h>
#include <stdint.h>

#include "tod/status.h"

#define FB_MAX_DEPTH 64

typedef struct {
  const uint8_t *buf;
  size_t size;
  uint64_t budget; /* tables + vector elements still allowed */
  char *err;
  size_t errlen;
} fb_reader;

typedef struct {
  uint32_t pos;     /* table start (its soffset) */
  uint32_t vt;      /* vtable start */
  uint16_t vt_len;  /* vtable bytes */
  uint16_t obj_len; /* table object bytes */
  int depth;
} fb_table;

typedef struct {
  uint32_t pos; /* first element */
  uint32_t len; /* element count */
  uint32_t elem_size;
  int depth; /* of the table holding the vector */
} fb_vec;

/* Checks the header (size, identifier when ident is not NULL, root offset) and the root table.
 * A wrong identifier gives TOD_GRAPH_FILE_ERR with a message naming both. */
tod_status fb_reader_init(fb_reader *r, const uint8_t *buf, size_t size, const char *ident,
                          fb_table *root, char *err, size_t errlen);

/* 1 when the field is stored in the table, 0 when absent (readers then use the default). */
int fb_has_field(const fb_reader *r, const fb_table *t, int slot);

/* Scalars; absent fields give dflt. */
tod_status fb_read_u8(fb_reader *r, const fb_table *t, int slot, uint8_t dflt, uint8_t *v);
tod_status fb_read_i8(fb_reader *r, const fb_table *t, int slot, int8_t dflt, int8_t *v);
tod_status fb_read_i32(fb_reader *r, const fb_table *t, int slot, int32_t dflt, int32_t *v);
tod_status fb_read_u32(fb_reader *r, const fb_table *t, int slot, uint32_t dflt, uint32_t *v);
tod_status fb_read_i64(fb_reader *r, const fb_table *t, int slot, int64_t dflt, int64_t *v);
tod_status fb_read_f32(fb_reader *r, const fb_table *t, int slot, float dflt, float *v);
tod_status fb_read_f64(fb_reader *r, const fb_table *t, int slot, double dflt, double *v);

/* Sub-table; *present = 0 (and *out zeroed) when the field is absent. */
tod_status fb_read_table(fb_reader *r, const fb_table *t, int slot, fb_table *out, int *present);
/* Vector of scalars (elem_size 1, 2, 4, 8) or, with elem_size 4, of offsets. An absent field
 * gives an empty vector and *present = 0 (present may be NULL). */
tod_status fb_read_vec(fb_reader *r, const fb_table *t, int slot, uint32_t elem_size, fb_vec *out,
                       int *present);
/* String: *s points into the buffer, NUL-terminated, *len bytes. Absent: *s = NULL. */
tod_status fb_read_string(fb_reader *r, const fb_table *t, int slot, const char **s,
                          uint32_t *len);
/* Union stored as a type byte in type_slot and a table in value_slot. *type 0 means NONE. A
 * non-zero type whose table is absent gives *present = 0. */
tod_status fb_read_union(fb_reader *r, const fb_table *t, int type_slot, int value_slot,
                         uint8_t *type, fb_table *out, int *present);

/* Elements of a vector obtained from fb_read_vec (i < v->len; out-of-range gives 0). */
const uint8_t *fb_vec_bytes(const fb_reader *r, const fb_vec *v);
uint32_t fb_vec_u32(const fb_reader *r, const fb_vec *v, uint32_t i);
int32_t fb_vec_i32(const fb_reader *r, const fb_vec *v, uint32_t i);
int64_t fb_vec_i64(const fb_reader *r, const fb_vec *v, uint32_t i);
float fb_vec_f32(const fb_reader *r, const fb_vec *v, uint32_t i);
/* Table or string element i of a vector of offsets. */
tod_status fb_vec_table(fb_reader *r, const fb_vec *v, uint32_t i, fb_table *out);
tod_status fb_vec_string(fb_reader *r, const fb_vec *v, uint32_t i, const char **s,
                         uint32_t *len);

#endif
