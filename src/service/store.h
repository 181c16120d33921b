/* Where tasks live: an interface with two implementations, SQLite (one process, the embedded
 * default) and PostgreSQL (several processes on several hosts). Every call is safe from any
 * thread. Task objects are the TASK JSON of the HTTP contract; the caller owns what it gets. */
#ifndef TOD_SERVICE_STORE_H
#define TOD_SERVICE_STORE_H

#include <cjson/cJSON.h>
#include <stddef.h>

typedef enum {
  TOD_STORE_OK = 0,
  TOD_STORE_NOT_FOUND = 1, /* no such task, or (claim) nothing to do */
  TOD_STORE_CONFLICT = 2,  /* the task is initializing or running */
  TOD_STORE_ERROR = -1,
} tod_store_rc;

/* What a worker needs of a task it claimed. */
typedef struct {
  char id[32];
  char template_id[64];
  char *input_dir, *output_dir, *options_json; /* malloc'd; tod_store_claim_free */
  int attempts;
} tod_store_claim;

typedef struct tod_store tod_store;

typedef struct {
  /* meta: small key/value settings (the token hash). get: NOT_FOUND when absent. */
  tod_store_rc (*meta_get)(tod_store *s, const char *key, char *value, size_t n);
  tod_store_rc (*meta_set)(tod_store *s, const char *key, const char *value);
  /* fields: the object of tod_task_request_validate; *task receives the new TASK (initializing). */
  tod_store_rc (*task_create)(tod_store *s, const cJSON *fields, cJSON **task);
  tod_store_rc (*task_get)(tod_store *s, const char *id, cJSON **task);
  /* *log is malloc'd text; the caller frees it. */
  tod_store_rc (*task_log)(tod_store *s, const char *id, char **log);
  /* state and q may be NULL; page is 1-based. Newest first. */
  tod_store_rc (*task_list)(tod_store *s, const char *state, const char *q, int page, int page_size, long *total,
                            cJSON **tasks);
  /* CONFLICT (and *state set) while initializing or running. */
  tod_store_rc (*task_delete)(tod_store *s, const char *id, char state[16]);
  /* Moves the oldest initializing task to running for worker ("HOST:PID"); NOT_FOUND when none. */
  tod_store_rc (*task_claim)(tod_store *s, const char *worker, tod_store_claim *c);
  /* Keeps a running task's lease alive (PostgreSQL: tasks of dead workers are re-queued). */
  tod_store_rc (*task_heartbeat)(tod_store *s, const char *id, int attempts);
  /* Ends a running task. output_files: JSON array text; error NULL on success. Only the claim
   * that is still current (same attempts) may finish it. */
  tod_store_rc (*task_finish)(tod_store *s, const char *id, int attempts, int succeeded, const char *error,
                              const char *output_files_json, const char *log);
  /* Running tasks nobody works on any more (SQLite: all of them at start-up; PostgreSQL: those
   * whose lease expired) go back to initializing, or to failed after max_attempts claims. */
  tod_store_rc (*recover)(tod_store *s, int max_attempts, int lease_seconds, int *requeued, int *failed);
  void (*close)(tod_store *s);
} tod_store_ops;

struct tod_store {
  const tod_store_ops *ops;
  char error[512]; /* the last failure, for the server's log */
};

/* Opens (creating when needed) data_dir/tod.db. NULL with a reason in err on failure. */
tod_store *tod_store_sqlite_open(const char *data_dir, char *err, size_t errlen);
/* Connects to a postgres:// URL and creates the schema when missing. */
tod_store *tod_store_pg_open(const char *url, char *err, size_t errlen);

/* The tables both stores create; they differ only in the id column's definition and the type of
 * the worker lease's timestamp. */
#define TOD_STORE_SCHEMA(id_column, lease_type)                                                  \
  "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"                  \
  "CREATE TABLE IF NOT EXISTS templates(id TEXT PRIMARY KEY, json TEXT NOT NULL);"               \
  "CREATE TABLE IF NOT EXISTS tasks("                                                            \
  " id " id_column ","                                                                           \
  " name TEXT NOT NULL,"                                                                         \
  " description TEXT NOT NULL DEFAULT '',"                                                       \
  " template_id TEXT NOT NULL,"                                                                  \
  " input_dir TEXT NOT NULL,"                                                                    \
  " output_dir TEXT NOT NULL,"                                                                   \
  " options TEXT NOT NULL DEFAULT '{}',"                                                         \
  " state TEXT NOT NULL CHECK (state IN ('initializing','running','succeeded','failed')),"       \
  " created_at TEXT NOT NULL,"                                                                   \
  " started_at TEXT,"                                                                            \
  " finished_at TEXT,"                                                                           \
  " output_files TEXT NOT NULL DEFAULT '[]',"                                                    \
  " error TEXT,"                                                                                 \
  " attempts INTEGER NOT NULL DEFAULT 0,"                                                        \
  " worker TEXT,"                                                                                \
  " heartbeat_at " lease_type ","                                                                \
  " log TEXT NOT NULL DEFAULT '');"                                                              \
  "CREATE INDEX IF NOT EXISTS tasks_by_state ON tasks(state, id);"

/* The columns both stores select for a TASK, in the order tod_store_task_from_row reads them. */
#define TOD_STORE_TASK_COLUMNS                                                                     \
  "id, name, description, template_id, input_dir, output_dir, options, state, created_at, started_at, " \
  "finished_at, output_files, error, attempts, worker"
enum { TOD_STORE_TASK_NCOLS = 15 };

/* Builds a TASK from the texts of one row selected with TOD_STORE_TASK_COLUMNS (NULL: SQL NULL). */
cJSON *tod_store_task_from_row(const char *const col[TOD_STORE_TASK_NCOLS]);

void tod_store_claim_free(tod_store_claim *c);

#endif
