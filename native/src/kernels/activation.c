#include "activation.h"

#include <math.h>

float nrt_activation_apply(const nrt_activation* act, float x) {
    switch (act->kind) {
    case NRT_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case NRT_ACT_CLIP: return x < act->alpha ? act->alpha : (x > act->beta ? act->beta : x);
    case NRT_ACT_LEAKY_RELU: return x >= 0.0f ? x : x * act->alpha;
    case NRT_ACT_HARD_SIGMOID: {
        float y = act->alpha * x + act->beta;
        return y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y);
    }
    case NRT_ACT_HARD_SWISH: {
        float y = x / 6.0f + 0.5f;
        return x * (y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y));
    }
    case NRT_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case NRT_ACT_SILU: return x / (1.0f + expf(-x));
    case NRT_ACT_TANH: return tanhf(x);
    case NRT_ACT_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    default: return x;
    }
}
