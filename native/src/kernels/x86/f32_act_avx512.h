/* AVX-512 float32 activations, inlined into the kernels of this tier
 * (GEMM / depthwise epilogues, vector kernels). Accuracy against the
 * reference (nrt_activation_apply): Relu, Clip, LeakyRelu exact; HardSigmoid,
 * HardSwish within 1 ulp (x/6 becomes one FMA with 1/6); Sigmoid and SiLU
 * within ~3 ulp (Cephes exp polynomial as kernels/ref/exp_ref.h, then one
 * division); Tanh within ~4 ulp (nrt_tanh512); Gelu within 4 ulp
 * (nrt_gelu512). nrt_f32_act_simd512 says which kinds have SIMD code. */
#ifndef NRT_F32_ACT_AVX512_H
#define NRT_F32_ACT_AVX512_H

#include <immintrin.h>
#include <stdbool.h>

#include "../activation.h"
#include "../isa.h"


static inline bool nrt_f32_act_simd512(unsigned kind) {
    return kind < NRT_ACT_COUNT;
}

/* exp(x): x = n ln2 + r, |r| <= ln2/2, Cephes polynomial for exp(r), times
 * 2^n by vscalefps (which gives inf / 0 / subnormals past the range and
 * keeps NaN). */
NRT_ISA_INLINE(AVX512) __m512 nrt_exp512(__m512 x) {
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

NRT_ISA_INLINE(AVX512) __m512 nrt_sigmoid512(__m512 x) {
    __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, nrt_exp512(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

/* tanh(x): for |x| < 0.625 the odd polynomial x + x^3 P(x^2) (Cephes
 * tanhf's coefficients), which keeps small values exact to a few ulp; above,
 * 1 - 2 / (exp(2|x|) + 1) with x's sign (2|x| capped at 40, where tanh is 1
 * in float; NaN stays NaN). */
NRT_ISA_INLINE(AVX512) __m512 nrt_tanh512(__m512 x) {
    __m512 ax = _mm512_abs_ps(x), z = _mm512_mul_ps(x, x), one = _mm512_set1_ps(1.0f);
    __m512 p = _mm512_set1_ps(-5.70498872745e-3f);
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(2.06390887954e-2f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-5.37397155531e-2f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.33314422036e-1f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-3.33332819422e-1f));
    __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), x, x);
    __m512 e = nrt_exp512(_mm512_min_ps(_mm512_set1_ps(40.0f), _mm512_add_ps(ax, ax)));
    __m512 big = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
    big = _mm512_mask_sub_ps(big, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), _mm512_setzero_ps(), big);
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.625f), _CMP_LT_OQ), big, small);
}

/* Gelu, exact (erf) form: 0.5 x (1 + erf(z)), z = x / sqrt(2), computing
 * 1 + erf(z) directly so the negative tail keeps its relative accuracy.
 * |z| < 1: 1 + z A(z^2); 1 <= |z| < 10: erfc(|z|) = exp(-z^2 + R(1 / |z|)) / |z|
 * (z^2 split into two floats by an FMA), 1 + erf = 2 - erfc for z > 0 and
 * erfc for z < 0; beyond, 2 or 0. A and R: least-squares polynomial fits made
 * for nanort (A: relative error 1.4e-9; R: absolute 2e-7). Within 4 ulp of
 * the exact function wherever the reference's own 1 + erff(z) does not cancel
 * (tests/test_kernels_fp32.py). */
NRT_ISA_INLINE(AVX512) __m512 nrt_gelu512(__m512 x) {
    __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
    __m512 t = _mm512_abs_ps(z), s = _mm512_mul_ps(z, z);
    __m512 a = _mm512_set1_ps(7.897490286268294e-05f);
    a = _mm512_fmadd_ps(a, s, _mm512_set1_ps(-0.0008024125127121806f));
    a = _mm512_fmadd_ps(a, s, _mm512_set1_ps(0.005190025549381971f));
    a = _mm512_fmadd_ps(a, s, _mm512_set1_ps(-0.02685479260981083f));
    a = _mm512_fmadd_ps(a, s, _mm512_set1_ps(0.11283612251281738f));
    a = _mm512_fmadd_ps(a, s, _mm512_set1_ps(-0.3761262893676758f));
    a = _mm512_fmadd_ps(a, s, _mm512_set1_ps(1.128379225730896f));
    __m512 near = _mm512_fmadd_ps(z, a, _mm512_set1_ps(1.0f));
    __m512 u = _mm512_div_ps(_mm512_set1_ps(1.0f), t);
    __m512 r = _mm512_set1_ps(-0.05063122138381004f);
    r = _mm512_fmadd_ps(r, u, _mm512_set1_ps(0.3654671609401703f));
    r = _mm512_fmadd_ps(r, u, _mm512_set1_ps(-1.15390145778656f));
    r = _mm512_fmadd_ps(r, u, _mm512_set1_ps(2.076136827468872f));
    r = _mm512_fmadd_ps(r, u, _mm512_set1_ps(-2.279738426208496f));
    r = _mm512_fmadd_ps(r, u, _mm512_set1_ps(1.4124475717544556f));
    r = _mm512_fmadd_ps(r, u, _mm512_set1_ps(-0.16710199415683746f));
    r = _mm512_fmadd_ps(r, u, _mm512_set1_ps(-0.47842007875442505f));
    r = _mm512_fmadd_ps(r, u, _mm512_set1_ps(-0.0015453480882570148f));
    r = _mm512_fmadd_ps(r, u, _mm512_set1_ps(-0.5723183155059814f));
    __m512 s_lo = _mm512_fmsub_ps(t, t, s); /* t^2 = s + s_lo exactly */
    __m512 erfc = _mm512_mul_ps(nrt_exp512(_mm512_sub_ps(_mm512_sub_ps(r, s_lo), s)), u);
    __mmask16 pos = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_GT_OQ);
    __m512 far = _mm512_mask_sub_ps(erfc, pos, _mm512_set1_ps(2.0f), erfc);
    far = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, _mm512_set1_ps(10.0f), _CMP_LT_OQ),
                               _mm512_maskz_mov_ps(pos, _mm512_set1_ps(2.0f)), far);
    __m512 one_plus_erf = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, _mm512_set1_ps(1.0f), _CMP_LT_OQ), far, near);
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), one_plus_erf);
}

/* One vector through `act` (kinds with SIMD code only). */
NRT_ISA_INLINE(AVX512) __m512 nrt_act512(__m512 v, const nrt_activation* act) {
    switch (act->kind) {
    case NRT_ACT_RELU: return _mm512_max_ps(v, _mm512_setzero_ps());
    case NRT_ACT_CLIP:
        return _mm512_min_ps(_mm512_set1_ps(act->beta), _mm512_max_ps(_mm512_set1_ps(act->alpha), v));
    case NRT_ACT_LEAKY_RELU: {
        __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
        return _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(act->alpha));
    }
    case NRT_ACT_HARD_SIGMOID: {
        __m512 t = _mm512_fmadd_ps(v, _mm512_set1_ps(act->alpha), _mm512_set1_ps(act->beta));
        return _mm512_min_ps(_mm512_set1_ps(1.0f), _mm512_max_ps(_mm512_setzero_ps(), t));
    }
    case NRT_ACT_HARD_SWISH: {
        __m512 t = _mm512_fmadd_ps(v, _mm512_set1_ps(1.0f / 6.0f), _mm512_set1_ps(0.5f));
        t = _mm512_min_ps(_mm512_set1_ps(1.0f), _mm512_max_ps(_mm512_setzero_ps(), t));
        return _mm512_mul_ps(v, t);
    }
    case NRT_ACT_SIGMOID: return nrt_sigmoid512(v);
    case NRT_ACT_SILU: return _mm512_mul_ps(v, nrt_sigmoid512(v));
    case NRT_ACT_TANH: return nrt_tanh512(v);
    case NRT_ACT_GELU: return nrt_gelu512(v);
    default: return v;
    }
}

/* The same on 8 lanes (AVX-512VL forms of the above). */
NRT_ISA_INLINE(AVX512) __m256 nrt_act512_y(__m256 v, const nrt_activation* act) {
    return _mm512_castps512_ps256(nrt_act512(_mm512_castps256_ps512(v), act));
}

/* Lanes below n set (n <= 16). */
NRT_ISA_INLINE(AVX512) __mmask16 nrt_mask16(size_t n) { return (__mmask16)(n >= 16 ? 0xffffu : (1u << n) - 1u); }

#endif
