/* qs8-qc8w-spmm-64x1c4-minmax-fp32-avx512vnni: int8 GEMM on weights sparse
 * in 1 x 4 blocks (gemm.h, nrt_gemm_format_qs8_qc8w_spmm), up to 64 rows per
 * call, every column.
 *
 * The dense kernels put columns in the vector lanes; a kept 1 x 4 block
 * belongs to one column, so here the lanes are rows: the call first
 * transposes its rows of A into at[k / 4][64] (4 activations of a row per
 * int32 lane, flipped to u8 as x ^ 0x80, x_offset 128 folded into the bias as
 * in the dense kernels), then each kept block is one broadcast and four
 * vpdpbusd (16 rows each), whatever the column. Each column's 64 sums are
 * requantized in the lanes (requant.h's arithmetic, elementwise: the same
 * bytes as the dense kernels), written to a column-major tile and transposed
 * into C 16 x 16 bytes at a time. With 1-3 rows (a FullyConnected on one
 * input), the lanes are 16 kept blocks of a column instead, their activations
 * gathered from the row. Sums are modulo 2^32 in any order (requant.h). */
#include "qs8_requant_x86.h"

#include "../gemm.h"

#define MR 64
#define COLUMNS 64 /* columns per requantized tile */

/* at[kb * 64 + r] = the 4 activations k = 4 kb .. 4 kb + 3 of row min(r, mr - 1), as u8: 16 rows x 16
 * blocks at a time, loaded (masked: nothing past a row is read) and transposed as 16 x 16 int32. */
NRT_ISA_INLINE(AVX512) void transpose_rows(size_t mr, size_t kcb, const int8_t* a, size_t a_stride, int32_t* at) {
    const __m512i flip = _mm512_set1_epi32((int32_t)0x80808080u);
    for (size_t kb0 = 0; kb0 < kcb; kb0 += 16) {
        size_t count = kcb - kb0 < 16 ? kcb - kb0 : 16;
        __mmask16 load = (__mmask16)(count == 16 ? 0xFFFF : (1u << count) - 1);
        for (size_t g = 0; g < MR; g += 16) {
            __m512i r[16], s[16], u[16];
            for (size_t i = 0; i < 16; i++)
                r[i] = _mm512_maskz_loadu_epi32(load, a + (g + i < mr ? g + i : mr - 1) * a_stride + 4 * kb0);
            for (size_t j = 0; j < 8; j++) {
                s[2 * j] = _mm512_unpacklo_epi32(r[2 * j], r[2 * j + 1]);
                s[2 * j + 1] = _mm512_unpackhi_epi32(r[2 * j], r[2 * j + 1]);
            }
            for (size_t j = 0; j < 4; j++) { /* u[4j + c], 128-bit lane L: rows 4j .. 4j + 3 of block 4L + c */
                u[4 * j] = _mm512_unpacklo_epi64(s[4 * j], s[4 * j + 2]);
                u[4 * j + 1] = _mm512_unpackhi_epi64(s[4 * j], s[4 * j + 2]);
                u[4 * j + 2] = _mm512_unpacklo_epi64(s[4 * j + 1], s[4 * j + 3]);
                u[4 * j + 3] = _mm512_unpackhi_epi64(s[4 * j + 1], s[4 * j + 3]);
            }
            for (size_t c = 0; c < 4; c++) {
                __m512i v0 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x88), w0 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xDD);
                __m512i v1 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x88);
                __m512i w1 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xDD);
                __m512i col[4] = {_mm512_shuffle_i32x4(v0, v1, 0x88), _mm512_shuffle_i32x4(w0, w1, 0x88),
                                  _mm512_shuffle_i32x4(v0, v1, 0xDD), _mm512_shuffle_i32x4(w0, w1, 0xDD)};
                for (size_t L = 0; L < 4; L++)
                    if (4 * L + c < count)
                        _mm512_store_si512(at + (kb0 + 4 * L + c) * MR + g, _mm512_xor_si512(col[L], flip));
            }
        }
    }
}

/* Rows [0, rows) of jc <= 8 columns of the tile (from t[0]) to C: 16 rows x 8 columns at a time, a third of
 * a 16 x 16 transpose's shuffles (a layer's last few columns, or all of them: 24 output channels). */
NRT_ISA_INLINE(AVX512) void store_transposed8(const int8_t (*t)[MR], size_t jc, size_t rows, int8_t* c,
                                             size_t c_stride) {
    __mmask16 keep = (__mmask16)((1u << jc) - 1);
    for (size_t r0 = 0; r0 < rows; r0 += 16) {
        __m128i a[8], s1[8], s2[8];
        for (size_t i = 0; i < 8; i++) a[i] = _mm_loadu_si128((const __m128i*)(t[i] + r0));
        for (size_t i = 0; i < 4; i++) { /* columns 2i, 2i + 1 of rows 0-7, 8-15 */
            s1[2 * i] = _mm_unpacklo_epi8(a[2 * i], a[2 * i + 1]);
            s1[2 * i + 1] = _mm_unpackhi_epi8(a[2 * i], a[2 * i + 1]);
        }
        for (size_t h = 0; h < 2; h++) /* s2[4h + q]: columns 4h .. 4h + 3 of rows 4q .. 4q + 3 */
            for (size_t g = 0; g < 2; g++) {
                s2[4 * h + 2 * g] = _mm_unpacklo_epi16(s1[4 * h + g], s1[4 * h + 2 + g]);
                s2[4 * h + 2 * g + 1] = _mm_unpackhi_epi16(s1[4 * h + g], s1[4 * h + 2 + g]);
            }
        for (size_t q = 0; q < 4; q++) {
            __m128i lo = _mm_unpacklo_epi32(s2[q], s2[4 + q]), hi = _mm_unpackhi_epi32(s2[q], s2[4 + q]);
            __m128i out[4] = {lo, _mm_unpackhi_epi64(lo, lo), hi, _mm_unpackhi_epi64(hi, hi)};
            for (size_t i = 0; i < 4 && r0 + 4 * q + i < rows; i++)
                _mm_mask_storeu_epi8(c + (r0 + 4 * q + i) * c_stride, keep, out[i]);
        }
    }
}

/* Writes rows [0, rows) of the tile t[column][64] (cols columns) to C. */
NRT_ISA_INLINE(AVX512) void store_transposed(const int8_t (*t)[MR], size_t cols, size_t rows, int8_t* c,
                                            size_t c_stride) {
    for (size_t j0 = 0; j0 < cols; j0 += 16) {
        if (cols - j0 <= 8) {
            store_transposed8(t + j0, cols - j0, rows, c + j0, c_stride);
            break;
        }
        for (size_t r0 = 0; r0 < rows; r0 += 16) {
            __m128i a[16], s1[16], s2[16], s3[8];
            for (size_t i = 0; i < 16; i++) a[i] = _mm_loadu_si128((const __m128i*)(t[j0 + i] + r0));
            for (size_t i = 0; i < 8; i++) {
                s1[2 * i] = _mm_unpacklo_epi8(a[2 * i], a[2 * i + 1]);
                s1[2 * i + 1] = _mm_unpackhi_epi8(a[2 * i], a[2 * i + 1]);
            }
            for (size_t g = 0; g < 4; g++) {
                s2[4 * g] = _mm_unpacklo_epi16(s1[4 * g], s1[4 * g + 2]);
                s2[4 * g + 1] = _mm_unpackhi_epi16(s1[4 * g], s1[4 * g + 2]);
                s2[4 * g + 2] = _mm_unpacklo_epi16(s1[4 * g + 1], s1[4 * g + 3]);
                s2[4 * g + 3] = _mm_unpackhi_epi16(s1[4 * g + 1], s1[4 * g + 3]);
            }
            size_t jc = cols - j0 < 16 ? cols - j0 : 16, rc = rows - r0 < 16 ? rows - r0 : 16;
            __mmask16 keep = (__mmask16)(jc == 16 ? 0xFFFF : (1u << jc) - 1);
            for (size_t q = 0; q < 4; q++) {
                s3[0] = _mm_unpacklo_epi32(s2[q], s2[4 + q]);
                s3[1] = _mm_unpackhi_epi32(s2[q], s2[4 + q]);
                s3[2] = _mm_unpacklo_epi32(s2[8 + q], s2[12 + q]);
                s3[3] = _mm_unpackhi_epi32(s2[8 + q], s2[12 + q]);
                __m128i out[4] = {_mm_unpacklo_epi64(s3[0], s3[2]), _mm_unpackhi_epi64(s3[0], s3[2]),
                                  _mm_unpacklo_epi64(s3[1], s3[3]), _mm_unpackhi_epi64(s3[1], s3[3])};
                for (size_t i = 0; i < 4 && 4 * q + i < rc; i++)
                    _mm_mask_storeu_epi8(c + (r0 + 4 * q + i) * c_stride + j0, keep, out[i]);
            }
        }
    }
}

/* The sums of one column over 64 rows, 16 per vector. */
typedef struct column_acc {
    __m512i rows[4];
} column_acc;

NRT_ISA_INLINE(AVX512) void add_block(column_acc* acc, const int32_t* at, uint32_t kb, int32_t values) {
    const int32_t* x = at + (size_t)kb * MR;
    __m512i w = _mm512_set1_epi32(values);
    for (size_t i = 0; i < 4; i++)
        acc->rows[i] = _mm512_dpbusd_epi32(acc->rows[i], _mm512_load_si512(x + 16 * i), w);
}

/* Requantized int32 codes of 16 rows (before the narrowing to int8). */
NRT_ISA_INLINE(AVX512) __m512i requant_codes(__m512i acc, __m512 m, const nrt_qs8_rq16* q, int mode) {
    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), m);
    if (mode == NRT_QS8_CLAMP_FLOAT) v = _mm512_min_ps(_mm512_max_ps(v, q->lo), q->hi);
    return _mm512_add_epi32(_mm512_cvtps_epi32(v), q->zp);
}

/* One column's 64 rows -> tile[64]: saturating packs (int32 -> int16 -> int8, as the direct saturating
 * narrowing) leave per 128-bit lane L rows 4L .. 4L + 3 of the four vectors; one dword permute puts them in
 * order. */
NRT_ISA_INLINE(AVX512) void requant_column(const column_acc* a, float ma, const nrt_qs8_rq16* q, int mode,
                                           int8_t* tile) {
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    __m512 va = _mm512_set1_ps(ma);
    __m512i p0 = _mm512_packs_epi32(requant_codes(a->rows[0], va, q, mode), requant_codes(a->rows[1], va, q, mode));
    __m512i p1 = _mm512_packs_epi32(requant_codes(a->rows[2], va, q, mode), requant_codes(a->rows[3], va, q, mode));
    __m512i bytes = _mm512_permutexvar_epi32(order, _mm512_packs_epi16(p0, p1));
    if (mode == NRT_QS8_CLAMP_INT)
        bytes = _mm512_min_epi8(_mm512_max_epi8(bytes, _mm512_broadcast_i32x4(q->qmin)), _mm512_broadcast_i32x4(q->qmax));
    _mm512_store_si512(tile, bytes);
}

/* Rows as lanes: C[0 .. mr) x every column, two columns at a time (eight independent chains). */
NRT_ISA_TARGET(AVX512) static void spmm_rows(size_t mr, size_t nc, size_t kc, const int8_t* a, size_t a_stride,
                                             const uint8_t* p, int8_t* c, size_t c_stride,
                                             const nrt_qs8_requant* rq) {
    _Alignas(64) int32_t at[NRT_SPMM_MAX_K / 4 * MR];
    _Alignas(64) int8_t tile[COLUMNS][MR];
    const int32_t* bias = (const int32_t*)(const void*)p;
    const float* m = (const float*)(const void*)(p + nc * sizeof(int32_t));
    const uint32_t* blocks = (const uint32_t*)(const void*)(p + nc * (sizeof(int32_t) + sizeof(float)));
    const uint32_t* kb = blocks + nc + 1;
    const int32_t* values = (const int32_t*)(const void*)(kb + blocks[nc]);
    transpose_rows(mr, kc / 4, a, a_stride, at);
    const nrt_qs8_rq16 q = nrt_qs8_rq16_make(rq);
    const int mode = q.mode;
    for (size_t j0 = 0; j0 < nc; j0 += COLUMNS) {
        size_t cols = nc - j0 < COLUMNS ? nc - j0 : COLUMNS;
        for (size_t j = j0; j < j0 + cols; j += 2) {
            size_t j1 = j + 1 < j0 + cols ? j + 1 : j; /* an odd count's last column pairs with itself */
            __m512i bx0 = _mm512_set1_epi32(bias[j]), by0 = _mm512_set1_epi32(bias[j1]);
            column_acc x = {{bx0, bx0, bx0, bx0}}, y = {{by0, by0, by0, by0}};
            uint32_t bx = blocks[j], ex = blocks[j + 1], by = blocks[j1], ey = blocks[j1 + 1];
            for (; bx < ex && by < ey; bx++, by++) {
                add_block(&x, at, kb[bx], values[bx]);
                add_block(&y, at, kb[by], values[by]);
            }
            for (; bx < ex; bx++) add_block(&x, at, kb[bx], values[bx]);
            for (; by < ey; by++) add_block(&y, at, kb[by], values[by]);
            requant_column(&x, m[j], &q, mode, tile[j - j0]);
            if (j1 != j) requant_column(&y, m[j1], &q, mode, tile[j1 - j0]);
        }
        store_transposed((const int8_t (*)[MR])tile, cols, mr, c + j0, c_stride);
    }
}

/* Blocks as lanes, for a few rows: each column's kept blocks 16 at a time,
 * their activations gathered from the row. */
NRT_ISA_TARGET(AVX512) static void spmm_gather(size_t mr, size_t nc, const int8_t* a, size_t a_stride,
                                               const uint8_t* p, int8_t* c, size_t c_stride,
                                               const nrt_qs8_requant* rq) {
    const __m512i flip = _mm512_set1_epi32((int32_t)0x80808080u);
    const int32_t* bias = (const int32_t*)(const void*)p;
    const float* m = (const float*)(const void*)(p + nc * sizeof(int32_t));
    const uint32_t* blocks = (const uint32_t*)(const void*)(p + nc * (sizeof(int32_t) + sizeof(float)));
    const uint32_t* kb = blocks + nc + 1;
    const int32_t* values = (const int32_t*)(const void*)(kb + blocks[nc]);
    for (size_t r = 0; r < mr; r++) {
        const int8_t* row = a + r * a_stride;
        for (size_t j = 0; j < nc; j++) {
            __m512i acc = _mm512_setzero_si512();
            for (uint32_t b = blocks[j]; b < blocks[j + 1]; b += 16) {
                uint32_t left = blocks[j + 1] - b;
                __mmask16 k = (__mmask16)(left >= 16 ? 0xFFFF : (1u << left) - 1);
                __m512i idx = _mm512_maskz_loadu_epi32(k, kb + b);
                __m512i x = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), k, idx, row, 4);
                acc = _mm512_dpbusd_epi32(acc, _mm512_xor_si512(x, flip), _mm512_maskz_loadu_epi32(k, values + b));
            }
            int32_t sum = (int32_t)((uint32_t)bias[j] + (uint32_t)_mm512_reduce_add_epi32(acc));
            c[r * c_stride + j] = nrt_qs8_requant_value((float)sum * m[j], rq);
        }
    }
}

static void qs8_spmm_64x1c4_avx512vnni(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride,
                                       const void* w, void* c, size_t c_stride, const void* params) {
    if (mr < 4) spmm_gather(mr, nc, a, a_stride, w, c, c_stride, params);
    else spmm_rows(mr, nc, kc, a, a_stride, w, c, c_stride, params);
}

const nrt_gemm_table nrt_qs8_qc8w_spmm_64x1c4_minmax_fp32_avx512vnni = {
    .name = "qs8-qc8w-spmm-64x1c4-minmax-fp32-avx512vnni", .isa = NRT_ISA_AVX512, .mr = MR,
    .nr = NRT_GEMM_ONE_PANEL, .kr = 4, .x_offset = 128,
    .format = &nrt_gemm_format_qs8_qc8w_spmm, .gemm = qs8_spmm_64x1c4_avx512vnni,
};
