/* qs8 vector kernels, AVX2: Add / Sub / Mul, GlobalAveragePool, AveragePool
 * and MaxPool of one output pixel, 8 int32 / float lanes per step (MaxPool:
 * 32 bytes). Tails are copied through small zeroed buffers: no byte past the
 * data is read. Same float steps, in the same order, as the reference
 * (requant.h); see qs8-vector-avx512.c. */
#include "qs8_requant_x86.h"

#include "../ref/qs8_ref.h"

/* 8 codes (n < 8: the first n, zeros above) sign-extended to int32. */
NRT_ISA_INLINE(AVX2) __m256i load8(const int8_t* x, size_t n) {
    if (n >= 8) return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)x));
    int64_t tmp = 0;
    memcpy(&tmp, x, n);
    return _mm256_cvtepi8_epi32(_mm_cvtsi64_si128(tmp));
}

NRT_ISA_INLINE(AVX2) __m128i finish(__m256 v, __m256 lo, __m256 hi, __m256i zp) {
    v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(v), zp);
    __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    return _mm_packs_epi16(q16, q16);
}

#define QS8_BINARY(NAME, OPV)                                                                                     \
    NRT_ISA_TARGET(AVX2) void NAME(const nrt_binary_kernel* kern, const void* pa, const void* pb, void* py,        \
                                 size_t n, int mode) {                                                           \
        const nrt_qs8_binary* p = kern->params;                                                                   \
        const int8_t *A = pa, *B = pb;                                                                           \
        int8_t* Y = py;                                                                                          \
        const __m256i za = _mm256_set1_epi32(p->za), zb = _mm256_set1_epi32(p->zb);                            \
        const __m256 ma = _mm256_set1_ps(p->ma), mb = _mm256_set1_ps(p->mb);                                   \
        const __m256 lo = _mm256_set1_ps((float)(p->out.qmin - p->out.zero_point));                           \
        const __m256 hi = _mm256_set1_ps((float)(p->out.qmax - p->out.zero_point));                           \
        const __m256i zp = _mm256_set1_epi32(p->out.zero_point);                                               \
        const __m256i sa = _mm256_set1_epi32(mode == NRT_BIN_SV ? A[0] - p->za : 0);                          \
        const __m256i sb = _mm256_set1_epi32(mode == NRT_BIN_VS ? B[0] - p->zb : 0);                          \
        for (size_t i = 0; i < n; i += 8) {                                                                      \
            size_t r = n - i;                                                                                    \
            __m256i da = mode == NRT_BIN_SV ? sa : _mm256_sub_epi32(load8(A + i, r), za);                       \
            __m256i db = mode == NRT_BIN_VS ? sb : _mm256_sub_epi32(load8(B + i, r), zb);                       \
            nrt_qs8_store_low(Y + i, finish(OPV, lo, hi, zp), r < 8 ? r : 8);                                    \
        }                                                                                                        \
        (void)ma, (void)mb;                                                                                      \
    }

QS8_BINARY(nrt_qs8_vadd_avx2,
          _mm256_add_ps(_mm256_mul_ps(ma, _mm256_cvtepi32_ps(da)), _mm256_mul_ps(mb, _mm256_cvtepi32_ps(db))))
QS8_BINARY(nrt_qs8_vmul_avx2, _mm256_mul_ps(ma, _mm256_cvtepi32_ps(_mm256_mullo_epi32(da, db))))

NRT_ISA_TARGET(AVX2) void nrt_qs8_gavgpool_avx2(size_t rows, size_t channels, const int8_t* x, size_t stride,
                                                int32_t zx,
                                          float m, const nrt_qs8_requant* rq, int8_t* y) {
    const __m256i base = _mm256_set1_epi32((int32_t)(0u - (uint32_t)rows * (uint32_t)zx));
    const __m256 mv = _mm256_set1_ps(m), lo = _mm256_set1_ps(rq->lo), hi = _mm256_set1_ps(rq->hi);
    const __m256i zp = _mm256_set1_epi32(rq->zero_point);
    for (size_t c = 0; c < channels; c += 8) {
        size_t k = channels - c;
        __m256i a = base;
        for (size_t r = 0; r < rows; r++) a = _mm256_add_epi32(a, load8(x + r * stride + c, k));
        nrt_qs8_store_low(y + c, nrt_qs8_requant8(a, mv, lo, hi, zp), k < 8 ? k : 8);
    }
}

NRT_ISA_TARGET(AVX2) void nrt_qs8_avgpool_avx2(size_t channels, size_t taps, const int8_t* const* ind, int32_t zx,
                                               float m,
                                         const nrt_qs8_requant* rq, int8_t* y) {
    const __m256i base = _mm256_set1_epi32((int32_t)(0u - (uint32_t)taps * (uint32_t)zx));
    const __m256 mv = _mm256_set1_ps(m), lo = _mm256_set1_ps(rq->lo), hi = _mm256_set1_ps(rq->hi);
    const __m256i zp = _mm256_set1_epi32(rq->zero_point);
    for (size_t c = 0; c < channels; c += 8) {
        size_t k = channels - c;
        __m256i a = base;
        for (size_t t = 0; t < taps; t++) a = _mm256_add_epi32(a, load8(ind[t] + c, k));
        nrt_qs8_store_low(y + c, nrt_qs8_requant8(a, mv, lo, hi, zp), k < 8 ? k : 8);
    }
}

NRT_ISA_TARGET(AVX2) void nrt_qs8_maxpool_avx2(size_t channels, size_t taps, const int8_t* const* ind, int32_t qmin,
                                         int32_t qmax, int8_t* y) {
    const __m256i vmin = _mm256_set1_epi8((char)qmin), vmax = _mm256_set1_epi8((char)qmax);
    size_t c = 0;
    for (; c + 32 <= channels; c += 32) {
        __m256i a = _mm256_set1_epi8(INT8_MIN);
        for (size_t t = 0; t < taps; t++) a = _mm256_max_epi8(a, _mm256_loadu_si256((const __m256i*)(ind[t] + c)));
        _mm256_storeu_si256((__m256i*)(y + c), _mm256_min_epi8(_mm256_max_epi8(a, vmin), vmax));
    }
    for (; c < channels; c++) {
        int32_t v = INT8_MIN;
        for (size_t t = 0; t < taps; t++) v = ind[t][c] > v ? ind[t][c] : v;
        y[c] = (int8_t)(v < qmin ? qmin : (v > qmax ? qmax : v));
    }
}

NRT_ISA_TARGET(AVX2) void nrt_qs8_rescale_avx2(size_t n, const int8_t* x, int32_t zx, float m,
                                               const nrt_qs8_requant* rq,
                                      int8_t* y) {
    const __m256i z = _mm256_set1_epi32(zx), zp = _mm256_set1_epi32(rq->zero_point);
    const __m256 mv = _mm256_set1_ps(m), lo = _mm256_set1_ps(rq->lo), hi = _mm256_set1_ps(rq->hi);
    for (size_t i = 0; i < n; i += 8) {
        size_t r = n - i;
        __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(load8(x + i, r), z)), mv);
        nrt_qs8_store_low(y + i, finish(v, lo, hi, zp), r < 8 ? r : 8);
    }
}

/* rint(x / s) from x * (1 / s) except in lanes near a rounding boundary
 * (see nrt_qs8_quantize_ukernel); NaN -> 0. */
NRT_ISA_INLINE(AVX2) __m256 quantize8(__m256 x, __m256 s, __m256 r, __m256 near) {
    const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    __m256 t = _mm256_mul_ps(x, r), v = _mm256_round_ps(t, NRT_ROUND_NEAREST);
    /* unordered (x NaN or infinite) also redoes: inf * r - rint(inf * r) is NaN */
    __m256 redo = _mm256_cmp_ps(_mm256_and_ps(_mm256_sub_ps(t, v), magnitude), near, _CMP_NLT_UQ);
    if (_mm256_movemask_ps(redo)) v = _mm256_blendv_ps(v, _mm256_round_ps(_mm256_div_ps(x, s), NRT_ROUND_NEAREST),
                                                       redo);
    return _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
}

NRT_ISA_TARGET(AVX2) void nrt_qs8_quantize_avx2(size_t n, const float* x, float s, int32_t z, int8_t* y) {
    const __m256 sv = _mm256_set1_ps(s), lo = _mm256_set1_ps(-128.0f - (float)z),
        hi = _mm256_set1_ps(127.0f - (float)z);
    const __m256i zp = _mm256_set1_epi32(z);
    /* r = 0 with near = 0 sends every lane through the division */
    const bool fast = nrt_qs8_reciprocal_exact(s);
    const __m256 r = _mm256_set1_ps(fast ? 1.0f / s : 0.0f), near = _mm256_set1_ps(fast ? NRT_QS8_NEAR_HALF : 0.0f);
    for (size_t i = 0; i < n; i += 8) {
        size_t left = n - i;
        float tmp[8] = {0};
        const float* xp = x + i;
        if (left < 8) {
            memcpy(tmp, xp, left * sizeof(float));
            xp = tmp;
        }
        __m256 v = quantize8(_mm256_loadu_ps(xp), sv, r, near);
        nrt_qs8_store_low(y + i, finish(v, lo, hi, zp), left < 8 ? left : 8);
    }
}

NRT_ISA_TARGET(AVX2) void nrt_qs8_dequantize_avx2(size_t n, const int8_t* x, float s, int32_t z, float* y) {
    const __m256i zv = _mm256_set1_epi32(z);
    const __m256 sv = _mm256_set1_ps(s);
    for (size_t i = 0; i < n; i += 8) {
        size_t r = n - i;
        __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(load8(x + i, r), zv)), sv);
        if (r >= 8) {
            _mm256_storeu_ps(y + i, v);
        } else {
            float tmp[8];
            _mm256_storeu_ps(tmp, v);
            memcpy(y + i, tmp, r * sizeof(float));
        }
    }
}
