/* .ms writer and reader: IR -> .ms -> IR round trips, weight alignment, the real MindSpore Lite
 * fixtures, writer error paths, and corrupted buffers (truncation, random byte flips) that must
 * fail cleanly or succeed, never read out of range (run under ASan). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flatbuf/fb_builder.h"
#include "flatbuf/fb_reader.h"
#include "flatbuf/ms_ops_schema.h"
#include "format/file_io.h"
#include "format/ms_read.h"
#include "format/ms_write.h"
#include "ir/ir.h"
#include "ir/ir_op.h"
#include "ms_sample.h"

static int failures;
#define CHECK(cond)                                                    \
  do {                                                                 \
    if (!(cond)) {                                                     \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                      \
    }                                                                  \
  } while (0)

static const char *shared_dir(void) {
  const char *s = getenv("TOD_SHARED");
  return s && *s ? s : "/work/shared";
}

static int same_str(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

static int attrs_equal(const ir_attr *a, const ir_attr *b) {
  if (strcmp(a->key, b->key) || a->type != b->type) return 0;
  switch (a->type) {
    case IR_ATTR_INT: return a->i == b->i;
    case IR_ATTR_FLOAT: return (float)a->f == (float)b->f; /* stored as float32 */
    case IR_ATTR_INTS:
      return a->n == b->n && (!a->n || !memcmp(a->ints, b->ints, sizeof(int64_t) * (size_t)a->n));
    case IR_ATTR_INTS2D:
      return a->n == b->n && a->cols == b->cols &&
             (!a->n || !a->cols || !memcmp(a->ints, b->ints, sizeof(int64_t) * (size_t)(a->n * a->cols)));
    case IR_ATTR_FLOATS:
      return a->n == b->n && (!a->n || !memcmp(a->floats, b->floats, sizeof(float) * (size_t)a->n));
    case IR_ATTR_STRING: return same_str(a->s, b->s);
  }
  return 0;
}

/* Compares two graphs field by field; version_expected overrides a's version. */
static void compare_graphs(const ir_graph *a, const ir_graph *b, const char *version_expected) {
  CHECK(same_str(a->name, b->name));
  CHECK(same_str(version_expected ? version_expected : a->version, b->version));
  CHECK(a->fmk_type == b->fmk_type);
  CHECK(a->n_inputs == b->n_inputs && a->n_outputs == b->n_outputs);
  if (a->n_inputs == b->n_inputs)
    for (int i = 0; i < a->n_inputs; i++) CHECK(a->inputs[i] == b->inputs[i]);
  if (a->n_outputs == b->n_outputs)
    for (int i = 0; i < a->n_outputs; i++) CHECK(a->outputs[i] == b->outputs[i]);
  CHECK(a->n_tensors == b->n_tensors);
  for (int i = 0; i < a->n_tensors && i < b->n_tensors; i++) {
    const ir_tensor *x = &a->tensors[i], *y = &b->tensors[i];
    CHECK(same_str(x->name, y->name));
    CHECK(x->dtype == y->dtype);
    CHECK(x->format == y->format);
    CHECK(x->kind == y->kind);
    /* .ms has no "unknown rank": it comes back as a scalar */
    CHECK(x->ndim == y->ndim || (x->ndim == -1 && y->ndim == 0));
    for (int d = 0; d < x->ndim && d < y->ndim; d++) CHECK(x->dims[d] == y->dims[d]);
    CHECK(x->nbytes == y->nbytes);
    if (x->nbytes == y->nbytes && x->nbytes) CHECK(memcmp(x->data, y->data, x->nbytes) == 0);
    CHECK(x->n_quant == y->n_quant);
    for (int q = 0; q < x->n_quant && q < y->n_quant; q++) {
      CHECK(x->quant[q].scale == y->quant[q].scale);
      CHECK(x->quant[q].zero_point == y->quant[q].zero_point);
      CHECK(x->quant[q].min == y->quant[q].min);
      CHECK(x->quant[q].max == y->quant[q].max);
      CHECK(x->quant[q].num_bits == y->quant[q].num_bits);
      CHECK(!x->quant[q].inited == !y->quant[q].inited);
    }
    CHECK(x->n_clusters == y->n_clusters);
    if (x->n_clusters == y->n_clusters && x->n_clusters)
      CHECK(!memcmp(x->clusters, y->clusters, sizeof(float) * (size_t)x->n_clusters));
    CHECK(x->compress_type == y->compress_type);
  }
  CHECK(a->n_nodes == b->n_nodes);
  for (int i = 0; i < a->n_nodes && i < b->n_nodes; i++) {
    const ir_node *x = &a->nodes[i], *y = &b->nodes[i];
    CHECK(same_str(x->name, y->name));
    CHECK(x->op == y->op);
    CHECK(x->quant_type == y->quant_type);
    int n_in = x->n_in;
    while (n_in > 0 && x->in[n_in - 1] < 0) n_in--; /* trailing absent inputs are dropped */
    CHECK(n_in == y->n_in);
    for (int j = 0; j < n_in && j < y->n_in; j++) CHECK(x->in[j] == y->in[j]);
    CHECK(x->n_out == y->n_out);
    for (int j = 0; j < x->n_out && j < y->n_out; j++) CHECK(x->out[j] == y->out[j]);
    CHECK(x->n_attrs == y->n_attrs);
    for (int k = 0; k < x->n_attrs; k++) {
      const ir_attr *ya = ir_attr_find(y, x->attrs[k].key);
      CHECK(ya != NULL);
      if (ya && !attrs_equal(&x->attrs[k], ya)) {
        fprintf(stderr, "  node %s attr %s differs\n", x->name, x->attrs[k].key);
        failures++;
      }
    }
  }
}

/* Every constant borrowed from buf must start 64-byte aligned from the buffer start. */
static void check_alignment(const ir_graph *g, const uint8_t *buf, size_t len, int expect_borrow) {
  for (int i = 0; i < g->n_tensors; i++) {
    const ir_tensor *t = &g->tensors[i];
    if (t->kind != IR_TENSOR_CONST) continue;
    const uint8_t *p = t->data;
    int inside = p >= buf && p <= buf + len;
    if (expect_borrow) CHECK(inside && t->owned == NULL);
    if (inside) CHECK((size_t)(p - buf) % 64 == 0);
  }
}

static void test_sample_roundtrip(void) {
  ir_graph g, r;
  ir_graph_init(&g);
  CHECK(ms_sample_build(&g) == 0);
  uint8_t *buf;
  size_t len;
  char err[256];
  tod_status st = ms_serialize(&g, &buf, &len, err, sizeof err);
  CHECK(st == TOD_OK);
  if (st) {
    fprintf(stderr, "serialize: %s\n", err);
    ir_graph_free(&g);
    return;
  }
  CHECK(len % 64 == 0);
  CHECK(memcmp(buf + 4, "MSL2", 4) == 0);
  st = ms_read(buf, len, &r, err, sizeof err);
  CHECK(st == TOD_OK);
  if (st) fprintf(stderr, "read: %s\n", err);
  compare_graphs(&g, &r, MS_WRITE_DEFAULT_VERSION);
  check_alignment(&r, buf, len, 1);
  /* attributes equal to the schema default were stored too */
  CHECK(ir_attr_find(&r.nodes[1], "padding_mode") != NULL);
  CHECK(ir_attr_int(&r.nodes[7], "top_k", 0) == 1);
  CHECK(r.nodes[3].n_in == 2);
  CHECK(r.tensors[10].ndim == 0 && r.tensors[14].ndim == 0);

  /* the writer is a fixed point after one round trip (the first turns unknown ranks into
   * scalars): serialize(read(x)) == x */
  uint8_t *buf2, *buf3;
  size_t len2, len3;
  ir_graph r1;
  CHECK(ms_serialize(&r, &buf2, &len2, err, sizeof err) == TOD_OK);
  CHECK(ms_read(buf2, len2, &r1, err, sizeof err) == TOD_OK);
  CHECK(ms_serialize(&r1, &buf3, &len3, err, sizeof err) == TOD_OK);
  CHECK(len2 == len3 && memcmp(buf2, buf3, len2) == 0);
  ir_graph_free(&r1);
  free(buf2);
  free(buf3);

  /* a buffer at an odd address: verification is relative to the buffer start, so it still
   * reads, but float weights are then misaligned for their dtype and must be copied */
  uint8_t *odd = malloc(len + 1);
  memcpy(odd + 1, buf, len);
  ir_graph r2;
  CHECK(ms_read(odd + 1, len, &r2, err, sizeof err) == TOD_OK);
  CHECK(r2.tensors[1].owned != NULL);              /* float32 weights: copied */
  CHECK(r2.tensors[6].owned == NULL);              /* int8: borrowed */
  compare_graphs(&g, &r2, MS_WRITE_DEFAULT_VERSION);
  ir_graph_free(&r2);
  free(odd);

  /* file write + map back */
  const char *tmpdir = getenv("TMPDIR");
  char path[512];
  snprintf(path, sizeof path, "%s/test_ms_roundtrip_%d.ms", tmpdir && *tmpdir ? tmpdir : "/tmp", (int)getpid());
  CHECK(ms_write_file(&g, path, err, sizeof err) == TOD_OK);
  tod_mapped_file m;
  CHECK(tod_map_file(path, &m, err, sizeof err) == TOD_OK);
  CHECK(m.size == len && memcmp(m.data, buf, len) == 0);
  ir_graph r3;
  CHECK(ms_read(m.data, m.size, &r3, err, sizeof err) == TOD_OK);
  check_alignment(&r3, m.data, m.size, 1);
  ir_graph_free(&r3);
  tod_unmap_file(&m);
  remove(path);

  ir_graph_free(&r);
  free(buf);
  ir_graph_free(&g);
}

static void test_writer_errors(void) {
  ir_graph g;
  uint8_t *buf;
  size_t len;
  char err[256];
  ir_graph_init(&g);
  CHECK(ms_sample_build(&g) == 0);
  /* unknown attribute key */
  CHECK(ir_attr_set_int(&g.nodes[0], "bogus", 1) == TOD_OK);
  CHECK(ms_serialize(&g, &buf, &len, err, sizeof err) == TOD_INVALID_OP_ATTR);
  CHECK(strstr(err, "bogus") != NULL);
  CHECK(buf == NULL);
  ir_attr_remove(&g.nodes[0], "bogus");
  /* wrong kind: a float in a [long] field */
  CHECK(ir_attr_set_float(&g.nodes[0], "kernel_size", 3.0) == TOD_OK);
  CHECK(ms_serialize(&g, &buf, &len, err, sizeof err) == TOD_INVALID_OP_ATTR);
  CHECK(strstr(err, "kernel_size") != NULL);
  int64_t k[] = {3, 3};
  ir_attr_set_ints(&g.nodes[0], "kernel_size", k, 2);
  /* byte field out of range */
  ir_attr_set_int(&g.nodes[0], "pad_mode", 300);
  CHECK(ms_serialize(&g, &buf, &len, err, sizeof err) == TOD_INVALID_OP_ATTR);
  ir_attr_set_int(&g.nodes[0], "pad_mode", 2);
  /* absent input in the middle */
  g.nodes[0].in[1] = -1;
  CHECK(ms_serialize(&g, &buf, &len, err, sizeof err) == TOD_NOT_SUPPORT);
  g.nodes[0].in[1] = 1;
  /* bad tensor index */
  g.nodes[0].out[0] = 999;
  CHECK(ms_serialize(&g, &buf, &len, err, sizeof err) == TOD_GRAPH_FILE_ERR);
  g.nodes[0].out[0] = 3;
  CHECK(ms_serialize(&g, &buf, &len, err, sizeof err) == TOD_OK);
  free(buf);
  ir_graph_free(&g);
}

typedef struct {
  const char *file;
  int nodes, tensors, n_in, n_out, consts;
  const char *version;
  const char *in0;
  int in0_dims[4];
  int adam;
} fixture_facts;

static int count_op(const ir_graph *g, int op) {
  int c = 0;
  for (int i = 0; i < g->n_nodes; i++) c += g->nodes[i].op == op;
  return c;
}

static uint8_t *load_fixture(const char *name, size_t *len) {
  char path[1024];
  snprintf(path, sizeof path, "%s/fixtures/mindspore/%s", shared_dir(), name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cannot open %s\n", path);
    failures++;
    return NULL;
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc((size_t)n);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static void test_fixtures(void) {
  static const fixture_facts facts[] = {
    {"lenet_tod_infer.ms", 13, 27, 1, 1, 10, "MindSpore Lite 1.5.0", "inputs0", {2, 32, 32, 1}, 0},
    {"lenet_tod.ms", 49, 112, 2, 9, 61, "MindSpore Lite 1.2.0", "inputs0", {32, 32, 32, 1}, 8},
    {"lenet_train.ms", 51, 116, 2, 9, 63, "MindSpore Lite 1.2.0", "inputs0", {2, 32, 32, 1}, 8},
  };
  for (size_t f = 0; f < sizeof facts / sizeof facts[0]; f++) {
    const fixture_facts *ff = &facts[f];
    size_t len;
    uint8_t *buf = load_fixture(ff->file, &len);
    if (!buf) continue;
    ir_graph g;
    char err[256];
    tod_status st = ms_read(buf, len, &g, err, sizeof err);
    CHECK(st == TOD_OK);
    if (st) {
      fprintf(stderr, "%s: %s\n", ff->file, err);
      free(buf);
      continue;
    }
    CHECK(g.n_nodes == ff->nodes);
    CHECK(g.n_tensors == ff->tensors);
    CHECK(g.n_inputs == ff->n_in && g.n_outputs == ff->n_out);
    CHECK(same_str(g.version, ff->version));
    CHECK(g.fmk_type == 3);
    int consts = 0;
    for (int i = 0; i < g.n_tensors; i++) consts += g.tensors[i].kind == IR_TENSOR_CONST;
    CHECK(consts == ff->consts);
    const ir_tensor *in0 = &g.tensors[g.inputs[0]];
    CHECK(same_str(in0->name, ff->in0));
    CHECK(in0->kind == IR_TENSOR_INPUT && in0->ndim == 4 && in0->dtype == IR_DT_FLOAT32);
    for (int d = 0; d < 4; d++) CHECK(in0->dims[d] == ff->in0_dims[d]);
    CHECK(count_op(&g, IR_OP_Conv2DFusion) == 2);
    CHECK(count_op(&g, IR_OP_MaxPoolFusion) == 2);
    CHECK(count_op(&g, IR_OP_Adam) == ff->adam);
    /* the first conv: kernel 5x5, 6 output channels, KHWC-shaped weight [6,5,5,1] */
    for (int i = 0; i < g.n_nodes; i++) {
      const ir_node *n = &g.nodes[i];
      if (n->op != IR_OP_Conv2DFusion || ir_attr_int(n, "out_channel", 0) != 6) continue;
      const int64_t *ks;
      CHECK(ir_attr_ints(n, "kernel_size", &ks) == 2 && ks[0] == 5 && ks[1] == 5);
      const ir_tensor *w = &g.tensors[n->in[1]];
      CHECK(w->kind == IR_TENSOR_CONST && w->nbytes == 600 && w->dims[0] == 6 && w->dims[3] == 1);
      CHECK(same_str(w->name, "conv1.weight"));
      CHECK((const uint8_t *)w->data >= buf && (const uint8_t *)w->data < buf + len);
    }
    if (f == 0) {
      const ir_tensor *out = &g.tensors[g.outputs[0]];
      CHECK(out->ndim == 2 && out->dims[0] == 2 && out->dims[1] == 10);
      CHECK(count_op(&g, IR_OP_Activation) == 4 && count_op(&g, IR_OP_MatMulFusion) == 3);
      int qw = 0;
      for (int i = 0; i < g.n_nodes; i++) qw += g.nodes[i].quant_type == 4;
      CHECK(qw == 7);
    } else {
      CHECK(same_str(g.tensors[g.inputs[1]].name, "inputs1"));
      CHECK(g.tensors[g.inputs[1]].dtype == (f == 1 ? IR_DT_INT32 : IR_DT_FLOAT32));
      /* learning_rate: scalar constant */
      int found = 0;
      for (int i = 0; i < g.n_tensors; i++) {
        const ir_tensor *t = &g.tensors[i];
        if (!same_str(t->name, "learning_rate")) continue;
        found = 1;
        float lr;
        CHECK(t->ndim == 0 && t->nbytes == 4);
        memcpy(&lr, t->data, 4);
        CHECK(fabsf(lr - (f == 1 ? 0.01f : 0.001f)) < 1e-9f);
      }
      CHECK(found);
    }
    /* the real file survives our writer: re-serialize, read back, compare */
    uint8_t *out;
    size_t out_len;
    st = ms_serialize(&g, &out, &out_len, err, sizeof err);
    CHECK(st == TOD_OK);
    if (!st) {
      ir_graph r;
      CHECK(ms_read(out, out_len, &r, err, sizeof err) == TOD_OK);
      compare_graphs(&g, &r, NULL);
      check_alignment(&r, out, out_len, 1);
      ir_graph_free(&r);
      free(out);
    } else {
      fprintf(stderr, "%s re-serialize: %s\n", ff->file, err);
    }
    ir_graph_free(&g);
    free(buf);
  }
}

static uint32_t rng_state = 12345;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

/* Reads a corrupted copy; only the absence of crashes (ASan) and a sane result matter. */
static int try_read(const uint8_t *buf, size_t len) {
  ir_graph g;
  char err[256];
  tod_status st = ms_read(buf, len, &g, err, sizeof err);
  if (st == TOD_OK) {
    char msg[256];
    CHECK(ir_validate(&g, msg, sizeof msg) == TOD_OK);
    /* touch every borrowed byte so ASan sees an out-of-range pointer */
    volatile uint8_t sink = 0;
    for (int i = 0; i < g.n_tensors; i++)
      for (size_t k = 0; k < g.tensors[i].nbytes; k++) sink ^= ((const uint8_t *)g.tensors[i].data)[k];
    (void)sink;
  } else {
    CHECK(g.n_tensors == 0 && g.n_nodes == 0 && g.name == NULL);
    CHECK(err[0] != 0);
  }
  ir_graph_free(&g);
  return st == TOD_OK;
}

static void test_corruption(void) {
  ir_graph g;
  uint8_t *buf;
  size_t len;
  char err[256];
  ir_graph_init(&g);
  CHECK(ms_sample_build(&g) == 0);
  CHECK(ms_serialize(&g, &buf, &len, err, sizeof err) == TOD_OK);
  ir_graph_free(&g);
  /* every truncation: exact-size copies so ASan catches any over-read */
  for (size_t n = 0; n < len; n++) {
    uint8_t *cut = malloc(n ? n : 1);
    memcpy(cut, buf, n);
    CHECK(!try_read(cut, n));
    free(cut);
  }
  CHECK(try_read(buf, len));
  /* wrong identifier */
  uint8_t *copy = malloc(len);
  memcpy(copy, buf, len);
  memcpy(copy + 4, "TFL3", 4);
  CHECK(ms_read(copy, len, &g, err, sizeof err) == TOD_GRAPH_FILE_ERR && strstr(err, "TFL3"));
  /* random flips in the sample */
  for (int m = 0; m < 2000; m++) {
    memcpy(copy, buf, len);
    int flips = 1 + (int)(rnd() % 4);
    for (int k = 0; k < flips; k++) copy[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
    try_read(copy, len);
  }
  free(copy);
  free(buf);

  /* random mutations of a real file: bytes, and 32-bit values that look like offsets */
  size_t flen;
  uint8_t *fx = load_fixture("lenet_tod_infer.ms", &flen);
  if (!fx) return;
  uint8_t *mut = malloc(flen);
  int ok = 0;
  for (int m = 0; m < 2000; m++) {
    memcpy(mut, fx, flen);
    /* most of the file is weights: aim half the mutations at the metadata after them */
    size_t lo = (m & 1) ? 0 : flen - flen / 8;
    int flips = 1 + (int)(rnd() % 4);
    for (int k = 0; k < flips; k++) {
      size_t at = lo + rnd() % (flen - lo);
      if (rnd() % 4 == 0 && at + 4 <= flen) {
        uint32_t v = rnd() % (uint32_t)(flen + 64);
        memcpy(mut + at, &v, 4);
      } else {
        mut[at] = (uint8_t)rnd();
      }
    }
    ok += try_read(mut, flen);
  }
  /* truncations of the real file near its start and end */
  for (size_t n = 0; n < 4096 && n < flen; n += 7) {
    uint8_t *cut = malloc(n ? n : 1);
    memcpy(cut, fx, n);
    CHECK(!try_read(cut, n));
    free(cut);
  }
  fprintf(stderr, "fixture mutations: %d of 2000 still read\n", ok);
  free(mut);
  free(fx);
}

/* Builder details the .ms writer does not reach: shared vtables, empty tables, big alignment. */
static void test_builder_reader(void) {
  fb_builder b;
  fb_builder_init(&b, 0);
  uint8_t bytes[5] = {1, 2, 3, 4, 5};
  fb_off v = fb_create_vector_aligned(&b, bytes, 5, 128);
  fb_start_table(&b);
  fb_add_i32(&b, 0, 7, 0);
  fb_off t1 = fb_end_table(&b);
  fb_start_table(&b);
  fb_add_i32(&b, 0, 9, 0); /* same vtable as t1: shared */
  fb_off t2 = fb_end_table(&b);
  fb_start_table(&b);
  fb_off empty = fb_end_table(&b);
  fb_off list[3] = {t1, t2, empty};
  fb_off vec = fb_create_vector_offsets(&b, list, 3);
  fb_start_table(&b);
  fb_add_offset(&b, 0, vec);
  fb_add_offset(&b, 2, v);
  fb_add_i64(&b, 3, -5, 0);
  fb_add_i8(&b, 4, 3, 3); /* default: omitted */
  fb_off root = fb_end_table(&b);
  uint8_t *buf;
  size_t len;
  char err[128];
  CHECK(fb_builder_finish(&b, root, "TEST", &buf, &len, err, sizeof err) == TOD_OK);
  CHECK(len % 128 == 0);
  fb_reader r;
  fb_table rt, t;
  fb_vec fv;
  CHECK(fb_reader_init(&r, buf, len, "TEST", &rt, err, sizeof err) == TOD_OK);
  CHECK(!fb_has_field(&r, &rt, 4) && !fb_has_field(&r, &rt, 1) && fb_has_field(&r, &rt, 3));
  int64_t i64;
  int8_t i8;
  CHECK(fb_read_i64(&r, &rt, 3, 0, &i64) == TOD_OK && i64 == -5);
  CHECK(fb_read_i8(&r, &rt, 4, 3, &i8) == TOD_OK && i8 == 3);
  int present;
  CHECK(fb_read_vec(&r, &rt, 2, 1, &fv, &present) == TOD_OK && present && fv.len == 5);
  CHECK(fv.pos % 128 == 0 && memcmp(fb_vec_bytes(&r, &fv), bytes, 5) == 0);
  CHECK(fb_read_vec(&r, &rt, 0, 4, &fv, &present) == TOD_OK && fv.len == 3);
  int32_t x;
  CHECK(fb_vec_table(&r, &fv, 0, &t) == TOD_OK && fb_read_i32(&r, &t, 0, 0, &x) == TOD_OK && x == 7);
  uint32_t vt1 = t.vt;
  CHECK(fb_vec_table(&r, &fv, 1, &t) == TOD_OK && fb_read_i32(&r, &t, 0, 0, &x) == TOD_OK && x == 9);
  CHECK(t.vt == vt1);
  CHECK(fb_vec_table(&r, &fv, 2, &t) == TOD_OK && !fb_has_field(&r, &t, 0));
  CHECK(fb_vec_table(&r, &fv, 3, &t) != TOD_OK);
  free(buf);

  /* a table that refers to itself through a vector: the depth limit stops the walk */
  fb_builder_init(&b, 0);
  fb_start_table(&b);
  fb_off leaf = fb_end_table(&b);
  fb_off one = fb_create_vector_offsets(&b, &leaf, 1);
  fb_start_table(&b);
  fb_add_offset(&b, 0, one);
  root = fb_end_table(&b);
  CHECK(fb_builder_finish(&b, root, NULL, &buf, &len, err, sizeof err) == TOD_OK);
  /* rewrite the vector's single element to point back at the root table: a cycle */
  CHECK(fb_reader_init(&r, buf, len, NULL, &rt, err, sizeof err) == TOD_OK);
  CHECK(fb_read_vec(&r, &rt, 0, 4, &fv, NULL) == TOD_OK && fv.len == 1);
  /* uoffsets only point forward, so a cycle cannot be encoded: the reader rejects backward
   * targets by construction (unsigned). Check a backward-looking value wraps to out of range. */
  uint32_t back = (uint32_t)(0u - (fv.pos - rt.pos));
  memcpy(buf + fv.pos, &back, 4);
  CHECK(fb_vec_table(&r, &fv, 0, &t) != TOD_OK);
  free(buf);
}

int main(void) {
  test_builder_reader();
  test_sample_roundtrip();
  test_writer_errors();
  test_fixtures();
  test_corruption();
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("test_ms_roundtrip: all passed\n");
  return 0;
}
