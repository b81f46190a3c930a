/* Ops that change only the shape: Reshape, Flatten, Squeeze, Unsqueeze.
 * The bytes are copied unchanged (the planner gives outputs their own
 * memory). Shape values must be static: constants or computed in prepare. */
#include <string.h>

#include "movement_util.h"

typedef struct reshape_params {
    bool allowzero;   /* Reshape */
    int32_t axis;     /* Flatten */
    int num_axes;     /* Squeeze / Unsqueeze attribute axes */
    int64_t axes[NRT_MAX_RANK];
} reshape_params;

static nrt_status copy_eval(nrt_ctx* ctx) {
    nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0);
    if (y->nbytes && x->data != y->data) memcpy(y->data, x->data, y->nbytes);
    return NRT_OK;
}

/* ---- Reshape ---- */

static nrt_status reshape_parse(nrt_ctx* ctx) {
    reshape_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    uint8_t allowzero;
    nrt_status st = nrt_opt_u8(ctx, NRT_FB_ReshapeOptions_allowzero, 0, &allowzero);
    p->allowzero = allowzero != 0;
    return st;
}

/* ONNX's rules: 0 copies the input's dim (unless allowzero), one -1 is
 * inferred from the element count. */
static nrt_status reshape_dims(nrt_ctx* ctx, const nrt_tensor* x, const int64_t* shape, int n, bool allowzero,
                               int64_t* dims) {
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < n; i++) {
        int64_t v = shape[i];
        if (v == 0 && !allowzero) {
            if (i >= x->rank)
                return nrt_op_fail(ctx, NRT_ERR_SHAPE, "shape[%d] = 0 copies input dim %d, but input %s has rank %d",
                                   i, i, x->name, x->rank);
            v = x->dims[i];
        }
        if (v == -1) {
            if (infer >= 0) return nrt_op_fail(ctx, NRT_ERR_SHAPE, "shape has more than one -1");
            infer = i;
            continue;
        }
        if (v < -1) return nrt_op_fail(ctx, NRT_ERR_SHAPE, "shape[%d] = %lld is invalid", i, (long long)v);
        dims[i] = v;
        if (__builtin_mul_overflow(known, v, &known))
            return nrt_op_fail(ctx, NRT_ERR_LIMIT, "shape's element count overflows");
    }
    if (allowzero && infer >= 0)
        for (int i = 0; i < n; i++)
            if (shape[i] == 0) return nrt_op_fail(ctx, NRT_ERR_SHAPE, "shape holds both 0 and -1 with allowzero set");
    int64_t total = nrt_numel(x);
    char a[96], b[96];
    if (infer >= 0) {
        if (known == 0 || total % known != 0)
            return nrt_op_fail(ctx, NRT_ERR_SHAPE, "cannot reshape input %s of shape %s (%lld elements) into %s: "
                               "the -1 has no whole-number solution", x->name,
                               nrt_mv_dims_str(x->rank, x->dims, a, sizeof a), (long long)total,
                               nrt_mv_dims_str(n, shape, b, sizeof b));
        dims[infer] = total / known;
    } else if (known != total) {
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "cannot reshape input %s of shape %s (%lld elements) into %s "
                           "(%lld elements)", x->name, nrt_mv_dims_str(x->rank, x->dims, a, sizeof a),
                           (long long)total, nrt_mv_dims_str(n, dims, b, sizeof b), (long long)known);
    }
    return NRT_OK;
}

static nrt_status reshape_prepare(nrt_ctx* ctx) {
    const reshape_params* p = ctx->node->params;
    nrt_tensor *x, *y, *shape_t;
    int64_t shape[NRT_MAX_RANK], dims[NRT_MAX_RANK];
    int n;
    nrt_status st;
    if ((st = nrt_mv_data_io(ctx, &x, &y)) || (st = nrt_mv_input(ctx, 1, "shape", &shape_t)) ||
        (st = nrt_read_static_ints(ctx, shape_t, "shape", shape, NRT_MAX_RANK, &n)) ||
        (st = reshape_dims(ctx, x, shape, n, p->allowzero, dims)))
        return st;
    return nrt_set_shape(ctx, y, n, dims);
}

/* ---- Flatten ---- */

static nrt_status flatten_parse(nrt_ctx* ctx) {
    reshape_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    /* an absent field is the schema's default, 0 (not ONNX's 1): the converter always writes it */
    return nrt_opt_i32(ctx, NRT_FB_AxisOptions_axis, 0, &p->axis);
}

static nrt_status flatten_prepare(nrt_ctx* ctx) {
    const reshape_params* p = ctx->node->params;
    nrt_tensor *x, *y;
    nrt_status st = nrt_mv_data_io(ctx, &x, &y);
    if (st) return st;
    int64_t axis = p->axis < 0 ? (int64_t)p->axis + x->rank : p->axis;
    if (axis < 0 || axis > x->rank)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "axis %d is out of range for rank %d", (int)p->axis, x->rank);
    int64_t dims[2] = {1, 1};
    for (int d = 0; d < x->rank; d++) dims[d >= axis] *= x->dims[d]; /* no overflow: the product is numel */
    return nrt_set_shape(ctx, y, 2, dims);
}

/* ---- Squeeze / Unsqueeze ---- */

static nrt_status axes_parse(nrt_ctx* ctx) {
    reshape_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    return nrt_opt_ints(ctx, NRT_FB_AxesOptions_axes, "axes", p->axes, NRT_MAX_RANK, &p->num_axes);
}

/* The axes (from input 1 when present, else the option), normalized for
 * `rank` and marked in `mark`; duplicates are an error. */
static nrt_status read_axes(nrt_ctx* ctx, int rank, bool* mark, int* count) {
    const reshape_params* p = ctx->node->params;
    int64_t axes[NRT_MAX_RANK];
    int n = p->num_axes;
    nrt_tensor* t = nrt_in(ctx, 1);
    if (t) {
        nrt_status st = nrt_read_static_ints(ctx, t, "axes", axes, NRT_MAX_RANK, &n);
        if (st) return st;
    } else {
        memcpy(axes, p->axes, sizeof axes);
    }
    memset(mark, 0, sizeof(bool) * NRT_MAX_RANK);
    for (int i = 0; i < n; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
        if (a < 0 || a >= rank)
            return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "axis %lld is out of range for rank %d",
                               (long long)axes[i], rank);
        if (mark[a]) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "axis %lld is repeated", (long long)axes[i]);
        mark[a] = true;
    }
    *count = n;
    return NRT_OK;
}

static nrt_status squeeze_prepare(nrt_ctx* ctx) {
    nrt_tensor *x, *y;
    bool mark[NRT_MAX_RANK];
    int n;
    nrt_status st;
    if ((st = nrt_mv_data_io(ctx, &x, &y)) || (st = read_axes(ctx, x->rank, mark, &n))) return st;
    int64_t dims[NRT_MAX_RANK];
    int r = 0;
    for (int d = 0; d < x->rank; d++) {
        if (n == 0 ? x->dims[d] == 1 : mark[d]) {
            if (x->dims[d] != 1)
                return nrt_op_fail(ctx, NRT_ERR_SHAPE, "cannot squeeze dim %d of input %s: it is %lld, not 1", d,
                                   x->name, (long long)x->dims[d]);
            continue;
        }
        dims[r++] = x->dims[d];
    }
    return nrt_set_shape(ctx, y, r, dims);
}

static nrt_status unsqueeze_prepare(nrt_ctx* ctx) {
    const reshape_params* p = ctx->node->params;
    nrt_tensor *x, *y;
    nrt_status st = nrt_mv_data_io(ctx, &x, &y);
    if (st) return st;
    int num_axes = p->num_axes;
    nrt_tensor* t = nrt_in(ctx, 1);
    if (t) {
        int64_t count = nrt_numel(t);
        if (count > NRT_MAX_RANK) return nrt_op_fail(ctx, NRT_ERR_LIMIT, "axes has %lld values", (long long)count);
        num_axes = (int)count;
    }
    int rank = x->rank + num_axes;
    if (rank > ctx->model->opts.max_rank)
        return nrt_op_fail(ctx, NRT_ERR_LIMIT, "output would have rank %d (limit %d)", rank,
                           ctx->model->opts.max_rank);
    bool mark[NRT_MAX_RANK];
    int n;
    if ((st = read_axes(ctx, rank, mark, &n))) return st;
    int64_t dims[NRT_MAX_RANK];
    for (int d = 0, k = 0; d < rank; d++) dims[d] = mark[d] ? 1 : x->dims[k++];
    return nrt_set_shape(ctx, y, rank, dims);
}

const nrt_op_def nrt_op_Reshape = {"Reshape", 0, NRT_FB_OpOptions_ReshapeOptions, 2, 2, 1, 1,
                                   reshape_parse, reshape_prepare, copy_eval, NULL};
const nrt_op_def nrt_op_Flatten = {"Flatten", 0, NRT_FB_OpOptions_AxisOptions, 1, 1, 1, 1,
                                   flatten_parse, flatten_prepare, copy_eval, NULL};
const nrt_op_def nrt_op_Squeeze = {"Squeeze", 0, NRT_FB_OpOptions_AxesOptions, 1, 2, 1, 1,
                                   axes_parse, squeeze_prepare, copy_eval, NULL};
const nrt_op_def nrt_op_Unsqueeze = {"Unsqueeze", 0, NRT_FB_OpOptions_AxesOptions, 1, 2, 1, 1,
                                     axes_parse, unsqueeze_prepare, copy_eval, NULL};
