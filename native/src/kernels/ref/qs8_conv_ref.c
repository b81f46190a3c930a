/* int8 Conv / ConvTranspose (kernels/requant.h). One output pixel at a time,
 * output channels in blocks of CBLOCK wrapping uint32 accumulators; the
 * innermost loops run over contiguous input channels (Conv: a dot product
 * with an OHWI weight row) or contiguous output channels (depthwise,
 * ConvTranspose). */
#include <string.h>

#include "../requant.h"
#include "qs8_ref.h"

#define CBLOCK 256

void nrt_conv_dw_pack_qs8(const int8_t* w, int64_t cout, int64_t kh, int64_t kw, int8_t* packed) {
    for (int64_t o = 0; o < cout; o++)
        for (int64_t t = 0; t < kh * kw; t++) packed[t * cout + o] = w[o * kh * kw + t];
}

static void init_acc(uint32_t* acc, const int32_t* bias, int64_t c0, int64_t len) {
    for (int64_t j = 0; j < len; j++) acc[j] = bias ? (uint32_t)bias[c0 + j] : 0u;
}

static void store(const nrt_qs8_conv* c, const uint32_t* acc, int8_t* y, int64_t c0, int64_t len) {
    for (int64_t j = 0; j < len; j++)
        y[j] = nrt_requantize((int32_t)acc[j], c->m[c0 + j], c->out.zero_point, c->out.qmin, c->out.qmax);
}

/* The input pixel a tap reads, or NULL for padding. */
static const int8_t* tap_pixel(const nrt_conv2d_geom* g, const int8_t* x, int64_t n, int64_t iy, int64_t ix) {
    if (iy < 0 || iy >= g->ih || ix < 0 || ix >= g->iw) return NULL;
    return x + ((n * g->ih + iy) * g->iw + ix) * g->cin;
}

/* Output channels [c0, c0 + len) of one pixel, general grouped conv. */
static void conv_block(const nrt_conv2d_geom* g, const nrt_qs8_conv* c, int64_t n, int64_t oy, int64_t ox,
                       int64_t c0, int64_t len, uint32_t* acc) {
    int64_t cpg = g->cin / g->group, opg = g->cout / g->group;
    for (int64_t ky = 0; ky < g->kh; ky++)
        for (int64_t kx = 0; kx < g->kw; kx++) {
            const int8_t* xp = tap_pixel(g, c->x, n, oy * g->sh - g->pad_t + ky * g->dh,
                                         ox * g->sw - g->pad_l + kx * g->dw);
            for (int64_t j = 0; j < len; j++) {
                int64_t o = c0 + j;
                const int8_t* w = c->w + ((o * g->kh + ky) * g->kw + kx) * cpg;
                uint32_t sum = 0;
                if (xp) {
                    const int8_t* xg = xp + o / opg * cpg;
                    for (int64_t i = 0; i < cpg; i++) sum += (uint32_t)(xg[i] * w[i]);
                } else {
                    for (int64_t i = 0; i < cpg; i++) sum += (uint32_t)(c->zx * w[i]);
                }
                acc[j] += sum;
            }
        }
}

/* Depthwise with packed weights: output channel o reads input channel o / mult. */
static void dw_block(const nrt_conv2d_geom* g, const nrt_qs8_conv* c, int64_t n, int64_t oy, int64_t ox, int64_t c0,
                     int64_t len, uint32_t* acc) {
    int64_t mult = g->cout / g->cin;
    for (int64_t ky = 0; ky < g->kh; ky++)
        for (int64_t kx = 0; kx < g->kw; kx++) {
            const int8_t* xp = tap_pixel(g, c->x, n, oy * g->sh - g->pad_t + ky * g->dh,
                                         ox * g->sw - g->pad_l + kx * g->dw);
            const int8_t* w = c->w + (ky * g->kw + kx) * g->cout + c0;
            if (!xp) {
                for (int64_t j = 0; j < len; j++) acc[j] += (uint32_t)(c->zx * w[j]);
            } else if (mult == 1) {
                for (int64_t j = 0; j < len; j++) acc[j] += (uint32_t)(xp[c0 + j] * w[j]);
            } else {
                for (int64_t j = 0; j < len; j++) acc[j] += (uint32_t)(xp[(c0 + j) / mult] * w[j]);
            }
        }
}

#define PATCH 4096 /* bytes of an output pixel's input patch gathered at once */

/* Ungrouped conv: the pixel's taps [t0, t1) gathered into one contiguous
 * patch (z_x for padding) in OHWI order, so each output channel adds one long
 * dot product with its weight row. */
static void patch_block(const nrt_conv2d_geom* g, const nrt_qs8_conv* c, int64_t n, int64_t oy, int64_t ox,
                        int64_t c0, int64_t len, uint32_t* acc, int8_t* patch) {
    int64_t taps = g->kh * g->kw, per = PATCH / g->cin, K = taps * g->cin;
    for (int64_t t0 = 0; t0 < taps; t0 += per) {
        int64_t t1 = t0 + per < taps ? t0 + per : taps;
        for (int64_t t = t0; t < t1; t++) {
            const int8_t* xp = tap_pixel(g, c->x, n, oy * g->sh - g->pad_t + t / g->kw * g->dh,
                                         ox * g->sw - g->pad_l + t % g->kw * g->dw);
            int8_t* dst = patch + (t - t0) * g->cin;
            if (xp) memcpy(dst, xp, (size_t)g->cin);
            else memset(dst, (int)c->zx, (size_t)g->cin);
        }
        int64_t plen = (t1 - t0) * g->cin;
        for (int64_t j = 0; j < len; j++) {
            const int8_t* w = c->w + (c0 + j) * K + t0 * g->cin;
            uint32_t sum = 0;
            for (int64_t i = 0; i < plen; i++) sum += (uint32_t)(patch[i] * w[i]);
            acc[j] += sum;
        }
    }
}

void nrt_conv2d_qs8_ref(const nrt_conv2d_geom* g, const nrt_qs8_conv* c, int64_t row_begin, int64_t row_end) {
    uint32_t acc[CBLOCK];
    _Alignas(64) int8_t patch[PATCH];
    bool use_patch = g->group == 1 && g->cin <= PATCH;
    for (int64_t row = row_begin; row < row_end; row++) {
        int64_t n = row / g->oh, oy = row % g->oh;
        for (int64_t ox = 0; ox < g->ow; ox++) {
            int8_t* y = c->y + (row * g->ow + ox) * g->cout;
            for (int64_t c0 = 0; c0 < g->cout; c0 += CBLOCK) {
                int64_t len = g->cout - c0 < CBLOCK ? g->cout - c0 : CBLOCK;
                init_acc(acc, c->bias, c0, len);
                if (c->dw_packed) dw_block(g, c, n, oy, ox, c0, len, acc);
                else if (use_patch) patch_block(g, c, n, oy, ox, c0, len, acc, patch);
                else conv_block(g, c, n, oy, ox, c0, len, acc);
                store(c, acc, y + c0, c0, len);
            }
        }
    }
}

/* ConvTranspose: input pixel (iy, ix) reaches output oy when
 * oy = iy * sh - pad_t + ky * dh; gathered per output pixel. */
static bool source(int64_t o, int64_t k, int64_t s, int64_t d, int64_t pad, int64_t in, int64_t* i) {
    int64_t t = o + pad - k * d;
    if (t < 0 || t % s != 0) return false;
    *i = t / s;
    return *i < in;
}

/* Adds one input pixel's contribution through tap (ky, kx) to output
 * channels [c0, c0 + len): acc[o] += (x[ci] - zx) * w[ci, ky, kx, o % opg]
 * over the input channels ci of o's group (weight rows contiguous in o). */
static void transpose_tap(const nrt_conv2d_geom* g, const nrt_qs8_conv* c, const int8_t* xp, int64_t ky, int64_t kx,
                          int64_t c0, int64_t len, uint32_t* acc) {
    int64_t cpg = g->cin / g->group, opg = g->cout / g->group;
    for (int64_t grp = c0 / opg; grp * opg < c0 + len; grp++) {
        int64_t lo = grp * opg > c0 ? grp * opg : c0, hi = (grp + 1) * opg < c0 + len ? (grp + 1) * opg : c0 + len;
        for (int64_t i = 0; i < cpg; i++) {
            int64_t ci = grp * cpg + i;
            int32_t d = xp[ci] - c->zx;
            const int8_t* w = c->w + ((ci * g->kh + ky) * g->kw + kx) * opg - grp * opg; /* indexed by o */
            for (int64_t o = lo; o < hi; o++) acc[o - c0] += (uint32_t)(d * w[o]);
        }
    }
}

void nrt_conv_transpose2d_qs8_ref(const nrt_conv2d_geom* g, const nrt_qs8_conv* c, int64_t row_begin,
                                 int64_t row_end) {
    uint32_t acc[CBLOCK];
    for (int64_t row = row_begin; row < row_end; row++) {
        int64_t n = row / g->oh, oy = row % g->oh;
        for (int64_t ox = 0; ox < g->ow; ox++) {
            int8_t* y = c->y + (row * g->ow + ox) * g->cout;
            for (int64_t c0 = 0; c0 < g->cout; c0 += CBLOCK) {
                int64_t len = g->cout - c0 < CBLOCK ? g->cout - c0 : CBLOCK;
                init_acc(acc, c->bias, c0, len);
                for (int64_t ky = 0; ky < g->kh; ky++) {
                    int64_t iy, ix;
                    if (!source(oy, ky, g->sh, g->dh, g->pad_t, g->ih, &iy)) continue;
                    for (int64_t kx = 0; kx < g->kw; kx++) {
                        if (!source(ox, kx, g->sw, g->dw, g->pad_l, g->iw, &ix)) continue;
                        const int8_t* xp = c->x + ((n * g->ih + iy) * g->iw + ix) * g->cin;
                        transpose_tap(g, c, xp, ky, kx, c0, len, acc);
                    }
                }
                store(c, acc, y + c0, c0, len);
            }
        }
    }
}
