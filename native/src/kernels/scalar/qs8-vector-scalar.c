/* The reference level's int8 elementwise, table and pooling kernels,
 * portable C (qs8_kernels.h): the reference kernels where their interface
 * is the microkernel's, else the contract's steps one value at a time. */
#include "../ref/qs8_ref.h"
#include "../ref/quant_ref.h"
#include "../requant.h"
#include "../qs8_kernels.h"

void nrt_qs8_vadd_scalar(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode) {
    nrt_add_qs8_ref(k, a, b, y, n, mode);
}

void nrt_qs8_vmul_scalar(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode) {
    nrt_mul_qs8_ref(k, a, b, y, n, mode);
}

void nrt_qs8_lut_scalar(size_t n, const int8_t* x, const int8_t* table, int8_t* y) {
    nrt_lut_qs8_ref(x, table, y, (int64_t)n);
}

void nrt_qs8_f32_lut_scalar(size_t n, const int8_t* x, const float* table, float* y) {
    for (size_t i = 0; i < n; i++) y[i] = table[(int)x[i] + 128];
}

void nrt_qs8_gavgpool_scalar(size_t rows, size_t channels, const int8_t* x, size_t stride, int32_t zx, float m,
                             const nrt_qs8_requant* rq, int8_t* y) {
    for (size_t c = 0; c < channels; c++) {
        int32_t acc = 0;
        for (size_t p = 0; p < rows; p++) acc = nrt_mac_wrap(acc, x[p * stride + c] - zx, 1);
        y[c] = nrt_qs8_requant_value((float)acc * m, rq);
    }
}

void nrt_qs8_avgpool_scalar(size_t channels, size_t taps, const int8_t* const* ind, int32_t zx, float m,
                            const nrt_qs8_requant* rq, int8_t* y) {
    for (size_t c = 0; c < channels; c++) {
        int32_t acc = 0;
        for (size_t t = 0; t < taps; t++) acc = nrt_mac_wrap(acc, ind[t][c] - zx, 1);
        y[c] = nrt_qs8_requant_value((float)acc * m, rq);
    }
}

void nrt_qs8_maxpool_scalar(size_t channels, size_t taps, const int8_t* const* ind, int32_t qmin, int32_t qmax,
                            int8_t* y) {
    for (size_t c = 0; c < channels; c++) {
        int32_t v = -128;
        for (size_t t = 0; t < taps; t++) v = ind[t][c] > v ? ind[t][c] : v;
        y[c] = (int8_t)(v < qmin ? qmin : (v > qmax ? qmax : v));
    }
}

void nrt_qs8_rescale_scalar(size_t n, const int8_t* x, int32_t zx, float m, const nrt_qs8_requant* rq, int8_t* y) {
    for (size_t i = 0; i < n; i++) y[i] = nrt_qs8_requant_value((float)(x[i] - zx) * m, rq);
}

void nrt_qs8_quantize_scalar(size_t n, const float* x, float s, int32_t z, int8_t* y) {
    for (size_t i = 0; i < n; i++) y[i] = (int8_t)nrt_quantize_value(x[i], s, z, -128.0, 127.0);
}

void nrt_qs8_dequantize_scalar(size_t n, const int8_t* x, float s, int32_t z, float* y) {
    for (size_t i = 0; i < n; i++) y[i] = (float)(x[i] - z) * s;
}
