/* qs8-matmul-4x8k2-minmax-fp32-neon: MatMul of two int8 activations (used by
 * the dotprod level too), up to 4 rows x 8 columns per call, B packed at run
 * time as int16 pairs with its zero point removed (qs8_kernels.h).
 *
 * Exact arithmetic: 8 k of a row are widened with their zero point removed
 * (SSUBL: a - za in int16), a pair (a[k] - za, a[k+1] - za) is broadcast to
 * every 32-bit lane (DUP by element), and SMLAL / SMLAL2 multiply it with 4
 * columns' pairs into int32 lanes holding (column, even k) and (column, odd
 * k) sums; one ADDP at the end adds each column's two lanes. Every product
 * is exact (|x| <= 255^2) and the int32 adds wrap, so the sum modulo 2^32 is
 * the reference's. 16 accumulators (4 rows x 4), 4 registers of widened A,
 * 2 of B. A K remainder goes one pair at a time; an odd last k pairs with 0
 * (the packed B is 0 there) and no byte past a row's K is read. */
#include <arm_neon.h>

#include "../qs8_kernels.h"
#include "qs8_requant_neon.h"

#define MR 4
#define NR 8

typedef struct mm_acc {
    int32x4_t v[MR][4];
} mm_acc;

/* acc[r] += pair (lane Q of the widened row) x the 8 columns' pair b0 (columns 0-3), b1 (4-7). */
#define MM_PAIR(Q)                                                                                       \
    do {                                                                                                 \
        int16x8_t b0 = vld1q_s16(b + (Q) * 2 * NR), b1 = vld1q_s16(b + (Q) * 2 * NR + 8);                \
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {                                            \
            int16x8_t p = vreinterpretq_s16_s32(vdupq_laneq_s32(vreinterpretq_s32_s16(av[r]), Q));       \
            t.v[r][0] = vmlal_s16(t.v[r][0], vget_low_s16(b0), vget_low_s16(p));                         \
            t.v[r][1] = vmlal_high_s16(t.v[r][1], b0, p);                                                \
            t.v[r][2] = vmlal_s16(t.v[r][2], vget_low_s16(b1), vget_low_s16(p));                         \
            t.v[r][3] = vmlal_high_s16(t.v[r][3], b1, p);                                                \
        }                                                                                                \
    } while (0)

/* (a[k] - za, a[k + 1] - za) as one int32 (the second 0 past K). */
NRT_ALWAYS_INLINE int32_t pair_at(const int8_t* a, size_t k, size_t K, int32_t za) {
    int32_t lo = a[k] - za, hi = k + 1 < K ? a[k + 1] - za : 0;
    return (int32_t)((uint32_t)(uint16_t)(int16_t)lo | (uint32_t)(uint16_t)(int16_t)hi << 16);
}

NRT_ALWAYS_INLINE void matmul_tile(size_t mr, size_t nc, size_t K, const int8_t* a, size_t a_stride, int32_t za,
                                    const int16_t* b, int8_t* c, size_t c_stride, float m,
                                    const nrt_qs8_requant* rq, const int R) {
    mm_acc t;
    const int8_t* ap[MR];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        for (int i = 0; i < 4; i++) t.v[r][i] = vdupq_n_s32(0);
        ap[r] = a + ((size_t)r < mr ? (size_t)r : mr - 1) * a_stride;
    }
    int8x8_t zv = vdup_n_s8((int8_t)za);
    size_t k = 0;
    for (; k + 8 <= K; k += 8, b += 8 * NR) {
        int16x8_t av[MR];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) av[r] = vsubl_s8(vld1_s8(ap[r] + k), zv);
        MM_PAIR(0);
        MM_PAIR(1);
        MM_PAIR(2);
        MM_PAIR(3);
    }
    for (; k < K; k += 2, b += 2 * NR) {
        int16x8_t b0 = vld1q_s16(b), b1 = vld1q_s16(b + 8);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            int16x8_t p = vreinterpretq_s16_s32(vdupq_n_s32(pair_at(ap[r], k, K, za)));
            t.v[r][0] = vmlal_s16(t.v[r][0], vget_low_s16(b0), vget_low_s16(p));
            t.v[r][1] = vmlal_high_s16(t.v[r][1], b0, p);
            t.v[r][2] = vmlal_s16(t.v[r][2], vget_low_s16(b1), vget_low_s16(p));
            t.v[r][3] = vmlal_high_s16(t.v[r][3], b1, p);
        }
    }
    nrt_qs8_rq_neon q = nrt_qs8_rq_neon_make(rq);
    float32x4_t mv = vdupq_n_f32(m);
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        if ((size_t)r >= mr) break;
        int32x4_t lo = vpaddq_s32(t.v[r][0], t.v[r][1]), hi = vpaddq_s32(t.v[r][2], t.v[r][3]);
        int8x8_t y = nrt_qs8_narrow8(nrt_qs8_requant4(lo, mv, &q), nrt_qs8_requant4(hi, mv, &q));
        nrt_st_s8_part8(c + (size_t)r * c_stride, y, nc);
    }
}

static void qs8_matmul_4x8k2_neon(size_t mr, size_t nc, size_t K, const void* a, size_t a_stride, const void* b,
                                  void* c,
                                  size_t c_stride, const void* params) {
    const nrt_qs8_matmul_params* p = params;
    if (mr > 2) matmul_tile(mr, nc, K, a, a_stride, p->za, b, c, c_stride, p->m, &p->rq, 4);
    else if (mr > 1) matmul_tile(mr, nc, K, a, a_stride, p->za, b, c, c_stride, p->m, &p->rq, 2);
    else matmul_tile(mr, nc, K, a, a_stride, p->za, b, c, c_stride, p->m, &p->rq, 1);
}

const nrt_gemm_table nrt_qs8_matmul_4x8k2_minmax_fp32_neon = {
    .name = "qs8-matmul-4x8k2-minmax-fp32-neon", .isa = NRT_ISA_NEON, .mr = MR, .nr = NR, .kr = 2,
    .format = &nrt_gemm_format_qs8_matmul, .gemm = qs8_matmul_4x8k2_neon,
};
