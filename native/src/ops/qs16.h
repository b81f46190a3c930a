/* The 16x8 paths of Conv and FullyConnected (kernels/qs16_kernels.h): an op
 * whose data input is a quantized int16 tensor takes them (ops/conv.c and
 * ops/matmul.c hand the node over in parse, prepare and eval). They require
 * int16 x and y with per-tensor scales and zero point 0, constant symmetric
 * int8 weights (per output channel or per tensor), an optional constant
 * int64 bias at scale s_x * s_w[c] with |B| <= NRT_QS16_MAX_BIAS, and a fused
 * activation of None, Relu or Clip. */
#ifndef NRT_OPS_QS16_H
#define NRT_OPS_QS16_H

#include "../engine/op.h"
#include "../kernels/qs16_kernels.h"

static inline bool nrt_is_qs16(const nrt_tensor* t) {
    return t && t->dtype == NRT_INT16 && t->quant.count > 0;
}

/* t's scale, after checking t is int16 with one scale and zero point 0 (`role` names it). */
nrt_status nrt_qs16_scale(nrt_ctx* ctx, const nrt_tensor* t, const char* role, float* scale);
/* The int16 output clamp of a fused None / Relu / Clip at output scale s_y (requant.h). */
nrt_status nrt_qs16_output(nrt_ctx* ctx, const nrt_activation* act, float s_y, nrt_qs16_requant* rq);

nrt_status nrt_conv_qs16_parse(nrt_ctx* ctx);
nrt_status nrt_conv_qs16_prepare(nrt_ctx* ctx);
nrt_status nrt_conv_qs16_eval(nrt_ctx* ctx);
nrt_status nrt_fc_qs16_parse(nrt_ctx* ctx);
nrt_status nrt_fc_qs16_prepare(nrt_ctx* ctx);
nrt_status nrt_fc_qs16_eval(nrt_ctx* ctx);

#endif
