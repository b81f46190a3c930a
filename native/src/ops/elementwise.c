/* Where (three-way broadcast select), Clip (bounds from ClipOptions or from
 * scalar inputs) and Cast. Kernels and the exact conversion rules:
 * kernels/ref/elementwise_ref.h. */
#include "../kernels/dtype.h"
#include "../kernels/ref/elementwise_ref.h"
#include "broadcast.h"

/* Flat elementwise work below this many elements stays on one thread. */
#define GRAIN 16384

/* ---- Where ---- */

typedef struct where_state {
    nrt_bcast plan;
} where_state;

static nrt_status where_prepare(nrt_ctx* ctx) {
    nrt_tensor *c = nrt_in(ctx, 0), *x = nrt_in(ctx, 1), *y = nrt_in(ctx, 2), *out = nrt_out(ctx, 0);
    if (!c || !x || !y) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "all three inputs are required");
    nrt_status st;
    if ((st = nrt_expect_dtype(ctx, c, NRT_BOOL, "condition")) || (st = nrt_expect_same_dtype(ctx, x, y)) ||
        (st = nrt_expect_same_dtype(ctx, x, out)))
        return st;
    if (x->dtype == NRT_INT4)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "input %s has type int4, which Where does not support",
                           x->name);
    where_state* s = nrt_alloc_state(ctx, sizeof *s);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    const nrt_tensor* ins[3] = {c, x, y};
    int rank;
    int64_t dims[NRT_MAX_RANK];
    if ((st = nrt_bcast_shape(ctx, 3, ins, &rank, dims)) || (st = nrt_set_shape(ctx, out, rank, dims))) return st;
    nrt_bcast_plan(&s->plan, 3, ins, rank, dims);
    return NRT_OK;
}

typedef struct where_job {
    const nrt_bcast* plan;
    const uint8_t *c, *x, *y;
    uint8_t* out;
    size_t esize;
} where_job;

static void where_run(void* arg, const int64_t* off, int64_t out, int64_t count) {
    const where_job* j = arg;
    const nrt_bcast* p = j->plan;
    nrt_where_ref(j->esize, j->c + off[0], j->x + (size_t)off[1] * j->esize, j->y + (size_t)off[2] * j->esize,
                  j->out + (size_t)out * j->esize, (size_t)count, nrt_bcast_inner_stride(p, 0),
                  nrt_bcast_inner_stride(p, 1), nrt_bcast_inner_stride(p, 2));
}

static void where_task(void* arg, size_t begin, size_t end) {
    const where_job* j = arg;
    nrt_bcast_visit(j->plan, (int64_t)begin, (int64_t)end, where_run, arg);
}

static nrt_status where_eval(nrt_ctx* ctx) {
    const where_state* s = ctx->node->state;
    nrt_tensor* out = nrt_out(ctx, 0);
    if (s->plan.total == 0) return NRT_OK;
    where_job job = {&s->plan, nrt_in(ctx, 0)->data, nrt_in(ctx, 1)->data, nrt_in(ctx, 2)->data, out->data,
                     nrt_dtype_size(out->dtype)};
    nrt_parallel_for(ctx, (size_t)s->plan.total, GRAIN, where_task, &job);
    return NRT_OK;
}

/* ---- Clip ---- */

typedef struct clip_params {
    float min, max;
} clip_params;

static nrt_status clip_parse(nrt_ctx* ctx) {
    clip_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    nrt_status st;
    if ((st = nrt_opt_f32(ctx, NRT_FB_ClipOptions_min, -INFINITY, &p->min)) ||
        (st = nrt_opt_f32(ctx, NRT_FB_ClipOptions_max, INFINITY, &p->max)))
        return st;
    if (isnan(p->min) || isnan(p->max)) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "clip bounds are NaN");
    return NRT_OK;
}

static nrt_status clip_prepare(nrt_ctx* ctx) {
    nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0);
    if (!x) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "input 0 is missing");
    nrt_status st;
    if ((st = nrt_expect_same_dtype(ctx, x, y))) return st;
    if (!nrt_clip_supported(x->dtype))
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "input %s has type %s, which Clip does not support", x->name,
                           nrt_dtype_name(x->dtype));
    for (int i = 1; i < 3; i++) {
        const nrt_tensor* bound = nrt_in(ctx, i);
        if (!bound) continue;
        if ((st = nrt_expect_same_dtype(ctx, x, bound))) return st;
        if (nrt_numel(bound) != 1)
            return nrt_op_fail(ctx, NRT_ERR_SHAPE, "bound %s must hold one value, it holds %lld", bound->name,
                               (long long)nrt_numel(bound));
    }
    return nrt_set_shape_like(ctx, y, x);
}

static double bound_as_double(const nrt_tensor* t) {
    switch (t->dtype) {
    case NRT_FLOAT32: return *(const float*)t->data;
    case NRT_FLOAT64: return *(const double*)t->data;
    default: return nrt_f16_to_f32(*(const uint16_t*)t->data);
    }
}

static int64_t bound_as_int(const nrt_tensor* t) {
    switch (t->dtype) {
    case NRT_INT8: return *(const int8_t*)t->data;
    case NRT_UINT8: return *(const uint8_t*)t->data;
    case NRT_INT16: return *(const int16_t*)t->data;
    case NRT_INT32: return *(const int32_t*)t->data;
    default: return *(const int64_t*)t->data;
    }
}

/* Inputs override the options; option bounds convert to integer types like Cast does. */
static void clip_bounds(nrt_ctx* ctx, nrt_dtype t, nrt_clip_bounds* b) {
    const clip_params* p = ctx->node->params;
    const nrt_tensor *lo = nrt_in(ctx, 1), *hi = nrt_in(ctx, 2);
    int64_t tmin, tmax;
    nrt_dtype_range(t, &tmin, &tmax);
    b->flo = p->min;
    b->fhi = p->max;
    b->ilo = nrt_f64_to_int_sat(p->min, tmin, tmax);
    b->ihi = nrt_f64_to_int_sat(p->max, tmin, tmax);
    bool is_float = nrt_dtype_table[t].is_float;
    if (lo && is_float) b->flo = bound_as_double(lo);
    if (hi && is_float) b->fhi = bound_as_double(hi);
    if (lo && !is_float) b->ilo = bound_as_int(lo);
    if (hi && !is_float) b->ihi = bound_as_int(hi);
}

typedef struct clip_job {
    nrt_clip_bounds bounds;
    nrt_dtype dtype;
    size_t esize;
    const uint8_t* x;
    uint8_t* y;
} clip_job;

static void clip_task(void* arg, size_t begin, size_t end) {
    const clip_job* j = arg;
    nrt_clip_ref(j->dtype, &j->bounds, j->x + begin * j->esize, j->y + begin * j->esize, end - begin);
}

static nrt_status clip_eval(nrt_ctx* ctx) {
    nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0);
    clip_job job = {.dtype = x->dtype, .esize = nrt_dtype_size(x->dtype), .x = x->data, .y = y->data};
    clip_bounds(ctx, x->dtype, &job.bounds);
    nrt_parallel_for(ctx, (size_t)nrt_numel(x), GRAIN, clip_task, &job);
    return NRT_OK;
}

/* ---- Cast ---- */

typedef struct cast_params {
    nrt_dtype to;
} cast_params;

static nrt_status cast_parse(nrt_ctx* ctx) {
    cast_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    uint8_t to;
    nrt_status st = nrt_opt_u8(ctx, NRT_FB_CastOptions_to, 0, &to);
    if (st) return st;
    if (to >= NRT_DTYPE_COUNT) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "unknown target type %u", to);
    p->to = (nrt_dtype)to;
    return NRT_OK;
}

static nrt_status cast_prepare(nrt_ctx* ctx) {
    const cast_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0);
    if (!x) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "input 0 is missing");
    nrt_status st = nrt_expect_dtype(ctx, y, p->to, "output");
    if (st) return st;
    if (!nrt_cast_supported(x->dtype, p->to))
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "cast from %s to %s is not supported",
                           nrt_dtype_name(x->dtype), nrt_dtype_name(p->to));
    return nrt_set_shape_like(ctx, y, x);
}

typedef struct cast_job {
    nrt_dtype from, to;
    const uint8_t* x;
    uint8_t* y;
} cast_job;

static void cast_task(void* arg, size_t begin, size_t end) {
    const cast_job* j = arg;
    nrt_cast_ref(j->from, j->x + begin * nrt_dtype_size(j->from), j->to, j->y + begin * nrt_dtype_size(j->to),
                 end - begin);
}

static nrt_status cast_eval(nrt_ctx* ctx) {
    nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0);
    cast_job job = {x->dtype, y->dtype, x->data, y->data};
    nrt_parallel_for(ctx, (size_t)nrt_numel(x), GRAIN, cast_task, &job);
    return NRT_OK;
}

const nrt_op_def nrt_op_Where = {"Where", 0, 0, 3, 3, 1, 1, NULL, where_prepare, where_eval, NULL};
const nrt_op_def nrt_op_Clip = {"Clip", 0, NRT_FB_OpOptions_ClipOptions, 1, 3, 1, 1,
                                clip_parse, clip_prepare, clip_eval, NULL};
const nrt_op_def nrt_op_Cast = {"Cast", 0, NRT_FB_OpOptions_CastOptions, 1, 1, 1, 1,
                                cast_parse, cast_prepare, cast_eval, NULL};
