#include "unary_ref.h"

#include <math.h>

#include "../../engine/nanort_schema.h"

static float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

static float softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

/* Gelu: exact (erf) or the tanh approximation, as ONNX defines both. */
static float gelu(float x, int approximate) {
    if (approximate) return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
}

/* ONNX Round: halves to even, which rintf does in the default rounding mode. */
static float round_half_even(float x) { return rintf(x); }

static float sign(float x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x); }

static float apply(const nrt_unary_params* p, float x) {
    switch (p->op) {
    case NRT_FB_OpType_Identity: return x;
    case NRT_FB_OpType_Relu: return x > 0.0f ? x : 0.0f;
    case NRT_FB_OpType_LeakyRelu: return x >= 0.0f ? x : p->alpha * x;
    case NRT_FB_OpType_Elu: return x >= 0.0f ? x : p->alpha * expm1f(x);
    case NRT_FB_OpType_Selu: return p->beta * (x > 0.0f ? x : p->alpha * expm1f(x));
    case NRT_FB_OpType_Celu: return fmaxf(0.0f, x) + fminf(0.0f, p->alpha * expm1f(x / p->alpha));
    case NRT_FB_OpType_Sigmoid: return sigmoid(x);
    case NRT_FB_OpType_HardSigmoid: return fmaxf(0.0f, fminf(1.0f, p->alpha * x + p->beta));
    case NRT_FB_OpType_HardSwish: return x * fmaxf(0.0f, fminf(1.0f, x / 6.0f + 0.5f));
    case NRT_FB_OpType_Silu: return x * sigmoid(x);
    case NRT_FB_OpType_Mish: return x * tanhf(softplus(x));
    case NRT_FB_OpType_Tanh: return tanhf(x);
    case NRT_FB_OpType_Gelu: return gelu(x, p->approximate_tanh);
    case NRT_FB_OpType_Erf: return erff(x);
    case NRT_FB_OpType_Softplus: return softplus(x);
    case NRT_FB_OpType_Softsign: return x / (1.0f + fabsf(x));
    case NRT_FB_OpType_Sqrt: return sqrtf(x);
    case NRT_FB_OpType_Exp: return expf(x);
    case NRT_FB_OpType_Log: return logf(x);
    case NRT_FB_OpType_Neg: return -x;
    case NRT_FB_OpType_Abs: return fabsf(x);
    case NRT_FB_OpType_Reciprocal: return 1.0f / x;
    case NRT_FB_OpType_Floor: return floorf(x);
    case NRT_FB_OpType_Ceil: return ceilf(x);
    case NRT_FB_OpType_Round: return round_half_even(x);
    case NRT_FB_OpType_Sign: return sign(x);
    case NRT_FB_OpType_Sin: return sinf(x);
    case NRT_FB_OpType_Cos: return cosf(x);
    case NRT_FB_OpType_Tan: return tanf(x);
    case NRT_FB_OpType_Asin: return asinf(x);
    case NRT_FB_OpType_Acos: return acosf(x);
    case NRT_FB_OpType_Atan: return atanf(x);
    case NRT_FB_OpType_Sinh: return sinhf(x);
    case NRT_FB_OpType_Cosh: return coshf(x);
    case NRT_FB_OpType_Asinh: return asinhf(x);
    case NRT_FB_OpType_Acosh: return acoshf(x);
    case NRT_FB_OpType_Atanh: return atanhf(x);
    case NRT_FB_OpType_ThresholdedRelu: return x > p->alpha ? x : 0.0f;
    default: return x;
    }
}

int nrt_unary_f32_supported(unsigned op) {
    return op <= NRT_FB_OpType_ThresholdedRelu && op != NRT_FB_OpType_Not && op != NRT_FB_OpType_IsNaN &&
           op != NRT_FB_OpType_IsInf;
}

void nrt_unary_f32_ref(const nrt_unary_params* p, const float* x, float* y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = apply(p, x[i]);
}
