/* Read-only file mappings and crash-safe writes. */
#define _GNU_SOURCE /* sync_file_range (Linux) */
#include "format/file_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static tod_status map_file(const char *path, int prot, tod_mapped_file *out, int *keep_fd, char *err,
                           size_t errlen) {
  out->data = NULL;
  out->size = 0;
  if (keep_fd) *keep_fd = -1;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return TOD_GRAPH_FILE_ERR;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "%s is not a regular file", path);
    close(fd);
    return TOD_GRAPH_FILE_ERR;
  }
  if (st.st_size == 0) {
    close(fd);
    return TOD_OK;
  }
  void *p = mmap(NULL, (size_t)st.st_size, prot, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) {
    snprintf(err, errlen, "cannot map %s: %s", path, strerror(errno));
    close(fd);
    return TOD_GRAPH_FILE_ERR;
  }
  if (keep_fd) *keep_fd = fd;
  else close(fd);
  out->data = p;
  out->size = (size_t)st.st_size;
  return TOD_OK;
}

tod_status tod_map_file(const char *path, tod_mapped_file *out, char *err, size_t errlen) {
  return map_file(path, PROT_READ, out, NULL, err, errlen);
}

tod_status tod_map_file_fd(const char *path, tod_mapped_file *out, int *fd, char *err, size_t errlen) {
  return map_file(path, PROT_READ, out, fd, err, errlen);
}

tod_status tod_map_file_private(const char *path, tod_mapped_file *out, char *err, size_t errlen) {
  return map_file(path, PROT_READ | PROT_WRITE, out, NULL, err, errlen);
}

void tod_unmap_file(tod_mapped_file *m) {
  if (m->data) munmap((void *)m->data, m->size);
  m->data = NULL;
  m->size = 0;
}

tod_status tod_atomic_open(tod_atomic_file *f, const char *path, char *err, size_t errlen) {
  memset(f, 0, sizeof *f);
  f->fd = -1;
  f->err = err;
  f->errlen = errlen;
  size_t n = strlen(path);
  f->tmp = malloc(n + 32);
  f->path = malloc(n + 1);
  if (!f->tmp || !f->path) {
    tod_atomic_abort(f);
    snprintf(err, errlen, "out of memory");
    return TOD_MEMORY_FAILED;
  }
  memcpy(f->path, path, n + 1);
  snprintf(f->tmp, n + 32, "%s.tmp.%ld", path, (long)getpid());
  f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (f->fd < 0) {
    snprintf(err, errlen, "cannot create %s: %s", f->tmp, strerror(errno));
    free(f->tmp);
    f->tmp = NULL; /* nothing to remove */
    tod_atomic_abort(f);
    return TOD_ERROR;
  }
  return TOD_OK;
}

static void kick_writeback(tod_atomic_file *f);

tod_status tod_atomic_write(tod_atomic_file *f, const void *data, size_t size) {
  const uint8_t *p = data;
  while (size > 0) {
    ssize_t w = write(f->fd, p, size);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      snprintf(f->err, f->errlen, "cannot write %s: %s", f->tmp, strerror(errno));
      return TOD_ERROR;
    }
    p += w;
    size -= (size_t)w;
    f->written += (uint64_t)w;
  }
  kick_writeback(f);
  return TOD_OK;
}

tod_status tod_atomic_copy(tod_atomic_file *f, int src_fd, uint64_t src_off, const void *data, size_t size) {
  const uint8_t *p = data;
  while (size > 0 && !f->no_copy_range) {
    loff_t in = (loff_t)src_off;
    ssize_t w = copy_file_range(src_fd, &in, f->fd, NULL, size, 0);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) { /* not supported here (or the source ended early): write() does the rest */
      f->no_copy_range = 1;
      break;
    }
    p += w, src_off += (uint64_t)w;
    size -= (size_t)w;
    f->written += (uint64_t)w;
  }
  if (size) return tod_atomic_write(f, p, size);
  kick_writeback(f);
  return TOD_OK;
}

static void kick_writeback(tod_atomic_file *f) {
#ifdef SYNC_FILE_RANGE_WRITE
  /* Starts the disk write-back of every full 8 MiB written so far, so that it overlaps the rest
   * of the work and the commit's fsync only waits for the tail (resnet18's conversion spent a
   * third of its time in fsync). A hint: a failure here is found again by fsync. (1, 2 and 4 MiB
   * were measured too: with tod_atomic_copy they were slower on a loaded machine, where every
   * call that blocks gives the CPU away; mobilenet_v2 32.0, 29.8, 29.6 ms against 28.0.) */
  const uint64_t chunk = (uint64_t)8 << 20;
  if (f->written - f->kicked >= chunk) {
    const uint64_t upto = f->written / chunk * chunk;
    (void)sync_file_range(f->fd, (off_t)f->kicked, (off_t)(upto - f->kicked), SYNC_FILE_RANGE_WRITE);
    f->kicked = upto;
  }
#else
  (void)f;
#endif
}

tod_status tod_atomic_commit(tod_atomic_file *f) {
  const int fd = f->fd;
  f->fd = -1;
  if (fsync(fd) != 0 || close(fd) != 0) {
    snprintf(f->err, f->errlen, "cannot flush %s: %s", f->tmp, strerror(errno));
    tod_atomic_abort(f);
    return TOD_ERROR;
  }
  if (rename(f->tmp, f->path) != 0) {
    snprintf(f->err, f->errlen, "cannot rename %s to %s: %s", f->tmp, f->path, strerror(errno));
    tod_atomic_abort(f);
    return TOD_ERROR;
  }
  free(f->tmp);
  free(f->path);
  f->tmp = f->path = NULL;
  return TOD_OK;
}

void tod_atomic_abort(tod_atomic_file *f) {
  if (f->fd >= 0) close(f->fd);
  if (f->tmp) unlink(f->tmp);
  free(f->tmp);
  free(f->path);
  f->fd = -1;
  f->tmp = f->path = NULL;
}

tod_status tod_write_file_atomic(const char *path, const void *data, size_t size, char *err,
                                 size_t errlen) {
  tod_atomic_file f;
  tod_status st = tod_atomic_open(&f, path, err, errlen);
  if (st != TOD_OK) return st;
  st = tod_atomic_write(&f, data, size);
  if (st != TOD_OK) {
    tod_atomic_abort(&f);
    return st;
  }
  return tod_atomic_commit(&f);
}
