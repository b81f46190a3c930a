/* Gather and GatherElements. Indices (int32 / int64) may be run-time data:
 * every index is checked before it is used, and one outside [-dim, dim)
 * fails the invoke with NRT_ERR_INVALID_ARGUMENT.
 * Gather of an int8 table into a float32 output dequantizes the rows it picks
 * (an int8 embedding table, kernels/ref/gather_rows_ref.h): axis 0, scales per
 * row or per tensor; of a group-wise int4 matrix (a table shared with a tied
 * int4 output projection) likewise, scales per row and group. */
#include "movement_util.h"
#include "../kernels/ref/gather_rows_ref.h"

typedef struct gather_params {
    int32_t axis;
} gather_params;

typedef struct gather_state {
    int axis;
    size_t outer, nidx, inner_bytes;
    bool dequantize; /* int8 or int4 rows -> float32 */
} gather_state;

static nrt_status gather_parse(nrt_ctx* ctx) {
    gather_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    return nrt_opt_i32(ctx, NRT_FB_AxisOptions_axis, 0, &p->axis);
}

/* ---- Gather ---- */

/* int8 data, float32 output: dequantized rows of axis 0. */
static nrt_status check_dequantizing(nrt_ctx* ctx, const nrt_tensor* x, int axis) {
    const nrt_quant* q = &x->quant;
    if (axis != 0)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "int8 data %s into a float32 output is gathered along axis 0 "
                           "only (got axis %d)", x->name, axis);
    if (q->count == 0 || q->block_size)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "int8 data %s into a float32 output needs a scale per tensor "
                           "or per row", x->name);
    if (q->count > 1 && (q->axis != 0 || (int64_t)q->count != x->dims[0]))
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "int8 data %s has %u scales on axis %d; a float32 output "
                           "needs one per row of axis 0 (%lld)", x->name, q->count, q->axis, (long long)x->dims[0]);
    return NRT_OK;
}

/* int4 data, float32 output: dequantized rows of a matrix with scales per row and group. */
static nrt_status check_dequantizing_int4(nrt_ctx* ctx, const nrt_tensor* x, int axis) {
    const nrt_quant* q = &x->quant;
    if (axis != 0 || x->rank != 2)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "int4 data %s into a float32 output is gathered as rows of a "
                           "matrix (axis 0 of rank 2; got axis %d of rank %d)", x->name, axis, x->rank);
    int64_t groups = q->block_size > 0 ? (x->dims[1] + q->block_size - 1) / q->block_size : 0;
    if (q->block_size <= 0 || q->block_axis != 1 || q->axis != 0 || q->zero_point ||
        (int64_t)q->count != x->dims[0] * groups)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "int4 data %s into a float32 output needs symmetric scales "
                           "per row (axis 0) and group of columns (block_axis 1), rows x groups of them", x->name);
    return NRT_OK;
}

static nrt_status gather_prepare(nrt_ctx* ctx) {
    const gather_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0), *idx;
    int axis;
    nrt_status st;
    bool dequantize = x && (x->dtype == NRT_INT8 || x->dtype == NRT_INT4) && y->dtype == NRT_FLOAT32;
    if (dequantize) st = nrt_mv_input(ctx, 0, "data", &x);
    else st = nrt_mv_data_io(ctx, &x, &y);
    if (st || (st = nrt_mv_indices_input(ctx, &idx))) return st;
    if (x->rank == 0) return nrt_op_fail(ctx, NRT_ERR_SHAPE, "data %s is a scalar", x->name);
    if ((st = nrt_axis(ctx, p->axis, x->rank, &axis))) return st;
    if (dequantize && (st = x->dtype == NRT_INT4 ? check_dequantizing_int4(ctx, x, axis)
                                                 : check_dequantizing(ctx, x, axis)))
        return st;
    int rank = x->rank - 1 + idx->rank;
    if (rank > ctx->model->opts.max_rank)
        return nrt_op_fail(ctx, NRT_ERR_LIMIT, "output would have rank %d (limit %d)", rank,
                           ctx->model->opts.max_rank);
    int64_t dims[NRT_MAX_RANK];
    int r = 0;
    for (int d = 0; d < axis; d++) dims[r++] = x->dims[d];
    for (int d = 0; d < idx->rank; d++) dims[r++] = idx->dims[d];
    for (int d = axis + 1; d < x->rank; d++) dims[r++] = x->dims[d];
    if ((st = nrt_set_shape(ctx, y, rank, dims))) return st;
    gather_state* s = nrt_alloc_state(ctx, sizeof *s);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    s->axis = axis;
    s->dequantize = dequantize;
    s->outer = 1;
    s->inner_bytes = x->dtype == NRT_INT4 ? 1 : nrt_dtype_size(x->dtype); /* int4: counts elements */
    for (int d = 0; d < axis; d++) s->outer *= (size_t)x->dims[d];
    for (int d = axis + 1; d < x->rank; d++) s->inner_bytes *= (size_t)x->dims[d];
    s->nidx = (size_t)nrt_numel(idx);
    ctx->node->scratch_bytes = s->nidx * sizeof(int64_t); /* the normalized indices */
    return NRT_OK;
}

typedef struct gather_job {
    const gather_state* s;
    const void* data;
    const int64_t* idx;
    int64_t dim;
    void* out;
} gather_job;

static void gather_range(void* arg, size_t begin, size_t end) {
    const gather_job* j = arg;
    nrt_gather_ref(j->data, j->idx, j->s->nidx, j->dim, j->s->inner_bytes, j->out, begin, end);
}

static void gather_rows_range(void* arg, size_t begin, size_t end) { nrt_gather_rows_s8_f32_ref(arg, begin, end); }

static void gather_rows_int4_range(void* arg, size_t begin, size_t end) {
    nrt_gather_rows_qb4w_f32_ref(arg, begin, end);
}

static nrt_status gather_eval(nrt_ctx* ctx) {
    const gather_state* s = ctx->node->state;
    nrt_tensor *x = nrt_in(ctx, 0), *idx = nrt_in(ctx, 1);
    int64_t dim = x->dims[s->axis];
    if (!s->nidx) return NRT_OK;
    int64_t* norm = ctx->node->scratch;
    int64_t bad = nrt_gather_indices_ref(idx->data, idx->dtype == NRT_INT64, s->nidx, dim, norm);
    if (bad >= 0) return nrt_mv_index_error(ctx, idx, bad, dim);
    if (s->dequantize && x->dtype == NRT_INT4) {
        nrt_gather_rows_qb4w g = {x->data, s->inner_bytes, (size_t)x->quant.block_size, norm, x->quant.scale,
                                  nrt_out(ctx, 0)->data};
        if (s->inner_bytes) nrt_mv_parallel(ctx, s->nidx, s->inner_bytes * sizeof(float), gather_rows_int4_range, &g);
        return NRT_OK;
    }
    if (s->dequantize) {
        nrt_gather_rows_s8 g = {x->data, s->inner_bytes, norm, x->quant.scale, x->quant.zero_point,
                                x->quant.count > 1, nrt_out(ctx, 0)->data};
        if (s->inner_bytes) nrt_mv_parallel(ctx, s->nidx, s->inner_bytes * sizeof(float), gather_rows_range, &g);
        return NRT_OK;
    }
    gather_job job = {s, x->data, norm, dim, nrt_out(ctx, 0)->data};
    if (s->inner_bytes) nrt_mv_parallel(ctx, s->outer * s->nidx, s->inner_bytes, gather_range, &job);
    return NRT_OK;
}

/* ---- GatherElements ---- */

static nrt_status gather_elements_prepare(nrt_ctx* ctx) {
    const gather_params* p = ctx->node->params;
    nrt_tensor *x, *y, *idx;
    int axis;
    nrt_status st;
    if ((st = nrt_mv_data_io(ctx, &x, &y)) || (st = nrt_mv_indices_input(ctx, &idx))) return st;
    if (x->rank == 0 || idx->rank != x->rank)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "data %s (rank %d) and indices %s (rank %d) need the same rank >= 1",
                           x->name, x->rank, idx->name, idx->rank);
    if ((st = nrt_axis(ctx, p->axis, x->rank, &axis))) return st;
    for (int d = 0; d < x->rank; d++)
        if (d != axis && idx->dims[d] > x->dims[d])
            return nrt_op_fail(ctx, NRT_ERR_SHAPE, "indices %s dim %d (%lld) is larger than data %s's (%lld)",
                               idx->name, d, (long long)idx->dims[d], x->name, (long long)x->dims[d]);
    gather_state* s = nrt_alloc_state(ctx, sizeof *s);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    s->axis = axis;
    return nrt_set_shape(ctx, y, idx->rank, idx->dims);
}

static nrt_status gather_elements_eval(nrt_ctx* ctx) {
    const gather_state* s = ctx->node->state;
    nrt_tensor *x = nrt_in(ctx, 0), *idx = nrt_in(ctx, 1), *y = nrt_out(ctx, 0);
    if (!y->nbytes) return NRT_OK;
    int64_t bad = nrt_gather_elements_ref(x->data, x->dims, idx->data, idx->dtype == NRT_INT64, y->dims, x->rank,
                                          s->axis, nrt_dtype_size(x->dtype), y->data);
    return bad >= 0 ? nrt_mv_index_error(ctx, idx, bad, x->dims[s->axis]) : NRT_OK;
}

const nrt_op_def nrt_op_Gather = {"Gather", 0, NRT_FB_OpOptions_AxisOptions, 2, 2, 1, 1,
                                  gather_parse, gather_prepare, gather_eval, NULL};
const nrt_op_def nrt_op_GatherElements = {"GatherElements", 0, NRT_FB_OpOptions_AxisOptions, 2, 2, 1, 1,
                                          gather_parse, gather_elements_prepare, gather_elements_eval, NULL};
