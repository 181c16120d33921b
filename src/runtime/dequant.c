/* Load-time weight decoding: see dequant.h. Compute stays float (the kernels' packed float
 * weights are as fast as they get); the saving is on disk and in flash. */
#define _DEFAULT_SOURCE /* madvise */
#include "runtime/dequant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ir/quant.h"

/* Drops the whole pages of [p, p + n) that lie inside the mapping. */
static void release_pages(const tod_mapped_file *f, const void *p, size_t n) {
  if (!f || !f->data || !p || !n) return;
  const uint8_t *a = p, *lo = f->data, *hi = f->data + f->size;
  if (a < lo || a + n > hi) return; /* not borrowed from the file */
  long ps = sysconf(_SC_PAGESIZE);
  if (ps <= 0) return;
  uintptr_t s = ((uintptr_t)a + (uintptr_t)ps - 1) & ~(uintptr_t)(ps - 1);
  uintptr_t e = ((uintptr_t)a + n) & ~(uintptr_t)(ps - 1);
  if (e > s) madvise((void *)s, e - s, MADV_DONTNEED);
}

tod_status tod_dequant_graph(ir_graph *g, const tod_mapped_file *file, int *n_decoded, char *err,
                             size_t errlen) {
  int count = 0;
  for (int ti = 0; ti < g->n_tensors; ti++) {
    ir_tensor *t = &g->tensors[ti];
    if (t->n_quant <= 0 && t->n_clusters <= 0) continue;
    if (t->kind != IR_TENSOR_CONST || !t->data) continue; /* activations: nothing stored */
    /* MindSpore Lite decodes only initialized params on integer data (others run int kernels,
     * which tod does not have: the kernels will refuse the integer tensor) */
    if (t->n_quant > 0 && (!t->quant[0].inited ||
                           (t->dtype != IR_DT_INT8 && t->dtype != IR_DT_INT16 && t->dtype != IR_DT_INT32)))
      continue;
    /* the first reader decides the channel axis, as in MindSpore Lite's scheduler */
    const ir_node *reader = NULL;
    int input = 0;
    for (int i = 0; i < g->n_nodes && !reader; i++)
      for (int j = 0; j < g->nodes[i].n_in; j++)
        if (g->nodes[i].in[j] == ti) {
          reader = &g->nodes[i];
          input = j;
          break;
        }
    if (!reader) continue;
    float *f;
    tod_status st = ir_quant_decode(g, t, reader, input, &f, err, errlen);
    if (st != TOD_OK) return st;
    const void *old = t->data;
    size_t old_n = t->nbytes;
    int64_t numel = ir_tensor_numel(t);
    ir_tensor_set_data_owned(t, f, (size_t)numel * sizeof(float));
    release_pages(file, old, old_n);
    t->dtype = IR_DT_FLOAT32;
    t->compress_type = 0;
    free(t->quant);
    t->quant = NULL;
    t->n_quant = 0;
    free(t->clusters);
    t->clusters = NULL;
    t->n_clusters = 0;
    count++;
    for (int i = 0; i < g->n_nodes; i++)
      for (int j = 0; j < g->nodes[i].n_in; j++)
        if (g->nodes[i].in[j] == ti) g->nodes[i].quant_type = 0;
  }
  /* Touching any byte of a file page maps its whole folio (up to 2 MB), so constants still used
   * in place next to the released codes (biases, float weights) would bring codes back in. A
   * quantized model therefore moves them out of the mapping, one at a time, and then releases
   * the whole mapping (the graph keeps no pointer into it; nothing has written to it yet). */
  if (count > 0 && file && file->data) {
    for (int ti = 0; ti < g->n_tensors; ti++) {
      ir_tensor *t = &g->tensors[ti];
      const uint8_t *d = t->data;
      if (t->owned || !d || d < file->data || d + t->nbytes > file->data + file->size) continue;
      void *copy = aligned_alloc(64, (t->nbytes + 63) & ~(size_t)63);
      if (!copy) {
        snprintf(err, errlen, "out of memory copying %s", t->name);
        return TOD_MEMORY_FAILED;
      }
      memcpy(copy, d, t->nbytes);
      ir_tensor_set_data_owned(t, copy, t->nbytes);
      release_pages(file, d, t->nbytes);
    }
    release_pages(file, file->data, file->size);
  }
  if (n_decoded) *n_decoded = count;
  return TOD_OK;
}
