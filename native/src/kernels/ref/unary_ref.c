#include "unary_ref.h"

#include <math.h>

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
    case NRT_UNARY_Identity: return x;
    case NRT_UNARY_Relu: return x > 0.0f ? x : 0.0f;
    case NRT_UNARY_LeakyRelu: return x >= 0.0f ? x : p->alpha * x;
    case NRT_UNARY_Elu: return x >= 0.0f ? x : p->alpha * expm1f(x);
    case NRT_UNARY_Selu: return p->beta * (x > 0.0f ? x : p->alpha * expm1f(x));
    case NRT_UNARY_Celu: return fmaxf(0.0f, x) + fminf(0.0f, p->alpha * expm1f(x / p->alpha));
    case NRT_UNARY_Sigmoid: return sigmoid(x);
    case NRT_UNARY_HardSigmoid: return fmaxf(0.0f, fminf(1.0f, p->alpha * x + p->beta));
    case NRT_UNARY_HardSwish: return x * fmaxf(0.0f, fminf(1.0f, x / 6.0f + 0.5f));
    case NRT_UNARY_Silu: return x * sigmoid(x);
    case NRT_UNARY_Mish: return x * tanhf(softplus(x));
    case NRT_UNARY_Tanh: return tanhf(x);
    case NRT_UNARY_Gelu: return gelu(x, p->approximate_tanh);
    case NRT_UNARY_Erf: return erff(x);
    case NRT_UNARY_Softplus: return softplus(x);
    case NRT_UNARY_Softsign: return x / (1.0f + fabsf(x));
    case NRT_UNARY_Sqrt: return sqrtf(x);
    case NRT_UNARY_Exp: return expf(x);
    case NRT_UNARY_Log: return logf(x);
    case NRT_UNARY_Neg: return -x;
    case NRT_UNARY_Abs: return fabsf(x);
    case NRT_UNARY_Reciprocal: return 1.0f / x;
    case NRT_UNARY_Floor: return floorf(x);
    case NRT_UNARY_Ceil: return ceilf(x);
    case NRT_UNARY_Round: return round_half_even(x);
    case NRT_UNARY_Sign: return sign(x);
    case NRT_UNARY_Sin: return sinf(x);
    case NRT_UNARY_Cos: return cosf(x);
    case NRT_UNARY_Tan: return tanf(x);
    case NRT_UNARY_Asin: return asinf(x);
    case NRT_UNARY_Acos: return acosf(x);
    case NRT_UNARY_Atan: return atanf(x);
    case NRT_UNARY_Sinh: return sinhf(x);
    case NRT_UNARY_Cosh: return coshf(x);
    case NRT_UNARY_Asinh: return asinhf(x);
    case NRT_UNARY_Acosh: return acoshf(x);
    case NRT_UNARY_Atanh: return atanhf(x);
    case NRT_UNARY_ThresholdedRelu: return x > p->alpha ? x : 0.0f;
    default: return x;
    }
}

void nrt_unary_f32_ref(const nrt_unary_params* p, const float* x, float* y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = apply(p, x[i]);
}
