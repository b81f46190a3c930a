/* The 16x8 glue on AVX2 (qs16_kernels.h), 8 values per step: vdivps (the
 * contract's IEEE division), vroundps to nearest even (rintf), NaN lanes set
 * to 0, the clamp to [-32768, 32767] in float (exact: integer-valued floats
 * and representable bounds), cvtps2dq and a narrowing that cannot saturate.
 * Dequantize: sign-extend, cvtdq2ps (exact), one multiply. */
#include <immintrin.h>
#include <string.h>

#include "../qs16_kernels.h"

#define ROUND_NEAREST (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

NRT_ISA_TARGET(AVX2) void nrt_qs16_quantize_avx2(size_t n, const float* x, float s, int16_t* y) {
    const __m256 sv = _mm256_set1_ps(s), lo = _mm256_set1_ps(-32768.0f), hi = _mm256_set1_ps(32767.0f);
    for (size_t i = 0; i < n; i += 8) {
        size_t left = n - i < 8 ? n - i : 8;
        float in[8] = {0};
        memcpy(in, x + i, left * sizeof *in);
        __m256 v = _mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(in), sv), ROUND_NEAREST);
        v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q)); /* NaN -> 0 */
        __m256i q = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, lo), hi));
        __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
        int16_t out[8];
        _mm_storeu_si128((__m128i*)out, q16);
        memcpy(y + i, out, left * sizeof *out);
    }
}

NRT_ISA_TARGET(AVX2) void nrt_qs16_dequantize_avx2(size_t n, const int16_t* x, float s, float* y) {
    const __m256 sv = _mm256_set1_ps(s);
    for (size_t i = 0; i < n; i += 8) {
        size_t left = n - i < 8 ? n - i : 8;
        int16_t in[8] = {0};
        memcpy(in, x + i, left * sizeof *in);
        __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i*)in))), sv);
        float out[8];
        _mm256_storeu_ps(out, v);
        memcpy(y + i, out, left * sizeof *out);
    }
}
