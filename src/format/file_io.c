/* Read-only file mappings and crash-safe writes. */
#include "format/file_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static tod_status map_file(const char *path, int prot, tod_mapped_file *out, char *err, size_t errlen) {
  out->data = NULL;
  out->size = 0;
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
  close(fd);
  if (p == MAP_FAILED) {
    snprintf(err, errlen, "cannot map %s: %s", path, strerror(errno));
    return TOD_GRAPH_FILE_ERR;
  }
  out->data = p;
  out->size = (size_t)st.st_size;
  return TOD_OK;
}

tod_status tod_map_file(const char *path, tod_mapped_file *out, char *err, size_t errlen) {
  return map_file(path, PROT_READ, out, err, errlen);
}

tod_status tod_map_file_private(const char *path, tod_mapped_file *out, char *err, size_t errlen) {
  return map_file(path, PROT_READ | PROT_WRITE, out, err, errlen);
}

void tod_unmap_file(tod_mapped_file *m) {
  if (m->data) munmap((void *)m->data, m->size);
  m->data = NULL;
  m->size = 0;
}

tod_status tod_write_file_atomic(const char *path, const void *data, size_t size, char *err,
                                 size_t errlen) {
  size_t n = strlen(path);
  char *tmp = malloc(n + 32);
  if (!tmp) return TOD_MEMORY_FAILED;
  snprintf(tmp, n + 32, "%s.tmp.%ld", path, (long)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
    free(tmp);
    return TOD_ERROR;
  }
  const uint8_t *p = data;
  size_t left = size;
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
      close(fd);
      unlink(tmp);
      free(tmp);
      return TOD_ERROR;
    }
    p += w;
    left -= (size_t)w;
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    snprintf(err, errlen, "cannot flush %s: %s", tmp, strerror(errno));
    unlink(tmp);
    free(tmp);
    return TOD_ERROR;
  }
  if (rename(tmp, path) != 0) {
    snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    unlink(tmp);
    free(tmp);
    return TOD_ERROR;
  }
  free(tmp);
  return TOD_OK;
}
