/* qs8 vector kernels, AVX-512 (the VNNI level): Add / Sub / Mul,
 * GlobalAveragePool, AveragePool and MaxPool of one output pixel, Rescale,
 * QuantizeLinear, DequantizeLinear. 16 values per step (int32 /
 * float lanes); tails through masked loads and stores, which never touch the
 * masked-off bytes. Each float step is the reference's (requant.h), in its
 * order: Add = (ma * fa) + (mb * fb), both products rounded, then the sum;
 * Mul = ma * (float)(da * db) with da * db exact in int32. */
#include "qs8_requant_x86.h"

#include "../ref/qs8_ref.h"

static inline __mmask16 mask16(size_t n) { return (__mmask16)(n >= 16 ? 0xFFFF : (1u << n) - 1); }

/* (float)(x[i] - z) for 16 codes (masked). */
NRT_ISA_INLINE(AVX512) __m512i load_diff(const int8_t* x, __mmask16 k, __m512i z) {
    return _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, x)), z);
}

NRT_ISA_INLINE(AVX512) __m128i finish(__m512 v, __m512 lo, __m512 hi, __m512i zp) {
    v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    return _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(v), zp));
}

/* One binary kernel per op: OPV(da, db) gives the float value from the
 * int32 differences (vectors). A scalar operand is broadcast as a vector of
 * equal codes, which gives the same per-element arithmetic. Blocks of 64 are
 * stored at once (pack64), then blocks of 16, the tail with masked loads and
 * stores. The constants are set up
 * once per call, before the loop: the int8 stores may alias *p as far as the
 * compiler knows, so reading p inside the loop would reload them per block. */
typedef struct qs8_binary_consts {
    __m512i za, zb, zp, sa, sb;
    __m512 ma, mb, lo, hi;
    __m512i qmin, qmax; /* int8 bounds in every byte */
} qs8_binary_consts;

NRT_ISA_INLINE(AVX512) qs8_binary_consts binary_consts(const nrt_qs8_binary* p, const int8_t* A, const int8_t* B,
                                                     int mode) {
    qs8_binary_consts c;
    c.za = _mm512_set1_epi32(p->za);
    c.zb = _mm512_set1_epi32(p->zb);
    c.zp = _mm512_set1_epi32(p->out.zero_point);
    c.sa = _mm512_set1_epi32(mode == NRT_BIN_SV ? A[0] - p->za : 0);
    c.sb = _mm512_set1_epi32(mode == NRT_BIN_VS ? B[0] - p->zb : 0);
    c.ma = _mm512_set1_ps(p->ma);
    c.mb = _mm512_set1_ps(p->mb);
    c.lo = _mm512_set1_ps((float)(p->out.qmin - p->out.zero_point));
    c.hi = _mm512_set1_ps((float)(p->out.qmax - p->out.zero_point));
    c.qmin = _mm512_set1_epi8((char)p->out.qmin);
    c.qmax = _mm512_set1_epi8((char)p->out.qmax);
    return c;
}

/* The output clamp can move after the conversion when every value is far
 * inside int32: clamping v to the integer bounds [qmin - z, qmax - z] then
 * rounding equals rounding then clamping (rounding is monotonic), and the
 * saturating packs do the clamp to int8's range for free, so only an
 * activation's narrower range costs two byte ops per 64 values instead of
 * two float ops per 16. |v| <= (|ma| + |mb|) * 255 (Add), |ma| * 255^2 (Mul);
 * NaN multipliers fail the test and keep the float clamp. */
static bool int_clamp_exact(const nrt_qs8_binary* p, bool mul) {
    float bound = mul ? fabsf(p->ma) * 65025.0f : (fabsf(p->ma) + fabsf(p->mb)) * 255.0f;
    return bound < 0x1p30f;
}

/* 64 int32 codes (four vectors) as 64 bytes in order, saturated to int8:
 * the in-lane packs interleave the vectors' 4-code groups, the dword
 * permute puts the groups back in order. One store instead of four narrowing
 * vpmovdb stores (two uops each on Zen 4). */
NRT_ISA_INLINE(AVX512) __m512i pack64(__m512i q0, __m512i q1, __m512i q2, __m512i q3) {
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    __m512i p = _mm512_packs_epi16(_mm512_packs_epi32(q0, q1), _mm512_packs_epi32(q2, q3));
    return _mm512_permutexvar_epi32(order, p);
}

/* 16 codes as bytes: saturated, then (INT_CLAMP) clamped to [qmin, qmax]. */
NRT_ISA_INLINE(AVX512) __m128i narrow16(__m512i q, const qs8_binary_consts* c, const int INT_CLAMP) {
    __m128i b = _mm512_cvtsepi32_epi8(q);
    if (INT_CLAMP)
        b = _mm_min_epi8(_mm_max_epi8(b, _mm512_castsi512_si128(c->qmin)), _mm512_castsi512_si128(c->qmax));
    return b;
}

#define QS8_BINARY(NAME, OPV, MUL)                                                                                \
    /* 16 results as int32 codes (+ zero point; inside [qmin, qmax] unless INT_CLAMP) */                         \
    NRT_ISA_INLINE(AVX512) __m512i NAME##_codes(const int8_t* A, const int8_t* B, __mmask16 k, int mode,          \
                                               const qs8_binary_consts* c, const int FULL, const int INT_CLAMP) { \
        const __m512 ma = c->ma, mb = c->mb;                                                                     \
        __m512i da = mode == NRT_BIN_SV ? c->sa                                                                  \
                     : FULL ? _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)A)), c->za) \
                            : load_diff(A, k, c->za);                                                            \
        __m512i db = mode == NRT_BIN_VS ? c->sb                                                                  \
                     : FULL ? _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)B)), c->zb) \
                            : load_diff(B, k, c->zb);                                                            \
        __m512 v = OPV;                                                                                          \
        if (!INT_CLAMP) v = _mm512_min_ps(_mm512_max_ps(v, c->lo), c->hi);                                       \
        (void)ma, (void)mb;                                                                                      \
        return _mm512_add_epi32(_mm512_cvtps_epi32(v), c->zp);                                                   \
    }                                                                                                            \
    NRT_ISA_INLINE(AVX512) void NAME##_run(const int8_t* A, const int8_t* B, int8_t* Y, size_t n, int mode,      \
                                          const qs8_binary_consts* c, const int INT_CLAMP) {                     \
        size_t sa = mode == NRT_BIN_SV ? 0 : 1, sb = mode == NRT_BIN_VS ? 0 : 1, i = 0;                         \
        for (; i + 64 <= n; i += 64) {                                                                           \
            __m512i q0 = NAME##_codes(A + i * sa, B + i * sb, 0xFFFF, mode, c, 1, INT_CLAMP);                    \
            __m512i q1 = NAME##_codes(A + (i + 16) * sa, B + (i + 16) * sb, 0xFFFF, mode, c, 1, INT_CLAMP);      \
            __m512i q2 = NAME##_codes(A + (i + 32) * sa, B + (i + 32) * sb, 0xFFFF, mode, c, 1, INT_CLAMP);      \
            __m512i q3 = NAME##_codes(A + (i + 48) * sa, B + (i + 48) * sb, 0xFFFF, mode, c, 1, INT_CLAMP);      \
            __m512i y = pack64(q0, q1, q2, q3);                                                                  \
            if (INT_CLAMP) y = _mm512_min_epi8(_mm512_max_epi8(y, c->qmin), c->qmax);                            \
            _mm512_storeu_si512(Y + i, y);                                                                       \
        }                                                                                                        \
        for (; i + 16 <= n; i += 16)                                                                             \
            _mm_storeu_si128((__m128i*)(Y + i),                                                                  \
                             narrow16(NAME##_codes(A + i * sa, B + i * sb, 0xFFFF, mode, c, 1, INT_CLAMP), c,    \
                                      INT_CLAMP));                                                               \
        if (i < n)                                                                                               \
            _mm_mask_storeu_epi8(Y + i, mask16(n - i),                                                           \
                                 narrow16(NAME##_codes(A + i * sa, B + i * sb, mask16(n - i), mode, c, 0,         \
                                                       INT_CLAMP),                                               \
                                          c, INT_CLAMP));                                                        \
    }                                                                                                            \
    NRT_ISA_TARGET(AVX512) void NAME(const nrt_binary_kernel* kern, const void* pa, const void* pb, void* py,     \
                                    size_t n, int mode) {                                                        \
        const nrt_qs8_binary* p = kern->params;                                                                   \
        const qs8_binary_consts c = binary_consts(p, pa, pb, mode);                                               \
        if (int_clamp_exact(p, MUL)) NAME##_run(pa, pb, py, n, mode, &c, 1);                                     \
        else NAME##_run(pa, pb, py, n, mode, &c, 0);                                                             \
    }

QS8_BINARY(nrt_qs8_vadd_avx512,
          _mm512_add_ps(_mm512_mul_ps(ma, _mm512_cvtepi32_ps(da)), _mm512_mul_ps(mb, _mm512_cvtepi32_ps(db))), false)
QS8_BINARY(nrt_qs8_vmul_avx512, _mm512_mul_ps(ma, _mm512_cvtepi32_ps(_mm512_mullo_epi32(da, db))), true)

/* ---- pooling ---- */

NRT_ISA_TARGET(AVX512) void nrt_qs8_gavgpool_avx512(size_t rows, size_t channels, const int8_t* x, size_t stride,
                                               int32_t zx, float m, const nrt_qs8_requant* rq, int8_t* y) {
    /* sum (x - zx) = sum x - rows * zx, modulo 2^32 like the reference's running sum */
    const __m512i base = _mm512_set1_epi32((int32_t)(0u - (uint32_t)rows * (uint32_t)zx));
    const __m512 mv = _mm512_set1_ps(m), lo = _mm512_set1_ps(rq->lo), hi = _mm512_set1_ps(rq->hi);
    const __m512i zp = _mm512_set1_epi32(rq->zero_point);
    size_t c = 0;
    for (; c + 64 <= channels; c += 64) { /* four vectors per row pass */
        __m512i a0 = base, a1 = base, a2 = base, a3 = base;
        for (size_t r = 0; r < rows; r++) {
            const int8_t* xp = x + r * stride + c;
            a0 = _mm512_add_epi32(a0, _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)xp)));
            a1 = _mm512_add_epi32(a1, _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(xp + 16))));
            a2 = _mm512_add_epi32(a2, _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(xp + 32))));
            a3 = _mm512_add_epi32(a3, _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(xp + 48))));
        }
        _mm_storeu_si128((__m128i*)(y + c), nrt_qs8_requant16(a0, mv, lo, hi, zp));
        _mm_storeu_si128((__m128i*)(y + c + 16), nrt_qs8_requant16(a1, mv, lo, hi, zp));
        _mm_storeu_si128((__m128i*)(y + c + 32), nrt_qs8_requant16(a2, mv, lo, hi, zp));
        _mm_storeu_si128((__m128i*)(y + c + 48), nrt_qs8_requant16(a3, mv, lo, hi, zp));
    }
    for (; c < channels; c += 16) {
        __mmask16 k = mask16(channels - c);
        __m512i a = base;
        for (size_t r = 0; r < rows; r++)
            a = _mm512_add_epi32(a, _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, x + r * stride + c)));
        _mm_mask_storeu_epi8(y + c, k, nrt_qs8_requant16(a, mv, lo, hi, zp));
    }
}

NRT_ISA_TARGET(AVX512) void nrt_qs8_avgpool_avx512(size_t channels, size_t taps, const int8_t* const* ind, int32_t zx,
                                              float m, const nrt_qs8_requant* rq, int8_t* y) {
    const __m512i base = _mm512_set1_epi32((int32_t)(0u - (uint32_t)taps * (uint32_t)zx));
    const __m512 mv = _mm512_set1_ps(m), lo = _mm512_set1_ps(rq->lo), hi = _mm512_set1_ps(rq->hi);
    const __m512i zp = _mm512_set1_epi32(rq->zero_point);
    for (size_t c = 0; c < channels; c += 16) {
        __mmask16 k = mask16(channels - c);
        __m512i a = base;
        for (size_t t = 0; t < taps; t++)
            a = _mm512_add_epi32(a, _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, ind[t] + c)));
        _mm_mask_storeu_epi8(y + c, k, nrt_qs8_requant16(a, mv, lo, hi, zp));
    }
}

NRT_ISA_TARGET(AVX512) void nrt_qs8_maxpool_avx512(size_t channels, size_t taps, const int8_t* const* ind, int32_t qmin,
                                              int32_t qmax, int8_t* y) {
    const __m512i vmin = _mm512_set1_epi8((char)qmin), vmax = _mm512_set1_epi8((char)qmax);
    for (size_t c = 0; c < channels; c += 64) {
        __mmask64 k = channels - c >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (channels - c)) - 1);
        __m512i a = _mm512_set1_epi8(INT8_MIN);
        for (size_t t = 0; t < taps; t++) a = _mm512_max_epi8(a, _mm512_maskz_loadu_epi8(k, ind[t] + c));
        /* clamp as nrt_clamp_qs8_ref: below qmin -> qmin, else above qmax -> qmax */
        a = _mm512_min_epi8(_mm512_max_epi8(a, vmin), vmax);
        _mm512_mask_storeu_epi8(y + c, k, a);
    }
}

NRT_ISA_TARGET(AVX512) void nrt_qs8_rescale_avx512(size_t n, const int8_t* x, int32_t zx, float m,
                                                   const nrt_qs8_requant* rq,
                                           int8_t* y) {
    const __m512i z = _mm512_set1_epi32(zx), zp = _mm512_set1_epi32(rq->zero_point);
    const __m512 mv = _mm512_set1_ps(m), lo = _mm512_set1_ps(rq->lo), hi = _mm512_set1_ps(rq->hi);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i d = _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(x + i))), z);
        _mm_storeu_si128((__m128i*)(y + i), finish(_mm512_mul_ps(_mm512_cvtepi32_ps(d), mv), lo, hi, zp));
    }
    if (i < n) {
        __mmask16 k = mask16(n - i);
        __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(load_diff(x + i, k, z)), mv);
        _mm_mask_storeu_epi8(y + i, k, finish(v, lo, hi, zp));
    }
}

/* quantize_small of kernels/ref/quant_ref.c: v = rint(x / s), NaN -> 0,
 * clamped to [-128 - z, 127 - z], + z. The quotient comes from x * (1 / s)
 * except in lanes near a rounding boundary (see nrt_qs8_quantize_ukernel). */
NRT_ISA_INLINE(AVX512) __m512 quantize16(__m512 x, __m512 s, __m512 r, __m512 near) {
    __m512 t = _mm512_mul_ps(x, r), v = _mm512_roundscale_ps(t, NRT_ROUND_NEAREST);
    /* unordered (x NaN or infinite) also redoes: inf * r - rint(inf * r) is NaN */
    __mmask16 redo = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(t, v)), near, _CMP_NLT_UQ);
    if (redo) v = _mm512_mask_roundscale_ps(v, redo, _mm512_div_ps(x, s), NRT_ROUND_NEAREST);
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v); /* NaN -> 0 */
}

NRT_ISA_TARGET(AVX512) void nrt_qs8_quantize_avx512(size_t n, const float* x, float s, int32_t z, int8_t* y) {
    const __m512 sv = _mm512_set1_ps(s), lo = _mm512_set1_ps(-128.0f - (float)z),
        hi = _mm512_set1_ps(127.0f - (float)z);
    const __m512i zp = _mm512_set1_epi32(z);
    /* r = 0 with near = 0 sends every lane through the division */
    const bool fast = nrt_qs8_reciprocal_exact(s);
    const __m512 r = _mm512_set1_ps(fast ? 1.0f / s : 0.0f), near = _mm512_set1_ps(fast ? NRT_QS8_NEAR_HALF : 0.0f);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm_storeu_si128((__m128i*)(y + i), finish(quantize16(_mm512_loadu_ps(x + i), sv, r, near), lo, hi, zp));
    if (i < n) {
        __mmask16 k = mask16(n - i);
        _mm_mask_storeu_epi8(y + i, k, finish(quantize16(_mm512_maskz_loadu_ps(k, x + i), sv, r, near), lo, hi, zp));
    }
}

NRT_ISA_TARGET(AVX512) void nrt_qs8_dequantize_avx512(size_t n, const int8_t* x, float s, int32_t z, float* y) {
    const __m512i zv = _mm512_set1_epi32(z);
    const __m512 sv = _mm512_set1_ps(s);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = mask16(n - i);
        _mm512_mask_storeu_ps(y + i, k, _mm512_mul_ps(_mm512_cvtepi32_ps(load_diff(x + i, k, zv)), sv));
    }
}
