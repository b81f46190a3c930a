/* qs8-qc8w-gemm-8x8-minmax-fp32-neon-mlal-lane (and the igemm of the same
 * shape): int8 GEMM for AArch64 NEON without the dot-product extension, up to
 * 8 rows x 8 columns per call. Panel layout of qs8_kernels.h with kr = 1
 * (per k, the 8 columns' weights are 8 consecutive bytes) and x_offset 0:
 * activations are multiplied as signed bytes.
 *
 * Exact arithmetic: weights and activations are sign-extended to int16
 * (SXTL) and multiplied-accumulated into int32 by element (SMLAL / SMLAL2
 * by lane): every product is exact and the int32 adds wrap like the
 * reference's accumulator. (Accumulating two int8 products in int16 first,
 * as some kernels do, overflows for -128 x -128 + -128 x -128.)
 *
 * Register plan (32 vector registers): 16 int32x4 accumulators (8 rows x 8
 * columns), 8 int16x8 registers holding 8 consecutive k of each row (one
 * 8-byte load + SXTL per row per 8 k), 2 for a widened weight row. Each
 * weight row serves 8 rows; K % 8 leftovers run one k at a time (SMLAL by
 * scalar). The requantization (qs8_requant_neon.h) runs on the registers. */
#include <arm_neon.h>

#include "../qs8_kernels.h"
#include "qs8_requant_neon.h"

#define MR 8
#define NR 8

typedef struct tile_acc {
    int32x4_t v[MR][2];
} tile_acc;

/* acc[r] += a[r][k + L] * w[k + L][0..8) for the 8 k of the current step (wv: widened row L). */
#define MLAL_LANE(WV, L)                                                                                 \
    do {                                                                                                 \
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) {                                            \
            t->v[r][0] = vmlal_laneq_s16(t->v[r][0], vget_low_s16(WV), av[r], L);                        \
            t->v[r][1] = vmlal_high_laneq_s16(t->v[r][1], WV, av[r], L);                                 \
        }                                                                                                \
    } while (0)

/* Two weight rows (16 bytes) of the step: rows L and L + 1. */
#define MLAL_PAIR(L)                                                                                     \
    do {                                                                                                 \
        int8x16_t wb = vld1q_s8(w + (L) * NR);                                                           \
        int16x8_t w0 = vmovl_s8(vget_low_s8(wb)), w1 = vmovl_high_s8(wb);                                \
        MLAL_LANE(w0, L);                                                                                \
        MLAL_LANE(w1, (L) + 1);                                                                          \
    } while (0)

/* acc += A[:, 0:kc] . W[0:kc, :]; returns w past the block (NR bytes per k). */
NRT_ALWAYS_INLINE const int8_t* acc_block(tile_acc* t, const int8_t* const* ap, size_t kc, const int8_t* w,
                                           const int R) {
    size_t k = 0;
    for (; k + 8 <= kc; k += 8, w += 8 * NR) {
        int16x8_t av[MR];
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) av[r] = vmovl_s8(vld1_s8(ap[r] + k));
        MLAL_PAIR(0);
        MLAL_PAIR(2);
        MLAL_PAIR(4);
        MLAL_PAIR(6);
    }
    for (; k < kc; k++, w += NR) {
        int16x8_t wv = vmovl_s8(vld1_s8(w));
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            int16_t a = ap[r][k];
            t->v[r][0] = vmlal_n_s16(t->v[r][0], vget_low_s16(wv), a);
            t->v[r][1] = vmlal_high_n_s16(t->v[r][1], wv, a);
        }
    }
    return w;
}

NRT_ALWAYS_INLINE void gemm_tile(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind,
                                  const int8_t* a, size_t a_stride, const void* packed, int8_t* c, size_t c_stride,
                                  const nrt_qs8_requant* rq, const int R) {
    const int8_t* w = packed;
    tile_acc t;
    int32x4_t b0 = nrt_ld_s32_bytes(w), b1 = nrt_ld_s32_bytes(w + 16);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        t.v[r][0] = b0;
        t.v[r][1] = b1;
    }
    w += NR * sizeof(int32_t);
    const int8_t* ap[MR];
    if (!ind) {
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) ap[r] = a + ((size_t)r < mr ? (size_t)r : mr - 1) * a_stride;
        w = acc_block(&t, ap, kc, w, R);
    } else {
        for (size_t p = 0; p < ks; p++, ind += MR) {
#pragma GCC unroll 8
            for (int r = 0; r < R; r++) ap[r] = (const int8_t*)ind[r];
            w = acc_block(&t, ap, kc, w, R);
        }
    }
    float32x4_t m0 = nrt_ld_f32_bytes(w), m1 = nrt_ld_f32_bytes(w + 16);
    nrt_qs8_rq_neon q = nrt_qs8_rq_neon_make(rq);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        if ((size_t)r >= mr) break;
        int8x8_t y = nrt_qs8_narrow8(nrt_qs8_requant4(t.v[r][0], m0, &q), nrt_qs8_requant4(t.v[r][1], m1, &q));
        nrt_st_s8_part8(c + (size_t)r * c_stride, y, nc);
    }
}

#define ROWS(R)                                                                                            \
    static void tile_##R(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind, const int8_t* a, \
                         size_t a_stride, const void* w, int8_t* c, size_t c_stride, const nrt_qs8_requant* rq) { \
        gemm_tile(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq, R);                               \
    }
ROWS(8)
ROWS(4)
ROWS(2)
ROWS(1)

static void dispatch_rows(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind, const int8_t* a,
                          size_t a_stride, const void* w, int8_t* c, size_t c_stride, const nrt_qs8_requant* rq) {
    if (mr > 4) tile_8(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
    else if (mr > 2) tile_4(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
    else if (mr > 1) tile_2(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
    else tile_1(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
}

static void qs8_gemm_8x8_neon(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride, const void* w, void* c,
                              size_t c_stride, const void* params) {
    dispatch_rows(mr, nc, kc, 1, NULL, a, a_stride, w, c, c_stride, params);
}

static void qs8_igemm_8x8_neon(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* a, const void* w, void* c,
                               size_t c_stride, const void* params) {
    dispatch_rows(mr, nc, kc, ks, a, NULL, 0, w, c, c_stride, params);
}

const nrt_gemm_table nrt_qs8_qc8w_gemm_8x8_minmax_fp32_neon_mlal_lane = {
    .name = "qs8-qc8w-gemm-8x8-minmax-fp32-neon-mlal-lane", .isa = NRT_ISA_NEON, .mr = MR, .nr = NR, .kr = 1,
        .x_offset = 0,
    .format = &nrt_gemm_format_qs8_qc8w, .gemm = qs8_gemm_8x8_neon, .igemm = qs8_igemm_8x8_neon,
};
