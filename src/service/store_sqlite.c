/* The SQLite store: one connection behind a mutex, WAL journal. One `tod serve` owns a data
 * directory at a time (serve.c locks it), so at start-up every running task is an orphan. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/store.h"
#include "service/templates.h"
#include "service/text.h"

typedef struct {
  tod_store base;
  sqlite3 *db;
  pthread_mutex_t mu;
} sq_store;

static const char SCHEMA[] = TOD_STORE_SCHEMA("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT");
#define TASK_COLUMNS TOD_STORE_TASK_COLUMNS

static void fail(sq_store *s, const char *what) {
  snprintf(s->base.error, sizeof s->base.error, "sqlite: %s: %s", what, sqlite3_errmsg(s->db));
}

static sqlite3_stmt *prep(sq_store *s, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
    fail(s, "prepare");
    return NULL;
  }
  return st;
}

/* Builds a TASK from a row selected with TASK_COLUMNS. */
static cJSON *row_task(sqlite3_stmt *st) {
  const char *c[TOD_STORE_TASK_NCOLS];
  for (int k = 0; k < TOD_STORE_TASK_NCOLS; k++) c[k] = (const char *)sqlite3_column_text(st, k);
  return tod_store_task_from_row(c);
}

static sqlite3_int64 parse_id(const char *id) {
  if (!*id || strlen(id) > 18) return -1;
  sqlite3_int64 v = 0;
  for (const char *p = id; *p; p++) {
    if (*p < '0' || *p > '9') return -1;
    v = v * 10 + (*p - '0');
  }
  return v;
}

static tod_store_rc sq_meta_get(tod_store *b, const char *key, char *value, size_t n) {
  sq_store *s = (sq_store *)b;
  tod_store_rc rc = TOD_STORE_ERROR;
  pthread_mutex_lock(&s->mu);
  sqlite3_stmt *st = prep(s, "SELECT value FROM meta WHERE key=?");
  if (st) {
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
      snprintf(value, n, "%s", (const char *)sqlite3_column_text(st, 0));
      rc = TOD_STORE_OK;
    } else if (r == SQLITE_DONE) {
      rc = TOD_STORE_NOT_FOUND;
    } else {
      fail(s, "meta_get");
    }
    sqlite3_finalize(st);
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

static tod_store_rc sq_meta_set(tod_store *b, const char *key, const char *value) {
  sq_store *s = (sq_store *)b;
  tod_store_rc rc = TOD_STORE_ERROR;
  pthread_mutex_lock(&s->mu);
  sqlite3_stmt *st = prep(s, "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value");
  if (st) {
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_DONE) rc = TOD_STORE_OK;
    else fail(s, "meta_set");
    sqlite3_finalize(st);
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

static const char *str(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : "";
}

/* Selects one task by rowid; caller holds the mutex. */
static tod_store_rc get_locked(sq_store *s, sqlite3_int64 id, cJSON **task) {
  sqlite3_stmt *st = prep(s, "SELECT " TASK_COLUMNS " FROM tasks WHERE id=?");
  if (!st) return TOD_STORE_ERROR;
  sqlite3_bind_int64(st, 1, id);
  int r = sqlite3_step(st);
  tod_store_rc rc = TOD_STORE_ERROR;
  if (r == SQLITE_ROW) {
    *task = row_task(st);
    rc = TOD_STORE_OK;
  } else if (r == SQLITE_DONE) {
    rc = TOD_STORE_NOT_FOUND;
  } else {
    fail(s, "task_get");
  }
  sqlite3_finalize(st);
  return rc;
}

static tod_store_rc sq_task_create(tod_store *b, const cJSON *f, cJSON **task) {
  sq_store *s = (sq_store *)b;
  char now[32];
  tod_now_rfc3339(now);
  char *opts = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(f, "options"));
  tod_store_rc rc = TOD_STORE_ERROR;
  pthread_mutex_lock(&s->mu);
  sqlite3_stmt *st = prep(s,
                          "INSERT INTO tasks(name, description, template_id, input_dir, output_dir, options, state, "
                          "created_at) VALUES(?, ?, ?, ?, ?, ?, 'initializing', ?)");
  if (st) {
    sqlite3_bind_text(st, 1, str(f, "name"), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, str(f, "description"), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, str(f, "template_id"), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, str(f, "input_dir"), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, str(f, "output_dir"), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, opts ? opts : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, now, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_DONE) rc = get_locked(s, sqlite3_last_insert_rowid(s->db), task);
    else fail(s, "task_create");
    sqlite3_finalize(st);
  }
  pthread_mutex_unlock(&s->mu);
  free(opts);
  return rc;
}

static tod_store_rc sq_task_get(tod_store *b, const char *id, cJSON **task) {
  sq_store *s = (sq_store *)b;
  sqlite3_int64 n = parse_id(id);
  if (n < 0) return TOD_STORE_NOT_FOUND;
  pthread_mutex_lock(&s->mu);
  tod_store_rc rc = get_locked(s, n, task);
  pthread_mutex_unlock(&s->mu);
  return rc;
}

static tod_store_rc sq_task_log(tod_store *b, const char *id, char **log) {
  sq_store *s = (sq_store *)b;
  sqlite3_int64 n = parse_id(id);
  if (n < 0) return TOD_STORE_NOT_FOUND;
  tod_store_rc rc = TOD_STORE_ERROR;
  pthread_mutex_lock(&s->mu);
  sqlite3_stmt *st = prep(s, "SELECT log FROM tasks WHERE id=?");
  if (st) {
    sqlite3_bind_int64(st, 1, n);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
      const char *t = (const char *)sqlite3_column_text(st, 0);
      *log = strdup(t ? t : "");
      rc = *log ? TOD_STORE_OK : TOD_STORE_ERROR;
    } else if (r == SQLITE_DONE) {
      rc = TOD_STORE_NOT_FOUND;
    } else {
      fail(s, "task_log");
    }
    sqlite3_finalize(st);
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

#define LIST_WHERE                                                                                       \
  " WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR instr(lower(name), lower(?2)) > 0"             \
  " OR instr(lower(description), lower(?2)) > 0 OR instr(lower(template_id), lower(?2)) > 0)"

static tod_store_rc sq_task_list(tod_store *b, const char *state, const char *q, int page, int page_size,
                                 long *total, cJSON **tasks) {
  sq_store *s = (sq_store *)b;
  tod_store_rc rc = TOD_STORE_ERROR;
  if (q && !*q) q = NULL;
  pthread_mutex_lock(&s->mu);
  sqlite3_stmt *cnt = prep(s, "SELECT count(*) FROM tasks" LIST_WHERE);
  sqlite3_stmt *st = prep(s, "SELECT " TASK_COLUMNS " FROM tasks" LIST_WHERE " ORDER BY id DESC LIMIT ?3 OFFSET ?4");
  if (cnt && st) {
    sqlite3_bind_text(cnt, 1, state, -1, SQLITE_STATIC);
    sqlite3_bind_text(cnt, 2, q, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, q, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, page_size);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)(page - 1) * page_size);
    if (sqlite3_step(cnt) == SQLITE_ROW) {
      *total = (long)sqlite3_column_int64(cnt, 0);
      cJSON *arr = cJSON_CreateArray();
      int r;
      while ((r = sqlite3_step(st)) == SQLITE_ROW) cJSON_AddItemToArray(arr, row_task(st));
      if (r == SQLITE_DONE) {
        *tasks = arr;
        rc = TOD_STORE_OK;
      } else {
        cJSON_Delete(arr);
        fail(s, "task_list");
      }
    } else {
      fail(s, "task_list count");
    }
  }
  sqlite3_finalize(cnt);
  sqlite3_finalize(st);
  pthread_mutex_unlock(&s->mu);
  return rc;
}

static tod_store_rc sq_task_delete(tod_store *b, const char *id, char state[16]) {
  sq_store *s = (sq_store *)b;
  sqlite3_int64 n = parse_id(id);
  if (n < 0) return TOD_STORE_NOT_FOUND;
  tod_store_rc rc = TOD_STORE_ERROR;
  pthread_mutex_lock(&s->mu);
  /* one statement: a task cannot become running between the check and the delete */
  sqlite3_stmt *st = prep(s, "DELETE FROM tasks WHERE id=? AND state IN ('succeeded','failed')");
  if (st) {
    sqlite3_bind_int64(st, 1, n);
    if (sqlite3_step(st) == SQLITE_DONE) {
      if (sqlite3_changes(s->db) == 1) {
        rc = TOD_STORE_OK;
      } else {
        sqlite3_stmt *q = prep(s, "SELECT state FROM tasks WHERE id=?");
        if (q) {
          sqlite3_bind_int64(q, 1, n);
          int r = sqlite3_step(q);
          if (r == SQLITE_ROW) {
            snprintf(state, 16, "%s", (const char *)sqlite3_column_text(q, 0));
            rc = TOD_STORE_CONFLICT;
          } else if (r == SQLITE_DONE) {
            rc = TOD_STORE_NOT_FOUND;
          } else {
            fail(s, "task_delete state");
          }
          sqlite3_finalize(q);
        }
      }
    } else {
      fail(s, "task_delete");
    }
    sqlite3_finalize(st);
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

static char *dup_col(sqlite3_stmt *st, int i) {
  const char *t = (const char *)sqlite3_column_text(st, i);
  return strdup(t ? t : "");
}

static tod_store_rc sq_task_claim(tod_store *b, const char *worker, tod_store_claim *c) {
  sq_store *s = (sq_store *)b;
  char now[32];
  tod_now_rfc3339(now);
  tod_store_rc rc = TOD_STORE_ERROR;
  memset(c, 0, sizeof *c);
  pthread_mutex_lock(&s->mu);
  sqlite3_stmt *st = prep(s,
                          "UPDATE tasks SET state='running', attempts=attempts+1, started_at=?1, heartbeat_at=?1, "
                          "finished_at=NULL, worker=?2 WHERE id=(SELECT id FROM tasks WHERE state='initializing' "
                          "ORDER BY id LIMIT 1) RETURNING id, template_id, input_dir, output_dir, options, attempts");
  if (st) {
    sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, worker, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
      snprintf(c->id, sizeof c->id, "%lld", (long long)sqlite3_column_int64(st, 0));
      snprintf(c->template_id, sizeof c->template_id, "%s", (const char *)sqlite3_column_text(st, 1));
      c->input_dir = dup_col(st, 2);
      c->output_dir = dup_col(st, 3);
      c->options_json = dup_col(st, 4);
      c->attempts = sqlite3_column_int(st, 5);
      /* RETURNING rows are final only once the statement completes */
      r = sqlite3_step(st);
      if (r == SQLITE_DONE && c->input_dir && c->output_dir && c->options_json) {
        rc = TOD_STORE_OK;
      } else {
        fail(s, "task_claim");
        tod_store_claim_free(c);
      }
    } else if (r == SQLITE_DONE) {
      rc = TOD_STORE_NOT_FOUND;
    } else {
      fail(s, "task_claim");
    }
    sqlite3_finalize(st);
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

static tod_store_rc sq_task_heartbeat(tod_store *b, const char *id, int attempts) {
  sq_store *s = (sq_store *)b;
  char now[32];
  tod_now_rfc3339(now);
  tod_store_rc rc = TOD_STORE_ERROR;
  pthread_mutex_lock(&s->mu);
  sqlite3_stmt *st = prep(s, "UPDATE tasks SET heartbeat_at=? WHERE id=? AND state='running' AND attempts=?");
  if (st) {
    sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, parse_id(id));
    sqlite3_bind_int(st, 3, attempts);
    if (sqlite3_step(st) == SQLITE_DONE) rc = sqlite3_changes(s->db) ? TOD_STORE_OK : TOD_STORE_NOT_FOUND;
    else fail(s, "task_heartbeat");
    sqlite3_finalize(st);
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

static tod_store_rc sq_task_finish(tod_store *b, const char *id, int attempts, int succeeded, const char *error,
                                   const char *output_files_json, const char *log) {
  sq_store *s = (sq_store *)b;
  char now[32];
  tod_now_rfc3339(now);
  tod_store_rc rc = TOD_STORE_ERROR;
  pthread_mutex_lock(&s->mu);
  sqlite3_stmt *st = prep(s,
                          "UPDATE tasks SET state=?, finished_at=?, error=?, output_files=?, log=log || ? "
                          "WHERE id=? AND state='running' AND attempts=?");
  if (st) {
    sqlite3_bind_text(st, 1, succeeded ? "succeeded" : "failed", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, error, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, output_files_json ? output_files_json : "[]", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, log ? log : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, parse_id(id));
    sqlite3_bind_int(st, 7, attempts);
    if (sqlite3_step(st) == SQLITE_DONE) rc = sqlite3_changes(s->db) ? TOD_STORE_OK : TOD_STORE_NOT_FOUND;
    else fail(s, "task_finish");
    sqlite3_finalize(st);
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

static tod_store_rc sq_recover(tod_store *b, int max_attempts, int lease_seconds, int *requeued, int *failed) {
  (void)lease_seconds; /* the data directory lock makes every running task an orphan */
  sq_store *s = (sq_store *)b;
  char now[32], msg[160];
  tod_now_rfc3339(now);
  snprintf(msg, sizeof msg, "interrupted by server restarts %d times; not retried again", max_attempts);
  tod_store_rc rc = TOD_STORE_ERROR;
  *requeued = *failed = 0;
  pthread_mutex_lock(&s->mu);
  sqlite3_stmt *f = prep(s,
                         "UPDATE tasks SET state='failed', finished_at=?1, error=?2, "
                         "log = log || '[tod serve] ' || ?1 || ' ' || ?2 || char(10) "
                         "WHERE state='running' AND attempts >= ?3");
  sqlite3_stmt *r = prep(s,
                         "UPDATE tasks SET state='initializing', "
                         "log = log || '[tod serve] ' || ?1 || ' interrupted by a server restart; re-queued' || char(10) "
                         "WHERE state='running'");
  if (f && r && sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK) {
    sqlite3_bind_text(f, 1, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(f, 2, msg, -1, SQLITE_STATIC);
    sqlite3_bind_int(f, 3, max_attempts);
    sqlite3_bind_text(r, 1, now, -1, SQLITE_STATIC);
    if (sqlite3_step(f) == SQLITE_DONE) {
      *failed = sqlite3_changes(s->db);
      if (sqlite3_step(r) == SQLITE_DONE) {
        *requeued = sqlite3_changes(s->db);
        rc = TOD_STORE_OK;
      }
    }
    if (rc == TOD_STORE_OK) {
      if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) rc = TOD_STORE_ERROR;
    }
    if (rc != TOD_STORE_OK) {
      fail(s, "recover");
      sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
  } else {
    fail(s, "recover");
  }
  sqlite3_finalize(f);
  sqlite3_finalize(r);
  pthread_mutex_unlock(&s->mu);
  return rc;
}

static void sq_close(tod_store *b) {
  sq_store *s = (sq_store *)b;
  sqlite3_close(s->db);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

static const tod_store_ops sq_ops = {sq_meta_get,  sq_meta_set,  sq_task_create,    sq_task_get,
                                     sq_task_log,  sq_task_list, sq_task_delete,    sq_task_claim,
                                     sq_task_heartbeat, sq_task_finish, sq_recover, sq_close};

/* Mirrors the built-in templates into the database, so reports can join tasks with them. */
static int sync_templates(sq_store *s) {
  sqlite3_stmt *st = prep(s, "INSERT OR REPLACE INTO templates(id, json) VALUES(?, ?)");
  if (!st) return 0;
  int ok = 1;
  for (int i = 0; i < tod_template_count() && ok; i++) {
    cJSON *j = tod_template_json(tod_template_at(i));
    char *text = cJSON_PrintUnformatted(j);
    sqlite3_bind_text(st, 1, tod_template_at(i)->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, text ? text : "{}", -1, SQLITE_STATIC);
    ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_reset(st);
    free(text);
    cJSON_Delete(j);
  }
  sqlite3_finalize(st);
  return ok;
}

tod_store *tod_store_sqlite_open(const char *data_dir, char *err, size_t errlen) {
  sq_store *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  s->base.ops = &sq_ops;
  pthread_mutex_init(&s->mu, NULL);
  char path[4096];
  snprintf(path, sizeof path, "%s/tod.db", data_dir);
  if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
      SQLITE_OK) {
    snprintf(err, errlen, "cannot open %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
    sq_close(&s->base);
    return NULL;
  }
  sqlite3_busy_timeout(s->db, 10000); /* a concurrent `sqlite3 .backup` holds locks briefly */
  char *msg = NULL;
  if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", NULL, NULL,
                   &msg) != SQLITE_OK ||
      sqlite3_exec(s->db, SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
    snprintf(err, errlen, "cannot set up %s: %s", path, msg ? msg : sqlite3_errmsg(s->db));
    sqlite3_free(msg);
    sq_close(&s->base);
    return NULL;
  }
  if (!sync_templates(s)) {
    snprintf(err, errlen, "cannot write templates into %s: %s", path, sqlite3_errmsg(s->db));
    sq_close(&s->base);
    return NULL;
  }
  return &s->base;
}

void tod_store_claim_free(tod_store_claim *c) {
  free(c->input_dir);
  free(c->output_dir);
  free(c->options_json);
  c->input_dir = c->output_dir = c->options_json = NULL;
}
