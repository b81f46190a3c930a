#include "conv_ref.h"

#include <string.h>

/* The generic kernel computes PB output pixels x OCB output channels at a
 * time: every packed weight loaded feeds PB multiply-adds, and the inner
 * loop over OCB contiguous channels vectorizes. */
#define PB 4
#define OCB 64

void nrt_conv_pack_f32(const float* w, int64_t cout, int64_t kh, int64_t kw, int64_t cig, int64_t group,
                       float* packed) {
    int64_t taps = kh * kw;
    if (nrt_conv_is_depthwise(cig, group)) {
        for (int64_t oc = 0; oc < cout; oc++)
            for (int64_t t = 0; t < taps; t++) packed[t * cout + oc] = w[oc * taps + t];
        return;
    }
    int64_t cog = cout / group;
    for (int64_t oc = 0; oc < cout; oc++) {
        int64_t grp = oc / cog, j = oc % cog;
        for (int64_t t = 0; t < taps; t++)
            for (int64_t ic = 0; ic < cig; ic++)
                packed[((grp * taps + t) * cig + ic) * cog + j] = w[(oc * taps + t) * cig + ic];
    }
}

void nrt_bias_act_f32(float* y, int64_t pixels, int64_t c, const float* bias, const nrt_activation* act) {
    for (int64_t p = 0; p < pixels; p++) {
        float* restrict yp = y + p * c;
        if (bias)
            for (int64_t j = 0; j < c; j++) yp[j] += bias[j];
        switch (act->kind) {
        case NRT_ACT_NONE: break;
        case NRT_ACT_RELU:
            for (int64_t j = 0; j < c; j++) yp[j] = yp[j] > 0.0f ? yp[j] : 0.0f;
            break;
        case NRT_ACT_CLIP: {
            float lo = act->alpha, hi = act->beta;
            for (int64_t j = 0; j < c; j++) yp[j] = yp[j] < lo ? lo : (yp[j] > hi ? hi : yp[j]);
            break;
        }
        default:
            for (int64_t j = 0; j < c; j++) yp[j] = nrt_activation_apply(act, yp[j]);
            break;
        }
    }
}

/* acc[p][0..nc) += sum over i < k of rows[p][i] * w[i * ldw + 0..nc). */
static void micro_f32(const float* const rows[PB], int64_t k, const float* restrict w, int64_t ldw, int64_t nc,
                      float (*restrict acc)[OCB]) {
    for (int64_t i = 0; i < k; i++) {
        const float* restrict wi = w + i * ldw;
        float x0 = rows[0][i], x1 = rows[1][i], x2 = rows[2][i], x3 = rows[3][i];
        for (int64_t j = 0; j < nc; j++) {
            float wv = wi[j];
            acc[0][j] += x0 * wv;
            acc[1][j] += x1 * wv;
            acc[2][j] += x2 * wv;
            acc[3][j] += x3 * wv;
        }
    }
}

static void store_block(float (*acc)[OCB], int np, int64_t nc, float* y, int64_t ldy) {
    for (int p = 0; p < np; p++) memcpy(y + p * ldy, acc[p], (size_t)nc * sizeof(float));
}

/* Taps k in [*k0, *k1) of a window starting at `start` (dilation d) that fall inside [0, n). */
static void valid_taps(int64_t start, int64_t kernel, int64_t d, int64_t n, int64_t* k0, int64_t* k1) {
    int64_t a = start >= 0 ? 0 : (-start + d - 1) / d, b = start >= n ? 0 : (n - start + d - 1) / d;
    *k0 = a < kernel ? a : kernel;
    *k1 = b < kernel ? b : kernel;
    if (*k1 < *k0) *k1 = *k0;
}

/* Depthwise channels [c0, c0 + nc) of one output pixel, one input channel
 * per output channel; DWB channels accumulate in registers. */
#define DWB 16
static void dw_pixel_block(const float* x, int64_t base, const float* pw, float* yp, int64_t c0, int64_t nc,
                           int64_t c, int64_t row_stride, int64_t dh, int64_t dw, int64_t ky0, int64_t ky1,
                           int64_t kx0, int64_t kx1, int64_t kw) {
    float acc[DWB] = {0};
    for (int64_t ky = ky0; ky < ky1; ky++)
        for (int64_t kx = kx0; kx < kx1; kx++) {
            const float* restrict xp = x + (base + ky * dh * row_stride + kx * dw * c + c0);
            const float* restrict wk = pw + (ky * kw + kx) * c + c0;
            if (nc == DWB) {
                for (int j = 0; j < DWB; j++) acc[j] += xp[j] * wk[j];
            } else {
                for (int64_t j = 0; j < nc; j++) acc[j] += xp[j] * wk[j];
            }
        }
    memcpy(yp + c0, acc, (size_t)nc * sizeof(float));
}

/* Depthwise-like conv (one input channel per group, `cout / cin` outputs
 * each): per output pixel, the taps inside the input accumulate in order. */
static void conv_depthwise_rows(const nrt_conv2d_geom* g, const float* x, const float* pw, float* y,
                                int64_t row_begin, int64_t row_end) {
    int64_t m = g->cout / g->cin, row_stride = g->iw * g->cin;
    for (int64_t row = row_begin; row < row_end; row++) {
        int64_t n = row / g->oh, oy = row % g->oh, y0 = oy * g->sh - g->pad_t, ky0, ky1;
        valid_taps(y0, g->kh, g->dh, g->ih, &ky0, &ky1);
        for (int64_t ox = 0; ox < g->ow; ox++) {
            int64_t x0 = ox * g->sw - g->pad_l, kx0, kx1;
            valid_taps(x0, g->kw, g->dw, g->iw, &kx0, &kx1);
            float* restrict yp = y + (row * g->ow + ox) * g->cout;
            /* offset of the window's top-left tap, which may lie in the padding (only valid taps are read) */
            int64_t base = (n * g->ih + y0) * row_stride + x0 * g->cin;
            if (m == 1) {
                for (int64_t c0 = 0; c0 < g->cout; c0 += DWB)
                    dw_pixel_block(x, base, pw, yp, c0, g->cout - c0 < DWB ? g->cout - c0 : DWB, g->cout, row_stride,
                                   g->dh, g->dw, ky0, ky1, kx0, kx1, g->kw);
                continue;
            }
            memset(yp, 0, (size_t)g->cout * sizeof(float));
            for (int64_t ky = ky0; ky < ky1; ky++)
                for (int64_t kx = kx0; kx < kx1; kx++) {
                    const float* restrict xp = x + (base + ky * g->dh * row_stride + kx * g->dw * g->cin);
                    const float* restrict wk = pw + (ky * g->kw + kx) * g->cout;
                    for (int64_t c = 0; c < g->cin; c++)
                        for (int64_t j = 0; j < m; j++) yp[c * m + j] += xp[c] * wk[c * m + j];
                }
        }
    }
}

/* PB pixels of one output row, one group, one channel block. */
static void conv_block(const nrt_conv2d_geom* g, const float* x, const float* pw, const float* zeros, int64_t n,
                       int64_t oy, int64_t ox0, int np, int64_t grp, int64_t oc0, int64_t nc, float (*acc)[OCB]) {
    int64_t cig = g->cin / g->group, cog = g->cout / g->group;
    for (int p = 0; p < PB; p++) memset(acc[p], 0, (size_t)nc * sizeof(float));
    for (int64_t ky = 0; ky < g->kh; ky++) {
        int64_t iy = oy * g->sh - g->pad_t + ky * g->dh;
        if (iy < 0 || iy >= g->ih) continue; /* a whole tap row in the padding adds nothing */
        const float* xrow = x + (n * g->ih + iy) * g->iw * g->cin + grp * cig;
        for (int64_t kx = 0; kx < g->kw; kx++) {
            const float* rows[PB];
            for (int p = 0; p < PB; p++) {
                int64_t ix = (ox0 + p) * g->sw - g->pad_l + kx * g->dw;
                rows[p] = p < np && ix >= 0 && ix < g->iw ? xrow + ix * g->cin : zeros;
            }
            const float* wk = pw + ((grp * g->kh + ky) * g->kw + kx) * cig * cog + oc0;
            micro_f32(rows, cig, wk, cog, nc, acc);
        }
    }
}

void nrt_conv2d_f32_ref(const nrt_conv2d_geom* g, const float* x, const float* pw, const float* bias,
                        const nrt_activation* act, const float* zeros, float* y, int64_t row_begin, int64_t row_end) {
    if (nrt_conv_is_depthwise(g->cin / g->group, g->group)) {
        conv_depthwise_rows(g, x, pw, y, row_begin, row_end);
    } else {
        int64_t cog = g->cout / g->group;
        float acc[PB][OCB];
        for (int64_t row = row_begin; row < row_end; row++) {
            int64_t n = row / g->oh, oy = row % g->oh;
            for (int64_t ox0 = 0; ox0 < g->ow; ox0 += PB) {
                int np = g->ow - ox0 < PB ? (int)(g->ow - ox0) : PB;
                for (int64_t grp = 0; grp < g->group; grp++)
                    for (int64_t oc0 = 0; oc0 < cog; oc0 += OCB) {
                        int64_t nc = cog - oc0 < OCB ? cog - oc0 : OCB;
                        conv_block(g, x, pw, zeros, n, oy, ox0, np, grp, oc0, nc, acc);
                        store_block(acc, np, nc, y + (row * g->ow + ox0) * g->cout + grp * cog + oc0, g->cout);
                    }
            }
        }
    }
    nrt_bias_act_f32(y + row_begin * g->ow * g->cout, (row_end - row_begin) * g->ow, g->cout, bias, act);
}

void nrt_conv1x1_f32_ref(const nrt_conv2d_geom* g, const float* x, const float* pw, const float* bias,
                         const nrt_activation* act, float* y, int64_t m_begin, int64_t m_end) {
    float acc[PB][OCB];
    for (int64_t m0 = m_begin; m0 < m_end; m0 += PB) {
        int np = m_end - m0 < PB ? (int)(m_end - m0) : PB;
        const float* rows[PB];
        for (int p = 0; p < PB; p++) rows[p] = x + (m0 + (p < np ? p : 0)) * g->cin;
        for (int64_t oc0 = 0; oc0 < g->cout; oc0 += OCB) {
            int64_t nc = g->cout - oc0 < OCB ? g->cout - oc0 : OCB;
            for (int p = 0; p < PB; p++) memset(acc[p], 0, (size_t)nc * sizeof(float));
            micro_f32(rows, g->cin, pw + oc0, g->cout, nc, acc);
            store_block(acc, np, nc, y + m0 * g->cout + oc0, g->cout);
        }
    }
    nrt_bias_act_f32(y + m_begin * g->cout, m_end - m_begin, g->cout, bias, act);
}

int nrt_conv_transpose_layout(int64_t cin_per_group, int64_t cout_per_group, int64_t group) {
    if (cin_per_group == 1 && cout_per_group == 1 && group > 1) return NRT_CONVT_DEPTHWISE;
    if (cout_per_group < 8 && cin_per_group >= 8) return NRT_CONVT_DOT;
    return NRT_CONVT_PLAIN;
}

void nrt_conv_transpose_pack_f32(const float* w, int64_t cin, int64_t kh, int64_t kw, int64_t cog, int64_t group,
                                 float* packed) {
    int64_t taps = kh * kw, cig = cin / group;
    int layout = nrt_conv_transpose_layout(cig, cog, group);
    for (int64_t c = 0; c < cin; c++) {
        int64_t grp = c / cig, ic = c % cig;
        for (int64_t t = 0; t < taps; t++)
            for (int64_t oc = 0; oc < cog; oc++) {
                float v = w[(c * taps + t) * cog + oc];
                if (layout == NRT_CONVT_DEPTHWISE) packed[t * cin + c] = v;
                else packed[((grp * taps + t) * cog + oc) * cig + ic] = v;
            }
    }
}

/* sum a[i] * b[i]: four lanes (i mod 4) over the whole groups of four,
 * combined as (l0 + l1) + (l2 + l3), then the tail in order. */
static float dot4(const float* restrict a, const float* restrict b, int64_t n) {
    float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; j++) s[j] += a[i + j] * b[i + j];
    float t = (s[0] + s[1]) + (s[2] + s[3]);
    for (; i < n; i++) t += a[i] * b[i];
    return t;
}

/* Adds the contributions of input pixel xp through tap (ky, kx) to output pixel yp. */
static void convt_tap(const nrt_conv2d_geom* g, int layout, const float* restrict xp, const float* w, int64_t ky,
                      int64_t kx, float* restrict yp) {
    int64_t cig = g->cin / g->group, cog = g->cout / g->group, t = ky * g->kw + kx, taps = g->kh * g->kw;
    if (layout == NRT_CONVT_DEPTHWISE) {
        const float* restrict wk = w + t * g->cin;
        for (int64_t c = 0; c < g->cin; c++) yp[c] += xp[c] * wk[c];
        return;
    }
    for (int64_t grp = 0; grp < g->group; grp++) {
        float* restrict yg = yp + grp * cog;
        const float* xg = xp + grp * cig;
        if (layout == NRT_CONVT_DOT) {
            const float* wt = w + (grp * taps + t) * cog * cig;
            for (int64_t oc = 0; oc < cog; oc++) yg[oc] += dot4(xg, wt + oc * cig, cig);
            continue;
        }
        for (int64_t ic = 0; ic < cig; ic++) {
            float xv = xg[ic];
            const float* restrict wk = w + ((grp * cig + ic) * taps + t) * cog;
            for (int64_t oc = 0; oc < cog; oc++) yg[oc] += xv * wk[oc];
        }
    }
}

void nrt_conv_transpose2d_f32_ref(const nrt_conv2d_geom* g, const float* x, const float* w, const float* bias,
                                  const nrt_activation* act, float* y, int64_t row_begin, int64_t row_end) {
    int layout = nrt_conv_transpose_layout(g->cin / g->group, g->cout / g->group, g->group);
    for (int64_t row = row_begin; row < row_end; row++) {
        int64_t n = row / g->oh, oy = row % g->oh;
        float* yrow = y + row * g->ow * g->cout;
        memset(yrow, 0, (size_t)(g->ow * g->cout) * sizeof(float));
        for (int64_t ky = 0; ky < g->kh; ky++) {
            int64_t ty = oy + g->pad_t - ky * g->dh;
            if (ty < 0 || ty % g->sh != 0 || ty / g->sh >= g->ih) continue;
            const float* xrow = x + (n * g->ih + ty / g->sh) * g->iw * g->cin;
            for (int64_t ox = 0; ox < g->ow; ox++)
                for (int64_t kx = 0; kx < g->kw; kx++) {
                    int64_t tx = ox + g->pad_l - kx * g->dw;
                    if (tx < 0 || tx % g->sw != 0 || tx / g->sw >= g->iw) continue;
                    convt_tap(g, layout, xrow + tx / g->sw * g->cin, w, ky, kx, yrow + ox * g->cout);
                }
        }
    }
    nrt_bias_act_f32(y + row_begin * g->ow * g->cout, (row_end - row_begin) * g->ow, g->cout, bias, act);
}
