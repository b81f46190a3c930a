/* What the NEON sparse GEMM kernels (qs8-qc8w-spmm-*-neon*.c) share: the
 * packed weights' fields (gemm.h, nrt_gemm_format_qs8_qc8w_spmm), the
 * transposition of a call's rows of A into row lanes, and the store of a
 * column-major tile of results into C.
 *
 * The lanes are rows (as in the x86 sparse kernels): a kept 1 x 4 block
 * belongs to one column, so its 4 weights multiply 16 rows at once. */
#ifndef NRT_QS8_SPMM_NEON_H
#define NRT_QS8_SPMM_NEON_H

#include <arm_neon.h>
#include <stdint.h>
#include <string.h>

#include "../gemm.h"
#include "qs8_requant_neon.h"

#define NRT_SPMM_NEON_MR 16
#define NRT_SPMM_NEON_COLUMNS 64 /* columns per requantized tile */

typedef struct nrt_spmm_neon_weights {
    const uint8_t* bias;    /* int32 [n] */
    const uint8_t* m;       /* float [n] */
    const uint32_t* blocks; /* [n + 1] */
    const uint32_t* kb;     /* [kept] */
    const int8_t* values;   /* [kept][4] */
} nrt_spmm_neon_weights;

NRT_ALWAYS_INLINE nrt_spmm_neon_weights nrt_spmm_neon_weights_of(const void* w, size_t nc) {
    const uint8_t* p = w;
    const uint32_t* blocks = (const uint32_t*)(const void*)(p + nc * (sizeof(int32_t) + sizeof(float)));
    const uint32_t* kb = blocks + nc + 1;
    nrt_spmm_neon_weights v = {p, p + nc * sizeof(int32_t), blocks, kb, (const int8_t*)(kb + blocks[nc])};
    return v;
}

/* at[kb * 16 + r] = the 4 activations k = 4 kb .. 4 kb + 3 of row min(r, mr - 1), as one int32 lane: 4 rows
 * x 4 blocks at a time, transposed as 4 x 4 int32. A row's last 1-3 blocks are copied first (nothing past
 * the row is read). */
NRT_ALWAYS_INLINE void nrt_spmm_neon_transpose_rows(size_t mr, size_t kcb, const int8_t* a, size_t a_stride,
                                                    int32_t* at) {
    for (size_t kb0 = 0; kb0 < kcb; kb0 += 4) {
        size_t count = kcb - kb0 < 4 ? kcb - kb0 : 4;
        for (size_t g = 0; g < NRT_SPMM_NEON_MR; g += 4) {
            int32x4_t r[4];
            for (size_t i = 0; i < 4; i++) {
                const int8_t* row = a + (g + i < mr ? g + i : mr - 1) * a_stride + 4 * kb0;
                if (count == 4) {
                    r[i] = vreinterpretq_s32_s8(vld1q_s8(row));
                } else {
                    int8_t part[16] = {0};
                    memcpy(part, row, 4 * count);
                    r[i] = vreinterpretq_s32_s8(vld1q_s8(part));
                }
            }
            int64x2_t t0 = vreinterpretq_s64_s32(vtrn1q_s32(r[0], r[1]));
            int64x2_t t1 = vreinterpretq_s64_s32(vtrn2q_s32(r[0], r[1]));
            int64x2_t t2 = vreinterpretq_s64_s32(vtrn1q_s32(r[2], r[3]));
            int64x2_t t3 = vreinterpretq_s64_s32(vtrn2q_s32(r[2], r[3]));
            int32x4_t col[4] = {vreinterpretq_s32_s64(vtrn1q_s64(t0, t2)), vreinterpretq_s32_s64(vtrn1q_s64(t1, t3)),
                                vreinterpretq_s32_s64(vtrn2q_s64(t0, t2)), vreinterpretq_s32_s64(vtrn2q_s64(t1, t3))};
            for (size_t c = 0; c < count; c++) vst1q_s32(at + (kb0 + c) * NRT_SPMM_NEON_MR + g, col[c]);
        }
    }
}

/* Column j's 16 sums -> 16 int8 codes in tile[16]. */
NRT_ALWAYS_INLINE void nrt_spmm_neon_requant16(const int32x4_t acc[4], const nrt_spmm_neon_weights* v, size_t j,
                                               const nrt_qs8_rq_neon* rq, int8_t* tile) {
    float m;
    memcpy(&m, v->m + j * sizeof m, sizeof m);
    float32x4_t mj = vdupq_n_f32(m);
    int8x8_t lo = nrt_qs8_narrow8(nrt_qs8_requant4(acc[0], mj, rq), nrt_qs8_requant4(acc[1], mj, rq));
    int8x8_t hi = nrt_qs8_narrow8(nrt_qs8_requant4(acc[2], mj, rq), nrt_qs8_requant4(acc[3], mj, rq));
    vst1q_s8(tile, vcombine_s8(lo, hi));
}

NRT_ALWAYS_INLINE int32x4_t nrt_spmm_neon_bias(const nrt_spmm_neon_weights* v, size_t j) {
    int32_t b;
    memcpy(&b, v->bias + j * sizeof b, sizeof b);
    return vdupq_n_s32(b);
}

/* Writes rows [0, rows) of the tile t[column][16] (cols columns) to C, 8 columns x 8 rows at a time (byte
 * transposes of 8 x 8: TRN1 / TRN2 on bytes, halfwords, words). */
NRT_ALWAYS_INLINE void nrt_spmm_neon_store_transposed(const int8_t (*t)[NRT_SPMM_NEON_MR], size_t cols, size_t rows,
                                                      int8_t* c, size_t c_stride) {
    for (size_t j0 = 0; j0 < cols; j0 += 8) {
        size_t jc = cols - j0 < 8 ? cols - j0 : 8;
        for (size_t r0 = 0; r0 < rows; r0 += 8) {
            int8x8_t x[8];
            for (size_t i = 0; i < 8; i++) x[i] = vld1_s8(t[j0 + (i < jc ? i : 0)] + r0);
            int8x8_t b[8];
            for (size_t i = 0; i < 8; i += 2) {
                b[i] = vtrn1_s8(x[i], x[i + 1]);
                b[i + 1] = vtrn2_s8(x[i], x[i + 1]);
            }
            int16x4_t h[8];
            for (size_t i = 0; i < 8; i += 4)
                for (size_t d = 0; d < 2; d++) {
                    h[i + d] = vtrn1_s16(vreinterpret_s16_s8(b[i + d]), vreinterpret_s16_s8(b[i + d + 2]));
                    h[i + d + 2] = vtrn2_s16(vreinterpret_s16_s8(b[i + d]), vreinterpret_s16_s8(b[i + d + 2]));
                }
            for (size_t d = 0; d < 4; d++) {
                int32x2_t lo = vreinterpret_s32_s16(h[d]), hi = vreinterpret_s32_s16(h[d + 4]);
                size_t r = r0 + d, r4 = r0 + d + 4; /* h[d] holds output rows d and d + 4 of the group */
                if (r < rows) nrt_st_s8_part8(c + r * c_stride + j0, vreinterpret_s8_s32(vtrn1_s32(lo, hi)), jc);
                if (r4 < rows) nrt_st_s8_part8(c + r4 * c_stride + j0, vreinterpret_s8_s32(vtrn2_s32(lo, hi)), jc);
            }
        }
    }
}

#endif
