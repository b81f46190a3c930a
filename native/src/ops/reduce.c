/* Reductions (ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd,
 * ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSum, ReduceLogSumExp) and
 * ArgMax / ArgMin, with ReduceOptions (axes, keepdims, noop_with_empty_axes,
 * select_last_index). Empty axes reduce every axis, or none with
 * noop_with_empty_axes (then each output is the op applied to one element,
 * as ONNX's reference does: ReduceL1 gives |x|, ReduceSumSquare x^2 ...).
 * The axes are the attribute, or input 1 when the model computes them (then
 * the node is prepared at invoke, where their values are known).
 * float32 for all; Sum / Prod / Max / Min also on integers (Max / Min on
 * bool); ArgMax / ArgMin on float32 and integers. */
#include <string.h>

#include "../engine/op.h"
#include "../kernels/ref/reduce_ref.h"

typedef struct reduce_params {
    int64_t axes[NRT_MAX_RANK];
    int naxes;
    bool keepdims, noop, select_last;
} reduce_params;

typedef struct reduce_state {
    nrt_reduce_plan plan;
    int split;            /* merged dim split across threads, -1 = none */
    size_t grain;
    int64_t count;        /* inputs per output (ReduceMean) */
    int64_t outer, n, inner; /* ArgMax / ArgMin */
} reduce_state;

static bool is_arg(unsigned op) { return op == NRT_FB_OpType_ArgMax || op == NRT_FB_OpType_ArgMin; }

static nrt_status reduce_parse(nrt_ctx* ctx) {
    reduce_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    uint8_t keep, noop, last;
    nrt_status st;
    if ((st = nrt_opt_ints(ctx, NRT_FB_ReduceOptions_axes, "axes", p->axes, NRT_MAX_RANK, &p->naxes)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_ReduceOptions_keepdims, 1, &keep)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_ReduceOptions_noop_with_empty_axes, 0, &noop)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_ReduceOptions_select_last_index, 0, &last)))
        return st;
    p->keepdims = keep;
    p->noop = noop;
    p->select_last = last;
    if (is_arg(ctx->node->op) && p->naxes > 1)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "takes one axis, got %d", p->naxes);
    return NRT_OK;
}

/* Marks the reduced axes of a rank-`rank` input. */
static nrt_status reduced_axes(nrt_ctx* ctx, const reduce_params* p, int rank, bool* red) {
    for (int d = 0; d < rank; d++) red[d] = p->naxes == 0 && !p->noop;
    for (int i = 0; i < p->naxes; i++) {
        int a;
        nrt_status st = nrt_axis(ctx, p->axes[i], rank, &a);
        if (st) return st;
        if (rank == 0) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "axes given for a scalar input");
        if (red[a]) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "axis %lld appears twice", (long long)p->axes[i]);
        red[a] = true;
    }
    return NRT_OK;
}

/* Drops size-1 dims, merges neighbours of the same kind, and picks the
 * dim to split across threads (an outer kept dim, else the inner one). */
static void build_plan(nrt_ctx* ctx, const nrt_tensor* x, const bool* red, reduce_state* s) {
    nrt_reduce_plan* p = &s->plan;
    p->nd = 0;
    s->count = 1;
    for (int d = 0; d < x->rank; d++) {
        if (red[d]) s->count *= x->dims[d];
        if (x->dims[d] == 1) continue;
        if (p->nd > 0 && p->reduced[p->nd - 1] == red[d]) {
            p->dims[p->nd - 1] *= x->dims[d];
        } else {
            p->dims[p->nd] = x->dims[d];
            p->reduced[p->nd++] = red[d];
        }
    }
    if (p->nd == 0) {
        p->nd = 1;
        p->dims[0] = 1;
        p->reduced[0] = false;
    }
    int64_t in = 1, acc = 1;
    for (int d = p->nd - 1; d >= 0; d--) {
        p->in_stride[d] = in;
        p->acc_stride[d] = p->reduced[d] ? 0 : acc;
        in *= p->dims[d];
        if (!p->reduced[d]) acc *= p->dims[d];
    }
    int last = p->nd - 1, threads = nrt_num_threads(ctx);
    s->split = -1;
    if (!p->reduced[0] && (p->dims[0] >= 4 * threads || p->reduced[last] || last == 0)) {
        s->split = 0;
        s->grain = p->in_stride[0] >= 16384 ? 1 : (size_t)(16384 / (p->in_stride[0] ? p->in_stride[0] : 1));
    } else if (!p->reduced[last]) {
        int64_t per_col = in / (p->dims[last] ? p->dims[last] : 1);
        s->split = last;
        s->grain = per_col >= 1024 ? 16 : (size_t)(16384 / (per_col ? per_col : 1));
    }
}

static bool dtype_ok(unsigned op, nrt_dtype t) {
    if (t == NRT_FLOAT32) return true;
    bool is_int = t == NRT_INT8 || t == NRT_UINT8 || t == NRT_INT16 || t == NRT_INT32 || t == NRT_INT64;
    switch (op) {
    case NRT_FB_OpType_ReduceMax:
    case NRT_FB_OpType_ReduceMin:
    case NRT_FB_OpType_ArgMax:
    case NRT_FB_OpType_ArgMin: return is_int || t == NRT_BOOL;
    case NRT_FB_OpType_ReduceSum:
    case NRT_FB_OpType_ReduceProd: return is_int;
    default: return false;
    }
}

static nrt_status arg_prepare(nrt_ctx* ctx, const reduce_params* p, const nrt_tensor* x, nrt_tensor* y,
                              reduce_state* s) {
    int axis;
    nrt_status st;
    if ((st = nrt_expect_dtype(ctx, y, NRT_INT64, "output"))) return st;
    if (x->rank == 0) return nrt_op_fail(ctx, NRT_ERR_SHAPE, "input %s is a scalar", x->name);
    if ((st = nrt_axis(ctx, p->naxes ? p->axes[0] : 0, x->rank, &axis))) return st;
    s->outer = s->inner = 1;
    s->n = x->dims[axis];
    int64_t dims[NRT_MAX_RANK];
    int r = 0;
    for (int d = 0; d < x->rank; d++) {
        if (d < axis) s->outer *= x->dims[d];
        if (d > axis) s->inner *= x->dims[d];
        if (d != axis || p->keepdims) dims[r++] = d == axis ? 1 : x->dims[d];
    }
    if (s->n == 0 && s->outer * s->inner > 0)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "cannot take the arg of an empty axis (%s dimension %d is 0)",
                           x->name, axis);
    if (s->inner == 0) s->outer = 0;
    return nrt_set_shape(ctx, y, r, dims);
}

static nrt_status reduce_prepare(nrt_ctx* ctx) {
    const reduce_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0);
    unsigned op = ctx->node->op;
    if (!x) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "input 0 is missing");
    if (!dtype_ok(op, x->dtype))
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "input %s has type %s, which this op does not support", x->name,
                           nrt_dtype_name(x->dtype));
    reduce_state* s = nrt_alloc_state(ctx, sizeof *s);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    if (is_arg(op)) return arg_prepare(ctx, p, x, y, s);
    nrt_status st;
    reduce_params computed;
    const nrt_tensor* axes = nrt_in(ctx, 1);
    if (axes) { /* input 1 replaces the (empty) attribute */
        computed = *p;
        if ((st = nrt_read_static_ints(ctx, axes, "axes", computed.axes, NRT_MAX_RANK, &computed.naxes))) return st;
        p = &computed;
    }
    bool red[NRT_MAX_RANK];
    if ((st = nrt_expect_same_dtype(ctx, x, y)) || (st = reduced_axes(ctx, p, x->rank, red))) return st;
    int64_t dims[NRT_MAX_RANK];
    int r = 0;
    for (int d = 0; d < x->rank; d++)
        if (!red[d] || p->keepdims) dims[r++] = red[d] ? 1 : x->dims[d];
    if ((st = nrt_set_shape(ctx, y, r, dims))) return st;
    build_plan(ctx, x, red, s);
    bool minmax_f32 = x->dtype == NRT_FLOAT32 && (op == NRT_FB_OpType_ReduceMax || op == NRT_FB_OpType_ReduceMin);
    if (!minmax_f32 && (uint64_t)nrt_numel(y) > SIZE_MAX / 8)
        return nrt_op_fail(ctx, NRT_ERR_LIMIT, "output %s is too large", y->name);
    ctx->node->scratch_bytes = minmax_f32 ? 0 : 8 * (size_t)nrt_numel(y); /* double or int64 accumulators */
    return NRT_OK;
}

/* ---- eval ---- */
typedef enum pass_kind { PASS_SUM, PASS_PROD, PASS_MINMAX, PASS_INT } pass_kind;

typedef struct pass_job {
    const reduce_state* s;
    pass_kind kind;
    const void* x;
    void* acc;              /* double*, float* (min/max) or int64_t* */
    nrt_reduce_term term;
    const float* shift;
    bool is_max;
    nrt_dtype dtype;
    nrt_reduce_int_op int_op;
} pass_job;

static void pass_range(void* arg, size_t begin, size_t end) {
    const pass_job* j = arg;
    nrt_reduce_plan p = j->s->plan;
    int64_t xo = 0, ao = 0;
    if (j->s->split >= 0) {
        int d = j->s->split;
        p.dims[d] = (int64_t)(end - begin);
        xo = (int64_t)begin * p.in_stride[d];
        ao = (int64_t)begin * p.acc_stride[d];
    }
    size_t esz = j->kind == PASS_INT ? nrt_dtype_size(j->dtype) : sizeof(float);
    const void* x = (const uint8_t*)j->x + (size_t)xo * esz;
    switch (j->kind) {
    case PASS_SUM:
        nrt_reduce_sum_f32_ref(&p, x, (double*)j->acc + ao, j->term, j->shift ? j->shift + ao : NULL);
        break;
    case PASS_PROD: nrt_reduce_prod_f32_ref(&p, x, (double*)j->acc + ao); break;
    case PASS_MINMAX: nrt_reduce_minmax_f32_ref(&p, x, (float*)j->acc + ao, j->is_max); break;
    case PASS_INT: nrt_reduce_int_ref(&p, x, j->dtype, (int64_t*)j->acc + ao, j->int_op); break;
    }
}

static void run_pass(nrt_ctx* ctx, pass_job* j) {
    const reduce_state* s = j->s;
    if (s->split < 0) pass_range(j, 0, 1);
    else nrt_parallel_for(ctx, (size_t)s->plan.dims[s->split], s->grain, pass_range, j);
}

static void eval_minmax_f32(nrt_ctx* ctx, pass_job* j, float* y, int64_t n) {
    float init = j->is_max ? -INFINITY : INFINITY;
    for (int64_t i = 0; i < n; i++) y[i] = init;
    j->kind = PASS_MINMAX;
    j->acc = y;
    run_pass(ctx, j);
}

static void eval_float(nrt_ctx* ctx, pass_job* j, unsigned op, float* y, int64_t n) {
    double* acc = ctx->node->scratch;
    bool prod = op == NRT_FB_OpType_ReduceProd;
    for (int64_t i = 0; i < n; i++) acc[i] = prod ? 1.0 : 0.0;
    j->acc = acc;
    j->kind = prod ? PASS_PROD : PASS_SUM;
    j->term = op == NRT_FB_OpType_ReduceL1 ? NRT_TERM_ABS
              : (op == NRT_FB_OpType_ReduceL2 || op == NRT_FB_OpType_ReduceSumSquare) ? NRT_TERM_SQUARE
              : op == NRT_FB_OpType_ReduceLogSumExp ? NRT_TERM_EXP
                                                    : NRT_TERM_X;
    if (op == NRT_FB_OpType_ReduceLogSumExp) { /* y = max first: exp(x - max) cannot overflow */
        pass_job m = *j;
        m.is_max = true;
        eval_minmax_f32(ctx, &m, y, n);
        j->shift = y;
    }
    run_pass(ctx, j);
    double count = (double)j->s->count;
    for (int64_t i = 0; i < n; i++) {
        double a = acc[i];
        switch (op) {
        case NRT_FB_OpType_ReduceMean: y[i] = (float)(a / count); break;
        case NRT_FB_OpType_ReduceL2: y[i] = (float)sqrt(a); break;
        case NRT_FB_OpType_ReduceLogSum: y[i] = (float)log(a); break;
        case NRT_FB_OpType_ReduceLogSumExp: y[i] = isfinite(y[i]) ? (float)(y[i] + log(a)) : y[i]; break;
        default: y[i] = (float)a; break;
        }
    }
}

static void eval_int(nrt_ctx* ctx, pass_job* j, unsigned op, nrt_tensor* y, int64_t n) {
    int64_t* acc = ctx->node->scratch;
    int64_t lo, hi, init;
    nrt_dtype dt = y->dtype;
    lo = dt == NRT_INT8 ? INT8_MIN : dt == NRT_INT16 ? INT16_MIN : dt == NRT_INT32 ? INT32_MIN
         : dt == NRT_INT64 ? INT64_MIN : 0;
    hi = dt == NRT_INT8 ? INT8_MAX : dt == NRT_INT16 ? INT16_MAX : dt == NRT_INT32 ? INT32_MAX
         : dt == NRT_INT64 ? INT64_MAX : dt == NRT_BOOL ? 1 : UINT8_MAX;
    j->int_op = op == NRT_FB_OpType_ReduceSum ? NRT_RINT_SUM : op == NRT_FB_OpType_ReduceProd ? NRT_RINT_PROD
                : op == NRT_FB_OpType_ReduceMax ? NRT_RINT_MAX : NRT_RINT_MIN;
    init = j->int_op == NRT_RINT_SUM ? 0 : j->int_op == NRT_RINT_PROD ? 1 : j->int_op == NRT_RINT_MAX ? lo : hi;
    for (int64_t i = 0; i < n; i++) acc[i] = init;
    j->kind = PASS_INT;
    j->acc = acc;
    j->dtype = dt;
    run_pass(ctx, j);
    for (int64_t i = 0; i < n; i++) { /* narrowing wraps, like numpy */
        switch (dt) {
        case NRT_INT8: ((int8_t*)y->data)[i] = (int8_t)acc[i]; break;
        case NRT_UINT8:
        case NRT_BOOL: ((uint8_t*)y->data)[i] = (uint8_t)acc[i]; break;
        case NRT_INT16: ((int16_t*)y->data)[i] = (int16_t)acc[i]; break;
        case NRT_INT32: ((int32_t*)y->data)[i] = (int32_t)acc[i]; break;
        default: ((int64_t*)y->data)[i] = acc[i]; break;
        }
    }
}

typedef struct arg_job {
    const reduce_state* s;
    const void* x;
    nrt_dtype dtype;
    int64_t* y;
    bool is_max, select_last;
} arg_job;

static void arg_range(void* arg, size_t begin, size_t end) {
    const arg_job* j = arg;
    nrt_argminmax_ref(j->x, j->dtype, j->y, (int64_t)begin, (int64_t)end, j->s->n, j->s->inner, j->is_max,
                      j->select_last);
}

static nrt_status reduce_eval(nrt_ctx* ctx) {
    const reduce_params* p = ctx->node->params;
    const reduce_state* s = ctx->node->state;
    nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0);
    unsigned op = ctx->node->op;
    if (is_arg(op)) {
        arg_job j = {s, x->data, x->dtype, y->data, op == NRT_FB_OpType_ArgMax, p->select_last};
        int64_t work = s->n * s->inner;
        nrt_parallel_for(ctx, (size_t)s->outer, work >= 16384 ? 1 : (size_t)(16384 / (work ? work : 1)), arg_range,
                         &j);
        return NRT_OK;
    }
    int64_t n = nrt_numel(y);
    pass_job j = {.s = s, .x = x->data};
    if (x->dtype != NRT_FLOAT32) {
        eval_int(ctx, &j, op, y, n);
    } else if (op == NRT_FB_OpType_ReduceMax || op == NRT_FB_OpType_ReduceMin) {
        j.is_max = op == NRT_FB_OpType_ReduceMax;
        eval_minmax_f32(ctx, &j, y->data, n);
    } else {
        eval_float(ctx, &j, op, y->data, n);
    }
    return NRT_OK;
}

/* A reduce takes its axes as input 1 or the attribute; ArgMax / ArgMin one input. */
#define REDUCE_OP(NAME, MAX_INPUTS)                                                                  \
    const nrt_op_def nrt_op_##NAME = {#NAME, 0, NRT_FB_OpOptions_ReduceOptions, 1, MAX_INPUTS, 1, 1,   \
                                      reduce_parse, reduce_prepare, reduce_eval, NULL};
REDUCE_OP(ReduceMean, 2) REDUCE_OP(ReduceSum, 2) REDUCE_OP(ReduceMax, 2) REDUCE_OP(ReduceMin, 2)
REDUCE_OP(ReduceProd, 2) REDUCE_OP(ReduceL1, 2) REDUCE_OP(ReduceL2, 2) REDUCE_OP(ReduceSumSquare, 2)
REDUCE_OP(ReduceLogSum, 2) REDUCE_OP(ReduceLogSumExp, 2) REDUCE_OP(ArgMax, 1) REDUCE_OP(ArgMin, 1)
