/* f32-vector-avx2: the elementwise kernels of f32_vector_avx512.c on AVX2,
 * 32 floats per step, masked tails. */
#include <immintrin.h>

#include "../f32_kernels.h"
#include "../ref/binary_ref.h"
#include "f32_act_avx2.h"

NRT_AVX2_INLINE __m256 vop(__m256 a, __m256 b, const int op) {
    switch (op) {
    case NRT_F32_VADD: return _mm256_add_ps(a, b);
    case NRT_F32_VSUB: return _mm256_sub_ps(a, b);
    case NRT_F32_VMUL: return _mm256_mul_ps(a, b);
    case NRT_F32_VDIV: return _mm256_div_ps(a, b);
    case NRT_F32_VMIN: return _mm256_blendv_ps(_mm256_min_ps(a, b), a, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
    default: return _mm256_blendv_ps(_mm256_max_ps(a, b), a, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
    }
}

NRT_AVX2_INLINE void vbinary(size_t n, const float* a, const float* b, float* y, const int op, const int SA,
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
    NRT_AVX2 static void NAME(size_t n, const float* a, const float* b, float* y, int mode) {            \
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

NRT_AVX2_INLINE void vact_loop(const nrt_activation* act, const float* x, float* y, size_t n, const unsigned kind) {
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

NRT_AVX2 static void vact(const nrt_activation* act, const float* x, float* y, size_t n) {
    switch (act->kind) {
    case NRT_FB_ActivationKind_RELU: vact_loop(act, x, y, n, NRT_FB_ActivationKind_RELU); return;
    case NRT_FB_ActivationKind_CLIP: vact_loop(act, x, y, n, NRT_FB_ActivationKind_CLIP); return;
    case NRT_FB_ActivationKind_LEAKY_RELU: vact_loop(act, x, y, n, NRT_FB_ActivationKind_LEAKY_RELU); return;
    case NRT_FB_ActivationKind_HARD_SIGMOID: vact_loop(act, x, y, n, NRT_FB_ActivationKind_HARD_SIGMOID); return;
    case NRT_FB_ActivationKind_HARD_SWISH: vact_loop(act, x, y, n, NRT_FB_ActivationKind_HARD_SWISH); return;
    case NRT_FB_ActivationKind_SIGMOID: vact_loop(act, x, y, n, NRT_FB_ActivationKind_SIGMOID); return;
    case NRT_FB_ActivationKind_SILU: vact_loop(act, x, y, n, NRT_FB_ActivationKind_SILU); return;
    case NRT_FB_ActivationKind_NONE:
        if (x != y)
            for (size_t i = 0; i < n; i++) y[i] = x[i];
        return;
    default:
        for (size_t i = 0; i < n; i++) y[i] = nrt_activation_apply(act, x[i]);
    }
}

NRT_AVX2 static void vsum_rows(const float* x, size_t n, size_t c, size_t stride, float scale, float* y) {
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

const nrt_f32_vector_table nrt_f32_vector_avx2 = {
    "f32-vector-avx2", NRT_ISA_AVX2, {vadd, vsub, vmul, vdiv, vmin, vmax}, vact, vsum_rows,
};
