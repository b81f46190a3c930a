/* qs8-qc8w-gemm-12x32c4-minmax-fp32-avx512vnni and the igemm of the same
 * shape: up to 12 rows x 32 columns per call (24 zmm accumulators of the 32:
 * each weight vector loaded serves 12 rows), K in blocks of 4 (c4 panels,
 * qs8_kernels.h).
 *
 * vpdpbusd multiplies unsigned bytes by signed bytes, summing 4 products
 * into each int32 lane: every 4 activations of a row are broadcast to the 16
 * lanes and flipped to u8 (x ^ 0x80 = x + 128); the packed bias holds
 * -128 * sum(w) per column (x_offset = 128), so the accumulator is exactly
 * requant.h's modulo 2^32 (vpdpbusd adds without saturation; each lane's
 * four products stay far inside int32).
 *
 * One template (gemm_tile) instantiated per row count (12, 8, 4, 2, 1) and width
 * (32 = two zmm, 24 = zmm + ymm, 16 = zmm, 8 = ymm, for narrow panels); a K remainder
 * of 1-3 is read byte-exactly (never past the row) against zero-padded
 * weights, whose products with the flipped 0x80 bytes vanish. */
#include "qs8_requant_x86.h"

#define MR 12
#define NR 32
#define KR 4

/* Accumulators: NZ (0-2) zmm of 16 columns, then NY (0/1) ymm of 8: a panel
 * of 24 columns costs 1.5 vector-widths instead of 2 (Zen 4 splits zmm
 * operations into two 256-bit halves, so the ymm is half the price). */
typedef struct tile_acc {
    __m512i z[MR][2];
    __m256i y[MR];
} tile_acc;

/* acc[r] += (u8 of 4 activations of row r) . (the 4 weights of each
 * column), for kc values of each row pointer; returns the weights after them. */
NRT_ISA_INLINE(AVX512) void acc_step(tile_acc* t, const int8_t* const* ap, size_t k, size_t rem, const int8_t* w,
                                    const int R, const int NZ, const int NY) {
    const __m512i flip = _mm512_set1_epi32((int32_t)0x80808080u);
    __m512i w0 = _mm512_setzero_si512(), w1 = _mm512_setzero_si512();
    __m256i wy = _mm256_setzero_si256();
    if (NZ > 0) w0 = _mm512_loadu_si512(w);
    if (NZ > 1) w1 = _mm512_loadu_si512(w + 64);
    if (NY) wy = _mm256_loadu_si256((const __m256i*)(w + 64 * NZ));
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
        int32_t a4 = rem >= KR ? nrt_qs8_load4(ap[r] + k) : nrt_qs8_load_partial(ap[r] + k, rem);
        __m512i av = _mm512_xor_si512(_mm512_set1_epi32(a4), flip);
        if (NZ > 0) t->z[r][0] = _mm512_dpbusd_epi32(t->z[r][0], av, w0);
        if (NZ > 1) t->z[r][1] = _mm512_dpbusd_epi32(t->z[r][1], av, w1);
        if (NY) t->y[r] = _mm256_dpbusd_epi32(t->y[r], _mm512_castsi512_si256(av), wy);
    }
}

NRT_ISA_INLINE(AVX512) const int8_t* acc_block(tile_acc* t, const int8_t* const* ap, size_t kc, const int8_t* w,
                                              const int R, const int NZ, const int NY) {
    size_t k = 0;
    for (; k + KR <= kc; k += KR, w += NR * KR) acc_step(t, ap, k, KR, w, R, NZ, NY);
    if (k < kc) { /* 1-3 values left: read byte-exactly, against zero weights */
        acc_step(t, ap, k, kc - k, w, R, NZ, NY);
        w += NR * KR;
    }
    return w;
}

NRT_ISA_INLINE(AVX512) void gemm_tile(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind,
                                     const int8_t* a, size_t a_stride, const void* packed, int8_t* c,
                                     size_t c_stride, const nrt_qs8_requant* rq, const int R, const int NZ,
                                     const int NY) {
    tile_acc t;
    const int32_t* bias = packed;
    __m512i b0 = _mm512_setzero_si512(), b1 = _mm512_setzero_si512();
    __m256i by = _mm256_setzero_si256();
    if (NZ > 0) b0 = _mm512_loadu_si512(bias);
    if (NZ > 1) b1 = _mm512_loadu_si512(bias + 16);
    if (NY) by = _mm256_loadu_si256((const __m256i*)(bias + 16 * NZ));
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
        t.z[r][0] = b0;
        t.z[r][1] = b1;
        t.y[r] = by;
    }
    const int8_t* w = (const int8_t*)(bias + NR);
    const int8_t* ap[MR];
    if (!ind) {
#pragma GCC unroll 12
        for (int r = 0; r < R; r++) ap[r] = a + ((size_t)r < mr ? (size_t)r : mr - 1) * a_stride;
        w = acc_block(&t, ap, kc, w, R, NZ, NY);
    } else {
        for (size_t p = 0; p < ks; p++, ind += MR) {
#pragma GCC unroll 12
            for (int r = 0; r < R; r++) ap[r] = (const int8_t*)ind[r];
            w = acc_block(&t, ap, kc, w, R, NZ, NY);
        }
    }
    const float* m = (const float*)w;
    __m512 m0 = _mm512_loadu_ps(m), m1 = _mm512_loadu_ps(m + 16);
    __m256 my = NY ? _mm256_loadu_ps(m + 16 * NZ) : _mm256_setzero_ps(); /* (never past the panel) */
    const nrt_qs8_rq16 q = nrt_qs8_rq16_make(rq);
    const int mode = q.mode;
    size_t ny0 = 16 * (size_t)NZ;
    __mmask16 k0 = (__mmask16)(nc >= 16 ? 0xFFFF : (1u << nc) - 1);
    __mmask16 k1 = (__mmask16)(nc >= 32 ? 0xFFFF : nc > 16 ? (1u << (nc - 16)) - 1 : 0);
    __mmask16 ky = (__mmask16)(nc >= ny0 + 8 ? 0xFF : nc > ny0 ? (1u << (nc - ny0)) - 1 : 0);
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
        if ((size_t)r >= mr) break;
        int8_t* cr = c + (size_t)r * c_stride;
        if (NZ > 0) _mm_mask_storeu_epi8(cr, k0, nrt_qs8_requant16_q(t.z[r][0], m0, &q, mode));
        if (NZ > 1) _mm_mask_storeu_epi8(cr + 16, k1, nrt_qs8_requant16_q(t.z[r][1], m1, &q, mode));
        if (NY) {
            __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(t.y[r]), my);
            v = _mm256_min_ps(_mm256_max_ps(v, _mm512_castps512_ps256(q.lo)), _mm512_castps512_ps256(q.hi));
            __m256i qy = _mm256_add_epi32(_mm256_cvtps_epi32(v), _mm512_castsi512_si256(q.zp));
            _mm_mask_storeu_epi8(cr + ny0, ky, _mm256_cvtepi32_epi8(qy));
        }
    }
}

#define WIDTHS(R)                                                                                              \
    NRT_ISA_TARGET(AVX512) static void tile_##R(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind, \
                                        const int8_t* a, size_t a_stride, const void* w, int8_t* c,         \
                                        size_t c_stride, const nrt_qs8_requant* rq) {                         \
        if (nc > 24) gemm_tile(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq, R, 2, 0);               \
        else if (nc > 16) gemm_tile(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq, R, 1, 1);          \
        else if (nc > 8) gemm_tile(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq, R, 1, 0);           \
        else gemm_tile(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq, R, 0, 1);                       \
    }
WIDTHS(12)
WIDTHS(8)
WIDTHS(4)
WIDTHS(2)
WIDTHS(1)

NRT_ISA_TARGET(AVX512) static void dispatch_rows(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind,
                                         const int8_t* a, size_t a_stride, const void* w, int8_t* c,
                                         size_t c_stride, const nrt_qs8_requant* rq) {
    if (mr > 8) tile_12(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
    else if (mr > 4) tile_8(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
    else if (mr > 2) tile_4(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
    else if (mr > 1) tile_2(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
    else tile_1(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
}

static void qs8_gemm_12x32c4_avx512vnni(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride,
                                        const void* w, void* c,
                                        size_t c_stride, const void* params) {
    dispatch_rows(mr, nc, kc, 1, NULL, a, a_stride, w, c, c_stride, params);
}

static void qs8_igemm_12x32c4_avx512vnni(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* a,
                                         const void* w, void* c,
                                         size_t c_stride, const void* params) {
    dispatch_rows(mr, nc, kc, ks, a, NULL, 0, w, c, c_stride, params);
}

const nrt_gemm_table nrt_qs8_qc8w_gemm_12x32c4_minmax_fp32_avx512vnni = {
    .name = "qs8-qc8w-gemm-12x32c4-minmax-fp32-avx512vnni", .isa = NRT_ISA_AVX512, .mr = MR, .nr = NR, .kr = KR,
        .x_offset = 128,
    .format = &nrt_gemm_format_qs8_qc8w, .gemm = qs8_gemm_12x32c4_avx512vnni, .igemm = qs8_igemm_12x32c4_avx512vnni,
};
