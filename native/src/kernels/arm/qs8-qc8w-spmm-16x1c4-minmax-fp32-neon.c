/* qs8-qc8w-spmm-16x1c4-minmax-fp32-neon: int8 GEMM on weights sparse in
 * 1 x 4 blocks (gemm.h, nrt_gemm_format_qs8_qc8w_spmm) for AArch64 NEON
 * without the dot-product extension, up to 16 rows per call, every column,
 * x_offset 0.
 *
 * Rows as lanes (qs8_spmm_neon.h). A kept block's 16 rows x 4 activations
 * (64 bytes of the transposed A) are loaded de-interleaved by k (LD4), so
 * k-th bytes of the 16 rows share a register; they are sign-extended to int16
 * (SXTL) and multiplied-accumulated into int32 by the block's k-th weight
 * (SMLAL / SMLAL2 by lane): every product is exact and the adds wrap like
 * the reference's. Requantized in the lanes, transposed into C. */
#include <arm_neon.h>
#include <string.h>

#include "../qs8_kernels.h"
#include "qs8_spmm_neon.h"

#define MR NRT_SPMM_NEON_MR
#define COLUMNS NRT_SPMM_NEON_COLUMNS

/* acc[rows 4i .. 4i + 3] += x[k] * w[k] for the block's 4 k (w: its weights widened to int16). */
#define MLAL_K(K)                                                                          \
    do {                                                                                   \
        int16x8_t lo = vmovl_s8(vget_low_s8(x.val[K])), hi = vmovl_high_s8(x.val[K]);      \
        acc[0] = vmlal_lane_s16(acc[0], vget_low_s16(lo), w, K);                           \
        acc[1] = vmlal_high_lane_s16(acc[1], lo, w, K);                                    \
        acc[2] = vmlal_lane_s16(acc[2], vget_low_s16(hi), w, K);                           \
        acc[3] = vmlal_high_lane_s16(acc[3], hi, w, K);                                    \
    } while (0)

static inline void mlal_block(int32x4_t acc[4], const int32_t* at, const int8_t* values) {
    uint32_t bits;
    memcpy(&bits, values, sizeof bits);
    int16x4_t w = vget_low_s16(vmovl_s8(vreinterpret_s8_u32(vdup_n_u32(bits))));
    int8x16x4_t x = vld4q_s8((const int8_t*)(const void*)at);
    MLAL_K(0);
    MLAL_K(1);
    MLAL_K(2);
    MLAL_K(3);
}

static void qs8_spmm_16x1c4_neon(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride, const void* w,
                                 void* c, size_t c_stride, const void* params) {
    int32_t at[NRT_SPMM_MAX_K / 4 * MR];
    int8_t tile[COLUMNS][MR];
    const nrt_spmm_neon_weights v = nrt_spmm_neon_weights_of(w, nc);
    const nrt_qs8_rq_neon rq = nrt_qs8_rq_neon_make(params);
    nrt_spmm_neon_transpose_rows(mr, kc / 4, a, a_stride, at);
    for (size_t j0 = 0; j0 < nc; j0 += COLUMNS) {
        size_t cols = nc - j0 < COLUMNS ? nc - j0 : COLUMNS;
        for (size_t j = j0; j < j0 + cols; j++) {
            int32x4_t acc[4];
            for (int i = 0; i < 4; i++) acc[i] = nrt_spmm_neon_bias(&v, j);
            for (uint32_t b = v.blocks[j]; b < v.blocks[j + 1]; b++)
                mlal_block(acc, at + (size_t)v.kb[b] * MR, v.values + 4 * (size_t)b);
            nrt_spmm_neon_requant16(acc, &v, j, &rq, tile[j - j0]);
        }
        nrt_spmm_neon_store_transposed((const int8_t (*)[MR])tile, cols, mr, (int8_t*)c + j0, c_stride);
    }
}

const nrt_gemm_table nrt_qs8_qc8w_spmm_16x1c4_minmax_fp32_neon = {
    .name = "qs8-qc8w-spmm-16x1c4-minmax-fp32-neon", .isa = NRT_ISA_NEON, .mr = MR, .nr = NRT_GEMM_ONE_PANEL,
    .kr = 4, .x_offset = 0, .format = &nrt_gemm_format_qs8_qc8w_spmm, .gemm = qs8_spmm_16x1c4_neon,
};
