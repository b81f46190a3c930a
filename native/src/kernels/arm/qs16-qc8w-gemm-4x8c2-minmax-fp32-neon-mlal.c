/* qs16-qc8w-gemm-4x8c2-minmax-fp32-neon-mlal and the igemm of the same shape:
 * up to 4 rows x 8 columns per call on nrt_gemm_format_qs16_qc8w panels.
 *
 * A pair of a row's int16 activations is broadcast to every 32-bit lane, and
 * SMLAL / SMLAL2 multiply it with 4 columns' weight pairs into int32 lanes
 * holding (column, even k) and (column, odd k) sums. After at most
 * NRT_QS16_K_BLOCK products per column (qs16_kernels.h: < 2^30 in each
 * lane pair) ADDP adds each column's two lanes and the sums go to exact
 * double accumulators that started at the bias, so the result is the
 * reference's int64 sum. Then requant.h's steps with zero point 0: FCVTN
 * (one rounding to float), FMUL, clamp, FCVTNS (nearest even), and a
 * narrowing to int16 that cannot saturate. */
#include <arm_neon.h>
#include <string.h>

#include "../qs16_kernels.h"

#define MR 4
#define NR 8

typedef struct acc_rows {
    int32x4_t v[MR][4];     /* columns (0,1) (2,3) (4,5) (6,7), even and odd k */
    float64x2_t sum[MR][4]; /* columns (0,1) .. (6,7) */
} acc_rows;

NRT_ALWAYS_INLINE int32_t load_pair(const int16_t* p, size_t left) {
    uint32_t v = (uint16_t)p[0];
    if (left > 1) v |= (uint32_t)(uint16_t)p[1] << 16;
    return (int32_t)v;
}

NRT_ALWAYS_INLINE void flush(acc_rows* t, const int R) {
    for (int r = 0; r < R; r++) {
        int32x4_t s0 = vpaddq_s32(t->v[r][0], t->v[r][1]), s1 = vpaddq_s32(t->v[r][2], t->v[r][3]);
        t->sum[r][0] = vaddq_f64(t->sum[r][0], vcvtq_f64_s64(vmovl_s32(vget_low_s32(s0))));
        t->sum[r][1] = vaddq_f64(t->sum[r][1], vcvtq_f64_s64(vmovl_high_s32(s0)));
        t->sum[r][2] = vaddq_f64(t->sum[r][2], vcvtq_f64_s64(vmovl_s32(vget_low_s32(s1))));
        t->sum[r][3] = vaddq_f64(t->sum[r][3], vcvtq_f64_s64(vmovl_high_s32(s1)));
        for (int q = 0; q < 4; q++) t->v[r][q] = vdupq_n_s32(0);
    }
}

NRT_ALWAYS_INLINE const int16_t* acc_block(acc_rows* t, const int16_t* const* ap, size_t kc, const int16_t* w,
                                          const int R) {
    for (size_t k0 = 0; k0 < kc; k0 += NRT_QS16_K_BLOCK) {
        size_t k1 = kc - k0 < NRT_QS16_K_BLOCK ? kc : k0 + NRT_QS16_K_BLOCK;
        for (size_t k = k0; k < k1; k += 2, w += NR * 2) {
            int16x8_t w0 = vld1q_s16(w), w1 = vld1q_s16(w + 8);
            for (int r = 0; r < R; r++) {
                int16x8_t p = vreinterpretq_s16_s32(vdupq_n_s32(load_pair(ap[r] + k, k1 - k)));
                t->v[r][0] = vmlal_s16(t->v[r][0], vget_low_s16(w0), vget_low_s16(p));
                t->v[r][1] = vmlal_high_s16(t->v[r][1], w0, p);
                t->v[r][2] = vmlal_s16(t->v[r][2], vget_low_s16(w1), vget_low_s16(p));
                t->v[r][3] = vmlal_high_s16(t->v[r][3], w1, p);
            }
        }
        flush(t, R);
    }
    return w;
}

NRT_ALWAYS_INLINE void gemm_tile(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind,
                                 const int16_t* a, size_t a_stride, const void* packed, int16_t* c, size_t c_stride,
                                 const nrt_qs16_requant* rq, const int R) {
    const double* bias = packed;
    acc_rows t;
    for (int r = 0; r < R; r++)
        for (int q = 0; q < 4; q++) {
            t.v[r][q] = vdupq_n_s32(0);
            t.sum[r][q] = vld1q_f64(bias + 2 * q);
        }
    const int16_t* w = (const int16_t*)(bias + NR);
    const int16_t* ap[MR];
    for (size_t p = 0; p < ks; p++) {
        for (int r = 0; r < R; r++)
            ap[r] = ind ? (const int16_t*)ind[p * MR + (size_t)r]
                        : a + ((size_t)r < mr ? (size_t)r : mr - 1) * a_stride;
        w = acc_block(&t, ap, kc, w, R);
    }
    const float* mp = (const float*)w;
    float32x4_t m0 = vld1q_f32(mp), m1 = vld1q_f32(mp + 4);
    float32x4_t lo = vdupq_n_f32(rq->lo), hi = vdupq_n_f32(rq->hi);
    for (int r = 0; r < R; r++) {
        if ((size_t)r >= mr) break;
        float32x4_t f0 = vcvt_high_f32_f64(vcvt_f32_f64(t.sum[r][0]), t.sum[r][1]);
        float32x4_t f1 = vcvt_high_f32_f64(vcvt_f32_f64(t.sum[r][2]), t.sum[r][3]);
        f0 = vminq_f32(vmaxq_f32(vmulq_f32(f0, m0), lo), hi);
        f1 = vminq_f32(vmaxq_f32(vmulq_f32(f1, m1), lo), hi);
        int16x8_t q = vcombine_s16(vqmovn_s32(vcvtnq_s32_f32(f0)), vqmovn_s32(vcvtnq_s32_f32(f1)));
        int16_t* cr = c + (size_t)r * c_stride;
        if (nc == NR) {
            vst1q_s16(cr, q);
        } else {
            int16_t tmp[NR];
            vst1q_s16(tmp, q);
            memcpy(cr, tmp, nc * sizeof *cr);
        }
    }
}

#define ROWS(R)                                                                                                    \
    static void tile_##R(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind, const int16_t* a,     \
                         size_t a_stride, const void* w, int16_t* c, size_t c_stride, const nrt_qs16_requant* rq) { \
        gemm_tile(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq, R);                                        \
    }
ROWS(4)
ROWS(2)
ROWS(1)

static void dispatch_rows(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind, const int16_t* a,
                          size_t a_stride, const void* w, int16_t* c, size_t c_stride, const nrt_qs16_requant* rq) {
    if (mr > 2) tile_4(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
    else if (mr > 1) tile_2(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
    else tile_1(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
}

static void qs16_gemm_4x8c2_neon(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride, const void* w,
                                 void* c, size_t c_stride, const void* params) {
    dispatch_rows(mr, nc, kc, 1, NULL, a, a_stride, w, c, c_stride, params);
}

static void qs16_igemm_4x8c2_neon(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* a, const void* w,
                                  void* c, size_t c_stride, const void* params) {
    dispatch_rows(mr, nc, kc, ks, a, NULL, 0, w, c, c_stride, params);
}

const nrt_gemm_table nrt_qs16_qc8w_gemm_4x8c2_minmax_fp32_neon_mlal = {
    .name = "qs16-qc8w-gemm-4x8c2-minmax-fp32-neon-mlal", .isa = NRT_ISA_NEON, .mr = MR, .nr = NR, .kr = 2,
    .format = &nrt_gemm_format_qs16_qc8w, .gemm = qs16_gemm_4x8c2_neon, .igemm = qs16_igemm_4x8c2_neon,
};
