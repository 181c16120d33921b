/* NumPy .npy files: the tensor exchange format of the tod CLI and the tests. */
#ifndef TOD_FORMAT_NPY_H
#define TOD_FORMAT_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "tod/status.h"

typedef struct {
  int dtype; /* MindSpore TypeId (IR_DT_*) */
  int ndim;
  int64_t dims[8];
  void *data; /* owned, malloc'd */
  size_t nbytes;
} tod_npy;

/* Reads a C-ordered little-endian .npy file (versions 1-3). TOD_INPUT_PARAM_INVALID with a
 * message for anything else. Free with tod_npy_free. */
tod_status tod_npy_read(const char *path, tod_npy *out, char *err, size_t errlen);
/* Parses size bytes of a .npy file (named path in messages, may be NULL); every length and dim
 * is checked against size before anything is allocated. The data is copied into out. */
tod_status tod_npy_parse(const uint8_t *data, size_t size, const char *path, tod_npy *out, char *err,
                         size_t errlen);
void tod_npy_free(tod_npy *a);
/* Writes a .npy file (version 1.0) atomically. */
tod_status tod_npy_write(const char *path, int dtype, int ndim, const int64_t *dims,
                         const void *data, size_t nbytes, char *err, size_t errlen);

#endif
