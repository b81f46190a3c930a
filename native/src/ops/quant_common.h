/* Checks and numbers shared by the int8 paths of the ops (kernels/requant.h).
 *
 * A tensor is "quantized int8" when its type is int8 and it carries
 * QuantParams; an int8 tensor without them is a plain integer. An op takes its
 * int8 path when its data input is quantized int8 and then requires every
 * activation operand and output to be quantized int8 too, with per-tensor
 * parameters; anything else fails at prepare, naming the tensor. */
#ifndef NRT_QUANT_COMMON_H
#define NRT_QUANT_COMMON_H

#include "../engine/op.h"
#include "../kernels/ref/qs8_ref.h"

typedef struct nrt_qs8 {
    float scale;
    int32_t zero_point;
} nrt_qs8;

static inline bool nrt_is_qs8(const nrt_tensor* t) {
    return t && t->dtype == NRT_INT8 && t->quant.count > 0;
}

/* Per-tensor parameters of a quantized int8 activation (`role` names it). */
nrt_status nrt_qs8_params(nrt_ctx* ctx, const nrt_tensor* t, const char* role, nrt_qs8* out);

/* Input and output parameters must be equal (data-movement ops). */
nrt_status nrt_qs8_same_params(nrt_ctx* ctx, const nrt_tensor* x, const nrt_tensor* y);

/* Output zero point and clamp for an output with parameters y after the
 * fused activation (NONE, RELU, CLIP; others are NRT_ERR_UNSUPPORTED). */
nrt_status nrt_qs8_output(nrt_ctx* ctx, const nrt_activation* act, const nrt_qs8* y, nrt_qs8_out* out);

/* m = (float)(num / den) with the contract's bound checked; `what` names it. */
nrt_status nrt_qs8_multiplier(nrt_ctx* ctx, double num, double den, const char* what, float* m);

/* Weight scales of a per-channel / per-tensor symmetric int8 weight: w must be
 * int8 with QuantParams, zero points 0, one scale or `channels` scales along
 * `axis`. Writes multipliers m[c] = s_x * s_w[c] / s_y for c < channels
 * (index c % count_on_axis when the weight holds fewer channels than outputs:
 * grouped ConvTranspose). */
nrt_status nrt_qs8_weight_multipliers(nrt_ctx* ctx, const nrt_tensor* w, int axis, int64_t channels, double s_x,
                                      double s_y, float* m);

/* The same multipliers computed at load for packing (kernels/qs8_kernels.h):
 * true and m[c] filled when x and y are per-tensor quantized int8 and w is a
 * constant symmetric int8 weight with 1 or `channels` scales along `axis`,
 * every multiplier in range; false otherwise, without an error (prepare
 * reports what is wrong). */
bool nrt_qs8_static_multipliers(const nrt_tensor* x, const nrt_tensor* w, int axis, const nrt_tensor* y,
                                int64_t channels, float* m);

#endif
