/* Softmax, LogSoftmax, Hardmax along one axis (opset-13 semantics; the
 * converter expresses older opsets' flatten-to-2-D rule with Flatten /
 * Reshape around the op). float32. */
#include "../engine/op.h"
#include "../kernels/ref/softmax_ref.h"

typedef struct softmax_state {
    int64_t outer, n, inner;
} softmax_state;

typedef struct softmax_job {
    nrt_softmax_kind kind;
    const softmax_state* s;
    const float* x;
    float* y;
} softmax_job;

static nrt_status softmax_parse(nrt_ctx* ctx) {
    int32_t* axis = nrt_alloc_params(ctx, sizeof *axis);
    if (!axis) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    return nrt_opt_i32(ctx, NRT_FB_AxisOptions_axis, 0, axis);
}

static nrt_status softmax_prepare(nrt_ctx* ctx) {
    nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0);
    if (!x) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "input 0 is missing");
    if (x->dtype != NRT_FLOAT32)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "input %s has type %s; only float32 is supported", x->name,
                           nrt_dtype_name(x->dtype));
    nrt_status st;
    int axis;
    if ((st = nrt_expect_same_dtype(ctx, x, y)) ||
        (st = nrt_axis(ctx, *(const int32_t*)ctx->node->params, x->rank, &axis)))
        return st;
    softmax_state* s = nrt_alloc_state(ctx, sizeof *s);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    s->outer = s->inner = 1;
    s->n = x->rank ? x->dims[axis] : 1;
    for (int d = 0; d < x->rank; d++) {
        if (d < axis) s->outer *= x->dims[d];
        if (d > axis) s->inner *= x->dims[d];
    }
    if (s->n == 0 || s->inner == 0) s->outer = 0; /* empty: nothing to compute */
    return nrt_set_shape_like(ctx, y, x);
}

static void softmax_range(void* arg, size_t begin, size_t end) {
    const softmax_job* j = arg;
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
