/* Transpose: output dim j is input dim perm[j] (default: reversed dims).
 * A strided copy (kernels/ref/movement_ref.c) planned at prepare. */
#include "movement_util.h"

typedef struct transpose_params {
    int num_perm;  /* 0 = reverse */
    int64_t perm[NRT_MAX_RANK];
} transpose_params;

static nrt_status transpose_parse(nrt_ctx* ctx) {
    transpose_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    nrt_status st = nrt_opt_ints(ctx, NRT_FB_TransposeOptions_perm, "perm", p->perm, NRT_MAX_RANK, &p->num_perm);
    if (st) return st;
    bool seen[NRT_MAX_RANK] = {false};
    for (int j = 0; j < p->num_perm; j++) {
        int64_t a = p->perm[j];
        if (a < 0 || a >= p->num_perm || seen[a])
            return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "perm is not a permutation of 0..%d", p->num_perm - 1);
        seen[a] = true;
    }
    return NRT_OK;
}

static nrt_status transpose_prepare(nrt_ctx* ctx) {
    const transpose_params* p = ctx->node->params;
    nrt_tensor *x, *y;
    nrt_status st = nrt_mv_data_io(ctx, &x, &y);
    if (st) return st;
    int rank = x->rank;
    if (p->num_perm && p->num_perm != rank)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "perm has %d entries, input %s has rank %d", p->num_perm, x->name,
                           rank);
    int64_t in_strides[NRT_MAX_RANK], dims[NRT_MAX_RANK];
    nrt_mv_strides(rank, x->dims, in_strides);
    nrt_strided s = {.rank = rank, .esize = nrt_dtype_size(x->dtype)};
    for (int j = 0; j < rank; j++) {
        int a = p->num_perm ? (int)p->perm[j] : rank - 1 - j;
        s.dims[j] = dims[j] = x->dims[a];
        s.strides[j] = in_strides[a];
    }
    if ((st = nrt_set_shape(ctx, y, rank, dims))) return st;
    return nrt_mv_plan_strided(ctx, &s);
}

static nrt_status transpose_eval(nrt_ctx* ctx) {
    nrt_mv_run_strided(ctx, nrt_in(ctx, 0)->data, nrt_out(ctx, 0)->data);
    return NRT_OK;
}

const nrt_op_def nrt_op_Transpose = {"Transpose", 0, NRT_FB_OpOptions_TransposeOptions, 1, 1, 1, 1,
                                     transpose_parse, transpose_prepare, transpose_eval, NULL};
