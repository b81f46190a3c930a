/* qd8-f32-qb4w-fc-4x8c8-neon: the dynamic-quantization FullyConnected on
 * group-wise int4 W (qs8_kernels.h, nrt_qd8_qb4w_fc_table) on plain NEON: up
 * to 4 quantized rows x 8 columns per tile, 8 k per 32-byte load.
 *
 * W stays 4-bit in memory (kernels/qb4w_pack.h), unpacked by shifts
 * (qd8_qb4w_neon.h). q and w are both signed, so each group's sum is
 * sum q w - z * wsum, exact in int32: SMULL + SMLAL give a column's products
 * of k and k + 4 in int16 (at most 2 * 128 * 8), SADALP adds pairs of them to
 * int32 lanes (two per column), and one ADDP per 4 columns at the group's
 * end leaves one sum per column. Then the reference's float operations. */
#include "qd8_qb4w_neon.h"

#define MR NRT_QB4W_NEON_MR
#define NR NRT_QB4W_NEON_NR

static bool supports(size_t group) { return group % 8 == 0; }

static size_t packed_bytes(size_t N, size_t K, size_t group) { return nrt_qb4w_packed_bytes(NR, N, K, group); }

static void pack(size_t N, size_t K, size_t group, const uint8_t* w, const float* group_scale, void* packed) {
    nrt_qb4w_pack(NR, N, K, group, w, group_scale, packed);
}

/* The products of one half block (4 columns x 8 k: w tile v, row bytes qa at k, qb at k + 4) into
 * pairs[0] (columns 0, 1) and pairs[1] (columns 2, 3). */
NRT_ALWAYS_INLINE void half_block(int32x4_t pairs[2], int8x16_t v, int8x16_t qa, int8x16_t qb) {
    int8x16_t lo = nrt_qb4w_low(v), hi = nrt_qb4w_high(v);
    int16x8_t p0 = vmlal_s8(vmull_s8(vget_low_s8(lo), vget_low_s8(qa)), vget_low_s8(hi), vget_low_s8(qb));
    int16x8_t p1 = vmlal_high_s8(vmull_high_s8(lo, qa), hi, qb);
    pairs[0] = vpadalq_s16(pairs[0], p0);
    pairs[1] = vpadalq_s16(pairs[1], p1);
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
        int32x4_t pairs[MR][4];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) pairs[r][0] = pairs[r][1] = pairs[r][2] = pairs[r][3] = vdupq_n_s32(0);
        for (size_t b = 0; b < nb; b++, blk += NR * 4, k += 8) {
            int8x16_t v0 = vld1q_s8(blk), v1 = vld1q_s8(blk + 16);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                int8x16_t qa = nrt_qb4w_row4_dup(qr[r], k, K), qb = nrt_qb4w_row4_dup(qr[r], k + 4, K);
                half_block(&pairs[r][0], v0, qa, qb);
                half_block(&pairs[r][2], v1, qa, qb);
            }
        }
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            for (int h = 0; h < 2; h++) {
                int32x4_t isum = vpaddq_s32(pairs[r][2 * h], pairs[r][2 * h + 1]);
                acc[r][h] = nrt_qb4w_group_end(acc[r][h], isum, vld1q_s32(wsum + 4 * h), g->row_zero[i + r],
                                               g->row_scale[i + r], vld1q_f32(scale + 4 * h));
            }
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

const nrt_qd8_qb4w_fc_table nrt_qd8_f32_qb4w_fc_4x8c8_neon = {
    .name = "qd8-f32-qb4w-fc-4x8c8-neon", .isa = NRT_ISA_NEON, .supports = supports,
    .packed_bytes = packed_bytes, .pack = pack, .run = run,
};
