/* `tod serve` main: flags, the data directory and its lock, the token, crash recovery, then the
 * worker pool and the HTTP server until SIGTERM/SIGINT, which drain running conversions. */
#include "service/serve.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service/http_api.h"
#include "service/sha256.h"
#include "service/store.h"
#include "service/worker.h"

#if defined(__SANITIZE_ADDRESS__)
#define DEFAULT_MEM_LIMIT_MB 0 /* ASan reserves terabytes of address space */
#else
#define DEFAULT_MEM_LIMIT_MB 4096
#endif

typedef struct {
  const char *listen, *data, *root, *db, *converter;
  int workers, timeout_s, max_attempts, lease_s;
  long mem_limit_mb;
} serve_flags;

static void usage(FILE *f) {
  fprintf(f,
          "Usage: tod serve [--listen HOST:PORT] [--data DIR] [--root DIR] [--workers N] [--db URL]\n"
          "                 [--timeout SEC] [--mem-limit MB] [--max-attempts N] [--converter PATH]\n"
          "  --listen HOST:PORT   IPv4 address and port (default 127.0.0.1:8080; port 0 = any free port)\n"
          "  --data DIR           SQLite database of tasks and their logs (default ./tod-data)\n"
          "  --root DIR           task input and output directories are relative to it (default .)\n"
          "  --workers N          conversions run at the same time (default 2)\n"
          "  --db URL             postgres://USER@HOST:PORT/DB: share tasks with other tod serve processes\n"
          "  --timeout SEC        a conversion running longer is killed and its task fails (default 600)\n"
          "  --mem-limit MB       address-space limit of each conversion, 0 = none (default %d)\n"
          "  --max-attempts N     claims before an interrupted task is failed (default 3)\n"
          "  --lease SEC          PostgreSQL: re-queue tasks of workers silent this long (default 60)\n"
          "  --converter PATH     converter_lite to run (default: the one next to tod)\n"
          "Environment: TOD_TOKEN sets the access token; otherwise the first start generates one and\n"
          "prints it once as 'access token: TOKEN'. SIGTERM drains running conversions and exits 0.\n",
          DEFAULT_MEM_LIMIT_MB);
}

static int parse_num(const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || !*s || *end || v < lo || v > hi) return 0;
  *out = v;
  return 1;
}

/* Returns 1 and fills f, 0 on a usage error (message printed), 2 for --help. */
static int parse_flags(int argc, char **argv, serve_flags *f) {
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return 2;
    static const char *const names[] = {"--listen", "--data", "--root", "--workers", "--db", "--timeout",
                                        "--mem-limit", "--max-attempts", "--converter", "--lease", NULL};
    const char *val = NULL;
    int which = -1;
    for (int k = 0; names[k]; k++) {
      size_t n = strlen(names[k]);
      if (strncmp(a, names[k], n) == 0 && (a[n] == 0 || a[n] == '=')) {
        which = k;
        if (a[n] == '=') val = a + n + 1;
        else if (i + 1 < argc) val = argv[++i];
        break;
      }
    }
    if (which < 0) {
      fprintf(stderr, "tod serve: unknown argument '%s'\n", a);
      return 0;
    }
    if (!val || !*val) {
      fprintf(stderr, "tod serve: %s needs a value\n", names[which]);
      return 0;
    }
    long v = 0;
    switch (which) {
      case 0: f->listen = val; break;
      case 1: f->data = val; break;
      case 2: f->root = val; break;
      case 3:
        if (!parse_num(val, 1, 64, &v)) goto bad;
        f->workers = (int)v;
        break;
      case 4: f->db = val; break;
      case 5:
        if (!parse_num(val, 1, 86400, &v)) goto bad;
        f->timeout_s = (int)v;
        break;
      case 6:
        if (!parse_num(val, 0, 1L << 30, &v)) goto bad;
        f->mem_limit_mb = v;
        break;
      case 7:
        if (!parse_num(val, 1, 100, &v)) goto bad;
        f->max_attempts = (int)v;
        break;
      case 8: f->converter = val; break;
      case 9:
        if (!parse_num(val, 5, 86400, &v)) goto bad;
        f->lease_s = (int)v;
        break;
    }
    continue;
  bad:
    fprintf(stderr, "tod serve: %s: '%s' is out of range\n", names[which], val);
    return 0;
  }
  return 1;
}

static int random_hex(char *out, size_t bytes) {
  unsigned char buf[64];
  if (bytes > sizeof buf) return 0;
  FILE *f = fopen("/dev/urandom", "rb");
  if (!f) return 0;
  size_t got = fread(buf, 1, bytes, f);
  fclose(f);
  if (got != bytes) return 0;
  for (size_t i = 0; i < bytes; i++) snprintf(out + 2 * i, 3, "%02x", buf[i]);
  return 1;
}

/* TOD_TOKEN wins; else the stored hash; else a new token, printed once. */
static int setup_token(tod_store *s, char hash[65]) {
  const char *env = getenv("TOD_TOKEN");
  if (env && *env) {
    for (const char *p = env; *p; p++)
      if ((unsigned char)*p <= ' ' || *p == 0x7f) {
        fprintf(stderr, "tod serve: TOD_TOKEN may not hold spaces or control characters\n");
        return 0;
      }
    tod_sha256_hex(env, strlen(env), hash);
    if (s->ops->meta_set(s, "token_sha256", hash) != TOD_STORE_OK) goto fail;
    return 1;
  }
  tod_store_rc rc = s->ops->meta_get(s, "token_sha256", hash, 65);
  if (rc == TOD_STORE_OK && strlen(hash) == 64) return 1;
  if (rc == TOD_STORE_ERROR) goto fail;
  char token[65];
  if (!random_hex(token, 24)) {
    fprintf(stderr, "tod serve: cannot read /dev/urandom\n");
    return 0;
  }
  tod_sha256_hex(token, strlen(token), hash);
  if (s->ops->meta_set(s, "token_sha256", hash) != TOD_STORE_OK) goto fail;
  printf("access token: %s\n", token);
  fflush(stdout);
  return 1;
fail:
  fprintf(stderr, "tod serve: %s\n", s->error);
  return 0;
}

/* converter_lite lives next to the tod binary. */
static int find_converter(char *out, size_t n) {
  char self[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) return 0;
  self[len] = 0;
  char *slash = strrchr(self, '/');
  if (!slash) return 0;
  *slash = 0;
  snprintf(out, n, "%s/converter_lite", self);
  return access(out, X_OK) == 0;
}

/* One process per SQLite data directory: a second one would re-queue the first one's tasks. */
static int lock_data_dir(const char *dir) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/lock", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (fcntl(fd, F_SETLK, &fl) != 0) {
    close(fd);
    return -2;
  }
  return fd;
}

int tod_serve_main(int argc, char **argv) {
  serve_flags f = {"127.0.0.1:8080", "./tod-data", ".", NULL, NULL, 2, 600, 3, 60, DEFAULT_MEM_LIMIT_MB};
  int pr = parse_flags(argc, argv, &f);
  if (pr == 2) {
    usage(stdout);
    return 0;
  }
  if (!pr) {
    usage(stderr);
    return 2;
  }
  char host[64];
  long port = 0;
  const char *colon = strrchr(f.listen, ':');
  if (!colon || colon == f.listen || (size_t)(colon - f.listen) >= sizeof host || !parse_num(colon + 1, 0, 65535, &port)) {
    fprintf(stderr, "tod serve: --listen wants HOST:PORT, not '%s'\n", f.listen);
    return 2;
  }
  memcpy(host, f.listen, (size_t)(colon - f.listen));
  host[colon - f.listen] = 0;

  char root_real[PATH_MAX], converter[PATH_MAX], err[1024];
  struct stat st;
  if (!realpath(f.root, root_real) || stat(root_real, &st) != 0 || !S_ISDIR(st.st_mode)) {
    fprintf(stderr, "tod serve: --root '%s' is not a directory\n", f.root);
    return 1;
  }
  if (f.converter) snprintf(converter, sizeof converter, "%s", f.converter);
  else if (!find_converter(converter, sizeof converter)) {
    fprintf(stderr, "tod serve: converter_lite not found next to the tod binary; pass --converter\n");
    return 1;
  }
  if (access(converter, X_OK) != 0) {
    fprintf(stderr, "tod serve: converter '%s' is not executable\n", converter);
    return 1;
  }

  int lock_fd = -1;
  tod_store *store;
  if (f.db) {
    store = tod_store_pg_open(f.db, err, sizeof err);
  } else {
    if (mkdir(f.data, 0700) != 0 && errno != EEXIST) {
      fprintf(stderr, "tod serve: cannot create --data '%s': %s\n", f.data, strerror(errno));
      return 1;
    }
    lock_fd = lock_data_dir(f.data);
    if (lock_fd < 0) {
      fprintf(stderr, "tod serve: %s '%s'\n",
              lock_fd == -2 ? "another tod serve is using the data directory" : "cannot lock the data directory",
              f.data);
      return 1;
    }
    store = tod_store_sqlite_open(f.data, err, sizeof err);
  }
  if (!store) {
    fprintf(stderr, "tod serve: %s\n", err);
    if (lock_fd >= 0) close(lock_fd);
    return 1;
  }
  int rc = 1;
  tod_api api;
  memset(&api, 0, sizeof api);
  api.store = store;
  api.root_real = root_real;
  tod_worker_pool *pool = NULL;
  tod_http *http = NULL;
  if (!setup_token(store, api.token_hash)) goto out;

  if (!f.db) {
    int requeued = 0, failed = 0;
    if (store->ops->recover(store, f.max_attempts, 0, &requeued, &failed) != TOD_STORE_OK) {
      fprintf(stderr, "tod serve: %s\n", store->error);
      goto out;
    }
    if (requeued || failed)
      fprintf(stderr, "tod serve: %d interrupted task(s) re-queued, %d failed after %d attempts\n", requeued, failed,
              f.max_attempts);
  }

  /* Signals are taken by sigwait below; every thread created from here on inherits the mask. */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  char hostname[256] = "localhost", worker_name[300];
  gethostname(hostname, sizeof hostname - 1);
  hostname[sizeof hostname - 1] = 0;
  snprintf(worker_name, sizeof worker_name, "%s:%ld", hostname, (long)getpid());
  tod_worker_config wc = {store, root_real, converter, worker_name, f.workers, f.timeout_s, f.mem_limit_mb,
                          f.db ? 500 : 1000, f.db ? f.lease_s : 0, f.max_attempts};
  pool = tod_worker_pool_start(&wc, err, sizeof err);
  if (!pool) {
    fprintf(stderr, "tod serve: %s\n", err);
    goto out;
  }
  api.pool = pool;
  int bound = 0;
  http = tod_http_start(&api, host, (int)port, &bound, err, sizeof err);
  if (!http) {
    fprintf(stderr, "tod serve: %s\n", err);
    goto out;
  }
  printf("listening on http://%s:%d\n", host, bound);
  fflush(stdout);
  fprintf(stderr, "tod serve: %d worker(s) as %s, root %s, converter %s\n", f.workers, worker_name, root_real,
          converter);
  int sig = 0;
  sigwait(&sigs, &sig);
  fprintf(stderr, "tod serve: signal %d: draining running conversions\n", sig);
  rc = 0;
out:
  tod_http_stop(http);        /* no new requests */
  tod_worker_pool_stop(pool); /* running conversions finish */
  store->ops->close(store);
  if (lock_fd >= 0) close(lock_fd);
  if (rc == 0) fprintf(stderr, "tod serve: stopped\n");
  return rc;
}
