/* Request handling on libmicrohttpd. Every request body is collected (up to the limit) before
 * dispatch; the body of a refused request is still read so the client sees the answer rather
 * than a reset connection. */
#include "service/http_api.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "service/sha256.h"
#include "service/tasks.h"
#include "service/templates.h"
#include "service/text.h"

#define DISCARD_LIMIT (16 << 20) /* past this, answer 413 at once and drop the connection */

extern const unsigned char tod_service_page[];
extern const size_t tod_service_page_len;

struct tod_http {
  struct MHD_Daemon *daemon;
};

typedef struct {
  char *body;
  size_t len, cap, seen;
  int too_large, answered;
} req_state;

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r) {
  MHD_add_response_header(r, "Cache-Control", "no-store");
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  enum MHD_Result ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

/* Takes ownership of j. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, cJSON *j) {
  char *text = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  if (!text) return MHD_NO;
  struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
  if (!r) {
    free(text);
    return MHD_NO;
  }
  MHD_add_response_header(r, "Content-Type", "application/json; charset=utf-8");
  return queue(c, status, r);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *code, const char *msg) {
  cJSON *j = cJSON_CreateObject();
  cJSON *e = cJSON_AddObjectToObject(j, "error");
  cJSON_AddStringToObject(e, "code", code);
  cJSON_AddStringToObject(e, "message", msg);
  return send_json(c, status, j);
}

static enum MHD_Result send_store_error(struct MHD_Connection *c, tod_api *api) {
  fprintf(stderr, "tod serve: %s\n", api->store->error);
  return send_error(c, 500, "internal", "the task store failed; see the server's log");
}

static enum MHD_Result send_method_not_allowed(struct MHD_Connection *c, const char *allow) {
  cJSON *j = cJSON_CreateObject();
  cJSON *e = cJSON_AddObjectToObject(j, "error");
  cJSON_AddStringToObject(e, "code", "method_not_allowed");
  cJSON_AddStringToObject(e, "message", "this method is not allowed here");
  char *text = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  if (!text) return MHD_NO;
  struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
  if (!r) {
    free(text);
    return MHD_NO;
  }
  MHD_add_response_header(r, "Content-Type", "application/json; charset=utf-8");
  MHD_add_response_header(r, "Allow", allow);
  return queue(c, 405, r);
}

/* ---- query parameters ---- */

typedef struct {
  const char *const *allowed;
  char bad[96];
} query_check;

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
  (void)kind;
  (void)value;
  query_check *q = cls;
  for (const char *const *a = q->allowed; *a; a++)
    if (strcmp(*a, key) == 0) return MHD_YES;
  if (!q->bad[0]) snprintf(q->bad, sizeof q->bad, "%.64s", key);
  return MHD_YES;
}

/* 1 when every query parameter is one of allowed; otherwise answers 400 and returns 0. */
static int only_args(struct MHD_Connection *c, const char *const *allowed, enum MHD_Result *ret) {
  query_check q = {allowed, ""};
  MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, check_arg, &q);
  if (!q.bad[0]) return 1;
  char msg[160];
  snprintf(msg, sizeof msg, "unknown query parameter '%s'", q.bad);
  *ret = send_error(c, 400, "invalid_argument", msg);
  return 0;
}

static const char *arg(struct MHD_Connection *c, const char *key) {
  const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
  return v && *v ? v : NULL;
}

static int one_of_ci(const char *v, const char *const *set) {
  for (const char *const *s = set; *s; s++)
    if (strcasecmp(v, *s) == 0) return 1;
  return 0;
}

static int parse_int_arg(const char *v, long lo, long hi, long *out) {
  if (!v) return 1;
  if (strlen(v) > 9) return 0;
  long x = 0;
  for (const char *p = v; *p; p++) {
    if (*p < '0' || *p > '9') return 0;
    x = x * 10 + (*p - '0');
  }
  if (x < lo || x > hi) return 0;
  *out = x;
  return 1;
}

static int valid_search(const char *q) { return !q || (strlen(q) <= 128 && tod_utf8_length(q) >= 0); }

/* ---- endpoints ---- */

static enum MHD_Result get_templates(struct MHD_Connection *c) {
  static const char *const allowed[] = {"chip", "framework", "format", "target", "q", NULL};
  static const char *const chips[] = {"ARM", "x86", NULL}, *const fmks[] = {"ONNX", "MINDIR", NULL},
                           *const fmts[] = {".onnx", ".mindir", "onnx", "mindir", NULL},
                           *const targets[] = {"inference", "training", NULL};
  enum MHD_Result ret;
  if (!only_args(c, allowed, &ret)) return ret;
  const char *chip = arg(c, "chip"), *fmk = arg(c, "framework"), *fmt = arg(c, "format"), *tgt = arg(c, "target"),
             *q = arg(c, "q");
  if (chip && !one_of_ci(chip, chips)) return send_error(c, 400, "invalid_argument", "chip must be ARM or x86");
  if (fmk && !one_of_ci(fmk, fmks)) return send_error(c, 400, "invalid_argument", "framework must be ONNX or MINDIR");
  if (fmt && !one_of_ci(fmt, fmts)) return send_error(c, 400, "invalid_argument", "format must be .onnx or .mindir");
  if (tgt && !one_of_ci(tgt, targets))
    return send_error(c, 400, "invalid_argument", "target must be inference or training");
  if (!valid_search(q)) return send_error(c, 400, "invalid_argument", "q must be UTF-8 of at most 128 bytes");
  cJSON *j = cJSON_CreateObject();
  cJSON *arr = cJSON_AddArrayToObject(j, "templates");
  for (int i = 0; i < tod_template_count(); i++) {
    const tod_template *t = tod_template_at(i);
    if (tod_template_matches(t, chip, fmk, fmt, tgt, q)) cJSON_AddItemToArray(arr, tod_template_json(t));
  }
  return send_json(c, 200, j);
}

static const char *const states[] = {"initializing", "running", "succeeded", "failed", NULL};

static enum MHD_Result list_tasks(struct MHD_Connection *c, tod_api *api) {
  static const char *const allowed[] = {"state", "q", "page", "page_size", NULL};
  enum MHD_Result ret;
  if (!only_args(c, allowed, &ret)) return ret;
  const char *state = arg(c, "state"), *q = arg(c, "q");
  long page = 1, page_size = 20;
  if (state) {
    int ok = 0;
    for (const char *const *s = states; *s; s++) ok |= strcmp(*s, state) == 0;
    if (!ok)
      return send_error(c, 400, "invalid_argument", "state must be initializing, running, succeeded or failed");
  }
  if (!valid_search(q)) return send_error(c, 400, "invalid_argument", "q must be UTF-8 of at most 128 bytes");
  if (!parse_int_arg(arg(c, "page"), 1, 1000000, &page))
    return send_error(c, 400, "invalid_argument", "page must be an integer from 1 to 1000000");
  if (!parse_int_arg(arg(c, "page_size"), 1, 500, &page_size))
    return send_error(c, 400, "invalid_argument", "page_size must be an integer from 1 to 500");
  long total = 0;
  cJSON *tasks = NULL;
  if (api->store->ops->task_list(api->store, state, q, (int)page, (int)page_size, &total, &tasks) != TOD_STORE_OK)
    return send_store_error(c, api);
  cJSON *j = cJSON_CreateObject();
  cJSON_AddNumberToObject(j, "total", (double)total);
  cJSON_AddNumberToObject(j, "page", (double)page);
  cJSON_AddNumberToObject(j, "page_size", (double)page_size);
  cJSON_AddItemToObject(j, "tasks", tasks);
  return send_json(c, 200, j);
}

static enum MHD_Result create_task(struct MHD_Connection *c, tod_api *api, const req_state *rs) {
  cJSON *body = rs->len ? cJSON_ParseWithLength(rs->body, rs->len) : NULL;
  if (!body) return send_error(c, 400, "invalid_argument", "the body must be a JSON object");
  char err[1024];
  cJSON *fields = tod_task_request_validate(body, api->root_real, err, sizeof err);
  cJSON_Delete(body);
  if (!fields) return send_error(c, 400, "invalid_argument", err);
  cJSON *task = NULL;
  tod_store_rc rc = api->store->ops->task_create(api->store, fields, &task);
  cJSON_Delete(fields);
  if (rc != TOD_STORE_OK) return send_store_error(c, api);
  if (api->pool) tod_worker_pool_notify(api->pool);
  return send_json(c, 201, task);
}

static enum MHD_Result get_task(struct MHD_Connection *c, tod_api *api, const char *id) {
  cJSON *task = NULL;
  tod_store_rc rc = api->store->ops->task_get(api->store, id, &task);
  if (rc == TOD_STORE_NOT_FOUND) return send_error(c, 404, "not_found", "no such task");
  if (rc != TOD_STORE_OK) return send_store_error(c, api);
  return send_json(c, 200, task);
}

static enum MHD_Result get_log(struct MHD_Connection *c, tod_api *api, const char *id) {
  char *log = NULL;
  tod_store_rc rc = api->store->ops->task_log(api->store, id, &log);
  if (rc == TOD_STORE_NOT_FOUND) return send_error(c, 404, "not_found", "no such task");
  if (rc != TOD_STORE_OK) return send_store_error(c, api);
  struct MHD_Response *r = MHD_create_response_from_buffer(strlen(log), log, MHD_RESPMEM_MUST_FREE);
  if (!r) {
    free(log);
    return MHD_NO;
  }
  MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
  return queue(c, 200, r);
}

static void delete_reason(tod_store_rc rc, const char *state, char *msg, size_t n) {
  if (rc == TOD_STORE_NOT_FOUND) snprintf(msg, n, "no such task");
  else if (rc == TOD_STORE_CONFLICT) snprintf(msg, n, "the task is %s; only finished tasks can be deleted", state);
  else snprintf(msg, n, "the task store failed");
}

static enum MHD_Result delete_task(struct MHD_Connection *c, tod_api *api, const char *id) {
  char state[16] = "", msg[160];
  tod_store_rc rc = api->store->ops->task_delete(api->store, id, state);
  if (rc == TOD_STORE_OK) return queue(c, 204, MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT));
  if (rc == TOD_STORE_ERROR) return send_store_error(c, api);
  delete_reason(rc, state, msg, sizeof msg);
  return send_error(c, rc == TOD_STORE_NOT_FOUND ? 404 : 409, rc == TOD_STORE_NOT_FOUND ? "not_found" : "conflict",
                    msg);
}

static enum MHD_Result batch_delete(struct MHD_Connection *c, tod_api *api, const req_state *rs) {
  cJSON *body = rs->len ? cJSON_ParseWithLength(rs->body, rs->len) : NULL;
  if (!cJSON_IsObject(body)) {
    cJSON_Delete(body);
    return send_error(c, 400, "invalid_argument", "the body must be a JSON object {\"ids\": [...]}");
  }
  const char *bad = NULL;
  for (const cJSON *f = body->child; f && !bad; f = f->next)
    if (strcmp(f->string, "ids") != 0) bad = "the body holds a field other than ids";
  const cJSON *ids = cJSON_GetObjectItemCaseSensitive(body, "ids");
  int n = cJSON_IsArray(ids) ? cJSON_GetArraySize(ids) : -1;
  if (!bad && n < 0) bad = "ids must be an array of task ids";
  if (!bad && (n < 1 || n > 1000)) bad = "ids must hold 1 to 1000 task ids";
  for (const cJSON *i = ids && n > 0 ? ids->child : NULL; i && !bad; i = i->next)
    if (!cJSON_IsString(i) || strlen(i->valuestring) == 0 || strlen(i->valuestring) > 32)
      bad = "every id must be a non-empty string of at most 32 characters";
  if (bad) {
    cJSON_Delete(body);
    return send_error(c, 400, "invalid_argument", bad);
  }
  cJSON *j = cJSON_CreateObject();
  cJSON *deleted = cJSON_AddArrayToObject(j, "deleted");
  cJSON *refused = cJSON_AddArrayToObject(j, "refused");
  for (const cJSON *i = ids->child; i; i = i->next) {
    int dup = 0;
    for (const cJSON *k = ids->child; k != i; k = k->next) dup |= strcmp(k->valuestring, i->valuestring) == 0;
    if (dup) continue;
    char state[16] = "", msg[160];
    tod_store_rc rc = api->store->ops->task_delete(api->store, i->valuestring, state);
    if (rc == TOD_STORE_OK) {
      cJSON_AddItemToArray(deleted, cJSON_CreateString(i->valuestring));
      continue;
    }
    if (rc == TOD_STORE_ERROR) fprintf(stderr, "tod serve: %s\n", api->store->error);
    delete_reason(rc, state, msg, sizeof msg);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "id", i->valuestring);
    cJSON_AddStringToObject(r, "code", rc == TOD_STORE_NOT_FOUND ? "not_found"
                                       : rc == TOD_STORE_CONFLICT  ? "conflict"
                                                                   : "internal");
    cJSON_AddStringToObject(r, "message", msg);
    cJSON_AddItemToArray(refused, r);
  }
  cJSON_Delete(body);
  return send_json(c, 200, j);
}

static int authorized(struct MHD_Connection *c, const tod_api *api) {
  const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  if (!h || strncasecmp(h, "Bearer ", 7) != 0) return 0;
  const char *tok = h + 7;
  while (*tok == ' ') tok++;
  char hex[65];
  tod_sha256_hex(tok, strlen(tok), hex);
  unsigned diff = 0; /* constant time: the comparison does not tell how much matched */
  for (int i = 0; i < 64; i++) diff |= (unsigned)(hex[i] ^ api->token_hash[i]);
  return diff == 0;
}

static enum MHD_Result dispatch(struct MHD_Connection *c, tod_api *api, const char *url, const char *method,
                                const req_state *rs) {
  int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0, del = strcmp(method, "DELETE") == 0;
  if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0) {
    if (!get) return send_method_not_allowed(c, "GET");
    struct MHD_Response *r = MHD_create_response_from_buffer(tod_service_page_len, (void *)tod_service_page,
                                                             MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "text/html; charset=utf-8");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                            "img-src 'self' data:; frame-ancestors 'none'");
    return queue(c, 200, r);
  }
  if (strcmp(url, "/api/v1/health") == 0) {
    if (!get) return send_method_not_allowed(c, "GET");
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", "ok");
    return send_json(c, 200, j);
  }
  if (strncmp(url, "/api/v1/", 8) != 0) return send_error(c, 404, "not_found", "no such page");
  if (!authorized(c, api))
    return send_error(c, 401, "unauthorized", "send the access token as 'Authorization: Bearer TOKEN'");
  const char *rest = url + 8;
  if (rs->too_large) return send_error(c, 413, "too_large", "the request body is larger than 1 MiB");
  if (strcmp(rest, "templates") == 0) return get ? get_templates(c) : send_method_not_allowed(c, "GET");
  if (strcmp(rest, "tasks") == 0) {
    if (get) return list_tasks(c, api);
    if (post) return create_task(c, api, rs);
    return send_method_not_allowed(c, "GET, POST");
  }
  if (strcmp(rest, "tasks/batch-delete") == 0)
    return post ? batch_delete(c, api, rs) : send_method_not_allowed(c, "POST");
  if (strncmp(rest, "tasks/", 6) == 0) {
    const char *id = rest + 6;
    const char *slash = strchr(id, '/');
    char idbuf[40];
    size_t idlen = slash ? (size_t)(slash - id) : strlen(id);
    if (idlen == 0 || idlen >= sizeof idbuf) return send_error(c, 404, "not_found", "no such task");
    memcpy(idbuf, id, idlen);
    idbuf[idlen] = 0;
    if (!slash) {
      if (get) return get_task(c, api, idbuf);
      if (del) return delete_task(c, api, idbuf);
      return send_method_not_allowed(c, "GET, DELETE");
    }
    if (strcmp(slash, "/log") == 0) return get ? get_log(c, api, idbuf) : send_method_not_allowed(c, "GET");
  }
  return send_error(c, 404, "not_found", "no such endpoint");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size,
                              void **con_cls) {
  (void)version;
  tod_api *api = cls;
  req_state *rs = *con_cls;
  if (!rs) {
    rs = calloc(1, sizeof *rs);
    if (!rs) return MHD_NO;
    *con_cls = rs;
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && (strlen(cl) > 12 || strtoull(cl, NULL, 10) > TOD_BODY_LIMIT)) rs->too_large = 1;
    return MHD_YES;
  }
  if (*upload_data_size) {
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    rs->seen += n;
    if (rs->answered) return MHD_YES;
    if (!rs->too_large && rs->len + n > TOD_BODY_LIMIT) {
      rs->too_large = 1;
      free(rs->body);
      rs->body = NULL;
      rs->len = rs->cap = 0;
    }
    if (rs->too_large) {
      if (rs->seen > DISCARD_LIMIT) {
        rs->answered = 1;
        return send_error(c, 413, "too_large", "the request body is larger than 1 MiB");
      }
      return MHD_YES;
    }
    if (rs->len + n > rs->cap) {
      size_t cap = rs->cap ? rs->cap : 4096;
      while (cap < rs->len + n) cap *= 2;
      char *b = realloc(rs->body, cap);
      if (!b) return MHD_NO;
      rs->body = b;
      rs->cap = cap;
    }
    memcpy(rs->body + rs->len, upload_data, n);
    rs->len += n;
    return MHD_YES;
  }
  if (rs->answered) return MHD_YES;
  rs->answered = 1;
  return dispatch(c, api, url, method, rs);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)c;
  (void)toe;
  req_state *rs = *con_cls;
  if (rs) {
    free(rs->body);
    free(rs);
    *con_cls = NULL;
  }
}

tod_http *tod_http_start(tod_api *api, const char *host, int port, int *bound_port, char *err, size_t errlen) {
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &sa.sin_addr) != 1) {
    snprintf(err, errlen, "--listen: '%s' is not an IPv4 address", host);
    return NULL;
  }
  tod_http *h = calloc(1, sizeof *h);
  if (!h) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG,
                               (uint16_t)port, NULL, NULL, handle, api, MHD_OPTION_SOCK_ADDR, &sa,
                               MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_CONNECTION_LIMIT,
                               (unsigned)256, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
  if (!h->daemon) {
    snprintf(err, errlen, "cannot listen on %s:%d (in use, or not an address of this host)", host, port);
    free(h);
    return NULL;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
  *bound_port = info ? info->port : port;
  return h;
}

void tod_http_stop(tod_http *h) {
  if (!h) return;
  MHD_stop_daemon(h->daemon);
  free(h);
}
