/* f32-gemm-4x8-scalar: the reference level's float32 GEMM / IGEMM, portable
 * C, up to 4 rows x 8 columns per call (f32_kernels.h). */
#include "../f32_kernels.h"

#define MR 4
#define NR 8

/* Rows [0, mr) of A at ap[r] (kc floats each) times one panel block. */
static const float* accumulate(float acc[MR][NR], const float* const* ap, size_t mr, size_t kc, const float* w) {
    for (size_t k = 0; k < kc; k++, w += NR)
        for (size_t r = 0; r < mr; r++)
            for (size_t j = 0; j < NR; j++) acc[r][j] += ap[r][k] * w[j];
    return w;
}

static void store(float acc[MR][NR], size_t mr, size_t nc, float* c, size_t c_stride, const nrt_activation* act) {
    for (size_t r = 0; r < mr; r++)
        for (size_t j = 0; j < nc; j++) c[r * c_stride + j] = nrt_activation_apply(act, acc[r][j]);
}

static void init(float acc[MR][NR], const float* bias) {
    for (size_t r = 0; r < MR; r++)
        for (size_t j = 0; j < NR; j++) acc[r][j] = bias[j];
}

static void f32_gemm_4x8_scalar(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride, const void* w,
                                void* c, size_t c_stride, const void* params) {
    float acc[MR][NR];
    const float* ap[MR];
    init(acc, w);
    for (size_t r = 0; r < mr; r++) ap[r] = (const float*)a + r * a_stride;
    accumulate(acc, ap, mr, kc, (const float*)w + NR);
    store(acc, mr, nc, c, c_stride, params);
}

static void f32_igemm_4x8_scalar(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* a, const void* w,
                                 void* c, size_t c_stride, const void* params) {
    float acc[MR][NR];
    const float* ap[MR];
    const float* wp = (const float*)w + NR;
    init(acc, w);
    for (size_t p = 0; p < ks; p++) {
        for (size_t r = 0; r < mr; r++) ap[r] = a[p * MR + r];
        wp = accumulate(acc, ap, mr, kc, wp);
    }
    store(acc, mr, nc, c, c_stride, params);
}

const nrt_gemm_table nrt_f32_gemm_4x8_scalar = {
    .name = "f32-gemm-4x8-scalar", .isa = NRT_ISA_REF, .mr = MR, .nr = NR, .kr = 1,
    .format = &nrt_gemm_format_f32, .gemm = f32_gemm_4x8_scalar, .igemm = f32_igemm_4x8_scalar,
};
