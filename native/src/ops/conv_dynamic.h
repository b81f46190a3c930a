/* The dynamic int8 Conv (kernels/requant.h, DynamicConv): a float32 x with
 * constant int8 weights, x quantized as one tensor at run time the way ONNX
 * DynamicQuantizeLinear does, float32 bias and y. onnxruntime's
 * quantize_dynamic writes it as DynamicQuantizeLinear -> ConvInteger -> Cast
 * -> Mul; the converter maps that chain here (converter/passes/dynamic_int8.py).
 * ops/conv.c hands a Conv whose x is float32 and W int8 over in parse,
 * prepare and eval. Group 1 only. */
#ifndef NRT_OPS_CONV_DYNAMIC_H
#define NRT_OPS_CONV_DYNAMIC_H

#include "../engine/op.h"

static inline bool nrt_conv_is_dynamic(const nrt_tensor* x, const nrt_tensor* w) {
    return x && w && x->dtype == NRT_FLOAT32 && w->dtype == NRT_INT8;
}

nrt_status nrt_conv_dynamic_parse(nrt_ctx* ctx);
nrt_status nrt_conv_dynamic_prepare(nrt_ctx* ctx);
nrt_status nrt_conv_dynamic_eval(nrt_ctx* ctx);

#endif
