/* qs8-qc8w-gemm-8x8c8-minmax-fp32-neoni8mm (and the igemm of the same
 * shape): int8 GEMM on the ARMv8.6 int8 matrix multiply (SMMLA), up to 8
 * rows x 8 columns per call. Panel layout of gemm.h (nrt_gemm_format_qs8_qc8w)
 * with kr = 8 ("c8": per column, 8 consecutive k) and x_offset 0: SMMLA
 * multiplies signed x signed, and its int32 sums wrap like the reference's
 * accumulator.
 *
 * SMMLA takes a 2 x 8 block of A (two rows' 8 k) and a 2 x 8 block of W (two
 * columns' 8 k, 16 consecutive bytes of a c8 panel) and adds their 2 x 2
 * product to one int32x4: [r0 c0, r0 c1, r1 c0, r1 c1]. Register plan: 16
 * accumulators (4 row pairs x 4 column pairs), 4 A vectors (two rows' 8 k
 * each) and 4 W vectors per 8-k step: 16 SMMLAs = 1024 multiply-adds. A K
 * remainder of 1..7 loads only the bytes that exist (zeros above; the packed
 * weights are zero there). The epilogue regroups the 2 x 2 blocks into rows
 * (zip of 64-bit halves) and requantizes as the other NEON kernels.
 *
 * The file enables the level's instructions for its own functions (isa.h's
 * target string: a GCC target pragma or a clang target-attribute region),
 * and dispatch.c picks the table only on CPUs whose HWCAP2 reports I8MM. */
#include <stdint.h>
#include <string.h>

#include "../qs8_kernels.h"

#if defined(__clang__) && !defined(__ARM_FEATURE_MATMUL_INT8)
/* clang before 16 declares arm_neon.h's matrix-multiply intrinsics only
 * when the whole file is compiled for them: declare them here, and compile
 * every function from here to the end of the file for the level's target. */
#define __ARM_FEATURE_MATMUL_INT8 1
#pragma clang attribute push(__attribute__((target(NRT_ISA_TARGET_I8MM))), apply_to = function)
#define NRT_CLANG_I8MM_REGION
#elif !defined(__ARM_FEATURE_MATMUL_INT8) && defined(__GNUC__)
#define NRT_PRAGMA(text) _Pragma(#text)
#define NRT_TARGET_PRAGMA(level_target) NRT_PRAGMA(GCC target(level_target))
NRT_TARGET_PRAGMA(NRT_ISA_TARGET_I8MM)
#endif
#include <arm_neon.h>

#include "qs8_requant_neon.h"

#define MR 8
#define NR 8
#define KR 8

typedef struct tile_acc {
    int32x4_t v[MR / 2][NR / 2]; /* [row pair][column pair] */
} tile_acc;

/* Rows 2p and 2p + 1's 8 k from k on (n < 8: the first n, zeros above). */
NRT_ALWAYS_INLINE int8x16_t row_pair(const int8_t* const* ap, int p, size_t k, size_t n) {
    if (n == KR) return vcombine_s8(vld1_s8(ap[2 * p] + k), vld1_s8(ap[2 * p + 1] + k));
    return vcombine_s8(nrt_ld_s8_part8(ap[2 * p] + k, n), nrt_ld_s8_part8(ap[2 * p + 1] + k, n));
}

/* acc += A[:, 0:kc] . W[0:kc, :] over P row pairs; returns w past the block. */
NRT_ALWAYS_INLINE const int8_t* acc_block(tile_acc* t, const int8_t* const* ap, size_t kc, const int8_t* w,
                                          const int P) {
    for (size_t k = 0; k < kc; k += KR, w += KR * NR) {
        size_t n = kc - k < KR ? kc - k : KR;
        int8x16_t b0 = vld1q_s8(w), b1 = vld1q_s8(w + 16), b2 = vld1q_s8(w + 32), b3 = vld1q_s8(w + 48);
#pragma GCC unroll 4
        for (int p = 0; p < P; p++) {
            int8x16_t a = row_pair(ap, p, k, n);
            t->v[p][0] = vmmlaq_s32(t->v[p][0], a, b0);
            t->v[p][1] = vmmlaq_s32(t->v[p][1], a, b1);
            t->v[p][2] = vmmlaq_s32(t->v[p][2], a, b2);
            t->v[p][3] = vmmlaq_s32(t->v[p][3], a, b3);
        }
    }
    return w;
}

/* Columns 2c and 2c + 1 of the bias, for both rows of a pair. */
NRT_ALWAYS_INLINE int32x4_t bias_pair(int32x4_t b, int high) {
    int64x2_t b64 = vreinterpretq_s64_s32(b);
    return vreinterpretq_s32_s64(high ? vdupq_laneq_s64(b64, 1) : vdupq_laneq_s64(b64, 0));
}

/* Row h (0, 1) of a row pair's two column-pair blocks: 4 consecutive columns. */
NRT_ALWAYS_INLINE int32x4_t row_of(int32x4_t c01, int32x4_t c23, int h) {
    int64x2_t x = vreinterpretq_s64_s32(c01), y = vreinterpretq_s64_s32(c23);
    return vreinterpretq_s32_s64(h ? vzip2q_s64(x, y) : vzip1q_s64(x, y));
}

NRT_ALWAYS_INLINE void gemm_tile(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind,
                                 const int8_t* a, size_t a_stride, const void* packed, int8_t* c, size_t c_stride,
                                 const nrt_qs8_requant* rq, const int P) {
    const int8_t* w = packed;
    tile_acc t;
    int32x4_t b0 = nrt_ld_s32_bytes(w), b1 = nrt_ld_s32_bytes(w + 16);
    int32x4_t bias[NR / 2] = {bias_pair(b0, 0), bias_pair(b0, 1), bias_pair(b1, 0), bias_pair(b1, 1)};
#pragma GCC unroll 4
    for (int p = 0; p < P; p++)
        for (int q = 0; q < NR / 2; q++) t.v[p][q] = bias[q];
    w += NR * sizeof(int32_t);
    const int8_t* ap[MR];
    if (!ind) {
#pragma GCC unroll 8
        for (int r = 0; r < 2 * P; r++) ap[r] = a + ((size_t)r < mr ? (size_t)r : mr - 1) * a_stride;
        w = acc_block(&t, ap, kc, w, P);
    } else {
        for (size_t p = 0; p < ks; p++, ind += MR) {
#pragma GCC unroll 8
            for (int r = 0; r < 2 * P; r++) ap[r] = (const int8_t*)ind[r];
            w = acc_block(&t, ap, kc, w, P);
        }
    }
    float32x4_t m0 = nrt_ld_f32_bytes(w), m1 = nrt_ld_f32_bytes(w + 16);
    nrt_qs8_rq_neon q = nrt_qs8_rq_neon_make(rq);
#pragma GCC unroll 8
    for (int r = 0; r < 2 * P; r++) {
        if ((size_t)r >= mr) break;
        int p = r / 2, h = r % 2;
        int32x4_t lo = row_of(t.v[p][0], t.v[p][1], h), hi = row_of(t.v[p][2], t.v[p][3], h);
        int8x8_t y = nrt_qs8_narrow8(nrt_qs8_requant4(lo, m0, &q), nrt_qs8_requant4(hi, m1, &q));
        nrt_st_s8_part8(c + (size_t)r * c_stride, y, nc);
    }
}

#define PAIRS(P)                                                                                                \
    static void tile_##P(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind, const int8_t* a,  \
                         size_t a_stride, const void* w, int8_t* c, size_t c_stride, const nrt_qs8_requant* rq) { \
        gemm_tile(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq, P);                                     \
    }
PAIRS(4)
PAIRS(2)
PAIRS(1)

static void dispatch_rows(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind, const int8_t* a,
                          size_t a_stride, const void* w, int8_t* c, size_t c_stride, const nrt_qs8_requant* rq) {
    if (mr > 4) tile_4(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
    else if (mr > 2) tile_2(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
    else tile_1(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
}

static void qs8_gemm_8x8c8_neoni8mm(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride, const void* w,
                                    void* c, size_t c_stride, const void* params) {
    dispatch_rows(mr, nc, kc, 1, NULL, a, a_stride, w, c, c_stride, params);
}

static void qs8_igemm_8x8c8_neoni8mm(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* a, const void* w,
                                     void* c, size_t c_stride, const void* params) {
    dispatch_rows(mr, nc, kc, ks, a, NULL, 0, w, c, c_stride, params);
}

const nrt_gemm_table nrt_qs8_qc8w_gemm_8x8c8_minmax_fp32_neoni8mm = {
    .name = "qs8-qc8w-gemm-8x8c8-minmax-fp32-neoni8mm", .isa = NRT_ISA_I8MM, .mr = MR, .nr = NR, .kr = KR,
    .x_offset = 0, .format = &nrt_gemm_format_qs8_qc8w, .gemm = qs8_gemm_8x8c8_neoni8mm,
    .igemm = qs8_igemm_8x8c8_neoni8mm,
};

#ifdef NRT_CLANG_I8MM_REGION
#pragma clang attribute pop
#endif
