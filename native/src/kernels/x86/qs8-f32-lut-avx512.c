/* qs8-f32-lut-avx512: y[i] = table[x[i] + 128], a 256-entry float32 table
 * (a DequantizeLinear and a float unary op as one lookup: ops/quantize.c's
 * Lut). One gather of 16 floats per 16 codes, the codes sign-extended to
 * indices around the table's middle entry. */
#include <immintrin.h>

#include "../qs8_kernels.h"

NRT_ISA_TARGET(AVX512) void nrt_qs8_f32_lut_avx512(size_t n, const int8_t* x, const float* table, float* y) {
    const float* middle = table + 128;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i index = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(x + i)));
        _mm512_storeu_ps(y + i, _mm512_i32gather_ps(index, middle, 4));
    }
    if (i < n) {
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        __m512i index = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, x + i));
        _mm512_mask_storeu_ps(y + i, k, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, index, middle, 4));
    }
}
