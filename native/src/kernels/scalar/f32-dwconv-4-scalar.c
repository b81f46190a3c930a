/* f32-dwconv-4-scalar: the reference level's float32 depthwise convolution,
 * portable C, 4 channels per tile (dwconv.h). */
#include "../dwconv_src.h"
#include "../f32_kernels.h"

#define CW 4

static void dw_all(const nrt_dw_src* s, size_t channels, size_t npix, const float* w, float* y, size_t y_stride,
                   const nrt_activation* act) {
    size_t tile = CW * (1 + s->kh * s->kw);
    for (size_t p = 0; p < npix; p++) {
        const float* wt = w;
        for (size_t c0 = 0; c0 < channels; c0 += CW, wt += tile) {
            size_t n = channels - c0 < CW ? channels - c0 : CW;
            float acc[CW];
            for (size_t j = 0; j < CW; j++) acc[j] = wt[j];
            const float* wk = wt + CW;
            for (size_t r = 0; r < s->kh; r++) {
                const float* xr = (const float*)nrt_dw_row(s, p, r, sizeof(float)) + c0;
                for (size_t kx = 0; kx < s->kw; kx++, wk += CW)
                    for (size_t j = 0; j < n; j++) acc[j] += xr[kx * s->ts + j] * wk[j];
            }
            for (size_t j = 0; j < n; j++) y[p * y_stride + c0 + j] = nrt_activation_apply(act, acc[j]);
        }
    }
}

static void f32_dwconv_4_scalar(size_t channels, size_t npix, size_t taps, const void* const* ind, const void* w,
                                void* y, size_t y_stride, const void* params) {
    nrt_dw_src s = nrt_dw_src_taps(ind, taps);
    dw_all(&s, channels, npix, w, y, y_stride, params);
}

static void f32_dwconv_row_4_scalar(size_t channels, size_t npix, size_t kh, size_t kw, const void* const* rows,
                                    size_t xs, size_t ts, const void* w, void* y, const void* params) {
    nrt_dw_src s = nrt_dw_src_rows(rows, kh, kw, xs, ts);
    dw_all(&s, channels, npix, w, y, channels, params);
}

const nrt_dwconv_table nrt_f32_dwconv_4_scalar = {
    .name = "f32-dwconv-4-scalar", .isa = NRT_ISA_REF, .cw = CW, .format = &nrt_dwconv_format_f32,
    .run = f32_dwconv_4_scalar, .row = f32_dwconv_row_4_scalar,
};
