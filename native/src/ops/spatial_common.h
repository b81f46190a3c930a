/* Window geometry shared by the NHWC spatial ops (Conv, ConvTranspose,
 * pools): reading kernel/stride/dilation/pad options and resolving auto_pad
 * against the actual input size, with ONNX's output-size rules. */
#ifndef NRT_SPATIAL_COMMON_H
#define NRT_SPATIAL_COMMON_H

#include "../engine/op.h"

/* Option values above this are rejected at load, which keeps every window
 * computation far from int64 overflow (dims are bounded by the arena limit). */
#define NRT_SPATIAL_MAX_PARAM (1 << 20)

/* Per-axis window options of a 2-D op, as read from the file. */
typedef struct nrt_window2d {
    int64_t kernel[2];   /* 0 = take it from the weights (Conv) */
    int64_t stride[2], dilation[2];
    int64_t pads[4];     /* top, left, bottom, right */
    uint8_t auto_pad;    /* NRT_FB_AutoPad_* */
} nrt_window2d;

/* One axis of a resolved window. */
typedef struct nrt_axis_geom {
    int64_t in, out, kernel, stride, dilation, pad_begin, pad_end;
} nrt_axis_geom;

/* Reads an option vector that must be empty or hold `want` values in
 * [lo, NRT_SPATIAL_MAX_PARAM]; empty leaves `out` unchanged. */
static inline nrt_status nrt_spatial_opt(nrt_ctx* ctx, int slot, const char* what, int want, int64_t lo,
                                         int64_t* out, int* count) {
    int64_t v[NRT_MAX_RANK];
    int n;
    nrt_status st = nrt_opt_ints(ctx, slot, what, v, NRT_MAX_RANK, &n);
    if (st != NRT_OK) return st;
    if (count) *count = n;
    if (n == 0) return NRT_OK;
    if (n != want)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "%s has %d values, expected %d (2-D op)", what, n, want);
    for (int i = 0; i < n; i++) {
        if (v[i] < lo || v[i] > NRT_SPATIAL_MAX_PARAM)
            return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "%s[%d] = %lld is out of range [%lld, %d]", what, i,
                               (long long)v[i], (long long)lo, NRT_SPATIAL_MAX_PARAM);
        out[i] = v[i];
    }
    return NRT_OK;
}

/* Reads kernel_shape, strides, dilations, pads, auto_pad from the option
 * slots given (the Conv and Pool tables order them alike). */
static inline nrt_status nrt_window2d_parse(nrt_ctx* ctx, int slot_kernel, int slot_strides, int slot_dilations,
                                            int slot_pads, int slot_auto_pad, nrt_window2d* w) {
    *w = (nrt_window2d){{0, 0}, {1, 1}, {1, 1}, {0, 0, 0, 0}, 0};
    nrt_status st;
    if ((st = nrt_spatial_opt(ctx, slot_kernel, "kernel_shape", 2, 1, w->kernel, NULL)) ||
        (st = nrt_spatial_opt(ctx, slot_strides, "strides", 2, 1, w->stride, NULL)) ||
        (st = nrt_spatial_opt(ctx, slot_dilations, "dilations", 2, 1, w->dilation, NULL)) ||
        (st = nrt_spatial_opt(ctx, slot_pads, "pads", 4, 0, w->pads, NULL)) ||
        (st = nrt_opt_u8(ctx, slot_auto_pad, 0, &w->auto_pad)))
        return st;
    if (w->auto_pad > NRT_FB_AutoPad_VALID)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "unknown auto_pad value %u", w->auto_pad);
    return NRT_OK;
}

/* Resolves one axis of a Conv / pool window: pads from auto_pad and the
 * output size. ceil_mode follows ONNX (and onnxruntime): the output grows by
 * one when the division leaves a remainder, unless that last window would
 * start past the input and its left padding. Fails cleanly when the kernel
 * does not fit the padded input. */
static inline nrt_status nrt_axis_resolve(nrt_ctx* ctx, const char* axis_name, uint8_t auto_pad, bool ceil_mode,
                                          nrt_axis_geom* g) {
    int64_t eff = (g->kernel - 1) * g->dilation + 1;
    if (auto_pad == NRT_FB_AutoPad_SAME_UPPER || auto_pad == NRT_FB_AutoPad_SAME_LOWER) {
        g->out = (g->in + g->stride - 1) / g->stride;
        int64_t total = (g->out - 1) * g->stride + eff - g->in;
        if (total < 0) total = 0;
        g->pad_begin = auto_pad == NRT_FB_AutoPad_SAME_UPPER ? total / 2 : total - total / 2;
        g->pad_end = total - g->pad_begin;
        return NRT_OK;
    }
    if (auto_pad == NRT_FB_AutoPad_VALID) g->pad_begin = g->pad_end = 0;
    int64_t span = g->in + g->pad_begin + g->pad_end - eff;
    if (span < 0)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE,
                           "the %s window (kernel %lld, dilation %lld: %lld wide) is larger than the padded input "
                           "(%lld + %lld + %lld)", axis_name, (long long)g->kernel, (long long)g->dilation,
                           (long long)eff, (long long)g->in, (long long)g->pad_begin, (long long)g->pad_end);
    g->out = span / g->stride + 1;
    if (ceil_mode && auto_pad == NRT_FB_AutoPad_NOTSET && span % g->stride != 0) {
        g->out++;
        if ((g->out - 1) * g->stride >= g->in + g->pad_begin) g->out--;
    }
    return NRT_OK;
}

#endif
