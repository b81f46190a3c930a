/* ScatterElements, ScatterND and GatherND. Indices (int32 / int64) may be
 * run-time data: every one is checked and normalized before anything is
 * written, and one outside [-dim, dim) fails the invoke with
 * NRT_ERR_INVALID_ARGUMENT, naming the index and where it is. Scatters copy
 * data to the output, then apply the updates in order (a later update of
 * the same element wins, or combines with the earlier ones under a
 * reduction); GatherND copies slices on the model's threads. */
#include "movement_util.h"
#include "../kernels/ref/scatter_ref.h"

typedef struct scatter_params {
    int32_t axis, batch_dims;
    uint8_t reduction; /* NRT_FB_ScatterReduction_* */
} scatter_params;

typedef struct scatter_state {
    int axis;
    nrt_combine_fn combine; /* NULL: updates replace */
} scatter_state;

static nrt_status scatter_parse(nrt_ctx* ctx) {
    scatter_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    nrt_status st;
    if ((st = nrt_opt_i32(ctx, NRT_FB_ScatterOptions_axis, 0, &p->axis)) ||
        (st = nrt_opt_i32(ctx, NRT_FB_ScatterOptions_batch_dims, 0, &p->batch_dims)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_ScatterOptions_reduction, NRT_FB_ScatterReduction_NONE, &p->reduction)))
        return st;
    if (p->reduction > NRT_FB_ScatterReduction_MAX)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "unknown scatter reduction %u", p->reduction);
    return NRT_OK;
}

/* The combine for the node's reduction (state->combine), or an error for
 * element types the reductions are not written for. */
static nrt_status pick_combine(nrt_ctx* ctx, const nrt_tensor* x, uint8_t reduction, nrt_combine_fn* out) {
    *out = NULL;
    if (reduction == NRT_FB_ScatterReduction_NONE) return NRT_OK;
    nrt_combine_type type;
    switch (x->dtype) {
    case NRT_FLOAT32: type = NRT_COMBINE_F32; break;
    case NRT_FLOAT64: type = NRT_COMBINE_F64; break;
    case NRT_INT32: type = NRT_COMBINE_I32; break;
    case NRT_INT64: type = NRT_COMBINE_I64; break;
    default:
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "a scatter reduction on %s data %s is not supported (float32, "
                           "float64, int32, int64 are)", nrt_dtype_name(x->dtype), x->name);
    }
    nrt_status st = nrt_mv_not_quantized(ctx, x);
    if (st) return st;
    *out = nrt_scatter_combine_ref(reduction, type);
    return NRT_OK;
}

/* Data, indices, updates and output of a scatter; updates of data's type and quantization. */
static nrt_status scatter_io(nrt_ctx* ctx, nrt_tensor** x, nrt_tensor** idx, nrt_tensor** upd, nrt_tensor** y) {
    nrt_status st;
    if ((st = nrt_mv_data_io(ctx, x, y)) || (st = nrt_mv_indices_input(ctx, idx)) ||
        (st = nrt_mv_input(ctx, 2, "updates", upd)) || (st = nrt_expect_same_dtype(ctx, *x, *upd)))
        return st;
    return nrt_mv_expect_same_quant(ctx, *x, *upd);
}

typedef struct copy_job {
    const uint8_t* src;
    uint8_t* dst;
} copy_job;

static void copy_range(void* arg, size_t begin, size_t end) {
    const copy_job* j = arg;
    memcpy(j->dst + begin, j->src + begin, end - begin);
}

/* The output starts as a copy of data (which the updates then change). */
static void copy_data(nrt_ctx* ctx, const nrt_tensor* x, nrt_tensor* y) {
    if (x->data == y->data) return;
    copy_job job = {x->data, y->data};
    nrt_mv_parallel(ctx, y->nbytes, 1, copy_range, &job);
}

/* ---- ScatterElements ---- */

static nrt_status scatter_elements_prepare(nrt_ctx* ctx) {
    const scatter_params* p = ctx->node->params;
    nrt_tensor *x, *idx, *upd, *y;
    nrt_status st;
    if ((st = scatter_io(ctx, &x, &idx, &upd, &y))) return st;
    if (x->rank == 0 || idx->rank != x->rank)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "data %s (rank %d) and indices %s (rank %d) need the same rank >= 1",
                           x->name, x->rank, idx->name, idx->rank);
    char a[64], b[64];
    if (upd->rank != idx->rank || memcmp(upd->dims, idx->dims, sizeof(int64_t) * (size_t)idx->rank))
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "updates %s %s and indices %s %s need the same shape", upd->name,
                           nrt_mv_dims_str(upd->rank, upd->dims, a, sizeof a), idx->name,
                           nrt_mv_dims_str(idx->rank, idx->dims, b, sizeof b));
    scatter_state* s = nrt_alloc_state(ctx, sizeof *s);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    if ((st = nrt_axis(ctx, p->axis, x->rank, &s->axis)) || (st = pick_combine(ctx, x, p->reduction, &s->combine)))
        return st;
    for (int d = 0; d < x->rank; d++)
        if (d != s->axis && idx->dims[d] > x->dims[d])
            return nrt_op_fail(ctx, NRT_ERR_SHAPE, "indices %s dim %d (%lld) is larger than data %s's (%lld)",
                               idx->name, d, (long long)idx->dims[d], x->name, (long long)x->dims[d]);
    ctx->node->scratch_bytes = (size_t)nrt_numel(idx) * sizeof(int64_t); /* the normalized indices */
    return nrt_set_shape_like(ctx, y, x);
}

static nrt_status scatter_elements_eval(nrt_ctx* ctx) {
    const scatter_state* s = ctx->node->state;
    nrt_tensor *x = nrt_in(ctx, 0), *idx = nrt_in(ctx, 1), *upd = nrt_in(ctx, 2), *y = nrt_out(ctx, 0);
    size_t n = (size_t)nrt_numel(idx);
    int64_t dim = x->dims[s->axis], *norm = ctx->node->scratch;
    if (n) {
        int64_t bad = nrt_gather_indices_ref(idx->data, idx->dtype == NRT_INT64, n, dim, norm);
        if (bad >= 0) return nrt_mv_index_error(ctx, idx, bad, dim);
    }
    copy_data(ctx, x, y);
    if (n)
        nrt_scatter_elements_ref(y->data, x->dims, upd->data, norm, upd->dims, x->rank, s->axis,
                                 nrt_dtype_size(x->dtype), s->combine);
    return NRT_OK;
}

/* ---- ScatterND and GatherND: indices [..., k] address slices of data ---- */

/* Checks k, the indices' last dim, against the data dims it addresses from `first`. */
static nrt_status tuple_width(nrt_ctx* ctx, const nrt_tensor* x, const nrt_tensor* idx, int first, int* k) {
    if (idx->rank < 1)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "indices %s must have rank >= 1 (index tuples on the last axis)",
                           idx->name);
    int64_t last = idx->dims[idx->rank - 1];
    if (last < 1 || last > x->rank - first)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "indices %s hold tuples of %lld coordinates; data %s (rank %d) takes "
                           "1 to %d", idx->name, (long long)last, x->name, x->rank, x->rank - first);
    *k = (int)last;
    return NRT_OK;
}

/* Element offsets of the index tuples into data, from dim `first` on (scratch). */
static int64_t tuple_offsets(const nrt_tensor* x, const nrt_tensor* idx, int first, int k, int64_t* out,
                             int64_t* bad_dim) {
    int64_t strides[NRT_MAX_RANK];
    nrt_mv_strides(x->rank, x->dims, strides);
    size_t n = (size_t)(nrt_numel(idx) / k);
    int64_t bad = nrt_index_tuples_ref(idx->data, idx->dtype == NRT_INT64, n, k, x->dims + first, strides + first, out);
    if (bad >= 0) *bad_dim = x->dims[first + bad % k];
    return bad;
}

static nrt_status scatter_nd_prepare(nrt_ctx* ctx) {
    const scatter_params* p = ctx->node->params;
    nrt_tensor *x, *idx, *upd, *y;
    nrt_status st;
    int k = 0; /* (set by tuple_width; gcc -O2 for aarch64 cannot tell) */
    if ((st = scatter_io(ctx, &x, &idx, &upd, &y)) || (st = tuple_width(ctx, x, idx, 0, &k))) return st;
    /* updates: indices.shape[:-1] + data.shape[k:] */
    int64_t want[2 * NRT_MAX_RANK];
    int rank = 0;
    for (int d = 0; d < idx->rank - 1; d++) want[rank++] = idx->dims[d];
    for (int d = k; d < x->rank; d++) want[rank++] = x->dims[d];
    char a[128], b[128];
    if (upd->rank != rank || memcmp(upd->dims, want, sizeof(int64_t) * (size_t)rank))
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "updates %s are %s; indices %s and data %s need %s", upd->name,
                           nrt_mv_dims_str(upd->rank, upd->dims, a, sizeof a), idx->name, x->name,
                           rank <= NRT_MAX_RANK ? nrt_mv_dims_str(rank, want, b, sizeof b) : "a larger rank");
    scatter_state* s = nrt_alloc_state(ctx, sizeof *s);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    if ((st = pick_combine(ctx, x, p->reduction, &s->combine))) return st;
    ctx->node->scratch_bytes = (size_t)(nrt_numel(idx) / k) * sizeof(int64_t); /* the tuples' offsets */
    return nrt_set_shape_like(ctx, y, x);
}

static nrt_status scatter_nd_eval(nrt_ctx* ctx) {
    const scatter_state* s = ctx->node->state;
    nrt_tensor *x = nrt_in(ctx, 0), *idx = nrt_in(ctx, 1), *upd = nrt_in(ctx, 2), *y = nrt_out(ctx, 0);
    int k = (int)idx->dims[idx->rank - 1];
    size_t n = (size_t)(nrt_numel(idx) / k), slice = 1;
    for (int d = k; d < x->rank; d++) slice *= (size_t)x->dims[d];
    int64_t* offsets = ctx->node->scratch;
    if (n) {
        int64_t dim, bad = tuple_offsets(x, idx, 0, k, offsets, &dim);
        if (bad >= 0) return nrt_mv_index_error(ctx, idx, bad, dim);
    }
    copy_data(ctx, x, y);
    if (n && slice) nrt_scatter_slices_ref(y->data, offsets, n, upd->data, slice, nrt_dtype_size(x->dtype), s->combine);
    return NRT_OK;
}

static nrt_status gather_nd_prepare(nrt_ctx* ctx) {
    const scatter_params* p = ctx->node->params;
    nrt_tensor *x, *idx, *y;
    nrt_status st;
    int k = 0, b = p->batch_dims;
    if ((st = nrt_mv_data_io(ctx, &x, &y)) || (st = nrt_mv_indices_input(ctx, &idx))) return st;
    if (b < 0 || b >= x->rank || b >= idx->rank)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "batch_dims %d must be below the ranks of data %s (%d) and indices "
                           "%s (%d)", b, x->name, x->rank, idx->name, idx->rank);
    for (int d = 0; d < b; d++)
        if (x->dims[d] != idx->dims[d])
            return nrt_op_fail(ctx, NRT_ERR_SHAPE, "batch dim %d of data %s (%lld) and indices %s (%lld) differ", d,
                               x->name, (long long)x->dims[d], idx->name, (long long)idx->dims[d]);
    if ((st = tuple_width(ctx, x, idx, b, &k))) return st;
    /* output: indices.shape[:-1] + data.shape[b + k:] */
    int64_t dims[2 * NRT_MAX_RANK];
    int rank = 0;
    for (int d = 0; d < idx->rank - 1; d++) dims[rank++] = idx->dims[d];
    for (int d = b + k; d < x->rank; d++) dims[rank++] = x->dims[d];
    if (rank > ctx->model->opts.max_rank)
        return nrt_op_fail(ctx, NRT_ERR_LIMIT, "output would have rank %d (limit %d)", rank,
                           ctx->model->opts.max_rank);
    ctx->node->scratch_bytes = (size_t)(nrt_numel(idx) / k) * sizeof(int64_t); /* the tuples' offsets */
    return nrt_set_shape(ctx, y, rank, dims);
}

typedef struct gather_nd_job {
    const void* data;
    const int64_t* offsets;
    size_t esize, slice_bytes;
    void* out;
} gather_nd_job;

static void gather_nd_range(void* arg, size_t begin, size_t end) {
    const gather_nd_job* j = arg;
    nrt_gather_slices_ref(j->data, j->offsets, j->esize, j->slice_bytes, j->out, begin, end);
}

static nrt_status gather_nd_eval(nrt_ctx* ctx) {
    const scatter_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, 0), *idx = nrt_in(ctx, 1), *y = nrt_out(ctx, 0);
    int b = p->batch_dims, k = (int)idx->dims[idx->rank - 1];
    size_t n = (size_t)(nrt_numel(idx) / k), batches = 1, batch_elems = 1, esize = nrt_dtype_size(x->dtype);
    if (!n || !y->nbytes) return NRT_OK;
    for (int d = 0; d < b; d++) batches *= (size_t)x->dims[d];
    for (int d = b; d < x->rank; d++) batch_elems *= (size_t)x->dims[d];
    int64_t* offsets = ctx->node->scratch;
    int64_t dim, bad = tuple_offsets(x, idx, b, k, offsets, &dim);
    if (bad >= 0) return nrt_mv_index_error(ctx, idx, bad, dim);
    size_t per_batch = n / batches; /* tuples of one batch, which address that batch's block of data */
    for (size_t t = 0; t < n; t++) offsets[t] += (int64_t)((t / per_batch) * batch_elems);
    gather_nd_job job = {x->data, offsets, esize, y->nbytes / n, y->data};
    nrt_mv_parallel(ctx, n, job.slice_bytes, gather_nd_range, &job);
    return NRT_OK;
}

const nrt_op_def nrt_op_ScatterElements = {"ScatterElements", 0, NRT_FB_OpOptions_ScatterOptions, 3, 3, 1, 1,
                                           scatter_parse, scatter_elements_prepare, scatter_elements_eval, NULL};
const nrt_op_def nrt_op_ScatterND = {"ScatterND", 0, NRT_FB_OpOptions_ScatterOptions, 3, 3, 1, 1,
                                     scatter_parse, scatter_nd_prepare, scatter_nd_eval, NULL};
const nrt_op_def nrt_op_GatherND = {"GatherND", 0, NRT_FB_OpOptions_ScatterOptions, 2, 2, 1, 1,
                                    scatter_parse, gather_nd_prepare, gather_nd_eval, NULL};
