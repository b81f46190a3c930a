/* 16x8 packed weights: the GEMM panels of nrt_gemm_format_qs16_qc8w and the
 * depthwise tiles of nrt_dwconv_format_qs16_qc8w (qs16_kernels.h). */
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

/* ---- depthwise tiles ---- */

static size_t qs16_dw_tile_bytes(const nrt_dwconv_table* t, size_t taps) {
    return (size_t)t->cw * (sizeof(double) + sizeof(float) + ceil_div(taps, 2) * 2 * sizeof(int16_t));
}

/* Kernel rows [ky0, ky1) only: the others read the padding, whose value (0)
 * adds nothing. */
static void qs16_dw_pack(const nrt_dwconv_table* t, const nrt_dwconv_weights* a, void* packed) {
    const int8_t* w = a->w;
    const int64_t* bias = a->bias;
    size_t cw = t->cw, taps = a->kh * a->kw, t0 = a->ky0 * a->kw, t1 = a->ky1 * a->kw;
    uint8_t* p = packed;
    for (size_t c0 = 0; c0 < a->channels; c0 += cw) {
        for (size_t s = 0; s < cw; s++, p += sizeof(double)) {
            size_t c = c0 + nrt_qs16_dw_slot_channel(cw, s);
            double b = c < a->channels && bias ? (double)bias[c] : 0.0; /* exact: |B| <= NRT_QS16_MAX_BIAS */
            memcpy(p, &b, sizeof b);
        }
        for (size_t tap = t0; tap < t1; tap += 2)
            for (size_t s = 0; s < cw; s++)
                for (size_t k = tap; k < tap + 2; k++, p += sizeof(int16_t)) {
                    size_t c = c0 + nrt_qs16_dw_slot_channel(cw, s);
                    int16_t v = (int16_t)(c < a->channels && k < t1 ? w[c * taps + k] : 0);
                    memcpy(p, &v, sizeof v);
                }
        for (size_t s = 0; s < cw; s++, p += sizeof(float)) {
            size_t c = c0 + nrt_qs16_dw_slot_channel(cw, s);
            float v = c < a->channels ? a->scales[c] : 0.0f;
            memcpy(p, &v, sizeof v);
        }
    }
}

const nrt_dwconv_format nrt_dwconv_format_qs16_qc8w = {
    .name = "qs16-qc8w", .x_bytes = 2, .y_bytes = 2, .w_bytes = 1, .bias_bytes = 8,
    .tile_bytes = qs16_dw_tile_bytes, .pack = qs16_dw_pack,
};
