/* Expand (bidirectional broadcast to a static shape) and Tile (static
 * repeats). Both are strided copies: a broadcast or repeated dim reads the
 * input with stride 0. */
#include "movement_util.h"

static nrt_status expand_prepare(nrt_ctx* ctx) {
    nrt_tensor *x, *y, *shape_t;
    int64_t shape[NRT_MAX_RANK];
    int n;
    nrt_status st;
    if ((st = nrt_mv_data_io(ctx, &x, &y)) || (st = nrt_mv_input(ctx, 1, "shape", &shape_t)) ||
        (st = nrt_read_static_ints(ctx, shape_t, "shape", shape, NRT_MAX_RANK, &n)))
        return st;
    int rank = n > x->rank ? n : x->rank;
    int64_t in_strides[NRT_MAX_RANK], dims[NRT_MAX_RANK];
    nrt_mv_strides(x->rank, x->dims, in_strides);
    nrt_strided s = {.rank = rank, .esize = nrt_dtype_size(x->dtype)};
    for (int d = 0; d < rank; d++) {
        int dx = d - (rank - x->rank), ds = d - (rank - n); /* right-aligned dims; < 0: absent (1) */
        int64_t a = dx >= 0 ? x->dims[dx] : 1, b = ds >= 0 ? shape[ds] : 1;
        if (b < 0) return nrt_op_fail(ctx, NRT_ERR_SHAPE, "shape[%d] = %lld is negative", ds, (long long)b);
        if (a != b && a != 1 && b != 1) {
            char u[96], v[96];
            return nrt_op_fail(ctx, NRT_ERR_SHAPE, "input %s of shape %s cannot be broadcast to %s", x->name,
                               nrt_mv_dims_str(x->rank, x->dims, u, sizeof u), nrt_mv_dims_str(n, shape, v, sizeof v));
        }
        s.dims[d] = dims[d] = a == 1 ? b : a;
        s.strides[d] = a == 1 ? 0 : in_strides[dx];
    }
    if ((st = nrt_set_shape(ctx, y, rank, dims))) return st;
    return nrt_mv_plan_strided(ctx, &s);
}

static nrt_status tile_prepare(nrt_ctx* ctx) {
    nrt_tensor *x, *y, *reps_t;
    int64_t reps[NRT_MAX_RANK];
    int n;
    nrt_status st;
    if ((st = nrt_mv_data_io(ctx, &x, &y)) || (st = nrt_mv_input(ctx, 1, "repeats", &reps_t)) ||
        (st = nrt_read_static_ints(ctx, reps_t, "repeats", reps, NRT_MAX_RANK, &n)))
        return st;
    if (n != x->rank)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "repeats has %d values, input %s has rank %d", n, x->name, x->rank);
    int64_t in_strides[NRT_MAX_RANK], dims[NRT_MAX_RANK];
    nrt_mv_strides(x->rank, x->dims, in_strides);
    /* The output seen as [reps[0], dims[0], reps[1], dims[1], ...]. */
    nrt_strided s = {.rank = 2 * x->rank, .esize = nrt_dtype_size(x->dtype)};
    for (int d = 0; d < x->rank; d++) {
        if (reps[d] < 0)
            return nrt_op_fail(ctx, NRT_ERR_SHAPE, "repeats[%d] = %lld is negative", d, (long long)reps[d]);
        if (__builtin_mul_overflow(x->dims[d], reps[d], &dims[d]))
            return nrt_op_fail(ctx, NRT_ERR_LIMIT, "tiled dim %d overflows", d);
        s.dims[2 * d] = reps[d];
        s.strides[2 * d] = 0;
        s.dims[2 * d + 1] = x->dims[d];
        s.strides[2 * d + 1] = in_strides[d];
    }
    if ((st = nrt_set_shape(ctx, y, x->rank, dims))) return st;
    return nrt_mv_plan_strided(ctx, &s);
}

static nrt_status strided_eval(nrt_ctx* ctx) {
    nrt_mv_run_strided(ctx, nrt_in(ctx, 0)->data, nrt_out(ctx, 0)->data);
    return NRT_OK;
}

const nrt_op_def nrt_op_Expand = {"Expand", 0, 0, 2, 2, 1, 1, NULL, expand_prepare, strided_eval, NULL};
const nrt_op_def nrt_op_Tile = {"Tile", 0, 0, 2, 2, 1, 1, NULL, tile_prepare, strided_eval, NULL};
