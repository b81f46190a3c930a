/* qs8-vector-neon: the int8 vector kernels of qs8_kernels.h on NEON (the
 * dotprod level uses them too), bit-exact with the reference:
 *   add / mul  Add / Sub / Mul of quantized tensors (kernels/ref/int8_elem_ref.c):
 *              16 values per step, a - z_a widened exactly (SSUBL to int16,
 *              SXTL to int32), the float steps of requant.h in its order
 *              (two FMULs then one FADD for Add, never fused; Mul's int32
 *              product converted once), clamp, FCVTNS, + z_y, narrow;
 *   lut        256-entry table lookup: TBL / TBX over four 64-byte quarters;
 *   gavgpool / avgpool  sums of (x - z_x) in int32 (SSUBL + SADDW, wrapping
 *              like the reference), one requantization;
 *   maxpool    SMAX over the taps from -128, then the [qmin, qmax] clamp;
 *   rescale    (float)(x - z_x) * m, clamp, round, + z_y (Concat, nearest Resize);
 *   quantize   float32 -> int8: FDIV by the scale (not a reciprocal multiply),
 *              FRINTN (rintf), NaN -> 0, clamp to [-128 - z, 127 - z], + z;
 *   dequantize int8 -> float32: (float)(x - z) (exact) times the scale, one FMUL.
 * Channel / element tails load and store only the bytes they own. */
#include <arm_neon.h>

#include "../ref/binary_ref.h"
#include "../ref/qs8_ref.h"
#include "../qs8_kernels.h"
#include "f32_act_neon.h"
#include "qs8_requant_neon.h"

/* v (already scaled) -> rint(clamp(v)) + z_y: nrt_requantize_float on 4 lanes. */
NRT_ALWAYS_INLINE int32x4_t requant_float4(float32x4_t v, const nrt_qs8_rq_neon* q) {
    v = vbslq_f32(vcltq_f32(v, q->lo), q->lo, vminq_f32(v, q->hi));
    return vaddq_s32(vcvtnq_s32_f32(v), q->zp);
}

NRT_ALWAYS_INLINE int8x16_t narrow16(int32x4_t q0, int32x4_t q1, int32x4_t q2, int32x4_t q3) {
    return vcombine_s8(nrt_qs8_narrow8(q0, q1), nrt_qs8_narrow8(q2, q3));
}

/* 16 int8 minus a zero point, as 4 exact int32x4. */
typedef struct wide16 {
    int32x4_t v[4];
} wide16;

NRT_ALWAYS_INLINE wide16 widen_sub(int8x16_t x, int8x8_t z) {
    int16x8_t lo = vsubl_s8(vget_low_s8(x), z), hi = vsubl_s8(vget_high_s8(x), z);
    wide16 w = {{vmovl_s16(vget_low_s16(lo)), vmovl_high_s16(lo), vmovl_s16(vget_low_s16(hi)), vmovl_high_s16(hi)}};
    return w;
}

/* ---- Add / Sub / Mul ---- */

/* SA / SB: operand a / b is one repeated value. MUL: Mul, else Add. */
NRT_ALWAYS_INLINE int8x16_t binary16(int8x16_t a, int8x16_t b, const nrt_qs8_binary* p, const nrt_qs8_rq_neon* q,
                                      const int MUL) {
    wide16 da = widen_sub(a, vdup_n_s8((int8_t)p->za)), db = widen_sub(b, vdup_n_s8((int8_t)p->zb));
    float32x4_t ma = vdupq_n_f32(p->ma), mb = vdupq_n_f32(p->mb);
    int32x4_t r[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        float32x4_t v;
        if (MUL) {
            v = vmulq_f32(ma, vcvtq_f32_s32(vmulq_s32(da.v[i], db.v[i])));
        } else {
            float32x4_t pa = vmulq_f32(ma, vcvtq_f32_s32(da.v[i])), pb = vmulq_f32(mb, vcvtq_f32_s32(db.v[i]));
            v = vaddq_f32(pa, pb);
        }
        r[i] = requant_float4(v, q);
    }
    return narrow16(r[0], r[1], r[2], r[3]);
}

NRT_ALWAYS_INLINE void binary_loop(const nrt_qs8_binary* p, const int8_t* a, const int8_t* b, int8_t* y, size_t n,
                                    const int MUL, const int SA, const int SB) {
    const nrt_qs8_requant rq = nrt_qs8_requant_make(p->out.zero_point, p->out.qmin, p->out.qmax);
    nrt_qs8_rq_neon q = nrt_qs8_rq_neon_make(&rq);
    int8x16_t va = SA ? vdupq_n_s8(a[0]) : vdupq_n_s8(0), vb = SB ? vdupq_n_s8(b[0]) : vdupq_n_s8(0);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        int8x16_t x0 = SA ? va : vld1q_s8(a + i), x1 = SB ? vb : vld1q_s8(b + i);
        vst1q_s8(y + i, binary16(x0, x1, p, &q, MUL));
    }
    if (i < n) {
        int8x16_t x0 = SA ? va : nrt_ld_s8_part16(a + i, n - i), x1 = SB ? vb : nrt_ld_s8_part16(b + i, n - i);
        nrt_st_s8_part16(y + i, binary16(x0, x1, p, &q, MUL), n - i);
    }
}

#define BINARY(NAME, MUL)                                                                                 \
    void NAME(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode) { \
        const nrt_qs8_binary* p = k->params;                                                               \
        if (mode == NRT_BIN_VS) binary_loop(p, a, b, y, n, MUL, 0, 1);                                     \
        else if (mode == NRT_BIN_SV) binary_loop(p, a, b, y, n, MUL, 1, 0);                                \
        else binary_loop(p, a, b, y, n, MUL, 0, 0);                                                        \
    }
BINARY(nrt_qs8_vadd_neon, 0)
BINARY(nrt_qs8_vmul_neon, 1)

/* ---- Lut ---- */

void nrt_qs8_lut_neon(size_t n, const int8_t* x, const int8_t* table, int8_t* y) {
    uint8x16x4_t t0 = vld1q_u8_x4((const uint8_t*)table), t1 = vld1q_u8_x4((const uint8_t*)table + 64);
    uint8x16x4_t t2 = vld1q_u8_x4((const uint8_t*)table + 128), t3 = vld1q_u8_x4((const uint8_t*)table + 192);
    uint8x16_t q64 = vdupq_n_u8(64), flip = vdupq_n_u8(0x80);
    size_t i = 0;
    for (; i < n; i += 16) {
        size_t cnt = n - i < 16 ? n - i : 16;
        int8x16_t xv = cnt == 16 ? vld1q_s8(x + i) : nrt_ld_s8_part16(x + i, cnt);
        /* index x + 128; TBL gives 0 and TBX keeps the lane for indices past its 64 bytes */
        uint8x16_t idx = veorq_u8(vreinterpretq_u8_s8(xv), flip);
        uint8x16_t r = vqtbl4q_u8(t0, idx);
        idx = vsubq_u8(idx, q64);
        r = vqtbx4q_u8(r, t1, idx);
        idx = vsubq_u8(idx, q64);
        r = vqtbx4q_u8(r, t2, idx);
        idx = vsubq_u8(idx, q64);
        r = vqtbx4q_u8(r, t3, idx);
        if (cnt == 16) vst1q_s8(y + i, vreinterpretq_s8_u8(r));
        else nrt_st_s8_part16(y + i, vreinterpretq_s8_u8(r), cnt);
    }
}

/* ---- pooling ---- */

/* acc += x - zx for 16 channels (n < 16: a tail, the bytes past n read as 0 and never stored). */
NRT_ALWAYS_INLINE void add16(int32x4_t* acc, const int8_t* x, size_t n, int8x8_t z) {
    int8x16_t xv = n >= 16 ? vld1q_s8(x) : nrt_ld_s8_part16(x, n);
    int16x8_t lo = vsubl_s8(vget_low_s8(xv), z), hi = vsubl_s8(vget_high_s8(xv), z);
    acc[0] = vaddw_s16(acc[0], vget_low_s16(lo));
    acc[1] = vaddw_high_s16(acc[1], lo);
    acc[2] = vaddw_s16(acc[2], vget_low_s16(hi));
    acc[3] = vaddw_high_s16(acc[3], hi);
}

NRT_ALWAYS_INLINE void store_requant16(const int32x4_t* acc, float m, const nrt_qs8_rq_neon* q, int8_t* y, size_t n) {
    float32x4_t mv = vdupq_n_f32(m);
    int8x16_t r = narrow16(nrt_qs8_requant4(acc[0], mv, q), nrt_qs8_requant4(acc[1], mv, q),
                           nrt_qs8_requant4(acc[2], mv, q), nrt_qs8_requant4(acc[3], mv, q));
    if (n >= 16) vst1q_s8(y, r);
    else nrt_st_s8_part16(y, r, n);
}

void nrt_qs8_gavgpool_neon(size_t rows, size_t channels, const int8_t* x, size_t stride, int32_t zx, float m,
                              const nrt_qs8_requant* rq, int8_t* y) {
    nrt_qs8_rq_neon q = nrt_qs8_rq_neon_make(rq);
    int8x8_t z = vdup_n_s8((int8_t)zx);
    for (size_t c0 = 0; c0 < channels; c0 += 16) {
        size_t n = channels - c0;
        int32x4_t acc[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
        for (size_t p = 0; p < rows; p++) add16(acc, x + p * stride + c0, n, z);
        store_requant16(acc, m, &q, y + c0, n);
    }
}

void nrt_qs8_avgpool_neon(size_t channels, size_t taps, const int8_t* const* ind, int32_t zx, float m,
                             const nrt_qs8_requant* rq, int8_t* y) {
    nrt_qs8_rq_neon q = nrt_qs8_rq_neon_make(rq);
    int8x8_t z = vdup_n_s8((int8_t)zx);
    for (size_t c0 = 0; c0 < channels; c0 += 16) {
        size_t n = channels - c0;
        int32x4_t acc[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
        for (size_t t = 0; t < taps; t++) add16(acc, ind[t] + c0, n, z);
        store_requant16(acc, m, &q, y + c0, n);
    }
}

void nrt_qs8_maxpool_neon(size_t channels, size_t taps, const int8_t* const* ind, int32_t qmin, int32_t qmax,
                             int8_t* y) {
    /* qmin, qmax are in [-128, 127]; the clamp is the reference's y < qmin ? qmin : min(y, qmax) */
    int8x16_t lo = vdupq_n_s8((int8_t)qmin), hi = vdupq_n_s8((int8_t)qmax);
    for (size_t c0 = 0; c0 < channels; c0 += 16) {
        size_t n = channels - c0;
        int8x16_t v = vdupq_n_s8(-128);
        for (size_t t = 0; t < taps; t++)
            v = vmaxq_s8(v, n >= 16 ? vld1q_s8(ind[t] + c0) : nrt_ld_s8_part16(ind[t] + c0, n));
        v = vbslq_s8(vcltq_s8(v, lo), lo, vminq_s8(v, hi));
        if (n >= 16) vst1q_s8(y + c0, v);
        else nrt_st_s8_part16(y + c0, v, n);
    }
}

/* ---- Rescale, QuantizeLinear (separate entry points of qs8_kernels.h) ---- */

void nrt_qs8_rescale_neon(size_t n, const int8_t* x, int32_t zx, float m, const nrt_qs8_requant* rq, int8_t* y) {
    nrt_qs8_rq_neon q = nrt_qs8_rq_neon_make(rq);
    int8x8_t z = vdup_n_s8((int8_t)zx);
    float32x4_t mv = vdupq_n_f32(m);
    for (size_t i = 0; i < n; i += 16) {
        size_t cnt = n - i < 16 ? n - i : 16;
        wide16 d = widen_sub(cnt == 16 ? vld1q_s8(x + i) : nrt_ld_s8_part16(x + i, cnt), z);
        int8x16_t r = narrow16(requant_float4(vmulq_f32(vcvtq_f32_s32(d.v[0]), mv), &q),
                               requant_float4(vmulq_f32(vcvtq_f32_s32(d.v[1]), mv), &q),
                               requant_float4(vmulq_f32(vcvtq_f32_s32(d.v[2]), mv), &q),
                               requant_float4(vmulq_f32(vcvtq_f32_s32(d.v[3]), mv), &q));
        if (cnt == 16) vst1q_s8(y + i, r);
        else nrt_st_s8_part16(y + i, r, cnt);
    }
}

/* 4 floats -> rint(x / s), NaN -> 0, clamped to [lo, hi], + z (quantize_small of kernels/ref/quant_ref.c). */
NRT_ALWAYS_INLINE int32x4_t quantize4(float32x4_t x, float32x4_t s, const nrt_qs8_rq_neon* q) {
    float32x4_t v = vrndnq_f32(vdivq_f32(x, s));
    v = vbslq_f32(vceqq_f32(v, v), v, vdupq_n_f32(0.0f));
    v = vbslq_f32(vcltq_f32(v, q->lo), q->lo, vminq_f32(v, q->hi));
    return vaddq_s32(vcvtnq_s32_f32(v), q->zp);
}

void nrt_qs8_quantize_neon(size_t n, const float* x, float s, int32_t z, int8_t* y) {
    nrt_qs8_rq_neon q = {vdupq_n_f32(-128.0f - (float)z), vdupq_n_f32(127.0f - (float)z), vdupq_n_s32(z)};
    float32x4_t sv = vdupq_n_f32(s);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        int32x4_t r[4];
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) r[j] = quantize4(vld1q_f32(x + i + 4 * j), sv, &q);
        vst1q_s8(y + i, narrow16(r[0], r[1], r[2], r[3]));
    }
    for (; i < n; i += 4) {
        size_t cnt = n - i < 4 ? n - i : 4;
        int32x4_t r = quantize4(cnt == 4 ? vld1q_f32(x + i) : nrt_ld_part_f32(x + i, cnt), sv, &q);
        nrt_st_s8_part8(y + i, nrt_qs8_narrow8(r, r), cnt);
    }
}

void nrt_qs8_dequantize_neon(size_t n, const int8_t* x, float s, int32_t z, float* y) {
    int8x8_t zv = vdup_n_s8((int8_t)z);
    float32x4_t sv = vdupq_n_f32(s);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        wide16 d = widen_sub(vld1q_s8(x + i), zv);
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) vst1q_f32(y + i + 4 * j, vmulq_f32(vcvtq_f32_s32(d.v[j]), sv));
    }
    if (i < n) {
        size_t cnt = n - i;
        wide16 d = widen_sub(nrt_ld_s8_part16(x + i, cnt), zv);
        for (int j = 0; cnt > 0; j++) {
            size_t part = cnt < 4 ? cnt : 4;
            float32x4_t v = vmulq_f32(vcvtq_f32_s32(d.v[j]), sv);
            if (part == 4) vst1q_f32(y + i, v);
            else nrt_st_part_f32(y + i, v, part);
            i += part;
            cnt -= part;
        }
    }
}
