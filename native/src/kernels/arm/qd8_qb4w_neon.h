/* What the NEON qd8-f32-qb4w-fc kernels share (the packed layout of
 * kernels/qb4w_pack.h with 8 columns per panel, two int8x16 tiles of
 * [4 columns][4 k] per half block): nibbles sign-extended by shifts, a row's
 * 4 bytes broadcast, and the end of a group and of a tile in the reference's
 * float operations and order (separate multiply and add: -ffp-contract=off). */
#ifndef NRT_QD8_QB4W_NEON_H
#define NRT_QD8_QB4W_NEON_H

#include <arm_neon.h>
#include <math.h>

#include "../qb4w_pack.h"
#include "../qs8_kernels.h"

#define NRT_QB4W_NEON_MR 4
#define NRT_QB4W_NEON_NR 8

/* The low nibbles of v (one [4 columns][4 k] tile) and the high ones (the next 4 k), as int8. */
static inline int8x16_t nrt_qb4w_low(int8x16_t v) { return vshrq_n_s8(vshlq_n_s8(v, 4), 4); }
static inline int8x16_t nrt_qb4w_high(int8x16_t v) { return vshrq_n_s8(v, 4); }

static inline int8x16_t nrt_qb4w_row4_dup(const int8_t* q, size_t k, size_t K) {
    return vreinterpretq_s8_u32(vdupq_n_u32(nrt_qb4w_row4(q, k, K)));
}

/* acc + (float)(isum - z * wsum) * (s * scale), 4 columns. */
static inline float32x4_t nrt_qb4w_group_end(float32x4_t acc, int32x4_t isum, int32x4_t wsum, int32_t z, float s,
                                             float32x4_t scale) {
    int32x4_t exact = vmlsq_s32(isum, wsum, vdupq_n_s32(z));
    return vaddq_f32(acc, vmulq_f32(vcvtq_f32_s32(exact), vmulq_f32(vdupq_n_f32(s), scale)));
}

/* Row `row`'s columns [c0, c1) of the panel at col0 from acc (8 columns): + bias, activation; NaN rows NaN. */
static inline void nrt_qb4w_store(const nrt_dyn_fc_qb4w* g, int64_t row, int64_t col0, int64_t c0, int64_t c1,
                                  const float32x4_t acc[2]) {
    float v[NRT_QB4W_NEON_NR], *y = g->y + row * g->N + col0;
    vst1q_f32(v, acc[0]);
    vst1q_f32(v + 4, acc[1]);
    bool nan_row = isnan(g->row_scale[row]);
    for (int64_t j = c0; j < c1; j++) {
        float t = g->bias ? v[j] + g->bias[col0 + j] : v[j];
        y[j] = nan_row ? NAN : nrt_activation_apply(&g->act, t);
    }
}

#endif
