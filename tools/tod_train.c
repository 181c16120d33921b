/* `tod train` and `tod eval`: training and evaluation loops over NumPy arrays.
 *   tod train MODEL.ms --input X.npy --label Y.npy [--batch N] [--epochs E | --steps S]
 *             [--no-shuffle] [--seed K] [--lr F] [--lr-schedule step:S:G|exp:G|cos:MIN]
 *             [--virtual-batch N] [--loss-log L.npy] [--save OUT.ms] [--inference-only]
 *             [--numThreads N] [--save-checkpoint-steps N] [--save-checkpoint-seconds S]
 *             [--keep-checkpoint-max K] [--keep-checkpoint-per-n-minutes M] [--prefix P]
 *             [--directory D] [--resume CKPT] [--max-memory SIZE]
 *   tod eval MODEL.ms --input X.npy --label Y.npy [--batch N] [--numThreads N]
 */
#include "tod_train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "format/npy.h"
#include "tod/tod.h"

static int die(tod_status st, const char *msg) {
  fprintf(stderr, "tod: error %d (%s): %s\n", st, tod_status_name(st), msg);
  return 1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t dt_size(int dt) {
  switch (dt) {
    case TOD_DT_FLOAT64:
    case TOD_DT_INT64: return 8;
    case TOD_DT_FLOAT32:
    case TOD_DT_INT32: return 4;
    case TOD_DT_FLOAT16:
    case TOD_DT_INT16: return 2;
    default: return 1;
  }
}

typedef struct {
  const char *model, *input, *label, *loss_log, *save, *schedule;
  int batch, epochs, steps, shuffle, threads, inference_only, vbatch;
  unsigned long long seed;
  float lr;
  int has_lr;
  /* checkpoints (seed 003's CheckpointConfig; on when any of these is given) */
  tod_checkpoint_config ck;
  int ck_on;
  const char *resume;
  size_t max_memory; /* --max-memory (0: no limit) */
} train_args;

/* TOD_TEST_CKPT_CLOCK=S: the checkpoint clock reads S seconds per finished step, so tests drive
 * the time policies without sleeping. */
static double fake_clock(void *ctx) { return *(const double *)ctx; }
static double fake_now;

int tod_parse_bytes(const char *s, size_t *out) {
  char *end;
  if (!s || *s < '0' || *s > '9') return -1;
  unsigned long long v = strtoull(s, &end, 10);
  unsigned long long mul = 1;
  if (*end == 'K' || *end == 'k') mul = 1ULL << 10, end++;
  else if (*end == 'M' || *end == 'm') mul = 1ULL << 20, end++;
  else if (*end == 'G' || *end == 'g') mul = 1ULL << 30, end++;
  if (mul > 1 && (*end == 'B' || *end == 'b')) end++;
  else if (mul == 1 && (*end == 'B' || *end == 'b')) end++;
  if (*end || v > (unsigned long long)SIZE_MAX / mul) return -1;
  *out = (size_t)(v * mul);
  return 0;
}

static int parse_nonneg(const char *flag, const char *v, double *out) {
  char *end;
  double x = strtod(v, &end);
  if (end == v || *end || !(x >= 0)) {
    fprintf(stderr, "tod: %s needs a number >= 0, got '%s'\n", flag, v);
    return -1;
  }
  *out = x;
  return 0;
}

/* Bytes of one sample (all dims but the first). */
static size_t row_bytes(const tod_npy *a) {
  size_t n = dt_size(a->dtype);
  for (int d = 1; d < a->ndim; d++) n *= (size_t)a->dims[d];
  return n;
}

/* Copies the samples idx[0..n) of a into buf, converting labels to the model's dtype. */
static int gather(const tod_npy *a, const int *idx, int n, int want_dtype, void *buf) {
  size_t rb = row_bytes(a);
  if (a->dtype == want_dtype) {
    for (int i = 0; i < n; i++) memcpy((char *)buf + (size_t)i * rb, (const char *)a->data + (size_t)idx[i] * rb, rb);
    return 0;
  }
  size_t per = rb / dt_size(a->dtype);
  for (int i = 0; i < n; i++)
    for (size_t k = 0; k < per; k++) {
      size_t s = (size_t)idx[i] * per + k, d = (size_t)i * per + k;
      double v;
      switch (a->dtype) {
        case TOD_DT_INT64: v = (double)((const int64_t *)a->data)[s]; break;
        case TOD_DT_INT32: v = ((const int32_t *)a->data)[s]; break;
        case TOD_DT_UINT8: v = ((const uint8_t *)a->data)[s]; break;
        case TOD_DT_FLOAT32: v = ((const float *)a->data)[s]; break;
        case TOD_DT_FLOAT64: v = ((const double *)a->data)[s]; break;
        default: return -1;
      }
      switch (want_dtype) {
        case TOD_DT_INT32: ((int32_t *)buf)[d] = (int32_t)v; break;
        case TOD_DT_INT64: ((int64_t *)buf)[d] = (int64_t)v; break;
        case TOD_DT_FLOAT32: ((float *)buf)[d] = (float)v; break;
        default: return -1;
      }
    }
  return 0;
}

static uint64_t xorshift(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

/* Resizes the model's data (and label) input to a batch of n. */
static tod_status resize_batch(tod_model *m, int n) {
  int ni = tod_model_num_inputs(m);
  int ndims[16];
  int64_t dims[16][TOD_MAX_DIMS];
  const int64_t *dp[16];
  if (ni > 16) return TOD_NOT_SUPPORT;
  for (int i = 0; i < ni; i++) {
    tod_tensor_info ti;
    tod_model_input_info(m, i, &ti);
    ndims[i] = ti.ndim;
    for (int d = 0; d < ti.ndim; d++) dims[i][d] = ti.dims[d];
    if (ti.ndim > 0) dims[i][0] = n;
    dp[i] = dims[i];
  }
  return tod_model_resize(m, ndims, dp);
}

static int parse_schedule(const char *s, float base, int epochs, tod_lr_schedule *out) {
  memset(out, 0, sizeof *out);
  out->base_lr = base;
  out->total_epochs = epochs;
  if (!s) return 0;
  if (strncmp(s, "step:", 5) == 0) {
    out->kind = TOD_LR_STEP;
    return sscanf(s + 5, "%d:%f", &out->step_size, &out->gamma) == 2 ? 0 : -1;
  }
  if (strncmp(s, "exp:", 4) == 0) {
    out->kind = TOD_LR_EXPONENTIAL;
    return sscanf(s + 4, "%f", &out->gamma) == 1 ? 0 : -1;
  }
  if (strncmp(s, "cos:", 4) == 0) {
    out->kind = TOD_LR_COSINE;
    return sscanf(s + 4, "%f", &out->min_lr) == 1 ? 0 : -1;
  }
  return -1;
}

static int parse_common(int argc, char **argv, train_args *a) {
  memset(a, 0, sizeof *a);
  a->shuffle = 1;
  a->seed = 1;
  a->vbatch = 1;
  tod_checkpoint_config_default(&a->ck);
  a->ck.prefix = NULL;
  for (int i = 2; i < argc; i++) {
    const char *s = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define FLAG(name) (strcmp(s, name) == 0 && v && (i++, 1))
    if (FLAG("--input")) a->input = v;
    else if (FLAG("--label")) a->label = v;
    else if (FLAG("--batch")) a->batch = atoi(v);
    else if (FLAG("--epochs")) a->epochs = atoi(v);
    else if (FLAG("--steps")) a->steps = atoi(v);
    else if (FLAG("--seed")) a->seed = strtoull(v, NULL, 10);
    else if (FLAG("--lr")) a->lr = strtof(v, NULL), a->has_lr = 1;
    else if (FLAG("--lr-schedule")) a->schedule = v;
    else if (FLAG("--virtual-batch")) a->vbatch = atoi(v);
    else if (FLAG("--loss-log")) a->loss_log = v;
    else if (FLAG("--save")) a->save = v;
    else if (FLAG("--numThreads")) a->threads = atoi(v);
    else if (FLAG("--resume")) a->resume = v;
    else if (FLAG("--prefix") || FLAG("--ckpt-prefix")) a->ck.prefix = v, a->ck_on = 1;
    else if (FLAG("--directory") || FLAG("--ckpt-dir")) a->ck.directory = v, a->ck_on = 1;
    else if (FLAG("--save-checkpoint-steps") || FLAG("--save-checkpoint-seconds") || FLAG("--keep-checkpoint-max") ||
             FLAG("--keep-checkpoint-per-n-minutes")) {
      double x;
      if (parse_nonneg(s, v, &x) != 0) return -1;
      if (strcmp(s, "--save-checkpoint-steps") == 0) a->ck.save_checkpoint_steps = (int)x;
      else if (strcmp(s, "--save-checkpoint-seconds") == 0) a->ck.save_checkpoint_seconds = x;
      else if (strcmp(s, "--keep-checkpoint-max") == 0) a->ck.keep_checkpoint_max = (int)x;
      else a->ck.keep_checkpoint_per_n_minutes = x;
      a->ck_on = 1;
    }
    else if (strncmp(s, "--numThreads=", 13) == 0) a->threads = atoi(s + 13);
    else if (strncmp(s, "--max-memory=", 13) == 0 || FLAG("--max-memory")) {
      if (tod_parse_bytes(s[12] == '=' ? s + 13 : v, &a->max_memory) != 0) {
        fprintf(stderr, "tod: --max-memory needs a byte count such as 1048576, 64MB or 2G, got '%s'\n",
                s[12] == '=' ? s + 13 : v);
        return -1;
      }
    }
    else if (strcmp(s, "--no-shuffle") == 0) a->shuffle = 0;
    else if (strcmp(s, "--inference-only") == 0) a->inference_only = 1;
    else if (s[0] != '-' && !a->model) a->model = s;
    else {
      fprintf(stderr, "tod: unexpected argument '%s'\n", s);
      return -1;
    }
#undef FLAG
  }
  if (!a->model || !a->input || !a->label) {
    fprintf(stderr, "tod: MODEL.ms, --input and --label are required\n");
    return -1;
  }
  return 0;
}

typedef struct {
  tod_model *m;
  tod_npy x, y;
  int data_in, label_in;
  tod_tensor_info xi, yi;
  void *xb, *yb;
} loop_ctx;

static int open_loop(loop_ctx *c, const train_args *a, int batch_default_from_model) {
  char err[1024];
  memset(c, 0, sizeof *c);
  tod_options opts = {.num_threads = a->threads, .max_memory = a->max_memory};
  tod_status st = tod_model_load(a->model, &opts, &c->m, err, sizeof err);
  if (st != TOD_OK) return die(st, err);
  if ((st = tod_npy_read(a->input, &c->x, err, sizeof err)) != TOD_OK) return die(st, err);
  if ((st = tod_npy_read(a->label, &c->y, err, sizeof err)) != TOD_OK) return die(st, err);
  if (c->x.ndim < 1 || c->y.ndim < 1 || c->x.dims[0] != c->y.dims[0]) {
    snprintf(err, sizeof err, "--input holds %lld samples, --label %lld", (long long)(c->x.ndim ? c->x.dims[0] : 0),
             (long long)(c->y.ndim ? c->y.dims[0] : 0));
    return die(TOD_INPUT_PARAM_INVALID, err);
  }
  c->label_in = tod_model_label_input(c->m);
  c->data_in = c->label_in == 0 ? 1 : 0;
  (void)batch_default_from_model;
  return 0;
}

static void close_loop(loop_ctx *c) {
  tod_npy_free(&c->x);
  tod_npy_free(&c->y);
  free(c->xb);
  free(c->yb);
  tod_model_free(c->m);
}

/* Sets the batch size and the per-batch buffers. */
static int setup_batch(loop_ctx *c, int batch) {
  tod_status st = resize_batch(c->m, batch);
  if (st != TOD_OK) return die(st, tod_model_error(c->m));
  tod_model_input_info(c->m, c->data_in, &c->xi);
  size_t xb = dt_size(c->xi.dtype);
  for (int d = 0; d < c->xi.ndim; d++) xb *= (size_t)c->xi.dims[d];
  if (c->xi.dtype != c->x.dtype || xb != row_bytes(&c->x) * (size_t)batch) {
    char err[256];
    snprintf(err, sizeof err, "--input samples do not match the model's input %s", c->xi.name);
    return die(TOD_INPUT_TENSOR_ERROR, err);
  }
  free(c->xb);
  free(c->yb);
  c->xb = malloc(xb);
  c->yb = NULL;
  if (!c->xb) return die(TOD_MEMORY_FAILED, "out of memory");
  if (c->label_in >= 0) {
    tod_model_input_info(c->m, c->label_in, &c->yi);
    size_t yb = dt_size(c->yi.dtype);
    for (int d = 0; d < c->yi.ndim; d++) yb *= (size_t)c->yi.dims[d];
    c->yb = malloc(yb ? yb : 1);
    if (!c->yb) return die(TOD_MEMORY_FAILED, "out of memory");
  }
  return 0;
}

static int feed(loop_ctx *c, const int *idx, int batch) {
  size_t xb = row_bytes(&c->x) * (size_t)batch;
  if (gather(&c->x, idx, batch, c->x.dtype, c->xb) != 0) return die(TOD_INPUT_TENSOR_ERROR, "bad input dtype");
  tod_status st = tod_model_set_input(c->m, c->data_in, c->xb, xb);
  if (st != TOD_OK) return die(st, tod_model_error(c->m));
  if (c->label_in >= 0) {
    size_t yb = dt_size(c->yi.dtype);
    for (int d = 0; d < c->yi.ndim; d++) yb *= (size_t)c->yi.dims[d];
    if (row_bytes(&c->y) / dt_size(c->y.dtype) * dt_size(c->yi.dtype) * (size_t)batch != yb)
      return die(TOD_INPUT_TENSOR_ERROR, "--label samples do not match the model's label input");
    if (gather(&c->y, idx, batch, c->yi.dtype, c->yb) != 0)
      return die(TOD_INPUT_TENSOR_ERROR, "labels cannot be converted to the model's label type");
    st = tod_model_set_input(c->m, c->label_in, c->yb, yb);
    if (st != TOD_OK) return die(st, tod_model_error(c->m));
  }
  return 0;
}

int tod_cmd_train(int argc, char **argv) {
  train_args a;
  if (parse_common(argc, argv, &a) != 0) return 2;
  loop_ctx c;
  int rc = 1;
  float *losses = NULL;
  int *order = NULL;
  tod_checkpointer *ckp = NULL;
  char prefix_buf[256];
  int64_t start = 0;
  if (open_loop(&c, &a, 1) != 0) goto out;
  if (!tod_model_is_trainable(c.m)) {
    die(TOD_NOT_SUPPORT, "the model is not a training model (convert it with --trainModel=true)");
    goto out;
  }
  if (a.resume) {
    tod_status st = tod_model_load_checkpoint(c.m, a.resume, &start);
    if (st != TOD_OK) {
      die(st, tod_model_error(c.m));
      goto out;
    }
    printf("resumed from %s at step %lld\n", a.resume, (long long)start);
  }
  int samples = (int)c.x.dims[0];
  tod_tensor_info xi;
  tod_model_input_info(c.m, c.data_in, &xi);
  int batch = a.batch > 0 ? a.batch : (xi.ndim > 0 ? (int)xi.dims[0] : 1);
  if (batch <= 0 || batch > samples) {
    die(TOD_INPUT_PARAM_INVALID, "the batch size must be between 1 and the number of samples");
    goto out;
  }
  if (setup_batch(&c, batch) != 0) goto out;
  int per_epoch = samples / batch;
  int epochs = a.epochs > 0 ? a.epochs : 1;
  int total = a.steps > 0 ? a.steps : per_epoch * epochs;
  if (a.steps > 0) epochs = (total + per_epoch - 1) / per_epoch;
  if (start > total) {
    char msg[256];
    snprintf(msg, sizeof msg, "the checkpoint is at step %lld, past the %d steps of this run", (long long)start, total);
    die(TOD_INPUT_PARAM_INVALID, msg);
    goto out;
  }
  if (a.ck_on) {
    if (!a.ck.prefix) {
      /* Default prefix: the model file's stem. */
      const char *base = strrchr(a.model, '/');
      base = base ? base + 1 : a.model;
      snprintf(prefix_buf, sizeof prefix_buf, "%s", base);
      char *dot = strrchr(prefix_buf, '.');
      if (dot && dot != prefix_buf) *dot = 0;
      a.ck.prefix = prefix_buf;
    }
    a.ck.steps_per_epoch = per_epoch;
    const char *fc = getenv("TOD_TEST_CKPT_CLOCK");
    if (fc && *fc) {
      fake_now = 0;
      a.ck.clock = fake_clock;
      a.ck.clock_ctx = &fake_now;
    }
    char err[512];
    tod_status st = tod_checkpointer_create(&a.ck, start, &ckp, err, sizeof err);
    if (st != TOD_OK) {
      die(st, err);
      goto out;
    }
  }
  if (a.has_lr) tod_model_set_lr(c.m, a.lr);
  tod_lr_schedule sched;
  if (parse_schedule(a.schedule, tod_model_get_lr(c.m), epochs, &sched) != 0) {
    die(TOD_INPUT_PARAM_INVALID, "--lr-schedule must be step:SIZE:GAMMA, exp:GAMMA or cos:MIN_LR");
    goto out;
  }
  if (a.vbatch > 1 && tod_model_set_virtual_batch(c.m, a.vbatch) != TOD_OK) {
    die(TOD_ERROR, tod_model_error(c.m));
    goto out;
  }
  losses = malloc(sizeof(float) * (size_t)(total ? total : 1));
  order = malloc(sizeof(int) * (size_t)samples);
  if (!losses || !order) {
    die(TOD_MEMORY_FAILED, "out of memory");
    goto out;
  }
  uint64_t rng = a.seed * 0x9E3779B97F4A7C15ull + 1;
  int tty = isatty(STDERR_FILENO);
  double t0 = now_s();
  int step = 0;
  double fake_step = getenv("TOD_TEST_CKPT_CLOCK") ? atof(getenv("TOD_TEST_CKPT_CLOCK")) : 0.0;
  for (int e = 0; e < epochs && step < total; e++) {
    if (a.schedule) tod_model_set_lr(c.m, tod_lr_at(&sched, e));
    for (int i = 0; i < samples; i++) order[i] = i;
    if (a.shuffle)
      for (int i = samples - 1; i > 0; i--) {
        int j = (int)(xorshift(&rng) % (uint64_t)(i + 1));
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
    double loss_sum = 0;
    int loss_n = 0;
    for (int b = 0; b < per_epoch && step < total; b++, step++) {
      /* A resumed run replays the data order (and shuffles) up to its checkpoint's step. */
      if (step < start) continue;
      if (feed(&c, order + (size_t)b * batch, batch) != 0) goto out;
      float loss;
      tod_status st = tod_model_train_step(c.m, &loss);
      if (st != TOD_OK) {
        die(st, tod_model_error(c.m));
        goto out;
      }
      losses[step - start] = loss;
      loss_sum += loss;
      loss_n++;
      fake_now += fake_step;
      if (ckp && (st = tod_checkpointer_step_end(ckp, c.m, step + 1)) != TOD_OK) {
        die(st, tod_checkpointer_error(ckp));
        goto out;
      }
      if (tty && (b % 10 == 0 || b + 1 == per_epoch)) {
        double dt = now_s() - t0;
        fprintf(stderr, "\repoch %d/%d  step %d/%d  loss %.4f  %.0f samples/s   ", e + 1, epochs, b + 1,
                per_epoch, loss, dt > 0 ? (double)(step + 1) * batch / dt : 0.0);
      }
    }
    if (loss_n == 0) continue;
    if (tty) fprintf(stderr, "\n");
    printf("epoch %d: mean loss %.6f\n", e + 1, loss_sum / loss_n);
  }
  if (ckp) {
    tod_status st = tod_checkpointer_train_end(ckp, c.m, step);
    if (st != TOD_OK) {
      die(st, tod_checkpointer_error(ckp));
      goto out;
    }
    if (tod_checkpointer_last_path(ckp)[0]) printf("checkpoint %s\n", tod_checkpointer_last_path(ckp));
  }
  int ran = step - (int)start;
  double dt = now_s() - t0;
  printf("trained %d steps of batch %d in %.2f s (%.0f samples/s)\n", ran, batch, dt,
         dt > 0 ? (double)ran * batch / dt : 0.0);
  if (a.loss_log) {
    char err[512];
    int64_t n = ran;
    tod_status st = tod_npy_write(a.loss_log, TOD_DT_FLOAT32, 1, &n, losses, sizeof(float) * (size_t)ran, err, sizeof err);
    if (st != TOD_OK) {
      die(st, err);
      goto out;
    }
  }
  if (a.save) {
    tod_status st = tod_model_export(c.m, a.save, a.inference_only);
    if (st != TOD_OK) {
      die(st, tod_model_error(c.m));
      goto out;
    }
    printf("saved %s%s\n", a.save, a.inference_only ? " (inference only)" : "");
  }
  rc = 0;
out:
  tod_checkpointer_free(ckp);
  free(losses);
  free(order);
  close_loop(&c);
  return rc;
}

/* Index of the largest of n floats. */
static int argmax(const float *p, int n) {
  int k = 0;
  for (int i = 1; i < n; i++)
    if (p[i] > p[k]) k = i;
  return k;
}

int tod_cmd_eval(int argc, char **argv) {
  train_args a;
  if (parse_common(argc, argv, &a) != 0) return 2;
  loop_ctx c;
  int rc = 1, *idx = NULL;
  if (open_loop(&c, &a, 0) != 0) goto out;
  if (tod_model_is_trainable(c.m)) tod_model_set_train(c.m, 0);
  c.label_in = -1; /* eval feeds data only; labels are compared here */
  c.data_in = 0;
  int samples = (int)c.x.dims[0];
  int batch = a.batch > 0 ? a.batch : (samples < 100 ? samples : 100);
  if (setup_batch(&c, batch) != 0) goto out;
  idx = malloc(sizeof(int) * (size_t)batch);
  if (!idx) goto out;
  int correct = 0, seen = 0;
  for (int s0 = 0; s0 + batch <= samples; s0 += batch) {
    for (int i = 0; i < batch; i++) idx[i] = s0 + i;
    if (feed(&c, idx, batch) != 0) goto out;
    tod_status st = tod_model_run(c.m);
    if (st != TOD_OK) {
      die(st, tod_model_error(c.m));
      goto out;
    }
    const void *out;
    size_t nb;
    tod_tensor_info oi;
    tod_model_output_info(c.m, 0, &oi);
    tod_model_output(c.m, 0, &out, &nb);
    if (oi.dtype != TOD_DT_FLOAT32 || oi.ndim != 2 || oi.dims[0] != batch) {
      die(TOD_NOT_SUPPORT, "eval needs a [batch, classes] float32 output");
      goto out;
    }
    int classes = (int)oi.dims[1];
    size_t per = row_bytes(&c.y) / dt_size(c.y.dtype);
    for (int i = 0; i < batch; i++) {
      int pred = argmax((const float *)out + (size_t)i * classes, classes);
      size_t s = (size_t)(s0 + i);
      int want;
      if (per > 1 && c.y.dtype == TOD_DT_FLOAT32) want = argmax((const float *)c.y.data + s * per, (int)per);
      else if (c.y.dtype == TOD_DT_INT64) want = (int)((const int64_t *)c.y.data)[s];
      else if (c.y.dtype == TOD_DT_INT32) want = ((const int32_t *)c.y.data)[s];
      else if (c.y.dtype == TOD_DT_UINT8) want = ((const uint8_t *)c.y.data)[s];
      else {
        die(TOD_NOT_SUPPORT, "labels must be class indices or one-hot float32");
        goto out;
      }
      correct += pred == want;
      seen++;
    }
  }
  printf("accuracy: %.4f (%d/%d)\n", seen ? (double)correct / seen : 0.0, correct, seen);
  rc = 0;
out:
  free(idx);
  close_loop(&c);
  return rc;
}
