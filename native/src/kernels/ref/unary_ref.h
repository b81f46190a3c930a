/* Reference kernels for elementwise unary math. */
#ifndef NRT_UNARY_REF_H
#define NRT_UNARY_REF_H

#include <stddef.h>

/* The float32 unary ops, by their ONNX names (ops/unary.c maps the file's
 * op types onto them). */
#define NRT_UNARY_OPS(X)                                                                                            \
    X(Identity) X(Relu) X(LeakyRelu) X(Elu) X(Selu) X(Celu) X(Sigmoid) X(HardSigmoid) X(HardSwish) X(Silu)           \
    X(Mish) X(Tanh) X(Gelu) X(Erf) X(Softplus) X(Softsign) X(Sqrt) X(Exp) X(Log) X(Neg) X(Abs) X(Reciprocal)         \
    X(Floor) X(Ceil) X(Round) X(Sign) X(Sin) X(Cos) X(Tan) X(Asin) X(Acos) X(Atan) X(Sinh) X(Cosh) X(Asinh)          \
    X(Acosh) X(Atanh) X(ThresholdedRelu)

#define NRT_UNARY_ENUM(name) NRT_UNARY_##name,
typedef enum nrt_unary_op { NRT_UNARY_OPS(NRT_UNARY_ENUM) } nrt_unary_op;
#undef NRT_UNARY_ENUM

typedef struct nrt_unary_params {
    nrt_unary_op op;
    float alpha, beta;
    int approximate_tanh; /* Gelu */
} nrt_unary_params;

void nrt_unary_f32_ref(const nrt_unary_params* p, const float* x, float* y, size_t n);

#endif
