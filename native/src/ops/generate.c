/* Ops that generate tensors: ConstantOfShape (fill to a static shape),
 * Range (static start / limit / delta), OneHot (static depth). */
#include <string.h>

#include "../engine/dynamic.h"
#include "../kernels/ref/scan_ref.h"
#include "movement_util.h"

/* ---- ConstantOfShape ---- */

typedef struct fill_params {
    const uint8_t* value;  /* in the model file; NULL = zeros */
    uint32_t len;
} fill_params;

static nrt_status cos_parse(nrt_ctx* ctx) {
    fill_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    nrt_status st = nrt_opt_bytes(ctx, NRT_FB_ConstantOfShapeOptions_value, &p->value, &p->len);
    if (st) return st;
    if (p->len > 8) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "value has %u bytes (one element expected)", p->len);
    return NRT_OK;
}

static nrt_status cos_prepare(nrt_ctx* ctx) {
    const fill_params* p = ctx->node->params;
    nrt_tensor *shape_t, *y = nrt_out(ctx, 0);
    int64_t dims[NRT_MAX_RANK];
    int n;
    nrt_status st;
    if ((st = nrt_mv_input(ctx, 0, "shape", &shape_t)) ||
        (st = nrt_read_static_ints(ctx, shape_t, "shape", dims, NRT_MAX_RANK, &n)))
        return st;
    if (y->dtype == NRT_INT4) return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "output %s is int4", y->name);
    if ((st = nrt_mv_not_quantized(ctx, y))) return st;
    if (p->len && p->len != nrt_dtype_size(y->dtype))
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "value has %u bytes, output %s is %s", p->len, y->name,
                           nrt_dtype_name(y->dtype));
    return nrt_set_shape(ctx, y, n, dims);
}

static nrt_status cos_eval(nrt_ctx* ctx) {
    const fill_params* p = ctx->node->params;
    nrt_tensor* y = nrt_out(ctx, 0);
    static const uint8_t zero[8] = {0};
    size_t esize = nrt_dtype_size(y->dtype);
    nrt_fill_ref(y->data, p->len ? p->value : zero, esize, y->nbytes / esize);
    return NRT_OK;
}

/* ---- Range ---- */

static bool range_type(nrt_dtype t) {
    return t == NRT_FLOAT32 || t == NRT_FLOAT64 || t == NRT_INT16 || t == NRT_INT32 || t == NRT_INT64;
}

static int64_t read_int(const nrt_tensor* t) {
    switch (t->dtype) {
    case NRT_INT16: return *(const int16_t*)t->data;
    case NRT_INT32: return *(const int32_t*)t->data;
    default: return *(const int64_t*)t->data;
    }
}

/* Element count max(ceil((limit - start) / delta), 0); ONNX computes the
 * difference in the element type, then the quotient in double. */
static nrt_status range_count(nrt_ctx* ctx, nrt_tensor* const in[3], int64_t* n) {
    bool is_float = in[0]->dtype == NRT_FLOAT32 || in[0]->dtype == NRT_FLOAT64;
    if (is_float) {
        double v[3];
        for (int i = 0; i < 3; i++) v[i] = in[0]->dtype == NRT_FLOAT32 ? *(const float*)in[i]->data
                                                                          : *(const double*)in[i]->data;
        double diff = in[0]->dtype == NRT_FLOAT32 ? (double)((float)v[1] - (float)v[0]) : v[1] - v[0];
        if (v[2] == 0) return nrt_op_fail(ctx, NRT_ERR_INVALID_ARGUMENT, "delta %s is 0", in[2]->name);
        double count = ceil(diff / v[2]);
        if (!(count < 9.0e18)) /* also NaN */
            return nrt_op_fail(ctx, NRT_ERR_LIMIT, "range from %g to %g by %g has too many elements", v[0], v[1], v[2]);
        *n = count > 0 ? (int64_t)count : 0;
        return NRT_OK;
    }
    int64_t start = read_int(in[0]), limit = read_int(in[1]), delta = read_int(in[2]), diff;
    if (delta == 0) return nrt_op_fail(ctx, NRT_ERR_INVALID_ARGUMENT, "delta %s is 0", in[2]->name);
    if (__builtin_sub_overflow(limit, start, &diff))
        return nrt_op_fail(ctx, NRT_ERR_LIMIT, "range from %lld to %lld has too many elements", (long long)start,
                           (long long)limit);
    if ((diff > 0) != (delta > 0) || diff == 0) {
        *n = 0;
        return NRT_OK;
    }
    /* Same signs: ceil(|diff| / |delta|) in unsigned arithmetic (INT64_MIN / -1 overflows, and traps on x86). */
    uint64_t ud = diff < 0 ? 0 - (uint64_t)diff : (uint64_t)diff, ub = delta < 0 ? 0 - (uint64_t)delta : (uint64_t)delta;
    uint64_t q = ud / ub + (ud % ub != 0);
    if (q > (uint64_t)INT64_MAX)
        return nrt_op_fail(ctx, NRT_ERR_LIMIT, "range from %lld to %lld by %lld has too many elements",
                           (long long)start, (long long)limit, (long long)delta);
    *n = (int64_t)q;
    return NRT_OK;
}

static nrt_status range_prepare(nrt_ctx* ctx) {
    nrt_tensor* in[3];
    nrt_tensor* y = nrt_out(ctx, 0);
    static const char* const roles[3] = {"start", "limit", "delta"};
    nrt_status st;
    for (int i = 0; i < 3; i++) {
        if ((st = nrt_mv_input(ctx, i, roles[i], &in[i])) || (st = nrt_expect_same_dtype(ctx, in[i], y))) return st;
        if (!nrt_is_static(in[i])) return nrt_value_at_invoke(ctx, in[i], roles[i]);
        if (nrt_numel(in[i]) != 1)
            return nrt_op_fail(ctx, NRT_ERR_SHAPE, "%s %s must be a scalar", roles[i], in[i]->name);
    }
    if ((st = nrt_mv_not_quantized(ctx, y))) return st;
    if (!range_type(y->dtype))
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "Range of %s is not supported", nrt_dtype_name(y->dtype));
    int64_t n;
    if ((st = range_count(ctx, in, &n))) return st;
    return nrt_set_shape(ctx, y, 1, &n);
}

static nrt_status range_eval(nrt_ctx* ctx) {
    const nrt_tensor *start = nrt_in(ctx, 0), *delta = nrt_in(ctx, 2);
    nrt_tensor* out = nrt_out(ctx, 0);
    void* y = out->data;
    size_t n = (size_t)nrt_numel(out);
    switch (start->dtype) {
    case NRT_FLOAT32: nrt_range_f32_ref(*(const float*)start->data, *(const float*)delta->data, y, n); break;
    case NRT_FLOAT64: nrt_range_f64_ref(*(const double*)start->data, *(const double*)delta->data, y, n); break;
    case NRT_INT16: nrt_range_i16_ref(*(const int16_t*)start->data, *(const int16_t*)delta->data, y, n); break;
    case NRT_INT32: nrt_range_i32_ref(*(const int32_t*)start->data, *(const int32_t*)delta->data, y, n); break;
    default: nrt_range_i64_ref(*(const int64_t*)start->data, *(const int64_t*)delta->data, y, n); break;
    }
    return NRT_OK;
}

/* ---- OneHot ---- */

typedef struct onehot_params {
    int32_t axis;
} onehot_params;

typedef struct onehot_state {
    int64_t depth;
    size_t outer, inner;
} onehot_state;

static nrt_status onehot_parse(nrt_ctx* ctx) {
    onehot_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    /* an absent field is the schema's default, 0 (not ONNX's -1): the converter always writes it */
    return nrt_opt_i32(ctx, NRT_FB_AxisOptions_axis, 0, &p->axis);
}

static bool numeric(nrt_dtype t) { return t != NRT_BOOL && t != NRT_INT4; }

static nrt_status onehot_prepare(nrt_ctx* ctx) {
    const onehot_params* p = ctx->node->params;
    nrt_tensor *idx, *depth_t, *values, *y = nrt_out(ctx, 0);
    double depth;
    nrt_status st;
    if ((st = nrt_mv_input(ctx, 0, "indices", &idx)) || (st = nrt_mv_input(ctx, 1, "depth", &depth_t)) ||
        (st = nrt_mv_input(ctx, 2, "values", &values)) || (st = nrt_expect_same_dtype(ctx, values, y)) ||
        (st = nrt_read_static_float(ctx, depth_t, "depth", &depth)) || (st = nrt_mv_not_quantized(ctx, y)))
        return st;
    if (!numeric(idx->dtype))
        return nrt_op_fail(ctx, NRT_ERR_DTYPE, "indices %s are %s", idx->name, nrt_dtype_name(idx->dtype));
    if (values->dtype == NRT_INT4 || nrt_numel(values) != 2)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "values %s must hold two elements [off, on]", values->name);
    if (!(depth >= 1 && depth < 1e15)) /* ONNX casts depth to int64 */
        return nrt_op_fail(ctx, NRT_ERR_INVALID_ARGUMENT, "depth %g must be at least 1", depth);
    int rank = idx->rank + 1;
    int64_t axis = p->axis < 0 ? (int64_t)p->axis + rank : p->axis;
    if (axis < 0 || axis >= rank)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "axis %d is out of range for rank %d", (int)p->axis, rank);
    int64_t dims[NRT_MAX_RANK + 1];
    onehot_state* s = nrt_alloc_state(ctx, sizeof *s);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    s->depth = (int64_t)depth;
    s->outer = s->inner = 1;
    for (int d = 0, k = 0; d < rank; d++) {
        if (d == axis) {
            dims[d] = s->depth;
            continue;
        }
        dims[d] = idx->dims[k++];
        if (d < axis) s->outer *= (size_t)dims[d];
        else s->inner *= (size_t)dims[d];
    }
    ctx->node->scratch_bytes = (size_t)nrt_numel(idx) * sizeof(int64_t); /* indices as int64 */
    return nrt_set_shape(ctx, y, rank, dims);
}

/* Index i of t as int64; floats truncate, and ones outside int64 (or NaN)
 * become INT64_MIN, which is out of range for every depth. */
static int64_t index_at(const nrt_tensor* t, size_t i) {
    double f;
    switch (t->dtype) {
    case NRT_INT8: return ((const int8_t*)t->data)[i];
    case NRT_UINT8: return ((const uint8_t*)t->data)[i];
    case NRT_INT16: return ((const int16_t*)t->data)[i];
    case NRT_INT32: return ((const int32_t*)t->data)[i];
    case NRT_INT64: return ((const int64_t*)t->data)[i];
    case NRT_FLOAT16: f = nrt_f16_to_f32(((const uint16_t*)t->data)[i]); break;
    case NRT_FLOAT32: f = ((const float*)t->data)[i]; break;
    default: f = ((const double*)t->data)[i]; break;
    }
    return f > -9.2e18 && f < 9.2e18 ? (int64_t)f : INT64_MIN;
}

static nrt_status onehot_eval(nrt_ctx* ctx) {
    const onehot_state* s = ctx->node->state;
    nrt_tensor *idx = nrt_in(ctx, 0), *values = nrt_in(ctx, 2), *y = nrt_out(ctx, 0);
    size_t n = (size_t)nrt_numel(idx), esize = nrt_dtype_size(y->dtype);
    if (!y->nbytes) return NRT_OK;
    int64_t* ind = ctx->node->scratch;
    for (size_t i = 0; i < n; i++) ind[i] = index_at(idx, i);
    const uint8_t* v = values->data;
    nrt_onehot_ref(ind, s->outer, s->inner, s->depth, v, v + esize, esize, y->data);
    return NRT_OK;
}

const nrt_op_def nrt_op_ConstantOfShape = {"ConstantOfShape", 0, NRT_FB_OpOptions_ConstantOfShapeOptions, 1, 1, 1,
                                           1, cos_parse, cos_prepare, cos_eval, NULL};
const nrt_op_def nrt_op_Range = {"Range", 0, 0, 3, 3, 1, 1, NULL, range_prepare, range_eval, NULL};
const nrt_op_def nrt_op_OneHot = {"OneHot", 0, NRT_FB_OpOptions_AxisOptions, 3, 3, 1, 1,
                                  onehot_parse, onehot_prepare, onehot_eval, NULL};
