/* BatchNormalization (inference), InstanceNormalization, LpNormalization on
 * float32 tensors of any rank and layout: the channel (or normalized) axis
 * comes from the options, already remapped by the converter's layout pass.
 * BatchNormalization's statistics and every scale/bias may be computed at
 * run time; they are read in eval. */
#include "../engine/op.h"
#include "../kernels/ref/channel_norm_ref.h"

typedef struct norm_params {
    int32_t axis;
    float epsilon;
    int p; /* LpNormalization */
} norm_params;

static nrt_status norm_parse(nrt_ctx* ctx) {
    norm_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    nrt_status st;
    if (ctx->node->op == NRT_FB_OpType_LpNormalization) {
        int32_t order;
        if ((st = nrt_opt_i32(ctx, NRT_FB_AxisOptions_axis, 0, &p->axis)) ||
            (st = nrt_opt_i32(ctx, NRT_FB_AxisOptions_p, 2, &order)))
            return st;
        if (order != 1 && order != 2) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "p = %d must be 1 or 2", order);
        p->p = order;
        return NRT_OK;
    }
    if ((st = nrt_opt_i32(ctx, NRT_FB_NormOptions_axis, -1, &p->axis)) ||
        (st = nrt_opt_f32(ctx, NRT_FB_NormOptions_epsilon, 1e-5f, &p->epsilon)))
        return st;
    if (!(p->epsilon >= 0.0f) || !isfinite(p->epsilon))
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "epsilon = %g must be finite and >= 0", (double)p->epsilon);
    return NRT_OK;
}

/* Checks every input is float32 and inputs 1.. are vectors of `c` values. */
static nrt_status check_inputs(nrt_ctx* ctx, int64_t c) {
    static const char* const roles[] = {"input", "scale", "bias", "mean", "variance"};
    for (int i = 0; i < nrt_num_in(ctx); i++) {
        const nrt_tensor* t = nrt_in(ctx, i);
        if (!t) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "%s (input %d) is required", roles[i], i);
        if (t->dtype != NRT_FLOAT32)
            return nrt_op_fail(ctx, i == 0 ? NRT_ERR_UNSUPPORTED : NRT_ERR_DTYPE,
                               "%s %s is %s; only float32 is supported", roles[i], t->name, nrt_dtype_name(t->dtype));
        if (i > 0 && nrt_numel(t) != c)
            return nrt_op_fail(ctx, NRT_ERR_SHAPE, "%s %s has %lld values; the channel axis has %lld", roles[i],
                               t->name, (long long)nrt_numel(t), (long long)c);
    }
    return nrt_expect_same_dtype(ctx, nrt_in(ctx, 0), nrt_out(ctx, 0));
}

/* outer, len, inner of x around `axis`. */
static void split_dims(const nrt_tensor* x, int axis, int64_t* outer, int64_t* len, int64_t* inner) {
    *outer = *inner = 1;
    for (int d = 0; d < axis; d++) *outer *= x->dims[d];
    for (int d = axis + 1; d < x->rank; d++) *inner *= x->dims[d];
    *len = x->rank ? x->dims[axis] : 1;
}

typedef struct norm_state {
    int axis;
    int64_t outer, len, inner;
} norm_state;

static nrt_status norm_prepare(nrt_ctx* ctx) {
    const norm_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0);
    unsigned op = ctx->node->op;
    int axis;
    nrt_status st = nrt_axis(ctx, p->axis, x->rank, &axis);
    if (st != NRT_OK) return st;
    if (x->rank < (op == NRT_FB_OpType_LpNormalization ? 1 : 2) || (op == NRT_FB_OpType_InstanceNormalization && axis == 0))
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "input %s has rank %d and channel axis %d: expected [N, C, ...]",
                           x->name, x->rank, axis);
    norm_state* s = nrt_alloc_state(ctx, sizeof *s);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    s->axis = axis;
    split_dims(x, axis, &s->outer, &s->len, &s->inner);
    if ((st = check_inputs(ctx, s->len))) return st;
    if (op == NRT_FB_OpType_BatchNormalization) ctx->node->scratch_bytes = (size_t)(2 * s->len) * sizeof(float);
    return nrt_set_shape_like(ctx, y, x);
}

typedef struct norm_job {
    const norm_state* s;
    const nrt_instnorm_geom* inst;
    const float *x, *a, *b;
    float* y;
    int p;
} norm_job;

static void batchnorm_rows(void* arg, size_t begin, size_t end) {
    const norm_job* j = arg;
    nrt_batchnorm_f32_ref(j->x, j->a, j->b, j->s->len, j->s->inner, j->y, (int64_t)begin, (int64_t)end);
}

static void instnorm_items(void* arg, size_t begin, size_t end) {
    const norm_job* j = arg;
    nrt_instnorm_f32_ref(j->inst, j->x, j->a, j->b, j->y, (int64_t)begin, (int64_t)end);
}

static void lpnorm_vectors(void* arg, size_t begin, size_t end) {
    const norm_job* j = arg;
    nrt_lpnorm_f32_ref(j->x, j->s->len, j->s->inner, j->p, j->y, (int64_t)begin, (int64_t)end);
}

static nrt_status norm_eval(nrt_ctx* ctx) {
    const norm_params* p = ctx->node->params;
    const norm_state* s = ctx->node->state;
    norm_job job = {s, NULL, nrt_in(ctx, 0)->data, NULL, NULL, nrt_out(ctx, 0)->data, p->p};
    if (nrt_numel(nrt_in(ctx, 0)) == 0) return NRT_OK;
    switch (ctx->node->op) {
    case NRT_FB_OpType_BatchNormalization: {
        float* a = ctx->node->scratch;
        nrt_batchnorm_coeffs_f32(nrt_in(ctx, 1)->data, nrt_in(ctx, 2)->data, nrt_in(ctx, 3)->data,
                                 nrt_in(ctx, 4)->data, p->epsilon, s->len, a, a + s->len);
        job.a = a;
        job.b = a + s->len;
        size_t rows = (size_t)(s->inner == 1 ? s->outer : s->outer * s->len);
        size_t row_len = (size_t)(s->inner == 1 ? s->len : s->inner);
        nrt_parallel_for(ctx, rows, 1 + 16384 / row_len, batchnorm_rows, &job);
        break;
    }
    case NRT_FB_OpType_InstanceNormalization: {
        /* x = [N][mid][C][inner] with batch axis 0 */
        nrt_instnorm_geom g = {nrt_in(ctx, 0)->dims[0], 0, s->len, s->inner, p->epsilon};
        g.mid = s->outer / g.n; /* n > 0: the input is not empty */
        job.inst = &g;
        job.a = nrt_in(ctx, 1)->data;
        job.b = nrt_in(ctx, 2)->data;
        int64_t chunks = (s->len + NRT_INSTNORM_CHUNK - 1) / NRT_INSTNORM_CHUNK;
        nrt_parallel_for(ctx, (size_t)(g.n * chunks), 1, instnorm_items, &job);
        break;
    }
    default:
        nrt_parallel_for(ctx, (size_t)(s->outer * s->inner), 1 + 4096 / (size_t)(s->len ? s->len : 1), lpnorm_vectors,
                         &job);
        break;
    }
    return NRT_OK;
}

const nrt_op_def nrt_op_BatchNormalization = {"BatchNormalization", 0, NRT_FB_OpOptions_NormOptions, 5, 5, 1, 1,
                                              norm_parse, norm_prepare, norm_eval, NULL};
const nrt_op_def nrt_op_InstanceNormalization = {"InstanceNormalization", 0, NRT_FB_OpOptions_NormOptions, 3, 3, 1, 1,
                                                 norm_parse, norm_prepare, norm_eval, NULL};
const nrt_op_def nrt_op_LpNormalization = {"LpNormalization", 0, NRT_FB_OpOptions_AxisOptions, 1, 1, 1, 1,
                                           norm_parse, norm_prepare, norm_eval, NULL};
