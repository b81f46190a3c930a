/* The 16x8 glue on NEON (qs16_kernels.h), 8 values per step (and the 16-bit
 * Add / Sub / Mul, below): FDIV (the
 * contract's IEEE division), FRINTN (rintf: nearest even), NaN lanes set to
 * 0, the clamp to [-32768, 32767] in float (exact: integer-valued floats and
 * representable bounds), FCVTZS and a narrowing that cannot saturate.
 * Dequantize: sign-extend, SCVTF (exact), one FMUL. A tail goes through
 * buffers: nothing read or written past n. */
#include <arm_neon.h>
#include <string.h>

#include "../qs16_kernels.h"
#include "../ref/qs16_ref.h"

NRT_ALWAYS_INLINE int32x4_t quantize4(float32x4_t x, float32x4_t s) {
    float32x4_t v = vrndnq_f32(vdivq_f32(x, s));
    v = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), vceqq_f32(v, v))); /* NaN -> 0 */
    return vcvtq_s32_f32(vminq_f32(vmaxq_f32(v, vdupq_n_f32(-32768.0f)), vdupq_n_f32(32767.0f)));
}

NRT_ALWAYS_INLINE int16x8_t quantize8(const float* x, float32x4_t s) {
    return vcombine_s16(vqmovn_s32(quantize4(vld1q_f32(x), s)), vqmovn_s32(quantize4(vld1q_f32(x + 4), s)));
}

void nrt_qs16_quantize_neon(size_t n, const float* x, float s, int16_t* y) {
    const float32x4_t sv = vdupq_n_f32(s);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) vst1q_s16(y + i, quantize8(x + i, sv));
    if (i < n) {
        float in[8] = {0};
        int16_t out[8];
        memcpy(in, x + i, (n - i) * sizeof *in);
        vst1q_s16(out, quantize8(in, sv));
        memcpy(y + i, out, (n - i) * sizeof *out);
    }
}

NRT_ALWAYS_INLINE void dequantize8(const int16_t* x, float32x4_t s, float* y) {
    int16x8_t v = vld1q_s16(x);
    vst1q_f32(y, vmulq_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(v))), s));
    vst1q_f32(y + 4, vmulq_f32(vcvtq_f32_s32(vmovl_high_s16(v)), s));
}

void nrt_qs16_dequantize_neon(size_t n, const int16_t* x, float s, float* y) {
    const float32x4_t sv = vdupq_n_f32(s);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) dequantize8(x + i, sv, y + i);
    if (i < n) {
        int16_t in[8] = {0};
        float out[8];
        memcpy(in, x + i, (n - i) * sizeof *in);
        dequantize8(in, sv, out);
        memcpy(y + i, out, (n - i) * sizeof *out);
    }
}

/* ---- 16-bit Add / Sub / Mul (ref/qs16_ref.h): the reference's float steps, 8 lanes ---- */

/* v clamped to [lo, hi] in float, FCVTNS (nearest even: the 1.5 x 2^23 shift's
 * result), a narrowing that cannot saturate. */
NRT_ALWAYS_INLINE int16x4_t finish4(float32x4_t v, float32x4_t lo, float32x4_t hi) {
    return vmovn_s32(vcvtnq_s32_f32(vminq_f32(vmaxq_f32(v, lo), hi)));
}

/* 4 lanes of the op on int32 codes a, b (Mul: the exact int32 product rounded once). */
NRT_ALWAYS_INLINE float32x4_t op4(bool mul, int32x4_t a, int32x4_t b, float32x4_t ma, float32x4_t mb) {
    if (mul) return vmulq_f32(ma, vcvtq_f32_s32(vmulq_s32(a, b)));
    return vaddq_f32(vmulq_f32(ma, vcvtq_f32_s32(a)), vmulq_f32(mb, vcvtq_f32_s32(b)));
}

NRT_ALWAYS_INLINE void binary16(bool mul, const nrt_binary_kernel* kern, const int16_t* A, const int16_t* B,
                                int16_t* Y, size_t n, int mode) {
    const nrt_qs16_binary* p = kern->params;
    const float32x4_t ma = vdupq_n_f32(p->ma), mb = vdupq_n_f32(p->mb);
    const float32x4_t lo = vdupq_n_f32(p->out.lo), hi = vdupq_n_f32(p->out.hi);
    const int16x8_t sa = vdupq_n_s16(mode == NRT_BIN_SV ? A[0] : 0), sb = vdupq_n_s16(mode == NRT_BIN_VS ? B[0] : 0);
    for (size_t i = 0; i < n; i += 8) {
        size_t r = n - i < 8 ? n - i : 8;
        int16_t ta[8] = {0}, tb[8] = {0}, ty[8];
        int16x8_t a = sa, b = sb;
        if (mode != NRT_BIN_SV) a = r == 8 ? vld1q_s16(A + i) : (memcpy(ta, A + i, r * sizeof *ta), vld1q_s16(ta));
        if (mode != NRT_BIN_VS) b = r == 8 ? vld1q_s16(B + i) : (memcpy(tb, B + i, r * sizeof *tb), vld1q_s16(tb));
        int16x4_t y0 = finish4(op4(mul, vmovl_s16(vget_low_s16(a)), vmovl_s16(vget_low_s16(b)), ma, mb), lo, hi);
        int16x4_t y1 = finish4(op4(mul, vmovl_high_s16(a), vmovl_high_s16(b), ma, mb), lo, hi);
        if (r == 8) {
            vst1q_s16(Y + i, vcombine_s16(y0, y1));
        } else {
            vst1q_s16(ty, vcombine_s16(y0, y1));
            memcpy(Y + i, ty, r * sizeof *ty);
        }
    }
}

void nrt_qs16_vadd_neon(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode) {
    binary16(false, k, a, b, y, n, mode);
}

void nrt_qs16_vmul_neon(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode) {
    binary16(true, k, a, b, y, n, mode);
}
