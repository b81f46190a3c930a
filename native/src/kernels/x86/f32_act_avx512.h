/* AVX-512 float32 activations, inlined into the kernels of this tier
 * (GEMM / depthwise epilogues, vector kernels). Accuracy against the
 * reference (nrt_activation_apply): Relu, Clip, LeakyRelu exact; HardSigmoid,
 * HardSwish within 1 ulp (x/6 becomes one FMA with 1/6); Sigmoid and SiLU
 * within ~3 ulp (Cephes exp polynomial as kernels/ref/exp_ref.h, then one
 * division); Tanh within ~4 ulp (nrt_tanh512); Gelu within ~8 ulp
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

/* Gelu (erf form): x Phi(x), Phi(x) = 1 - q / 2 for x >= 0 and q / 2 below,
 * q = erfc(|x| / sqrt 2) = exp(-z^2) P(t), z = |x| / sqrt 2, t = 1 / (1 + z / 2),
 * P a degree-9 least-squares fit of erfc(z) exp(z^2) in t over z in [0, 9.5]
 * (relative error ~3e-7 in float32 arithmetic). No 1 - erf cancellation:
 * Phi keeps its relative accuracy in the negative tail too. z^2 is capped at
 * 100 (past it Phi is 0 or 1 in float; NaN stays NaN). */
NRT_ISA_INLINE(AVX512) __m512 nrt_gelu512(__m512 x) {
    __m512 z = _mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(0.70710678118654752f));
    __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(z, _mm512_set1_ps(0.5f), _mm512_set1_ps(1.0f)));
    __m512 p = _mm512_set1_ps(-6.0232758693e-02f);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(2.8880806561e-01f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-4.9270906292e-01f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(2.8019052183e-01f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-2.4699647951e-02f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(2.0005062800e-01f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(2.4443210267e-01f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(2.8203054239e-01f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(2.8213184520e-01f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-2.3920240923e-06f));
    __m512 zz = _mm512_min_ps(_mm512_set1_ps(100.0f), _mm512_mul_ps(z, z));
    __m512 half_q = _mm512_mul_ps(_mm512_mul_ps(p, nrt_exp512(_mm512_sub_ps(_mm512_setzero_ps(), zz))), _mm512_set1_ps(0.5f));
    __m512 phi = _mm512_sub_ps(_mm512_set1_ps(1.0f), half_q);
    phi = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), phi, half_q);
    return _mm512_mul_ps(x, phi);
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
