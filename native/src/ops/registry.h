/* Every op the runtime implements, by family (one family per ops/ file).
 * Adding an op: define `const nrt_op_def nrt_op_<Name>` in its family file
 * and list it here. */
#ifndef NRT_REGISTRY_H
#define NRT_REGISTRY_H

#define NRT_OPS_UNARY(X)                                                                             \
    X(Identity) X(Relu) X(LeakyRelu) X(Elu) X(Selu) X(Celu) X(Sigmoid) X(HardSigmoid) X(HardSwish)  \
    X(Silu) X(Mish) X(Tanh) X(Gelu) X(Erf) X(Softplus) X(Softsign) X(Sqrt) X(Exp) X(Log) X(Neg)      \
    X(Abs) X(Reciprocal) X(Floor) X(Ceil) X(Round) X(Sign) X(Sin) X(Cos) X(Tan) X(Asin) X(Acos)     \
    X(Atan) X(Sinh) X(Cosh) X(Asinh) X(Acosh) X(Atanh) X(Not) X(IsNaN) X(IsInf) X(ThresholdedRelu)

/* ops/binary.c, ops/elementwise.c: Add ... Where, Clip, Cast */
#define NRT_OPS_ELEMENTWISE(X)                                                                       \
    X(Add) X(Sub) X(Mul) X(Div) X(Pow) X(Min) X(Max) X(Mod) X(Equal) X(Greater) X(GreaterOrEqual)   \
    X(Less) X(LessOrEqual) X(And) X(Or) X(Xor) X(BitShift) X(PRelu) X(Where) X(Clip) X(Cast)

/* ops/conv.c, ops/pool.c, ops/resize.c, ops/pad.c, ops/depth_space.c, ops/channel_norm.c, ops/grid_sample.c */
#define NRT_OPS_SPATIAL(X)                                                                           \
    X(Conv) X(ConvTranspose) X(MaxPool) X(AveragePool) X(GlobalAveragePool) X(GlobalMaxPool) X(Resize)    \
    X(Pad) X(DepthToSpace) X(SpaceToDepth) X(BatchNormalization) X(InstanceNormalization)               \
    X(LpNormalization) X(GridSample)

/* ops/reshape.c, ops/transpose.c, ops/concat_split.c, ops/slice.c, ops/gather.c, ops/shape.c, ops/expand_tile.c,
 * ops/generate.c, ops/cumulative.c, ops/trilu.c, ops/scatter.c */
#define NRT_OPS_MOVEMENT(X)                                                                          \
    X(Reshape) X(Flatten) X(Squeeze) X(Unsqueeze) X(Transpose) X(Concat) X(Split) X(Slice) X(Gather)     \
    X(GatherElements) X(Shape) X(Size) X(ConstantOfShape) X(Expand) X(Range) X(Tile) X(CumSum) X(Trilu)  \
    X(OneHot) X(CumProd) X(ScatterElements) X(ScatterND) X(GatherND)

/* ops/reduce.c, ops/softmax.c, ops/matmul.c, ops/layer_norm.c, ops/rnn.c */
#define NRT_OPS_MATH(X)                                                                              \
    X(ReduceMean) X(ReduceSum) X(ReduceMax) X(ReduceMin) X(ReduceProd) X(ReduceL1) X(ReduceL2)        \
    X(ReduceSumSquare) X(ReduceLogSum) X(ReduceLogSumExp) X(ArgMax) X(ArgMin) X(Softmax)              \
    X(LogSoftmax) X(Hardmax) X(MatMul) X(FullyConnected) X(LayerNormalization) X(LSTM) X(GRU)

/* ops/quantize.c, ops/lut.c and the int8 paths */
#define NRT_OPS_QUANT(X) X(QuantizeLinear) X(DequantizeLinear) X(DynamicQuantizeLinear) X(Lut)

/* ops/control_flow.c, ops/select.c */
#define NRT_OPS_CONTROL(X) X(If) X(Loop) X(Scan)
#define NRT_OPS_SELECT(X) X(TopK) X(NonMaxSuppression) X(NonZero)

#define NRT_OPS(X)                                                                                   \
    NRT_OPS_UNARY(X) NRT_OPS_ELEMENTWISE(X) NRT_OPS_SPATIAL(X) NRT_OPS_MOVEMENT(X) NRT_OPS_MATH(X)     \
    NRT_OPS_QUANT(X) NRT_OPS_CONTROL(X) NRT_OPS_SELECT(X)

#define X(NAME) extern const nrt_op_def nrt_op_##NAME;
NRT_OPS(X)
#undef X

#endif
