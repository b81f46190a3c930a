/* AVX2 + FMA float32 activations, inlined into this tier's kernels; same
 * accuracy as f32_act_avx512.h. exp builds 2^n from the exponent bits, so
 * its input is clamped to [-87.3, 88.7]: results below ~1e-38 come out as
 * ~1e-38 instead of subnormals / 0, which no activation here can see. */
#ifndef NRT_F32_ACT_AVX2_H
#define NRT_F32_ACT_AVX2_H

#include <immintrin.h>
#include <stdbool.h>

#include "../activation.h"
#include "../isa.h"


static inline bool nrt_f32_act_simd256(unsigned kind) {
    return kind < NRT_ACT_COUNT;
}

NRT_ISA_INLINE(AVX2) __m256 nrt_exp256(__m256 x) {
    x = _mm256_min_ps(_mm256_set1_ps(88.7228f), _mm256_max_ps(_mm256_set1_ps(-87.3365f), x));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    /* n in [-126, 128]: 2^n from the exponent field, in two halves so n = 128 (x near 88.72) stays finite */
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

NRT_ISA_INLINE(AVX2) __m256 nrt_sigmoid256(__m256 x) {
    __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, nrt_exp256(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

/* tanh(x) as nrt_tanh512 (f32_act_avx512.h). */
NRT_ISA_INLINE(AVX2) __m256 nrt_tanh256(__m256 x) {
    __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    __m256 ax = _mm256_andnot_ps(sign, x), z = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954e-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
    __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
    __m256 e = nrt_exp256(_mm256_min_ps(_mm256_set1_ps(40.0f), _mm256_add_ps(ax, ax)));
    __m256 big = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
    big = _mm256_or_ps(big, _mm256_and_ps(sign, x));
    return _mm256_blendv_ps(big, small, _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
}

/* Gelu as nrt_gelu512 (f32_act_avx512.h). */
NRT_ISA_INLINE(AVX2) __m256 nrt_gelu256(__m256 x) {
    __m256 z = _mm256_mul_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x), _mm256_set1_ps(0.70710678118654752f));
    __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(z, _mm256_set1_ps(0.5f), _mm256_set1_ps(1.0f)));
    __m256 p = _mm256_set1_ps(-6.0232758693e-02f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(2.8880806561e-01f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-4.9270906292e-01f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(2.8019052183e-01f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-2.4699647951e-02f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(2.0005062800e-01f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(2.4443210267e-01f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(2.8203054239e-01f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(2.8213184520e-01f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-2.3920240923e-06f));
    __m256 z2 = _mm256_mul_ps(z, z), zz = _mm256_min_ps(_mm256_set1_ps(100.0f), z2);
    __m256 half_q = _mm256_mul_ps(_mm256_mul_ps(p, nrt_exp256(_mm256_sub_ps(_mm256_setzero_ps(), zz))), _mm256_set1_ps(0.5f));
    half_q = _mm256_and_ps(half_q, _mm256_cmp_ps(z2, _mm256_set1_ps(100.0f), _CMP_LT_OQ)); /* (past: Phi is 0 or 1) */
    __m256 phi = _mm256_sub_ps(_mm256_set1_ps(1.0f), half_q);
    phi = _mm256_blendv_ps(phi, half_q, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
    return _mm256_mul_ps(x, phi);
}

NRT_ISA_INLINE(AVX2) __m256 nrt_act256(__m256 v, const nrt_activation* act) {
    switch (act->kind) {
    case NRT_ACT_RELU: return _mm256_max_ps(v, _mm256_setzero_ps());
    case NRT_ACT_CLIP:
        return _mm256_min_ps(_mm256_set1_ps(act->beta), _mm256_max_ps(_mm256_set1_ps(act->alpha), v));
    case NRT_ACT_LEAKY_RELU: {
        __m256 neg = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
        return _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(act->alpha)), neg);
    }
    case NRT_ACT_HARD_SIGMOID: {
        __m256 t = _mm256_fmadd_ps(v, _mm256_set1_ps(act->alpha), _mm256_set1_ps(act->beta));
        return _mm256_min_ps(_mm256_set1_ps(1.0f), _mm256_max_ps(_mm256_setzero_ps(), t));
    }
    case NRT_ACT_HARD_SWISH: {
        __m256 t = _mm256_fmadd_ps(v, _mm256_set1_ps(1.0f / 6.0f), _mm256_set1_ps(0.5f));
        t = _mm256_min_ps(_mm256_set1_ps(1.0f), _mm256_max_ps(_mm256_setzero_ps(), t));
        return _mm256_mul_ps(v, t);
    }
    case NRT_ACT_SIGMOID: return nrt_sigmoid256(v);
    case NRT_ACT_SILU: return _mm256_mul_ps(v, nrt_sigmoid256(v));
    case NRT_ACT_TANH: return nrt_tanh256(v);
    case NRT_ACT_GELU: return nrt_gelu256(v);
    default: return v;
    }
}

/* Lane masks for _mm256_maskload_ps / maskstore_ps: lanes below n (n <= 8). */
NRT_ISA_INLINE(AVX2) __m256i nrt_mask8(size_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n > 8 ? 8 : n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#endif
