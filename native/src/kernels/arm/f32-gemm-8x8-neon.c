/* f32-gemm-8x8-neon and f32-igemm-8x8-neon: float32 GEMM microkernels,
 * up to 8 rows x 8 columns per call, weights packed in 8-column panels
 * (f32_kernels.h).
 *
 * Register plan (AArch64 has 32 128-bit registers): 16 accumulators (8 rows
 * x 2 vectors), 8 registers holding 4 consecutive K values of each row, and
 * 2 for a weight row: 26 live, no spills. The K loop is unrolled by 4: one
 * vld1q per row brings 4 A values, then each weight row is multiplied by
 * one lane of them (vfmaq_laneq_f32, FMLA by element), so A is read with
 * full-width loads instead of 4 broadcasts. K % 4 leftovers use a broadcast
 * load (vld1q_dup). Bias initializes the accumulators; the activation runs
 * on the registers before the store.
 *
 * One template (gemm_tile) is instantiated for 8 / 4 / 2 / 1 rows and 8 / 4
 * columns, so short M tails and narrow last panels cost what they need. */
#include <arm_neon.h>
#include <stdbool.h>

#include "../f32_kernels.h"
#include "f32_act_neon.h"

#define MR 8
#define NR 8

typedef struct tile_acc {
    float32x4_t v[MR][2];
} tile_acc;

/* acc[r] += a[r][k] * w[k] for one lane L of the A vectors (w: one packed row). */
#define FMA_LANE(L)                                                                                      \
    do {                                                                                                 \
        float32x4_t w0 = vld1q_f32(w + (L) * NR), w1 = w0;                                              \
        if (NV > 1) w1 = vld1q_f32(w + (L) * NR + 4);                                                    \
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) {                                            \
            t->v[r][0] = vfmaq_laneq_f32(t->v[r][0], w0, av[r], L);                                      \
            if (NV > 1) t->v[r][1] = vfmaq_laneq_f32(t->v[r][1], w1, av[r], L);                          \
        }                                                                                                \
    } while (0)

/* acc += A[:, 0:kc] . W[0:kc, :]; w advances by NR floats per k. */
NRT_ALWAYS_INLINE const float* acc_block(tile_acc* t, const float* const* ap, size_t kc, const float* w, const int R,
                                       const int NV) {
    size_t k = 0;
    for (; k + 4 <= kc; k += 4, w += 4 * NR) {
        float32x4_t av[MR];
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) av[r] = vld1q_f32(ap[r] + k);
        FMA_LANE(0);
        FMA_LANE(1);
        FMA_LANE(2);
        FMA_LANE(3);
    }
    for (; k < kc; k++, w += NR) {
        float32x4_t w0 = vld1q_f32(w), w1 = w0;
        if (NV > 1) w1 = vld1q_f32(w + 4);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            float32x4_t a = vld1q_dup_f32(ap[r] + k);
            t->v[r][0] = vfmaq_f32(t->v[r][0], a, w0);
            if (NV > 1) t->v[r][1] = vfmaq_f32(t->v[r][1], a, w1);
        }
    }
    return w;
}

NRT_ALWAYS_INLINE void acc_store(tile_acc* t, size_t mr, size_t nc, float* c, size_t c_stride,
                               const nrt_activation* act, const int R, const int NV) {
    bool simd_act = nrt_f32_act_simd_neon(act->kind);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        if ((size_t)r >= mr) break;
        float* cr = c + (size_t)r * c_stride;
        float32x4_t v0 = t->v[r][0], v1 = t->v[r][1];
        if (simd_act && act->kind != NRT_ACT_NONE) {
            v0 = nrt_act_neon(v0, act);
            if (NV > 1) v1 = nrt_act_neon(v1, act);
        }
        if (nc == (size_t)(4 * NV)) {
            vst1q_f32(cr, v0);
            if (NV > 1) vst1q_f32(cr + 4, v1);
        } else {
            nrt_st_upto8_f32(cr, v0, v1, nc);
        }
    }
    /* a kind without SIMD code: the scalar reference after every row is stored, so no
     * accumulator lives across its calls */
    for (size_t r = 0; !simd_act && r < mr && r < (size_t)R; r++)
        for (size_t j = 0; j < nc; j++) c[r * c_stride + j] = nrt_activation_apply(act, c[r * c_stride + j]);
}

/* ind == NULL: plain GEMM, row r at a + r * a_stride (rows past mr repeat row mr - 1);
 * otherwise ks indirection blocks of MR row pointers. */
NRT_ALWAYS_INLINE void gemm_tile(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind, const float* a,
                               size_t a_stride, const float* w, float* c, size_t c_stride, const nrt_activation* act,
                               const int R, const int NV) {
    tile_acc t;
    float32x4_t b0 = vld1q_f32(w), b1 = vld1q_f32(w + 4);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        t.v[r][0] = b0;
        t.v[r][1] = b1;
    }
    w += NR;
    const float* ap[MR];
    if (!ind) {
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) ap[r] = a + ((size_t)r < mr ? (size_t)r : mr - 1) * a_stride;
        acc_block(&t, ap, kc, w, R, NV);
    } else {
        for (size_t p = 0; p < ks; p++, ind += MR) {
            if (!ind[0]) { /* a tap reading only padding (gemm.h's igemm_null_taps) */
                w += kc * NR;
                continue;
            }
#pragma GCC unroll 8
            for (int r = 0; r < R; r++) ap[r] = (const float*)ind[r];
            w = acc_block(&t, ap, kc, w, R, NV);
        }
    }
    acc_store(&t, mr, nc, c, c_stride, act, R, NV);
}

#define WIDTHS(R)                                                                                          \
    static void tile_##R(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind, const float* a, \
                         size_t a_stride, const float* w, float* c, size_t c_stride, const nrt_activation* act) { \
        if (nc > 4) gemm_tile(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, act, R, 2);               \
        else gemm_tile(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, act, R, 1);                      \
    }
WIDTHS(8)
WIDTHS(4)
WIDTHS(2)
WIDTHS(1)

static void dispatch_rows(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind, const float* a,
                          size_t a_stride, const float* w, float* c, size_t c_stride, const nrt_activation* act) {
    if (mr > 4) tile_8(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, act);
    else if (mr > 2) tile_4(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, act);
    else if (mr > 1) tile_2(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, act);
    else tile_1(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, act);
}

static void f32_gemm_8x8_neon(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride, const void* w, void* c,
                              size_t c_stride, const void* params) {
    dispatch_rows(mr, nc, kc, 1, NULL, a, a_stride, w, c, c_stride, params);
}

static void f32_igemm_8x8_neon(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* a, const void* w, void* c,
                               size_t c_stride, const void* params) {
    dispatch_rows(mr, nc, kc, ks, a, NULL, 0, w, c, c_stride, params);
}

const nrt_gemm_table nrt_f32_gemm_8x8_neon = {
    .name = "f32-gemm-8x8-neon", .isa = NRT_ISA_NEON, .mr = MR, .nr = NR, .kr = 1, .x_offset = 0,
    .format = &nrt_gemm_format_f32, .gemm = f32_gemm_8x8_neon, .igemm = f32_igemm_8x8_neon,
    .igemm_null_taps = true,
};
