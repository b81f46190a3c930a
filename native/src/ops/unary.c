/* Elementwise unary ops: float math through the unary kernels; Identity,
 * Neg, Abs, Sign, Relu also on integers; Not on bool; IsNaN / IsInf give bool. */
#include <string.h>

#include "../engine/op.h"
#include "../kernels/dispatch.h"
#include "../kernels/ref/unary_ref.h"
#include "movement_util.h"
#include "quant_common.h"

typedef struct unary_params {
    nrt_unary_params k;
    bool detect_pos, detect_neg;
    nrt_f32_vact_ukernel vact; /* float32 ops that are activation kinds: the level's kernel (else NULL) */
    nrt_activation act;        /* ... and that kind */
} unary_params;

/* The unary ops that are also fused-activation kinds run on the level's
 * activation kernel. */
static void pick_fast(nrt_ctx* ctx, unary_params* p) {
    uint8_t kind;
    switch (ctx->node->op) {
    case NRT_FB_OpType_Relu: kind = NRT_ACT_RELU; break;
    case NRT_FB_OpType_LeakyRelu: kind = NRT_ACT_LEAKY_RELU; break;
    case NRT_FB_OpType_Sigmoid: kind = NRT_ACT_SIGMOID; break;
    case NRT_FB_OpType_HardSigmoid: kind = NRT_ACT_HARD_SIGMOID; break;
    case NRT_FB_OpType_HardSwish: kind = NRT_ACT_HARD_SWISH; break;
    case NRT_FB_OpType_Silu: kind = NRT_ACT_SILU; break;
    case NRT_FB_OpType_Tanh: kind = NRT_ACT_TANH; break;
    case NRT_FB_OpType_Gelu:
        if (p->k.approximate_tanh) return;
        kind = NRT_ACT_GELU;
        break;
    default: return;
    }
    p->vact = nrt_kernels_of(ctx)->f32_vact;
    p->act = (nrt_activation){kind, p->k.alpha, p->k.beta};
}

/* The reference kernel's name for the op (Not, IsNaN, IsInf have none). */
static nrt_unary_op kernel_op(unsigned op) {
    switch (op) {
#define NRT_UNARY_CASE(name) \
    case NRT_FB_OpType_##name: return NRT_UNARY_##name;
        NRT_UNARY_OPS(NRT_UNARY_CASE)
#undef NRT_UNARY_CASE
    default: return NRT_UNARY_Identity;
    }
}

static nrt_status unary_parse(nrt_ctx* ctx) {
    unary_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    uint8_t approx, pos, neg;
    nrt_status st;
    if ((st = nrt_opt_f32(ctx, NRT_FB_UnaryOptions_alpha, 0.0f, &p->k.alpha)) ||
        (st = nrt_opt_f32(ctx, NRT_FB_UnaryOptions_beta, 0.0f, &p->k.beta)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_UnaryOptions_approximate_tanh, 0, &approx)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_UnaryOptions_detect_positive, 1, &pos)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_UnaryOptions_detect_negative, 1, &neg)))
        return st;
    p->k.op = kernel_op(ctx->node->op);
    p->k.approximate_tanh = approx;
    p->detect_pos = pos;
    p->detect_neg = neg;
    if (!isfinite(p->k.alpha) || !isfinite(p->k.beta))
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "alpha/beta must be finite");
    if (ctx->node->op == NRT_FB_OpType_Celu && p->k.alpha == 0.0f)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "Celu alpha must not be 0");
    pick_fast(ctx, p);
    return NRT_OK;
}

static bool int_op(unsigned op) {
    return op == NRT_FB_OpType_Neg || op == NRT_FB_OpType_Abs || op == NRT_FB_OpType_Sign ||
           op == NRT_FB_OpType_Relu;
}

static bool is_int(nrt_dtype t) {
    return t == NRT_INT8 || t == NRT_INT16 || t == NRT_INT32 || t == NRT_INT64;
}

static nrt_status unary_prepare(nrt_ctx* ctx) {
    nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0);
    unsigned op = ctx->node->op;
    if (!x) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "input 0 is missing");
    nrt_status st;
    if (op == NRT_FB_OpType_IsNaN || op == NRT_FB_OpType_IsInf) {
        if (x->dtype != NRT_FLOAT32)
            return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "input %s has type %s; only float32 is supported", x->name,
                               nrt_dtype_name(x->dtype));
        if ((st = nrt_expect_dtype(ctx, y, NRT_BOOL, "output"))) return st;
    } else if (op == NRT_FB_OpType_Not) {
        if ((st = nrt_expect_dtype(ctx, x, NRT_BOOL, "input")) || (st = nrt_expect_same_dtype(ctx, x, y))) return st;
    } else {
        if ((st = nrt_expect_same_dtype(ctx, x, y))) return st;
        if (nrt_is_qs8(x) || nrt_is_qs8(y)) { /* quantized int8: only Identity copies (a Lut computes) */
            if (op != NRT_FB_OpType_Identity)
                return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "input %s is quantized int8; this op has no int8 kernel "
                                   "(the converter uses a Lut)", x->name);
            if ((st = nrt_mv_expect_same_quant(ctx, x, y))) return st;
        }
        bool ok = op == NRT_FB_OpType_Identity || x->dtype == NRT_FLOAT32 || (int_op(op) && is_int(x->dtype));
        if (!ok)
            return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "input %s has type %s, which this op does not support",
                               x->name, nrt_dtype_name(x->dtype));
    }
    return nrt_set_shape_like(ctx, y, x);
}

typedef struct unary_job {
    const unary_params* p;
    const float* x;
    float* y;
} unary_job;

static void unary_range(void* arg, size_t begin, size_t end) {
    const unary_job* j = arg;
    if (j->p->vact) j->p->vact(&j->p->act, j->x + begin, j->y + begin, end - begin);
    else nrt_unary_f32_ref(&j->p->k, j->x + begin, j->y + begin, end - begin);
}

#define INT_LOOP(T)                                                                                   \
    do {                                                                                              \
        const T* a = x->data;                                                                         \
        T* b = y->data;                                                                               \
        for (int64_t i = 0; i < n; i++) {                                                             \
            T v = a[i];                                                                               \
            switch (op) {                                                                             \
            case NRT_FB_OpType_Neg: b[i] = (T)-v; break;                                              \
            case NRT_FB_OpType_Abs: b[i] = v < 0 ? (T)-v : v; break;                                  \
            case NRT_FB_OpType_Sign: b[i] = (T)((v > 0) - (v < 0)); break;                            \
            default: b[i] = v > 0 ? v : 0; break;                                                     \
            }                                                                                         \
        }                                                                                             \
    } while (0)

static void eval_int(unsigned op, const nrt_tensor* x, nrt_tensor* y, int64_t n) {
    switch (x->dtype) {
    case NRT_INT8: INT_LOOP(int8_t); break;
    case NRT_INT16: INT_LOOP(int16_t); break;
    case NRT_INT32: INT_LOOP(int32_t); break;
    default: INT_LOOP(int64_t); break;
    }
}

static nrt_status unary_eval(nrt_ctx* ctx) {
    const unary_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0);
    int64_t n = nrt_numel(x);
    unsigned op = ctx->node->op;
    if (op == NRT_FB_OpType_Identity) {
        if (x->data != y->data) memcpy(y->data, x->data, x->nbytes);
    } else if (op == NRT_FB_OpType_Not) {
        const uint8_t* a = x->data;
        uint8_t* b = y->data;
        for (int64_t i = 0; i < n; i++) b[i] = !a[i];
    } else if (op == NRT_FB_OpType_IsNaN || op == NRT_FB_OpType_IsInf) {
        const float* a = x->data;
        uint8_t* b = y->data;
        for (int64_t i = 0; i < n; i++)
            b[i] = op == NRT_FB_OpType_IsNaN ? isnan(a[i])
                                              : isinf(a[i]) && ((a[i] > 0) ? p->detect_pos : p->detect_neg);
    } else if (x->dtype == NRT_FLOAT32) {
        unary_job job = {p, x->data, y->data};
        nrt_parallel_for(ctx, (size_t)n, 16384, unary_range, &job);
    } else {
        eval_int(op, x, y, n);
    }
    return NRT_OK;
}

#define UNARY_OP(NAME)                                                                              \
    const nrt_op_def nrt_op_##NAME = {#NAME, 0, NRT_FB_OpOptions_UnaryOptions, 1, 1, 1, 1,         \
                                      unary_parse, unary_prepare, unary_eval, NULL};
NRT_UNARY_OPS(UNARY_OP) UNARY_OP(Not) UNARY_OP(IsNaN) UNARY_OP(IsInf)
