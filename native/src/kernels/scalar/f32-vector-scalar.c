/* The reference level's float32 elementwise kernels, portable C
 * (f32_kernels.h): the same operations as the reference ops, one value at a
 * time. */
#include <math.h>

#include "../f32_kernels.h"
#include "../ref/binary_ref.h"
#include "../ref/softmax_ref.h"

#define VBINARY(NAME, EXPR)                                                                              \
    static void NAME(size_t n, const float* pa, const float* pb, float* y, int mode) {                   \
        size_t sa = mode == NRT_BIN_SV ? 0 : 1, sb = mode == NRT_BIN_VS ? 0 : 1;                          \
        for (size_t i = 0; i < n; i++) {                                                                 \
            float a = pa[i * sa], b = pb[i * sb];                                                        \
            y[i] = (EXPR);                                                                               \
        }                                                                                                \
    }
VBINARY(vadd, a + b)
VBINARY(vsub, a - b)
VBINARY(vmul, a * b)
VBINARY(vdiv, a / b)
VBINARY(vmin, (a < b || isnan(a)) ? a : b) /* NaN propagates, as numpy.minimum */
VBINARY(vmax, (a > b || isnan(a)) ? a : b)
VBINARY(vprelu, a > 0 ? a : a * b) /* b: the slope */

const nrt_f32_vbinary_ukernel nrt_f32_vbinary_scalar[NRT_F32_VOP_COUNT] = {vadd, vsub, vmul, vdiv, vmin, vmax, vprelu};

void nrt_f32_vact_scalar(const nrt_activation* act, const float* x, float* y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = nrt_activation_apply(act, x[i]);
}

void nrt_f32_vsum_rows_scalar(const float* x, size_t rows, size_t cols, size_t stride, float scale, float* y) {
    for (size_t j = 0; j < cols; j++) {
        float sum = 0.0f;
        for (size_t p = 0; p < rows; p++) sum += x[p * stride + j];
        y[j] = sum * scale;
    }
}

void nrt_f32_vsoftmax_scalar(bool log_softmax, const float* x, float* y, size_t n) {
    nrt_softmax_f32_ref(log_softmax ? NRT_LOG_SOFTMAX : NRT_SOFTMAX, x, y, 0, 1, (int64_t)n, 1);
}

void nrt_f32_maxpool_scalar(size_t channels, size_t taps, const float* const* ind, float* y) {
    for (size_t c = 0; c < channels; c++) {
        float m = -INFINITY;
        for (size_t t = 0; t < taps; t++) m = ind[t][c] > m ? ind[t][c] : m;
        y[c] = m;
    }
}
