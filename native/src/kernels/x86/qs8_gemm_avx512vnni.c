/* qs8-qc8w-gemm-8x32c4-minmax-fp32-avx512vnni and the igemm of the same
 * shape: up to 8 rows x 32 columns per call, K in blocks of 4 (c4 panels,
 * s8_kernels.h).
 *
 * vpdpbusd multiplies unsigned bytes by signed bytes, summing 4 products
 * into each int32 lane: every 4 activations of a row are broadcast to the 16
 * lanes and flipped to u8 (x ^ 0x80 = x + 128); the packed bias holds
 * -128 * sum(w) per column (x_offset = 128), so the accumulator is exactly
 * requant.h's modulo 2^32 (vpdpbusd adds without saturation; each lane's
 * four products stay far inside int32).
 *
 * One template (gemm_tile) instantiated per row count (8, 4, 2, 1) and width
 * (two zmm = 32 columns, or one = 16 for a narrow last panel); a K remainder
 * of 1-3 is read byte-exactly (never past the row) against zero-padded
 * weights, whose products with the flipped 0x80 bytes vanish. */
#include "qs8_requant_x86.h"

#define MR 8
#define NR 32
#define KR 4

/* acc[r][j] += (u8 of 4 activations of row r) . (column block j's 4 weights),
 * for kc values of each row pointer; returns the weights after them. */
NRT_AVX512VNNI_INLINE const int8_t* acc_block(__m512i acc[MR][2], const int8_t* const* ap, size_t kc,
                                              const int8_t* w, const int R, const int NZ) {
    const __m512i flip = _mm512_set1_epi32((int32_t)0x80808080u);
    size_t k = 0;
    for (; k + KR <= kc; k += KR, w += NR * KR) {
        __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_setzero_si512();
        if (NZ > 1) w1 = _mm512_loadu_si512(w + 64);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            __m512i av = _mm512_xor_si512(_mm512_set1_epi32(nrt_s8_load4(ap[r] + k)), flip);
            acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], av, w0);
            if (NZ > 1) acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], av, w1);
        }
    }
    if (k < kc) {
        __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_setzero_si512();
        if (NZ > 1) w1 = _mm512_loadu_si512(w + 64);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            __m512i av = _mm512_xor_si512(_mm512_set1_epi32(nrt_s8_load_partial(ap[r] + k, kc - k)), flip);
            acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], av, w0);
            if (NZ > 1) acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], av, w1);
        }
        w += NR * KR;
    }
    return w;
}

NRT_AVX512VNNI_INLINE void gemm_tile(size_t mr, size_t nc, size_t kc, size_t ks, const int8_t* const* ind,
                                     const int8_t* a, size_t a_stride, const void* packed, int8_t* c,
                                     size_t c_stride, const nrt_s8_requant* rq, const int R, const int NZ) {
    __m512i acc[MR][2];
    const int32_t* bias = packed;
    __m512i b0 = _mm512_loadu_si512(bias), b1 = _mm512_setzero_si512();
    if (NZ > 1) b1 = _mm512_loadu_si512(bias + 16);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        acc[r][0] = b0;
        acc[r][1] = b1;
    }
    const int8_t* w = (const int8_t*)(bias + NR);
    const int8_t* ap[MR];
    if (!ind) {
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) ap[r] = a + ((size_t)r < mr ? (size_t)r : mr - 1) * a_stride;
        w = acc_block(acc, ap, kc, w, R, NZ);
    } else {
        for (size_t p = 0; p < ks; p++, ind += MR) {
#pragma GCC unroll 8
            for (int r = 0; r < R; r++) ap[r] = ind[r];
            w = acc_block(acc, ap, kc, w, R, NZ);
        }
    }
    const float* m = (const float*)w;
    __m512 m0 = _mm512_loadu_ps(m), m1 = _mm512_loadu_ps(m + 16);
    __m512 lo = _mm512_set1_ps(rq->lo), hi = _mm512_set1_ps(rq->hi);
    __m512i zp = _mm512_set1_epi32(rq->zero_point);
    __mmask16 k0 = (__mmask16)(nc >= 16 ? 0xFFFF : (1u << nc) - 1);
    __mmask16 k1 = (__mmask16)(nc >= 32 ? 0xFFFF : nc > 16 ? (1u << (nc - 16)) - 1 : 0);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        if ((size_t)r >= mr) break;
        int8_t* cr = c + (size_t)r * c_stride;
        _mm_mask_storeu_epi8(cr, k0, nrt_s8_requant16(acc[r][0], m0, lo, hi, zp));
        if (NZ > 1) _mm_mask_storeu_epi8(cr + 16, k1, nrt_s8_requant16(acc[r][1], m1, lo, hi, zp));
    }
}

#define WIDTHS(R)                                                                                              \
    NRT_AVX512VNNI static void tile_##R(size_t mr, size_t nc, size_t kc, size_t ks, const int8_t* const* ind, \
                                        const int8_t* a, size_t a_stride, const void* w, int8_t* c,         \
                                        size_t c_stride, const nrt_s8_requant* rq) {                         \
        if (nc > 16) gemm_tile(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq, R, 2);                  \
        else gemm_tile(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq, R, 1);                          \
    }
WIDTHS(8)
WIDTHS(4)
WIDTHS(2)
WIDTHS(1)

NRT_AVX512VNNI static void dispatch_rows(size_t mr, size_t nc, size_t kc, size_t ks, const int8_t* const* ind,
                                         const int8_t* a, size_t a_stride, const void* w, int8_t* c,
                                         size_t c_stride, const nrt_s8_requant* rq) {
    if (mr > 4) tile_8(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
    else if (mr > 2) tile_4(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
    else if (mr > 1) tile_2(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
    else tile_1(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
}

static void qs8_gemm_8x32c4_avx512vnni(size_t mr, size_t nc, size_t kc, const int8_t* a, size_t a_stride,
                                       const void* w, int8_t* c, size_t c_stride, const nrt_s8_requant* rq) {
    dispatch_rows(mr, nc, kc, 1, NULL, a, a_stride, w, c, c_stride, rq);
}

static void qs8_igemm_8x32c4_avx512vnni(size_t mr, size_t nc, size_t kc, size_t ks, const int8_t* const* a,
                                        const void* w, int8_t* c, size_t c_stride, const nrt_s8_requant* rq) {
    dispatch_rows(mr, nc, kc, ks, a, NULL, 0, w, c, c_stride, rq);
}

const nrt_s8_gemm_table nrt_qs8_gemm_8x32c4_avx512vnni = {
    "qs8-qc8w-gemm-8x32c4-minmax-fp32-avx512vnni", NRT_ISA_AVX512, MR, NR, KR, 128,
    qs8_gemm_8x32c4_avx512vnni, qs8_igemm_8x32c4_avx512vnni,
};
