/* qs8-vsoftmax-avx512: int8 Softmax (qs8_kernels.h) on 16 columns at once
 * (int32 lanes): max, then the sum of table gathers, then each value's
 * quotient through two 8-lane double vectors. A contiguous row (inner == 1)
 * takes 16 of its values per vector instead, the maximum and the sum
 * reduced across lanes. Tails use masked loads, gathers and stores. */
#include <immintrin.h>

#include "../qs8_kernels.h"

/* x's 16 bytes (k: the lanes present) sign-extended to int32. */
NRT_ISA_INLINE(AVX512) __m512i load16(const int8_t* x, __mmask16 k) {
    return _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, x));
}

NRT_ISA_INLINE(AVX512) __m512i gather(__m512i mx, __m512i v, const uint32_t* table, __mmask16 k) {
    return _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), k, _mm512_sub_epi32(mx, v), table, 4);
}

/* The 16 outputs of e (sum / 2 in half, 1 / sum in r_lo, r_hi as doubles). */
NRT_ISA_INLINE(AVX512) __m128i quotient(__m512i e, __m512i half, __m512d r_lo, __m512d r_hi) {
    __m512i num = _mm512_add_epi32(_mm512_slli_epi32(e, 8), half);
    const __m512d lift = _mm512_set1_pd(NRT_QS8_SOFTMAX_LIFT);
    __m512d q_lo = _mm512_add_pd(_mm512_mul_pd(_mm512_cvtepu32_pd(_mm512_castsi512_si256(num)), r_lo), lift);
    __m512d q_hi = _mm512_add_pd(_mm512_mul_pd(_mm512_cvtepu32_pd(_mm512_extracti64x4_epi64(num, 1)), r_hi), lift);
    __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvttpd_epi32(q_lo)), _mm512_cvttpd_epi32(q_hi), 1);
    q = _mm512_sub_epi32(_mm512_min_epi32(q, _mm512_set1_epi32(255)), _mm512_set1_epi32(128));
    return _mm512_cvtepi32_epi8(q);
}

NRT_ISA_INLINE(AVX512) void reciprocals(__m512i sum, __m512d* r_lo, __m512d* r_hi) {
    const __m512d one = _mm512_set1_pd(1.0);
    *r_lo = _mm512_div_pd(one, _mm512_cvtepu32_pd(_mm512_castsi512_si256(sum)));
    *r_hi = _mm512_div_pd(one, _mm512_cvtepu32_pd(_mm512_extracti64x4_epi64(sum, 1)));
}

/* Up to 16 columns (lanes k) of the strided form. */
NRT_ISA_TARGET(AVX512) static void columns16(size_t n, size_t inner, const int8_t* x, const uint32_t* table, int8_t* y,
                                             __mmask16 k) {
    __m512i mx = _mm512_set1_epi32(-128), sum = _mm512_setzero_si512();
    for (size_t i = 0; i < n; i++) mx = _mm512_max_epi32(mx, load16(x + i * inner, k));
    for (size_t i = 0; i < n; i++) sum = _mm512_add_epi32(sum, gather(mx, load16(x + i * inner, k), table, k));
    sum = _mm512_mask_mov_epi32(_mm512_set1_epi32(1), k, sum); /* absent lanes: no division by 0 */
    __m512d r_lo, r_hi;
    reciprocals(sum, &r_lo, &r_hi);
    __m512i half = _mm512_srli_epi32(sum, 1);
    for (size_t i = 0; i < n; i++) {
        __m512i e = gather(mx, load16(x + i * inner, k), table, k);
        _mm_mask_storeu_epi8(y + i * inner, k, quotient(e, half, r_lo, r_hi));
    }
}

static __mmask16 lanes(size_t count) { return count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1); }

/* One contiguous row of n values. */
NRT_ISA_TARGET(AVX512) static void row(size_t n, const int8_t* x, const uint32_t* table, int8_t* y) {
    __m512i mx = _mm512_set1_epi32(-128), sum = _mm512_setzero_si512();
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = lanes(n - i);
        mx = _mm512_mask_max_epi32(mx, k, mx, load16(x + i, k));
    }
    mx = _mm512_set1_epi32(_mm512_reduce_max_epi32(mx));
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = lanes(n - i);
        sum = _mm512_add_epi32(sum, gather(mx, load16(x + i, k), table, k));
    }
    __m512i all = _mm512_set1_epi32(_mm512_reduce_add_epi32(sum));
    __m512d r_lo, r_hi;
    reciprocals(all, &r_lo, &r_hi);
    __m512i half = _mm512_srli_epi32(all, 1);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = lanes(n - i);
        _mm_mask_storeu_epi8(y + i, k, quotient(gather(mx, load16(x + i, k), table, k), half, r_lo, r_hi));
    }
}

NRT_ISA_TARGET(AVX512) void nrt_qs8_vsoftmax_avx512(size_t n, size_t inner, size_t cols, const int8_t* x,
                                                    const uint32_t* table, int8_t* y) {
    if (inner == 1) {
        row(n, x, table, y);
        return;
    }
    for (size_t c = 0; c < cols; c += 16) columns16(n, inner, x + c, table, y + c, lanes(cols - c));
}
