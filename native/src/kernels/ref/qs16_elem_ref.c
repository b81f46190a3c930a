/* 16-bit elementwise kernels: Add, Sub, Mul, table lookup, rescaling between int8 and int16
 * codes (ref/qs16_ref.h). */
#include "qs16_ref.h"

/* The three operand modes as separate loops (each vectorizes); EXPR sees the
 * int32 codes da, db and the params p. */
#define S16_KERNEL(NAME, EXPR)                                                                             \
    void NAME(const nrt_binary_kernel* k, const void* pa, const void* pb, void* py, size_t n, int mode) {  \
        const nrt_qs16_binary* p = k->params;                                                               \
        const int16_t *A = pa, *B = pb;                                                                    \
        int16_t* Y = py;                                                                                   \
        if (mode == NRT_BIN_VV) {                                                                          \
            for (size_t i = 0; i < n; i++) {                                                               \
                int32_t da = A[i], db = B[i];                                                              \
                Y[i] = nrt_qs16_requantize_float(EXPR, &p->out);                                           \
            }                                                                                              \
        } else if (mode == NRT_BIN_VS) {                                                                   \
            const int32_t db = B[0];                                                                       \
            for (size_t i = 0; i < n; i++) {                                                               \
                int32_t da = A[i];                                                                         \
                Y[i] = nrt_qs16_requantize_float(EXPR, &p->out);                                           \
            }                                                                                              \
        } else {                                                                                           \
            const int32_t da = A[0];                                                                       \
            for (size_t i = 0; i < n; i++) {                                                               \
                int32_t db = B[i];                                                                         \
                Y[i] = nrt_qs16_requantize_float(EXPR, &p->out);                                           \
            }                                                                                              \
        }                                                                                                  \
    }

/* Both products rounded to float, then one float addition (no FMA: -ffp-contract=off). */
S16_KERNEL(nrt_add_qs16_ref, p->ma * (float)da + p->mb * (float)db)
/* |da * db| <= 2^30: exact in int32, then rounded once to float. */
S16_KERNEL(nrt_mul_qs16_ref, p->ma * (float)(da * db))

void nrt_lut_qs16_ref(size_t n, const int16_t* x, const int16_t* table, int16_t* y) {
    for (size_t i = 0; i < n; i++) y[i] = table[(int32_t)x[i] + 32768];
}

void nrt_requantize_codes_ref(size_t n, const void* x, int x_size, int32_t zx, float m, int32_t zy, int32_t lo,
                              int32_t hi, void* y, int y_size) {
    const float flo = (float)(lo - zy), fhi = (float)(hi - zy);
    for (size_t i = 0; i < n; i++) {
        int32_t c = x_size == 1 ? ((const int8_t*)x)[i] : ((const int16_t*)x)[i];
        float v = (float)(c - zx) * m;
        v = v < flo ? flo : (v > fhi ? fhi : v);
        int32_t q = (int32_t)rintf(v) + zy;
        if (y_size == 1) ((int8_t*)y)[i] = (int8_t)q;
        else ((int16_t*)y)[i] = (int16_t)q;
    }
}
