/* Reference kernels for elementwise unary math. */
#ifndef NRT_UNARY_REF_H
#define NRT_UNARY_REF_H

#include <stddef.h>

typedef struct nrt_unary_params {
    unsigned op;          /* NRT_FB_OpType_* */
    float alpha, beta;
    int approximate_tanh; /* Gelu */
} nrt_unary_params;

/* Returns 0 if `op` has no float32 kernel. */
int nrt_unary_f32_supported(unsigned op);
void nrt_unary_f32_ref(const nrt_unary_params* p, const float* x, float* y, size_t n);

#endif
