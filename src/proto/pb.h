/* Protocol buffers wire format: a zero-copy reader over a byte range and a small writer.
 *
 * The reader never allocates and never reads outside [p, end): every length is checked against
 * the bytes that remain before anything is dereferenced. Messages are walked field by field
 * with pb_next; a nested message is read with pb_sub, which counts nesting depth so that a
 * hostile file cannot drive a recursive caller arbitrarily deep. Groups (wire types 3/4) are
 * obsolete and refused as malformed.
 */
#ifndef TOD_PROTO_PB_H
#define TOD_PROTO_PB_H

#include <stddef.h>
#include <stdint.h>

#include "tod/status.h"

/* Deepest nesting pb_sub accepts; ONNX/MINDIR need fewer than 16 levels. */
#define PB_MAX_DEPTH 64

enum { PB_VARINT = 0, PB_FIXED64 = 1, PB_LEN = 2, PB_FIXED32 = 5 };

typedef struct {
  const uint8_t *p;   /* next unread byte */
  const uint8_t *end; /* one past the last byte */
  int depth;          /* nesting level of this message (0: top) */
} pb_reader;

/* One field as found on the wire. For PB_VARINT/PB_FIXED32/PB_FIXED64 the value is in v (fixed
 * values as raw bits); for PB_LEN, data/len is the payload, pointing into the reader's buffer. */
typedef struct {
  uint32_t num;
  int wire;
  uint64_t v;
  const uint8_t *data;
  size_t len;
} pb_field;

/* Starts reading the message in data[0, size). data may be NULL when size is 0. */
void pb_reader_init(pb_reader *r, const uint8_t *data, size_t size);

/* Reads the next field. Returns 1 and fills f, 0 at the end of the message, or
 * TOD_GRAPH_FILE_ERR when the bytes are malformed (truncated, overlong varint, field number 0,
 * group or unknown wire type). After an error the reader is left at its end. */
int pb_next(pb_reader *r, pb_field *f);

/* Opens a reader on a PB_LEN field's payload as a nested message, one level deeper than parent.
 * TOD_GRAPH_FILE_ERR when f is not length-delimited or nesting exceeds PB_MAX_DEPTH. */
tod_status pb_sub(const pb_reader *parent, const pb_field *f, pb_reader *child);

/* Reads one base-128 varint (at most 10 bytes, the 10th carrying only bit 63).
 * TOD_GRAPH_FILE_ERR on truncation or an overlong encoding. */
tod_status pb_read_varint(pb_reader *r, uint64_t *v);

/* ZigZag decoding for sint32/sint64. */
static inline int64_t pb_zigzag64(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }
static inline int32_t pb_zigzag32(uint32_t v) { return (int32_t)(v >> 1) ^ -(int32_t)(v & 1); }

/* Little-endian loads from unaligned bytes (the caller has checked the length). */
uint32_t pb_load_le32(const uint8_t *p);
uint64_t pb_load_le64(const uint8_t *p);
/* Bit casts of fixed32/fixed64 values. */
float pb_bits_to_float(uint32_t bits);
double pb_bits_to_double(uint64_t bits);

/* Repeated scalar fields arrive either one per field or packed in one PB_LEN field. These
 * count and decode both forms. pb_count_packed_varints returns the number of varints in a
 * packed payload, or TOD_GRAPH_FILE_ERR when the payload is malformed. */
int64_t pb_count_packed_varints(const uint8_t *data, size_t len);
/* Decodes a packed varint payload into out[0, n) (n from pb_count_packed_varints). */
tod_status pb_decode_packed_varints(const uint8_t *data, size_t len, uint64_t *out, size_t n);

/* Equality of a PB_LEN payload with a NUL-terminated string. */
int pb_str_eq(const pb_field *f, const char *s);

/* --- writer ------------------------------------------------------------------------------ */

/* A growable output buffer. Zero-initialise, append, then free with pb_buf_free. An allocation
 * failure makes every later append a no-op and is reported by pb_buf_status. */
typedef struct {
  uint8_t *data;
  size_t len, cap;
  int failed;
} pb_buf;

void pb_buf_free(pb_buf *b);
/* TOD_OK, or TOD_MEMORY_FAILED if any append failed. */
tod_status pb_buf_status(const pb_buf *b);
void pb_put_raw(pb_buf *b, const void *data, size_t len);
void pb_put_varint(pb_buf *b, uint64_t v);
void pb_put_tag(pb_buf *b, uint32_t num, int wire);
/* Field helpers: tag + value. */
void pb_put_uint(pb_buf *b, uint32_t num, uint64_t v);
void pb_put_sint(pb_buf *b, uint32_t num, int64_t v); /* zigzag */
void pb_put_fixed32(pb_buf *b, uint32_t num, uint32_t v);
void pb_put_fixed64(pb_buf *b, uint32_t num, uint64_t v);
void pb_put_float(pb_buf *b, uint32_t num, float v);
void pb_put_double(pb_buf *b, uint32_t num, double v);
void pb_put_bytes(pb_buf *b, uint32_t num, const void *data, size_t len);
void pb_put_string(pb_buf *b, uint32_t num, const char *s);
/* Nested messages of unknown size: begin reserves a 5-byte length (enough for < 4 GiB), end
 * patches it with a padded varint. Returns the mark to hand to pb_put_end. */
size_t pb_put_begin(pb_buf *b, uint32_t num);
void pb_put_end(pb_buf *b, size_t mark);

#endif
