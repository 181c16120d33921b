/* Protobuf wire reader/writer: edge cases of varints, lengths, wire types, nesting, packed
 * fields, and a writer -> reader round trip. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pb.h"

static int failures;
#define CHECK(cond)                                                    \
  do {                                                                 \
    if (!(cond)) {                                                     \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                      \
    }                                                                  \
  } while (0)

static int varint_of(const uint8_t *b, size_t n, uint64_t *v) {
  pb_reader r;
  pb_reader_init(&r, b, n);
  return pb_read_varint(&r, v);
}

static void test_varint_decodes_boundaries(void) {
  uint64_t v;
  const uint8_t zero[] = {0x00}, one27[] = {0x7f}, b128[] = {0x80, 0x01}, b300[] = {0xac, 0x02};
  CHECK(varint_of(zero, 1, &v) == TOD_OK && v == 0);
  CHECK(varint_of(one27, 1, &v) == TOD_OK && v == 127);
  CHECK(varint_of(b128, 2, &v) == TOD_OK && v == 128);
  CHECK(varint_of(b300, 2, &v) == TOD_OK && v == 300);
  const uint8_t max[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  CHECK(varint_of(max, 10, &v) == TOD_OK && v == UINT64_MAX);
  /* A padded (non-minimal) encoding of 1 is still legal protobuf. */
  const uint8_t padded[] = {0x81, 0x80, 0x80, 0x00};
  CHECK(varint_of(padded, 4, &v) == TOD_OK && v == 1);
}

static void test_varint_rejects_overlong_and_truncated(void) {
  uint64_t v;
  const uint8_t ten_big[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
  CHECK(varint_of(ten_big, 10, &v) == TOD_GRAPH_FILE_ERR);
  const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
  CHECK(varint_of(eleven, 11, &v) == TOD_GRAPH_FILE_ERR);
  const uint8_t trunc[] = {0x80, 0x80};
  CHECK(varint_of(trunc, 2, &v) == TOD_GRAPH_FILE_ERR);
  CHECK(varint_of(trunc, 0, &v) == TOD_GRAPH_FILE_ERR);
  CHECK(varint_of(NULL, 5, &v) == TOD_GRAPH_FILE_ERR); /* NULL base is treated as empty */
}

static void test_zigzag(void) {
  CHECK(pb_zigzag64(0) == 0);
  CHECK(pb_zigzag64(1) == -1);
  CHECK(pb_zigzag64(2) == 1);
  CHECK(pb_zigzag64(UINT64_MAX) == INT64_MIN);
  CHECK(pb_zigzag64(UINT64_MAX - 1) == INT64_MAX);
  CHECK(pb_zigzag32(3) == -2);
  CHECK(pb_zigzag32(UINT32_MAX) == INT32_MIN);
}

static void test_fields_of_every_wire_type(void) {
  /* field 1 varint 150; field 2 fixed64; field 3 "ab"; field 4 fixed32 1.5f */
  const uint8_t msg[] = {0x08, 0x96, 0x01, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 0x1a, 0x02, 'a', 'b',
                         0x25, 0x00, 0x00, 0xc0, 0x3f};
  pb_reader r;
  pb_field f;
  pb_reader_init(&r, msg, sizeof msg);
  CHECK(pb_next(&r, &f) == 1 && f.num == 1 && f.wire == PB_VARINT && f.v == 150);
  CHECK(pb_next(&r, &f) == 1 && f.num == 2 && f.wire == PB_FIXED64 && f.v == 0x0807060504030201ull);
  CHECK(pb_next(&r, &f) == 1 && f.num == 3 && f.wire == PB_LEN && f.len == 2 && pb_str_eq(&f, "ab"));
  CHECK(pb_next(&r, &f) == 1 && f.num == 4 && f.wire == PB_FIXED32 &&
        pb_bits_to_float((uint32_t)f.v) == 1.5f);
  CHECK(pb_next(&r, &f) == 0);
  CHECK(pb_next(&r, &f) == 0);
}

static int first_field(const uint8_t *b, size_t n) {
  pb_reader r;
  pb_field f;
  pb_reader_init(&r, b, n);
  return pb_next(&r, &f);
}

static void test_malformed_fields_are_errors(void) {
  const uint8_t len_past_end[] = {0x1a, 0x05, 'a'};
  CHECK(first_field(len_past_end, sizeof len_past_end) == TOD_GRAPH_FILE_ERR);
  /* A length near 2^64 must not wrap the pointer arithmetic. */
  const uint8_t huge_len[] = {0x1a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 'a'};
  CHECK(first_field(huge_len, sizeof huge_len) == TOD_GRAPH_FILE_ERR);
  const uint8_t fixed64_short[] = {0x11, 1, 2, 3};
  CHECK(first_field(fixed64_short, sizeof fixed64_short) == TOD_GRAPH_FILE_ERR);
  const uint8_t fixed32_short[] = {0x25, 1, 2};
  CHECK(first_field(fixed32_short, sizeof fixed32_short) == TOD_GRAPH_FILE_ERR);
  const uint8_t group_start[] = {0x0b, 0x0c};
  CHECK(first_field(group_start, sizeof group_start) == TOD_GRAPH_FILE_ERR);
  const uint8_t wire6[] = {0x0e};
  CHECK(first_field(wire6, sizeof wire6) == TOD_GRAPH_FILE_ERR);
  const uint8_t field0[] = {0x00, 0x01};
  CHECK(first_field(field0, sizeof field0) == TOD_GRAPH_FILE_ERR);
  const uint8_t varint_value_trunc[] = {0x08, 0x80};
  CHECK(first_field(varint_value_trunc, sizeof varint_value_trunc) == TOD_GRAPH_FILE_ERR);
  /* Field number above 2^29-1 (key = 2^32 | wire 0). */
  const uint8_t big_field[] = {0x80, 0x80, 0x80, 0x80, 0x10, 0x00};
  CHECK(first_field(big_field, sizeof big_field) == TOD_GRAPH_FILE_ERR);
  /* After an error the reader is at its end and stays there. */
  pb_reader r;
  pb_field f;
  pb_reader_init(&r, len_past_end, sizeof len_past_end);
  CHECK(pb_next(&r, &f) == TOD_GRAPH_FILE_ERR);
  CHECK(pb_next(&r, &f) == 0);
}

static void test_every_truncation_of_a_message_is_caught_or_short(void) {
  pb_buf b = {0};
  pb_put_uint(&b, 1, 123456789);
  pb_put_string(&b, 2, "hello");
  pb_put_double(&b, 3, 2.5);
  size_t m = pb_put_begin(&b, 4);
  pb_put_float(&b, 1, 3.25f);
  pb_put_end(&b, m);
  CHECK(pb_buf_status(&b) == TOD_OK);
  /* Every strict prefix either ends on a field boundary (fewer fields) or is an error; it never
   * yields a field whose payload reaches past the prefix. */
  for (size_t cut = 0; cut < b.len; cut++) {
    uint8_t *copy = malloc(cut ? cut : 1);
    memcpy(copy, b.data, cut);
    pb_reader r;
    pb_field f;
    int rc, n = 0;
    pb_reader_init(&r, copy, cut);
    while ((rc = pb_next(&r, &f)) == 1) {
      if (f.wire == PB_LEN) CHECK(f.data + f.len <= copy + cut);
      n++;
    }
    CHECK(rc == 0 || rc == TOD_GRAPH_FILE_ERR);
    CHECK(n < 4);
    free(copy);
  }
  pb_buf_free(&b);
}

static void test_nesting_depth_is_capped(void) {
  /* PB_MAX_DEPTH + 5 nested messages, each field 1 wrapping the next. */
  int levels = PB_MAX_DEPTH + 5;
  pb_buf b = {0};
  size_t *marks = malloc(sizeof(size_t) * (size_t)levels);
  for (int i = 0; i < levels; i++) marks[i] = pb_put_begin(&b, 1);
  for (int i = levels - 1; i >= 0; i--) pb_put_end(&b, marks[i]);
  free(marks);
  pb_reader r, child;
  pb_field f;
  pb_reader_init(&r, b.data, b.len);
  int depth = 0;
  tod_status st = TOD_OK;
  while (pb_next(&r, &f) == 1) {
    st = pb_sub(&r, &f, &child);
    if (st != TOD_OK) break;
    r = child;
    depth++;
  }
  CHECK(st == TOD_GRAPH_FILE_ERR);
  CHECK(depth == PB_MAX_DEPTH);
  pb_buf_free(&b);
}

static void test_packed_varints(void) {
  const uint8_t packed[] = {0x01, 0x96, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  CHECK(pb_count_packed_varints(packed, sizeof packed) == 3);
  uint64_t v[3];
  CHECK(pb_decode_packed_varints(packed, sizeof packed, v, 3) == TOD_OK);
  CHECK(v[0] == 1 && v[1] == 150 && v[2] == UINT64_MAX);
  CHECK((int64_t)v[2] == -1);
  const uint8_t unterminated[] = {0x01, 0x96};
  CHECK(pb_count_packed_varints(unterminated, sizeof unterminated) == TOD_GRAPH_FILE_ERR);
  const uint8_t overlong[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
  CHECK(pb_count_packed_varints(overlong, sizeof overlong) == TOD_GRAPH_FILE_ERR);
  CHECK(pb_count_packed_varints(packed, 0) == 0);
}

static void test_writer_round_trip(void) {
  pb_buf b = {0};
  pb_put_uint(&b, 1, 0);
  pb_put_uint(&b, 2, UINT64_MAX);
  pb_put_sint(&b, 3, -3);
  pb_put_fixed32(&b, 4, 0xdeadbeef);
  pb_put_fixed64(&b, 5, 0x0123456789abcdefull);
  pb_put_bytes(&b, 6, "", 0);
  pb_put_tag(&b, 536870911, PB_VARINT); /* largest field number */
  pb_put_varint(&b, 7);
  size_t m = pb_put_begin(&b, 8);
  char big[300];
  memset(big, 'x', sizeof big);
  pb_put_bytes(&b, 1, big, sizeof big);
  pb_put_end(&b, m);
  CHECK(pb_buf_status(&b) == TOD_OK);
  pb_reader r, sub;
  pb_field f;
  pb_reader_init(&r, b.data, b.len);
  CHECK(pb_next(&r, &f) == 1 && f.num == 1 && f.v == 0);
  CHECK(pb_next(&r, &f) == 1 && f.num == 2 && f.v == UINT64_MAX);
  CHECK(pb_next(&r, &f) == 1 && f.num == 3 && pb_zigzag64(f.v) == -3);
  CHECK(pb_next(&r, &f) == 1 && f.num == 4 && f.wire == PB_FIXED32 && f.v == 0xdeadbeef);
  CHECK(pb_next(&r, &f) == 1 && f.num == 5 && f.v == 0x0123456789abcdefull);
  CHECK(pb_next(&r, &f) == 1 && f.num == 6 && f.wire == PB_LEN && f.len == 0);
  CHECK(pb_next(&r, &f) == 1 && f.num == 536870911 && f.v == 7);
  CHECK(pb_next(&r, &f) == 1 && f.num == 8 && f.wire == PB_LEN);
  CHECK(pb_sub(&r, &f, &sub) == TOD_OK && sub.depth == 1);
  CHECK(pb_next(&sub, &f) == 1 && f.num == 1 && f.len == sizeof big);
  CHECK(pb_next(&sub, &f) == 0);
  CHECK(pb_next(&r, &f) == 0);
  pb_buf_free(&b);
  /* pb_sub refuses non-length-delimited fields. */
  pb_field vf = {1, PB_VARINT, 5, NULL, 0};
  pb_reader_init(&r, NULL, 0);
  CHECK(pb_sub(&r, &vf, &sub) == TOD_GRAPH_FILE_ERR);
}

int main(void) {
  test_varint_decodes_boundaries();
  test_varint_rejects_overlong_and_truncated();
  test_zigzag();
  test_fields_of_every_wire_type();
  test_malformed_fields_are_errors();
  test_every_truncation_of_a_message_is_caught_or_short();
  test_nesting_depth_is_capped();
  test_packed_varints();
  test_writer_round_trip();
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("test_proto_wire: all passed\n");
  return 0;
}
