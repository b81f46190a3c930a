#include "f32_conv.h"

#include <string.h>

#include "f32_gemm.h"

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

/* Taps [*k0, *k1) of a window starting at `start` (dilation d) inside [0, n). */
static void valid_taps(int64_t start, int64_t kernel, int64_t d, int64_t n, int64_t* k0, int64_t* k1) {
    int64_t a = start >= 0 ? 0 : (-start + d - 1) / d, b = start >= n ? 0 : (n - start + d - 1) / d;
    *k0 = a < kernel ? a : kernel;
    *k1 = b < kernel ? b : kernel;
    if (*k1 < *k0) *k1 = *k0;
}

/* ---- plan and packing (load time) ---- */

bool nrt_f32_conv_plan_init(const nrt_kernels* k, const nrt_f32_conv_desc* d, nrt_f32_conv_plan* plan) {
    *plan = (nrt_f32_conv_plan){0};
    const int64_t* wd = d->wdims;
    size_t taps = (size_t)(wd[1] * wd[2]);
    if (taps > NRT_F32_CONV_MAX_TAPS || d->group < 1) return false;
    if (d->transpose) {
        bool upsample = d->group == 1 && !d->padded && d->dilation[0] == 1 && d->dilation[1] == 1 &&
                        d->stride[0] == wd[1] && d->stride[1] == wd[2];
        if (!upsample || !(plan->gemm = k->f32_gemm)) return false;
        plan->kind = NRT_F32_CONV_TRANSPOSE;
        plan->group_floats = nrt_f32_gemm_packed_floats(plan->gemm, (size_t)(wd[2] * wd[3]), (size_t)wd[0]);
        plan->packed_floats = (size_t)wd[1] * plan->group_floats;
        return true;
    }
    size_t cout = (size_t)wd[0], cig = (size_t)wd[3], group = (size_t)d->group;
    if (cig == 1 && group > 1 && cout == group && (plan->dw = k->f32_dwconv)) {
        plan->kind = NRT_F32_CONV_DEPTHWISE;
        plan->packed_floats = ceil_div(cout, plan->dw->cw) * plan->dw->cw * (1 + taps);
        return true;
    }
    if (cout % group != 0 || !(plan->gemm = k->f32_gemm)) return false;
    plan->kind = NRT_F32_CONV_GEMM;
    plan->group_floats = nrt_f32_gemm_packed_floats(plan->gemm, cout / group, taps * cig);
    plan->packed_floats = group * plan->group_floats;
    return true;
}

/* Depthwise tiles: bias[cw], then for each tap cw weights (w is [C][KH*KW]). */
static void pack_depthwise(size_t cw, size_t c, size_t taps, const float* w, const float* bias, float* packed) {
    for (size_t c0 = 0; c0 < c; c0 += cw) {
        for (size_t j = 0; j < cw; j++) *packed++ = c0 + j < c && bias ? bias[c0 + j] : 0.0f;
        for (size_t t = 0; t < taps; t++)
            for (size_t j = 0; j < cw; j++) *packed++ = c0 + j < c ? w[(c0 + j) * taps + t] : 0.0f;
    }
}

void nrt_f32_conv_pack(const nrt_f32_conv_plan* plan, const nrt_f32_conv_desc* d, const float* w, const float* bias,
                       float* packed) {
    const int64_t* wd = d->wdims;
    size_t taps = (size_t)(wd[1] * wd[2]);
    if (plan->kind == NRT_F32_CONV_DEPTHWISE) {
        pack_depthwise(plan->dw->cw, (size_t)wd[0], taps, w, bias, packed);
    } else if (plan->kind == NRT_F32_CONV_TRANSPOSE) {
        /* tap t: W_t[oc][ic] = w[ic][t][oc] */
        /* kernel row ky: W_ky[kx * C_out + oc][ic] = w[ic][ky][kx][oc] (rows of w are contiguous in n);
         * the bias of column n is bias[n % C_out], patched into each panel's bias slots */
        size_t cin = (size_t)wd[0], cout = (size_t)wd[3], cols = (size_t)wd[2] * cout, nr = plan->gemm->nr;
        for (size_t ky = 0; ky < (size_t)wd[1]; ky++) {
            float* dst = packed + ky * plan->group_floats;
            nrt_f32_gemm_pack(plan->gemm, cols, cin, w + ky * cols, 1, (size_t)wd[1] * cols, NULL, dst);
            for (size_t n = 0; bias && n < cols; n++) dst[n / nr * nr * (1 + cin) + n % nr] = bias[n % cout];
        }
    } else {
        /* group g: rows oc of OHWI are already [C_out/g][K = taps * C_in/g] */
        size_t cog = (size_t)wd[0] / (size_t)d->group, k = taps * (size_t)wd[3];
        for (size_t grp = 0; grp < (size_t)d->group; grp++)
            nrt_f32_gemm_pack(plan->gemm, cog, k, w + grp * cog * k, k, 1, bias ? bias + grp * cog : NULL,
                              packed + grp * plan->group_floats);
    }
}

/* ---- GEMM convolution ---- */

typedef struct conv_job {
    const nrt_f32_conv_plan* plan;
    const nrt_conv2d_geom* g;
    const float *x, *packed, *zeros;
    const nrt_activation* act;
    float* y;
    size_t m_tiles, panels_per_group, n_blocks, block_units;
    bool direct;       /* 1x1 stride-1 unpadded: rows read in place */
    bool merged_rows;  /* few input channels: one indirection entry per kernel row (build_row_indirection) */
} conv_job;

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

/* Row pointers of output pixels [m0, m0 + mr) for every tap, for group grp:
 * ind[t * MR + r] (the zero row in the padding); rows past mr repeat the
 * last one. */
static void build_indirection(const conv_job* j, size_t m0, size_t mr, size_t grp, const float** ind) {
    const nrt_conv2d_geom* g = j->g;
    size_t MR = j->plan->gemm->mr;
    pixel_pos p = pixel_at(g, m0);
    for (size_t r = 0; r < MR; r++) {
        if (r > 0 && r < mr) pixel_next(g, &p);
        int64_t iy0 = p.oy * g->sh - g->pad_t, ix0 = p.ox * g->sw - g->pad_l;
        const float* img = j->x + p.n * g->ih * g->iw * g->cin + (int64_t)grp * (g->cin / g->group);
        const float** out = ind + r;
        for (int64_t ky = 0; ky < g->kh; ky++) {
            int64_t iy = iy0 + ky * g->dh;
            const float* row = iy >= 0 && iy < g->ih ? img + iy * g->iw * g->cin : NULL;
            for (int64_t kx = 0; kx < g->kw; kx++, out += MR) {
                int64_t ix = ix0 + kx * g->dw;
                *out = row && ix >= 0 && ix < g->iw ? row + ix * g->cin : j->zeros;
            }
        }
    }
}

/* Few input channels, ungrouped, undilated columns: the kw taps of a kernel
 * row are kw x C_in contiguous floats of the input, so the indirection holds
 * one pointer per kernel row (K blocks of kc = kw x C_in). Pixels whose row
 * crosses the left / right edge get a zero-padded copy in `edge`; rows in
 * the padding point at `zero_row`. */
static void build_row_indirection(const conv_job* j, size_t m0, size_t mr, const float** ind, float* edge,
                                  const float* zero_row) {
    const nrt_conv2d_geom* g = j->g;
    size_t MR = j->plan->gemm->mr, run = (size_t)(g->kw * g->cin);
    pixel_pos p = pixel_at(g, m0);
    for (size_t r = 0; r < MR; r++) {
        if (r > 0 && r < mr) pixel_next(g, &p);
        int64_t iy0 = p.oy * g->sh - g->pad_t, ix0 = p.ox * g->sw - g->pad_l, kx0, kx1;
        valid_taps(ix0, g->kw, 1, g->iw, &kx0, &kx1);
        const float* img = j->x + p.n * g->ih * g->iw * g->cin;
        for (int64_t ky = 0; ky < g->kh; ky++) {
            int64_t iy = iy0 + ky * g->dh;
            const float** out = ind + (size_t)ky * MR + r;
            if (iy < 0 || iy >= g->ih || kx0 == kx1) {
                *out = zero_row;
            } else if (kx0 == 0 && kx1 == g->kw) {
                *out = img + (iy * g->iw + ix0) * g->cin;
            } else {
                float* dst = edge + (r * (size_t)g->kh + (size_t)ky) * run;
                const float* src = img + (iy * g->iw + ix0 + kx0) * g->cin;
                size_t lo = (size_t)(kx0 * g->cin), hi = (size_t)(kx1 * g->cin);
                for (size_t i = 0; i < run; i++) dst[i] = i >= lo && i < hi ? src[i - lo] : 0.0f;
                *out = dst;
            }
        }
    }
}

/* Reads-only zeros for the rows in the padding of the merged-row indirection. */
static const float zero_row[NRT_F32_ROWS_MAX_K];

static void conv_gemm_task(void* arg, size_t begin, size_t end) {
    const conv_job* j = arg;
    const nrt_conv2d_geom* g = j->g;
    const nrt_f32_gemm_table* t = j->plan->gemm;
    const float* ind[NRT_F32_CONV_MAX_TAPS * NRT_F32_GEMM_MAX_MR];
    float edge[NRT_F32_ROWS_MAX_K * NRT_F32_GEMM_MAX_MR];
    size_t M = (size_t)(g->n * g->oh * g->ow), cout = (size_t)g->cout, cig = (size_t)(g->cin / g->group);
    size_t cog = cout / (size_t)g->group, taps = (size_t)(g->kh * g->kw), panel = t->nr * (1 + taps * cig);
    size_t units = (size_t)g->group * j->panels_per_group;
    for (size_t task = begin; task < end; task++) {
        size_t mt = task / j->n_blocks, nb = task % j->n_blocks;
        size_t m0 = mt * t->mr, mr = M - m0 < t->mr ? M - m0 : t->mr;
        size_t u1 = (nb + 1) * j->block_units < units ? (nb + 1) * j->block_units : units, built = (size_t)-1;
        for (size_t u = nb * j->block_units; u < u1; u++) {
            size_t grp = u / j->panels_per_group, n0 = u % j->panels_per_group * t->nr;
            size_t nc = cog - n0 < t->nr ? cog - n0 : t->nr;
            const float* w = j->packed + grp * j->plan->group_floats + n0 / t->nr * panel;
            float* c = j->y + m0 * cout + grp * cog + n0;
            if (j->direct) {
                t->gemm(mr, nc, cig, j->x + m0 * (size_t)g->cin, (size_t)g->cin, w, c, cout, j->act);
                continue;
            }
            if (j->merged_rows) {
                if (grp != built) build_row_indirection(j, m0, mr, ind, edge, zero_row);
                built = grp;
                t->igemm(mr, nc, (size_t)g->kw * cig, (size_t)g->kh, ind, w, c, cout, j->act);
                continue;
            }
            if (grp != built) build_indirection(j, m0, mr, grp, ind);
            built = grp;
            t->igemm(mr, nc, cig, taps, ind, w, c, cout, j->act);
        }
    }
}

static void run_gemm(const nrt_threads* threads, conv_job* j) {
    const nrt_conv2d_geom* g = j->g;
    const nrt_f32_gemm_table* t = j->plan->gemm;
    size_t M = (size_t)(g->n * g->oh * g->ow), cog = (size_t)(g->cout / g->group);
    size_t cig = (size_t)(g->cin / g->group);
    j->direct = nrt_conv_is_pointwise(g);
    j->merged_rows = !j->direct && g->group == 1 && g->dw == 1 && g->kw > 1 && cig < NRT_F32_ROWS_CHANNELS &&
                     (size_t)g->kw * cig <= NRT_F32_ROWS_MAX_K;
    j->m_tiles = ceil_div(M, t->mr);
    j->panels_per_group = ceil_div(cog, t->nr);
    size_t units = (size_t)g->group * j->panels_per_group;
    size_t split = nrt_f32_column_split(threads, j->m_tiles, units);
    j->block_units = ceil_div(units, split);
    j->n_blocks = ceil_div(units, j->block_units);
    double rows = (double)(M < t->mr ? M : t->mr);
    double work = rows * (double)(j->block_units * t->nr) * (double)(g->kh * g->kw * (g->cin / g->group));
    size_t tasks = j->m_tiles * j->n_blocks;
    nrt_threads_run(threads, tasks, nrt_f32_grain(tasks, work), conv_gemm_task, j);
}

/* ---- depthwise ---- */

typedef struct dw_job {
    const nrt_conv2d_geom* g;
    nrt_f32_dwconv_args args;
    nrt_f32_dwconv_ukernel run;
    const float* x;
    float* y;
    int64_t ox_lo, ox_hi; /* output columns whose taps all lie inside the input row */
} dw_job;

/* Output pixels [ox0, ox1) of one row, taps rows [ky0, ky1); each pixel
 * clips its own columns unless `interior`. */
static void dw_span(const dw_job* j, int64_t n, int64_t iy0, int64_t ky0, int64_t ky1, int64_t ox0, int64_t ox1,
                    bool interior, float* yrow) {
    const nrt_conv2d_geom* g = j->g;
    for (int64_t ox = ox0; ox < ox1; ox++) {
        int64_t ix0 = ox * g->sw - g->pad_l, kx0 = 0, kx1 = g->kw;
        if (!interior) valid_taps(ix0, g->kw, g->dw, g->iw, &kx0, &kx1);
        const float* xp = j->x;
        if (ky0 < ky1 && kx0 < kx1)
            xp += ((n * g->ih + iy0 + ky0 * g->dh) * g->iw + ix0 + kx0 * g->dw) * g->cin;
        size_t npix = interior ? (size_t)(ox1 - ox0) : 1;
        j->run(&j->args, npix, xp, (size_t)ky0, (size_t)ky1, (size_t)kx0, (size_t)kx1, yrow + ox * g->cout);
        if (interior) return;
    }
}

static void dw_task(void* arg, size_t begin, size_t end) {
    const dw_job* j = arg;
    const nrt_conv2d_geom* g = j->g;
    for (size_t row = begin; row < end; row++) {
        int64_t n = (int64_t)row / g->oh, oy = (int64_t)row % g->oh, iy0 = oy * g->sh - g->pad_t, ky0, ky1;
        valid_taps(iy0, g->kh, g->dh, g->ih, &ky0, &ky1);
        float* yrow = j->y + (int64_t)row * g->ow * g->cout;
        dw_span(j, n, iy0, ky0, ky1, 0, j->ox_lo, false, yrow);
        if (j->ox_lo < j->ox_hi) dw_span(j, n, iy0, ky0, ky1, j->ox_lo, j->ox_hi, true, yrow);
        dw_span(j, n, iy0, ky0, ky1, j->ox_hi, g->ow, false, yrow);
    }
}

static void run_depthwise(const nrt_threads* threads, const conv_job* cj) {
    const nrt_conv2d_geom* g = cj->g;
    size_t c = (size_t)g->cin;
    dw_job j = {g,
                {c, (size_t)g->kh, (size_t)g->kw, (size_t)g->sw * c, (size_t)(g->dh * g->iw) * c, (size_t)g->dw * c,
                 cj->packed, cj->act},
                cj->plan->dw->run, cj->x, cj->y, 0, 0};
    j.ox_lo = (g->pad_l + g->sw - 1) / g->sw;
    int64_t last = g->iw - 1 + g->pad_l - (g->kw - 1) * g->dw; /* ox * sw <= last keeps the last tap inside */
    j.ox_hi = last < 0 ? 0 : last / g->sw + 1;
    if (j.ox_lo > g->ow) j.ox_lo = g->ow;
    if (j.ox_hi > g->ow) j.ox_hi = g->ow;
    if (j.ox_hi < j.ox_lo) j.ox_hi = j.ox_lo;
    size_t rows = (size_t)(g->n * g->oh);
    double work = (double)(g->ow * g->cout * g->kh * g->kw);
    nrt_threads_run(threads, rows, nrt_f32_grain(rows, work), dw_task, &j);
}

/* ---- ConvTranspose, kernel == stride ---- */

/* One tile of an input row: for each kernel row, a GEMM of N = kw x C_out
 * written to output row iy * sh + ky from column ix0 * sw on. */
static void convt_task(void* arg, size_t begin, size_t end) {
    const conv_job* j = arg;
    const nrt_conv2d_geom* g = j->g;
    const nrt_f32_gemm_table* t = j->plan->gemm;
    size_t cin = (size_t)g->cin, cout = (size_t)g->cout, cols = (size_t)g->kw * cout, panel = t->nr * (1 + cin);
    size_t tiles = ceil_div((size_t)g->iw, t->mr), iw = (size_t)g->iw;
    for (size_t task = begin; task < end; task++) {
        size_t row = task / tiles, ix0 = task % tiles * t->mr, mr = iw - ix0 < t->mr ? iw - ix0 : t->mr;
        int64_t n = (int64_t)row / g->ih, iy = (int64_t)row % g->ih;
        const float* a = j->x + (row * iw + ix0) * cin;
        for (int64_t ky = 0; ky < g->kh; ky++) {
            const float* w = j->packed + (size_t)ky * j->plan->group_floats;
            float* c = j->y + ((size_t)((n * g->oh + iy * g->sh + ky) * g->ow) + ix0 * (size_t)g->sw) * cout;
            for (size_t n0 = 0; n0 < cols; n0 += t->nr, w += panel)
                t->gemm(mr, cols - n0 < t->nr ? cols - n0 : t->nr, cin, a, cin, w, c + n0, cols, j->act);
        }
    }
}

static void run_transpose(const nrt_threads* threads, conv_job* j) {
    const nrt_conv2d_geom* g = j->g;
    size_t tasks = (size_t)(g->n * g->ih) * ceil_div((size_t)g->iw, j->plan->gemm->mr);
    double work = (double)j->plan->gemm->mr * (double)(g->kh * g->kw * g->cout * g->cin);
    nrt_threads_run(threads, tasks, nrt_f32_grain(tasks, work), convt_task, j);
}

void nrt_f32_conv_run(const nrt_threads* threads, const nrt_f32_conv_plan* plan, const nrt_conv2d_geom* g, const float* x,
                      const float* packed, const float* zeros, const nrt_activation* act, float* y) {
    conv_job j = {plan, g, x, packed, zeros, act, y, 0, 0, 0, 0, false, false};
    if (g->n == 0 || g->oh == 0 || g->ow == 0 || g->cout == 0) return;
    switch (plan->kind) {
    case NRT_F32_CONV_DEPTHWISE: run_depthwise(threads, &j); break;
    case NRT_F32_CONV_TRANSPOSE: run_transpose(threads, &j); break;
    default: run_gemm(threads, &j); break;
    }
}
