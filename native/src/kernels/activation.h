/* Fused activations: what a kernel applies to its float32 results before
 * storing them. The kinds have the file format's ActivationKind numbers
 * (engine/op_util.c checks), so a model's value is used as it is. */
#ifndef NRT_ACTIVATION_H
#define NRT_ACTIVATION_H

#include <stdint.h>

enum {
    NRT_ACT_NONE = 0,
    NRT_ACT_RELU = 1,
    NRT_ACT_CLIP = 2,         /* clamp to [alpha, beta] (Relu6: [0, 6]) */
    NRT_ACT_LEAKY_RELU = 3,   /* slope alpha */
    NRT_ACT_HARD_SIGMOID = 4, /* max(0, min(1, alpha * x + beta)) */
    NRT_ACT_HARD_SWISH = 5,
    NRT_ACT_SIGMOID = 6,
    NRT_ACT_SILU = 7,         /* x * sigmoid(x) */
    NRT_ACT_TANH = 8,
    NRT_ACT_GELU = 9,         /* exact (erf) form */
    NRT_ACT_COUNT
};

typedef struct nrt_activation {
    uint8_t kind; /* NRT_ACT_* */
    float alpha, beta;
} nrt_activation;

/* The activation of one value: the definition every kernel follows. */
float nrt_activation_apply(const nrt_activation* act, float x);

#endif
