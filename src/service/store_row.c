/* The TASK JSON both stores build from a selected row (store.h). */
#include <stdlib.h>

#include "service/store.h"

static void add_text_or_null(cJSON *o, const char *key, const char *v) {
  if (v) cJSON_AddStringToObject(o, key, v);
  else cJSON_AddNullToObject(o, key);
}

/* options and output_files are stored as JSON text; unreadable text becomes an empty value. */
static void add_parsed(cJSON *o, const char *key, const char *v, int array) {
  cJSON *j = v ? cJSON_Parse(v) : NULL;
  if (!j) j = array ? cJSON_CreateArray() : cJSON_CreateObject();
  cJSON_AddItemToObject(o, key, j);
}

cJSON *tod_store_task_from_row(const char *const col[TOD_STORE_TASK_NCOLS]) {
  static const char *const names[TOD_STORE_TASK_NCOLS] = {
      "id",         "name",        "description",  "template_id", "input_dir", "output_dir", "options", "state",
      "created_at", "started_at", "finished_at", "output_files", "error",     "attempts",   "worker"};
  cJSON *t = cJSON_CreateObject();
  for (int k = 0; k < TOD_STORE_TASK_NCOLS; k++) {
    if (k == 6 || k == 11) add_parsed(t, names[k], col[k], k == 11);
    else if (k == 13) cJSON_AddNumberToObject(t, names[k], col[k] ? atoi(col[k]) : 0);
    else add_text_or_null(t, names[k], col[k]);
  }
  return t;
}
