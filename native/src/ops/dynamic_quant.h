/* A float32 tensor quantized as one tensor at run time, the way ONNX
 * DynamicQuantizeLinear does (kernels/requant.h: uint8 scale and zero point
 * from the range, stored as int8 q - 128 with zero point z - 128, the same
 * q - z), on the level's quantize kernel and the model's threads. Used by the
 * dynamic Conv and LSTM and by FullyConnected's dynamic_per_tensor form (its
 * rows quantized one by one are matmul.c's own). */
#ifndef NRT_OPS_DYNAMIC_QUANT_H
#define NRT_OPS_DYNAMIC_QUANT_H

#include "../engine/op.h"

void nrt_dynamic_quantize_tensor(nrt_ctx* ctx, const float* x, int64_t n, int8_t* q, float* scale, int32_t* zero);

#endif
