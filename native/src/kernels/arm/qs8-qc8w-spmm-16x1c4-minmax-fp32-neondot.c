/* qs8-qc8w-spmm-16x1c4-minmax-fp32-neondot: int8 GEMM on weights sparse in
 * 1 x 4 blocks (gemm.h, nrt_gemm_format_qs8_qc8w_spmm) on the ARMv8.2
 * dot-product extension, up to 16 rows per call, every column, x_offset 0
 * (SDOT multiplies signed x signed: exact int32 sums, wrapping like the
 * reference's accumulator).
 *
 * Rows as lanes (qs8_spmm_neon.h): each int32 lane of the transposed A holds
 * 4 activations of one row, so a kept block is its 4 weights broadcast and 4
 * SDOTs (16 rows); the even and the odd blocks of a column go to separate
 * accumulators (two chains). Requantized in the lanes, transposed into C.
 *
 * The dot-product instructions are enabled for this file's functions as in
 * qs8-qc8w-gemm-8x8c4-minmax-fp32-neondot.c; dispatch.c picks this table only
 * on CPUs whose HWCAP reports ASIMDDP. */
#include <stdint.h>
#include <string.h>

#include "../qs8_kernels.h"

#if defined(__clang__) && !defined(__ARM_FEATURE_DOTPROD)
#define __ARM_FEATURE_DOTPROD 1
#pragma clang attribute push(__attribute__((target(NRT_ISA_TARGET_DOTPROD))), apply_to = function)
#define NRT_CLANG_DOTPROD_REGION
#elif !defined(__ARM_FEATURE_DOTPROD) && defined(__GNUC__)
#define NRT_PRAGMA(text) _Pragma(#text)
#define NRT_TARGET_PRAGMA(level_target) NRT_PRAGMA(GCC target(level_target))
NRT_TARGET_PRAGMA(NRT_ISA_TARGET_DOTPROD)
#endif
#include <arm_neon.h>

#include "qs8_spmm_neon.h"

#define MR NRT_SPMM_NEON_MR
#define COLUMNS NRT_SPMM_NEON_COLUMNS

static inline int8x16_t block_weights(const nrt_spmm_neon_weights* v, uint32_t b) {
    uint32_t bits;
    memcpy(&bits, v->values + 4 * (size_t)b, sizeof bits);
    return vreinterpretq_s8_u32(vdupq_n_u32(bits));
}

static inline void sdot_block(int32x4_t acc[4], const int32_t* x, int8x16_t w) {
    for (int i = 0; i < 4; i++) acc[i] = vdotq_s32(acc[i], vreinterpretq_s8_s32(vld1q_s32(x + 4 * i)), w);
}

static void qs8_spmm_16x1c4_neondot(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride, const void* w,
                                    void* c, size_t c_stride, const void* params) {
    int32_t at[NRT_SPMM_MAX_K / 4 * MR];
    int8_t tile[COLUMNS][MR];
    const nrt_spmm_neon_weights v = nrt_spmm_neon_weights_of(w, nc);
    const nrt_qs8_rq_neon rq = nrt_qs8_rq_neon_make(params);
    nrt_spmm_neon_transpose_rows(mr, kc / 4, a, a_stride, at);
    for (size_t j0 = 0; j0 < nc; j0 += COLUMNS) {
        size_t cols = nc - j0 < COLUMNS ? nc - j0 : COLUMNS;
        for (size_t j = j0; j < j0 + cols; j++) {
            int32x4_t even[4], odd[4];
            for (int i = 0; i < 4; i++) even[i] = nrt_spmm_neon_bias(&v, j), odd[i] = vdupq_n_s32(0);
            uint32_t b = v.blocks[j], end = v.blocks[j + 1];
            for (; b + 2 <= end; b += 2) {
                sdot_block(even, at + (size_t)v.kb[b] * MR, block_weights(&v, b));
                sdot_block(odd, at + (size_t)v.kb[b + 1] * MR, block_weights(&v, b + 1));
            }
            if (b < end) sdot_block(even, at + (size_t)v.kb[b] * MR, block_weights(&v, b));
            for (int i = 0; i < 4; i++) even[i] = vaddq_s32(even[i], odd[i]);
            nrt_spmm_neon_requant16(even, &v, j, &rq, tile[j - j0]);
        }
        nrt_spmm_neon_store_transposed((const int8_t (*)[MR])tile, cols, mr, (int8_t*)c + j0, c_stride);
    }
}

const nrt_gemm_table nrt_qs8_qc8w_spmm_16x1c4_minmax_fp32_neondot = {
    .name = "qs8-qc8w-spmm-16x1c4-minmax-fp32-neondot", .isa = NRT_ISA_DOTPROD, .mr = MR, .nr = NRT_GEMM_ONE_PANEL,
    .kr = 4, .x_offset = 0, .format = &nrt_gemm_format_qs8_qc8w_spmm, .gemm = qs8_spmm_16x1c4_neondot,
};

#ifdef NRT_CLANG_DOTPROD_REGION
#pragma clang attribute pop
#endif
