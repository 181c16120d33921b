/* IR graph -> MindSpore Lite .ms file (a FlatBuffers MetaGraph, identifier "MSL2").
 *
 * Mapping (see docs/ops.md and shared/formats/ms.md):
 * - MetaGraph: name (g->name or ""), version (g->version, or MS_WRITE_DEFAULT_VERSION when the
 *   graph has none), fmkType = g->fmk_type, inputIndex/outputIndex, nodes, allTensors, and one
 *   SubGraph "<name>_subgraph" listing every node and tensor.
 * - Tensor: nodeType 0 for INPUT and CONST tensors, 2 otherwise; dataType, dims (-1 entries kept; an
 *   unknown rank, ndim -1, cannot be expressed and is written without dims, which reads back as
 *   a scalar; a constant of unknown rank is TOD_NOT_SUPPORT), format, data (CONST only; starts 64-byte aligned from the
 *   buffer start), quantParams (narrowRange written false as MindSpore's converter does),
 *   quantClusters, name, weightQuantCompressType.
 * - CNode: name, Primitive{value: union, type byte = node op}, inputIndex (trailing absent
 *   inputs, index -1, dropped; a -1 before a present input is TOD_NOT_SUPPORT), outputIndex,
 *   quantType; deviceType left at its default -1.
 * - The primitive table is built from the node's attributes by ms_prim_schemas: the attribute
 *   key names the field. INT -> byte/int/long/bool fields (range-checked), FLOAT (or INT) ->
 *   float, INTS -> [long]/[int], FLOATS -> [float], STRING -> string, INTS2D -> Vec2D. Every
 *   attribute present in the IR is stored, even when equal to the schema default, so a
 *   write/read round trip gives back exactly the same attribute set. A key that is not a field
 *   of the primitive, or a kind that does not fit the field, is TOD_INVALID_OP_ATTR.
 */
#ifndef TOD_FORMAT_MS_WRITE_H
#define TOD_FORMAT_MS_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"
#include "tod/status.h"
#include "tod/tod.h"

#define MS_WRITE_DEFAULT_VERSION "tod " TOD_VERSION " (MindSpore Lite schema)"

/* Serializes g. On success *buf (malloc'd, owned by the caller, free() it) holds *len bytes.
 * On failure *buf is NULL and err (errlen bytes, may be NULL) holds the reason. */
tod_status ms_serialize(const ir_graph *g, uint8_t **buf, size_t *len, char *err, size_t errlen);

/* Serializes g and writes it to path atomically (tod_write_file_atomic). */
tod_status ms_write_file(const ir_graph *g, const char *path, char *err, size_t errlen);

#endif
