/* The reference level's 16x8 glue and 16-bit elementwise kernels (qs16_kernels.h, ref/qs16_ref.h):
 * the contract's element rules. */
#include "../qs16_kernels.h"
#include "../ref/qs16_ref.h"
#include "../ref/quant_ref.h"

void nrt_qs16_quantize_scalar(size_t n, const float* x, float s, int16_t* y) {
    for (size_t i = 0; i < n; i++) y[i] = (int16_t)nrt_quantize_value(x[i], s, 0, -32768.0, 32767.0);
}

void nrt_qs16_dequantize_scalar(size_t n, const int16_t* x, float s, float* y) {
    for (size_t i = 0; i < n; i++) y[i] = (float)x[i] * s;
}

/* 16-bit Add / Sub / Mul: the reference kernels (their interface is the microkernel's). */
void nrt_qs16_vadd_scalar(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode) {
    nrt_add_qs16_ref(k, a, b, y, n, mode);
}

void nrt_qs16_vmul_scalar(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode) {
    nrt_mul_qs16_ref(k, a, b, y, n, mode);
}
