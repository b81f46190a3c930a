/* 16x8 Conv and FullyConnected (ops/qs16.h): the constants are checked and
 * the weights packed for the level's qs16 GEMM table at load; the runs go
 * through the one GEMM / conv driver (kernels/gemm.h, kernels/conv.h), a
 * depthwise conv on the level's qs16 depthwise table (kernels/dwconv.h). */
#include "qs16.h"

#include <math.h>
#include <string.h>

#include "../engine/packed.h"
#include "../kernels/conv.h"
#include "../kernels/dispatch.h"
#include "../kernels/dtype.h"
#include "../kernels/requant.h"
#include "spatial_common.h"

typedef struct qs16_params {
    nrt_window2d win; /* Conv */
    int64_t group;
    nrt_activation act;
    bool keep_dims;       /* FullyConnected */
    nrt_conv_plan plan;   /* Conv */
    const nrt_gemm_table* gemm;
    nrt_qs16_requant rq;
    const void* packed; /* shared with every op packing them alike (engine/packed.h) */
    float m[];          /* the multipliers, per output channel */
} qs16_params;

/* ---- checks shared by both ops ---- */

nrt_status nrt_qs16_scale(nrt_ctx* ctx, const nrt_tensor* t, const char* role, float* scale) {
    if (!nrt_is_qs16(t))
        return nrt_op_fail(ctx, NRT_ERR_DTYPE, "%s %s must be a quantized int16 tensor (16x8 layer)", role,
                           t ? t->name : "(absent)");
    if (t->quant.count != 1 || t->quant.block_size > 0 || (t->quant.zero_point && t->quant.zero_point[0] != 0))
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED,
                           "%s %s: 16-bit activations need one scale and zero point 0", role, t->name);
    *scale = t->quant.scale[0];
    return NRT_OK;
}

nrt_status nrt_qs16_output(nrt_ctx* ctx, const nrt_activation* act, float s_y, nrt_qs16_requant* rq) {
    double lo = -INFINITY, hi = INFINITY;
    switch (act->kind) {
    case NRT_ACT_NONE: break;
    case NRT_ACT_RELU: lo = 0.0; break;
    case NRT_ACT_CLIP: lo = act->alpha, hi = act->beta; break;
    default:
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED,
                           "fused activation %u has no 16-bit form (only Relu and Clip clamp the output)", act->kind);
    }
    double a = lo == -INFINITY ? -32768.0 : rint(lo / s_y), z = hi == INFINITY ? 32767.0 : rint(hi / s_y);
    a = !(a >= -32768.0) ? -32768.0 : (a > 32767.0 ? 32767.0 : a);
    z = !(z <= 32767.0) ? 32767.0 : (z < -32768.0 ? -32768.0 : z);
    if (a > z)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "fused Clip [%g, %g] leaves no 16-bit output value",
                           (double)act->alpha, (double)act->beta);
    *rq = (nrt_qs16_requant){(float)a, (float)z};
    return NRT_OK;
}

/* Weights (cout along axis 0), bias, activation -> multipliers m[cout] and the clamp. */
static nrt_status check_constants(nrt_ctx* ctx, const nrt_activation* act, int64_t cout, float* m,
                                  nrt_qs16_requant* rq) {
    const nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1), *b = nrt_in(ctx, 2), *y = nrt_out(ctx, 0);
    float s_x = 0.0f, s_y = 0.0f;
    nrt_status st;
    if ((st = nrt_qs16_scale(ctx, x, "input", &s_x)) || (st = nrt_qs16_scale(ctx, y, "output", &s_y))) return st;
    if (!w || w->kind != NRT_TENSOR_CONSTANT || w->dtype != NRT_INT8 || w->quant.count == 0)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "16x8 weights %s must be constant quantized int8",
                           w ? w->name : "(absent)");
    const nrt_quant* q = &w->quant;
    if (q->block_size > 0 || (q->count != 1 && (q->axis != 0 || (int64_t)q->count != cout)))
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "weights %s must have 1 or %lld scales along axis 0", w->name,
                           (long long)cout);
    for (uint32_t i = 0; q->zero_point && i < q->count; i++)
        if (q->zero_point[i] != 0)
            return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "weights %s have zero point %lld; 16x8 weights are symmetric",
                               w->name, (long long)q->zero_point[i]);
    if (b) {
        if (b->kind != NRT_TENSOR_CONSTANT || b->dtype != NRT_INT64 || nrt_numel(b) != cout)
            return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "16x8 bias %s must be a constant int64 [%lld]", b->name,
                               (long long)cout);
        const int64_t* bv = b->data;
        for (int64_t c = 0; c < cout; c++)
            if (!(fabs((double)bv[c]) <= NRT_QS16_MAX_BIAS))
                return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "16x8 bias %s[%lld] = %lld is beyond 2^47", b->name,
                                   (long long)c, (long long)bv[c]);
    }
    for (int64_t c = 0; c < cout; c++)
        if (!nrt_requant_multiplier_ok(m[c] = nrt_requant_multiplier(s_x, q->scale[q->count == 1 ? 0 : c], s_y)))
            return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "requantization multiplier of channel %lld (%g) is out of "
                               "range (|m| <= 2^64)", (long long)c, (double)m[c]);
    return nrt_qs16_output(ctx, act, s_y, rq);
}

static qs16_params* alloc_params(nrt_ctx* ctx, int64_t cout) {
    return nrt_alloc_params(ctx, sizeof(qs16_params) + (size_t)cout * sizeof(float));
}

/* The packed weights under a key of what they depend on (the constants, the
 * table, the activation scales; `geometry` the conv's group and plan), packing
 * them on first use: a Conv's plan (conv_plan non-NULL) or FullyConnected's panels. */
static nrt_status pack_shared(nrt_ctx* ctx, qs16_params* p, const nrt_conv_plan* conv_plan, const nrt_conv_desc* d,
                              size_t bytes) {
    const nrt_node* n = ctx->node;
    const nrt_tensor *w = nrt_in(ctx, 1), *b = nrt_in(ctx, 2);
    bool depthwise = conv_plan && conv_plan->kind == NRT_CONV_DEPTHWISE;
    const void* table = depthwise ? (const void*)conv_plan->dw : conv_plan ? (const void*)conv_plan->gemm : p->gemm;
    nrt_pack_key key = {{0x5116u << 2 | (uint64_t)depthwise << 1 | (conv_plan != NULL), (uint64_t)n->inputs[1],
                         (uint64_t)(n->num_inputs > 2 ? n->inputs[2] : -1), (uint64_t)(uintptr_t)table,
                         nrt_pack_key_f32(nrt_in(ctx, 0)->quant.scale[0]),
                         nrt_pack_key_f32(nrt_out(ctx, 0)->quant.scale[0]),
                         (uint64_t)p->group, conv_plan ? (uint64_t)conv_plan->merged_rows : 0, bytes}};
    uint64_t info;
    if ((p->packed = nrt_packed_find(ctx->model, &key, &info))) return NRT_OK;
    void* dst = nrt_packed_alloc(ctx->model, bytes);
    if (!dst) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    if (conv_plan) {
        nrt_conv_weights cw = {w->data, b ? b->data : NULL, p->m, 0};
        if (!nrt_conv_pack(conv_plan, d, &cw, dst)) {
            nrt_mem_free(ctx->model, dst);
            return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
        }
    } else {
        size_t rows = (size_t)w->dims[0], k = (size_t)w->dims[1];
        nrt_gemm_weights a = {rows, k, 1, w->data, k, 0, 1, b ? b->data : NULL, p->m, 0, 0};
        nrt_gemm_pack(p->gemm, &a, dst);
    }
    if (!nrt_packed_add(ctx->model, &key, dst, bytes, 0))
        return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    p->packed = dst;
    return NRT_OK;
}

/* ---- Conv ---- */

nrt_status nrt_conv_qs16_parse(nrt_ctx* ctx) {
    qs16_params o = {0};
    int32_t group;
    nrt_status st = nrt_opt_i32(ctx, NRT_FB_ConvOptions_group, 1, &group);
    if (st != NRT_OK) return st;
    if (group < 1) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "group = %d must be positive", group);
    o.group = group;
    if ((st = nrt_window2d_parse(ctx, NRT_FB_ConvOptions_kernel_shape, NRT_FB_ConvOptions_strides,
                                 NRT_FB_ConvOptions_dilations, NRT_FB_ConvOptions_pads, NRT_FB_ConvOptions_auto_pad,
                                 &o.win)) ||
        (st = nrt_opt_activation(ctx, NRT_FB_ConvOptions_activation, &o.act)))
        return st;
    const nrt_tensor* w = nrt_in(ctx, 1);
    if (!w || w->rank != 4 || w->dims[0] < 1 || w->dims[1] < 1 || w->dims[2] < 1 || w->dims[3] < 1)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "16x8 Conv weights must be 4-D OHWI and not empty");
    const nrt_window2d* win = &o.win;
    bool padded = win->pads[0] || win->pads[1] || win->pads[2] || win->pads[3] ||
                  (win->auto_pad != NRT_FB_AutoPad_NOTSET && win->auto_pad != NRT_FB_AutoPad_VALID);
    nrt_conv_desc d = {false, w->dims, o.group, {win->stride[0], win->stride[1]},
                       {win->dilation[0], win->dilation[1]}, padded};
    nrt_conv_kernels k = {nrt_kernels_of(ctx)->qs16_gemm, nrt_kernels_of(ctx)->qs16_dwconv, NULL};
    if (w->dims[0] % o.group != 0 || !nrt_conv_plan_init(&k, &d, &o.plan))
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "16x8 Conv %s: no kernel for this geometry (group %lld, "
                           "%lld x %lld taps; at most %d taps)", w->name, (long long)o.group, (long long)w->dims[1],
                           (long long)w->dims[2], NRT_CONV_MAX_TAPS);
    int64_t cout = w->dims[0];
    qs16_params* p = alloc_params(ctx, cout);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    *p = o;
    if ((st = check_constants(ctx, &p->act, cout, p->m, &p->rq))) return st;
    return pack_shared(ctx, p, &p->plan, &d, p->plan.packed_bytes);
}

typedef struct conv_qs16_state {
    nrt_conv2d_geom g;
} conv_qs16_state;

nrt_status nrt_conv_qs16_prepare(nrt_ctx* ctx) {
    const qs16_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1);
    if (x->rank != 4)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "input %s (rank %d) must be 4-D NHWC", x->name, x->rank);
    int64_t cin = x->dims[3], cout = w->dims[0];
    if (cin != w->dims[3] * p->group)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "input %s has %lld channels; weights %s with group %lld need %lld",
                           x->name, (long long)cin, w->name, (long long)p->group, (long long)(w->dims[3] * p->group));
    if (p->win.kernel[0] && (p->win.kernel[0] != w->dims[1] || p->win.kernel[1] != w->dims[2]))
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "kernel_shape does not match weights %s", w->name);
    const nrt_window2d* win = &p->win;
    nrt_axis_geom ay = {x->dims[1], 0, w->dims[1], win->stride[0], win->dilation[0], win->pads[0], win->pads[2]};
    nrt_axis_geom ax = {x->dims[2], 0, w->dims[2], win->stride[1], win->dilation[1], win->pads[1], win->pads[3]};
    nrt_status st;
    if ((st = nrt_axis_resolve(ctx, "height", p->win.auto_pad, false, &ay)) ||
        (st = nrt_axis_resolve(ctx, "width", p->win.auto_pad, false, &ax)))
        return st;
    nrt_conv2d_geom g = {x->dims[0], ay.in, ax.in, cin, ay.out, ax.out, cout, ay.kernel, ax.kernel,
                         ay.stride, ax.stride, ay.dilation, ax.dilation, ay.pad_begin, ax.pad_begin, p->group};
    int64_t dims[4] = {g.n, g.oh, g.ow, g.cout};
    if ((st = nrt_set_shape(ctx, nrt_out(ctx, 0), 4, dims))) return st;
    conv_qs16_state* s = nrt_alloc_state(ctx, sizeof *s);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    s->g = g;
    ctx->node->scratch_bytes = (size_t)cin * sizeof(int16_t); /* the padding: C_in zeros */
    return NRT_OK;
}

nrt_status nrt_conv_qs16_eval(nrt_ctx* ctx) {
    const qs16_params* p = ctx->node->params;
    const conv_qs16_state* s = ctx->node->state;
    if (s->g.n == 0 || s->g.oh == 0 || s->g.ow == 0) return NRT_OK;
    int16_t* pad = ctx->node->scratch;
    memset(pad, 0, (size_t)s->g.cin * sizeof *pad);
    nrt_threads threads = nrt_threads_of(ctx);
    nrt_conv_run(&threads, &p->plan, &s->g, nrt_in(ctx, 0)->data, p->packed, NULL, pad, &p->rq,
                 nrt_out(ctx, 0)->data);
    return NRT_OK;
}

/* ---- FullyConnected: x [..., K] . W[N, K]^T ---- */

nrt_status nrt_fc_qs16_parse(nrt_ctx* ctx) {
    nrt_activation act;
    uint8_t keep;
    nrt_status st;
    if ((st = nrt_opt_activation(ctx, NRT_FB_FullyConnectedOptions_activation, &act)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_FullyConnectedOptions_keep_dims, 1, &keep)))
        return st;
    const nrt_tensor* w = nrt_in(ctx, 1);
    if (!w || w->rank != 2 || w->dims[0] < 1 || w->dims[1] < 1)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "16x8 FullyConnected weights must be 2-D [N, K], not empty");
    const nrt_gemm_table* t = nrt_kernels_of(ctx)->qs16_gemm;
    size_t n = (size_t)w->dims[0], k = (size_t)w->dims[1];
    qs16_params* p = alloc_params(ctx, (int64_t)n);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    p->act = act;
    p->keep_dims = keep != 0;
    p->gemm = t;
    if ((st = check_constants(ctx, &p->act, (int64_t)n, p->m, &p->rq))) return st;
    return pack_shared(ctx, p, NULL, NULL, nrt_gemm_packed_bytes(t, n, k, 1));
}

nrt_status nrt_fc_qs16_prepare(nrt_ctx* ctx) {
    const qs16_params* p = ctx->node->params;
    const nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1);
    if (x->rank < 1 || x->dims[x->rank - 1] != w->dims[1])
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "input %s must end in K = %lld (weights %s)", x->name,
                           (long long)w->dims[1], w->name);
    int64_t dims[NRT_MAX_RANK], rows = 1;
    for (int d = 0; d < x->rank - 1; d++) {
        dims[d] = x->dims[d];
        if (!nrt_mul_overflow_ok(rows, x->dims[d], &rows))
            return nrt_op_fail(ctx, NRT_ERR_LIMIT, "the row count of x %s overflows", x->name);
    }
    dims[x->rank - 1] = w->dims[0];
    if (p->keep_dims) return nrt_set_shape(ctx, nrt_out(ctx, 0), x->rank, dims);
    int64_t flat[2] = {rows, w->dims[0]};
    return nrt_set_shape(ctx, nrt_out(ctx, 0), 2, flat);
}

nrt_status nrt_fc_qs16_eval(nrt_ctx* ctx) {
    const qs16_params* p = ctx->node->params;
    const nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1);
    size_t K = (size_t)w->dims[1], N = (size_t)w->dims[0], M = (size_t)(nrt_numel(x) / (int64_t)K);
    if (M == 0) return NRT_OK;
    nrt_threads threads = nrt_threads_of(ctx);
    nrt_gemm_args a = {M, N, K, 1, x->data, K, NULL, p->packed, 0, nrt_out(ctx, 0)->data, N, &p->rq};
    nrt_gemm_run(&threads, p->gemm, &a);
    return NRT_OK;
}
