/* Helpers ops use to read options, check tensors and report errors. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/dtype.h"
#include "op.h"
#include "threadpool.h"

nrt_status nrt_op_fail(nrt_ctx* ctx, nrt_status st, const char* fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ctx->node)
        nrt_set_error(ctx->model, "%s node '%s' (#%d): %s", ctx->node->def->name,
                      ctx->node->name ? ctx->node->name : "", ctx->node_index, msg);
    else
        nrt_set_error(ctx->model, "%s", msg);
    return st;
}

nrt_tensor* nrt_in(nrt_ctx* ctx, int i) {
    if (i < 0 || i >= ctx->node->num_inputs || ctx->node->inputs[i] < 0) return NULL;
    return &ctx->model->tensors[ctx->node->inputs[i]];
}

nrt_tensor* nrt_out(nrt_ctx* ctx, int i) {
    if (i < 0 || i >= ctx->node->num_outputs) return NULL;
    return &ctx->model->tensors[ctx->node->outputs[i]];
}

int64_t nrt_numel(const nrt_tensor* t) {
    int64_t n = 1;
    for (int d = 0; d < t->rank; d++) n *= t->dims[d]; /* checked not to overflow by nrt_set_shape */
    return n;
}

nrt_status nrt_set_shape(nrt_ctx* ctx, nrt_tensor* t, int rank, const int64_t* dims) {
    if (rank < 0 || rank > ctx->model->opts.max_rank)
        return nrt_op_fail(ctx, NRT_ERR_LIMIT, "tensor %s would have rank %d (limit %d)", t->name, rank,
                           ctx->model->opts.max_rank);
    /* nonzero: the product of the dims other than 0. It must fit the limit
     * too, so that every partial product of an empty tensor's dims (which
     * ops compute for strides, index maps, loop bounds) stays small. */
    int64_t n = 1, nonzero = 1;
    int64_t tmp[NRT_MAX_RANK];
    for (int d = 0; d < rank; d++) {
        if (dims[d] < 0)
            return nrt_op_fail(ctx, NRT_ERR_SHAPE, "tensor %s would have dimension %d = %lld", t->name, d,
                               (long long)dims[d]);
        if (!nrt_mul_overflow_ok(n, dims[d], &n) || (dims[d] && !nrt_mul_overflow_ok(nonzero, dims[d], &nonzero)))
            return nrt_op_fail(ctx, NRT_ERR_LIMIT, "tensor %s: element count overflows", t->name);
        tmp[d] = dims[d];
    }
    uint64_t bytes, nonzero_bytes;
    if (!nrt_dtype_bytes(t->dtype, n, &bytes) || !nrt_dtype_bytes(t->dtype, nonzero, &nonzero_bytes) ||
        nonzero_bytes > ctx->model->opts.max_arena_bytes)
        return nrt_op_fail(ctx, NRT_ERR_LIMIT, "tensor %s would need %lld elements of %s%s, over the memory limit",
                           t->name, (long long)nonzero, nrt_dtype_name(t->dtype),
                           n == 0 ? " (counting its dims other than 0)" : "");
    t->rank = rank;
    for (int d = 0; d < NRT_MAX_RANK; d++) t->dims[d] = d < rank ? tmp[d] : 1;
    t->nbytes = (size_t)bytes;
    t->shape_known = true;
    return NRT_OK;
}

nrt_status nrt_expect_dtype(nrt_ctx* ctx, const nrt_tensor* t, nrt_dtype dtype, const char* role) {
    if (t->dtype == dtype) return NRT_OK;
    return nrt_op_fail(ctx, NRT_ERR_DTYPE, "%s %s is %s, expected %s", role, t->name, nrt_dtype_name(t->dtype),
                       nrt_dtype_name(dtype));
}

nrt_status nrt_expect_same_dtype(nrt_ctx* ctx, const nrt_tensor* a, const nrt_tensor* b) {
    if (a->dtype == b->dtype) return NRT_OK;
    return nrt_op_fail(ctx, NRT_ERR_DTYPE, "tensors %s (%s) and %s (%s) must have the same type", a->name,
                       nrt_dtype_name(a->dtype), b->name, nrt_dtype_name(b->dtype));
}

nrt_status nrt_read_static_ints(nrt_ctx* ctx, const nrt_tensor* t, const char* role, int64_t* out, int max,
                                int* count) {
    if (!nrt_is_static(t)) {
        if (ctx->node) ctx->node->needs_value = true; /* the engine prepares the node at invoke instead */
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "%s '%s' is computed from tensor data at run time", role,
                           t->name);
    }
    if (t->dtype != NRT_INT64 && t->dtype != NRT_INT32)
        return nrt_op_fail(ctx, NRT_ERR_DTYPE, "%s '%s' is %s, expected int64", role, t->name,
                           nrt_dtype_name(t->dtype));
    int64_t n = nrt_numel(t);
    if (n > max) return nrt_op_fail(ctx, NRT_ERR_LIMIT, "%s '%s' has %lld values (at most %d)", role, t->name,
                                    (long long)n, max);
    for (int64_t i = 0; i < n; i++)
        out[i] = t->dtype == NRT_INT64 ? ((const int64_t*)t->data)[i] : ((const int32_t*)t->data)[i];
    *count = (int)n;
    return NRT_OK;
}

nrt_status nrt_read_static_float(nrt_ctx* ctx, const nrt_tensor* t, const char* role, double* out) {
    if (!nrt_is_static(t)) {
        if (ctx->node) ctx->node->needs_value = true;
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "%s %s must be a constant", role, t->name);
    }
    if (nrt_numel(t) != 1) return nrt_op_fail(ctx, NRT_ERR_SHAPE, "%s %s must hold one value", role, t->name);
    switch (t->dtype) {
    case NRT_FLOAT32: *out = *(const float*)t->data; break;
    case NRT_FLOAT64: *out = *(const double*)t->data; break;
    case NRT_FLOAT16: *out = nrt_f16_to_f32(*(const uint16_t*)t->data); break;
    case NRT_INT64: *out = (double)*(const int64_t*)t->data; break;
    case NRT_INT32: *out = *(const int32_t*)t->data; break;
    case NRT_INT8: *out = *(const int8_t*)t->data; break;
    case NRT_UINT8: *out = *(const uint8_t*)t->data; break;
    default: return nrt_op_fail(ctx, NRT_ERR_DTYPE, "%s %s has unsupported type %s", role, t->name,
                                nrt_dtype_name(t->dtype));
    }
    return NRT_OK;
}

nrt_status nrt_axis(nrt_ctx* ctx, int64_t axis, int rank, int* out) {
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= (rank > 0 ? rank : 1))
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "axis %lld is out of range for rank %d", (long long)axis, rank);
    *out = (int)a;
    return NRT_OK;
}

static nrt_status corrupt(nrt_ctx* ctx, const char* what) {
    return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "corrupt option %s", what);
}

nrt_status nrt_opt_ints(nrt_ctx* ctx, int slot, const char* what, int64_t* out, int max, int* count) {
    nrt_fb_vec v;
    size_t elem = 4;
    /* Options store int32 vectors except where the schema says long. */
    if (!nrt_fb_vector(&ctx->node->options, slot, elem, &v)) return corrupt(ctx, what);
    if (v.len > (uint32_t)max)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "option %s has %u values (at most %d)", what, v.len, max);
    for (uint32_t i = 0; i < v.len; i++) out[i] = nrt_fb_vec_i32(&v, i);
    *count = (int)v.len;
    return NRT_OK;
}

nrt_status nrt_opt_i32(nrt_ctx* ctx, int slot, int32_t dflt, int32_t* out) {
    return nrt_fb_i32(&ctx->node->options, slot, dflt, out) ? NRT_OK : corrupt(ctx, "(int)");
}

nrt_status nrt_opt_u8(nrt_ctx* ctx, int slot, uint8_t dflt, uint8_t* out) {
    return nrt_fb_u8(&ctx->node->options, slot, dflt, out) ? NRT_OK : corrupt(ctx, "(byte)");
}

nrt_status nrt_opt_f32(nrt_ctx* ctx, int slot, float dflt, float* out) {
    return nrt_fb_f32(&ctx->node->options, slot, dflt, out) ? NRT_OK : corrupt(ctx, "(float)");
}

nrt_status nrt_opt_bytes(nrt_ctx* ctx, int slot, const uint8_t** data, uint32_t* len) {
    nrt_fb_vec v;
    if (!nrt_fb_vector(&ctx->node->options, slot, 1, &v)) return corrupt(ctx, "(bytes)");
    *data = nrt_fb_vec_data(&v);
    *len = v.len;
    return NRT_OK;
}

/* The kernels' activation kinds are the file's (kernels/activation.h). */
_Static_assert(NRT_ACT_NONE == NRT_FB_ActivationKind_NONE && NRT_ACT_RELU == NRT_FB_ActivationKind_RELU &&
                   NRT_ACT_CLIP == NRT_FB_ActivationKind_CLIP && NRT_ACT_LEAKY_RELU == NRT_FB_ActivationKind_LEAKY_RELU &&
                   NRT_ACT_HARD_SIGMOID == NRT_FB_ActivationKind_HARD_SIGMOID &&
                   NRT_ACT_HARD_SWISH == NRT_FB_ActivationKind_HARD_SWISH &&
                   NRT_ACT_SIGMOID == NRT_FB_ActivationKind_SIGMOID && NRT_ACT_SILU == NRT_FB_ActivationKind_SILU &&
                   NRT_ACT_TANH == NRT_FB_ActivationKind_TANH && NRT_ACT_GELU == NRT_FB_ActivationKind_GELU &&
                   NRT_ACT_COUNT == NRT_FB_ActivationKind_GELU + 1,
               "activation kinds differ from the schema's");

nrt_status nrt_opt_activation(nrt_ctx* ctx, int slot, nrt_activation* out) {
    const uint8_t* p;
    *out = (nrt_activation){NRT_ACT_NONE, 0, 0};
    if (!nrt_fb_struct(&ctx->node->options, slot, NRT_FB_FusedActivation_SIZE, &p)) return corrupt(ctx, "activation");
    if (!p) return NRT_OK;
    out->kind = p[NRT_FB_FusedActivation_kind_OFFSET];
    memcpy(&out->alpha, p + NRT_FB_FusedActivation_alpha_OFFSET, 4);
    memcpy(&out->beta, p + NRT_FB_FusedActivation_beta_OFFSET, 4);
    if (out->kind >= NRT_ACT_COUNT)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "unknown fused activation %u", out->kind);
    if (!isfinite(out->alpha) && out->kind != NRT_ACT_CLIP)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "fused activation parameter is not finite");
    if (out->kind == NRT_ACT_CLIP && !(out->alpha <= out->beta))
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "fused clip bounds [%g, %g] are empty", (double)out->alpha,
                           (double)out->beta);
    return NRT_OK;
}

void* nrt_alloc_params(nrt_ctx* ctx, size_t size) {
    nrt_mem_free(ctx->model, ctx->node->params);
    ctx->node->params = nrt_mem_alloc(ctx->model, size ? size : 1);
    return ctx->node->params;
}

void* nrt_alloc_state(nrt_ctx* ctx, size_t size) {
    nrt_node* n = ctx->node;
    if (n->state && n->def->release) n->def->release(n);
    nrt_mem_free(ctx->model, n->state);
    n->state = nrt_mem_alloc(ctx->model, size ? size : 1);
    return n->state;
}

void nrt_parallel_for(nrt_ctx* ctx, size_t n, size_t grain, nrt_task_fn fn, void* arg) {
    nrt_threadpool_run(ctx->model->pool, n, grain, fn, arg);
}

int nrt_num_threads(const nrt_ctx* ctx) { return nrt_threadpool_size(ctx->model->pool); }

static void pool_parallel_for(void* pool, size_t n, size_t grain, nrt_task_fn fn, void* arg) {
    nrt_threadpool_run(pool, n, grain, fn, arg);
}

nrt_threads nrt_threads_of(const nrt_ctx* ctx) {
    return (nrt_threads){pool_parallel_for, ctx->model->pool, nrt_threadpool_size(ctx->model->pool)};
}
