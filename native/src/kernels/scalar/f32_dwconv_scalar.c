/* f32-dwconv-4-scalar: the reference level's float32 depthwise convolution,
 * portable C, 4 channels per tile (f32_kernels.h). */
#include "../f32_kernels.h"

#define CW 4

static void f32_dwconv_4_scalar(const nrt_f32_dwconv_args* g, size_t npix, const float* x, size_t ky0, size_t ky1,
                                size_t kx0, size_t kx1, float* y) {
    size_t tile = CW * (1 + g->kh * g->kw);
    for (size_t p = 0; p < npix; p++) {
        const float* wt = g->w;
        for (size_t c0 = 0; c0 < g->channels; c0 += CW, wt += tile) {
            size_t n = g->channels - c0 < CW ? g->channels - c0 : CW;
            float acc[CW];
            for (size_t j = 0; j < CW; j++) acc[j] = wt[j];
            for (size_t ky = ky0; ky < ky1; ky++)
                for (size_t kx = kx0; kx < kx1; kx++) {
                    const float* xp = x + p * g->x_pixel + (ky - ky0) * g->x_tap_row + (kx - kx0) * g->x_tap_col + c0;
                    const float* wp = wt + CW * (1 + ky * g->kw + kx);
                    for (size_t j = 0; j < n; j++) acc[j] += xp[j] * wp[j];
                }
            for (size_t j = 0; j < n; j++) y[p * g->channels + c0 + j] = nrt_activation_apply(g->act, acc[j]);
        }
    }
}

const nrt_f32_dwconv_table nrt_f32_dwconv_4_scalar = {
    .name = "f32-dwconv-4-scalar", .isa = NRT_ISA_REF, .cw = CW, .run = f32_dwconv_4_scalar,
};
