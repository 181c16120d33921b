/* Pages of a model file the IR borrows from, released as the graph stops using them.
 *
 * Import borrows weights from the read-only mapping of the source file; passes (BatchNorm
 * folding, the KCHW -> KHWC layout) replace them with rewritten copies. Without help the
 * process then holds both: the source pages stay resident until the file is unmapped. Once a
 * mapping is registered here, replacing a borrowed tensor's data drops the whole pages that
 * only that tensor covered (MADV_DONTNEED: a file-backed private mapping re-reads them from
 * the file if anyone touches them again, so this never changes what a reader sees). */
#ifndef TOD_IR_SOURCE_PAGES_H
#define TOD_IR_SOURCE_PAGES_H

#include <stddef.h>

/* Registers [base, base + size) as a read-only private file mapping (at most 16 at a time;
 * beyond that registration is ignored and nothing is released). Unregister it before it is
 * unmapped: the address range may be reused by other memory afterwards. Thread-safe. */
void ir_source_register(const void *base, size_t size);
void ir_source_unregister(const void *base);
/* Called when a tensor stops borrowing [data, data + nbytes): drops its whole pages if the
 * range lies inside a registered mapping; otherwise does nothing. */
void ir_source_release(const void *data, size_t nbytes);

#endif
