/* MindSpore Lite .ms file -> IR graph.
 *
 * The whole buffer is verified while it is read (flatbuf/fb_reader.h): every offset, length and
 * index is checked, and every tensor/node index must name an existing tensor. Malformed input
 * gives TOD_GRAPH_FILE_ERR, a file identifier other than "MSL2" too (message says which).
 * TOD_NOT_SUPPORT for valid files tod cannot represent: a primitive type beyond ops.fbs's
 * union, several subgraphs (control flow), obfuscated models, externalData tensors, rank > 8.
 *
 * What the IR receives:
 * - tensors: name, dtype, dims (absent or empty: ndim 0, a scalar, as MindSpore Lite reads
 *   it; its own files omit dims for scalars), format, quant params, clusters, compress type.
 *   kind: INPUT for tensors listed in MetaGraph.inputIndex (any data they carry is dropped),
 *   else CONST for nodeType 0 with a data vector (even an empty one), else ACT. Constant data
 *   is BORROWED from `data` (zero copy, so `data` must outlive the graph),
 *   except when its address is not a multiple of the dtype size: then it is copied.
 * - nodes: op = the union type byte; attributes are read generically through ms_prim_schemas.
 *   Rule for absent attributes: ONLY fields stored in the buffer become IR attributes. A field
 *   the file omits (MindSpore Lite's writer omits every scalar equal to its schema default) is
 *   absent from the IR, and consumers must pass the schema default to ir_attr_int /
 *   ir_attr_float (MS_FIELD(&ms_prim_schemas[op], k)->dflt holds it). Custom's [Attribute] list is
 *   verified but not kept. Vec2D rows must all have the same length.
 * - graph inputs/outputs: MetaGraph.inputIndex/outputIndex (the first SubGraph's lists when the
 *   MetaGraph has none); nodes: MetaGraph.nodes in file order.
 * - name, version, fmk_type from the MetaGraph.
 */
#ifndef TOD_FORMAT_MS_READ_H
#define TOD_FORMAT_MS_READ_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"
#include "tod/status.h"

/* Fills g (initialized here; any previous content is not freed) from the .ms buffer. On failure
 * g is left empty (nothing to free, ir_graph_free is harmless) and err holds the reason. */
tod_status ms_read(const uint8_t *data, size_t size, ir_graph *g, char *err, size_t errlen);

#endif
