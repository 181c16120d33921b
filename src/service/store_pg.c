/* The PostgreSQL store: several `tod serve` processes on several hosts share one database.
 * Workers claim tasks with SELECT ... FOR UPDATE SKIP LOCKED, so a task is claimed once; running
 * tasks carry a heartbeat, and a task whose worker fell silent for the lease is re-queued by
 * whichever worker notices. One connection per process, behind a mutex. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/store.h"

#ifndef TOD_HAVE_PQ
tod_store *tod_store_pg_open(const char *url, char *err, size_t errlen) {
  (void)url;
  snprintf(err, errlen, "this tod was built without libpq; PostgreSQL is not available");
  return NULL;
}
#else
#include <libpq-fe.h>
#include <pthread.h>

#include "service/templates.h"
#include "service/text.h"

typedef struct {
  tod_store base;
  PGconn *conn;
  pthread_mutex_t mu;
} pg_store;

static const char SCHEMA[] = TOD_STORE_SCHEMA("BIGSERIAL PRIMARY KEY", "TIMESTAMPTZ");
#define TASK_COLUMNS TOD_STORE_TASK_COLUMNS

/* Runs one statement; reconnects once when the connection broke. NULL on failure (error set). */
static PGresult *run(pg_store *s, const char *sql, int n, const char *const *params) {
  for (int attempt = 0; attempt < 2; attempt++) {
    PGresult *r = PQexecParams(s->conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
    snprintf(s->base.error, sizeof s->base.error, "postgres: %s", PQerrorMessage(s->conn));
    PQclear(r);
    if (PQstatus(s->conn) != CONNECTION_BAD) return NULL;
    PQreset(s->conn);
  }
  return NULL;
}

static long affected(PGresult *r) { return atol(PQcmdTuples(r)); }

static const char *col(PGresult *r, int row, int c) { return PQgetisnull(r, row, c) ? NULL : PQgetvalue(r, row, c); }

static cJSON *row_task(PGresult *r, int i) {
  const char *c[TOD_STORE_TASK_NCOLS];
  for (int k = 0; k < TOD_STORE_TASK_NCOLS; k++) c[k] = col(r, i, k);
  return tod_store_task_from_row(c);
}

/* Ids are decimal strings; anything else cannot name a task. */
static int valid_id(const char *id) {
  size_t n = strlen(id);
  if (n == 0 || n > 18) return 0;
  for (size_t i = 0; i < n; i++)
    if (id[i] < '0' || id[i] > '9') return 0;
  return 1;
}

static tod_store_rc pg_meta_get(tod_store *b, const char *key, char *value, size_t n) {
  pg_store *s = (pg_store *)b;
  const char *p[] = {key};
  pthread_mutex_lock(&s->mu);
  PGresult *r = run(s, "SELECT value FROM meta WHERE key=$1", 1, p);
  tod_store_rc rc = TOD_STORE_ERROR;
  if (r) {
    if (PQntuples(r) == 1) {
      snprintf(value, n, "%s", PQgetvalue(r, 0, 0));
      rc = TOD_STORE_OK;
    } else {
      rc = TOD_STORE_NOT_FOUND;
    }
    PQclear(r);
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

static tod_store_rc pg_meta_set(tod_store *b, const char *key, const char *value) {
  pg_store *s = (pg_store *)b;
  const char *p[] = {key, value};
  pthread_mutex_lock(&s->mu);
  PGresult *r = run(s, "INSERT INTO meta(key, value) VALUES($1, $2) ON CONFLICT (key) DO UPDATE SET value=EXCLUDED.value",
                    2, p);
  pthread_mutex_unlock(&s->mu);
  if (!r) return TOD_STORE_ERROR;
  PQclear(r);
  return TOD_STORE_OK;
}

static const char *str(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : "";
}

static tod_store_rc pg_task_create(tod_store *b, const cJSON *f, cJSON **task) {
  pg_store *s = (pg_store *)b;
  char now[32];
  tod_now_rfc3339(now);
  char *opts = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(f, "options"));
  const char *p[] = {str(f, "name"), str(f, "description"), str(f, "template_id"), str(f, "input_dir"),
                     str(f, "output_dir"), opts ? opts : "{}", now};
  pthread_mutex_lock(&s->mu);
  PGresult *r = run(s,
                    "INSERT INTO tasks(name, description, template_id, input_dir, output_dir, options, state, created_at) "
                    "VALUES($1, $2, $3, $4, $5, $6, 'initializing', $7) RETURNING " TASK_COLUMNS,
                    7, p);
  pthread_mutex_unlock(&s->mu);
  free(opts);
  if (!r) return TOD_STORE_ERROR;
  *task = row_task(r, 0);
  PQclear(r);
  return TOD_STORE_OK;
}

static tod_store_rc pg_task_get(tod_store *b, const char *id, cJSON **task) {
  pg_store *s = (pg_store *)b;
  if (!valid_id(id)) return TOD_STORE_NOT_FOUND;
  const char *p[] = {id};
  pthread_mutex_lock(&s->mu);
  PGresult *r = run(s, "SELECT " TASK_COLUMNS " FROM tasks WHERE id=$1::bigint", 1, p);
  pthread_mutex_unlock(&s->mu);
  if (!r) return TOD_STORE_ERROR;
  tod_store_rc rc = TOD_STORE_NOT_FOUND;
  if (PQntuples(r) == 1) {
    *task = row_task(r, 0);
    rc = TOD_STORE_OK;
  }
  PQclear(r);
  return rc;
}

static tod_store_rc pg_task_log(tod_store *b, const char *id, char **log) {
  pg_store *s = (pg_store *)b;
  if (!valid_id(id)) return TOD_STORE_NOT_FOUND;
  const char *p[] = {id};
  pthread_mutex_lock(&s->mu);
  PGresult *r = run(s, "SELECT log FROM tasks WHERE id=$1::bigint", 1, p);
  pthread_mutex_unlock(&s->mu);
  if (!r) return TOD_STORE_ERROR;
  tod_store_rc rc = TOD_STORE_NOT_FOUND;
  if (PQntuples(r) == 1) {
    *log = strdup(PQgetvalue(r, 0, 0));
    rc = *log ? TOD_STORE_OK : TOD_STORE_ERROR;
  }
  PQclear(r);
  return rc;
}

#define LIST_WHERE                                                                                         \
  " WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR strpos(lower(name), lower($2)) > 0"   \
  " OR strpos(lower(description), lower($2)) > 0 OR strpos(lower(template_id), lower($2)) > 0)"

static tod_store_rc pg_task_list(tod_store *b, const char *state, const char *q, int page, int page_size,
                                 long *total, cJSON **tasks) {
  pg_store *s = (pg_store *)b;
  if (q && !*q) q = NULL;
  char lim[24], off[24];
  snprintf(lim, sizeof lim, "%d", page_size);
  snprintf(off, sizeof off, "%lld", (long long)(page - 1) * page_size);
  const char *p[] = {state, q, lim, off};
  pthread_mutex_lock(&s->mu);
  PGresult *c = run(s, "SELECT count(*) FROM tasks" LIST_WHERE, 2, p);
  PGresult *r = c ? run(s, "SELECT " TASK_COLUMNS " FROM tasks" LIST_WHERE " ORDER BY id DESC LIMIT $3::int OFFSET $4::bigint",
                        4, p)
                  : NULL;
  pthread_mutex_unlock(&s->mu);
  tod_store_rc rc = TOD_STORE_ERROR;
  if (c && r) {
    *total = atol(PQgetvalue(c, 0, 0));
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < PQntuples(r); i++) cJSON_AddItemToArray(arr, row_task(r, i));
    *tasks = arr;
    rc = TOD_STORE_OK;
  }
  PQclear(c);
  PQclear(r);
  return rc;
}

static tod_store_rc pg_task_delete(tod_store *b, const char *id, char state[16]) {
  pg_store *s = (pg_store *)b;
  if (!valid_id(id)) return TOD_STORE_NOT_FOUND;
  const char *p[] = {id};
  tod_store_rc rc = TOD_STORE_ERROR;
  pthread_mutex_lock(&s->mu);
  PGresult *r = run(s, "DELETE FROM tasks WHERE id=$1::bigint AND state IN ('succeeded','failed')", 1, p);
  if (r) {
    if (affected(r) == 1) {
      rc = TOD_STORE_OK;
    } else {
      PGresult *q = run(s, "SELECT state FROM tasks WHERE id=$1::bigint", 1, p);
      if (q) {
        if (PQntuples(q) == 1) {
          snprintf(state, 16, "%s", PQgetvalue(q, 0, 0));
          rc = TOD_STORE_CONFLICT;
        } else {
          rc = TOD_STORE_NOT_FOUND;
        }
        PQclear(q);
      }
    }
    PQclear(r);
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

static tod_store_rc pg_task_claim(tod_store *b, const char *worker, tod_store_claim *c) {
  pg_store *s = (pg_store *)b;
  char now[32];
  tod_now_rfc3339(now);
  const char *p[] = {now, worker};
  memset(c, 0, sizeof *c);
  pthread_mutex_lock(&s->mu);
  /* SKIP LOCKED: concurrent claimers pass over a row another transaction is taking */
  PGresult *r = run(s,
                    "UPDATE tasks SET state='running', attempts=attempts+1, started_at=$1, heartbeat_at=now(), "
                    "finished_at=NULL, worker=$2 WHERE id=(SELECT id FROM tasks WHERE state='initializing' "
                    "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) "
                    "RETURNING id, template_id, input_dir, output_dir, options, attempts",
                    2, p);
  pthread_mutex_unlock(&s->mu);
  if (!r) return TOD_STORE_ERROR;
  tod_store_rc rc = TOD_STORE_NOT_FOUND;
  if (PQntuples(r) == 1) {
    snprintf(c->id, sizeof c->id, "%s", PQgetvalue(r, 0, 0));
    snprintf(c->template_id, sizeof c->template_id, "%s", PQgetvalue(r, 0, 1));
    c->input_dir = strdup(PQgetvalue(r, 0, 2));
    c->output_dir = strdup(PQgetvalue(r, 0, 3));
    c->options_json = strdup(PQgetvalue(r, 0, 4));
    c->attempts = atoi(PQgetvalue(r, 0, 5));
    rc = TOD_STORE_OK;
    if (!c->input_dir || !c->output_dir || !c->options_json) {
      tod_store_claim_free(c);
      snprintf(s->base.error, sizeof s->base.error, "out of memory");
      rc = TOD_STORE_ERROR;
    }
  }
  PQclear(r);
  return rc;
}

static tod_store_rc pg_task_heartbeat(tod_store *b, const char *id, int attempts) {
  pg_store *s = (pg_store *)b;
  char att[16];
  snprintf(att, sizeof att, "%d", attempts);
  const char *p[] = {id, att};
  pthread_mutex_lock(&s->mu);
  PGresult *r = run(s, "UPDATE tasks SET heartbeat_at=now() WHERE id=$1::bigint AND state='running' AND attempts=$2::int",
                    2, p);
  pthread_mutex_unlock(&s->mu);
  if (!r) return TOD_STORE_ERROR;
  tod_store_rc rc = affected(r) ? TOD_STORE_OK : TOD_STORE_NOT_FOUND;
  PQclear(r);
  return rc;
}

static tod_store_rc pg_task_finish(tod_store *b, const char *id, int attempts, int succeeded, const char *error,
                                   const char *output_files_json, const char *log) {
  pg_store *s = (pg_store *)b;
  char now[32], att[16];
  tod_now_rfc3339(now);
  snprintf(att, sizeof att, "%d", attempts);
  const char *p[] = {succeeded ? "succeeded" : "failed", now, error, output_files_json ? output_files_json : "[]",
                     log ? log : "", id, att};
  pthread_mutex_lock(&s->mu);
  PGresult *r = run(s,
                    "UPDATE tasks SET state=$1, finished_at=$2, error=$3, output_files=$4, log=log || $5 "
                    "WHERE id=$6::bigint AND state='running' AND attempts=$7::int",
                    7, p);
  pthread_mutex_unlock(&s->mu);
  if (!r) return TOD_STORE_ERROR;
  tod_store_rc rc = affected(r) ? TOD_STORE_OK : TOD_STORE_NOT_FOUND;
  PQclear(r);
  return rc;
}

static tod_store_rc pg_recover(tod_store *b, int max_attempts, int lease_seconds, int *requeued, int *failed) {
  pg_store *s = (pg_store *)b;
  char now[32], lease[16], maxa[16], msg[200];
  tod_now_rfc3339(now);
  snprintf(lease, sizeof lease, "%d", lease_seconds);
  snprintf(maxa, sizeof maxa, "%d", max_attempts);
  snprintf(msg, sizeof msg, "its worker went silent %d times; not retried again", max_attempts);
  const char *pf[] = {now, msg, lease, maxa};
  const char *pr[] = {now, lease};
  *requeued = *failed = 0;
  pthread_mutex_lock(&s->mu);
  PGresult *f = run(s,
                    "UPDATE tasks SET state='failed', finished_at=$1, error=$2, "
                    "log = log || '[tod serve] ' || $1 || ' ' || $2 || chr(10) "
                    "WHERE state='running' AND heartbeat_at < now() - make_interval(secs => $3::int) "
                    "AND attempts >= $4::int",
                    4, pf);
  PGresult *r = f ? run(s,
                        "UPDATE tasks SET state='initializing', "
                        "log = log || '[tod serve] ' || $1 || ' worker ' || coalesce(worker, '?') || "
                        "' went silent; re-queued' || chr(10) "
                        "WHERE state='running' AND heartbeat_at < now() - make_interval(secs => $2::int)",
                        2, pr)
                  : NULL;
  pthread_mutex_unlock(&s->mu);
  tod_store_rc rc = TOD_STORE_ERROR;
  if (f && r) {
    *failed = (int)affected(f);
    *requeued = (int)affected(r);
    rc = TOD_STORE_OK;
  }
  PQclear(f);
  PQclear(r);
  return rc;
}

static void pg_close(tod_store *b) {
  pg_store *s = (pg_store *)b;
  PQfinish(s->conn);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

static const tod_store_ops pg_ops = {pg_meta_get,  pg_meta_set,  pg_task_create,    pg_task_get,
                                     pg_task_log,  pg_task_list, pg_task_delete,    pg_task_claim,
                                     pg_task_heartbeat, pg_task_finish, pg_recover, pg_close};

static void quiet(void *arg, const PGresult *res) {
  (void)arg;
  (void)res; /* "relation already exists, skipping" notices are expected */
}

tod_store *tod_store_pg_open(const char *url, char *err, size_t errlen) {
  if (strncmp(url, "postgres://", 11) != 0 && strncmp(url, "postgresql://", 13) != 0) {
    snprintf(err, errlen, "--db wants a postgres:// URL");
    return NULL;
  }
  pg_store *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  s->base.ops = &pg_ops;
  pthread_mutex_init(&s->mu, NULL);
  s->conn = PQconnectdb(url);
  if (PQstatus(s->conn) != CONNECTION_OK) {
    snprintf(err, errlen, "cannot connect to PostgreSQL: %s", PQerrorMessage(s->conn));
    pg_close(&s->base);
    return NULL;
  }
  PQsetNoticeReceiver(s->conn, quiet, NULL);
  /* several servers may start at once: create the schema under an advisory lock */
  PGresult *r = run(s, "SELECT pg_advisory_lock(700700)", 0, NULL);
  int ok = r != NULL;
  PQclear(r);
  if (ok) {
    r = PQexec(s->conn, SCHEMA);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) snprintf(s->base.error, sizeof s->base.error, "postgres: %s", PQerrorMessage(s->conn));
    PQclear(r);
    for (int i = 0; ok && i < tod_template_count(); i++) {
      cJSON *j = tod_template_json(tod_template_at(i));
      char *text = cJSON_PrintUnformatted(j);
      const char *p[] = {tod_template_at(i)->id, text ? text : "{}"};
      r = run(s, "INSERT INTO templates(id, json) VALUES($1, $2) ON CONFLICT (id) DO UPDATE SET json=EXCLUDED.json", 2,
              p);
      ok = r != NULL;
      PQclear(r);
      free(text);
      cJSON_Delete(j);
    }
    PQclear(run(s, "SELECT pg_advisory_unlock(700700)", 0, NULL));
  }
  if (!ok) {
    snprintf(err, errlen, "cannot set up the schema: %s", s->base.error);
    pg_close(&s->base);
    return NULL;
  }
  return &s->base;
}
#endif
