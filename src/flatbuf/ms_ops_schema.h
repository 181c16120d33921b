/* The fields of each MindSpore Lite primitive table (ops.fbs), in slot order, so the .ms writer
 * and reader can map IR attributes (keyed by field name) to flatbuffer fields generically. */
#ifndef TOD_MS_OPS_SCHEMA_H
#define TOD_MS_OPS_SCHEMA_H

#include <stdint.h>

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

/* The tables hold no pointers (a static device library pays a relocation for each): names are
 * offsets into ms_schema_names, a primitive's fields a range of ms_fields. */
typedef struct {
  uint16_t name; /* ops.fbs field name = IR attribute key (MS_NAME) */
  uint8_t kind;  /* ms_field_kind */
  double dflt;   /* schema default for scalars */
} ms_field;

typedef struct {
  uint16_t name;     /* primitive name (MS_NAME) */
  uint16_t first;    /* slot 0 in ms_fields; slot i has vtable offset 4 + 2*i */
  uint16_t n_fields;
} ms_prim_schema;

extern const char ms_schema_names[];
extern const ms_field ms_fields[];
/* Indexed by IR_OP_*; entry 0 is empty. */
extern const ms_prim_schema ms_prim_schemas[];
extern const int ms_prim_count;

#define MS_NAME(off) (ms_schema_names + (off))
/* Field (slot) k of primitive schema ps. */
#define MS_FIELD(ps, k) (&ms_fields[(ps)->first + (k)])

#endif
