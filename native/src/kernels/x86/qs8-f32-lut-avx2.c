/* qs8-f32-lut-avx2: y[i] = table[x[i] + 128], a 256-entry float32 table
 * (a DequantizeLinear and a float unary op as one lookup: ops/quantize.c's
 * Lut). One gather of 8 floats per 8 codes, the codes sign-extended to
 * indices around the table's middle entry; the last n % 8 one at a time. */
#include <immintrin.h>

#include "../qs8_kernels.h"

NRT_ISA_TARGET(AVX2) void nrt_qs8_f32_lut_avx2(size_t n, const int8_t* x, const float* table, float* y) {
    const float* middle = table + 128;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i index = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)(x + i)));
        _mm256_storeu_ps(y + i, _mm256_i32gather_ps(middle, index, 4));
    }
    for (; i < n; i++) y[i] = middle[x[i]];
}
