/* int8 AveragePool / GlobalAveragePool / GlobalMaxPool on NHWC tensors
 * (kernels/requant.h): sums of (x - zx) over the window in int32, then one
 * requantization with m(count) = s_x / (s_y * count). */
#include <string.h>

#include "../requant.h"
#include "qs8_ref.h"

/* First tap k in [0, kernel) at position start + k * d >= lo, and one past
 * the last below hi (as pool_ref.c's windows). */
static void tap_range(int64_t start, int64_t kernel, int64_t d, int64_t lo, int64_t hi, int64_t* k0, int64_t* k1) {
    int64_t a = start >= lo ? 0 : (lo - start + d - 1) / d;
    int64_t b = start >= hi ? 0 : (hi - start + d - 1) / d;
    *k0 = a < kernel ? a : kernel;
    *k1 = b < kernel ? b : kernel;
    if (*k1 < *k0) *k1 = *k0;
}

#define CBLOCK 256

void nrt_avgpool2d_qs8_ref(const nrt_pool2d_geom* g, const nrt_qs8_pool* p, int64_t row_begin, int64_t row_end) {
    uint32_t acc[CBLOCK]; /* wrapping (requant.h) */
    for (int64_t row = row_begin; row < row_end; row++) {
        int64_t n = row / g->oh, oy = row % g->oh, y0 = oy * g->sh - g->pad_t, ky0, ky1, py0, py1;
        tap_range(y0, g->kh, g->dh, 0, g->ih, &ky0, &ky1);
        tap_range(y0, g->kh, g->dh, -g->pad_t, g->ih + g->pad_b, &py0, &py1);
        for (int64_t ox = 0; ox < g->ow; ox++) {
            int64_t x0 = ox * g->sw - g->pad_l, kx0, kx1, px0, px1;
            tap_range(x0, g->kw, g->dw, 0, g->iw, &kx0, &kx1);
            tap_range(x0, g->kw, g->dw, -g->pad_l, g->iw + g->pad_r, &px0, &px1);
            int64_t taps = (ky1 - ky0) * (kx1 - kx0);
            int64_t count = g->count_include_pad ? (py1 - py0) * (px1 - px0) : taps;
            float m = nrt_avgpool_multiplier(p->s_x, p->s_y, count);
            int8_t* yp = p->y + (row * g->ow + ox) * g->c;
            for (int64_t c0 = 0; c0 < g->c; c0 += CBLOCK) {
                int64_t len = g->c - c0 < CBLOCK ? g->c - c0 : CBLOCK;
                for (int64_t j = 0; j < len; j++) acc[j] = (uint32_t)(-taps * p->zx);
                for (int64_t ky = ky0; ky < ky1; ky++)
                    for (int64_t kx = kx0; kx < kx1; kx++) {
                        const int8_t* xp =
                            p->x + ((n * g->ih + y0 + ky * g->dh) * g->iw + x0 + kx * g->dw) * g->c + c0;
                        for (int64_t j = 0; j < len; j++) acc[j] += (uint32_t)xp[j];
                    }
                for (int64_t j = 0; j < len; j++)
                    yp[c0 + j] = nrt_requantize((int32_t)acc[j], m, p->out.zero_point, p->out.qmin, p->out.qmax);
            }
        }
    }
}

void nrt_global_avgpool_qs8_ref(const nrt_qs8_pool* p, int64_t hw, int64_t c, int64_t n_begin, int64_t n_end) {
    uint32_t acc[CBLOCK]; /* wrapping (requant.h) */
    float m = nrt_avgpool_multiplier(p->s_x, p->s_y, hw);
    for (int64_t n = n_begin; n < n_end; n++)
        for (int64_t c0 = 0; c0 < c; c0 += CBLOCK) {
            int64_t len = c - c0 < CBLOCK ? c - c0 : CBLOCK;
            for (int64_t j = 0; j < len; j++) acc[j] = 0;
            for (int64_t q = 0; q < hw; q++) {
                const int8_t* xp = p->x + (n * hw + q) * c + c0;
                for (int64_t j = 0; j < len; j++) acc[j] += (uint32_t)(xp[j] - p->zx);
            }
            for (int64_t j = 0; j < len; j++)
                p->y[n * c + c0 + j] = nrt_requantize((int32_t)acc[j], m, p->out.zero_point, p->out.qmin, p->out.qmax);
        }
}

void nrt_global_maxpool_qs8_ref(const int8_t* x, int64_t hw, int64_t c, int8_t* y, int64_t n_begin, int64_t n_end) {
    for (int64_t n = n_begin; n < n_end; n++) {
        int8_t* yp = y + n * c;
        memset(yp, 0x80, (size_t)c); /* INT8_MIN */
        for (int64_t q = 0; q < hw; q++) {
            const int8_t* xp = x + (n * hw + q) * c;
            for (int64_t j = 0; j < c; j++) yp[j] = xp[j] > yp[j] ? xp[j] : yp[j];
        }
    }
}
