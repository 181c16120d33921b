/* Built-in conversion templates (seed 004 "转换模板"): each fixes the source framework and model
 * file format, the target chip and kind of .ms, and the advanced options a task may set. */
#ifndef TOD_SERVICE_TEMPLATES_H
#define TOD_SERVICE_TEMPLATES_H

#include <cjson/cJSON.h>
#include <stddef.h>

typedef enum { TOD_OPT_ENUM, TOD_OPT_INT } tod_option_type;

typedef struct {
  const char *name;
  tod_option_type type;
  const char *description;
  const char *def_str;              /* TOD_OPT_ENUM default */
  const char *const *allowed_str;   /* TOD_OPT_ENUM values, NULL-terminated */
  int def_int, min_int, max_int;    /* TOD_OPT_INT */
} tod_template_option;

typedef struct {
  const char *id, *name, *description;
  const char *framework; /* "ONNX" | "MINDIR": converter_lite --fmk */
  const char *format;    /* ".onnx" | ".mindir": the one model file the input directory holds */
  const char *chip;      /* "ARM" | "x86" */
  const char *target;    /* "inference" | "training" */
  const tod_template_option *const *options; /* NULL-terminated */
} tod_template;

int tod_template_count(void);
const tod_template *tod_template_at(int i);
/* NULL when no template has this id. */
const tod_template *tod_template_find(const char *id);

/* The TEMPLATE object of the HTTP contract; the caller owns it (cJSON_Delete). */
cJSON *tod_template_json(const tod_template *t);

/* 1 when t passes the filters (NULL or "" = no filter; chip/framework/format compare without case,
 * format with or without its dot; q is a case-insensitive search in id, name, description and
 * the fixed fields). */
int tod_template_matches(const tod_template *t, const char *chip, const char *framework, const char *format,
                         const char *target, const char *q);

/* Checks a task's "options" object (NULL = none given) against the template and returns every
 * option with defaults filled in; the caller owns it. NULL with a reason in err on refusal. */
cJSON *tod_template_options_resolve(const tod_template *t, const cJSON *given, char *err, size_t errlen);

/* Appends converter_lite flags for the template and resolved options to argv (each string is
 * written into its own slot of bufs, nbufs slots of 64 bytes). Returns the new argc, or -1. */
int tod_template_converter_flags(const tod_template *t, const cJSON *resolved, char bufs[][64], int nbufs);

#endif
