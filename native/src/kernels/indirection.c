#include "indirection.h"

#include <string.h>

/* Output pixel m as (image, row, column), advanced one pixel at a time. */
typedef struct pixel_pos {
    int64_t n, oy, ox;
} pixel_pos;

static pixel_pos pixel_at(const nrt_conv2d_geom* g, size_t m) {
    int64_t hw = g->oh * g->ow, rem = (int64_t)m % hw;
    return (pixel_pos){(int64_t)m / hw, rem / g->ow, rem % g->ow};
}

static void pixel_next(const nrt_conv2d_geom* g, pixel_pos* p) {
    if (++p->ox < g->ow) return;
    p->ox = 0;
    if (++p->oy < g->oh) return;
    p->oy = 0;
    p->n++;
}

/* Whether every tap of the window with corner (iy0, ix0) lies inside the input. */
static bool interior(const nrt_conv2d_geom* g, int64_t iy0, int64_t ix0) {
    return iy0 >= 0 && ix0 >= 0 && iy0 + (g->kh - 1) * g->dh < g->ih && ix0 + (g->kw - 1) * g->dw < g->iw;
}

void nrt_indirection_init(nrt_indirection* s, const nrt_conv2d_geom* g, const void* x, const void* pad, size_t es) {
    s->g = g;
    s->x = x;
    s->pad = pad;
    s->es = es;
    for (int64_t ky = 0; ky < g->kh && ky * g->kw < NRT_CONV_MAX_TAPS; ky++)
        for (int64_t kx = 0; kx < g->kw && ky * g->kw + kx < NRT_CONV_MAX_TAPS; kx++)
            s->tap_offset[ky * g->kw + kx] = (ptrdiff_t)((ky * g->dh * g->iw + kx * g->dw) * g->cin) * (ptrdiff_t)es;
}

void nrt_window_inside(int64_t start, int64_t kernel, int64_t d, int64_t n, int64_t* k0, int64_t* k1) {
    int64_t a = start >= 0 ? 0 : (-start + d - 1) / d, b = start >= n ? 0 : (n - start + d - 1) / d;
    *k0 = a < kernel ? a : kernel;
    *k1 = b < kernel ? b : kernel;
    if (*k1 < *k0) *k1 = *k0;
}

/* Element offset of pixel (n, iy, ix) of the input, channel 0. */
static const uint8_t* at(const nrt_indirection* s, int64_t n, int64_t iy, int64_t ix) {
    const nrt_conv2d_geom* g = s->g;
    return s->x + (size_t)(((n * g->ih + iy) * g->iw + ix) * g->cin) * s->es;
}

void nrt_indirection_gemm(const nrt_indirection* s, size_t MR, size_t m0, size_t mr, size_t grp, const void** ind) {
    const nrt_conv2d_geom* g = s->g;
    size_t taps = (size_t)(g->kh * g->kw), group_offset = grp * (size_t)(g->cin / g->group) * s->es;
    pixel_pos p = pixel_at(g, m0);
    int64_t iy0 = p.oy * g->sh - g->pad_t, ix0 = p.ox * g->sw - g->pad_l;
    if (p.ox + (int64_t)mr <= g->ow && interior(g, iy0, ix0) && interior(g, iy0, ix0 + ((int64_t)mr - 1) * g->sw)) {
        /* the common case: the tile's pixels in one output row, all inside: fixed strides */
        const uint8_t* corner = at(s, p.n, iy0, ix0) + group_offset;
        size_t xs = (size_t)(g->sw * g->cin) * s->es;
        for (size_t t = 0; t < taps; t++)
            for (size_t r = 0; r < MR; r++) ind[t * MR + r] = corner + s->tap_offset[t] + (r < mr ? r : mr - 1) * xs;
        return;
    }
    for (size_t r = 0; r < MR; r++) {
        if (r > 0 && r < mr) pixel_next(g, &p);
        iy0 = p.oy * g->sh - g->pad_t, ix0 = p.ox * g->sw - g->pad_l;
        const void** out = ind + r;
        if (interior(g, iy0, ix0)) { /* fixed offsets from the corner */
            const uint8_t* corner = at(s, p.n, iy0, ix0) + group_offset;
            for (size_t t = 0; t < taps; t++) out[t * MR] = corner + s->tap_offset[t];
            continue;
        }
        for (int64_t ky = 0; ky < g->kh; ky++) {
            int64_t iy = iy0 + ky * g->dh;
            bool row_in = iy >= 0 && iy < g->ih;
            for (int64_t kx = 0; kx < g->kw; kx++, out += MR) {
                int64_t ix = ix0 + kx * g->dw;
                *out = row_in && ix >= 0 && ix < g->iw ? at(s, p.n, iy, ix) + group_offset : (const void*)s->pad;
            }
        }
    }
}

size_t nrt_indirection_rows(const nrt_indirection* s, size_t MR, size_t kr, size_t m0, size_t mr, const void** ind,
                            uint8_t* edge) {
    const nrt_conv2d_geom* g = s->g;
    size_t run = (size_t)(g->kw * g->cin), es = s->es;
    pixel_pos p = pixel_at(g, m0);
    int64_t iy0 = p.oy * g->sh - g->pad_t, ix0 = p.ox * g->sw - g->pad_l;
    if (p.ox + (int64_t)mr <= g->ow && interior(g, iy0, ix0) && interior(g, iy0, ix0 + ((int64_t)mr - 1) * g->sw)) {
        /* the common case: the tile's pixels in one output row, all inside: fixed strides */
        const uint8_t* corner = at(s, p.n, iy0, ix0);
        size_t xs = (size_t)(g->sw * g->cin) * es, ys = (size_t)(g->dh * g->iw * g->cin) * es;
        for (size_t ky = 0; ky < (size_t)g->kh; ky++, corner += ys)
            for (size_t r = 0; r < MR; r++) ind[ky * MR + r] = corner + (r < mr ? r : mr - 1) * xs;
        size_t span = (run + kr - 1) / kr * kr;
        const uint8_t* last = ind[(size_t)(g->kh - 1) * MR + mr - 1];
        size_t left = (size_t)(s->x + (size_t)(g->n * g->ih * g->iw * g->cin) * es - last) / es;
        return left >= span ? span : run;
    }
    for (size_t r = 0; r < MR; r++) {
        if (r > 0 && r < mr) pixel_next(g, &p);
        iy0 = p.oy * g->sh - g->pad_t, ix0 = p.ox * g->sw - g->pad_l;
        int64_t kx0, kx1;
        nrt_window_inside(ix0, g->kw, 1, g->iw, &kx0, &kx1);
        for (int64_t ky = 0; ky < g->kh; ky++) {
            int64_t iy = iy0 + ky * g->dh;
            const void** out = ind + (size_t)ky * MR + r;
            bool row_in = iy >= 0 && iy < g->ih;
            if (row_in && kx0 == 0 && kx1 == g->kw) {
                *out = at(s, p.n, iy, ix0);
                continue;
            }
            uint8_t* dst = edge + (r * (size_t)g->kh + (size_t)ky) * run * es;
            size_t lo = row_in ? (size_t)(kx0 * g->cin) : 0, hi = row_in ? (size_t)(kx1 * g->cin) : 0;
            for (size_t i = 0; i < lo; i++) memcpy(dst + i * es, s->pad, es);
            if (hi > lo) memcpy(dst + lo * es, at(s, p.n, iy, ix0 + kx0), (hi - lo) * es);
            for (size_t i = hi > lo ? hi : lo; i < run; i++) memcpy(dst + i * es, s->pad, es);
            *out = dst;
        }
    }
    return run;
}

void nrt_indirection_dw(const nrt_indirection* s, size_t row, int64_t ky0, int64_t ky1, bool all_rows, int64_t ox0,
                        int64_t np, const void** ind) {
    const nrt_conv2d_geom* g = s->g;
    size_t taps = (size_t)((ky1 - ky0) * g->kw);
    int64_t n = (int64_t)row / g->oh, iy0 = (int64_t)row % g->oh * g->sh - g->pad_t;
    for (int64_t p = 0; p < np; p++) {
        int64_t ix0 = (ox0 + p) * g->sw - g->pad_l;
        if (all_rows && interior(g, iy0, ix0)) {
            const uint8_t* corner = at(s, n, iy0, ix0);
            for (size_t t = 0; t < taps; t++) *ind++ = corner + s->tap_offset[t];
            continue;
        }
        for (int64_t ky = ky0; ky < ky1; ky++) {
            int64_t iy = iy0 + ky * g->dh;
            bool row_in = iy >= 0 && iy < g->ih;
            for (int64_t kx = 0; kx < g->kw; kx++) {
                int64_t ix = ix0 + kx * g->dw;
                *ind++ = row_in && ix >= 0 && ix < g->iw ? (const void*)at(s, n, iy, ix) : (const void*)s->pad;
            }
        }
    }
}

void nrt_interior_columns(const nrt_conv2d_geom* g, int64_t* ox0, int64_t* ox1) {
    int64_t last = g->iw - 1 - (g->kw - 1) * g->dw + g->pad_l; /* ox * sw may reach this */
    int64_t b = last < 0 ? 0 : last / g->sw + 1, a = (g->pad_l + g->sw - 1) / g->sw;
    *ox1 = b < g->ow ? b : g->ow;
    *ox0 = a < *ox1 ? a : *ox1;
}
