/* Files in and out: read-only mappings of model files, and crash-safe writes. */
#ifndef TOD_FORMAT_FILE_IO_H
#define TOD_FORMAT_FILE_IO_H

#include <stddef.h>
#include <stdint.h>

#include "tod/status.h"

typedef struct {
  const uint8_t *data; /* NULL for an empty file */
  size_t size;
} tod_mapped_file;

/* Maps a whole file read-only. TOD_GRAPH_FILE_ERR (with a message) when it cannot be opened
 * or is not a regular file. Unmap with tod_unmap_file. */
tod_status tod_map_file(const char *path, tod_mapped_file *out, char *err, size_t errlen);
/* The same, keeping the file open: *fd (the caller closes it; -1 for an empty file) reads the
 * very file that is mapped, e.g. for tod_atomic_copy. */
tod_status tod_map_file_fd(const char *path, tod_mapped_file *out, int *fd, char *err, size_t errlen);
/* Maps a whole file copy-on-write: writes change this process's pages, never the file. A
 * training session updates weights in place this way without copying them at load. */
tod_status tod_map_file_private(const char *path, tod_mapped_file *out, char *err, size_t errlen);
void tod_unmap_file(tod_mapped_file *m);

/* Writes data to path crash-safely: a temporary file in the same directory, fsync, rename.
 * On failure nothing is left at path (nor a temporary file). */
tod_status tod_write_file_atomic(const char *path, const void *data, size_t size, char *err,
                                 size_t errlen);

/* The same, in pieces: open, write any number of times, then commit (fsync, rename) or abort
 * (the temporary file is removed). After a failed write only abort is valid. */
typedef struct {
  int fd;
  char *tmp, *path;
  char *err;
  size_t errlen;
  uint64_t written, kicked; /* bytes written; bytes whose write-back has been started */
  int no_copy_range;        /* copy_file_range failed once: tod_atomic_copy writes data */
} tod_atomic_file;
tod_status tod_atomic_open(tod_atomic_file *f, const char *path, char *err, size_t errlen);
tod_status tod_atomic_write(tod_atomic_file *f, const void *data, size_t size);
/* Appends size bytes of the file src_fd from src_off, which are also mapped at data: copied in
 * the kernel (copy_file_range: no page of data is mapped in or faulted), or written from data
 * where that is not supported. */
tod_status tod_atomic_copy(tod_atomic_file *f, int src_fd, uint64_t src_off, const void *data, size_t size);
tod_status tod_atomic_commit(tod_atomic_file *f);
void tod_atomic_abort(tod_atomic_file *f);

#endif
