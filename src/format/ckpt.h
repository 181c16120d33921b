/* MindSpore checkpoint files (.ckpt): one protobuf message `Checkpoint` (../shared/formats/ckpt.md)
 *
 *   Checkpoint  { repeated Value value = 1; }
 *   Value       { required string tag = 1; required TensorProto tensor = 2; }
 *   TensorProto { repeated int64 dims = 1; required string tensor_type = 2;
 *                 required bytes tensor_content = 3; }
 *
 * The writer emits dims unpacked (proto2's default, as MindSpore does); the reader accepts both
 * packed and unpacked dims. The reader is zero-copy over the caller's bytes and checks every
 * length: a truncated or corrupt file is TOD_GRAPH_FILE_ERR with a message, never a crash.
 */
#ifndef TOD_FORMAT_CKPT_H
#define TOD_FORMAT_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "format/file_io.h"
#include "ir/ir.h"
#include "proto/pb.h"
#include "tod/status.h"

/* One named tensor of a checkpoint. For values read from a file, name is owned by the ckpt_file
 * and data points into its bytes; for values to write, everything is borrowed from the caller. */
typedef struct {
  const char *name;
  int dtype; /* IR_DT_* */
  int ndim;
  int64_t dims[IR_MAX_DIMS];
  const void *data;
  size_t nbytes;
} ckpt_value;

typedef struct {
  ckpt_value *values; /* owned */
  int n;
  char *names;            /* owned: the NUL-terminated names, back to back */
  tod_mapped_file file;   /* when read with ckpt_read_file */
} ckpt_file;

/* MindSpore's element type name ("Float32", "Int32", ...) of an IR_DT_*, or NULL. */
const char *ckpt_dtype_name(int dtype);
/* IR_DT_* of a MindSpore type name, IR_DT_UNKNOWN when unknown. */
int ckpt_dtype_from_name(const char *s, size_t len);

/* Serializes n values into out (appended). TOD_PARAM_INVALID when a value's byte size does not
 * match its shape and type; TOD_MEMORY_FAILED when out could not grow. */
tod_status ckpt_serialize(const ckpt_value *v, int n, pb_buf *out, char *err, size_t errlen);

/* Serializes and writes atomically: temporary file, fsync, rename, then fsync of the directory,
 * so that after a crash the path holds either nothing, the old file or the complete new one. */
tod_status ckpt_write_file(const char *path, const ckpt_value *v, int n, char *err, size_t errlen);

/* Parses size bytes (borrowed: they must outlive out). A checkpoint with no value, a duplicate
 * tag, an unknown type, or content whose size does not match dims is TOD_GRAPH_FILE_ERR. */
tod_status ckpt_parse(const uint8_t *data, size_t size, ckpt_file *out, char *err, size_t errlen);
/* Maps path and parses it; out owns the mapping. */
tod_status ckpt_read_file(const char *path, ckpt_file *out, char *err, size_t errlen);
void ckpt_file_free(ckpt_file *f);
/* The value named name, or NULL. */
const ckpt_value *ckpt_find(const ckpt_file *f, const char *name);

/* fsync of the directory holding path (so a rename in it is durable). */
tod_status ckpt_sync_dir_of(const char *path, char *err, size_t errlen);

#endif
