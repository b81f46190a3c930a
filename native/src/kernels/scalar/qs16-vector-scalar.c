/* The reference level's 16x8 glue (qs16_kernels.h): the contract's element rules. */
#include "../qs16_kernels.h"
#include "../ref/quant_ref.h"

void nrt_qs16_quantize_scalar(size_t n, const float* x, float s, int16_t* y) {
    for (size_t i = 0; i < n; i++) y[i] = (int16_t)nrt_quantize_value(x[i], s, 0, -32768.0, 32767.0);
}

void nrt_qs16_dequantize_scalar(size_t n, const int16_t* x, float s, float* y) {
    for (size_t i = 0; i < n; i++) y[i] = (float)x[i] * s;
}
