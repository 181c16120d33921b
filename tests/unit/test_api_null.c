/* test_api_null_arguments: every public function of include/tod/ given NULL where a pointer is
 * expected returns TOD_NULL_PTR (an index out of range: TOD_OUT_OF_TENSOR_RANGE) when it returns
 * a status, a neutral value when it is a getter, and does nothing when it returns nothing; none
 * crashes, and the model still trains afterwards. Run under AddressSanitizer in CI. The models are MindSpore Lite's own LeNet files
 * from the shared fixtures (TOD_SHARED). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tod/convert.h"
#include "tod/tod.h"

static int failures;

#define EXPECT(cond)                                        \
  do {                                                      \
    if (!(cond)) {                                          \
      printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                           \
    }                                                       \
  } while (0)

static void count_op(const char *op, int count, void *ctx) {
  (void)op;
  *(int *)ctx += count;
}

static size_t info_bytes(const tod_tensor_info *t) {
  size_t es = t->dtype == TOD_DT_INT64 || t->dtype == TOD_DT_FLOAT64 ? 8
              : t->dtype == TOD_DT_INT16 || t->dtype == TOD_DT_FLOAT16 ? 2
              : t->dtype == TOD_DT_BOOL || t->dtype == TOD_DT_INT8 || t->dtype == TOD_DT_UINT8 ? 1
                                                                                              : 4;
  size_t n = es;
  for (int d = 0; d < t->ndim; d++) n *= (size_t)t->dims[d];
  return n;
}

static void check_model_api(const char *path) {
  char err[256];
  tod_model *m = NULL;
  EXPECT(tod_model_load(NULL, NULL, &m, err, sizeof err) == TOD_NULL_PTR && m == NULL);
  EXPECT(tod_model_load(path, NULL, NULL, err, sizeof err) == TOD_NULL_PTR);
  EXPECT(tod_model_load(path, NULL, NULL, NULL, 0) == TOD_NULL_PTR);
  EXPECT(tod_model_load_buffer(NULL, 16, NULL, &m, err, sizeof err) == TOD_NULL_PTR && m == NULL);
  EXPECT(tod_model_load_buffer("x", 1, NULL, NULL, NULL, 0) == TOD_NULL_PTR);
  tod_model_free(NULL);
  EXPECT(tod_model_error(NULL) != NULL);
  EXPECT(tod_model_num_inputs(NULL) == -1 && tod_model_num_outputs(NULL) == -1);
  tod_tensor_info info;
  EXPECT(tod_model_input_info(NULL, 0, &info) == TOD_NULL_PTR);
  EXPECT(tod_model_output_info(NULL, 0, &info) == TOD_NULL_PTR);
  EXPECT(tod_model_resize(NULL, NULL, NULL) == TOD_NULL_PTR);
  EXPECT(tod_model_set_input(NULL, 0, "x", 1) == TOD_NULL_PTR);
  EXPECT(tod_model_run(NULL) == TOD_NULL_PTR);
  tod_model_set_node_timer(NULL, NULL, NULL);
  const void *data = NULL;
  size_t nbytes = 0;
  EXPECT(tod_model_output(NULL, 0, &data, &nbytes) == TOD_NULL_PTR);
  tod_model_stats st;
  EXPECT(tod_model_stats_get(NULL, &st) == TOD_NULL_PTR);
  tod_model_op_counts(NULL, count_op, NULL);
  EXPECT(tod_model_is_trainable(NULL) == 0 && tod_model_is_train(NULL) == 0);
  EXPECT(tod_model_set_train(NULL, 1) == TOD_NULL_PTR);
  EXPECT(tod_model_train_step(NULL, NULL) == TOD_NULL_PTR);
  EXPECT(tod_model_set_virtual_batch(NULL, 2) == TOD_NULL_PTR);
  EXPECT(tod_model_set_lr(NULL, 0.1f) == TOD_NULL_PTR);
  EXPECT(tod_model_get_lr(NULL) == 0.0f);
  EXPECT(tod_lr_at(NULL, 3) == 0.0f);
  EXPECT(tod_model_label_input(NULL) == -1);
  EXPECT(tod_model_export(NULL, "/nonexistent/x.ms", 0) == TOD_NULL_PTR);
  EXPECT(tod_model_export_as(NULL, "/nonexistent/x.onnx", TOD_FORMAT_ONNX, 1) == TOD_NULL_PTR);
  EXPECT(tod_model_save_checkpoint(NULL, "/nonexistent/x.ckpt", 1) == TOD_NULL_PTR);
  EXPECT(tod_model_load_checkpoint(NULL, "/nonexistent/x.ckpt", NULL) == TOD_NULL_PTR);

  /* A loaded training model, NULL in every other pointer argument. */
  tod_status s = tod_model_load(path, NULL, &m, err, sizeof err);
  EXPECT(s == TOD_OK && m != NULL);
  if (s != TOD_OK || !m) {
    printf("cannot load %s: %s\n", path, err);
    return;
  }
  EXPECT(tod_model_input_info(m, 0, NULL) == TOD_NULL_PTR);
  EXPECT(tod_model_input_info(m, -1, &info) == TOD_OUT_OF_TENSOR_RANGE);
  EXPECT(tod_model_input_info(m, 1 << 20, &info) == TOD_OUT_OF_TENSOR_RANGE);
  EXPECT(tod_model_output_info(m, 0, NULL) == TOD_NULL_PTR);
  EXPECT(tod_model_output_info(m, 1 << 20, &info) == TOD_OUT_OF_TENSOR_RANGE);
  EXPECT(tod_model_resize(m, NULL, NULL) == TOD_NULL_PTR);
  EXPECT(tod_model_set_input(m, 0, NULL, 16) == TOD_NULL_PTR);
  EXPECT(tod_model_set_input(m, -1, "x", 1) == TOD_OUT_OF_TENSOR_RANGE);
  EXPECT(tod_model_output(m, 0, NULL, NULL) == TOD_NULL_PTR);
  EXPECT(tod_model_output(m, 1 << 20, &data, &nbytes) == TOD_OUT_OF_TENSOR_RANGE);
  EXPECT(tod_model_stats_get(m, NULL) == TOD_NULL_PTR);
  tod_model_op_counts(m, NULL, NULL);
  int ops = 0;
  tod_model_op_counts(m, count_op, &ops);
  EXPECT(ops > 0);
  EXPECT(tod_model_export(m, NULL, 0) == TOD_NULL_PTR);
  EXPECT(tod_model_export_as(m, NULL, TOD_FORMAT_ONNX, 1) == TOD_NULL_PTR);
  EXPECT(tod_model_save_checkpoint(m, NULL, 1) == TOD_NULL_PTR);
  EXPECT(tod_model_load_checkpoint(m, NULL, NULL) == TOD_NULL_PTR);

  /* Checkpointers. */
  tod_checkpoint_config_default(NULL);
  tod_checkpoint_config cfg;
  tod_checkpoint_config_default(&cfg);
  EXPECT(tod_checkpointer_create(&cfg, 0, NULL, err, sizeof err) == TOD_NULL_PTR);
  tod_checkpointer_free(NULL);
  EXPECT(tod_checkpointer_step_end(NULL, m, 1) == TOD_NULL_PTR);
  EXPECT(tod_checkpointer_train_end(NULL, m, 1) == TOD_NULL_PTR);
  EXPECT(tod_checkpointer_save(NULL, m, 1) == TOD_NULL_PTR);
  EXPECT(tod_checkpointer_prefix(NULL) != NULL && tod_checkpointer_last_path(NULL) != NULL &&
         tod_checkpointer_error(NULL) != NULL);
  /* The model still runs after all of that: a training step on zeros gives a finite loss. */
  EXPECT(tod_model_is_trainable(m) == 1);
  for (int i = 0; i < tod_model_num_inputs(m); i++) {
    tod_model_input_info(m, i, &info);
    size_t n = info_bytes(&info);
    void *z = calloc(1, n ? n : 1);
    EXPECT(z && tod_model_set_input(m, i, z, n) == TOD_OK);
    free(z);
  }
  float loss = -1.0f;
  EXPECT(tod_model_train_step(m, &loss) == TOD_OK && loss >= 0.0f && loss < 1e6f);
  EXPECT(tod_model_train_step(m, NULL) == TOD_OK);
  tod_model_free(m);
}

static void check_convert_api(void) {
  char err[256];
  tod_convert_options_init(NULL);
  EXPECT(tod_convert(NULL, err, sizeof err) == TOD_NULL_PTR);
  tod_convert_options o;
  tod_convert_options_init(&o);
  EXPECT(tod_convert(&o, err, sizeof err) == TOD_NULL_PTR && strstr(err, "model") != NULL); /* no files */
  EXPECT(tod_convert(&o, NULL, 0) == TOD_NULL_PTR);
  EXPECT(tod_status_name(TOD_PARAM_INVALID) != NULL && tod_status_name((tod_status)12345) != NULL);
}

int main(void) {
  const char *shared = getenv("TOD_SHARED");
  char path[4096];
  snprintf(path, sizeof path, "%s/fixtures/mindspore/lenet_train.ms", shared ? shared : "../shared");
  check_model_api(path);
  check_convert_api();
  if (failures) {
    printf("%d failure(s)\n", failures);
    return 1;
  }
  printf("ok: public API rejects NULL arguments\n");
  return 0;
}
