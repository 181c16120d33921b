/* The Custom node types tod implements (ONNX operators without a MindSpore Lite primitive): the
 * `type` string is the ONNX operator name, data inputs come first, then an optional float64
 * constant `attrs` input with the ONNX attributes in the order listed in src/ir/custom_ops.c. */
#ifndef TOD_IR_CUSTOM_OPS_H
#define TOD_IR_CUSTOM_OPS_H

#define CUSTOM_MAX_ATTRS 64

enum {
  CUSTOM_Tan, CUSTOM_Sinh, CUSTOM_Cosh, CUSTOM_Asin, CUSTOM_Acos, CUSTOM_Atan, CUSTOM_Asinh,
  CUSTOM_Acosh, CUSTOM_Atanh, CUSTOM_IsNaN, CUSTOM_IsInf, CUSTOM_Shrink, CUSTOM_BitShift,
  CUSTOM_EyeLike, CUSTOM_Hardmax, CUSTOM_Mod, CUSTOM_Conv3D, CUSTOM_MaxPool3D, CUSTOM_AvgPool3D, CUSTOM_RNN, CUSTOM_Einsum, CUSTOM_COUNT
};

typedef struct {
  const char *name;   /* ONNX operator name = Custom type */
  int n_data;         /* data inputs before `attrs` */
  const char *attrs;  /* attribute order in `attrs`, for docs ("" when none) */
} custom_op_info;

extern const custom_op_info custom_ops[CUSTOM_COUNT];
/* CUSTOM_* for a type string, -1 when unknown. */
int custom_type_of(const char *type);
int custom_n_data(int type);
/* Output spatial size of a 3-D window op along one axis (floor or ceil rounding, ONNX rule that a
 * window starting in the end padding is dropped); -1 when invalid. */
long long custom_window_out(long long in, long long k, long long s, long long d, long long p0,
                            long long p1, int ceil_mode);

/* A parsed Einsum equation over inputs of the given ranks: per input and for the output, the
 * label (0..51) of each axis, with "..." expanded to the broadcast labels. */
typedef struct {
  int n_in;
  int rank[8], label[8][8];
  int out_rank, out_label[8];
  int n_labels; /* labels are 0..n_labels-1 */
} custom_einsum;
/* Parses the equation held as character codes in a[0..n); 0 on success. */
int custom_einsum_parse(const double *a, int n, int n_in, const int *ranks, custom_einsum *e);

#endif
