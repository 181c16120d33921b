/* The built-in templates. What converter_lite cannot do yet (MINDIR input, training export,
 * weight quantization, as of this writing) still gets a template: the converter refuses such a
 * task with RET_NOT_SUPPORT and the task fails with that log, never silently. */
#include "service/templates.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "service/text.h"

static const char *const layouts[] = {"NCHW", "NHWC", NULL};

static const tod_template_option opt_layout = {
    "input_format", TOD_OPT_ENUM, "layout of the converted model's 4-D inputs (--inputDataFormat)",
    "NCHW", layouts, 0, 0, 0};
static const tod_template_option opt_quant = {
    "weight_quant_bits", TOD_OPT_INT,
    "weight quantization bits, 0 = off (--quantType=WeightQuant --bitNum)", NULL, NULL, 0, 0, 16};

static const tod_template_option *const infer_opts[] = {&opt_layout, &opt_quant, NULL};
static const tod_template_option *const train_opts[] = {&opt_quant, NULL};

static const tod_template templates[] = {
    {"onnx-arm-inference", "ONNX to .ms, ARM CPU inference",
     "Converts one ONNX model (.onnx) into a MindSpore Lite inference model for ARM CPUs.", "ONNX", ".onnx", "ARM",
     "inference", infer_opts},
    {"onnx-x86-inference", "ONNX to .ms, x86 CPU inference",
     "Converts one ONNX model (.onnx) into a MindSpore Lite inference model for x86 CPUs (AVX2/AVX-512).", "ONNX",
     ".onnx", "x86", "inference", infer_opts},
    {"onnx-arm-training", "ONNX to .ms, ARM CPU on-device training",
     "Converts one ONNX model (.onnx) into a MindSpore Lite training model (--trainModel=true) for ARM CPUs.", "ONNX",
     ".onnx", "ARM", "training", train_opts},
    {"onnx-x86-training", "ONNX to .ms, x86 CPU on-device training",
     "Converts one ONNX model (.onnx) into a MindSpore Lite training model (--trainModel=true) for x86 CPUs.", "ONNX",
     ".onnx", "x86", "training", train_opts},
    {"mindir-arm-inference", "MINDIR to .ms, ARM CPU inference",
     "Converts one MindSpore MINDIR model (.mindir) into a MindSpore Lite inference model for ARM CPUs.", "MINDIR",
     ".mindir", "ARM", "inference", infer_opts},
    {"mindir-x86-inference", "MINDIR to .ms, x86 CPU inference",
     "Converts one MindSpore MINDIR model (.mindir) into a MindSpore Lite inference model for x86 CPUs.", "MINDIR",
     ".mindir", "x86", "inference", infer_opts},
    {"mindir-arm-training", "MINDIR to .ms, ARM CPU on-device training",
     "Converts one MindSpore MINDIR model (.mindir) into a MindSpore Lite training model for ARM CPUs.", "MINDIR",
     ".mindir", "ARM", "training", train_opts},
};

int tod_template_count(void) { return (int)(sizeof templates / sizeof templates[0]); }

const tod_template *tod_template_at(int i) {
  return i >= 0 && i < tod_template_count() ? &templates[i] : NULL;
}

const tod_template *tod_template_find(const char *id) {
  for (int i = 0; i < tod_template_count(); i++)
    if (strcmp(templates[i].id, id) == 0) return &templates[i];
  return NULL;
}

cJSON *tod_template_json(const tod_template *t) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", t->id);
  cJSON_AddStringToObject(o, "name", t->name);
  cJSON_AddStringToObject(o, "description", t->description);
  cJSON_AddStringToObject(o, "framework", t->framework);
  cJSON_AddStringToObject(o, "format", t->format);
  cJSON_AddStringToObject(o, "chip", t->chip);
  cJSON_AddStringToObject(o, "target", t->target);
  cJSON *opts = cJSON_AddArrayToObject(o, "options");
  for (const tod_template_option *const *p = t->options; *p; p++) {
    const tod_template_option *op = *p;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", op->name);
    cJSON_AddStringToObject(j, "description", op->description);
    cJSON *allowed;
    if (op->type == TOD_OPT_ENUM) {
      cJSON_AddStringToObject(j, "type", "enum");
      cJSON_AddStringToObject(j, "default", op->def_str);
      allowed = cJSON_AddArrayToObject(j, "allowed");
      for (const char *const *v = op->allowed_str; *v; v++) cJSON_AddItemToArray(allowed, cJSON_CreateString(*v));
    } else {
      cJSON_AddStringToObject(j, "type", "integer");
      cJSON_AddNumberToObject(j, "default", op->def_int);
      allowed = cJSON_AddArrayToObject(j, "allowed");
      for (int v = op->min_int; v <= op->max_int; v++) cJSON_AddItemToArray(allowed, cJSON_CreateNumber(v));
    }
    cJSON_AddItemToArray(opts, j);
  }
  return o;
}

static int filter_eq(const char *want, const char *have) {
  if (!want || !*want) return 1;
  if (*want == '.' || *have != '.') return strcasecmp(want, have) == 0;
  return strcasecmp(want, have + 1) == 0;
}

int tod_template_matches(const tod_template *t, const char *chip, const char *framework, const char *format,
                         const char *target, const char *q) {
  if (!filter_eq(chip, t->chip) || !filter_eq(framework, t->framework) || !filter_eq(format, t->format) ||
      !filter_eq(target, t->target))
    return 0;
  if (!q || !*q) return 1;
  const char *fields[] = {t->id, t->name, t->description, t->framework, t->format, t->chip, t->target};
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    if (tod_contains_ci(fields[i], q)) return 1;
  return 0;
}

static const tod_template_option *find_option(const tod_template *t, const char *name) {
  for (const tod_template_option *const *p = t->options; *p; p++)
    if (strcmp((*p)->name, name) == 0) return *p;
  return NULL;
}

cJSON *tod_template_options_resolve(const tod_template *t, const cJSON *given, char *err, size_t errlen) {
  if (given && !cJSON_IsNull(given) && !cJSON_IsObject(given)) {
    snprintf(err, errlen, "options must be an object");
    return NULL;
  }
  if (given && cJSON_IsObject(given)) {
    for (const cJSON *g = given->child; g; g = g->next) {
      const tod_template_option *op = find_option(t, g->string);
      if (!op) {
        snprintf(err, errlen, "option '%.64s' is not allowed by template %s", g->string, t->id);
        return NULL;
      }
      for (const cJSON *h = given->child; h != g; h = h->next)
        if (strcmp(h->string, g->string) == 0) {
          snprintf(err, errlen, "option '%.64s' is given twice", g->string);
          return NULL;
        }
      if (op->type == TOD_OPT_ENUM) {
        int ok = 0;
        if (cJSON_IsString(g))
          for (const char *const *v = op->allowed_str; *v; v++) ok |= strcmp(*v, g->valuestring) == 0;
        if (!ok) {
          char list[128] = "";
          for (const char *const *v = op->allowed_str; *v; v++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", v == op->allowed_str ? "" : ", ", *v);
          snprintf(err, errlen, "option '%s' must be one of %s", op->name, list);
          return NULL;
        }
      } else {
        double d = cJSON_IsNumber(g) ? g->valuedouble : -1.0;
        /* range first: converting an out-of-range double to int is undefined */
        if (!cJSON_IsNumber(g) || !(d >= op->min_int && d <= op->max_int) || d != (double)(int)d) {
          snprintf(err, errlen, "option '%s' must be an integer from %d to %d", op->name, op->min_int, op->max_int);
          return NULL;
        }
      }
    }
  }
  cJSON *out = cJSON_CreateObject();
  for (const tod_template_option *const *p = t->options; *p; p++) {
    const tod_template_option *op = *p;
    const cJSON *g = given && cJSON_IsObject(given) ? cJSON_GetObjectItemCaseSensitive(given, op->name) : NULL;
    if (op->type == TOD_OPT_ENUM) cJSON_AddStringToObject(out, op->name, g ? g->valuestring : op->def_str);
    else cJSON_AddNumberToObject(out, op->name, g ? (int)g->valuedouble : op->def_int);
  }
  return out;
}

int tod_template_converter_flags(const tod_template *t, const cJSON *resolved, char bufs[][64], int nbufs) {
  int n = 0;
#define ADD(...)                                   \
  do {                                             \
    if (n >= nbufs) return -1;                     \
    snprintf(bufs[n++], 64, __VA_ARGS__);          \
  } while (0)
  ADD("--fmk=%s", t->framework);
  if (strcmp(t->target, "training") == 0) ADD("--trainModel=true");
  const cJSON *layout = cJSON_GetObjectItemCaseSensitive(resolved, "input_format");
  if (cJSON_IsString(layout) && find_option(t, "input_format")) ADD("--inputDataFormat=%s", layout->valuestring);
  const cJSON *bits = cJSON_GetObjectItemCaseSensitive(resolved, "weight_quant_bits");
  if (cJSON_IsNumber(bits) && bits->valueint > 0) {
    ADD("--quantType=WeightQuant");
    ADD("--bitNum=%d", bits->valueint);
  }
#undef ADD
  return n;
}
