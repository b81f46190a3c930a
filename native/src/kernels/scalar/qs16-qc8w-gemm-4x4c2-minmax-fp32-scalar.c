/* qs16-qc8w-gemm-4x4c2-minmax-fp32-scalar: the reference level's 16x8 GEMM /
 * IGEMM, portable C, up to 4 rows x 4 columns per call on
 * nrt_gemm_format_qs16_qc8w panels. It defines the results: an exact int64
 * sum (the bias and every product), then qs16_kernels.h's requantization. */
#include <string.h>

#include "../qs16_kernels.h"

#define MR 4
#define NR 4

/* acc += rows ap[0 .. mr) times the kc x NR block (pairs of k) at w; returns w past it. */
static const int16_t* accumulate(int64_t acc[MR][NR], const int16_t* const* ap, size_t mr, size_t kc,
                                 const int16_t* w) {
    for (size_t k = 0; k < kc; k += 2, w += NR * 2)
        for (size_t r = 0; r < mr; r++)
            for (size_t j = 0; j < NR; j++) {
                acc[r][j] += (int64_t)ap[r][k] * w[j * 2];
                if (k + 1 < kc) acc[r][j] += (int64_t)ap[r][k + 1] * w[j * 2 + 1];
            }
    return w;
}

static void tile(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind, const int16_t* a,
                 size_t a_stride, const void* packed, int16_t* c, size_t c_stride, const nrt_qs16_requant* rq) {
    const uint8_t* p = packed;
    double bias[NR];
    memcpy(bias, p, sizeof bias);
    int64_t acc[MR][NR];
    for (size_t r = 0; r < MR; r++)
        for (size_t j = 0; j < NR; j++) acc[r][j] = (int64_t)bias[j];
    const int16_t* w = (const int16_t*)(p + sizeof bias);
    const int16_t* ap[MR] = {0};
    for (size_t t = 0; t < ks; t++) {
        for (size_t r = 0; r < mr; r++) ap[r] = ind ? (const int16_t*)ind[t * MR + r] : a + r * a_stride;
        w = accumulate(acc, ap, mr, kc, w);
    }
    float m[NR];
    memcpy(m, w, sizeof m);
    for (size_t r = 0; r < mr; r++)
        for (size_t j = 0; j < nc; j++) c[r * c_stride + j] = nrt_qs16_requantize(acc[r][j], m[j], rq);
}

static void qs16_gemm_4x4c2_scalar(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride, const void* w,
                                   void* c, size_t c_stride, const void* params) {
    tile(mr, nc, kc, 1, NULL, a, a_stride, w, c, c_stride, params);
}

static void qs16_igemm_4x4c2_scalar(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* a, const void* w,
                                    void* c, size_t c_stride, const void* params) {
    tile(mr, nc, kc, ks, a, NULL, 0, w, c, c_stride, params);
}

const nrt_gemm_table nrt_qs16_qc8w_gemm_4x4c2_minmax_fp32_scalar = {
    .name = "qs16-qc8w-gemm-4x4c2-minmax-fp32-scalar", .isa = NRT_ISA_REF, .mr = MR, .nr = NR, .kr = 2,
    .format = &nrt_gemm_format_qs16_qc8w, .gemm = qs16_gemm_4x4c2_scalar, .igemm = qs16_igemm_4x4c2_scalar,
};
