/* dynamic_quant.h */
#include "dynamic_quant.h"

#include "../kernels/dispatch.h"
#include "../kernels/ref/quant_ref.h"

typedef struct quantize_job {
    const float* x;
    int8_t* q;
    float s;
    int32_t z;
    nrt_qs8_quantize_ukernel quantize;
} quantize_job;

static void quantize_range(void* arg, size_t begin, size_t end) {
    const quantize_job* j = arg;
    j->quantize(end - begin, j->x + begin, j->s, j->z, j->q + begin);
}

void nrt_dynamic_quantize_tensor(nrt_ctx* ctx, const float* x, int64_t n, int8_t* q, float* scale, int32_t* zero) {
    uint8_t zp;
    nrt_dynamic_quantize_params(x, n, scale, &zp);
    *zero = (int32_t)zp - 128;
    quantize_job j = {x, q, *scale, *zero, nrt_kernels_of(ctx)->qs8_quantize};
    nrt_parallel_for(ctx, (size_t)n, 16384, quantize_range, &j);
}
