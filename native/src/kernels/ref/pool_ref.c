#include "pool_ref.h"

#include <math.h>
#include <string.h>

/* First tap index k in [0, kernel) whose position start + k * d is >= lo,
 * and one past the last with position < hi. */
static void tap_range(int64_t start, int64_t kernel, int64_t d, int64_t lo, int64_t hi, int64_t* k0, int64_t* k1) {
    int64_t a = start >= lo ? 0 : (lo - start + d - 1) / d;
    int64_t b = start >= hi ? 0 : (hi - start + d - 1) / d;
    *k0 = a < kernel ? a : kernel;
    *k1 = b < kernel ? b : kernel;
    if (*k1 < *k0) *k1 = *k0;
}

#define MAXPOOL_ROWS(T, LOWEST)                                                                             \
    for (int64_t row = row_begin; row < row_end; row++) {                                                   \
        int64_t n = row / g->oh, oy = row % g->oh, y0 = oy * g->sh - g->pad_t, ky0, ky1;                    \
        tap_range(y0, g->kh, g->dh, 0, g->ih, &ky0, &ky1);                                                  \
        for (int64_t ox = 0; ox < g->ow; ox++) {                                                            \
            int64_t x0 = ox * g->sw - g->pad_l, kx0, kx1;                                                   \
            tap_range(x0, g->kw, g->dw, 0, g->iw, &kx0, &kx1);                                              \
            T* restrict yp = y + (row * g->ow + ox) * g->c;                                                 \
            for (int64_t c = 0; c < g->c; c++) yp[c] = LOWEST;                                              \
            for (int64_t ky = ky0; ky < ky1; ky++)                                                          \
                for (int64_t kx = kx0; kx < kx1; kx++) {                                                    \
                    const T* restrict xp = x + ((n * g->ih + y0 + ky * g->dh) * g->iw + x0 + kx * g->dw) * g->c; \
                    for (int64_t c = 0; c < g->c; c++) yp[c] = xp[c] > yp[c] ? xp[c] : yp[c];               \
                }                                                                                           \
        }                                                                                                   \
    }

void nrt_maxpool2d_f32_ref(const nrt_pool2d_geom* g, const float* x, float* y, int64_t row_begin, int64_t row_end) {
    MAXPOOL_ROWS(float, -INFINITY)
}

void nrt_maxpool2d_qs8_ref(const nrt_pool2d_geom* g, const int8_t* x, int8_t* y, int64_t row_begin, int64_t row_end) {
    MAXPOOL_ROWS(int8_t, INT8_MIN)
}

void nrt_maxpool2d_u8_ref(const nrt_pool2d_geom* g, const uint8_t* x, uint8_t* y, int64_t row_begin,
                          int64_t row_end) {
    MAXPOOL_ROWS(uint8_t, 0)
}

void nrt_avgpool2d_f32_ref(const nrt_pool2d_geom* g, const float* x, float* y, int64_t row_begin, int64_t row_end) {
    for (int64_t row = row_begin; row < row_end; row++) {
        int64_t n = row / g->oh, oy = row % g->oh, y0 = oy * g->sh - g->pad_t, ky0, ky1, py0, py1;
        tap_range(y0, g->kh, g->dh, 0, g->ih, &ky0, &ky1);
        tap_range(y0, g->kh, g->dh, -g->pad_t, g->ih + g->pad_b, &py0, &py1);
        for (int64_t ox = 0; ox < g->ow; ox++) {
            int64_t x0 = ox * g->sw - g->pad_l, kx0, kx1, px0, px1;
            tap_range(x0, g->kw, g->dw, 0, g->iw, &kx0, &kx1);
            tap_range(x0, g->kw, g->dw, -g->pad_l, g->iw + g->pad_r, &px0, &px1);
            float* restrict yp = y + (row * g->ow + ox) * g->c;
            memset(yp, 0, (size_t)g->c * sizeof(float));
            for (int64_t ky = ky0; ky < ky1; ky++)
                for (int64_t kx = kx0; kx < kx1; kx++) {
                    const float* restrict xp = x + ((n * g->ih + y0 + ky * g->dh) * g->iw + x0 + kx * g->dw) * g->c;
                    for (int64_t c = 0; c < g->c; c++) yp[c] += xp[c];
                }
            int64_t count = g->count_include_pad ? (py1 - py0) * (px1 - px0) : (ky1 - ky0) * (kx1 - kx0);
            float div = count > 0 ? (float)count : 1.0f;
            for (int64_t c = 0; c < g->c; c++) yp[c] /= div;
        }
    }
}

void nrt_global_maxpool_f32_ref(const float* x, int64_t hw, int64_t c, float* y, int64_t n_begin, int64_t n_end) {
    for (int64_t n = n_begin; n < n_end; n++) {
        float* restrict yp = y + n * c;
        for (int64_t j = 0; j < c; j++) yp[j] = -INFINITY;
        for (int64_t p = 0; p < hw; p++) {
            const float* restrict xp = x + (n * hw + p) * c;
            for (int64_t j = 0; j < c; j++) yp[j] = xp[j] > yp[j] ? xp[j] : yp[j];
        }
    }
}
