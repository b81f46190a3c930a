#include "qs16_dwconv_ref.h"

void nrt_qs16_dwconv_pack(const int8_t* w, int64_t channels, int64_t taps, int16_t* packed) {
    for (int64_t c = 0; c < channels; c++)
        for (int64_t t = 0; t < taps; t++) packed[t * channels + c] = w[c * taps + t];
}

/* acc[c] += x[c] * w[c] over the channels. */
static void tap(int32_t* restrict acc, const int16_t* restrict x, const int16_t* restrict w, int64_t channels) {
    for (int64_t c = 0; c < channels; c++) acc[c] += (int32_t)x[c] * w[c];
}

#define CHANNEL_BLOCK 256 /* accumulators on the stack */

/* One output pixel's channels [c0, c0 + len). */
static void pixel(const nrt_qs16_dwconv* d, int64_t n, int64_t oy, int64_t ox, int64_t c0, int64_t len) {
    const nrt_conv2d_geom* g = d->g;
    int64_t C = g->cout;
    int32_t acc[CHANNEL_BLOCK] = {0};
    for (int64_t ky = 0; ky < g->kh; ky++) {
        int64_t iy = oy * g->sh - g->pad_t + ky * g->dh;
        if (iy < 0 || iy >= g->ih) continue; /* padding taps read 0 */
        for (int64_t kx = 0; kx < g->kw; kx++) {
            int64_t ix = ox * g->sw - g->pad_l + kx * g->dw;
            if (ix < 0 || ix >= g->iw) continue;
            tap(acc, d->x + ((n * g->ih + iy) * g->iw + ix) * C + c0, d->w + (ky * g->kw + kx) * C + c0, len);
        }
    }
    int16_t* y = d->y + ((n * g->oh + oy) * g->ow + ox) * C + c0;
    for (int64_t c = 0; c < len; c++)
        y[c] = nrt_qs16_requantize((d->bias ? d->bias[c0 + c] : 0) + acc[c], d->m[c0 + c], &d->rq);
}

void nrt_qs16_dwconv_ref(const nrt_qs16_dwconv* d, int64_t row_begin, int64_t row_end) {
    const nrt_conv2d_geom* g = d->g;
    for (int64_t row = row_begin; row < row_end; row++)
        for (int64_t ox = 0; ox < g->ow; ox++)
            for (int64_t c0 = 0; c0 < g->cout; c0 += CHANNEL_BLOCK)
                pixel(d, row / g->oh, row % g->oh, ox, c0, g->cout - c0 < CHANNEL_BLOCK ? g->cout - c0 : CHANNEL_BLOCK);
}
