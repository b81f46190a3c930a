/* qs8-qc8w-spmm-64x1c4-minmax-fp32-avx512vnni: int8 GEMM on weights sparse
 * in 1 x 4 blocks (gemm.h, nrt_gemm_format_qs8_qc8w_spmm), up to 64 rows per
 * call, every column.
 *
 * The dense kernels put columns in the vector lanes; a kept 1 x 4 block
 * belongs to one column, so here the lanes are rows: the call first
 * transposes its rows of A into at[k / 4][64] (4 activations of a row per
 * int32 lane, flipped to u8 as x ^ 0x80, x_offset 128 folded into the bias as
 * in the dense kernels), then each kept block is one broadcast and four
 * vpdpbusd (16 rows each), whatever the column. Columns are summed in pairs
 * (eight independent chains) and requantized in the lanes (requant.h's
 * arithmetic, elementwise: the same bytes as the dense kernels); the codes of
 * 4 columns are narrowed together so that one int32 lane holds a row's 4
 * bytes, and 16 rows of 32 columns go to C as a 16 x 8 int32 transpose. Both
 * transposes are most of the fixed work per row, which decides the speedup
 * on layers with few output channels (bench/sparse_results.md). With 1-3
 * rows (a FullyConnected on one input), the lanes are 16 kept blocks of a
 * column instead, their activations gathered from the row. Sums are modulo
 * 2^32 in any order (requant.h). */
#include "qs8_requant_x86.h"

#include "../gemm.h"

#define MR 64
#define COLUMNS 32 /* columns per requantized tile */

/* at[kb * 64 + r] = the 4 activations k = 4 kb .. 4 kb + 3 of row min(r, mr - 1), as u8. 16 rows x 4 blocks
 * at a time: rows q, q + 4, q + 8, q + 12 into the 128-bit lanes of one vector, then a 4 x 4 int32 transpose
 * within the lanes. 20 shuffles per 64 values, no lanes wasted on any K (a 16 x 16 transpose of whole
 * 64-byte rows needs 16 per 64 but half-empty vectors past the last multiple of 16 blocks: K = 96 transposed
 * 25 % faster this way); the last blocks of a row are loaded masked, nothing past a row is read. */
/* The 4 vectors as the 128-bit lanes 0-3 of one. */
NRT_ISA_INLINE(AVX512) __m512i join_lanes(const __m128i* lane) {
    __m512i v = _mm512_castsi128_si512(lane[0]);
    v = _mm512_inserti32x4(v, lane[1], 1);
    v = _mm512_inserti32x4(v, lane[2], 2);
    return _mm512_inserti32x4(v, lane[3], 3);
}

NRT_ISA_INLINE(AVX512) void transpose_rows(size_t mr, size_t kcb, const int8_t* a, size_t a_stride, int32_t* at) {
    const __m512i flip = _mm512_set1_epi32((int32_t)0x80808080u);
    for (size_t g = 0; g < MR; g += 16) {
        const int8_t* row[16];
        for (size_t i = 0; i < 16; i++) row[i] = a + (g + i < mr ? g + i : mr - 1) * a_stride;
        for (size_t kb0 = 0; kb0 < kcb; kb0 += 4) {
            size_t count = kcb - kb0 < 4 ? kcb - kb0 : 4;
            __m512i r[4];
            if (count == 4) {
                for (size_t q = 0; q < 4; q++) {
                    __m128i lane[4];
                    for (size_t L = 0; L < 4; L++)
                        lane[L] = _mm_loadu_si128((const __m128i*)(row[q + 4 * L] + 4 * kb0));
                    r[q] = join_lanes(lane);
                }
            } else {
                __mmask8 load = (__mmask8)((1u << count) - 1);
                for (size_t q = 0; q < 4; q++) {
                    __m128i lane[4];
                    for (size_t L = 0; L < 4; L++) lane[L] = _mm_maskz_loadu_epi32(load, row[q + 4 * L] + 4 * kb0);
                    r[q] = join_lanes(lane);
                }
            }
            __m512i s0 = _mm512_unpacklo_epi32(r[0], r[1]), s1 = _mm512_unpackhi_epi32(r[0], r[1]);
            __m512i s2 = _mm512_unpacklo_epi32(r[2], r[3]), s3 = _mm512_unpackhi_epi32(r[2], r[3]);
            __m512i t[4] = {_mm512_unpacklo_epi64(s0, s2), _mm512_unpackhi_epi64(s0, s2),
                            _mm512_unpacklo_epi64(s1, s3), _mm512_unpackhi_epi64(s1, s3)};
            for (size_t b = 0; b < count; b++)
                _mm512_store_si512(at + (kb0 + b) * MR + g, _mm512_xor_si512(t[b], flip));
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

/* Requantized codes of 16 rows, before the zero point (added after the first narrowing, see below). */
NRT_ISA_INLINE(AVX512) __m512i requant_codes(__m512i acc, __m512 m, const nrt_qs8_rq16* q, int mode) {
    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), m);
    if (mode == NRT_QS8_CLAMP_FLOAT) v = _mm512_min_ps(_mm512_max_ps(v, q->lo), q->hi);
    return _mm512_cvtps_epi32(v);
}

/* Columns j and j + 1 (or j alone, as both, at the end) over the 64 rows -> int16 codes plus the zero
 * point (pairs[i]: rows 16 i .. 16 i + 15; per 128-bit lane 4 rows of column j, then of j + 1). The zero
 * point is added to the int16 codes with saturation: after the int8 narrowing and the [qmin, qmax] clamp
 * the same bytes as adding it to the int32 codes (with the float clamp nothing saturates; with the integer
 * one a code saturated to int16 stays beyond int8 after adding an int8 zero point). */
NRT_ISA_INLINE(AVX512) void sum_requant_pair(const int32_t* at, const uint8_t* p, size_t nc, size_t j,
                                             const nrt_qs8_rq16* q, int mode, __m512i zp16, __m512i* pairs) {
    const int32_t* bias = (const int32_t*)(const void*)p;
    const float* m = (const float*)(const void*)(p + nc * sizeof(int32_t));
    const uint32_t* blocks = (const uint32_t*)(const void*)(p + nc * (sizeof(int32_t) + sizeof(float)));
    const uint32_t* kb = blocks + nc + 1;
    const int32_t* values = (const int32_t*)(const void*)(kb + blocks[nc]);
    size_t j1 = j + 1 < nc ? j + 1 : j;
    __m512i bx0 = _mm512_set1_epi32(bias[j]), by0 = _mm512_set1_epi32(bias[j1]);
    column_acc x = {{bx0, bx0, bx0, bx0}}, y = {{by0, by0, by0, by0}};
    uint32_t bx = blocks[j], ex = blocks[j + 1], by = blocks[j1], ey = blocks[j1 + 1];
    for (; bx < ex && by < ey; bx++, by++) {
        add_block(&x, at, kb[bx], values[bx]);
        add_block(&y, at, kb[by], values[by]);
    }
    for (; bx < ex; bx++) add_block(&x, at, kb[bx], values[bx]);
    for (; by < ey; by++) add_block(&y, at, kb[by], values[by]);
    __m512 mx = _mm512_set1_ps(m[j]), my = _mm512_set1_ps(m[j1]);
    for (size_t i = 0; i < 4; i++)
        pairs[i] = _mm512_adds_epi16(_mm512_packs_epi32(requant_codes(x.rows[i], mx, q, mode),
                                                        requant_codes(y.rows[i], my, q, mode)), zp16);
}

/* Two pairs of columns -> quad[i] (rows 16 i .. 16 i + 15) with the 4 codes of a row in one int32 lane, rows in
 * order: the int8 narrowing leaves in each 128-bit lane 4 rows of column 0, then of columns 1, 2, 3; one byte
 * shuffle puts a row's 4 columns together. */
NRT_ISA_INLINE(AVX512) void join_quad(const __m512i* p01, const __m512i* p23, const nrt_qs8_rq16* q, int mode,
                                      __m512i* quad) {
    const __m512i rows_together =
        _mm512_broadcast_i32x4(_mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
    const __m512i qmin = _mm512_broadcast_i32x4(q->qmin), qmax = _mm512_broadcast_i32x4(q->qmax);
    for (size_t i = 0; i < 4; i++) {
        __m512i bytes = _mm512_packs_epi16(p01[i], p23[i]);
        if (mode == NRT_QS8_CLAMP_INT) bytes = _mm512_min_epi8(_mm512_max_epi8(bytes, qmin), qmax);
        quad[i] = _mm512_shuffle_epi8(bytes, rows_together);
    }
}

/* 16 rows of up to 32 columns to C: x[g] holds columns 4g .. 4g + 3 of row r in int32 lane r (8 quads;
 * bytes past `cols` are not stored). Two rounds of unpacks leave per 128-bit lane L row 4L + q's 16 codes of
 * columns 0-15 (y[q]) and of 16-31 (y[4 + q]); a qword permute joins them: rows q and 4 + q, then 8 + q and
 * 12 + q, 32 codes each. */
NRT_ISA_INLINE(AVX512) void store_rows16(const __m512i* x, size_t cols, size_t rows, int8_t* c, size_t c_stride) {
    const __m512i first = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
    const __m512i second = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
    __m512i s[8], y[8];
    for (size_t h = 0; h < 2; h++) {
        const __m512i* xh = x + 4 * h;
        s[4 * h] = _mm512_unpacklo_epi32(xh[0], xh[1]);
        s[4 * h + 1] = _mm512_unpackhi_epi32(xh[0], xh[1]);
        s[4 * h + 2] = _mm512_unpacklo_epi32(xh[2], xh[3]);
        s[4 * h + 3] = _mm512_unpackhi_epi32(xh[2], xh[3]);
        y[4 * h] = _mm512_unpacklo_epi64(s[4 * h], s[4 * h + 2]);
        y[4 * h + 1] = _mm512_unpackhi_epi64(s[4 * h], s[4 * h + 2]);
        y[4 * h + 2] = _mm512_unpacklo_epi64(s[4 * h + 1], s[4 * h + 3]);
        y[4 * h + 3] = _mm512_unpackhi_epi64(s[4 * h + 1], s[4 * h + 3]);
    }
    __mmask32 keep = cols >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << cols) - 1);
    for (size_t q = 0; q < 4; q++) {
        __m512i lo = _mm512_permutex2var_epi64(y[q], first, y[4 + q]);
        __m512i hi = _mm512_permutex2var_epi64(y[q], second, y[4 + q]);
        __m256i out[4] = {_mm512_castsi512_si256(lo), _mm512_extracti64x4_epi64(lo, 1), _mm512_castsi512_si256(hi),
                          _mm512_extracti64x4_epi64(hi, 1)};
        for (size_t L = 0; L < 4; L++)
            if (4 * L + q < rows) _mm256_mask_storeu_epi8(c + (4 * L + q) * c_stride, keep, out[L]);
    }
}

/* Rows as lanes: C[0 .. mr) x every column, 32 columns at a time, each 4 as two pairs of columns (eight
 * independent chains). */
NRT_ISA_TARGET(AVX512) static void spmm_rows(size_t mr, size_t nc, size_t kc, const int8_t* a, size_t a_stride,
                                             const uint8_t* p, int8_t* c, size_t c_stride,
                                             const nrt_qs8_requant* rq) {
    _Alignas(64) int32_t at[NRT_SPMM_MAX_K / 4 * MR];
    __m512i quads[8][4];
    transpose_rows(mr, kc / 4, a, a_stride, at);
    const nrt_qs8_rq16 q = nrt_qs8_rq16_make(rq);
    const int mode = q.mode;
    const __m512i zp16 = _mm512_set1_epi16((int16_t)rq->zero_point);
    for (size_t j0 = 0; j0 < nc; j0 += COLUMNS) {
        size_t cols = nc - j0 < COLUMNS ? nc - j0 : COLUMNS, groups = (cols + 3) / 4;
        for (size_t g = 0; g < groups; g++) {
            size_t j = j0 + 4 * g;
            __m512i p01[4], p23[4];
            sum_requant_pair(at, p, nc, j, &q, mode, zp16, p01);
            if (j + 2 < nc) sum_requant_pair(at, p, nc, j + 2, &q, mode, zp16, p23);
            else for (size_t i = 0; i < 4; i++) p23[i] = p01[i]; /* 1 or 2 columns in the last group */
            join_quad(p01, p23, &q, mode, quads[g]);
        }
        for (size_t g = groups; g < 8; g++)
            for (size_t i = 0; i < 4; i++) quads[g][i] = _mm512_setzero_si512();
        for (size_t i = 0; i < 4 && 16 * i < mr; i++) {
            __m512i x[8];
            for (size_t g = 0; g < 8; g++) x[g] = quads[g][i];
            store_rows16(x, cols, mr - 16 * i < 16 ? mr - 16 * i : 16, c + 16 * i * c_stride + j0, c_stride);
        }
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
