/* The kernel registry: IR operator -> kernel_ops, one table indexed by IR_OP_*.
 *
 * The GEMM-based kernels (fast_kernels.h) are referenced weakly so libtod links while they are
 * being written; an absent one reads as NULL and kernel_lookup reports "no kernel". Note that a
 * weak reference does not make the linker pull an object out of a static archive: an executable
 * gets them only if their object file is linked for another reason (or libtod is linked whole). */
#include <stddef.h>

#include "runtime/kernel.h"

extern const kernel_ops kernel_Conv2DFusion;
extern const kernel_ops kernel_MatMulFusion;
extern const kernel_ops kernel_MaxPoolFusion;
extern const kernel_ops kernel_AvgPoolFusion;

extern const kernel_ops kernel_Activation;
extern const kernel_ops kernel_Elu;
extern const kernel_ops kernel_LeakyRelu;
extern const kernel_ops kernel_AddFusion;
extern const kernel_ops kernel_SubFusion;
extern const kernel_ops kernel_MulFusion;
extern const kernel_ops kernel_DivFusion;
extern const kernel_ops kernel_RealDiv;
extern const kernel_ops kernel_Maximum;
extern const kernel_ops kernel_Minimum;
extern const kernel_ops kernel_PowFusion;
extern const kernel_ops kernel_SquaredDifference;
extern const kernel_ops kernel_FloorDiv;
extern const kernel_ops kernel_FloorMod;
extern const kernel_ops kernel_Mod;
extern const kernel_ops kernel_Equal;
extern const kernel_ops kernel_NotEqual;
extern const kernel_ops kernel_Less;
extern const kernel_ops kernel_LessEqual;
extern const kernel_ops kernel_Greater;
extern const kernel_ops kernel_GreaterEqual;
extern const kernel_ops kernel_LogicalAnd;
extern const kernel_ops kernel_LogicalOr;
extern const kernel_ops kernel_Sqrt;
extern const kernel_ops kernel_Rsqrt;
extern const kernel_ops kernel_ExpFusion;
extern const kernel_ops kernel_Log;
extern const kernel_ops kernel_Neg;
extern const kernel_ops kernel_Abs;
extern const kernel_ops kernel_Floor;
extern const kernel_ops kernel_Ceil;
extern const kernel_ops kernel_Round;
extern const kernel_ops kernel_Erf;
extern const kernel_ops kernel_Sin;
extern const kernel_ops kernel_Cos;
extern const kernel_ops kernel_Reciprocal;
extern const kernel_ops kernel_Square;
extern const kernel_ops kernel_LogicalNot;
extern const kernel_ops kernel_Clip;
extern const kernel_ops kernel_FusedBatchNorm;
extern const kernel_ops kernel_Softmax;
extern const kernel_ops kernel_LogSoftmax;
extern const kernel_ops kernel_Reshape;
extern const kernel_ops kernel_Flatten;
extern const kernel_ops kernel_Squeeze;
extern const kernel_ops kernel_Unsqueeze;
extern const kernel_ops kernel_ExpandDims;
extern const kernel_ops kernel_Shape;
extern const kernel_ops kernel_Cast;
extern const kernel_ops kernel_Transpose;
extern const kernel_ops kernel_Concat;
extern const kernel_ops kernel_Split;
extern const kernel_ops kernel_Gather;
extern const kernel_ops kernel_StridedSlice;
extern const kernel_ops kernel_SliceFusion;
extern const kernel_ops kernel_Fill;
extern const kernel_ops kernel_ConstantOfShape;
extern const kernel_ops kernel_Range;
extern const kernel_ops kernel_BroadcastTo;
extern const kernel_ops kernel_TileFusion;
extern const kernel_ops kernel_Where;
extern const kernel_ops kernel_Select;
extern const kernel_ops kernel_PadFusion;
extern const kernel_ops kernel_ReduceFusion;
extern const kernel_ops kernel_Resize;
extern const kernel_ops kernel_ArgMaxFusion;
extern const kernel_ops kernel_ArgMinFusion;
extern const kernel_ops kernel_GatherD;
extern const kernel_ops kernel_Size;
extern const kernel_ops kernel_Triu;
extern const kernel_ops kernel_Tril;
extern const kernel_ops kernel_LayerNormFusion;
#ifdef TOD_NO_TRAIN
/* Its kernel lives with its gradient in grad/norm_grad.c, which the inference-only device build
 * (tod_min) leaves out for size: there the weak reference reads as NULL, "no kernel". */
#pragma weak kernel_LayerNormFusion
#endif
extern const kernel_ops kernel_ReverseV2;
extern const kernel_ops kernel_CumSum;
extern const kernel_ops kernel_AddFusion_any; /* binary_any.c: wraps kernel_AddFusion */
extern const kernel_ops kernel_SubFusion_any; /* binary_any.c: wraps kernel_SubFusion */
extern const kernel_ops kernel_MulFusion_any; /* binary_any.c: wraps kernel_MulFusion */
extern const kernel_ops kernel_DivFusion_any; /* binary_any.c: wraps kernel_DivFusion */
extern const kernel_ops kernel_Maximum_any; /* binary_any.c: wraps kernel_Maximum */
extern const kernel_ops kernel_Minimum_any; /* binary_any.c: wraps kernel_Minimum */
extern const kernel_ops kernel_PowFusion_any; /* binary_any.c: wraps kernel_PowFusion */
extern const kernel_ops kernel_Custom; /* custom/custom.c: ONNX ops without a primitive */
extern const kernel_ops kernel_Conv2dTransposeFusion; /* deconv/deconv.c */
extern const kernel_ops kernel_OneHot; /* index/onehot_topk_nd.c */
extern const kernel_ops kernel_TopKFusion; /* index/onehot_topk_nd.c */
extern const kernel_ops kernel_GatherNd; /* index/onehot_topk_nd.c */
extern const kernel_ops kernel_ScatterElements; /* index/onehot_topk_nd.c */
extern const kernel_ops kernel_ScatterNdUpdate; /* index/onehot_topk_nd.c */
extern const kernel_ops kernel_TensorScatterAdd; /* index/onehot_topk_nd.c */
extern const kernel_ops kernel_InstanceNorm; /* norm/instnorm.c */
extern const kernel_ops kernel_LRN; /* norm/lrn.c */
extern const kernel_ops kernel_LSTM; /* rnn/rnn.c */
extern const kernel_ops kernel_GRU; /* rnn/rnn.c */

/* Training kernels (grad/, optim/); not in the inference-only device build (tod_min). */
#ifndef TOD_NO_TRAIN
extern const kernel_ops kernel_ActivationGrad;
extern const kernel_ops kernel_AbsGrad;
extern const kernel_ops kernel_BiasAdd;
extern const kernel_ops kernel_BiasAddGrad;
extern const kernel_ops kernel_Conv2DBackpropFilterFusion;
extern const kernel_ops kernel_Conv2DBackpropInputFusion;
extern const kernel_ops kernel_MaxPoolGrad;
extern const kernel_ops kernel_AvgPoolGrad;
extern const kernel_ops kernel_BatchNormGrad;
extern const kernel_ops kernel_LayerNormGrad;
extern const kernel_ops kernel_SparseSoftmaxCrossEntropyWithLogits;
extern const kernel_ops kernel_SoftmaxCrossEntropyWithLogits;
extern const kernel_ops kernel_SigmoidCrossEntropyWithLogits;
extern const kernel_ops kernel_SigmoidCrossEntropyWithLogitsGrad;
extern const kernel_ops kernel_Dropout;
extern const kernel_ops kernel_DropoutGrad;
extern const kernel_ops kernel_Adam;
extern const kernel_ops kernel_ApplyMomentum;
extern const kernel_ops kernel_SGD;
extern const kernel_ops kernel_AdamWeightDecay;
extern const kernel_ops kernel_Assign;
#endif

static const kernel_ops *const kernel_table[IR_OP_COUNT] = {
    [IR_OP_Conv2DFusion] = &kernel_Conv2DFusion,
    [IR_OP_MatMulFusion] = &kernel_MatMulFusion,
    [IR_OP_MaxPoolFusion] = &kernel_MaxPoolFusion,
    [IR_OP_AvgPoolFusion] = &kernel_AvgPoolFusion,
    [IR_OP_Activation] = &kernel_Activation,
    [IR_OP_Elu] = &kernel_Elu,
    [IR_OP_LeakyRelu] = &kernel_LeakyRelu,
    [IR_OP_AddFusion] = &kernel_AddFusion_any,
    [IR_OP_SubFusion] = &kernel_SubFusion_any,
    [IR_OP_MulFusion] = &kernel_MulFusion_any,
    [IR_OP_DivFusion] = &kernel_DivFusion_any,
    [IR_OP_RealDiv] = &kernel_RealDiv,
    [IR_OP_Maximum] = &kernel_Maximum_any,
    [IR_OP_Minimum] = &kernel_Minimum_any,
    [IR_OP_PowFusion] = &kernel_PowFusion_any,
    [IR_OP_SquaredDifference] = &kernel_SquaredDifference,
    [IR_OP_FloorDiv] = &kernel_FloorDiv,
    [IR_OP_FloorMod] = &kernel_FloorMod,
    [IR_OP_Mod] = &kernel_Mod,
    [IR_OP_Custom] = &kernel_Custom,
    [IR_OP_Conv2dTransposeFusion] = &kernel_Conv2dTransposeFusion,
    [IR_OP_OneHot] = &kernel_OneHot,
    [IR_OP_TopKFusion] = &kernel_TopKFusion,
    [IR_OP_GatherNd] = &kernel_GatherNd,
    [IR_OP_ScatterElements] = &kernel_ScatterElements,
    [IR_OP_ScatterNdUpdate] = &kernel_ScatterNdUpdate,
    [IR_OP_TensorScatterAdd] = &kernel_TensorScatterAdd,
    [IR_OP_InstanceNorm] = &kernel_InstanceNorm,
    [IR_OP_LRN] = &kernel_LRN,
    [IR_OP_LSTM] = &kernel_LSTM,
    [IR_OP_GRU] = &kernel_GRU,
    [IR_OP_Equal] = &kernel_Equal,
    [IR_OP_NotEqual] = &kernel_NotEqual,
    [IR_OP_Less] = &kernel_Less,
    [IR_OP_LessEqual] = &kernel_LessEqual,
    [IR_OP_Greater] = &kernel_Greater,
    [IR_OP_GreaterEqual] = &kernel_GreaterEqual,
    [IR_OP_LogicalAnd] = &kernel_LogicalAnd,
    [IR_OP_LogicalOr] = &kernel_LogicalOr,
    [IR_OP_Sqrt] = &kernel_Sqrt,
    [IR_OP_Rsqrt] = &kernel_Rsqrt,
    [IR_OP_ExpFusion] = &kernel_ExpFusion,
    [IR_OP_Log] = &kernel_Log,
    [IR_OP_Neg] = &kernel_Neg,
    [IR_OP_Abs] = &kernel_Abs,
    [IR_OP_Floor] = &kernel_Floor,
    [IR_OP_Ceil] = &kernel_Ceil,
    [IR_OP_Round] = &kernel_Round,
    [IR_OP_Erf] = &kernel_Erf,
    [IR_OP_Sin] = &kernel_Sin,
    [IR_OP_Cos] = &kernel_Cos,
    [IR_OP_Reciprocal] = &kernel_Reciprocal,
    [IR_OP_Square] = &kernel_Square,
    [IR_OP_LogicalNot] = &kernel_LogicalNot,
    [IR_OP_Clip] = &kernel_Clip,
    [IR_OP_FusedBatchNorm] = &kernel_FusedBatchNorm,
    [IR_OP_Softmax] = &kernel_Softmax,
    [IR_OP_LogSoftmax] = &kernel_LogSoftmax,
    [IR_OP_Reshape] = &kernel_Reshape,
    [IR_OP_Flatten] = &kernel_Flatten,
    [IR_OP_Squeeze] = &kernel_Squeeze,
    [IR_OP_Unsqueeze] = &kernel_Unsqueeze,
    [IR_OP_ExpandDims] = &kernel_ExpandDims,
    [IR_OP_Shape] = &kernel_Shape,
    [IR_OP_Cast] = &kernel_Cast,
    [IR_OP_Transpose] = &kernel_Transpose,
    [IR_OP_Concat] = &kernel_Concat,
    [IR_OP_Split] = &kernel_Split,
    [IR_OP_Gather] = &kernel_Gather,
    [IR_OP_StridedSlice] = &kernel_StridedSlice,
    [IR_OP_SliceFusion] = &kernel_SliceFusion,
    [IR_OP_Fill] = &kernel_Fill,
    [IR_OP_ConstantOfShape] = &kernel_ConstantOfShape,
    [IR_OP_Range] = &kernel_Range,
    [IR_OP_BroadcastTo] = &kernel_BroadcastTo,
    [IR_OP_TileFusion] = &kernel_TileFusion,
    [IR_OP_Where] = &kernel_Where,
    [IR_OP_Select] = &kernel_Select,
    [IR_OP_PadFusion] = &kernel_PadFusion,
    [IR_OP_ReduceFusion] = &kernel_ReduceFusion,
    [IR_OP_Resize] = &kernel_Resize,
    [IR_OP_ArgMaxFusion] = &kernel_ArgMaxFusion,
    [IR_OP_ArgMinFusion] = &kernel_ArgMinFusion,
    [IR_OP_GatherD] = &kernel_GatherD,
    [IR_OP_Size] = &kernel_Size,
    [IR_OP_Triu] = &kernel_Triu,
    [IR_OP_Tril] = &kernel_Tril,
    [IR_OP_LayerNormFusion] = &kernel_LayerNormFusion,
    [IR_OP_ReverseV2] = &kernel_ReverseV2,
    [IR_OP_CumSum] = &kernel_CumSum,
#ifndef TOD_NO_TRAIN
    [IR_OP_ActivationGrad] = &kernel_ActivationGrad,
    [IR_OP_AbsGrad] = &kernel_AbsGrad,
    [IR_OP_BiasAdd] = &kernel_BiasAdd,
    [IR_OP_BiasAddGrad] = &kernel_BiasAddGrad,
    [IR_OP_Conv2DBackpropFilterFusion] = &kernel_Conv2DBackpropFilterFusion,
    [IR_OP_Conv2DBackpropInputFusion] = &kernel_Conv2DBackpropInputFusion,
    [IR_OP_MaxPoolGrad] = &kernel_MaxPoolGrad,
    [IR_OP_AvgPoolGrad] = &kernel_AvgPoolGrad,
    [IR_OP_BatchNormGrad] = &kernel_BatchNormGrad,
    [IR_OP_LayerNormGrad] = &kernel_LayerNormGrad,
    [IR_OP_SparseSoftmaxCrossEntropyWithLogits] = &kernel_SparseSoftmaxCrossEntropyWithLogits,
    [IR_OP_SoftmaxCrossEntropyWithLogits] = &kernel_SoftmaxCrossEntropyWithLogits,
    [IR_OP_SigmoidCrossEntropyWithLogits] = &kernel_SigmoidCrossEntropyWithLogits,
    [IR_OP_SigmoidCrossEntropyWithLogitsGrad] = &kernel_SigmoidCrossEntropyWithLogitsGrad,
    [IR_OP_Dropout] = &kernel_Dropout,
    [IR_OP_DropoutGrad] = &kernel_DropoutGrad,
    [IR_OP_Adam] = &kernel_Adam,
    [IR_OP_ApplyMomentum] = &kernel_ApplyMomentum,
    [IR_OP_SGD] = &kernel_SGD,
    [IR_OP_AdamWeightDecay] = &kernel_AdamWeightDecay,
    [IR_OP_Assign] = &kernel_Assign,
#endif
};

const kernel_ops *kernel_lookup(int op) {
  if (op <= IR_OP_NONE || op >= IR_OP_COUNT) return NULL;
  /* A weak symbol that was never defined has address NULL, which the table holds as is. */
  return kernel_table[op];
}
