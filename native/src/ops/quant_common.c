#include "quant_common.h"

#include "../kernels/requant.h"

nrt_status nrt_qs8_params(nrt_ctx* ctx, const nrt_tensor* t, const char* role, nrt_qs8* out) {
    if (t->dtype != NRT_INT8)
        return nrt_op_fail(ctx, NRT_ERR_DTYPE, "%s %s is %s; the int8 path needs int8", role, t->name,
                           nrt_dtype_name(t->dtype));
    if (t->quant.count == 0)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "%s %s has no quantization parameters (int8 op)", role,
                           t->name);
    if (t->quant.count != 1 || t->quant.block_size > 0)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "%s %s has %u scales; int8 activations are quantized per tensor",
                           role, t->name, t->quant.count);
    out->scale = t->quant.scale[0];
    out->zero_point = t->quant.zero_point ? (int32_t)t->quant.zero_point[0] : 0;
    return NRT_OK;
}

nrt_status nrt_qs8_same_params(nrt_ctx* ctx, const nrt_tensor* x, const nrt_tensor* y) {
    nrt_qs8 a = {0.0f, 0}, b = {0.0f, 0};
    nrt_status st;
    if ((st = nrt_qs8_params(ctx, x, "input", &a)) || (st = nrt_qs8_params(ctx, y, "output", &b))) return st;
    if (a.scale != b.scale || a.zero_point != b.zero_point)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL,
                           "input %s (scale %g, zero point %d) and output %s (scale %g, zero point %d) must have "
                           "equal quantization parameters", x->name, (double)a.scale, (int)a.zero_point, y->name,
                           (double)b.scale, (int)b.zero_point);
    return NRT_OK;
}

nrt_status nrt_qs8_output(nrt_ctx* ctx, const nrt_activation* act, const nrt_qs8* y, nrt_qs8_out* out) {
    double lo = -INFINITY, hi = INFINITY;
    switch (act ? act->kind : NRT_ACT_NONE) {
    case NRT_ACT_NONE: break;
    case NRT_ACT_RELU: lo = 0.0; break;
    case NRT_ACT_CLIP: lo = act->alpha, hi = act->beta; break;
    default:
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED,
                           "fused activation %u has no int8 form (only Relu and Clip clamp the output)", act->kind);
    }
    out->zero_point = y->zero_point;
    nrt_requant_bounds(lo, hi, y->scale, y->zero_point, &out->qmin, &out->qmax);
    return NRT_OK;
}

nrt_status nrt_qs8_multiplier(nrt_ctx* ctx, double num, double den, const char* what, float* m) {
    *m = (float)(num / den);
    if (!nrt_requant_multiplier_ok(*m))
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "requantization multiplier %s = %g is outside the int8 range "
                           "(|m| <= 2^64)", what, num / den);
    return NRT_OK;
}

nrt_status nrt_qs8_weight_multipliers(nrt_ctx* ctx, const nrt_tensor* w, int axis, int64_t channels, double s_x,
                                      double s_y, float* m) {
    const nrt_quant* q = &w->quant;
    if (w->dtype != NRT_INT8)
        return nrt_op_fail(ctx, NRT_ERR_DTYPE, "weights %s are %s; int8 weights expected", w->name,
                           nrt_dtype_name(w->dtype));
    if (q->count == 0)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "weights %s have no quantization parameters", w->name);
    if (q->block_size > 0)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "weights %s have block quantization", w->name);
    int64_t on_axis = w->dims[axis];
    if (q->count != 1 && (q->axis != axis || (int64_t)q->count != on_axis))
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL,
                           "weights %s have %u scales along axis %d; expected 1 or %lld along axis %d", w->name,
                           q->count, q->axis, (long long)on_axis, axis);
    for (uint32_t i = 0; q->zero_point && i < q->count; i++)
        if (q->zero_point[i] != 0)
            return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "weights %s have zero point %lld; int8 weights are symmetric",
                               w->name, (long long)q->zero_point[i]);
    for (int64_t c = 0; c < channels; c++) {
        float s_w = q->scale[q->count == 1 ? 0 : c % on_axis];
        if (!nrt_requant_multiplier_ok(m[c] = nrt_requant_multiplier(s_x, s_w, s_y)))
            return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED,
                               "requantization multiplier of channel %lld (%g) is outside the int8 range (|m| <= 2^64)",
                               (long long)c, (double)m[c]);
    }
    return NRT_OK;
}

static bool per_tensor_qs8(const nrt_tensor* t) {
    return t && t->dtype == NRT_INT8 && t->quant.count == 1 && t->quant.block_size == 0;
}

bool nrt_qs8_static_multipliers(const nrt_tensor* x, const nrt_tensor* w, int axis, const nrt_tensor* y,
                                int64_t channels, float* m) {
    if (!per_tensor_qs8(x) || !per_tensor_qs8(y) || !w || w->kind != NRT_TENSOR_CONSTANT || w->dtype != NRT_INT8 ||
        axis >= w->rank)
        return false;
    const nrt_quant* q = &w->quant;
    if (q->count == 0 || q->block_size > 0 || (q->count != 1 && (q->axis != axis || (int64_t)q->count != channels)))
        return false;
    for (uint32_t i = 0; q->zero_point && i < q->count; i++)
        if (q->zero_point[i] != 0) return false;
    for (int64_t c = 0; c < channels; c++) {
        m[c] = nrt_requant_multiplier(x->quant.scale[0], q->scale[q->count == 1 ? 0 : c], y->quant.scale[0]);
        if (!nrt_requant_multiplier_ok(m[c])) return false;
    }
    return true;
}
