/* qs8-qc8w-gemm-8x8c4-minmax-fp32-neondot (and the igemm of the same shape):
 * int8 GEMM on the ARMv8.2 dot-product extension (SDOT), up to 8 rows x 8
 * columns per call. Panel layout of qs8_kernels.h with kr = 4 ("c4": per
 * column, 4 consecutive k) and x_offset 0: SDOT multiplies signed x signed,
 * so no +128 shift and no bias correction, and the int32 sums are exact
 * (wrapping like the reference's accumulator).
 *
 * Register plan: 16 int32x4 accumulators (8 rows x 2 groups of 4 columns),
 * 8 registers holding 16 consecutive k of each row (one 16-byte load per row
 * per 16 k), 2 for a block of weights (4 k x 8 columns = 32 bytes). SDOT by
 * element (vdotq_laneq_s32) multiplies 4 columns' 4 k by lane b of a row:
 * 16 SDOTs = 512 multiply-adds per 16 k-block step, no widening. K % 16
 * leftovers go 4 k at a time (the 4 bytes broadcast), the last 1..3 with
 * zeros above (no byte past the row is read; the packed weights are zero
 * there).
 *
 * This file enables the dot-product instructions for its own functions
 * (below: a GCC target pragma, or a clang target-attribute region), unless
 * the whole build already targets them; every build (CMake, the Python
 * extension) compiles it with the common flags, and no per-file -march can
 * clash with a -mcpu the user chose. The dispatch (dispatch.c) only picks
 * this table on CPUs whose HWCAP reports ASIMDDP, so the library still runs
 * on a Cortex-A53. */
#include <stdint.h>
#include <string.h>

#include "../qs8_kernels.h"

#if defined(__clang__) && !defined(__ARM_FEATURE_DOTPROD)
/* clang before 16 declares arm_neon.h's dot-product intrinsics only when the
 * whole file is compiled for them: declare them here, and compile every
 * function from here to the end of the file for the level's target. */
#define __ARM_FEATURE_DOTPROD 1
#pragma clang attribute push(__attribute__((target(NRT_ISA_TARGET_DOTPROD))), apply_to = function)
#define NRT_CLANG_DOTPROD_REGION
#elif !defined(__ARM_FEATURE_DOTPROD) && defined(__GNUC__)
#define NRT_PRAGMA(text) _Pragma(#text)
#define NRT_TARGET_PRAGMA(level_target) NRT_PRAGMA(GCC target(level_target))
NRT_TARGET_PRAGMA(NRT_ISA_TARGET_DOTPROD)
#endif
#include <arm_neon.h>

#include "qs8_requant_neon.h"

#define SDOT_LANE(ACC, W, A, L) ((ACC) = vdotq_laneq_s32((ACC), (W), (A), L))
#define SDOT(ACC, W, A) ((ACC) = vdotq_s32((ACC), (W), (A)))

#define MR 8
#define NR 8

typedef struct tile_acc {
    int32x4_t v[MR][2];
} tile_acc;

/* k-block b (4 k) of the 16-k step: w points at its 8 columns x 4 k. */
#define SDOT_BLOCK(B)                                                                                    \
    do {                                                                                                 \
        int8x16_t w0 = vld1q_s8(w + (B) * 4 * NR), w1 = vld1q_s8(w + (B) * 4 * NR + 16);                 \
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) {                                            \
            SDOT_LANE(t->v[r][0], w0, av[r], B);                                                         \
            SDOT_LANE(t->v[r][1], w1, av[r], B);                                                         \
        }                                                                                                \
    } while (0)

/* 4 bytes at p (n = 4) or the first n < 4 with zeros above, in every 32-bit lane. */
NRT_ALWAYS_INLINE int8x16_t dup4(const int8_t* p, size_t n) {
    uint32_t v;
    if (n == 4) memcpy(&v, p, 4);
    else v = (uint32_t)vget_lane_u64(vreinterpret_u64_s8(nrt_ld_s8_part8(p, n)), 0);
    return vreinterpretq_s8_u32(vdupq_n_u32(v));
}

/* acc += A[:, 0:kc] . W[0:kc, :]; returns w past the block (ceil(kc / 4) x 4 x NR bytes). */
NRT_ALWAYS_INLINE const int8_t* acc_block(tile_acc* t, const int8_t* const* ap, size_t kc,
                                                       const int8_t* w, const int R) {
    size_t k = 0;
    for (; k + 16 <= kc; k += 16, w += 16 * NR) {
        int8x16_t av[MR];
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) av[r] = vld1q_s8(ap[r] + k);
        SDOT_BLOCK(0);
        SDOT_BLOCK(1);
        SDOT_BLOCK(2);
        SDOT_BLOCK(3);
    }
    for (; k < kc; k += 4, w += 4 * NR) {
        size_t n = kc - k < 4 ? kc - k : 4;
        int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            int8x16_t a = dup4(ap[r] + k, n);
            SDOT(t->v[r][0], w0, a);
            SDOT(t->v[r][1], w1, a);
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
    static void tile_##R(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind,     \
                                     const int8_t* a, size_t a_stride, const void* w, int8_t* c,              \
                                     size_t c_stride, const nrt_qs8_requant* rq) {                             \
        gemm_tile(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq, R);                                   \
    }
ROWS(8)
ROWS(4)
ROWS(2)
ROWS(1)

static void dispatch_rows(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind,
                                      const int8_t* a, size_t a_stride, const void* w, int8_t* c, size_t c_stride,
                                      const nrt_qs8_requant* rq) {
    if (mr > 4) tile_8(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
    else if (mr > 2) tile_4(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
    else if (mr > 1) tile_2(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
    else tile_1(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
}

static void qs8_gemm_8x8c4_neondot(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride, const void* w,
                                   void* c,
                                   size_t c_stride, const void* params) {
    dispatch_rows(mr, nc, kc, 1, NULL, a, a_stride, w, c, c_stride, params);
}

static void qs8_igemm_8x8c4_neondot(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* a, const void* w,
                                    void* c,
                                    size_t c_stride, const void* params) {
    dispatch_rows(mr, nc, kc, ks, a, NULL, 0, w, c, c_stride, params);
}

const nrt_gemm_table nrt_qs8_qc8w_gemm_8x8c4_minmax_fp32_neondot = {
    .name = "qs8-qc8w-gemm-8x8c4-minmax-fp32-neondot", .isa = NRT_ISA_DOTPROD, .mr = MR, .nr = NR, .kr = 4,
        .x_offset = 0,
    .format = &nrt_gemm_format_qs8_qc8w, .gemm = qs8_gemm_8x8c4_neondot, .igemm = qs8_igemm_8x8c4_neondot,
};

#ifdef NRT_CLANG_DOTPROD_REGION
#pragma clang attribute pop
#endif
