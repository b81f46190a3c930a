/* MaxPool (float32, int8, uint8), AveragePool (float32), GlobalAveragePool
 * and GlobalMaxPool (float32), 2-D on NHWC tensors. Window sizes, auto_pad
 * and ceil_mode are resolved against the actual input in prepare. A fused
 * activation (float32) is applied to the pooled values.
 * Quantized int8 (kernels/requant.h): all four; the max pools need equal
 * input / output parameters, the average pools requantize; a fused Relu /
 * Clip becomes the output clamp. */
#include "../kernels/ref/conv_ref.h"
#include "../kernels/ref/pool_ref.h"
#include "../kernels/dispatch.h"
#include "quant_common.h"
#include "spatial_common.h"

typedef struct pool_params {
    nrt_window2d win;
    bool ceil_mode, count_include_pad;
    nrt_activation act;   /* fused by the converter; float32 only */
} pool_params;

typedef struct pool_state {
    nrt_pool2d_geom g;  /* window pools */
    bool int8;          /* quantized int8: q (x, y filled at eval) */
    nrt_qs8_pool q;
} pool_state;

static bool is_global(const nrt_ctx* ctx) {
    return ctx->node->op == NRT_FB_OpType_GlobalAveragePool || ctx->node->op == NRT_FB_OpType_GlobalMaxPool;
}

static nrt_status pool_parse(nrt_ctx* ctx) {
    pool_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    uint8_t ceil_mode, include_pad;
    nrt_status st;
    if ((st = nrt_window2d_parse(ctx, NRT_FB_PoolOptions_kernel_shape, NRT_FB_PoolOptions_strides,
                                 NRT_FB_PoolOptions_dilations, NRT_FB_PoolOptions_pads, NRT_FB_PoolOptions_auto_pad,
                                 &p->win)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_PoolOptions_ceil_mode, 0, &ceil_mode)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_PoolOptions_count_include_pad, 0, &include_pad)) ||
        (st = nrt_opt_activation(ctx, NRT_FB_PoolOptions_activation, &p->act)))
        return st;
    if (!is_global(ctx) && p->win.kernel[0] == 0)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "kernel_shape is required");
    p->ceil_mode = ceil_mode;
    p->count_include_pad = include_pad;
    return NRT_OK;
}

static bool is_max(const nrt_ctx* ctx) {
    return ctx->node->op == NRT_FB_OpType_MaxPool || ctx->node->op == NRT_FB_OpType_GlobalMaxPool;
}

/* Quantized int8: parameters and the output clamp. */
static nrt_status prepare_int8(nrt_ctx* ctx, const nrt_tensor* x, const nrt_tensor* y, pool_state* s) {
    const pool_params* p = ctx->node->params;
    nrt_qs8 qx, qy;
    nrt_status st;
    if ((st = nrt_qs8_params(ctx, x, "input", &qx)) || (st = nrt_qs8_params(ctx, y, "output", &qy)) ||
        (is_max(ctx) && (st = nrt_qs8_same_params(ctx, x, y))) || (st = nrt_qs8_output(ctx, &p->act, &qy, &s->q.out)))
        return st;
    float m; /* the largest of the average pool's multipliers (count 1) must be in range */
    if (!is_max(ctx) && (st = nrt_qs8_multiplier(ctx, qx.scale, qy.scale, "s_x / s_y", &m))) return st;
    s->int8 = true;
    s->q.s_x = qx.scale;
    s->q.s_y = qy.scale;
    s->q.zx = qx.zero_point;
    return NRT_OK;
}

static nrt_status check_input(nrt_ctx* ctx, const nrt_tensor* x) {
    const pool_params* p = ctx->node->params;
    if (x->rank != 4)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "input %s has rank %d: only 2-D pooling (4-D NHWC input) is "
                           "supported", x->name, x->rank);
    if (nrt_is_qs8(x)) return NRT_OK;
    if (x->dtype != NRT_FLOAT32 && p->act.kind != NRT_ACT_NONE)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "a fused activation needs float32 input, %s is %s", x->name,
                           nrt_dtype_name(x->dtype));
    bool int8_ok = ctx->node->op == NRT_FB_OpType_MaxPool && (x->dtype == NRT_INT8 || x->dtype == NRT_UINT8);
    if (x->dtype != NRT_FLOAT32 && !int8_ok)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "input %s is %s, which this op does not support", x->name,
                           nrt_dtype_name(x->dtype));
    return nrt_expect_same_dtype(ctx, x, nrt_out(ctx, 0));
}

static nrt_status pool_prepare(nrt_ctx* ctx) {
    const pool_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0);
    nrt_status st = check_input(ctx, x);
    if (st != NRT_OK) return st;
    pool_state* s = nrt_alloc_state(ctx, sizeof *s);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    if (nrt_is_qs8(x) && (st = prepare_int8(ctx, x, y, s))) return st;
    if (is_global(ctx)) {
        int64_t dims[4] = {x->dims[0], 1, 1, x->dims[3]};
        return nrt_set_shape(ctx, y, 4, dims);
    }
    const nrt_window2d* w = &p->win;
    nrt_axis_geom ay = {x->dims[1], 0, w->kernel[0], w->stride[0], w->dilation[0], w->pads[0], w->pads[2]};
    nrt_axis_geom ax = {x->dims[2], 0, w->kernel[1], w->stride[1], w->dilation[1], w->pads[1], w->pads[3]};
    if ((st = nrt_axis_resolve(ctx, "height", w->auto_pad, p->ceil_mode, &ay)) ||
        (st = nrt_axis_resolve(ctx, "width", w->auto_pad, p->ceil_mode, &ax)))
        return st;
    nrt_pool2d_geom* g = &s->g;
    *g = (nrt_pool2d_geom){x->dims[0], ay.in, ax.in, x->dims[3], ay.out, ax.out, ay.kernel, ax.kernel, ay.stride,
                           ax.stride, ay.dilation, ax.dilation, ay.pad_begin, ax.pad_begin, ay.pad_end, ax.pad_end,
                           p->count_include_pad};
    int64_t dims[4] = {g->n, g->oh, g->ow, g->c};
    return nrt_set_shape(ctx, y, 4, dims);
}

typedef struct pool_job {
    nrt_ctx* ctx;
    const nrt_tensor *x, *y;
} pool_job;

/* Taps k in [*k0, *k1) of a window starting at `start` (dilation d) that lie
 * in [lo, hi) (as the reference pools count them). */
static void tap_span(int64_t start, int64_t kernel, int64_t d, int64_t lo, int64_t hi, int64_t* k0, int64_t* k1) {
    int64_t a = start >= lo ? 0 : (lo - start + d - 1) / d;
    int64_t b = start >= hi ? 0 : (hi - start + d - 1) / d;
    *k0 = a < kernel ? a : kernel;
    *k1 = b < kernel ? b : kernel;
    if (*k1 < *k0) *k1 = *k0;
}

#define POOL_MAX_TAPS 256

/* The level's kernels, one output pixel at a time over the pointers of its
 * taps inside the input (padding taps add nothing to either pool). */
static void pool_rows_int8_fast(const pool_job* j, const pool_state* s, int64_t b, int64_t e) {
    const nrt_kernels* k = nrt_kernels_of(j->ctx);
    const nrt_pool2d_geom* g = &s->g;
    const int8_t* ind[POOL_MAX_TAPS];
    bool avg = j->ctx->node->op == NRT_FB_OpType_AveragePool;
    nrt_qs8_requant rq = nrt_qs8_requant_make(s->q.out.zero_point, s->q.out.qmin, s->q.out.qmax);
    const int8_t* x = j->x->data;
    for (int64_t row = b; row < e; row++) {
        int64_t n = row / g->oh, y0 = row % g->oh * g->sh - g->pad_t, ky0, ky1, py0, py1;
        tap_span(y0, g->kh, g->dh, 0, g->ih, &ky0, &ky1);
        tap_span(y0, g->kh, g->dh, -g->pad_t, g->ih + g->pad_b, &py0, &py1);
        for (int64_t ox = 0; ox < g->ow; ox++) {
            int64_t x0 = ox * g->sw - g->pad_l, kx0, kx1, px0, px1;
            tap_span(x0, g->kw, g->dw, 0, g->iw, &kx0, &kx1);
            tap_span(x0, g->kw, g->dw, -g->pad_l, g->iw + g->pad_r, &px0, &px1);
            size_t taps = 0;
            for (int64_t ky = ky0; ky < ky1; ky++)
                for (int64_t kx = kx0; kx < kx1; kx++)
                    ind[taps++] = x + ((n * g->ih + y0 + ky * g->dh) * g->iw + x0 + kx * g->dw) * g->c;
            int8_t* yp = (int8_t*)j->y->data + (row * g->ow + ox) * g->c;
            if (!avg) {
                k->qs8_maxpool((size_t)g->c, taps, ind, s->q.out.qmin, s->q.out.qmax, yp);
                continue;
            }
            int64_t count = g->count_include_pad ? (py1 - py0) * (px1 - px0) : (int64_t)taps;
            float m = nrt_avgpool_multiplier(s->q.s_x, s->q.s_y, count);
            k->qs8_avgpool((size_t)g->c, taps, ind, s->q.zx, m, &rq, yp);
        }
    }
}

/* float32 MaxPool through the level's kernel, one output pixel at a time
 * over the pointers of its taps inside the input (as the reference, which it
 * matches exactly). */
static void maxpool_rows_f32(const pool_job* j, const nrt_pool2d_geom* g, int64_t b, int64_t e) {
    nrt_f32_maxpool_ukernel maxpool = nrt_kernels_of(j->ctx)->f32_maxpool;
    const float* ind[POOL_MAX_TAPS];
    const float* x = j->x->data;
    for (int64_t row = b; row < e; row++) {
        int64_t n = row / g->oh, y0 = row % g->oh * g->sh - g->pad_t, ky0, ky1;
        tap_span(y0, g->kh, g->dh, 0, g->ih, &ky0, &ky1);
        for (int64_t ox = 0; ox < g->ow; ox++) {
            int64_t x0 = ox * g->sw - g->pad_l, kx0, kx1;
            tap_span(x0, g->kw, g->dw, 0, g->iw, &kx0, &kx1);
            size_t taps = 0;
            for (int64_t ky = ky0; ky < ky1; ky++)
                for (int64_t kx = kx0; kx < kx1; kx++)
                    ind[taps++] = x + ((n * g->ih + y0 + ky * g->dh) * g->iw + x0 + kx * g->dw) * g->c;
            maxpool((size_t)g->c, taps, ind, (float*)j->y->data + (row * g->ow + ox) * g->c);
        }
    }
}

static bool window_fits(const nrt_pool2d_geom* g) {
    return g->kh <= POOL_MAX_TAPS && g->kw <= POOL_MAX_TAPS && g->kh * g->kw <= POOL_MAX_TAPS;
}

/* The kernels take windows of up to POOL_MAX_TAPS taps and a valid clamp (a
 * Clip with min > max keeps the reference's order). */
static bool pool_fast_int8(const pool_state* s) {
    const nrt_pool2d_geom* g = &s->g;
    return s->q.out.qmin <= s->q.out.qmax && window_fits(g);
}

/* Quantized int8 window pools: the max pool's fused clamp applies after the max. */
static void pool_rows_int8(const pool_job* j, const pool_state* s, int64_t b, int64_t e) {
    const nrt_pool2d_geom* g = &s->g;
    if (pool_fast_int8(s)) {
        pool_rows_int8_fast(j, s, b, e);
        return;
    }
    if (j->ctx->node->op == NRT_FB_OpType_AveragePool) {
        nrt_qs8_pool q = s->q;
        q.x = j->x->data;
        q.y = j->y->data;
        nrt_avgpool2d_qs8_ref(g, &q, b, e);
        return;
    }
    nrt_maxpool2d_qs8_ref(g, j->x->data, j->y->data, b, e);
    size_t n = (size_t)((e - b) * g->ow * g->c);
    if (s->q.out.qmin > -128 || s->q.out.qmax < 127)
        nrt_clamp_qs8_ref((int8_t*)j->y->data + b * g->ow * g->c, n, s->q.out.qmin, s->q.out.qmax);
}

static void pool_rows(void* arg, size_t begin, size_t end) {
    const pool_job* j = arg;
    const pool_state* s = j->ctx->node->state;
    const nrt_pool2d_geom* g = &s->g;
    const pool_params* p = j->ctx->node->params;
    int64_t b = (int64_t)begin, e = (int64_t)end;
    if (s->int8) {
        pool_rows_int8(j, s, b, e);
        return;
    }
    if (j->ctx->node->op == NRT_FB_OpType_AveragePool) nrt_avgpool2d_f32_ref(g, j->x->data, j->y->data, b, e);
    else if (j->x->dtype == NRT_INT8) nrt_maxpool2d_qs8_ref(g, j->x->data, j->y->data, b, e);
    else if (j->x->dtype == NRT_UINT8) nrt_maxpool2d_u8_ref(g, j->x->data, j->y->data, b, e);
    else if (window_fits(g)) maxpool_rows_f32(j, g, b, e);
    else nrt_maxpool2d_f32_ref(g, j->x->data, j->y->data, b, e);
    if (p->act.kind != NRT_ACT_NONE)
        nrt_bias_act_f32((float*)j->y->data + b * g->ow * g->c, (e - b) * g->ow, g->c, NULL, &p->act);
}

static void global_rows_int8(const pool_job* j, const pool_state* s, int64_t b, int64_t e) {
    const nrt_tensor* x = j->x;
    int64_t hw = x->dims[1] * x->dims[2], c = x->dims[3];
    bool avg = j->ctx->node->op == NRT_FB_OpType_GlobalAveragePool;
    if (avg && s->q.out.qmin <= s->q.out.qmax) {
        nrt_qs8_requant rq = nrt_qs8_requant_make(s->q.out.zero_point, s->q.out.qmin, s->q.out.qmax);
        float m = nrt_avgpool_multiplier(s->q.s_x, s->q.s_y, hw);
        for (int64_t n = b; n < e; n++)
            nrt_kernels_of(j->ctx)->qs8_gavgpool((size_t)hw, (size_t)c, (const int8_t*)x->data + n * hw * c,
                                                 (size_t)c, s->q.zx, m, &rq, (int8_t*)j->y->data + n * c);
        return;
    }
    if (avg) {
        nrt_qs8_pool q = s->q;
        q.x = x->data;
        q.y = j->y->data;
        nrt_global_avgpool_qs8_ref(&q, hw, c, b, e);
        return;
    }
    nrt_global_maxpool_qs8_ref(x->data, hw, c, j->y->data, b, e);
    if (s->q.out.qmin > -128 || s->q.out.qmax < 127)
        nrt_clamp_qs8_ref((int8_t*)j->y->data + b * c, (size_t)((e - b) * c), s->q.out.qmin, s->q.out.qmax);
}

static void global_rows(void* arg, size_t begin, size_t end) {
    const pool_job* j = arg;
    const nrt_tensor* x = j->x;
    int64_t hw = x->dims[1] * x->dims[2], c = x->dims[3];
    const pool_params* p = j->ctx->node->params;
    const pool_state* s = j->ctx->node->state;
    if (s->int8) {
        global_rows_int8(j, s, (int64_t)begin, (int64_t)end);
        return;
    }
    nrt_global_maxpool_f32_ref(x->data, hw, c, j->y->data, (int64_t)begin, (int64_t)end); /* (avg: global_avg_fast) */
    if (p->act.kind != NRT_ACT_NONE)
        nrt_bias_act_f32((float*)j->y->data + (int64_t)begin * c, (int64_t)(end - begin), c, NULL, &p->act);
}

/* Window taps (one compare or add each) a thread's share of a pooling should
 * cover at least: less costs more to hand over than it saves. */
#define POOL_CHUNK 65536.0

/* GlobalAveragePool on the vector kernels: tasks of 64 channels of one image. */
#define GAP_BLOCK 64
static void global_avg_fast(void* arg, size_t begin, size_t end) {
    const pool_job* j = arg;
    const pool_params* p = j->ctx->node->params;
    const nrt_kernels* k = nrt_kernels_of(j->ctx);
    size_t hw = (size_t)(j->x->dims[1] * j->x->dims[2]), c = (size_t)j->x->dims[3];
    size_t blocks = (c + GAP_BLOCK - 1) / GAP_BLOCK;
    for (size_t t = begin; t < end; t++) {
        size_t n = t / blocks, c0 = t % blocks * GAP_BLOCK, cc = c - c0 < GAP_BLOCK ? c - c0 : GAP_BLOCK;
        float* y = (float*)j->y->data + n * c + c0;
        k->f32_vsum_rows((const float*)j->x->data + n * hw * c + c0, hw, cc, c, hw ? 1.0f / (float)hw : 1.0f, y);
        if (p->act.kind != NRT_ACT_NONE) k->f32_vact(&p->act, y, y, cc);
    }
}

static nrt_status pool_eval(nrt_ctx* ctx) {
    pool_job job = {ctx, nrt_in(ctx, 0), nrt_out(ctx, 0)};
    if (nrt_numel(job.y) == 0) return NRT_OK;
    if (ctx->node->op == NRT_FB_OpType_GlobalAveragePool && job.x->dtype == NRT_FLOAT32) {
        size_t hw = (size_t)(job.x->dims[1] * job.x->dims[2]);
        size_t blocks = (size_t)(job.x->dims[3] + GAP_BLOCK - 1) / GAP_BLOCK;
        size_t tasks = (size_t)job.x->dims[0] * blocks;
        size_t grain = nrt_task_grain(nrt_gemm_format_f32.task_macs, (double)(hw * GAP_BLOCK) / 4);
        nrt_parallel_for(ctx, tasks, grain, global_avg_fast, &job);
        return NRT_OK;
    }
    if (is_global(ctx)) {
        nrt_parallel_for(ctx, (size_t)job.x->dims[0], 1, global_rows, &job);
    } else {
        const nrt_pool2d_geom* g = &((const pool_state*)ctx->node->state)->g;
        double row_work = (double)(g->ow * g->c * g->kh * g->kw);
        size_t grain = row_work >= POOL_CHUNK ? 1 : 1 + (size_t)(POOL_CHUNK / (row_work > 1.0 ? row_work : 1.0));
        nrt_parallel_for(ctx, (size_t)(g->n * g->oh), grain, pool_rows, &job);
    }
    return NRT_OK;
}

#define POOL_OP(NAME)                                                                                 \
    const nrt_op_def nrt_op_##NAME = {#NAME, 0, NRT_FB_OpOptions_PoolOptions, 1, 1, 1, 1,          \
                                      pool_parse, pool_prepare, pool_eval, NULL};
POOL_OP(MaxPool) POOL_OP(AveragePool) POOL_OP(GlobalAveragePool) POOL_OP(GlobalMaxPool)
