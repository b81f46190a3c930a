/* CumSum and CumProd with exclusive / reverse, for float32, float64, int32,
 * int64: one op body, the node's op type choosing the scan kernels. The axis
 * is AxisOptions.axis when the converter found ONNX's axis input constant;
 * otherwise input 1, read at eval (it does not change the output's shape),
 * and an axis out of range then fails the invoke. */
#include "../kernels/ref/scan_ref.h"
#include "movement_util.h"

typedef struct cumulative_params {
    int32_t axis;
    bool exclusive, reverse;
    bool product; /* CumProd */
} cumulative_params;

static nrt_status cumulative_parse(nrt_ctx* ctx) {
    cumulative_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    uint8_t exclusive, reverse;
    nrt_status st;
    if ((st = nrt_opt_i32(ctx, NRT_FB_AxisOptions_axis, 0, &p->axis)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_AxisOptions_exclusive, 0, &exclusive)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_AxisOptions_reverse, 0, &reverse)))
        return st;
    p->exclusive = exclusive != 0;
    p->reverse = reverse != 0;
    p->product = ctx->node->op == NRT_FB_OpType_CumProd;
    return NRT_OK;
}

static nrt_status cumulative_prepare(nrt_ctx* ctx) {
    const cumulative_params* p = ctx->node->params;
    nrt_tensor *x, *y, *axis_t = nrt_in(ctx, 1);
    int axis;
    nrt_status st;
    if ((st = nrt_mv_data_io(ctx, &x, &y)) || (st = nrt_mv_not_quantized(ctx, x))) return st;
    nrt_dtype t = x->dtype;
    if (t != NRT_FLOAT32 && t != NRT_FLOAT64 && t != NRT_INT32 && t != NRT_INT64)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "%s of %s is not supported (float32, float64, int32, "
                           "int64 are)", p->product ? "CumProd" : "CumSum", nrt_dtype_name(t));
    if (axis_t) {
        if (axis_t->dtype != NRT_INT32 && axis_t->dtype != NRT_INT64)
            return nrt_op_fail(ctx, NRT_ERR_DTYPE, "axis %s is %s, expected int32 or int64", axis_t->name,
                               nrt_dtype_name(axis_t->dtype));
        if (nrt_numel(axis_t) != 1) return nrt_op_fail(ctx, NRT_ERR_SHAPE, "axis %s must hold one value", axis_t->name);
    } else if ((st = nrt_axis(ctx, p->axis, x->rank, &axis))) {
        return st;
    }
    return nrt_set_shape_like(ctx, y, x);
}

typedef struct cumulative_job {
    const cumulative_params* p;
    size_t dim, inner;
    const void* x;
    void* y;
    nrt_dtype dtype;
} cumulative_job;

static void cumulative_range(void* arg, size_t begin, size_t end) {
    const cumulative_job* j = arg;
    bool ex = j->p->exclusive, rev = j->p->reverse;
    if (j->p->product) {
        switch (j->dtype) {
        case NRT_FLOAT32: nrt_cumprod_f32_ref(j->x, j->y, j->dim, j->inner, ex, rev, begin, end); break;
        case NRT_FLOAT64: nrt_cumprod_f64_ref(j->x, j->y, j->dim, j->inner, ex, rev, begin, end); break;
        case NRT_INT32: nrt_cumprod_i32_ref(j->x, j->y, j->dim, j->inner, ex, rev, begin, end); break;
        default: nrt_cumprod_i64_ref(j->x, j->y, j->dim, j->inner, ex, rev, begin, end); break;
        }
        return;
    }
    switch (j->dtype) {
    case NRT_FLOAT32: nrt_cumsum_f32_ref(j->x, j->y, j->dim, j->inner, ex, rev, begin, end); break;
    case NRT_FLOAT64: nrt_cumsum_f64_ref(j->x, j->y, j->dim, j->inner, ex, rev, begin, end); break;
    case NRT_INT32: nrt_cumsum_i32_ref(j->x, j->y, j->dim, j->inner, ex, rev, begin, end); break;
    default: nrt_cumsum_i64_ref(j->x, j->y, j->dim, j->inner, ex, rev, begin, end); break;
    }
}

static nrt_status cumulative_eval(nrt_ctx* ctx) {
    const cumulative_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0), *axis_t = nrt_in(ctx, 1);
    int64_t a = p->axis;
    if (axis_t) a = axis_t->dtype == NRT_INT64 ? *(const int64_t*)axis_t->data : *(const int32_t*)axis_t->data;
    int64_t axis = a < 0 ? a + x->rank : a;
    if (axis < 0 || axis >= (x->rank ? x->rank : 1))
        return nrt_op_fail(ctx, NRT_ERR_INVALID_ARGUMENT, "axis %lld is out of range for rank %d", (long long)a,
                           x->rank);
    size_t outer = 1, inner = 1, dim = x->rank ? (size_t)x->dims[axis] : 1;
    for (int d = 0; d < x->rank; d++)
        if (d < axis) outer *= (size_t)x->dims[d];
        else if (d > axis) inner *= (size_t)x->dims[d];
    cumulative_job job = {p, dim, inner, x->data, y->data, x->dtype};
    if (y->nbytes) nrt_mv_parallel(ctx, outer, dim * inner * nrt_dtype_size(x->dtype), cumulative_range, &job);
    return NRT_OK;
}

const nrt_op_def nrt_op_CumSum = {"CumSum", 0, NRT_FB_OpOptions_AxisOptions, 1, 2, 1, 1,
                                  cumulative_parse, cumulative_prepare, cumulative_eval, NULL};
const nrt_op_def nrt_op_CumProd = {"CumProd", 0, NRT_FB_OpOptions_AxisOptions, 1, 2, 1, 1,
                                   cumulative_parse, cumulative_prepare, cumulative_eval, NULL};
