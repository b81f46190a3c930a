/* qs8-lut-avx512vbmi: y[i] = table[x[i] + 128] with the 256-byte table in
 * four zmm (the avx512vbmi level). vpermi2b reads only the low 7 bits of an
 * index, which x and u = x + 128 share: x's low 7 bits pick entry u & 127
 * from the lower half (entries 0-127) and from the upper half (128-255); x's
 * sign bit (u's top bit clear) selects the lower one. No xor to u, and whole
 * vectors without masks: 2.5 instead of 3.5 cycles a 64-byte vector on Zen 4. */
#include <immintrin.h>

#include "../qs8_kernels.h"

NRT_ISA_TARGET(AVX512VBMI) static inline __m512i lut64(__m512i x, __m512i t0, __m512i t1, __m512i t2, __m512i t3) {
    __m512i lo = _mm512_permutex2var_epi8(t0, x, t1), hi = _mm512_permutex2var_epi8(t2, x, t3);
    return _mm512_mask_blend_epi8(_mm512_movepi8_mask(x), hi, lo);
}

NRT_ISA_TARGET(AVX512VBMI) void nrt_qs8_lut_avx512vbmi(size_t n, const int8_t* x, const int8_t* table, int8_t* y) {
    const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
    const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        _mm512_storeu_si512(y + i, lut64(_mm512_loadu_si512(x + i), t0, t1, t2, t3));
    if (i < n) {
        __mmask64 k = ((__mmask64)1 << (n - i)) - 1;
        _mm512_mask_storeu_epi8(y + i, k, lut64(_mm512_maskz_loadu_epi8(k, x + i), t0, t1, t2, t3));
    }
}

