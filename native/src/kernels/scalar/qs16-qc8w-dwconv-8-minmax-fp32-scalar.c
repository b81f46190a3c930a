/* qs16-qc8w-dwconv-8-minmax-fp32-scalar: the reference level's 16x8
 * depthwise convolution, portable C, 8 channels per tile of
 * nrt_dwconv_format_qs16_qc8w (whose slot order is the identity at 8); taps
 * through the driver's pointers only (no row entry). It defines the results:
 * the exact int64 sum of the bias and every product, then qs16_kernels.h's
 * requantization. */
#include <string.h>

#include "../qs16_kernels.h"

#define CW 8

static void qs16_dwconv_8_scalar(size_t channels, size_t npix, size_t taps, const void* const* ind, const void* w,
                                 void* yv, size_t y_stride, const void* params) {
    int16_t* y = yv;
    size_t tile = CW * (sizeof(double) + sizeof(float) + (taps + 1) / 2 * 2 * sizeof(int16_t));
    for (size_t p = 0; p < npix; p++) {
        const void* const* xp = ind + p * taps;
        const uint8_t* wt = w;
        for (size_t c0 = 0; c0 < channels; c0 += CW, wt += tile) {
            size_t n = channels - c0 < CW ? channels - c0 : CW;
            double bias[CW];
            float m[CW];
            memcpy(bias, wt, sizeof bias);
            int64_t acc[CW];
            for (size_t j = 0; j < CW; j++) acc[j] = (int64_t)bias[j];
            const int16_t* wk = (const int16_t*)(wt + sizeof bias);
            for (size_t t = 0; t < taps; t++) {
                const int16_t* x = (const int16_t*)xp[t] + c0;
                for (size_t j = 0; j < n; j++) acc[j] += (int64_t)x[j] * wk[2 * j + t % 2];
                if (t % 2 == 1 || t + 1 == taps) wk += 2 * CW;
            }
            memcpy(m, wk, sizeof m);
            for (size_t j = 0; j < n; j++) y[p * y_stride + c0 + j] = nrt_qs16_requantize(acc[j], m[j], params);
        }
    }
}

const nrt_dwconv_table nrt_qs16_qc8w_dwconv_8_minmax_fp32_scalar = {
    .name = "qs16-qc8w-dwconv-8-minmax-fp32-scalar", .isa = NRT_ISA_REF, .cw = CW,
    .format = &nrt_dwconv_format_qs16_qc8w, .run = qs16_dwconv_8_scalar,
};
