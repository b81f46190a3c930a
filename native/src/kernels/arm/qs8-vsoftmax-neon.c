/* qs8-vsoftmax-neon: int8 Softmax (qs8_kernels.h) on 8 columns at once:
 * SMAX over the rows on int16 lanes, the table values of each row (NEON has
 * no gather: 8 scalar loads into a vector), their sum on uint32 lanes, and
 * each quotient through 2-lane double vectors. A contiguous row (inner == 1)
 * takes 8 values per vector, the maximum and sum reduced across lanes; the
 * values past the last whole vector go through scalar code. */
#include <arm_neon.h>

#include "../qs8_kernels.h"

/* T[mx - x] of 8 lanes: (mx - x) is in [0, 255]. */
static inline void lookup8(int16x8_t mx, const int8_t* x, const uint32_t* table, uint32x4_t* lo, uint32x4_t* hi) {
    uint16_t d[8];
    vst1q_u16(d, vreinterpretq_u16_s16(vsubq_s16(mx, vmovl_s8(vld1_s8(x)))));
    uint32_t e[8];
    for (int l = 0; l < 8; l++) e[l] = table[d[l]];
    *lo = vld1q_u32(e);
    *hi = vld1q_u32(e + 4);
}

/* floor(num * r + lift) of 4 lanes (num < 2^32), as int32. */
static inline int32x4_t quotient4(uint32x4_t num, float64x2_t r_lo, float64x2_t r_hi) {
    const float64x2_t lift = vdupq_n_f64(NRT_QS8_SOFTMAX_LIFT);
    float64x2_t a = vaddq_f64(vmulq_f64(vcvtq_f64_u64(vmovl_u32(vget_low_u32(num))), r_lo), lift);
    float64x2_t b = vaddq_f64(vmulq_f64(vcvtq_f64_u64(vmovl_high_u32(num)), r_hi), lift);
    return vreinterpretq_s32_u32(vcombine_u32(vmovn_u64(vcvtq_u64_f64(a)), vmovn_u64(vcvtq_u64_f64(b))));
}

/* The 8 outputs of e (lo, hi), stored at y. */
static inline void store8(uint32x4_t lo, uint32x4_t hi, uint32x4_t half_lo, uint32x4_t half_hi, const float64x2_t* r,
                          int8_t* y) {
    int32x4_t q_lo = quotient4(vaddq_u32(vshlq_n_u32(lo, 8), half_lo), r[0], r[1]);
    int32x4_t q_hi = quotient4(vaddq_u32(vshlq_n_u32(hi, 8), half_hi), r[2], r[3]);
    const int32x4_t top = vdupq_n_s32(255), bias = vdupq_n_s32(128);
    q_lo = vsubq_s32(vminq_s32(q_lo, top), bias);
    q_hi = vsubq_s32(vminq_s32(q_hi, top), bias);
    vst1_s8(y, vmovn_s16(vcombine_s16(vmovn_s32(q_lo), vmovn_s32(q_hi))));
}

static inline float64x2_t recip2(uint32x2_t s) { return vdivq_f64(vdupq_n_f64(1.0), vcvtq_f64_u64(vmovl_u32(s))); }

static void columns8(size_t n, size_t inner, const int8_t* x, const uint32_t* table, int8_t* y) {
    int16x8_t mx = vdupq_n_s16(-128);
    for (size_t i = 0; i < n; i++) mx = vmaxq_s16(mx, vmovl_s8(vld1_s8(x + i * inner)));
    uint32x4_t s_lo = vdupq_n_u32(0), s_hi = vdupq_n_u32(0), lo, hi;
    for (size_t i = 0; i < n; i++) {
        lookup8(mx, x + i * inner, table, &lo, &hi);
        s_lo = vaddq_u32(s_lo, lo);
        s_hi = vaddq_u32(s_hi, hi);
    }
    float64x2_t r[4] = {recip2(vget_low_u32(s_lo)), recip2(vget_high_u32(s_lo)), recip2(vget_low_u32(s_hi)),
                        recip2(vget_high_u32(s_hi))};
    uint32x4_t h_lo = vshrq_n_u32(s_lo, 1), h_hi = vshrq_n_u32(s_hi, 1);
    for (size_t i = 0; i < n; i++) {
        lookup8(mx, x + i * inner, table, &lo, &hi);
        store8(lo, hi, h_lo, h_hi, r, y + i * inner);
    }
}

static void row(size_t n, const int8_t* x, const uint32_t* table, int8_t* y) {
    size_t whole = n / 8 * 8;
    int16x8_t vmx = vdupq_n_s16(-128);
    for (size_t i = 0; i < whole; i += 8) vmx = vmaxq_s16(vmx, vmovl_s8(vld1_s8(x + i)));
    int32_t mx = vmaxvq_s16(vmx);
    for (size_t i = whole; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    int16x8_t bmx = vdupq_n_s16((int16_t)mx);
    uint32x4_t vsum = vdupq_n_u32(0), lo, hi;
    for (size_t i = 0; i < whole; i += 8) {
        lookup8(bmx, x + i, table, &lo, &hi);
        vsum = vaddq_u32(vsum, vaddq_u32(lo, hi));
    }
    uint32_t sum = vaddvq_u32(vsum);
    for (size_t i = whole; i < n; i++) sum += table[mx - x[i]];
    float64x2_t r1 = vdupq_n_f64(1.0 / (double)sum), r[4] = {r1, r1, r1, r1};
    uint32x4_t half = vdupq_n_u32(sum / 2u);
    for (size_t i = 0; i < whole; i += 8) {
        lookup8(bmx, x + i, table, &lo, &hi);
        store8(lo, hi, half, half, r, y + i);
    }
    double rs = 1.0 / (double)sum;
    for (size_t i = whole; i < n; i++) y[i] = nrt_qs8_softmax_value(table[mx - x[i]], sum, rs);
}

void nrt_qs8_vsoftmax_neon(size_t n, size_t inner, size_t cols, const int8_t* x, const uint32_t* table, int8_t* y) {
    if (inner == 1) {
        row(n, x, table, y);
        return;
    }
    size_t c = 0;
    for (; c + 8 <= cols; c += 8) columns8(n, inner, x + c, table, y + c);
    for (; c < cols; c++) nrt_qs8_softmax_column(n, inner, x + c, table, y + c);
}
