/* The requantization of kernels/requant.h on int32 vectors, shared by this
 * folder's int8 kernels: cvtdq2ps, mulps by the per-channel multipliers,
 * maxps / minps with [lo, hi] = [qmin - z_y, qmax - z_y], cvtps2dq under the
 * default rounding mode (nearest even, as rintf), + z_y, then a narrowing
 * that never saturates (the value is already inside [qmin, qmax]). Separate
 * multiply and clamp instructions: no FMA contraction can apply. */
#ifndef NRT_QS8_REQUANT_X86_H
#define NRT_QS8_REQUANT_X86_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "../qs8_kernels.h"

/* the rounding immediate (a literal constant for clang) */
#define NRT_ROUND_NEAREST (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

/* Four bytes as an int32 (any alignment), or the first n < 4 of them with
 * zeros above (a K remainder: no byte past the row is read). */
static inline int32_t nrt_qs8_load4(const int8_t* p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline int32_t nrt_qs8_load_partial(const int8_t* p, size_t n) {
    uint32_t v = (uint8_t)p[0]; /* byte by byte: a variable-length memcpy would be a library call */
    if (n > 1) v |= (uint32_t)(uint8_t)p[1] << 8;
    if (n > 2) v |= (uint32_t)(uint8_t)p[2] << 16;
    return (int32_t)v;
}

/* 16 accumulators -> 16 int8 codes. */
NRT_ISA_INLINE(AVX512) __m128i nrt_qs8_requant16(__m512i acc, __m512 m, __m512 lo, __m512 hi, __m512i zp) {
    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), m);
    v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    return _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(v), zp));
}

/* nrt_qs8_requant16 with the clamp where nrt_qs8_requant allows it: FLOAT as
 * above; INT (int_clamp) after the conversion, the saturating narrowing to
 * int8 then bytes to [qmin, qmax]; SAT (int_clamp, the full int8 range) the
 * narrowing alone. The constants are set up once per tile (nrt_qs8_rq16_make);
 * kernels read the mode into a local first: their byte stores may alias *rq. */
enum { NRT_QS8_CLAMP_FLOAT, NRT_QS8_CLAMP_INT, NRT_QS8_CLAMP_SAT };

typedef struct nrt_qs8_rq16 {
    __m512 lo, hi;
    __m512i zp;
    __m128i qmin, qmax;
    int mode;
} nrt_qs8_rq16;

NRT_ISA_INLINE(AVX512) nrt_qs8_rq16 nrt_qs8_rq16_make(const nrt_qs8_requant* rq) {
    nrt_qs8_rq16 q;
    int32_t qmin = (int32_t)rq->lo + rq->zero_point, qmax = (int32_t)rq->hi + rq->zero_point;
    q.lo = _mm512_set1_ps(rq->lo);
    q.hi = _mm512_set1_ps(rq->hi);
    q.zp = _mm512_set1_epi32(rq->zero_point);
    q.qmin = _mm_set1_epi8((char)qmin);
    q.qmax = _mm_set1_epi8((char)qmax);
    q.mode = !rq->int_clamp ? NRT_QS8_CLAMP_FLOAT : qmin == -128 && qmax == 127 ? NRT_QS8_CLAMP_SAT : NRT_QS8_CLAMP_INT;
    return q;
}

NRT_ISA_INLINE(AVX512) __m128i nrt_qs8_requant16_q(__m512i acc, __m512 m, const nrt_qs8_rq16* q, int mode) {
    if (mode == NRT_QS8_CLAMP_FLOAT) return nrt_qs8_requant16(acc, m, q->lo, q->hi, q->zp);
    __m512i c = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), m)), q->zp);
    __m128i b = _mm512_cvtsepi32_epi8(c);
    return mode == NRT_QS8_CLAMP_SAT ? b : _mm_min_epi8(_mm_max_epi8(b, q->qmin), q->qmax);
}

/* 8 accumulators -> 8 int8 codes in the low half. */
NRT_ISA_INLINE(AVX2) __m128i nrt_qs8_requant8(__m256i acc, __m256 m, __m256 lo, __m256 hi, __m256i zp) {
    __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), m);
    v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(v), zp);
    __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    return _mm_packs_epi16(q16, q16);
}

/* Stores the low n <= 8 bytes of v. */
NRT_ISA_INLINE(AVX2) void nrt_qs8_store_low(int8_t* y, __m128i v, size_t n) {
    if (n == 8) {
        _mm_storel_epi64((__m128i*)y, v);
    } else {
        int8_t tmp[16];
        _mm_storeu_si128((__m128i*)tmp, v);
        memcpy(y, tmp, n);
    }
}

#endif
