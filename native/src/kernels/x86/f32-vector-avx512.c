/* f32-vector-avx512: elementwise float32 kernels (binary arithmetic with a
 * repeated operand, activations, column sums for global pooling, Softmax rows), 64 floats
 * per step, masked tails. Interface: f32_kernels.h. Min / Max propagate NaN
 * from either operand, as the reference does. */
#include <immintrin.h>
#include <math.h>

#include "../f32_kernels.h"
#include "../ref/binary_ref.h"
#include "f32_act_avx512.h"

NRT_ISA_INLINE(AVX512) __m512 vop(__m512 a, __m512 b, const int op) {
    switch (op) {
    case NRT_F32_VADD: return _mm512_add_ps(a, b);
    case NRT_F32_VSUB: return _mm512_sub_ps(a, b);
    case NRT_F32_VMUL: return _mm512_mul_ps(a, b);
    case NRT_F32_VDIV: return _mm512_div_ps(a, b);
    case NRT_F32_VMIN: /* vminps returns b when either is NaN: patch lanes where a is NaN */
        return _mm512_mask_mov_ps(_mm512_min_ps(a, b), _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q), a);
    case NRT_F32_VMAX:
        return _mm512_mask_mov_ps(_mm512_max_ps(a, b), _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q), a);
    default: /* PRelu, b the slope */
        return _mm512_mask_mov_ps(_mm512_mul_ps(a, b), _mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_GT_OQ), a);
    }
}

/* SA / SB: operand a / b is one repeated value. */
NRT_ISA_INLINE(AVX512) void vbinary(size_t n, const float* a, const float* b, float* y, const int op, const int SA,
                               const int SB) {
    __m512 va = SA ? _mm512_set1_ps(a[0]) : _mm512_setzero_ps(), vb = SB ? _mm512_set1_ps(b[0]) : _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++) {
            __m512 x0 = SA ? va : _mm512_loadu_ps(a + i + 16 * u), x1 = SB ? vb : _mm512_loadu_ps(b + i + 16 * u);
            _mm512_storeu_ps(y + i + 16 * u, vop(x0, x1, op));
        }
    }
    for (; i < n; i += 16) {
        __mmask16 m = nrt_mask16(n - i);
        __m512 x0 = SA ? va : _mm512_maskz_loadu_ps(m, a + i), x1 = SB ? vb : _mm512_maskz_loadu_ps(m, b + i);
        _mm512_mask_storeu_ps(y + i, m, vop(x0, x1, op));
    }
}

#define VBINARY(NAME, OP)                                                                                  \
    NRT_ISA_TARGET(AVX512) static void NAME(size_t n, const float* a, const float* b, float* y, int mode) {          \
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

/* The loop for one activation kind (a constant after inlining, so the switch in nrt_act512 folds away). */
NRT_ISA_INLINE(AVX512) void vact_loop(const nrt_activation* act, const float* x, float* y, size_t n,
                                      const unsigned kind) {
    nrt_activation a = *act;
    a.kind = (uint8_t)kind;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 v0 = nrt_act512(_mm512_loadu_ps(x + i), &a), v1 = nrt_act512(_mm512_loadu_ps(x + i + 16), &a);
        _mm512_storeu_ps(y + i, v0);
        _mm512_storeu_ps(y + i + 16, v1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = nrt_mask16(n - i);
        _mm512_mask_storeu_ps(y + i, m, nrt_act512(_mm512_maskz_loadu_ps(m, x + i), &a));
    }
}

NRT_ISA_TARGET(AVX512) void nrt_f32_vact_avx512(const nrt_activation* act, const float* x, float* y, size_t n) {
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

/* Column sums of x [n][c] times scale: 64 columns per pass over the rows. */
NRT_ISA_TARGET(AVX512) void nrt_f32_vsum_rows_avx512(const float* x, size_t n, size_t c, size_t stride, float scale,
                                                     float* y) {
    __m512 s = _mm512_set1_ps(scale);
    size_t j = 0;
    for (; j + 64 <= c; j += 64) {
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (size_t p = 0; p < n; p++) {
            const float* xp = x + p * stride + j;
            a0 = _mm512_add_ps(a0, _mm512_loadu_ps(xp));
            a1 = _mm512_add_ps(a1, _mm512_loadu_ps(xp + 16));
            a2 = _mm512_add_ps(a2, _mm512_loadu_ps(xp + 32));
            a3 = _mm512_add_ps(a3, _mm512_loadu_ps(xp + 48));
        }
        _mm512_storeu_ps(y + j, _mm512_mul_ps(a0, s));
        _mm512_storeu_ps(y + j + 16, _mm512_mul_ps(a1, s));
        _mm512_storeu_ps(y + j + 32, _mm512_mul_ps(a2, s));
        _mm512_storeu_ps(y + j + 48, _mm512_mul_ps(a3, s));
    }
    for (; j < c; j += 16) {
        __mmask16 m = nrt_mask16(c - j);
        __m512 a0 = _mm512_setzero_ps();
        for (size_t p = 0; p < n; p++) a0 = _mm512_add_ps(a0, _mm512_maskz_loadu_ps(m, x + p * stride + j));
        _mm512_mask_storeu_ps(y + j, m, _mm512_mul_ps(a0, s));
    }
}

/* ---- Softmax / LogSoftmax of one contiguous row ----
 *
 * exp of x - max (<= 0, or NaN): clamped below at -110 first, because
 * nrt_exp512 of -inf would compute inf - inf = NaN in its range reduction;
 * exp(-110) already rounds to 0 (vscalefps rounds the subnormal range the
 * way the reference does). max(c, v) returns v when v is NaN, so NaN stays
 * NaN and reaches the sum (every output of that row becomes NaN, as in the
 * reference). */
NRT_ISA_INLINE(AVX512) __m512 exp_nonpos512(__m512 v) { return nrt_exp512(_mm512_max_ps(_mm512_set1_ps(-110.0f), v)); }

NRT_ISA_INLINE(AVX512) __m512d widen_sum512(__m512d s, __m512 e) {
    return _mm512_add_pd(_mm512_add_pd(s, _mm512_cvtps_pd(_mm512_castps512_ps256(e))),
                         _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
}

NRT_ISA_TARGET(AVX512) static float row_max512(const float* x, size_t n) {
    __m512 m0 = _mm512_set1_ps(x[0]), m1 = m0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        m0 = _mm512_max_ps(m0, _mm512_loadu_ps(x + i));
        m1 = _mm512_max_ps(m1, _mm512_loadu_ps(x + i + 16));
    }
    for (; i < n; i += 16) {
        __mmask16 m = nrt_mask16(n - i);
        m0 = _mm512_mask_max_ps(m0, m, m0, _mm512_maskz_loadu_ps(m, x + i));
    }
    return _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
}

/* Sum of exp(x - mx) in double; the exponentials go to y unless y is NULL. */
NRT_ISA_TARGET(AVX512) static double exp_sum512(const float* x, float* y, size_t n, float mx) {
    __m512 vm = _mm512_set1_ps(mx);
    __m512d s0 = _mm512_setzero_pd(), s1 = s0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 e0 = exp_nonpos512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
        __m512 e1 = exp_nonpos512(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), vm));
        if (y) {
            _mm512_storeu_ps(y + i, e0);
            _mm512_storeu_ps(y + i + 16, e1);
        }
        s0 = widen_sum512(s0, e0);
        s1 = widen_sum512(s1, e1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = nrt_mask16(n - i);
        __m512 e = _mm512_maskz_mov_ps(m, exp_nonpos512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vm)));
        if (y) _mm512_mask_storeu_ps(y + i, m, e);
        s0 = widen_sum512(s0, e);
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
}

NRT_ISA_TARGET(AVX512) void nrt_f32_vsoftmax_avx512(bool log_softmax, const float* x, float* y, size_t n) {
    float mx = row_max512(x, n);
    size_t i = 0;
    if (!log_softmax) {
        __m512 f = _mm512_set1_ps((float)(1.0 / exp_sum512(x, y, n, mx)));
        for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_loadu_ps(y + i), f));
        __mmask16 m = nrt_mask16(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, y + i), f));
        return;
    }
    __m512 ls = _mm512_set1_ps((float)log(exp_sum512(x, NULL, n, mx))), vm = _mm512_set1_ps(mx);
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_sub_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm), ls));
    __mmask16 m = nrt_mask16(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vm), ls));
}

const nrt_f32_vbinary_ukernel nrt_f32_vbinary_avx512[NRT_F32_VOP_COUNT] = {vadd, vsub, vmul, vdiv, vmin, vmax, vprelu};

/* ---- MaxPool: one output pixel over its taps' pointers ----
 * max(x, acc) returns acc unless x > acc (vmaxps returns its second operand
 * on NaN and on equal values): the reference's order, exactly. */
NRT_ISA_TARGET(AVX512) void nrt_f32_maxpool_avx512(size_t channels, size_t taps, const float* const* ind, float* y) {
    const __m512 lowest = _mm512_set1_ps(-INFINITY);
    size_t c = 0;
    for (; c + 64 <= channels; c += 64) {
        __m512 a0 = lowest, a1 = lowest, a2 = lowest, a3 = lowest;
        for (size_t t = 0; t < taps; t++) {
            const float* x = ind[t] + c;
            a0 = _mm512_max_ps(_mm512_loadu_ps(x), a0);
            a1 = _mm512_max_ps(_mm512_loadu_ps(x + 16), a1);
            a2 = _mm512_max_ps(_mm512_loadu_ps(x + 32), a2);
            a3 = _mm512_max_ps(_mm512_loadu_ps(x + 48), a3);
        }
        _mm512_storeu_ps(y + c, a0);
        _mm512_storeu_ps(y + c + 16, a1);
        _mm512_storeu_ps(y + c + 32, a2);
        _mm512_storeu_ps(y + c + 48, a3);
    }
    for (; c < channels; c += 16) {
        __mmask16 m = nrt_mask16(channels - c);
        __m512 a = lowest;
        for (size_t t = 0; t < taps; t++) a = _mm512_max_ps(_mm512_maskz_loadu_ps(m, ind[t] + c), a);
        _mm512_mask_storeu_ps(y + c, m, a);
    }
}
