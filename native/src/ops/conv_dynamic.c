/* The dynamic int8 Conv (conv_dynamic.h; the arithmetic: kernels/requant.h,
 * DynamicConv). x is quantized as one tensor into scratch, each block of
 * output pixels gathers its taps into rows of K = KH x KW x C_in values
 * (padding taps reading x's zero point; a 1x1 stride-1 unpadded conv reads
 * the quantized x in place), and the dynamic FullyConnected kernel
 * (nrt_qd8_fc_table, W OHWI taken as [C_out, K], packed once at load) turns
 * the rows into float outputs. A nonzero weight zero point (onnxruntime's
 * uint8 weights: int8 W - shift) adds -z_w x the row's sum of (q - z) times
 * the multiplier after the kernel, on the block while it is in cache. */
#include "conv_dynamic.h"

#include <string.h>

#include "../engine/packed.h"
#include "../kernels/dispatch.h"
#include "../kernels/dtype.h"
#include "../kernels/ref/conv_ref.h"
#include "../kernels/ref/qs8_ref.h"
#include "dynamic_quant.h"
#include "spatial_common.h"

#define PACK_TAG_DYNAMIC_CONV 0x44434f4e56ull /* "DCONV": W [C_out, K] in the qd8 table's layout */
#define ROWS_PER_TASK 32                    /* a multiple of every qd8 kernel's row block */

typedef struct dconv_params {
    nrt_window2d win;
    nrt_activation act;
    const nrt_qd8_fc_table* table;
    const void* packed;
    int32_t weight_zero; /* W's zero point (one for every output channel) */
} dconv_params;

typedef struct dconv_state {
    nrt_conv2d_geom g;
    int64_t M, K;
    bool in_place; /* 1x1 stride 1 unpadded: the quantized x is the rows */
    size_t rows_offset, scale_offset, zero_offset, ms_offset;
} dconv_state;

/* ---- load ---- */

/* Why W cannot be a dynamic Conv weight, NULL when it can: constant 4-D int8
 * with one scale or one per output channel (axis 0), one zero point (an int8: the verifier checks it). */
static const char* weight_error(const nrt_tensor* w) {
    const nrt_quant* q = &w->quant;
    if (w->kind != NRT_TENSOR_CONSTANT || w->rank != 4) return "must be a 4-D constant";
    if (w->dims[0] < 1 || w->dims[1] < 1 || w->dims[2] < 1 || w->dims[3] < 1) return "has an empty dimension";
    if (q->count != 1 && !(q->count == (uint64_t)w->dims[0] && q->axis == 0))
        return "needs one scale or one per output channel (axis 0)";
    for (uint32_t i = 0; q->zero_point && i < q->count; i++)
        if (q->zero_point[i] != q->zero_point[0]) return "has zero points that differ (one for every channel runs)";
    return NULL;
}

static nrt_status pack_weights(nrt_ctx* ctx, dconv_params* p, const nrt_tensor* w) {
    size_t N = (size_t)w->dims[0], K = (size_t)(w->dims[1] * w->dims[2] * w->dims[3]);
    nrt_pack_key key = {{PACK_TAG_DYNAMIC_CONV, (uint64_t)ctx->node->inputs[1], (uint64_t)(uintptr_t)p->table}};
    uint64_t info;
    if ((p->packed = nrt_packed_find(ctx->model, &key, &info))) return NRT_OK;
    size_t bytes = p->table->packed_bytes(N, K);
    void* dst = nrt_packed_alloc(ctx->model, bytes);
    if (!dst) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    p->table->pack(N, K, w->data, dst);
    if (!nrt_packed_add(ctx->model, &key, dst, bytes, 0)) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    p->packed = dst;
    return NRT_OK;
}

nrt_status nrt_conv_dynamic_parse(nrt_ctx* ctx) {
    const nrt_tensor* w = nrt_in(ctx, 1);
    int32_t group;
    nrt_status st = nrt_opt_i32(ctx, NRT_FB_ConvOptions_group, 1, &group);
    if (st) return st;
    if (group != 1)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "a dynamic int8 Conv (float32 input, int8 weights %s) takes "
                           "group 1 only, not %d", w->name, group);
    const char* why = weight_error(w);
    if (why) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "int8 weights %s of a dynamic Conv %s", w->name, why);
    dconv_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    if ((st = nrt_window2d_parse(ctx, NRT_FB_ConvOptions_kernel_shape, NRT_FB_ConvOptions_strides,
                                 NRT_FB_ConvOptions_dilations, NRT_FB_ConvOptions_pads, NRT_FB_ConvOptions_auto_pad,
                                 &p->win)) ||
        (st = nrt_opt_activation(ctx, NRT_FB_ConvOptions_activation, &p->act)))
        return st;
    p->weight_zero = w->quant.zero_point ? (int32_t)w->quant.zero_point[0] : 0;
    p->table = nrt_kernels_of(ctx)->qd8_fc;
    return pack_weights(ctx, p, w);
}

/* ---- prepare ---- */

static nrt_status check_tensors(nrt_ctx* ctx, const dconv_params* p, const nrt_tensor* x, const nrt_tensor* w,
                                const nrt_tensor* b, const nrt_tensor* y) {
    nrt_status st;
    if ((st = nrt_expect_dtype(ctx, y, NRT_FLOAT32, "output")) ||
        (b && (st = nrt_expect_dtype(ctx, b, NRT_FLOAT32, "bias"))))
        return st;
    if (x->rank != 4)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "input %s (rank %d) must be 4-D NHWC", x->name, x->rank);
    if (x->dims[3] != w->dims[3])
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "input %s has %lld channels; weights %s take %lld", x->name,
                           (long long)x->dims[3], w->name, (long long)w->dims[3]);
    if (p->win.kernel[0] && (p->win.kernel[0] != w->dims[1] || p->win.kernel[1] != w->dims[2]))
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "kernel_shape does not match weights %s", w->name);
    if (b && nrt_numel(b) != w->dims[0])
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "bias %s must have %lld values", b->name, (long long)w->dims[0]);
    return NRT_OK;
}

static size_t align64(size_t n) { return (n + 63) / 64 * 64; }

nrt_status nrt_conv_dynamic_prepare(nrt_ctx* ctx) {
    const dconv_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1), *b = nrt_in(ctx, 2), *y = nrt_out(ctx, 0);
    nrt_status st;
    if ((st = check_tensors(ctx, p, x, w, b, y))) return st;
    const nrt_window2d* win = &p->win;
    nrt_axis_geom ay = {x->dims[1], 0, w->dims[1], win->stride[0], win->dilation[0], win->pads[0], win->pads[2]};
    nrt_axis_geom ax = {x->dims[2], 0, w->dims[2], win->stride[1], win->dilation[1], win->pads[1], win->pads[3]};
    if ((st = nrt_axis_resolve(ctx, "height", win->auto_pad, false, &ay)) ||
        (st = nrt_axis_resolve(ctx, "width", win->auto_pad, false, &ax)))
        return st;
    nrt_conv2d_geom g = {x->dims[0], ay.in, ax.in, x->dims[3], ay.out, ax.out, w->dims[0], ay.kernel, ax.kernel,
                         ay.stride, ax.stride, ay.dilation, ax.dilation, ay.pad_begin, ax.pad_begin, 1};
    int64_t dims[4] = {g.n, g.oh, g.ow, g.cout};
    if ((st = nrt_set_shape(ctx, y, 4, dims))) return st;
    int64_t K = g.kh * g.kw * g.cin, M = nrt_numel(y) / g.cout, mk;
    if (!nrt_mul_overflow_ok(M, K, &mk) || mk > (int64_t)1 << 40 || nrt_numel(x) > (int64_t)1 << 40)
        return nrt_op_fail(ctx, NRT_ERR_LIMIT, "x %s is too large to quantize", x->name);
    dconv_state* s = nrt_alloc_state(ctx, sizeof *s);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    s->g = g;
    s->M = M;
    s->K = K;
    s->in_place = nrt_conv_is_pointwise(&g);
    s->rows_offset = align64((size_t)nrt_numel(x));
    s->scale_offset = s->rows_offset + (s->in_place ? 0 : align64((size_t)mk));
    s->zero_offset = s->scale_offset + (size_t)M * sizeof(float);
    s->ms_offset = s->zero_offset + (size_t)M * sizeof(int32_t);
    ctx->node->scratch_bytes = s->ms_offset + (size_t)g.cout * sizeof(float);
    return NRT_OK;
}

/* ---- eval ---- */

typedef struct dconv_job {
    const dconv_params* p;
    const dconv_state* s;
    const int8_t* x;       /* quantized x, NHWC */
    int8_t* rows;          /* [M, K] (x itself when in place) */
    int32_t z;
    nrt_dyn_fc d;          /* the kernel's arguments */
    float* ms;             /* [N]: s * s_w[n], the kernel's multipliers (weight_zero only) */
} dconv_job;

/* Rows [m0, m1): each output pixel's taps in (ky, kx, c) order, W's OHWI order. */
static void gather_rows(const dconv_job* j, int64_t m0, int64_t m1) {
    const nrt_conv2d_geom* g = &j->s->g;
    size_t cin = (size_t)g->cin;
    for (int64_t m = m0; m < m1; m++) {
        int64_t n = m / (g->oh * g->ow), r = m % (g->oh * g->ow), oy = r / g->ow, ox = r % g->ow;
        int8_t* dst = j->rows + m * j->s->K;
        for (int64_t ky = 0; ky < g->kh; ky++) {
            int64_t iy = oy * g->sh - g->pad_t + ky * g->dh;
            for (int64_t kx = 0; kx < g->kw; kx++, dst += cin) {
                int64_t ix = ox * g->sw - g->pad_l + kx * g->dw;
                if (iy >= 0 && iy < g->ih && ix >= 0 && ix < g->iw)
                    memcpy(dst, j->x + ((n * g->ih + iy) * g->iw + ix) * g->cin, cin);
                else
                    memset(dst, (int)j->z, cin);
            }
        }
    }
}

/* sum_k (q[k] - z) of one row, in int32 pieces that cannot overflow (|q - z| <= 255). */
static int64_t row_sum(const int8_t* q, int64_t K, int32_t z) {
    int64_t total = 0;
    for (int64_t k0 = 0; k0 < K; k0 += 1 << 16) {
        int64_t k1 = k0 + (1 << 16) < K ? k0 + (1 << 16) : K;
        int32_t part = 0;
        for (int64_t k = k0; k < k1; k++) part += q[k];
        total += part;
    }
    return total - K * (int64_t)z;
}

/* y += (float)(-z_w x sum_k (q - z)) * (s * s_w[n]) on rows [m0, m1), then the activation. */
static void add_weight_zero(const dconv_job* j, int64_t m0, int64_t m1) {
    const nrt_dyn_fc* d = &j->d;
    bool act = j->p->act.kind != NRT_ACT_NONE;
    for (int64_t m = m0; m < m1; m++) {
        float c = (float)(-j->p->weight_zero * row_sum(d->q + m * d->K, d->K, j->z)), *y = d->y + m * d->N;
        for (int64_t n = 0; n < d->N; n++) y[n] = y[n] + c * j->ms[n];
        if (act)
            for (int64_t n = 0; n < d->N; n++) y[n] = nrt_activation_apply(&j->p->act, y[n]);
    }
}

static void dconv_rows(void* arg, size_t begin, size_t end) {
    const dconv_job* j = arg;
    for (size_t t = begin; t < end; t++) {
        int64_t m0 = (int64_t)t * ROWS_PER_TASK, m1 = m0 + ROWS_PER_TASK < j->s->M ? m0 + ROWS_PER_TASK : j->s->M;
        if (!j->s->in_place) gather_rows(j, m0, m1);
        j->p->table->run(&j->d, j->p->packed, m0, m1, 0, j->d.N);
        if (j->p->weight_zero) add_weight_zero(j, m0, m1);
    }
}

nrt_status nrt_conv_dynamic_eval(nrt_ctx* ctx) {
    const dconv_params* p = ctx->node->params;
    const dconv_state* s = ctx->node->state;
    nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1), *b = nrt_in(ctx, 2), *y = nrt_out(ctx, 0);
    if (s->M == 0) return NRT_OK;
    uint8_t* scratch = ctx->node->scratch;
    int64_t n = nrt_numel(x);
    float scale;
    int32_t z;
    int8_t* q = (int8_t*)scratch;
    nrt_dynamic_quantize_tensor(ctx, x->data, n, q, &scale, &z);
    dconv_job j = {p, s, q, s->in_place ? q : (int8_t*)(scratch + s->rows_offset), z,
                   {s->M, s->g.cout, s->K, x->data, w->data, w->quant.scale, w->quant.count > 1,
                    b ? b->data : NULL, y->data, p->act, NULL, (float*)(scratch + s->scale_offset),
                    (int32_t*)(scratch + s->zero_offset)},
                   (float*)(scratch + s->ms_offset)};
    j.d.q = j.rows;
    if (p->weight_zero) {
        j.d.act = (nrt_activation){.kind = NRT_ACT_NONE}; /* applied after the correction */
        for (int64_t n = 0; n < s->g.cout; n++) j.ms[n] = scale * w->quant.scale[w->quant.count > 1 ? n : 0];
    }
    for (int64_t m = 0; m < s->M; m++) {
        j.d.row_scale[m] = scale;
        j.d.row_zero[m] = z;
    }
    nrt_parallel_for(ctx, (size_t)((s->M + ROWS_PER_TASK - 1) / ROWS_PER_TASK), 1, dconv_rows, &j);
    return NRT_OK;
}
