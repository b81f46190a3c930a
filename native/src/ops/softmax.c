/* Softmax, LogSoftmax, Hardmax along one axis (opset-13 semantics; the
 * converter expresses older opsets' flatten-to-2-D rule with Flatten /
 * Reshape around the op). float32; Softmax also on quantized int8
 * (integer-only, kernels/requant.h: output scale 1/256, zero point -128). */
#include "../engine/op.h"
#include "../kernels/dispatch.h"
#include "../kernels/gemm.h"
#include "../kernels/ref/softmax_ref.h"
#include "quant_common.h"

/* int8 kernel: columns per task unit, and the values a thread's share
 * should hold at least (a share below it runs on the calling thread). */
#define QS8_BLOCK 64
#define QS8_TASK_VALUES 16384.0

typedef struct softmax_state {
    int64_t outer, n, inner;
    bool int8;
    nrt_f32_vsoftmax_ukernel row; /* float32 Softmax / LogSoftmax over the last axis (else NULL) */
    nrt_qs8_vsoftmax_ukernel qs8; /* int8 with n <= NRT_QS8_SOFTMAX_MAX_N (else NULL: the reference) */
    size_t blocks;                /* int8 kernel: column blocks per outer slice (task units) */
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
static nrt_status softmax_int8(nrt_ctx* ctx, const nrt_tensor* x, const nrt_tensor* y, int axis, softmax_state* s) {
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
    if (x->rank && x->dims[axis] <= NRT_QS8_SOFTMAX_MAX_N) s->qs8 = nrt_kernels_of(ctx)->qs8_vsoftmax;
    return NRT_OK;
}

static nrt_status softmax_prepare(nrt_ctx* ctx) {
    nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0);
    if (!x) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "input 0 is missing");
    softmax_state* s = nrt_alloc_state(ctx, sizeof *s);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    nrt_status st;
    int axis;
    if ((st = nrt_axis(ctx, *(const int32_t*)ctx->node->params, x->rank, &axis))) return st;
    if (nrt_is_qs8(x)) {
        if ((st = softmax_int8(ctx, x, y, axis, s))) return st;
    } else if (x->dtype != NRT_FLOAT32) {
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "input %s has type %s; only float32 is supported", x->name,
                           nrt_dtype_name(x->dtype));
    }
    if ((st = nrt_expect_same_dtype(ctx, x, y))) return st;
    s->outer = s->inner = 1;
    s->n = x->rank ? x->dims[axis] : 1;
    for (int d = 0; d < x->rank; d++) {
        if (d < axis) s->outer *= x->dims[d];
        if (d > axis) s->inner *= x->dims[d];
    }
    if (s->n == 0 || s->inner == 0) s->outer = 0; /* empty: nothing to compute */
    if (!s->int8 && s->inner == 1 && ctx->node->op != NRT_FB_OpType_Hardmax) s->row = nrt_kernels_of(ctx)->f32_vsoftmax;
    s->blocks = (size_t)((s->inner + QS8_BLOCK - 1) / QS8_BLOCK);
    return nrt_set_shape_like(ctx, y, x);
}

/* int8 kernel: task unit u is column block u % blocks of outer slice u / blocks. */
static void softmax_qs8_range(void* arg, size_t begin, size_t end) {
    const softmax_job* j = arg;
    const softmax_state* s = j->s;
    size_t n = (size_t)s->n, inner = (size_t)s->inner;
    for (size_t u = begin; u < end; u++) {
        size_t o = u / s->blocks, c0 = u % s->blocks * QS8_BLOCK, cols = inner - c0 < QS8_BLOCK ? inner - c0 : QS8_BLOCK;
        size_t at = o * n * inner + c0;
        s->qs8(n, inner, cols, (const int8_t*)j->x + at, s->table, (int8_t*)j->y + at);
    }
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
    if (s->qs8) {
        double unit = (double)s->n * (double)(s->inner < QS8_BLOCK ? s->inner : QS8_BLOCK);
        nrt_parallel_for(ctx, (size_t)s->outer * s->blocks, nrt_task_grain(QS8_TASK_VALUES, unit), softmax_qs8_range,
                         &j);
        return NRT_OK;
    }
    int64_t work = s->n * s->inner;
    size_t grain = work >= 4096 ? 1 : (size_t)(4096 / (work ? work : 1));
    nrt_parallel_for(ctx, (size_t)s->outer, grain, softmax_range, &j);
    return NRT_OK;
}

#define SOFTMAX_OP(NAME)                                                                             \
    const nrt_op_def nrt_op_##NAME = {#NAME, 0, NRT_FB_OpOptions_AxisOptions, 1, 1, 1, 1,          \
                                      softmax_parse, softmax_prepare, softmax_eval, NULL};
SOFTMAX_OP(Softmax) SOFTMAX_OP(LogSoftmax) SOFTMAX_OP(Hardmax)
