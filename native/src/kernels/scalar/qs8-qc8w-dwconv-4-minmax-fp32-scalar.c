/* qs8-qc8w-dwconv-4-minmax-fp32-scalar: the reference level's int8
 * depthwise convolution, portable C, 4 channels per tile, int8 weights
 * (NRT_QS8_DW_INT8); taps through the driver's pointers only (no row entry). */
#include <string.h>

#include "../requant.h"
#include "../qs8_kernels.h"

#define CW 4

static void qs8_dwconv_4_scalar(size_t channels, size_t npix, size_t taps, const void* const* ind, const void* w,
                                void* yv, size_t y_stride, const void* params) {
    int8_t* y = yv;
    const nrt_qs8_requant* rq = params;
    size_t tile = CW * (2 * sizeof(int32_t) + taps);
    for (size_t p = 0; p < npix; p++) {
        const uint8_t* wt = w;
        for (size_t c0 = 0; c0 < channels; c0 += CW, wt += tile) {
            size_t n = channels - c0 < CW ? channels - c0 : CW;
            int32_t acc[CW];
            float m[CW];
            memcpy(acc, wt, sizeof acc);
            const int8_t* wk = (const int8_t*)(wt + sizeof acc);
            for (size_t t = 0; t < taps; t++, wk += CW)
                for (size_t j = 0; j < n; j++) acc[j] = nrt_mac_wrap(acc[j],
                                                                     ((const int8_t*)ind[p * taps + t])[c0 + j], wk[j]);
            memcpy(m, wk, sizeof m);
            for (size_t j = 0; j < n; j++) y[p * y_stride + c0 + j] = nrt_qs8_requant_value((float)acc[j] * m[j], rq);
        }
    }
}

const nrt_dwconv_table nrt_qs8_qc8w_dwconv_4_minmax_fp32_scalar = {
    .name = "qs8-qc8w-dwconv-4-minmax-fp32-scalar", .isa = NRT_ISA_REF, .cw = CW, .layout = NRT_QS8_DW_INT8,
    .format = &nrt_dwconv_format_qs8_qc8w, .run = qs8_dwconv_4_scalar,
};
