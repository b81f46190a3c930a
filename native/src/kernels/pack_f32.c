/* float32 packed weights: the GEMM panels of nrt_gemm_format_f32 (gemm.h) and the
 * depthwise tiles of nrt_dwconv_format_f32 (dwconv.h). */

#include <string.h>

#include "dwconv.h"
#include "gemm.h"

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

static size_t gemm_panel_bytes(const nrt_gemm_table* t, size_t kc, size_t ks) {
    return (size_t)t->nr * (1 + ks * ceil_div(kc, t->kr) * t->kr) * sizeof(float);
}

static void gemm_pack(const nrt_gemm_table* t, const nrt_gemm_weights* a, void* packed) {
    const float *w = a->w, *bias = a->bias;
    size_t nr = t->nr, kcr = ceil_div(a->kc, t->kr) * t->kr;
    float* p = packed;
    for (size_t n0 = 0; n0 < a->n; n0 += nr) {
        size_t nc = a->n - n0 < nr ? a->n - n0 : nr;
        for (size_t j = 0; j < nr; j++) *p++ = j < nc && bias ? bias[n0 + j] : 0.0f;
        for (size_t tap = 0; tap < a->ks; tap++)
            for (size_t k = 0; k < kcr; k++, p += nr) {
                if (k >= a->kc) {
                    memset(p, 0, nr * sizeof(float));
                    continue;
                }
                const float* src = w + n0 * a->stride_n + tap * a->stride_tap + k * a->stride_k;
                if (nc == nr && a->stride_n == 1) memcpy(p, src, nr * sizeof(float)); /* (a MatMul's B, every run) */
                else
                    for (size_t j = 0; j < nr; j++) p[j] = j < nc ? src[j * a->stride_n] : 0.0f;
            }
    }
}

const nrt_gemm_format nrt_gemm_format_f32 = {
    .name = "f32", .a_bytes = 4, .c_bytes = 4, .w_bytes = 4, .bias_bytes = 4,
    .task_macs = 131072.0, /* ~3 us of a Zen 4 core at ~40 GFMA/s: a share handed over costs ~1 us */
    .panel_bytes = gemm_panel_bytes, .pack = gemm_pack,
};

static size_t dw_tile_bytes(const nrt_dwconv_table* t,
                            size_t taps) { return (size_t)t->cw * (1 + taps) * sizeof(float); }

/* The padding is 0.0: kernel rows left out fold nothing into the bias. */
static void dw_pack(const nrt_dwconv_table* t, const nrt_dwconv_weights* a, void* packed) {
    const float *w = a->w, *bias = a->bias;
    size_t cw = t->cw, taps = a->kh * a->kw;
    float* p = packed;
    for (size_t c0 = 0; c0 < a->channels; c0 += cw) {
        for (size_t j = 0; j < cw; j++) *p++ = c0 + j < a->channels && bias ? bias[c0 + j] : 0.0f;
        for (size_t tap = a->ky0 * a->kw; tap < a->ky1 * a->kw; tap++)
            for (size_t j = 0; j < cw; j++) *p++ = c0 + j < a->channels ? w[(c0 + j) * taps + tap] : 0.0f;
    }
}

const nrt_dwconv_format nrt_dwconv_format_f32 = {
    .name = "f32", .x_bytes = 4, .y_bytes = 4, .w_bytes = 4, .bias_bytes = 4,
    .tile_bytes = dw_tile_bytes, .pack = dw_pack,
};
