/* qs8-vsoftmax-avx2: int8 Softmax (qs8_kernels.h) on 8 columns at once
 * (int32 lanes): max, the sum of table gathers, then each value's quotient
 * through two 4-lane double vectors. A contiguous row (inner == 1) takes 8
 * of its values per vector, the maximum and sum reduced across lanes; the
 * values past the last whole vector go through scalar code. */
#include <immintrin.h>

#include "../qs8_kernels.h"

NRT_ISA_INLINE(AVX2) __m256i load8(const int8_t* x) {
    return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)(const void*)x));
}

NRT_ISA_INLINE(AVX2) __m256i gather(__m256i mx, __m256i v, const uint32_t* table) {
    return _mm256_i32gather_epi32((const int*)table, _mm256_sub_epi32(mx, v), 4);
}

/* uint32 lanes (every value below 2^32) as doubles, low and high half. */
NRT_ISA_INLINE(AVX2) __m256d u32_to_pd(__m128i v) {
    __m256d d = _mm256_cvtepi32_pd(_mm_xor_si128(v, _mm_set1_epi32((int)0x80000000u))); /* v - 2^31, exact */
    return _mm256_add_pd(d, _mm256_set1_pd(2147483648.0));
}

NRT_ISA_INLINE(AVX2) void reciprocals(__m256i sum, __m256d* r_lo, __m256d* r_hi) {
    const __m256d one = _mm256_set1_pd(1.0);
    *r_lo = _mm256_div_pd(one, u32_to_pd(_mm256_castsi256_si128(sum)));
    *r_hi = _mm256_div_pd(one, u32_to_pd(_mm256_extracti128_si256(sum, 1)));
}

/* The 8 outputs of e, stored at y. */
NRT_ISA_INLINE(AVX2) void quotient(__m256i e, __m256i half, __m256d r_lo, __m256d r_hi, int8_t* y) {
    __m256i num = _mm256_add_epi32(_mm256_slli_epi32(e, 8), half);
    const __m256d lift = _mm256_set1_pd(NRT_QS8_SOFTMAX_LIFT);
    __m256d q_lo = _mm256_add_pd(_mm256_mul_pd(u32_to_pd(_mm256_castsi256_si128(num)), r_lo), lift);
    __m256d q_hi = _mm256_add_pd(_mm256_mul_pd(u32_to_pd(_mm256_extracti128_si256(num, 1)), r_hi), lift);
    __m256i q = _mm256_set_m128i(_mm256_cvttpd_epi32(q_hi), _mm256_cvttpd_epi32(q_lo));
    q = _mm256_sub_epi32(_mm256_min_epi32(q, _mm256_set1_epi32(255)), _mm256_set1_epi32(128));
    __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64((__m128i*)(void*)y, _mm_packs_epi16(w, w));
}

NRT_ISA_TARGET(AVX2) static void columns8(size_t n, size_t inner, const int8_t* x, const uint32_t* table, int8_t* y) {
    __m256i mx = _mm256_set1_epi32(-128), sum = _mm256_setzero_si256();
    for (size_t i = 0; i < n; i++) mx = _mm256_max_epi32(mx, load8(x + i * inner));
    for (size_t i = 0; i < n; i++) sum = _mm256_add_epi32(sum, gather(mx, load8(x + i * inner), table));
    __m256d r_lo, r_hi;
    reciprocals(sum, &r_lo, &r_hi);
    __m256i half = _mm256_srli_epi32(sum, 1);
    for (size_t i = 0; i < n; i++) quotient(gather(mx, load8(x + i * inner), table), half, r_lo, r_hi, y + i * inner);
}

NRT_ISA_INLINE(AVX2) int32_t hmax(__m256i v) {
    __m128i m = _mm_max_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    m = _mm_max_epi32(m, _mm_shuffle_epi32(m, 0x4E));
    return _mm_cvtsi128_si32(_mm_max_epi32(m, _mm_shuffle_epi32(m, 0xB1)));
}

NRT_ISA_INLINE(AVX2) uint32_t hsum(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    return (uint32_t)_mm_cvtsi128_si32(_mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1)));
}

NRT_ISA_TARGET(AVX2) static void row(size_t n, const int8_t* x, const uint32_t* table, int8_t* y) {
    size_t whole = n / 8 * 8;
    __m256i vmx = _mm256_set1_epi32(-128), vsum = _mm256_setzero_si256();
    for (size_t i = 0; i < whole; i += 8) vmx = _mm256_max_epi32(vmx, load8(x + i));
    int32_t mx = hmax(vmx);
    for (size_t i = whole; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    __m256i bmx = _mm256_set1_epi32(mx);
    for (size_t i = 0; i < whole; i += 8) vsum = _mm256_add_epi32(vsum, gather(bmx, load8(x + i), table));
    uint32_t sum = hsum(vsum);
    for (size_t i = whole; i < n; i++) sum += table[mx - x[i]];
    __m256d r_lo, r_hi;
    reciprocals(_mm256_set1_epi32((int)sum), &r_lo, &r_hi);
    __m256i half = _mm256_set1_epi32((int)(sum / 2u));
    for (size_t i = 0; i < whole; i += 8) quotient(gather(bmx, load8(x + i), table), half, r_lo, r_hi, y + i);
    double r = 1.0 / (double)sum;
    for (size_t i = whole; i < n; i++) y[i] = nrt_qs8_softmax_value(table[mx - x[i]], sum, r);
}

NRT_ISA_TARGET(AVX2) void nrt_qs8_vsoftmax_avx2(size_t n, size_t inner, size_t cols, const int8_t* x,
                                                const uint32_t* table, int8_t* y) {
    if (inner == 1) {
        row(n, x, table, y);
        return;
    }
    size_t c = 0;
    for (; c + 8 <= cols; c += 8) columns8(n, inner, x + c, table, y + c);
    for (; c < cols; c++) nrt_qs8_softmax_column(n, inner, x + c, table, y + c);
}
