/* Shape and Size: read only their input's dims, so the engine evaluates
 * them in prepare (NRT_OP_SHAPE_ONLY) and what follows them (Gather,
 * Concat, Reshape's shape ...) becomes static too. */
#include "movement_util.h"

typedef struct shape_params {
    int32_t start, end;
    int num_perm;                  /* 0 = stored order is the logical order */
    int64_t perm[NRT_MAX_RANK];    /* stored dim j is logical axis perm[j] */
} shape_params;

static nrt_status shape_parse(nrt_ctx* ctx) {
    shape_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    nrt_status st;
    if ((st = nrt_opt_i32(ctx, NRT_FB_ShapeOptions_start, 0, &p->start)) ||
        (st = nrt_opt_i32(ctx, NRT_FB_ShapeOptions_end, INT32_MAX, &p->end)) ||
        (st = nrt_opt_ints(ctx, NRT_FB_ShapeOptions_perm, "perm", p->perm, NRT_MAX_RANK, &p->num_perm)))
        return st;
    bool seen[NRT_MAX_RANK] = {false};
    for (int j = 0; j < p->num_perm; j++) {
        int64_t a = p->perm[j];
        if (a < 0 || a >= p->num_perm || seen[a])
            return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "perm is not a permutation of 0..%d", p->num_perm - 1);
        seen[a] = true;
    }
    return NRT_OK;
}

/* ONNX opset 15: negative start/end count from the back, then both clamp to [0, rank]. */
static int clamp_index(int32_t v, int rank) {
    int64_t i = v < 0 ? (int64_t)v + rank : v;
    return i < 0 ? 0 : (i > rank ? rank : (int)i);
}

/* The slice [*start, *end) of the logical dims. */
static nrt_status logical_dims(nrt_ctx* ctx, int64_t* dims, int* start, int* end) {
    const shape_params* p = ctx->node->params;
    nrt_tensor* x;
    nrt_status st = nrt_mv_input(ctx, 0, "data", &x);
    if (st) return st;
    if (p->num_perm && p->num_perm != x->rank)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "perm has %d entries, input %s has rank %d", p->num_perm, x->name,
                           x->rank);
    for (int j = 0; j < x->rank; j++) dims[p->num_perm ? p->perm[j] : j] = x->dims[j];
    *start = clamp_index(p->start, x->rank);
    *end = clamp_index(p->end, x->rank);
    if (*end < *start) *end = *start;
    return NRT_OK;
}

static nrt_status shape_prepare(nrt_ctx* ctx) {
    int64_t dims[NRT_MAX_RANK], n;
    int start, end;
    nrt_tensor* y = nrt_out(ctx, 0);
    nrt_status st;
    if ((st = logical_dims(ctx, dims, &start, &end)) || (st = nrt_expect_dtype(ctx, y, NRT_INT64, "output")))
        return st;
    n = end - start;
    return nrt_set_shape(ctx, y, 1, &n);
}

static nrt_status shape_eval(nrt_ctx* ctx) {
    int64_t dims[NRT_MAX_RANK];
    int start, end;
    nrt_status st = logical_dims(ctx, dims, &start, &end);
    if (st) return st;
    int64_t* out = nrt_out(ctx, 0)->data;
    for (int i = start; i < end; i++) out[i - start] = dims[i];
    return NRT_OK;
}

static nrt_status size_prepare(nrt_ctx* ctx) {
    nrt_tensor *x, *y = nrt_out(ctx, 0);
    nrt_status st;
    if ((st = nrt_mv_input(ctx, 0, "data", &x)) || (st = nrt_expect_dtype(ctx, y, NRT_INT64, "output"))) return st;
    return nrt_set_shape(ctx, y, 0, NULL);
}

static nrt_status size_eval(nrt_ctx* ctx) {
    *(int64_t*)nrt_out(ctx, 0)->data = nrt_numel(nrt_in(ctx, 0));
    return NRT_OK;
}

const nrt_op_def nrt_op_Shape = {"Shape", NRT_OP_SHAPE_ONLY, NRT_FB_OpOptions_ShapeOptions, 1, 1, 1, 1,
                                 shape_parse, shape_prepare, shape_eval, NULL};
const nrt_op_def nrt_op_Size = {"Size", NRT_OP_SHAPE_ONLY, 0, 1, 1, 1, 1, NULL, size_prepare, size_eval, NULL};
