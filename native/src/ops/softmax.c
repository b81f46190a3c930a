/* Softmax, LogSoftmax, Hardmax along one axis (opset-13 semantics; the
 * converter expresses older opsets' flatten-to-2-D rule with Flatten /
 * Reshape around the op). float32; Softmax also on quantized int8
 * (integer-only, kernels/requant.h: output scale 1/256, zero point -128). */
#include "../engine/op.h"
#include "../kernels/dispatch.h"
#include "../kernels/ref/softmax_ref.h"
#include "quant_common.h"

typedef struct softmax_state {
    int64_t outer, n, inner;
    bool int8;
    nrt_f32_vsoftmax_ukernel row; /* float32 Softmax / LogSoftmax over the last axis (else NULL) */
    uint32_t table[256]; /* int8: T[d] = rint(65536 exp(-s_x d)) */
} softmax_state;

typedef struct softmax_job {
    nrt_softmax_kind kind;
    const softmax_state* s;
    const void* x; /* float32, or int8 */
    void* y;
} softmax_job;

static nrt_status softmax_parse(nrt_ctx* ctx) {
    int32_t* axis = nrt_alloc_params(ctx, sizeof *axis);
    if (!axis) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    return nrt_opt_i32(ctx, NRT_FB_AxisOptions_axis, 0, axis);
}

/* Quantized int8 Softmax: the output's parameters are fixed by the contract. */
static nrt_status softmax_int8(nrt_ctx* ctx, const nrt_tensor* x, const nrt_tensor* y, softmax_state* s) {
    nrt_qs8 qx, qy;
    nrt_status st;
    if (ctx->node->op != NRT_FB_OpType_Softmax)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "input %s is quantized int8; only Softmax has an int8 kernel",
                           x->name);
    if ((st = nrt_qs8_params(ctx, x, "input", &qx)) || (st = nrt_qs8_params(ctx, y, "output", &qy))) return st;
    if (qy.scale != 1.0f / 256.0f || qy.zero_point != -128)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "an int8 Softmax output has scale 1/256 and zero point -128; "
                           "%s has %g and %d", y->name, (double)qy.scale, (int)qy.zero_point);
    s->int8 = true;
    nrt_softmax_s8_table(qx.scale, s->table);
    return NRT_OK;
}

static nrt_status softmax_prepare(nrt_ctx* ctx) {
    nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0);
    if (!x) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "input 0 is missing");
    softmax_state* s = nrt_alloc_state(ctx, sizeof *s);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    nrt_status st;
    if (nrt_is_qs8(x)) {
        if ((st = softmax_int8(ctx, x, y, s))) return st;
    } else if (x->dtype != NRT_FLOAT32) {
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "input %s has type %s; only float32 is supported", x->name,
                           nrt_dtype_name(x->dtype));
    }
    int axis;
    if ((st = nrt_expect_same_dtype(ctx, x, y)) ||
        (st = nrt_axis(ctx, *(const int32_t*)ctx->node->params, x->rank, &axis)))
        return st;
    s->outer = s->inner = 1;
    s->n = x->rank ? x->dims[axis] : 1;
    for (int d = 0; d < x->rank; d++) {
        if (d < axis) s->outer *= x->dims[d];
        if (d > axis) s->inner *= x->dims[d];
    }
    if (s->n == 0 || s->inner == 0) s->outer = 0; /* empty: nothing to compute */
    if (!s->int8 && s->inner == 1 && ctx->node->op != NRT_FB_OpType_Hardmax) s->row = nrt_kernels_of(ctx)->f32_vsoftmax;
    return nrt_set_shape_like(ctx, y, x);
}

static void softmax_range(void* arg, size_t begin, size_t end) {
    const softmax_job* j = arg;
    const softmax_state* s = j->s;
    if (s->row) {
        for (size_t o = begin; o < end; o++)
            s->row(j->kind == NRT_LOG_SOFTMAX, (const float*)j->x + o * (size_t)s->n, (float*)j->y + o * (size_t)s->n,
                   (size_t)s->n);
    } else if (j->s->int8)
        nrt_softmax_qs8_ref(j->s->table, j->x, j->y, (int64_t)begin, (int64_t)end, j->s->n, j->s->inner);
    else
        nrt_softmax_f32_ref(j->kind, j->x, j->y, (int64_t)begin, (int64_t)end, j->s->n, j->s->inner);
}

static nrt_status softmax_eval(nrt_ctx* ctx) {
    const softmax_state* s = ctx->node->state;
    unsigned op = ctx->node->op;
    softmax_job j = {op == NRT_FB_OpType_Softmax      ? NRT_SOFTMAX
                     : op == NRT_FB_OpType_LogSoftmax ? NRT_LOG_SOFTMAX
                                                      : NRT_HARDMAX,
                     s, nrt_in(ctx, 0)->data, nrt_out(ctx, 0)->data};
    int64_t work = s->n * s->inner;
    size_t grain = work >= 4096 ? 1 : (size_t)(4096 / (work ? work : 1));
    nrt_parallel_for(ctx, (size_t)s->outer, grain, softmax_range, &j);
    return NRT_OK;
}

#define SOFTMAX_OP(NAME)                                                                             \
    const nrt_op_def nrt_op_##NAME = {#NAME, 0, NRT_FB_OpOptions_AxisOptions, 1, 1, 1, 1,          \
                                      softmax_parse, softmax_prepare, softmax_eval, NULL};
SOFTMAX_OP(Softmax) SOFTMAX_OP(LogSoftmax) SOFTMAX_OP(Hardmax)
