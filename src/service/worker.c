/* Worker threads and the converter child process. */
#include "service/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "service/tasks.h"
#include "service/templates.h"
#include "service/text.h"

#define LOG_LIMIT (1 << 20) /* bytes of converter output kept per task */
#define HEARTBEAT_MS 5000

struct tod_worker_pool {
  tod_worker_config cfg;
  pthread_t *threads;
  int started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int stop;
  unsigned long generation; /* bumped by every notify */
};

typedef struct {
  char *data;
  size_t len, cap;
  int truncated;
} logbuf;

static void log_add(logbuf *b, const char *s, size_t n) {
  if (b->len + n > LOG_LIMIT) {
    n = b->len < LOG_LIMIT ? LOG_LIMIT - b->len : 0;
    b->truncated = 1;
  }
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
      b->truncated = 1;
      return;
    }
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = 0;
}

static void log_printf(logbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_printf(logbuf *b, const char *fmt, ...) {
  char line[PATH_MAX * 3];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n > 0) log_add(b, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* mkdir -p below root, then re-checks the real path: a symlink planted meanwhile cannot lead out. */
static int make_output_dir(const char *root_real, const char *rel, char *abs, size_t n, char *err, size_t errlen) {
  char why[512], want[PATH_MAX];
  if (!tod_path_confine(root_real, rel, 0, want, NULL, sizeof want, why, sizeof why)) {
    snprintf(err, errlen, "output_dir %s", why);
    return 0;
  }
  size_t rl = strlen(root_real);
  for (char *p = want + rl + 1; p <= want + strlen(want); p++) {
    if (*p == '/' || *p == 0) {
      char c = *p;
      *p = 0;
      if (mkdir(want, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create output_dir '%s': %s", rel, strerror(errno));
        return 0;
      }
      *p = c;
      if (!c) break;
    }
  }
  if (!tod_path_confine(root_real, rel, 1, abs, NULL, n, why, sizeof why)) {
    snprintf(err, errlen, "output_dir %s", why);
    return 0;
  }
  struct stat st;
  if (stat(abs, &st) != 0 || !S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "output_dir '%s' is not a directory", rel);
    return 0;
  }
  return 1;
}

typedef struct {
  int exited, code, signaled, sig, timed_out, spawn_failed;
  int64_t ms;
  char last_line[512];
} child_result;

/* Runs argv with stdout+stderr into log; kills it after timeout_s. Heartbeats the claim. */
static void run_child(tod_worker_pool *p, const tod_store_claim *c, char *const argv[], logbuf *log,
                      child_result *res) {
  memset(res, 0, sizeof *res);
  int fds[2];
  if (pipe(fds) != 0) {
    res->spawn_failed = 1;
    log_printf(log, "[tod serve] cannot create a pipe: %s\n", strerror(errno));
    return;
  }
  long mem = p->cfg.mem_limit_mb;
  int64_t t0 = tod_monotonic_ms();
  pid_t pid = fork();
  if (pid < 0) {
    res->spawn_failed = 1;
    log_printf(log, "[tod serve] cannot fork: %s\n", strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return;
  }
  if (pid == 0) {
    /* child: only async-signal-safe calls until exec */
    setpgid(0, 0);
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* the server died (even by SIGKILL): stop converting */
#endif
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    struct rlimit core = {0, 0};
    setrlimit(RLIMIT_CORE, &core);
    if (mem > 0) {
      struct rlimit as = {(rlim_t)mem << 20, (rlim_t)mem << 20};
      setrlimit(RLIMIT_AS, &as);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL); /* the server blocks SIGTERM in its threads */
    for (int fd = 3; fd < 4096; fd++) close(fd);
    execv(argv[0], argv);
    static const char msg[] = "cannot execute the converter\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(127);
  }
  close(fds[1]);
  int64_t deadline = t0 + (int64_t)p->cfg.timeout_s * 1000, next_beat = t0 + HEARTBEAT_MS;
  int open_fd = 1, status = 0, reaped = 0;
  char buf[8192];
  while (!reaped) {
    int64_t now = tod_monotonic_ms();
    if (now >= deadline && !res->timed_out) {
      res->timed_out = 1;
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
    }
    if (now >= next_beat) {
      p->cfg.store->ops->task_heartbeat(p->cfg.store, c->id, c->attempts);
      next_beat = now + HEARTBEAT_MS;
    }
    if (open_fd) {
      struct pollfd pf = {fds[0], POLLIN, 0};
      int64_t wait = deadline - now;
      if (wait > 200) wait = 200;
      if (wait < 0) wait = 0;
      int r = poll(&pf, 1, (int)wait);
      if (r > 0) {
        ssize_t got = read(fds[0], buf, sizeof buf);
        if (got > 0) log_add(log, buf, (size_t)got);
        else if (got == 0 || (errno != EINTR && errno != EAGAIN)) open_fd = 0;
      }
    } else {
      struct timespec ts = {0, 20 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      /* drain what is left in the pipe, without waiting on grandchildren that keep it open */
      struct pollfd pf = {fds[0], POLLIN, 0};
      while (open_fd && poll(&pf, 1, 0) > 0) {
        ssize_t got = read(fds[0], buf, sizeof buf);
        if (got <= 0) break;
        log_add(log, buf, (size_t)got);
      }
      reaped = 1;
    } else if (w < 0 && errno != EINTR) {
      reaped = 1;
      res->spawn_failed = 1;
    }
  }
  kill(-pid, SIGKILL); /* whatever the converter left behind in its group */
  close(fds[0]);
  res->ms = tod_monotonic_ms() - t0;
  if (WIFEXITED(status)) res->exited = 1, res->code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) res->signaled = 1, res->sig = WTERMSIG(status);
  /* the result line is the converter's last non-empty line */
  if (log->data) {
    size_t e = log->len;
    while (e > 0 && (log->data[e - 1] == '\n' || log->data[e - 1] == '\r')) e--;
    size_t s = e;
    while (s > 0 && log->data[s - 1] != '\n') s--;
    snprintf(res->last_line, sizeof res->last_line, "%.*s", (int)(e - s), log->data + s);
  }
}

static void strip_ext(char *name) {
  char *dot = strrchr(name, '.');
  if (dot && dot != name) *dot = 0;
}

static void run_task(tod_worker_pool *p, tod_store_claim *c) {
  const tod_worker_config *cfg = &p->cfg;
  logbuf log = {0};
  char now[32], err[1024] = "", model[PATH_MAX], outdir[PATH_MAX];
  tod_now_rfc3339(now);
  log_printf(&log, "[tod serve] %s task %s attempt %d on worker %s\n", now, c->id, c->attempts, cfg->worker_name);
  int ok = 0;
  char *files = NULL;
  const tod_template *t = tod_template_find(c->template_id);
  cJSON *given = cJSON_Parse(c->options_json), *opts = NULL;
  if (!t) {
    snprintf(err, sizeof err, "template %s no longer exists", c->template_id);
  } else if (!(opts = tod_template_options_resolve(t, given, err, sizeof err))) {
    /* err set */
  } else if (!tod_input_dir_check(cfg->root_real, c->input_dir, t, model, sizeof model, err, sizeof err)) {
    /* the input directory changed since the task was created */
  } else if (!make_output_dir(cfg->root_real, c->output_dir, outdir, sizeof outdir, err, sizeof err)) {
    /* err set */
  } else {
    char flags[8][64];
    int nf = tod_template_converter_flags(t, opts, flags, 8);
    const char *base = strrchr(model, '/') ? strrchr(model, '/') + 1 : model;
    char stem[NAME_MAX + 1], model_arg[PATH_MAX + 16], out_arg[PATH_MAX * 2 + 16], out_file[PATH_MAX * 2 + 8];
    snprintf(stem, sizeof stem, "%s", base);
    strip_ext(stem);
    snprintf(model_arg, sizeof model_arg, "--modelFile=%s", model);
    snprintf(out_arg, sizeof out_arg, "--outputFile=%s/%s", outdir, stem);
    snprintf(out_file, sizeof out_file, "%s/%s.ms", outdir, stem);
    char *argv[16];
    int argc = 0;
    argv[argc++] = (char *)cfg->converter;
    for (int i = 0; i < nf; i++) argv[argc++] = flags[i];
    argv[argc++] = model_arg;
    argv[argc++] = out_arg;
    argv[argc] = NULL;
    log_add(&log, "$", 1);
    for (int i = 0; i < argc; i++) log_printf(&log, " %s", argv[i]);
    log_add(&log, "\n", 1);
    child_result r;
    run_child(p, c, argv, &log, &r);
    if (log.len && log.data[log.len - 1] != '\n') log_add(&log, "\n", 1);
    if (log.truncated) log_printf(&log, "[tod serve] output truncated at %d bytes\n", LOG_LIMIT);
    struct stat st;
    if (r.spawn_failed) {
      snprintf(err, sizeof err, "the converter could not be started");
    } else if (r.timed_out) {
      snprintf(err, sizeof err, "the conversion timed out after %d s and was killed", cfg->timeout_s);
    } else if (r.signaled) {
      snprintf(err, sizeof err, "the converter crashed (signal %d%s)", r.sig,
               r.sig == SIGSEGV ? ", segmentation fault" : r.sig == SIGKILL ? ", killed" : "");
    } else if (r.code != 0 || strcmp(r.last_line, "CONVERT RESULT SUCCESS:0") != 0) {
      if (strncmp(r.last_line, "CONVERT RESULT FAILED:", 22) == 0) snprintf(err, sizeof err, "%s", r.last_line);
      else snprintf(err, sizeof err, "the converter exited with status %d", r.code);
    } else if (stat(out_file, &st) != 0) {
      snprintf(err, sizeof err, "the converter reported success but wrote no %s.ms", stem);
    } else {
      ok = 1;
      cJSON *arr = cJSON_CreateArray();
      char rel[PATH_MAX * 2];
      size_t rl = strlen(cfg->root_real);
      snprintf(rel, sizeof rel, "%s", out_file + (strcmp(cfg->root_real, "/") == 0 ? 1 : rl + 1));
      cJSON_AddItemToArray(arr, cJSON_CreateString(rel));
      files = cJSON_PrintUnformatted(arr);
      cJSON_Delete(arr);
    }
    if (r.signaled && !r.timed_out)
      log_printf(&log, "[tod serve] converter killed by signal %d after %lld ms\n", r.sig, (long long)r.ms);
    else if (!r.spawn_failed)
      log_printf(&log, "[tod serve] converter exited with status %d after %lld ms\n", r.exited ? r.code : -1,
                 (long long)r.ms);
  }
  if (!ok) log_printf(&log, "[tod serve] task failed: %s\n", err);
  else log_printf(&log, "[tod serve] task succeeded\n");
  tod_store_rc rc = cfg->store->ops->task_finish(cfg->store, c->id, c->attempts, ok, ok ? NULL : err,
                                                 files ? files : "[]", log.data ? log.data : "");
  if (rc == TOD_STORE_ERROR)
    fprintf(stderr, "tod serve: cannot record the end of task %s: %s\n", c->id, cfg->store->error);
  free(files);
  free(log.data);
  cJSON_Delete(given);
  cJSON_Delete(opts);
}

static void *worker_main(void *arg) {
  tod_worker_pool *p = arg;
  int64_t next_recover = 0;
  for (;;) {
    pthread_mutex_lock(&p->mu);
    int stop = p->stop;
    unsigned long gen = p->generation;
    pthread_mutex_unlock(&p->mu);
    if (stop) break;
    if (p->cfg.lease_s > 0 && tod_monotonic_ms() >= next_recover) {
      int rq = 0, fl = 0;
      if (p->cfg.store->ops->recover(p->cfg.store, p->cfg.max_attempts, p->cfg.lease_s, &rq, &fl) == TOD_STORE_OK &&
          (rq || fl))
        fprintf(stderr, "tod serve: %d abandoned task(s) re-queued, %d failed\n", rq, fl);
      next_recover = tod_monotonic_ms() + (int64_t)p->cfg.lease_s * 500;
    }
    tod_store_claim c;
    tod_store_rc rc = p->cfg.store->ops->task_claim(p->cfg.store, p->cfg.worker_name, &c);
    if (rc == TOD_STORE_OK) {
      run_task(p, &c);
      tod_store_claim_free(&c);
      continue;
    }
    if (rc == TOD_STORE_ERROR) fprintf(stderr, "tod serve: claiming a task failed: %s\n", p->cfg.store->error);
    pthread_mutex_lock(&p->mu);
    if (!p->stop && p->generation == gen) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      long ns = ts.tv_nsec + (long)(p->cfg.poll_ms % 1000) * 1000000L;
      ts.tv_sec += p->cfg.poll_ms / 1000 + ns / 1000000000L;
      ts.tv_nsec = ns % 1000000000L;
      pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
  }
  return NULL;
}

tod_worker_pool *tod_worker_pool_start(const tod_worker_config *cfg, char *err, size_t errlen) {
  tod_worker_pool *p = calloc(1, sizeof *p);
  if (!p || !(p->threads = calloc((size_t)cfg->workers, sizeof *p->threads))) {
    free(p);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  p->cfg = *cfg;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  for (int i = 0; i < cfg->workers; i++) {
    if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
      snprintf(err, errlen, "cannot start worker thread %d", i);
      tod_worker_pool_stop(p);
      return NULL;
    }
    p->started++;
  }
  return p;
}

void tod_worker_pool_notify(tod_worker_pool *p) {
  pthread_mutex_lock(&p->mu);
  p->generation++;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

void tod_worker_pool_stop(tod_worker_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->stop = 1;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->started; i++) pthread_join(p->threads[i], NULL);
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  free(p->threads);
  free(p);
}
