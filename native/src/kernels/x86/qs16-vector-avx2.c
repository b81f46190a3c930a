/* The 16x8 glue and the 16-bit Add / Sub / Mul on AVX2 (qs16_kernels.h,
 * ref/qs16_ref.h), 8 values per step. Glue: vdivps (the
 * contract's IEEE division), vroundps to nearest even (rintf), NaN lanes set
 * to 0, the clamp to [-32768, 32767] in float (exact: integer-valued floats
 * and representable bounds), cvtps2dq and a narrowing that cannot saturate.
 * Dequantize: sign-extend, cvtdq2ps (exact), one multiply. */
#include <immintrin.h>
#include <string.h>

#include "../qs16_kernels.h"
#include "../ref/qs16_ref.h"

#define ROUND_NEAREST (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

NRT_ISA_INLINE(AVX2) __m128i quantize8(__m256 x, __m256 s) {
    const __m256 lo = _mm256_set1_ps(-32768.0f), hi = _mm256_set1_ps(32767.0f);
    __m256 v = _mm256_round_ps(_mm256_div_ps(x, s), ROUND_NEAREST);
    v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q)); /* NaN -> 0 */
    __m256i q = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, lo), hi));
    return _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
}

NRT_ISA_TARGET(AVX2) void nrt_qs16_quantize_avx2(size_t n, const float* x, float s, int16_t* y) {
    const __m256 sv = _mm256_set1_ps(s);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm_storeu_si128((__m128i*)(y + i), quantize8(_mm256_loadu_ps(x + i), sv));
    if (i < n) { /* the tail through buffers: nothing read or written past n */
        float in[8] = {0};
        int16_t out[8];
        memcpy(in, x + i, (n - i) * sizeof *in);
        _mm_storeu_si128((__m128i*)out, quantize8(_mm256_loadu_ps(in), sv));
        memcpy(y + i, out, (n - i) * sizeof *out);
    }
}

NRT_ISA_INLINE(AVX2) __m256 dequantize8(__m128i x, __m256 s) {
    return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(x)), s);
}

NRT_ISA_TARGET(AVX2) void nrt_qs16_dequantize_avx2(size_t n, const int16_t* x, float s, float* y) {
    const __m256 sv = _mm256_set1_ps(s);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, dequantize8(_mm_loadu_si128((const __m128i*)(x + i)), sv));
    if (i < n) {
        int16_t in[8] = {0};
        float out[8];
        memcpy(in, x + i, (n - i) * sizeof *in);
        _mm256_storeu_ps(out, dequantize8(_mm_loadu_si128((const __m128i*)in), sv));
        memcpy(y + i, out, (n - i) * sizeof *out);
    }
}

/* 8 codes (n < 8: the first n, zeros above) sign-extended to int32. */
NRT_ISA_INLINE(AVX2) __m256i load8_16(const int16_t* x, size_t n) {
    if (n >= 8) return _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i*)x));
    int16_t in[8] = {0};
    memcpy(in, x, n * sizeof *in);
    return _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i*)in));
}

/* The reference's clamp in float, then cvtps2dq (round to nearest even under the
 * default rounding mode: the 1.5 x 2^23 shift's result) and a narrowing that
 * cannot saturate; n < 8 stores the first n. */
NRT_ISA_INLINE(AVX2) void store8_16(int16_t* y, __m256 v, __m256 lo, __m256 hi, size_t n) {
    __m256i q = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, lo), hi));
    __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    if (n >= 8) {
        _mm_storeu_si128((__m128i*)y, q16);
        return;
    }
    int16_t out[8];
    _mm_storeu_si128((__m128i*)out, q16);
    memcpy(y, out, n * sizeof *out);
}

#define QS16_BINARY(NAME, OPV)                                                                                 \
    NRT_ISA_TARGET(AVX2) void NAME(const nrt_binary_kernel* kern, const void* pa, const void* pb, void* py,    \
                                   size_t n, int mode) {                                                       \
        const nrt_qs16_binary* p = kern->params;                                                               \
        const int16_t *A = pa, *B = pb;                                                                        \
        int16_t* Y = py;                                                                                       \
        const __m256 ma = _mm256_set1_ps(p->ma), mb = _mm256_set1_ps(p->mb);                                   \
        const __m256 lo = _mm256_set1_ps(p->out.lo), hi = _mm256_set1_ps(p->out.hi);                           \
        const __m256i sa = _mm256_set1_epi32(mode == NRT_BIN_SV ? A[0] : 0);                                   \
        const __m256i sb = _mm256_set1_epi32(mode == NRT_BIN_VS ? B[0] : 0);                                   \
        for (size_t i = 0; i < n; i += 8) {                                                                    \
            size_t r = n - i;                                                                                  \
            __m256i da = mode == NRT_BIN_SV ? sa : load8_16(A + i, r);                                         \
            __m256i db = mode == NRT_BIN_VS ? sb : load8_16(B + i, r);                                         \
            store8_16(Y + i, OPV, lo, hi, r);                                                                  \
        }                                                                                                      \
        (void)ma, (void)mb;                                                                                    \
    }

/* the reference's steps: both products rounded to float, one addition; Mul's
 * int32 product exact (|a * b| <= 2^30), rounded once by cvtdq2ps */
QS16_BINARY(nrt_qs16_vadd_avx2,
            _mm256_add_ps(_mm256_mul_ps(ma, _mm256_cvtepi32_ps(da)), _mm256_mul_ps(mb, _mm256_cvtepi32_ps(db))))
QS16_BINARY(nrt_qs16_vmul_avx2, _mm256_mul_ps(ma, _mm256_cvtepi32_ps(_mm256_mullo_epi32(da, db))))
