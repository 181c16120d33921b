/* MindSpore .ckpt writer/reader: round trip, canonical bytes, and hostile inputs (every
 * truncation, wrong content sizes, duplicate tags, unknown types) refused without a crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/ckpt.h"

static int failures;
#define CHECK(cond)                                                               \
  do {                                                                            \
    if (!(cond)) {                                                                \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);    \
      failures++;                                                                 \
    }                                                                             \
  } while (0)

static float w[2 * 3 * 4];
static int32_t step = 42;

static void sample(ckpt_value *v) {
  memset(v, 0, sizeof(ckpt_value) * 2);
  for (int i = 0; i < 24; i++) w[i] = (float)i * 0.5f - 3.0f;
  v[0] = (ckpt_value){.name = "conv.weight", .dtype = IR_DT_FLOAT32, .ndim = 3, .dims = {2, 3, 4}, .data = w, .nbytes = sizeof w};
  v[1] = (ckpt_value){.name = "global_step", .dtype = IR_DT_INT32, .ndim = 1, .dims = {1}, .data = &step, .nbytes = 4};
}

static void test_round_trip(void) {
  ckpt_value v[2];
  sample(v);
  pb_buf b = {0};
  char err[256];
  CHECK(ckpt_serialize(v, 2, &b, err, sizeof err) == TOD_OK);
  /* Canonical: the first value (> 127 bytes) has a minimal two-byte length prefix. */
  CHECK(b.len > 3 && b.data[0] == 0x0A && b.data[1] >= 0x80 && b.data[2] > 0 && b.data[2] < 0x80);
  ckpt_file f;
  CHECK(ckpt_parse(b.data, b.len, &f, err, sizeof err) == TOD_OK);
  CHECK(f.n == 2);
  const ckpt_value *a = ckpt_find(&f, "conv.weight");
  CHECK(a && a->dtype == IR_DT_FLOAT32 && a->ndim == 3 && a->dims[2] == 4 && a->nbytes == sizeof w &&
        memcmp(a->data, w, sizeof w) == 0);
  const ckpt_value *g = ckpt_find(&f, "global_step");
  CHECK(g && g->dtype == IR_DT_INT32 && memcmp(g->data, &step, 4) == 0);
  CHECK(ckpt_find(&f, "nope") == NULL);
  ckpt_file_free(&f);
  /* Every strict prefix either fails cleanly or (cut between values) holds fewer values. */
  for (size_t n = 0; n < b.len; n++) {
    uint8_t *cut = malloc(n ? n : 1);
    memcpy(cut, b.data, n);
    tod_status st = ckpt_parse(cut, n, &f, err, sizeof err);
    CHECK(st == TOD_GRAPH_FILE_ERR || (st == TOD_OK && f.n < 2));
    if (st == TOD_OK) ckpt_file_free(&f);
    free(cut);
  }
  /* Every single-byte corruption is survived (ASan watches). */
  for (size_t i = 0; i < b.len; i++) {
    uint8_t *bad = malloc(b.len);
    memcpy(bad, b.data, b.len);
    bad[i] ^= 0x5A;
    if (ckpt_parse(bad, b.len, &f, err, sizeof err) == TOD_OK) ckpt_file_free(&f);
    free(bad);
  }
  pb_buf_free(&b);
}

static void test_refusals(void) {
  ckpt_value v[2];
  sample(v);
  char err[256];
  pb_buf b = {0};
  v[0].nbytes -= 4; /* shape says 24 floats, data 23 */
  CHECK(ckpt_serialize(v, 1, &b, err, sizeof err) == TOD_PARAM_INVALID);
  pb_buf_free(&b);
  sample(v);
  v[1].name = "conv.weight"; /* duplicate tag */
  v[1].dtype = IR_DT_FLOAT32;
  b = (pb_buf){0};
  CHECK(ckpt_serialize(v, 2, &b, err, sizeof err) == TOD_OK);
  ckpt_file f;
  CHECK(ckpt_parse(b.data, b.len, &f, err, sizeof err) == TOD_GRAPH_FILE_ERR && strstr(err, "twice"));
  pb_buf_free(&b);
  /* Content size that does not match dims, an unknown type, packed dims. */
  b = (pb_buf){0};
  size_t mv = pb_put_begin(&b, 1);
  pb_put_string(&b, 1, "x");
  size_t mt = pb_put_begin(&b, 2);
  pb_put_uint(&b, 1, 3);
  pb_put_string(&b, 2, "Float32");
  pb_put_bytes(&b, 3, w, 8);
  pb_put_end(&b, mt);
  pb_put_end(&b, mv);
  CHECK(ckpt_parse(b.data, b.len, &f, err, sizeof err) == TOD_GRAPH_FILE_ERR && strstr(err, "do not match"));
  pb_buf_free(&b);
  b = (pb_buf){0};
  mv = pb_put_begin(&b, 1);
  pb_put_string(&b, 1, "x");
  mt = pb_put_begin(&b, 2);
  pb_put_string(&b, 2, "Complex64");
  pb_put_bytes(&b, 3, w, 8);
  pb_put_end(&b, mt);
  pb_put_end(&b, mv);
  CHECK(ckpt_parse(b.data, b.len, &f, err, sizeof err) == TOD_GRAPH_FILE_ERR && strstr(err, "Complex64"));
  pb_buf_free(&b);
  b = (pb_buf){0};
  mv = pb_put_begin(&b, 1);
  pb_put_string(&b, 1, "x");
  mt = pb_put_begin(&b, 2);
  const uint8_t packed[] = {2, 3};
  pb_put_bytes(&b, 1, packed, 2);
  pb_put_string(&b, 2, "Float32");
  pb_put_bytes(&b, 3, w, 24);
  pb_put_end(&b, mt);
  pb_put_end(&b, mv);
  CHECK(ckpt_parse(b.data, b.len, &f, err, sizeof err) == TOD_OK && f.n == 1 && f.values[0].ndim == 2 &&
        f.values[0].dims[1] == 3);
  if (f.values) ckpt_file_free(&f);
  pb_buf_free(&b);
}

int main(void) {
  test_round_trip();
  test_refusals();
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("all checks passed\n");
  return 0;
}
