/* NEON (AArch64 Advanced SIMD) float32 helpers shared by this tier's
 * kernels: activations for GEMM / depthwise epilogues and the vector
 * kernels, and partial-vector loads / stores for tails.
 *
 * Accuracy against the reference (nrt_activation_apply), as the x86 tiers:
 * Relu, Clip, LeakyRelu exact; HardSigmoid, HardSwish within 1 ulp (one
 * FMA with 1/6); Sigmoid and SiLU within ~3 ulp (the Cephes exp polynomial
 * of kernels/ref/exp_ref.h, then one division); Tanh within ~4 ulp
 * (nrt_tanh_neon); Gelu within ~8 ulp (nrt_gelu_neon).
 * NaN behaves as in the reference: Relu maps it to 0 (FMAXNM), the others
 * keep it (FMAX / FMIN propagate NaN). */
#ifndef NRT_F32_ACT_NEON_H
#define NRT_F32_ACT_NEON_H

#include <arm_neon.h>
#include <stdbool.h>

#include "../activation.h"
#include "../isa.h"


static inline bool nrt_f32_act_simd_neon(unsigned kind) {
    return kind < NRT_ACT_COUNT;
}

/* exp(x) for x clamped to [-87.3, 88.7]: x = n ln2 + r, Cephes polynomial
 * for exp(r), 2^n built in the exponent field in two halves so n = 128
 * stays finite. Below the clamp the result is ~1e-38 instead of 0, which no
 * activation here can see. */
NRT_ALWAYS_INLINE float32x4_t nrt_exp_neon(float32x4_t x) {
    x = vminq_f32(vdupq_n_f32(88.7228f), vmaxq_f32(vdupq_n_f32(-87.3365f), x));
    float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
    int32x4_t ni = vcvtq_s32_f32(n); /* n is integral: exact */
    int32x4_t n1 = vshrq_n_s32(ni, 1), n2 = vsubq_s32(ni, n1);
    float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, vdupq_n_s32(127)), 23));
    float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, vdupq_n_s32(127)), 23));
    return vmulq_f32(vmulq_f32(p, s1), s2);
}

NRT_ALWAYS_INLINE float32x4_t nrt_sigmoid_neon(float32x4_t x) {
    float32x4_t one = vdupq_n_f32(1.0f);
    return vdivq_f32(one, vaddq_f32(one, nrt_exp_neon(vnegq_f32(x))));
}

/* tanh(x): for |x| < 0.625 the odd polynomial x + x^3 P(x^2) (Cephes
 * tanhf's coefficients); above, 1 - 2 / (exp(2|x|) + 1) with x's sign (exp
 * clamps its input, so large |x| gives 1; NaN stays NaN). */
NRT_ALWAYS_INLINE float32x4_t nrt_tanh_neon(float32x4_t x) {
    float32x4_t ax = vabsq_f32(x), z = vmulq_f32(x, x), one = vdupq_n_f32(1.0f);
    float32x4_t p = vdupq_n_f32(-5.70498872745e-3f);
    p = vfmaq_f32(vdupq_n_f32(2.06390887954e-2f), p, z);
    p = vfmaq_f32(vdupq_n_f32(-5.37397155531e-2f), p, z);
    p = vfmaq_f32(vdupq_n_f32(1.33314422036e-1f), p, z);
    p = vfmaq_f32(vdupq_n_f32(-3.33332819422e-1f), p, z);
    float32x4_t small = vfmaq_f32(x, vmulq_f32(p, z), x);
    float32x4_t e = nrt_exp_neon(vaddq_f32(ax, ax));
    float32x4_t big = vsubq_f32(one, vdivq_f32(vdupq_n_f32(2.0f), vaddq_f32(e, one)));
    uint32x4_t sign = vdupq_n_u32(0x80000000u);
    big = vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(big), vandq_u32(sign, vreinterpretq_u32_f32(x))));
    return vbslq_f32(vcltq_f32(ax, vdupq_n_f32(0.625f)), small, big);
}

/* Gelu (erf form): x Phi(x), Phi(x) = 1 - q / 2 for x >= 0 and q / 2 below,
 * q = erfc(|x| / sqrt 2) = exp(-z^2) P(t), z = |x| / sqrt 2, t = 1 / (1 + z / 2),
 * P a degree-9 least-squares fit of erfc(z) exp(z^2) in t over z in [0, 9.5]
 * (relative error ~3e-7 in float32 arithmetic). No 1 - erf cancellation:
 * Phi keeps its relative accuracy in the negative tail too. z^2 is capped at
 * 100 (past it Phi is 0 or 1 in float; NaN stays NaN). */
NRT_ALWAYS_INLINE float32x4_t nrt_gelu_neon(float32x4_t x) {
    float32x4_t z = vmulq_f32(vabsq_f32(x), vdupq_n_f32(0.70710678118654752f));
    float32x4_t t = vdivq_f32(vdupq_n_f32(1.0f), vfmaq_f32(vdupq_n_f32(1.0f), z, vdupq_n_f32(0.5f)));
    float32x4_t p = vdupq_n_f32(-6.0232758693e-02f);
    p = vfmaq_f32(vdupq_n_f32(2.8880806561e-01f), p, t);
    p = vfmaq_f32(vdupq_n_f32(-4.9270906292e-01f), p, t);
    p = vfmaq_f32(vdupq_n_f32(2.8019052183e-01f), p, t);
    p = vfmaq_f32(vdupq_n_f32(-2.4699647951e-02f), p, t);
    p = vfmaq_f32(vdupq_n_f32(2.0005062800e-01f), p, t);
    p = vfmaq_f32(vdupq_n_f32(2.4443210267e-01f), p, t);
    p = vfmaq_f32(vdupq_n_f32(2.8203054239e-01f), p, t);
    p = vfmaq_f32(vdupq_n_f32(2.8213184520e-01f), p, t);
    p = vfmaq_f32(vdupq_n_f32(-2.3920240923e-06f), p, t);
    float32x4_t z2 = vmulq_f32(z, z), zz = vminq_f32(vdupq_n_f32(100.0f), z2);
    float32x4_t half_q = vmulq_f32(vmulq_f32(p, nrt_exp_neon(vnegq_f32(zz))), vdupq_n_f32(0.5f));
    half_q = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(half_q),
                                             vcltq_f32(z2, vdupq_n_f32(100.0f)))); /* (past: Phi is 0 or 1) */
    float32x4_t phi = vbslq_f32(vcltzq_f32(x), half_q, vsubq_f32(vdupq_n_f32(1.0f), half_q));
    return vmulq_f32(x, phi);
}

/* One vector through `act` (kinds with SIMD code only; others pass through). */
NRT_ALWAYS_INLINE float32x4_t nrt_act_neon(float32x4_t v, const nrt_activation* act) {
    switch (act->kind) {
    case NRT_ACT_RELU: return vmaxnmq_f32(v, vdupq_n_f32(0.0f));
    case NRT_ACT_CLIP:
        return vminq_f32(vmaxq_f32(v, vdupq_n_f32(act->alpha)), vdupq_n_f32(act->beta));
    case NRT_ACT_LEAKY_RELU:
        return vbslq_f32(vcltzq_f32(v), vmulq_f32(v, vdupq_n_f32(act->alpha)), v);
    case NRT_ACT_HARD_SIGMOID: {
        float32x4_t t = vfmaq_f32(vdupq_n_f32(act->beta), v, vdupq_n_f32(act->alpha));
        return vminq_f32(vmaxq_f32(t, vdupq_n_f32(0.0f)), vdupq_n_f32(1.0f));
    }
    case NRT_ACT_HARD_SWISH: {
        float32x4_t t = vfmaq_f32(vdupq_n_f32(0.5f), v, vdupq_n_f32(1.0f / 6.0f));
        return vmulq_f32(v, vminq_f32(vmaxq_f32(t, vdupq_n_f32(0.0f)), vdupq_n_f32(1.0f)));
    }
    case NRT_ACT_SIGMOID: return nrt_sigmoid_neon(v);
    case NRT_ACT_SILU: return vmulq_f32(v, nrt_sigmoid_neon(v));
    case NRT_ACT_TANH: return nrt_tanh_neon(v);
    case NRT_ACT_GELU: return nrt_gelu_neon(v);
    default: return v;
    }
}

/* The first n (1..3) floats at p, the other lanes 0: never reads past p[n - 1]. */
NRT_ALWAYS_INLINE float32x4_t nrt_ld_part_f32(const float* p, size_t n) {
    float32x4_t v = vdupq_n_f32(0.0f);
    if (n >= 2) {
        v = vcombine_f32(vld1_f32(p), vdup_n_f32(0.0f));
        if (n > 2) v = vld1q_lane_f32(p + 2, v, 2);
    } else {
        v = vld1q_lane_f32(p, v, 0);
    }
    return v;
}

/* Stores lanes [0, n) of v (n = 1..3). */
NRT_ALWAYS_INLINE void nrt_st_part_f32(float* p, float32x4_t v, size_t n) {
    if (n >= 2) {
        vst1_f32(p, vget_low_f32(v));
        if (n > 2) vst1q_lane_f32(p + 2, v, 2);
    } else {
        vst1q_lane_f32(p, v, 0);
    }
}

/* Stores the first n (0..8) lanes of {v0, v1}. */
NRT_ALWAYS_INLINE void nrt_st_upto8_f32(float* p, float32x4_t v0, float32x4_t v1, size_t n) {
    if (n >= 4) {
        vst1q_f32(p, v0);
        v0 = v1;
        p += 4;
        n -= 4;
    }
    if (n >= 4) vst1q_f32(p, v0);
    else if (n) nrt_st_part_f32(p, v0, n);
}

#endif
