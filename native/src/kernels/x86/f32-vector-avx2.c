/* f32-vector-avx2: the elementwise kernels of f32_vector_avx512.c on AVX2,
 * 32 floats per step, masked tails. */
#include <immintrin.h>
#include <math.h>

#include "../f32_kernels.h"
#include "../ref/binary_ref.h"
#include "f32_act_avx2.h"

NRT_ISA_INLINE(AVX2) __m256 vop(__m256 a, __m256 b, const int op) {
    switch (op) {
    case NRT_F32_VADD: return _mm256_add_ps(a, b);
    case NRT_F32_VSUB: return _mm256_sub_ps(a, b);
    case NRT_F32_VMUL: return _mm256_mul_ps(a, b);
    case NRT_F32_VDIV: return _mm256_div_ps(a, b);
    case NRT_F32_VMIN: return _mm256_blendv_ps(_mm256_min_ps(a, b), a, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
    case NRT_F32_VMAX: return _mm256_blendv_ps(_mm256_max_ps(a, b), a, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
    default: return _mm256_blendv_ps(_mm256_mul_ps(a, b), a, _mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_GT_OQ));
    }
}

NRT_ISA_INLINE(AVX2) void vbinary(size_t n, const float* a, const float* b, float* y, const int op, const int SA,
                             const int SB) {
    __m256 va = SA ? _mm256_set1_ps(a[0]) : _mm256_setzero_ps(), vb = SB ? _mm256_set1_ps(b[0]) : _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++) {
            __m256 x0 = SA ? va : _mm256_loadu_ps(a + i + 8 * u), x1 = SB ? vb : _mm256_loadu_ps(b + i + 8 * u);
            _mm256_storeu_ps(y + i + 8 * u, vop(x0, x1, op));
        }
    }
    for (; i < n; i += 8) {
        __m256i m = nrt_mask8(n - i);
        __m256 x0 = SA ? va : _mm256_maskload_ps(a + i, m), x1 = SB ? vb : _mm256_maskload_ps(b + i, m);
        _mm256_maskstore_ps(y + i, m, vop(x0, x1, op));
    }
}

#define VBINARY(NAME, OP)                                                                                  \
    NRT_ISA_TARGET(AVX2) static void NAME(size_t n, const float* a, const float* b, float* y, int mode) {            \
        if (mode == NRT_BIN_VS) vbinary(n, a, b, y, OP, 0, 1);                                            \
        else if (mode == NRT_BIN_SV) vbinary(n, a, b, y, OP, 1, 0);                                       \
        else vbinary(n, a, b, y, OP, 0, 0);                                                               \
    }
VBINARY(vadd, NRT_F32_VADD)
VBINARY(vsub, NRT_F32_VSUB)
VBINARY(vmul, NRT_F32_VMUL)
VBINARY(vdiv, NRT_F32_VDIV)
VBINARY(vmin, NRT_F32_VMIN)
VBINARY(vmax, NRT_F32_VMAX)
VBINARY(vprelu, NRT_F32_VPRELU)

NRT_ISA_INLINE(AVX2) void vact_loop(const nrt_activation* act, const float* x, float* y, size_t n,
                                    const unsigned kind) {
    nrt_activation a = *act;
    a.kind = (uint8_t)kind;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 v0 = nrt_act256(_mm256_loadu_ps(x + i), &a), v1 = nrt_act256(_mm256_loadu_ps(x + i + 8), &a);
        _mm256_storeu_ps(y + i, v0);
        _mm256_storeu_ps(y + i + 8, v1);
    }
    for (; i < n; i += 8) {
        __m256i m = nrt_mask8(n - i);
        _mm256_maskstore_ps(y + i, m, nrt_act256(_mm256_maskload_ps(x + i, m), &a));
    }
}

NRT_ISA_TARGET(AVX2) void nrt_f32_vact_avx2(const nrt_activation* act, const float* x, float* y, size_t n) {
    switch (act->kind) {
    case NRT_ACT_RELU: vact_loop(act, x, y, n, NRT_ACT_RELU); return;
    case NRT_ACT_CLIP: vact_loop(act, x, y, n, NRT_ACT_CLIP); return;
    case NRT_ACT_LEAKY_RELU: vact_loop(act, x, y, n, NRT_ACT_LEAKY_RELU); return;
    case NRT_ACT_HARD_SIGMOID: vact_loop(act, x, y, n, NRT_ACT_HARD_SIGMOID); return;
    case NRT_ACT_HARD_SWISH: vact_loop(act, x, y, n, NRT_ACT_HARD_SWISH); return;
    case NRT_ACT_SIGMOID: vact_loop(act, x, y, n, NRT_ACT_SIGMOID); return;
    case NRT_ACT_SILU: vact_loop(act, x, y, n, NRT_ACT_SILU); return;
    case NRT_ACT_TANH: vact_loop(act, x, y, n, NRT_ACT_TANH); return;
    case NRT_ACT_GELU: vact_loop(act, x, y, n, NRT_ACT_GELU); return;
    case NRT_ACT_NONE:
        if (x != y)
            for (size_t i = 0; i < n; i++) y[i] = x[i];
        return;
    default:
        for (size_t i = 0; i < n; i++) y[i] = nrt_activation_apply(act, x[i]);
    }
}

NRT_ISA_TARGET(AVX2) void nrt_f32_vsum_rows_avx2(const float* x, size_t n, size_t c, size_t stride, float scale,
                                                 float* y) {
    __m256 s = _mm256_set1_ps(scale);
    size_t j = 0;
    for (; j + 32 <= c; j += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (size_t p = 0; p < n; p++) {
            const float* xp = x + p * stride + j;
            a0 = _mm256_add_ps(a0, _mm256_loadu_ps(xp));
            a1 = _mm256_add_ps(a1, _mm256_loadu_ps(xp + 8));
            a2 = _mm256_add_ps(a2, _mm256_loadu_ps(xp + 16));
            a3 = _mm256_add_ps(a3, _mm256_loadu_ps(xp + 24));
        }
        _mm256_storeu_ps(y + j, _mm256_mul_ps(a0, s));
        _mm256_storeu_ps(y + j + 8, _mm256_mul_ps(a1, s));
        _mm256_storeu_ps(y + j + 16, _mm256_mul_ps(a2, s));
        _mm256_storeu_ps(y + j + 24, _mm256_mul_ps(a3, s));
    }
    for (; j < c; j += 8) {
        __m256i m = nrt_mask8(c - j);
        __m256 a0 = _mm256_setzero_ps();
        for (size_t p = 0; p < n; p++) a0 = _mm256_add_ps(a0, _mm256_maskload_ps(x + p * stride + j, m));
        _mm256_maskstore_ps(y + j, m, _mm256_mul_ps(a0, s));
    }
}

/* ---- Softmax / LogSoftmax of one contiguous row (see f32_vector_avx512.c) ----
 *
 * exp of x - max (<= 0, or NaN) on its own here: nrt_exp256 clamps its input
 * at -87.3 (no subnormals), which would turn tiny probabilities into ~1e-38.
 * Clamped at -110 instead (exp(-110) rounds to 0; max(c, v) keeps a NaN v),
 * n in [-159, 0] is applied as 2^n1 * 2^n2 with both halves normal, so the
 * subnormal range rounds once, as in the reference. */
NRT_ISA_INLINE(AVX2) __m256 exp_nonpos256(__m256 x) {
    x = _mm256_max_ps(_mm256_set1_ps(-110.0f), x);
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
    __m256i ni = _mm256_cvtps_epi32(n); /* NaN lanes: garbage scale, p is NaN anyway */
    __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

NRT_ISA_INLINE(AVX2) __m256d widen_sum256(__m256d s, __m256 e) {
    return _mm256_add_pd(_mm256_add_pd(s, _mm256_cvtps_pd(_mm256_castps256_ps128(e))),
                         _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
}

NRT_ISA_INLINE(AVX2) float hmax256(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

NRT_ISA_TARGET(AVX2) static float row_max256(const float* x, size_t n) {
    __m256 m0 = _mm256_set1_ps(x[0]), m1 = m0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + i));
        m1 = _mm256_max_ps(m1, _mm256_loadu_ps(x + i + 8));
    }
    for (; i < n; i += 8) { /* masked-off lanes read as x[0], a value already in the max */
        __m256 v = _mm256_maskload_ps(x + i, nrt_mask8(n - i));
        m0 = _mm256_max_ps(m0, _mm256_blendv_ps(_mm256_set1_ps(x[0]), v, _mm256_castsi256_ps(nrt_mask8(n - i))));
    }
    return hmax256(_mm256_max_ps(m0, m1));
}

NRT_ISA_TARGET(AVX2) static double exp_sum256(const float* x, float* y, size_t n, float mx) {
    __m256 vm = _mm256_set1_ps(mx);
    __m256d s0 = _mm256_setzero_pd(), s1 = s0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 e0 = exp_nonpos256(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        __m256 e1 = exp_nonpos256(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vm));
        if (y) {
            _mm256_storeu_ps(y + i, e0);
            _mm256_storeu_ps(y + i + 8, e1);
        }
        s0 = widen_sum256(s0, e0);
        s1 = widen_sum256(s1, e1);
    }
    for (; i < n; i += 8) {
        __m256i m = nrt_mask8(n - i);
        __m256 e = exp_nonpos256(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), vm));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(m));
        if (y) _mm256_maskstore_ps(y + i, m, e);
        s0 = widen_sum256(s0, e);
    }
    __m256d s = _mm256_add_pd(s0, s1);
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
    return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
}

NRT_ISA_TARGET(AVX2) void nrt_f32_vsoftmax_avx2(bool log_softmax, const float* x, float* y, size_t n) {
    float mx = row_max256(x, n);
    size_t i = 0;
    if (!log_softmax) {
        __m256 f = _mm256_set1_ps((float)(1.0 / exp_sum256(x, y, n, mx)));
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), f));
        for (; i < n; i++) y[i] *= _mm256_cvtss_f32(f);
        return;
    }
    float ls = (float)log(exp_sum256(x, NULL, n, mx));
    __m256 vls = _mm256_set1_ps(ls), vm = _mm256_set1_ps(mx);
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), vls));
    for (; i < n; i++) y[i] = (x[i] - mx) - ls;
}

const nrt_f32_vbinary_ukernel nrt_f32_vbinary_avx2[NRT_F32_VOP_COUNT] = {vadd, vsub, vmul, vdiv, vmin, vmax, vprelu};

/* ---- MaxPool: one output pixel over its taps' pointers ----
 * max(x, acc) returns acc unless x > acc (vmaxps returns its second operand
 * on NaN and on equal values): the reference's order, exactly. */
NRT_ISA_TARGET(AVX2) void nrt_f32_maxpool_avx2(size_t channels, size_t taps, const float* const* ind, float* y) {
    const __m256 lowest = _mm256_set1_ps(-INFINITY);
    size_t c = 0;
    for (; c + 32 <= channels; c += 32) {
        __m256 a0 = lowest, a1 = lowest, a2 = lowest, a3 = lowest;
        for (size_t t = 0; t < taps; t++) {
            const float* x = ind[t] + c;
            a0 = _mm256_max_ps(_mm256_loadu_ps(x), a0);
            a1 = _mm256_max_ps(_mm256_loadu_ps(x + 8), a1);
            a2 = _mm256_max_ps(_mm256_loadu_ps(x + 16), a2);
            a3 = _mm256_max_ps(_mm256_loadu_ps(x + 24), a3);
        }
        _mm256_storeu_ps(y + c, a0);
        _mm256_storeu_ps(y + c + 8, a1);
        _mm256_storeu_ps(y + c + 16, a2);
        _mm256_storeu_ps(y + c + 24, a3);
    }
    for (; c < channels; c += 8) {
        __m256i m = nrt_mask8(channels - c);
        __m256 a = lowest;
        for (size_t t = 0; t < taps; t++) a = _mm256_max_ps(_mm256_maskload_ps(ind[t] + c, m), a);
        _mm256_maskstore_ps(y + c, m, a);
    }
}
