/* Custom node types (see custom_ops.h; semantics in docs/ops.md). */
#include "ir/custom_ops.h"

#include <string.h>

const custom_op_info custom_ops[CUSTOM_COUNT] = {
    [CUSTOM_Tan] = {"Tan", 1, ""},
    [CUSTOM_Sinh] = {"Sinh", 1, ""},
    [CUSTOM_Cosh] = {"Cosh", 1, ""},
    [CUSTOM_Asin] = {"Asin", 1, ""},
    [CUSTOM_Acos] = {"Acos", 1, ""},
    [CUSTOM_Atan] = {"Atan", 1, ""},
    [CUSTOM_Asinh] = {"Asinh", 1, ""},
    [CUSTOM_Acosh] = {"Acosh", 1, ""},
    [CUSTOM_Atanh] = {"Atanh", 1, ""},
    [CUSTOM_IsNaN] = {"IsNaN", 1, ""},
    [CUSTOM_IsInf] = {"IsInf", 1, "detect_positive, detect_negative"},
    [CUSTOM_Shrink] = {"Shrink", 1, "bias, lambd"},
    [CUSTOM_BitShift] = {"BitShift", 2, "left (1 for LEFT, 0 for RIGHT)"},
    [CUSTOM_EyeLike] = {"EyeLike", 1, "k, dtype (IR dtype of the output)"},
    [CUSTOM_Hardmax] = {"Hardmax", 1, "axis, flatten (1 before opset 13: one lane over [axis, rank))"},
    [CUSTOM_Mod] = {"Mod", 2, "fmod (1: truncated remainder, sign of the dividend; 0: floored)"},
    [CUSTOM_Conv3D] = {"Conv", 3, "kernel[3], strides[3], dilations[3], pads begin[3], pads end[3], group"},
    [CUSTOM_MaxPool3D] = {"MaxPool", 1, "kernel[3], strides[3], dilations[3], pads begin[3], pads end[3], ceil_mode"},
    [CUSTOM_AvgPool3D] = {"AveragePool", 1, "kernel[3], strides[3], dilations[3], pads begin[3], pads end[3], ceil_mode, count_include_pad"},
    [CUSTOM_RNN] = {"RNN", 6, "(none: inputs as LSTM/GRU in docs/ops.md)"},
    [CUSTOM_Einsum] = {"Einsum", 1, "equation (character codes); inputs: all but the trailing attrs"},
};

int custom_type_of(const char *type) {
  if (!type) return -1;
  for (int i = 0; i < CUSTOM_COUNT; i++)
    if (strcmp(custom_ops[i].name, type) == 0) return i;
  return -1;
}

int custom_n_data(int type) { return type >= 0 && type < CUSTOM_COUNT ? custom_ops[type].n_data : 0; }

long long custom_window_out(long long in, long long k, long long s, long long d, long long p0,
                            long long p1, int ceil_mode) {
  if (in < 0 || k < 1 || s < 1 || d < 1 || p0 < 0 || p1 < 0) return -1;
  long long span = in + p0 + p1 - d * (k - 1) - 1;
  if (span < 0) return -1;
  long long out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p0) out--;
  return out;
}

/* Labels: letters map to 0..51 through a table built in order of appearance; "..." takes
 * up to 8 reserved labels for the broadcast dims (right-aligned across inputs). */
int custom_einsum_parse(const double *a, int n, int n_in, const int *ranks, custom_einsum *e) {
  char eq[CUSTOM_MAX_ATTRS + 1];
  if (n < 1 || n > CUSTOM_MAX_ATTRS || n_in < 1 || n_in > 8) return -1;
  for (int i = 0; i < n; i++) {
    if (a[i] < 32 || a[i] > 126) return -1;
    eq[i] = (char)a[i];
  }
  eq[n] = 0;
  memset(e, 0, sizeof *e);
  e->n_in = n_in;
  int map[128], next = 8, ell = 0; /* labels 0..7: ellipsis dims */
  for (int i = 0; i < 128; i++) map[i] = -1;
  const char *p = eq, *arrow = strstr(eq, "->");
  int seen_count[128] = {0};
  for (int t = 0; t < n_in; t++) {
    int k = 0, has_ell = 0, letters = 0;
    const char *q = p;
    while (*q && *q != ',' && q != arrow) {
      if (*q == '.') {
        if (q[1] != '.' || q[2] != '.' || has_ell) return -1;
        has_ell = 1, q += 3;
        continue;
      }
      if (*q != ' ') letters++;
      q++;
    }
    int ne = has_ell ? ranks[t] - letters : 0;
    if (ne < 0 || ranks[t] > 8 || (!has_ell && letters != ranks[t])) return -1;
    if (ne > ell) ell = ne;
    for (q = p; *q && *q != ',' && q != arrow;) {
      if (*q == '.') {
        for (int j = 0; j < ne; j++) e->label[t][k++] = 8 - ne + j;
        q += 3;
        continue;
      }
      if (*q == ' ') { q++; continue; }
      unsigned char ch = (unsigned char)*q;
      if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))) return -1;
      if (map[ch] < 0) map[ch] = next++;
      seen_count[ch]++;
      e->label[t][k++] = map[ch];
      q++;
    }
    e->rank[t] = k;
    p = q;
    if (t < n_in - 1) {
      if (*p != ',') return -1;
      p++;
    }
  }
  if (*p && p != arrow) return -1;
  e->n_labels = next;
  if (arrow) {
    int k = 0;
    for (const char *q = arrow + 2; *q; q++) {
      if (*q == ' ') continue;
      if (*q == '.') {
        if (q[1] != '.' || q[2] != '.') return -1;
        for (int j = 0; j < ell && k < 8; j++) e->out_label[k++] = 8 - ell + j;
        q += 2;
        continue;
      }
      unsigned char ch = (unsigned char)*q;
      if (ch >= 128 || map[ch] < 0 || k >= 8) return -1;
      e->out_label[k++] = map[ch];
    }
    e->out_rank = k;
  } else {
    int k = 0;
    for (int j = 0; j < ell; j++) e->out_label[k++] = 8 - ell + j;
    for (int ch = 'A'; ch <= 'z'; ch++)
      if (ch < 128 && seen_count[ch] == 1 && k < 8) e->out_label[k++] = map[ch];
    e->out_rank = k;
  }
  return 0;
}
