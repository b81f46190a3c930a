/* qs8-qc8w-gemm-4x4-minmax-fp32-scalar: the reference level's int8 GEMM /
 * IGEMM, portable C, up to 4 rows x 4 columns per call; panel layout of
 * gemm.h (nrt_gemm_format_qs8_qc8w) with kr = 1 and x_offset 0 (signed products). */
#include <string.h>

#include "../requant.h"
#include "../qs8_kernels.h"

#define MR 4
#define NR 4

/* acc += rows ap[0 .. mr) times the kc x NR block at w; returns w past it. */
static const int8_t* accumulate(int32_t acc[MR][NR], const int8_t* const* ap, size_t mr, size_t kc,
                                const int8_t* w) {
    for (size_t k = 0; k < kc; k++, w += NR)
        for (size_t r = 0; r < mr; r++)
            for (size_t j = 0; j < NR; j++) acc[r][j] = nrt_mac_wrap(acc[r][j], ap[r][k], w[j]);
    return w;
}

static void tile(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind, const int8_t* a,
                 size_t a_stride, const void* packed, int8_t* c, size_t c_stride, const nrt_qs8_requant* rq) {
    const int8_t* w = packed;
    int32_t acc[MR][NR];
    for (size_t r = 0; r < MR; r++) memcpy(acc[r], w, sizeof acc[r]);
    w += NR * sizeof(int32_t);
    const int8_t* ap[MR];
    for (size_t p = 0; p < ks; p++) {
        for (size_t r = 0; r < mr; r++) ap[r] = ind ? (const int8_t*)ind[p * MR + r] : a + r * a_stride;
        w = accumulate(acc, ap, mr, kc, w);
    }
    float m[NR];
    memcpy(m, w, sizeof m);
    for (size_t r = 0; r < mr; r++)
        for (size_t j = 0; j < nc; j++) c[r * c_stride + j] = nrt_qs8_requant_value((float)acc[r][j] * m[j], rq);
}

static void qs8_gemm_4x4_scalar(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride, const void* w,
                                void* c, size_t c_stride, const void* params) {
    tile(mr, nc, kc, 1, NULL, a, a_stride, w, c, c_stride, params);
}

static void qs8_igemm_4x4_scalar(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* a, const void* w,
                                 void* c, size_t c_stride, const void* params) {
    tile(mr, nc, kc, ks, a, NULL, 0, w, c, c_stride, params);
}

const nrt_gemm_table nrt_qs8_qc8w_gemm_4x4_minmax_fp32_scalar = {
    .name = "qs8-qc8w-gemm-4x4-minmax-fp32-scalar", .isa = NRT_ISA_REF, .mr = MR, .nr = NR, .kr = 1,
    .format = &nrt_gemm_format_qs8_qc8w, .gemm = qs8_gemm_4x4_scalar, .igemm = qs8_igemm_4x4_scalar,
};
