/* Quantized elementwise kernels: Add, Sub, Mul, Rescale (kernels/requant.h). */
#include <string.h>

#include "../requant.h"
#include "qs8_ref.h"

/* The three operand modes as separate loops (each vectorizes); EXPR sees
 * the int32 differences da = a - za, db = b - zb and the params p. */
#define S8_KERNEL(NAME, EXPR)                                                                              \
    void NAME(const nrt_binary_kernel* k, const void* pa, const void* pb, void* py, size_t n, int mode) {  \
        const nrt_qs8_binary* p = k->params;                                                                \
        const int8_t *A = pa, *B = pb;                                                                     \
        int8_t* Y = py;                                                                                    \
        int32_t zy = p->out.zero_point, qmin = p->out.qmin, qmax = p->out.qmax;                            \
        if (mode == NRT_BIN_VV) {                                                                          \
            for (size_t i = 0; i < n; i++) {                                                               \
                int32_t da = A[i] - p->za, db = B[i] - p->zb;                                              \
                Y[i] = nrt_requantize_float(EXPR, zy, qmin, qmax);                                         \
            }                                                                                              \
        } else if (mode == NRT_BIN_VS) {                                                                   \
            const int32_t db = B[0] - p->zb;                                                               \
            for (size_t i = 0; i < n; i++) {                                                               \
                int32_t da = A[i] - p->za;                                                                 \
                Y[i] = nrt_requantize_float(EXPR, zy, qmin, qmax);                                         \
            }                                                                                              \
        } else {                                                                                           \
            const int32_t da = A[0] - p->za;                                                               \
            for (size_t i = 0; i < n; i++) {                                                               \
                int32_t db = B[i] - p->zb;                                                                 \
                Y[i] = nrt_requantize_float(EXPR, zy, qmin, qmax);                                         \
            }                                                                                              \
        }                                                                                                  \
    }

/* Both products rounded to float, then one float addition (no FMA: -ffp-contract=off). */
S8_KERNEL(nrt_add_qs8_ref, p->ma * (float)da + p->mb * (float)db)
S8_KERNEL(nrt_mul_qs8_ref, p->ma * (float)(da * db))

void nrt_rescale_qs8_ref(const int8_t* x, int8_t* y, size_t n, int32_t zx, float m, const nrt_qs8_out* out) {
    if (m == 1.0f && zx == out->zero_point && out->qmin == -128 && out->qmax == 127) {
        if (x != y) memmove(y, x, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        y[i] = nrt_requantize_float((float)(x[i] - zx) * m, out->zero_point, out->qmin, out->qmax);
}

void nrt_qs8_to_f32_ref(const int8_t* x, size_t n, int32_t zx, float* f) {
    for (size_t i = 0; i < n; i++) f[i] = (float)(x[i] - zx);
}

void nrt_f32_to_qs8_ref(const float* f, size_t n, float m, const nrt_qs8_out* out, int8_t* y) {
    for (size_t i = 0; i < n; i++) y[i] = nrt_requantize_float(f[i] * m, out->zero_point, out->qmin, out->qmax);
}

void nrt_clamp_qs8_ref(int8_t* y, size_t n, int32_t qmin, int32_t qmax) {
    for (size_t i = 0; i < n; i++) y[i] = (int8_t)(y[i] < qmin ? qmin : (y[i] > qmax ? qmax : y[i]));
}
