/* libFuzzer target: a `tod serve` create-task request body (POST /api/v1/tasks) parsed by cJSON
 * and validated by tod_task_request_validate, as http_api.c does, without a server. The root
 * holds one ONNX input directory so that valid requests are reachable; validation only reads. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service/tasks.h"

static char root[PATH_MAX];

static void make_root(void) {
  char tmpl[] = "/tmp/tod_fuzz_json_XXXXXX";
  if (!mkdtemp(tmpl) || !realpath(tmpl, root)) __builtin_trap();
  char p[PATH_MAX + 32];
  snprintf(p, sizeof p, "%s/in", root);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/in/model.onnx", root);
  FILE *f = fopen(p, "wb");
  if (f) fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!root[0]) make_root();
  cJSON *body = cJSON_ParseWithLength((const char *)data, size);
  if (!body) return 0;
  char err[1024] = "";
  cJSON *fields = tod_task_request_validate(body, root, err, sizeof err);
  if (!fields && !err[0]) __builtin_trap(); /* every refusal says why */
  if (fields) {
    char *s = cJSON_PrintUnformatted(fields);
    if (!s) __builtin_trap();
    free(s);
    cJSON_Delete(fields);
  }
  cJSON_Delete(body);
  return 0;
}
