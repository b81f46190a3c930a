/* qs8-qc8w-spmm-32x1c4-minmax-fp32-avx2: int8 GEMM on weights sparse in
 * 1 x 4 blocks (gemm.h, nrt_gemm_format_qs8_qc8w_spmm), up to 32 rows per
 * call, every column, x_offset 0 (signed products).
 *
 * As in the AVX-512 kernel the lanes are rows: a kept 1 x 4 block belongs to
 * one column, so its 4 weights are broadcast and multiplied into 16 rows at
 * once. AVX2 has no exact u8 x s8 dot product (vpmaddubsw saturates its int16
 * pair sums), so, like the dense AVX2 kernel, both sides are sign-extended to
 * int16 and multiplied with vpmaddwd (two products per int32 lane, at most
 * 2 * 128 * 128: never saturates). The call first transposes its rows of A
 * into at[k / 4][2][32] int32 lanes: [0] holds (x[4kb], x[4kb + 2]) of each
 * row as two int16, [1] (x[4kb + 1], x[4kb + 3]) (the even and odd bytes,
 * which two shifts sign-extend in place); a block's weights are split the
 * same way, so a block is 2 vpmaddwd per 8 rows. 32 rows a call rather
 * than 16 spread a block's fixed work (its index, the broadcast and the two
 * shifts splitting its weights) over 8 vpmaddwd: 20-25 % faster on 1x1
 * convs at 75-90 % sparsity (bench/sparse_results.md). Each column's 32
 * sums are requantized in the lanes (requant.h's arithmetic, elementwise),
 * written to a column-major tile and transposed into C 16 x 16 bytes at a
 * time. Sums wrap modulo 2^32 in any order (requant.h). */
#include "qs8_requant_x86.h"

#include "../gemm.h"

#define MR 32
#define COLUMNS 64 /* columns per requantized tile */

/* The even bytes of each int16 (bytes 0, 2 of an int32 lane) sign-extended to int16, and the odd ones. */
NRT_ISA_INLINE(AVX2) __m256i even_bytes(__m256i v) { return _mm256_srai_epi16(_mm256_slli_epi16(v, 8), 8); }
NRT_ISA_INLINE(AVX2) __m256i odd_bytes(__m256i v) { return _mm256_srai_epi16(v, 8); }

/* at[(kb * 2 + half) * 16 + r]: row min(r, mr - 1)'s block kb split as above; 8 rows x 8 blocks at a time
 * (masked loads: nothing past a row is read), transposed as 8 x 8 int32. */
NRT_ISA_INLINE(AVX2) void transpose_rows(size_t mr, size_t kcb, const int8_t* a, size_t a_stride, int32_t* at) {
    for (size_t kb0 = 0; kb0 < kcb; kb0 += 8) {
        size_t count = kcb - kb0 < 8 ? kcb - kb0 : 8;
        __m256i load = _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        for (size_t g = 0; g < MR; g += 8) {
            __m256i r[8], s[8], u[8];
            for (size_t i = 0; i < 8; i++)
                r[i] = _mm256_maskload_epi32((const int*)(const void*)(a + (g + i < mr ? g + i : mr - 1) * a_stride +
                                                                     4 * kb0),
                                             load);
            for (size_t j = 0; j < 4; j++) {
                s[2 * j] = _mm256_unpacklo_epi32(r[2 * j], r[2 * j + 1]);
                s[2 * j + 1] = _mm256_unpackhi_epi32(r[2 * j], r[2 * j + 1]);
            }
            for (size_t j = 0; j < 2; j++) { /* u[4j + c], 128-bit half L: rows 4j .. 4j + 3 of block 4L + c */
                u[4 * j] = _mm256_unpacklo_epi64(s[4 * j], s[4 * j + 2]);
                u[4 * j + 1] = _mm256_unpackhi_epi64(s[4 * j], s[4 * j + 2]);
                u[4 * j + 2] = _mm256_unpacklo_epi64(s[4 * j + 1], s[4 * j + 3]);
                u[4 * j + 3] = _mm256_unpackhi_epi64(s[4 * j + 1], s[4 * j + 3]);
            }
            for (size_t c = 0; c < 4; c++) {
                __m256i col[2] = {_mm256_permute2x128_si256(u[c], u[4 + c], 0x20),
                                  _mm256_permute2x128_si256(u[c], u[4 + c], 0x31)};
                for (size_t L = 0; L < 2; L++)
                    if (4 * L + c < count) {
                        int32_t* dst = at + (kb0 + 4 * L + c) * 2 * MR + g;
                        _mm256_store_si256((__m256i*)dst, even_bytes(col[L]));
                        _mm256_store_si256((__m256i*)(dst + MR), odd_bytes(col[L]));
                    }
            }
        }
    }
}

/* Stores the first n <= 16 bytes of v. */
NRT_ISA_INLINE(AVX2) void store_part16(int8_t* y, __m128i v, size_t n) {
    if (n == 16) {
        _mm_storeu_si128((__m128i*)y, v);
        return;
    }
    if (n >= 8) {
        _mm_storel_epi64((__m128i*)y, v);
        y += 8, n -= 8;
        v = _mm_unpackhi_epi64(v, v);
    }
    nrt_qs8_store_low(y, v, n);
}

/* Writes rows [r0, r0 + 16) ∩ [0, rows) of the tile t[column][32] (cols columns) to C. */
NRT_ISA_INLINE(AVX2) void store_transposed16(const int8_t (*t)[MR], size_t r0, size_t cols, size_t rows, int8_t* c,
                                            size_t c_stride) {
    for (size_t j0 = 0; j0 < cols; j0 += 16) {
        __m128i a[16], s1[16], s2[16], s3[4];
        for (size_t i = 0; i < 16; i++) a[i] = _mm_load_si128((const __m128i*)(t[j0 + i] + r0));
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
        size_t jc = cols - j0 < 16 ? cols - j0 : 16;
        for (size_t q = 0; q < 4; q++) {
            s3[0] = _mm_unpacklo_epi32(s2[q], s2[4 + q]);
            s3[1] = _mm_unpackhi_epi32(s2[q], s2[4 + q]);
            s3[2] = _mm_unpacklo_epi32(s2[8 + q], s2[12 + q]);
            s3[3] = _mm_unpackhi_epi32(s2[8 + q], s2[12 + q]);
            __m128i out[4] = {_mm_unpacklo_epi64(s3[0], s3[2]), _mm_unpackhi_epi64(s3[0], s3[2]),
                              _mm_unpacklo_epi64(s3[1], s3[3]), _mm_unpackhi_epi64(s3[1], s3[3])};
            for (size_t i = 0; i < 4 && r0 + 4 * q + i < rows; i++)
                store_part16(c + (r0 + 4 * q + i) * c_stride + j0, out[i], jc);
        }
    }
}

NRT_ISA_TARGET(AVX2) static void qs8_spmm_32x1c4_avx2(size_t mr, size_t nc, size_t kc, const void* a,
                                                      size_t a_stride, const void* w, void* c, size_t c_stride,
                                                      const void* params) {
    _Alignas(32) int32_t at[NRT_SPMM_MAX_K / 4 * 2 * MR];
    _Alignas(16) int8_t tile[COLUMNS][MR]; /* (a partial group of 16 columns is read whole, stored in part) */
    const nrt_qs8_requant* rq = params;
    const uint8_t* p = w;
    const int32_t* bias = (const int32_t*)(const void*)p;
    const float* m = (const float*)(const void*)(p + nc * sizeof(int32_t));
    const uint32_t* blocks = (const uint32_t*)(const void*)(p + nc * (sizeof(int32_t) + sizeof(float)));
    const uint32_t* kb = blocks + nc + 1;
    const int32_t* values = (const int32_t*)(const void*)(kb + blocks[nc]);
    transpose_rows(mr, kc / 4, a, a_stride, at);
    const __m256 lo = _mm256_set1_ps(rq->lo), hi = _mm256_set1_ps(rq->hi);
    const __m256i zp = _mm256_set1_epi32(rq->zero_point);
    for (size_t j0 = 0; j0 < nc; j0 += COLUMNS) {
        size_t cols = nc - j0 < COLUMNS ? nc - j0 : COLUMNS;
        for (size_t j = j0; j < j0 + cols; j++) {
            /* the even and the odd products of each quarter of the rows: eight independent chains */
            __m256i even[4], odd[4];
            for (size_t i = 0; i < 4; i++) even[i] = _mm256_set1_epi32(bias[j]), odd[i] = _mm256_setzero_si256();
            for (uint32_t b = blocks[j]; b < blocks[j + 1]; b++) {
                const int32_t* x = at + (size_t)kb[b] * 2 * MR;
                __m256i v = _mm256_set1_epi32(values[b]), we = even_bytes(v), wo = odd_bytes(v);
                for (size_t i = 0; i < 4; i++) {
                    __m256i xe = _mm256_load_si256((const __m256i*)(x + 8 * i));
                    __m256i xo = _mm256_load_si256((const __m256i*)(x + MR + 8 * i));
                    even[i] = _mm256_add_epi32(even[i], _mm256_madd_epi16(xe, we));
                    odd[i] = _mm256_add_epi32(odd[i], _mm256_madd_epi16(xo, wo));
                }
            }
            __m256 mj = _mm256_set1_ps(m[j]);
            for (size_t h = 0; h < 2; h++) {
                __m128i q0 = nrt_qs8_requant8(_mm256_add_epi32(even[2 * h], odd[2 * h]), mj, lo, hi, zp);
                __m128i q1 = nrt_qs8_requant8(_mm256_add_epi32(even[2 * h + 1], odd[2 * h + 1]), mj, lo, hi, zp);
                _mm_store_si128((__m128i*)(tile[j - j0] + 16 * h), _mm_unpacklo_epi64(q0, q1));
            }
        }
        for (size_t r0 = 0; r0 < mr; r0 += 16)
            store_transposed16((const int8_t (*)[MR])tile, r0, cols, mr, (int8_t*)c + j0, c_stride);
    }
}

const nrt_gemm_table nrt_qs8_qc8w_spmm_32x1c4_minmax_fp32_avx2 = {
    .name = "qs8-qc8w-spmm-32x1c4-minmax-fp32-avx2", .isa = NRT_ISA_AVX2, .mr = MR, .nr = NRT_GEMM_ONE_PANEL,
    .kr = 4, .x_offset = 0, .format = &nrt_gemm_format_qs8_qc8w_spmm, .gemm = qs8_spmm_32x1c4_avx2,
};
