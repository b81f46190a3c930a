/* qs8-f32-lut-avx512: y[i] = table[x[i] + 128], a 256-entry float32 table
 * (a DequantizeLinear and a float unary op as one lookup: ops/quantize.c's
 * Lut). The table lives in 16 zmm; per 16 codes, eight two-register permutes
 * (vpermi2ps reads an index's low 5 bits) give the candidates from each
 * 32-entry slice, and three rounds of blends on index bits 5, 6 and 7 pick
 * one. The sign-extended code x and u = x + 128 share bits 0-6, and u's
 * bit 7 is x's sign bit inverted, so x indexes directly. Gathers (one
 * vgatherdps per 16 codes) ran 4x slower than this on Zen 4. */
#include <immintrin.h>

#include "../qs8_kernels.h"

NRT_ISA_TARGET(AVX512) static inline __m512 lut16(__m512i x, const __m512* t) {
    const __mmask16 bit5 = _mm512_test_epi32_mask(x, _mm512_set1_epi32(32));
    const __mmask16 bit6 = _mm512_test_epi32_mask(x, _mm512_set1_epi32(64));
    const __mmask16 negative = _mm512_test_epi32_mask(x, _mm512_set1_epi32(128)); /* u < 128 */
    __m512 by32[8];
    for (int s = 0; s < 8; s++) by32[s] = _mm512_permutex2var_ps(t[2 * s], x, t[2 * s + 1]);
    __m512 by64[4];
    for (int s = 0; s < 4; s++) by64[s] = _mm512_mask_blend_ps(bit5, by32[2 * s], by32[2 * s + 1]);
    __m512 low = _mm512_mask_blend_ps(bit6, by64[0], by64[1]), high = _mm512_mask_blend_ps(bit6, by64[2], by64[3]);
    return _mm512_mask_blend_ps(negative, high, low);
}

NRT_ISA_TARGET(AVX512) void nrt_qs8_f32_lut_avx512(size_t n, const int8_t* x, const float* table, float* y) {
    __m512 t[16];
    for (int s = 0; s < 16; s++) t[s] = _mm512_loadu_ps(table + 16 * s);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, lut16(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(x + i))), t));
    if (i < n) {
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, k, lut16(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, x + i)), t));
    }
}
