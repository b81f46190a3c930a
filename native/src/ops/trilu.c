/* Trilu: keeps the upper (j - i >= k) or lower (j - i <= k) triangle of
 * the last two dims and zeroes the rest. k, the optional input 1, does not
 * change the output's shape, so it may be run-time data (read at eval).
 * Any element type (zero is all-zero bytes in every type). */
#include "movement_util.h"

typedef struct trilu_params {
    bool upper;
} trilu_params;

static nrt_status trilu_parse(nrt_ctx* ctx) {
    trilu_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    uint8_t upper;
    nrt_status st = nrt_opt_u8(ctx, NRT_FB_TriluOptions_upper, 1, &upper);
    p->upper = upper != 0;
    return st;
}

static nrt_status trilu_prepare(nrt_ctx* ctx) {
    nrt_tensor *x, *y, *k = nrt_in(ctx, 1);
    nrt_status st;
    if ((st = nrt_mv_data_io(ctx, &x, &y)) || (st = nrt_mv_not_quantized(ctx, x))) return st;
    if (x->rank < 2) return nrt_op_fail(ctx, NRT_ERR_SHAPE, "input %s has rank %d, needs at least 2", x->name, x->rank);
    if (k && (st = nrt_expect_dtype(ctx, k, NRT_INT64, "k"))) return st;
    if (k && nrt_numel(k) != 1) return nrt_op_fail(ctx, NRT_ERR_SHAPE, "k %s must hold one value", k->name);
    return nrt_set_shape_like(ctx, y, x);
}

static nrt_status trilu_eval(nrt_ctx* ctx) {
    const trilu_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, 0), *k = nrt_in(ctx, 1), *y = nrt_out(ctx, 0);
    int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
    if (!y->nbytes) return NRT_OK;
    size_t batch = (size_t)(nrt_numel(x) / (rows * cols));
    nrt_trilu_ref(x->data, y->data, nrt_dtype_size(x->dtype), batch, rows, cols, k ? *(const int64_t*)k->data : 0,
                  p->upper);
    return NRT_OK;
}

const nrt_op_def nrt_op_Trilu = {"Trilu", 0, NRT_FB_OpOptions_TriluOptions, 1, 2, 1, 1,
                                 trilu_parse, trilu_prepare, trilu_eval, NULL};
