/* qd8-f32-qb4w-fc-4x8c8-neondot: the dynamic-quantization FullyConnected on
 * group-wise int4 W (qs8_kernels.h, nrt_qd8_qb4w_fc_table) on the ARMv8.2
 * dot-product extension: up to 4 quantized rows x 8 columns per tile, 8 k per
 * 32-byte load.
 *
 * As qd8-f32-qb4w-fc-4x8c8-neon (4-bit W in memory, unpacked by shifts;
 * signed q and w, each group's sum corrected by z * wsum), with the products
 * summed by SDOT: 4 columns' 4 k against a row's 4 bytes broadcast, two SDOT
 * per half block, exact in int32. Then the reference's float operations.
 *
 * The dot-product instructions are enabled for this file's functions as in
 * qs8-qc8w-gemm-8x8c4-minmax-fp32-neondot.c (no per-file -march). */
#include <stdint.h>

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
#include "qd8_qb4w_neon.h"

#define MR NRT_QB4W_NEON_MR
#define NR NRT_QB4W_NEON_NR

static bool supports(size_t group) { return group % 8 == 0; }

static size_t packed_bytes(size_t N, size_t K, size_t group) { return nrt_qb4w_packed_bytes(NR, N, K, group); }

static void pack(size_t N, size_t K, size_t group, const uint8_t* w, const float* group_scale, void* packed) {
    nrt_qb4w_pack(NR, N, K, group, w, group_scale, packed);
}

/* One half block (4 columns x 8 k: w tile v, row bytes qa at k, qb at k + 4) added to isum. */
NRT_ALWAYS_INLINE int32x4_t half_block(int32x4_t isum, int8x16_t v, int8x16_t qa, int8x16_t qb) {
    return vdotq_s32(vdotq_s32(isum, nrt_qb4w_low(v), qa), nrt_qb4w_high(v), qb);
}

NRT_ALWAYS_INLINE void tile(const nrt_dyn_fc_qb4w* g, const uint8_t* panel, int64_t i, const int R, int64_t col0,
                            int64_t c0, int64_t c1) {
    size_t K = (size_t)g->K, group = (size_t)g->group, groups = nrt_qb4w_groups(K, group);
    const int8_t* qr[MR];
    float32x4_t acc[MR][2];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        qr[r] = g->q + (size_t)(i + r) * K;
        acc[r][0] = acc[r][1] = vdupq_n_f32(0.0f);
    }
    for (size_t gi = 0; gi < groups; gi++) {
        const float* scale = (const float*)(const void*)panel;
        const int32_t* wsum = (const int32_t*)(const void*)(panel + NR * sizeof(float));
        const int8_t* blk = (const int8_t*)(panel + NR * (sizeof(float) + sizeof(int32_t)));
        size_t nb = nrt_qb4w_blocks(K, group, gi), k = gi * group;
        int32x4_t isum[MR][2];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) isum[r][0] = isum[r][1] = vdupq_n_s32(0);
        for (size_t b = 0; b < nb; b++, blk += NR * 4, k += 8) {
            int8x16_t v0 = vld1q_s8(blk), v1 = vld1q_s8(blk + 16);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                int8x16_t qa = nrt_qb4w_row4_dup(qr[r], k, K), qb = nrt_qb4w_row4_dup(qr[r], k + 4, K);
                isum[r][0] = half_block(isum[r][0], v0, qa, qb);
                isum[r][1] = half_block(isum[r][1], v1, qa, qb);
            }
        }
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            for (int h = 0; h < 2; h++)
                acc[r][h] = nrt_qb4w_group_end(acc[r][h], isum[r][h], vld1q_s32(wsum + 4 * h), g->row_zero[i + r],
                                               g->row_scale[i + r], vld1q_f32(scale + 4 * h));
        panel = (const uint8_t*)blk;
    }
    for (int r = 0; r < R; r++) nrt_qb4w_store(g, i + r, col0, c0, c1, acc[r]);
}

static void run(const nrt_dyn_fc_qb4w* g, const void* packed, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    size_t pb = nrt_qb4w_panel_bytes(NR, (size_t)g->K, (size_t)g->group);
    for (int64_t i = m0; i < m1; i += MR) {
        int rows = m1 - i < MR ? (int)(m1 - i) : MR;
        for (int64_t p = n0 / NR; p * NR < n1; p++) {
            int64_t col0 = p * NR, c0 = n0 > col0 ? n0 - col0 : 0, c1 = n1 - col0 < NR ? n1 - col0 : NR;
            const uint8_t* panel = (const uint8_t*)packed + (size_t)p * pb;
            switch (rows) { /* constant row counts: one row (a decode step) does one row's work */
            case 1: tile(g, panel, i, 1, col0, c0, c1); break;
            case 2: tile(g, panel, i, 2, col0, c0, c1); break;
            case 3: tile(g, panel, i, 3, col0, c0, c1); break;
            default: tile(g, panel, i, MR, col0, c0, c1); break;
            }
        }
    }
}

const nrt_qd8_qb4w_fc_table nrt_qd8_f32_qb4w_fc_4x8c8_neondot = {
    .name = "qd8-f32-qb4w-fc-4x8c8-neondot", .isa = NRT_ISA_DOTPROD, .supports = supports,
    .packed_bytes = packed_bytes, .pack = pack, .run = run,
};

#ifdef NRT_CLANG_DOTPROD_REGION
#pragma clang attribute pop
#endif
