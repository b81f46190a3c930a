/* f32-vector-neon: elementwise float32 kernels (binary arithmetic with a
 * repeated operand, activations, column sums for global pooling), 16 floats
 * per step, then 4, then a 1..3 lane tail with lane loads / stores.
 * Interface: f32_kernels.h. Min / Max propagate NaN from either operand
 * (FMIN / FMAX do), as the reference does. */
#include <arm_neon.h>
#include <math.h>

#include "../f32_kernels.h"
#include "../ref/binary_ref.h"
#include "f32_act_neon.h"

NRT_ALWAYS_INLINE float32x4_t vop(float32x4_t a, float32x4_t b, const int op) {
    switch (op) {
    case NRT_F32_VADD: return vaddq_f32(a, b);
    case NRT_F32_VSUB: return vsubq_f32(a, b);
    case NRT_F32_VMUL: return vmulq_f32(a, b);
    case NRT_F32_VDIV: return vdivq_f32(a, b);
    case NRT_F32_VMIN: return vminq_f32(a, b);
    case NRT_F32_VMAX: return vmaxq_f32(a, b);
    default: return vbslq_f32(vcgtq_f32(a, vdupq_n_f32(0.0f)), a, vmulq_f32(a, b)); /* PRelu, b the slope */
    }
}

/* SA / SB: operand a / b is one repeated value. */
NRT_ALWAYS_INLINE void vbinary(size_t n, const float* a, const float* b, float* y, const int op, const int SA,
                             const int SB) {
    float32x4_t va = SA ? vld1q_dup_f32(a) : vdupq_n_f32(0.0f), vb = SB ? vld1q_dup_f32(b) : vdupq_n_f32(0.0f);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++) {
            float32x4_t x0 = SA ? va : vld1q_f32(a + i + 4 * u), x1 = SB ? vb : vld1q_f32(b + i + 4 * u);
            vst1q_f32(y + i + 4 * u, vop(x0, x1, op));
        }
    }
    for (; i + 4 <= n; i += 4) {
        float32x4_t x0 = SA ? va : vld1q_f32(a + i), x1 = SB ? vb : vld1q_f32(b + i);
        vst1q_f32(y + i, vop(x0, x1, op));
    }
    if (i < n) {
        float32x4_t x0 = SA ? va : nrt_ld_part_f32(a + i, n - i), x1 = SB ? vb : nrt_ld_part_f32(b + i, n - i);
        nrt_st_part_f32(y + i, vop(x0, x1, op), n - i);
    }
}

#define VBINARY(NAME, OP)                                                                                  \
    static void NAME(size_t n, const float* a, const float* b, float* y, int mode) {                      \
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

/* The loop for one activation kind (a constant after inlining, so the switch in nrt_act_neon folds away). */
NRT_ALWAYS_INLINE void vact_loop(const nrt_activation* act, const float* x, float* y, size_t n, const unsigned kind) {
    nrt_activation a = *act;
    a.kind = (uint8_t)kind;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float32x4_t v0 = nrt_act_neon(vld1q_f32(x + i), &a), v1 = nrt_act_neon(vld1q_f32(x + i + 4), &a);
        vst1q_f32(y + i, v0);
        vst1q_f32(y + i + 4, v1);
    }
    if (i + 4 <= n) {
        vst1q_f32(y + i, nrt_act_neon(vld1q_f32(x + i), &a));
        i += 4;
    }
    if (i < n) nrt_st_part_f32(y + i, nrt_act_neon(nrt_ld_part_f32(x + i, n - i), &a), n - i);
}

void nrt_f32_vact_neon(const nrt_activation* act, const float* x, float* y, size_t n) {
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

/* Column sums of x [n][c] times scale: 16 columns (4 accumulators) per pass over the rows. */
void nrt_f32_vsum_rows_neon(const float* x, size_t n, size_t c, size_t stride, float scale, float* y) {
    float32x4_t s = vdupq_n_f32(scale);
    size_t j = 0;
    for (; j + 16 <= c; j += 16) {
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
        for (size_t p = 0; p < n; p++) {
            const float* xp = x + p * stride + j;
            a0 = vaddq_f32(a0, vld1q_f32(xp));
            a1 = vaddq_f32(a1, vld1q_f32(xp + 4));
            a2 = vaddq_f32(a2, vld1q_f32(xp + 8));
            a3 = vaddq_f32(a3, vld1q_f32(xp + 12));
        }
        vst1q_f32(y + j, vmulq_f32(a0, s));
        vst1q_f32(y + j + 4, vmulq_f32(a1, s));
        vst1q_f32(y + j + 8, vmulq_f32(a2, s));
        vst1q_f32(y + j + 12, vmulq_f32(a3, s));
    }
    for (; j + 4 <= c; j += 4) {
        float32x4_t a0 = vdupq_n_f32(0.0f);
        for (size_t p = 0; p < n; p++) a0 = vaddq_f32(a0, vld1q_f32(x + p * stride + j));
        vst1q_f32(y + j, vmulq_f32(a0, s));
    }
    if (j < c) {
        float32x4_t a0 = vdupq_n_f32(0.0f);
        for (size_t p = 0; p < n; p++) a0 = vaddq_f32(a0, nrt_ld_part_f32(x + p * stride + j, c - j));
        nrt_st_part_f32(y + j, vmulq_f32(a0, s), c - j);
    }
}

const nrt_f32_vbinary_ukernel nrt_f32_vbinary_neon[NRT_F32_VOP_COUNT] = {vadd, vsub, vmul, vdiv, vmin, vmax, vprelu};

/* ---- MaxPool: one output pixel over its taps' pointers ----
 * A tap's value is taken where it is greater than the running max (vmaxq
 * would propagate NaN): the reference's order, exactly. */
NRT_ALWAYS_INLINE float32x4_t max_taken(float32x4_t x, float32x4_t acc) { return vbslq_f32(vcgtq_f32(x, acc), x, acc); }

void nrt_f32_maxpool_neon(size_t channels, size_t taps, const float* const* ind, float* y) {
    const float32x4_t lowest = vdupq_n_f32(-INFINITY);
    size_t c = 0;
    for (; c + 16 <= channels; c += 16) {
        float32x4_t a0 = lowest, a1 = lowest, a2 = lowest, a3 = lowest;
        for (size_t t = 0; t < taps; t++) {
            const float* x = ind[t] + c;
            a0 = max_taken(vld1q_f32(x), a0);
            a1 = max_taken(vld1q_f32(x + 4), a1);
            a2 = max_taken(vld1q_f32(x + 8), a2);
            a3 = max_taken(vld1q_f32(x + 12), a3);
        }
        vst1q_f32(y + c, a0);
        vst1q_f32(y + c + 4, a1);
        vst1q_f32(y + c + 8, a2);
        vst1q_f32(y + c + 12, a3);
    }
    for (; c + 4 <= channels; c += 4) {
        float32x4_t a = lowest;
        for (size_t t = 0; t < taps; t++) a = max_taken(vld1q_f32(ind[t] + c), a);
        vst1q_f32(y + c, a);
    }
    if (c < channels) {
        float32x4_t a = lowest;
        for (size_t t = 0; t < taps; t++) a = max_taken(nrt_ld_part_f32(ind[t] + c, channels - c), a);
        nrt_st_part_f32(y + c, a, channels - c);
    }
}
