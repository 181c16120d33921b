/* The fields of each MindSpore Lite primitive table (ops.fbs), in slot order, so the .ms writer
 * and reader can map IR attributes (keyed by field name) to flatbuffer fields generically. */
#ifndef TOD_MS_OPS_SCHEMA_H
#define TOD_MS_OPS_SCHEMA_H

#include "ir/ir_op.h"

typedef enum {
  MS_F_I8,    /* byte enums */
  MS_F_I32,   /* int, int enums (Format) */
  MS_F_I64,   /* long */
  MS_F_BOOL,
  MS_F_F32,
  MS_F_VI64,  /* [long] */
  MS_F_VI32,  /* [int] */
  MS_F_VF32,  /* [float] */
  MS_F_STR,   /* string */
  MS_F_VEC2D, /* Vec2D { data: [Vec { data: [long] }] } */
  MS_F_ATTRS  /* [Attribute] (Custom only) */
} ms_field_kind;

typedef struct {
  const char *name;  /* ops.fbs field name = IR attribute key */
  ms_field_kind kind;
  double dflt;       /* schema default for scalars */
} ms_field;

typedef struct {
  const char *name; /* primitive name */
  const ms_field *fields; /* slot i = fields[i]; vtable offset 4 + 2*i */
  int n_fields;
} ms_prim_schema;

/* Indexed by IR_OP_*; entry 0 is empty. */
extern const ms_prim_schema ms_prim_schemas[];
extern const int ms_prim_count;

#endif
