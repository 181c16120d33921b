/* Pages of a model file the IR borrows from, released as the graph stops using them.
 *
 * Import borrows weights from the read-only mapping of the source file; passes (BatchNorm
 * folding, the KCHW -> KHWC layout) replace them with rewritten copies. Without help the
 * process then holds both: the source pages stay resident until the file is unmapped. Once a
 * mapping is registered here, replacing a borrowed tensor's data drops the whole pages that
 * only that tensor covered (MADV_DONTNEED: a file-backed private mapping re-reads them from
 * the file if anyone touches them again, so this never changes what a reader sees). Readers
 * also drop the whole mapping as they go: a touch can map a 2 MiB page-cache folio (a freshly
 * written file is cached in such folios), far more than what was read. */
#ifndef TOD_IR_SOURCE_PAGES_H
#define TOD_IR_SOURCE_PAGES_H

#include <stddef.h>
#include <stdint.h>

/* Registers [base, base + size) as a read-only private file mapping (at most 16 at a time;
 * beyond that registration is ignored and nothing is released). Unregister it before it is
 * unmapped: the address range may be reused by other memory afterwards. Thread-safe. */
void ir_source_register(const void *base, size_t size);
void ir_source_unregister(const void *base);
/* Names the open file mapped at base (registered): bytes of the mapping can then be copied from
 * the file itself (ir_source_file_range) without mapping them in. The caller keeps fd open until
 * the mapping is unregistered. */
void ir_source_set_file(const void *base, int fd);
/* 1 and the file and offset of [data, data + nbytes) when the range lies inside a registered
 * mapping whose file is known; 0 otherwise. */
int ir_source_file_range(const void *data, size_t nbytes, int *fd, uint64_t *offset);
/* Drops the whole pages of [data, data + nbytes) if the range lies inside a registered
 * mapping; otherwise does nothing. Always safe (a later read re-reads them from the file, at the
 * cost of a page fault): called when a tensor stops borrowing its range, and over a whole
 * mapping to give back what parsing touched (one touch can map a 2 MiB page-cache folio). */
void ir_source_release(const void *data, size_t nbytes);
/* Drops every page of the registered mapping that holds p (nothing if none does): for a reader
 * of borrowed bytes, as the kernel may map page-cache folios ahead of and around what it reads.
 * `consumed`: bytes read from the mapping since the caller's last call; the pages go once such
 * reads add up to IR_SOURCE_RELEASE_STEP (one madvise walks the whole mapping: once per small
 * tensor made a conversion's time grow with tensors x file size). */
void ir_source_release_around(const void *p, size_t consumed);
/* How often a pass reading a borrowed weight front to back gives the mapping's pages back
 * (ir_source_release_around): what is resident meanwhile is what the kernel mapped for this
 * many bytes of reading, a folio or two. */
#define IR_SOURCE_RELEASE_STEP ((size_t)256 << 10)
/* malloc for a weight the caller fills whole (an imported copy, a relaid-out or folded weight):
 * a large one asks for transparent huge pages, one page fault per 2 MiB instead of per 4 KiB
 * (half of a resnet18 conversion's faults). Only whole huge pages inside the block, so the
 * resident size is unchanged. Free it with free(). */
void *ir_weights_malloc(size_t nbytes);

#endif
