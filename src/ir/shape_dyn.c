/* Value inputs resolved at run time: StridedSlice's five-input (ONNX Slice) form. */
#include <stdint.h>

#include "ir/shape_util.h"

static int64_t clamp32(int64_t v) { return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : v; }

int shape_onnx_slice_full(const tod_view *in, int n_in, int rank, int64_t *begin, int64_t *end,
                          int64_t *strides) {
  int64_t st[IR_MAX_DIMS], en[IR_MAX_DIMS], ax[IR_MAX_DIMS], sp[IR_MAX_DIMS];
  if (n_in < 5 || rank < 0 || rank > IR_MAX_DIMS) return -2;
  int ns = shape_read_ints(&in[1], st, IR_MAX_DIMS), ne = shape_read_ints(&in[2], en, IR_MAX_DIMS);
  if (ns == -1 || ne == -1) return -1;
  if (ns < 0 || ne != ns) return -2;
  int na = 0, np = 0;
  if (in[3].ndim >= 0 && shape_numel(&in[3]) != 0) {
    na = shape_read_ints(&in[3], ax, IR_MAX_DIMS);
    if (na == -1) return -1;
    if (na != ns) return -2;
  }
  if (in[4].ndim >= 0 && shape_numel(&in[4]) != 0) {
    np = shape_read_ints(&in[4], sp, IR_MAX_DIMS);
    if (np == -1) return -1;
    if (np != ns) return -2;
  }
  char seen[IR_MAX_DIMS] = {0};
  for (int i = 0; i < rank; i++) begin[i] = 0, end[i] = INT32_MAX, strides[i] = 1;
  for (int i = 0; i < ns; i++) {
    int a;
    if (!shape_norm_axis(na ? ax[i] : i, rank, &a) || seen[a]) return -2;
    seen[a] = 1;
    begin[a] = clamp32(st[i]);
    end[a] = clamp32(en[i]);
    strides[a] = np ? sp[i] : 1;
    if (strides[a] == 0 || strides[a] < INT32_MIN || strides[a] > INT32_MAX) return -2;
  }
  return 0;
}
