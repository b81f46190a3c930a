/* LayerNormalization: normalizes over the axes [axis, rank) of X, then
 * applies Scale and the optional B (each unidirectionally broadcastable to
 * X.shape[axis:]). Optional outputs Mean and InvStdDev have shape
 * X.shape[:axis] + [1] * (rank - axis). float32. */
#include "../engine/op.h"
#include "../kernels/ref/layer_norm_ref.h"

typedef struct ln_params {
    int32_t axis;
    float epsilon;
} ln_params;

typedef struct ln_state {
    int64_t rows, n;
    int nd;                          /* normalized dims */
    int64_t dims[NRT_MAX_RANK];
    bool expand[2];                  /* Scale / B need broadcasting into scratch */
} ln_state;

typedef struct ln_job {
    const float *x, *scale, *bias;
    float *y, *mean, *inv;
    int64_t n;
    float eps;
} ln_job;

static nrt_status ln_parse(nrt_ctx* ctx) {
    ln_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    nrt_status st;
    if ((st = nrt_opt_i32(ctx, NRT_FB_NormOptions_axis, -1, &p->axis)) ||
        (st = nrt_opt_f32(ctx, NRT_FB_NormOptions_epsilon, 1e-5f, &p->epsilon)))
        return st;
    if (!(p->epsilon >= 0.0f) || isinf(p->epsilon))
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "epsilon %g must be finite and >= 0", (double)p->epsilon);
    return NRT_OK;
}

/* Checks that t broadcasts to the normalized shape; sets *expand when its
 * values must be spread out (it has fewer than n elements). */
static nrt_status check_param(nrt_ctx* ctx, const ln_state* s, const nrt_tensor* t, const char* role, bool* expand) {
    if (t->dtype != NRT_FLOAT32)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "%s %s has type %s; only float32 is supported", role, t->name,
                           nrt_dtype_name(t->dtype));
    if (t->rank > s->nd)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "%s %s has rank %d, more than the %d normalized axes", role, t->name,
                           t->rank, s->nd);
    for (int d = 0; d < t->rank; d++) {
        int64_t want = s->dims[s->nd - t->rank + d];
        if (t->dims[d] != want && t->dims[d] != 1)
            return nrt_op_fail(ctx, NRT_ERR_SHAPE, "%s %s dimension %d is %lld, expected %lld or 1", role, t->name, d,
                               (long long)t->dims[d], (long long)want);
    }
    *expand = nrt_numel(t) != s->n;
    return NRT_OK;
}

static nrt_status ln_prepare(nrt_ctx* ctx) {
    const ln_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, 0), *scale = nrt_in(ctx, 1), *bias = nrt_in(ctx, 2), *y = nrt_out(ctx, 0);
    if (!x || !scale) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "inputs X and Scale are required");
    if (x->dtype != NRT_FLOAT32)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "input %s has type %s; only float32 is supported", x->name,
                           nrt_dtype_name(x->dtype));
    int axis;
    nrt_status st;
    if ((st = nrt_expect_same_dtype(ctx, x, y)) || (st = nrt_axis(ctx, p->axis, x->rank, &axis))) return st;
    ln_state* s = nrt_alloc_state(ctx, sizeof *s);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    s->rows = s->n = 1;
    s->nd = x->rank - axis;
    for (int d = 0; d < x->rank; d++) {
        if (d < axis) s->rows *= x->dims[d];
        else s->n *= x->dims[d];
        if (d >= axis) s->dims[d - axis] = x->dims[d];
    }
    if ((st = check_param(ctx, s, scale, "Scale", &s->expand[0]))) return st;
    if (bias && (st = check_param(ctx, s, bias, "B", &s->expand[1]))) return st;
    ctx->node->scratch_bytes = (s->expand[0] || s->expand[1]) ? 2 * sizeof(float) * (size_t)s->n : 0;
    int64_t stat_dims[NRT_MAX_RANK];
    for (int d = 0; d < x->rank; d++) stat_dims[d] = d < axis ? x->dims[d] : 1;
    for (int k = 1; k < nrt_num_out(ctx); k++) {
        nrt_tensor* o = nrt_out(ctx, k);
        if ((st = nrt_expect_dtype(ctx, o, NRT_FLOAT32, "output")) ||
            (st = nrt_set_shape(ctx, o, x->rank, stat_dims)))
            return st;
    }
    return nrt_set_shape_like(ctx, y, x);
}

/* Spreads t over the normalized shape (dims of t right-aligned, size-1
 * dims repeated). */
static const float* expand(const ln_state* s, const nrt_tensor* t, float* dst) {
    int64_t stride[NRT_MAX_RANK], st = 1;
    for (int d = s->nd - 1; d >= 0; d--) {
        int td = d - (s->nd - t->rank);
        stride[d] = td >= 0 && t->dims[td] != 1 ? st : 0;
        if (td >= 0) st *= t->dims[td];
    }
    const float* src = t->data;
    for (int64_t i = 0; i < s->n; i++) {
        int64_t rem = i, off = 0;
        for (int d = s->nd - 1; d >= 0; d--) {
            off += rem % s->dims[d] * stride[d];
            rem /= s->dims[d];
        }
        dst[i] = src[off];
    }
    return dst;
}

static void ln_range(void* arg, size_t begin, size_t end) {
    const ln_job* j = arg;
    nrt_layer_norm_f32_ref(j->x, j->scale, j->bias, j->y, j->mean, j->inv, (int64_t)begin, (int64_t)end, j->n,
                           j->eps);
}

static nrt_status ln_eval(nrt_ctx* ctx) {
    const ln_params* p = ctx->node->params;
    const ln_state* s = ctx->node->state;
    nrt_tensor *scale = nrt_in(ctx, 1), *bias = nrt_in(ctx, 2);
    nrt_tensor *mean = nrt_out(ctx, 1), *inv = nrt_out(ctx, 2);
    float* scratch = ctx->node->scratch;
    ln_job j = {nrt_in(ctx, 0)->data, scale->data, bias ? bias->data : NULL, nrt_out(ctx, 0)->data,
                mean ? mean->data : NULL, inv ? inv->data : NULL, s->n, p->epsilon};
    if (s->n && s->expand[0]) j.scale = expand(s, scale, scratch); /* (n = 0: no scratch, nothing read) */
    if (s->n && bias && s->expand[1]) j.bias = expand(s, bias, scratch + s->n);
    size_t grain = s->n >= 4096 ? 1 : (size_t)(4096 / (s->n ? s->n : 1));
    nrt_parallel_for(ctx, (size_t)s->rows, grain, ln_range, &j);
    return NRT_OK;
}

const nrt_op_def nrt_op_LayerNormalization = {"LayerNormalization", 0, NRT_FB_OpOptions_NormOptions, 2, 3, 1, 3,
                                              ln_parse, ln_prepare, ln_eval, NULL};
