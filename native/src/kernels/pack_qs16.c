/* 16x8 packed weights: the GEMM panels of nrt_gemm_format_qs16_qc8w (qs16_kernels.h). */
#include <string.h>

#include "qs16_kernels.h"

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

static size_t qs16_panel_bytes(const nrt_gemm_table* t, size_t kc, size_t ks) {
    return (size_t)t->nr * (sizeof(double) + sizeof(float) + ks * ceil_div(kc, 2) * 2 * sizeof(int16_t));
}

static void qs16_pack(const nrt_gemm_table* t, const nrt_gemm_weights* a, void* packed) {
    const int8_t* w = a->w;
    const int64_t* bias = a->bias;
    size_t nr = t->nr, kcb = ceil_div(a->kc, 2);
    uint8_t* p = packed;
    for (size_t n0 = 0; n0 < a->n; n0 += nr) {
        size_t nc = a->n - n0 < nr ? a->n - n0 : nr;
        for (size_t j = 0; j < nr; j++, p += sizeof(double)) {
            double b = j < nc && bias ? (double)bias[n0 + j] : 0.0; /* exact: |B| <= NRT_QS16_MAX_BIAS */
            memcpy(p, &b, sizeof b);
        }
        for (size_t tap = 0; tap < a->ks; tap++)
            for (size_t kb = 0; kb < kcb; kb++)
                for (size_t j = 0; j < nr; j++)
                    for (size_t kk = 0; kk < 2; kk++, p += sizeof(int16_t)) {
                        size_t k = kb * 2 + kk;
                        int16_t v = (int16_t)(j < nc && k < a->kc
                                                  ? w[(n0 + j) * a->stride_n + tap * a->stride_tap + k * a->stride_k]
                                                  : 0);
                        memcpy(p, &v, sizeof v);
                    }
        for (size_t j = 0; j < nr; j++, p += sizeof(float)) {
            float v = j < nc ? a->scales[n0 + j] : 0.0f;
            memcpy(p, &v, sizeof v);
        }
    }
}

const nrt_gemm_format nrt_gemm_format_qs16_qc8w = {
    .name = "qs16-qc8w", .a_bytes = 2, .c_bytes = 2, .w_bytes = 1, .bias_bytes = 8,
    .task_macs = 262144.0, /* int16 pair products: about twice the float rate */
    .panel_bytes = qs16_panel_bytes, .pack = qs16_pack,
};
