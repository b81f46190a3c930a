/* Slice (ONNX opset 10+ form: data, starts, ends, axes?, steps?, all but
 * data static). Start/end clamping follows the ONNX specification exactly,
 * including the INT64_MAX / INT64_MIN "to the end" sentinels and negative
 * steps. The result is a strided copy planned at prepare. */
#include "movement_util.h"

bool nrt_slice_contiguous(const nrt_node* node, size_t* offsets);

typedef struct slice_range {
    int64_t start, step, size;
} slice_range;

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* One axis of `dim` elements: the first index, step and element count. */
static slice_range slice_axis(int64_t start, int64_t end, int64_t step, int64_t dim) {
    if (start < 0) start += dim; /* cannot overflow: start < 0 <= dim */
    if (end < 0) end += dim;
    slice_range r = {0, step, 0};
    if (dim == 0) return r; /* also for negative steps, whose clamp range [0, dim - 1] is empty then */
    if (step > 0) {
        start = clamp64(start, 0, dim);
        end = clamp64(end, 0, dim);
        r.size = end > start ? (end - start - 1) / step + 1 : 0;
    } else {
        start = clamp64(start, 0, dim - 1);
        end = clamp64(end, -1, dim - 1);
        uint64_t neg_step = (uint64_t)0 - (uint64_t)step; /* |step|, also for INT64_MIN */
        r.size = start > end ? (int64_t)((uint64_t)(start - end - 1) / neg_step + 1) : 0;
    }
    r.start = start;
    return r;
}

/* Reads the static int input i (absent: count stays -1). */
static nrt_status read_ints(nrt_ctx* ctx, int i, const char* role, int64_t* out, int* count) {
    const nrt_tensor* t = nrt_in(ctx, i);
    *count = -1;
    return t ? nrt_read_static_ints(ctx, t, role, out, NRT_MAX_RANK, count) : NRT_OK;
}

static nrt_status read_slice_inputs(nrt_ctx* ctx, int rank, int64_t starts[], int64_t ends[], int64_t axes[],
                                    int64_t steps[], int* count) {
    nrt_tensor* t;
    int ns, ne, na, nst;
    nrt_status st;
    if ((st = nrt_mv_input(ctx, 1, "starts", &t)) || (st = nrt_mv_input(ctx, 2, "ends", &t)) ||
        (st = read_ints(ctx, 1, "starts", starts, &ns)) || (st = read_ints(ctx, 2, "ends", ends, &ne)) ||
        (st = read_ints(ctx, 3, "axes", axes, &na)) || (st = read_ints(ctx, 4, "steps", steps, &nst)))
        return st;
    if (ne != ns || (na >= 0 && na != ns) || (nst >= 0 && nst != ns))
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "starts, ends, axes and steps must have the same length "
                           "(%d, %d, %d, %d)", ns, ne, na, nst);
    for (int i = 0; i < ns; i++) {
        if (na < 0) axes[i] = i;
        if (nst < 0) steps[i] = 1;
        if (steps[i] == 0) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "steps[%d] is 0", i);
    }
    if (ns > rank)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "%d axes sliced, input has rank %d", ns, rank);
    *count = ns;
    return NRT_OK;
}

static nrt_status slice_prepare(nrt_ctx* ctx) {
    nrt_tensor *x, *y;
    int64_t starts[NRT_MAX_RANK], ends[NRT_MAX_RANK], axes[NRT_MAX_RANK], steps[NRT_MAX_RANK];
    int n = 0;
    nrt_status st;
    if ((st = nrt_mv_data_io(ctx, &x, &y))) return st;
    int rank = x->rank;
    if ((st = read_slice_inputs(ctx, rank, starts, ends, axes, steps, &n))) return st;
    slice_range r[NRT_MAX_RANK];
    bool seen[NRT_MAX_RANK] = {false};
    for (int d = 0; d < rank; d++) r[d] = (slice_range){0, 1, x->dims[d]};
    for (int i = 0; i < n; i++) {
        int a;
        if ((st = nrt_axis(ctx, axes[i], rank, &a))) return st;
        if (seen[a]) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "axis %lld is repeated", (long long)axes[i]);
        seen[a] = true;
        r[a] = slice_axis(starts[i], ends[i], steps[i], x->dims[a]);
    }
    int64_t in_strides[NRT_MAX_RANK], dims[NRT_MAX_RANK];
    nrt_mv_strides(rank, x->dims, in_strides);
    nrt_strided s = {.rank = rank, .esize = nrt_dtype_size(x->dtype)};
    bool empty = false;
    for (int d = 0; d < rank; d++) {
        s.dims[d] = dims[d] = r[d].size;
        empty |= r[d].size == 0;
        /* With one element the step never applies (and may be huge). */
        s.strides[d] = r[d].size > 1 ? in_strides[d] * r[d].step : 0;
        s.offset += r[d].start * in_strides[d];
    }
    if (empty) s.offset = 0;
    if ((st = nrt_set_shape(ctx, y, rank, dims))) return st;
    return nrt_mv_plan_strided(ctx, &s);
}

/* A slice that is one run of the input (after nrt_strided_plan merged its
 * dims): the planner may make the output a view of the input. */
bool nrt_slice_contiguous(const nrt_node* node, size_t* offsets) {
    const nrt_strided* s = node->state;
    if (!s || s->units != 1 || s->rank != 1 || s->strides[0] != 1) return false;
    offsets[0] = (size_t)s->offset * s->esize;
    return true;
}

static nrt_status slice_eval(nrt_ctx* ctx) {
    size_t offset;
    const uint8_t* x = nrt_in(ctx, 0)->data;
    if (nrt_slice_contiguous(ctx->node, &offset) && x + offset == nrt_out(ctx, 0)->data) return NRT_OK; /* a view */
    nrt_mv_run_strided(ctx, x, nrt_out(ctx, 0)->data);
    return NRT_OK;
}

const nrt_op_def nrt_op_Slice = {"Slice", 0, 0, 3, 5, 1, 1, NULL, slice_prepare, slice_eval, NULL};
