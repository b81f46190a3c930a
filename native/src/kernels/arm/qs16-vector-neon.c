/* The 16x8 glue on NEON (qs16_kernels.h), 8 values per step: FDIV (the
 * contract's IEEE division), FRINTN (rintf: nearest even), NaN lanes set to
 * 0, the clamp to [-32768, 32767] in float (exact: integer-valued floats and
 * representable bounds), FCVTZS and a narrowing that cannot saturate.
 * Dequantize: sign-extend, SCVTF (exact), one FMUL. A tail goes through
 * buffers: nothing read or written past n. */
#include <arm_neon.h>
#include <string.h>

#include "../qs16_kernels.h"

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
