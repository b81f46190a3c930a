#include "conv.h"

#include <stdlib.h>
#include <string.h>

#include "indirection.h"
#include "ref/binary_ref.h"

/* Output pixels whose depthwise tap pointers are built at once. */
#define DW_PIXELS 16
/* Multiply-adds a thread's share of a depthwise or transposed conv should be
 * worth (gemm.h's task sizing; float's rate for both element types, as the
 * requantization is much of an int8 depthwise tap's work). */
#define TASK_MACS 131072.0

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

/* ---- plan (load time) ---- */

/* A convt table's wide kernel reads one c4 GEMM panel `cols` columns wide
 * (every kernel row's outputs: qs8_kernels.h); packed and sized as such. */
static nrt_gemm_table wide_panel(const nrt_qs8_convt_table* ct, size_t cols) {
    return (nrt_gemm_table){ct->wide_name, ct->isa, 1, (uint32_t)cols, 4, ct->x_offset, &nrt_gemm_format_qs8_qc8w,
                            NULL, NULL, false};
}

static bool plan_transpose(const nrt_conv_kernels* k, const nrt_conv_desc* d, nrt_conv_plan* plan) {
    const int64_t* wd = d->wdims;
    bool upsample = d->group == 1 && !d->padded && d->dilation[0] == 1 && d->dilation[1] == 1 &&
                    d->stride[0] == wd[1] && d->stride[1] == wd[2];
    if (!upsample) return false;
    size_t cin = (size_t)wd[0], all = (size_t)(wd[1] * wd[2] * wd[3]), cols = (size_t)(wd[2] * wd[3]);
    const nrt_qs8_convt_table* ct = k->convt;
    plan->kind = NRT_CONV_TRANSPOSE;
    if (ct && ct->lanes % all == 0 && ct->lanes / all * nrt_qs8_convt_block_bytes(ct, cin) <= ct->max_bytes) {
        plan->convt = ct;
        plan->group_bytes = plan->packed_bytes = nrt_qs8_convt_packed_bytes(ct, cin);
        return true;
    }
    if (ct && ct->wide && all <= ct->wide_max && cols % ct->lanes == 0) {
        plan->convt = ct;
        plan->convt_wide = true;
        nrt_gemm_table panel = wide_panel(ct, all);
        plan->group_bytes = plan->packed_bytes = nrt_gemm_panel_bytes(&panel, cin, 1);
        return true;
    }
    if (!(plan->gemm = k->gemm)) return false;
    plan->merged_rows = all <= plan->gemm->nr && all <= NRT_GEMM_MAX_NR;
    if (plan->merged_rows) {
        plan->group_bytes = plan->packed_bytes = nrt_gemm_packed_bytes(plan->gemm, all, cin, 1);
        return true;
    }
    plan->group_bytes = nrt_gemm_packed_bytes(plan->gemm, cols, cin, 1);
    plan->packed_bytes = (size_t)wd[1] * plan->group_bytes;
    return true;
}

bool nrt_conv_plan_init(const nrt_conv_kernels* k, const nrt_conv_desc* d, nrt_conv_plan* plan) {
    *plan = (nrt_conv_plan){0};
    const int64_t* wd = d->wdims;
    if (d->group < 1 || wd[1] > NRT_CONV_MAX_TAPS || wd[2] > NRT_CONV_MAX_TAPS || wd[1] * wd[2] > NRT_CONV_MAX_TAPS)
        return false;
    bool ok = d->transpose ? plan_transpose(k, d, plan) : false;
    if (d->transpose) {
        if (!ok) *plan = (nrt_conv_plan){0};
        return ok;
    }
    size_t taps = (size_t)(wd[1] * wd[2]), cout = (size_t)wd[0], cig = (size_t)wd[3], group = (size_t)d->group;
    if (cout % group != 0) return false;
    if (cig == 1 && group > 1 && cout == group && (plan->dw = k->dw)) {
        plan->kind = NRT_CONV_DEPTHWISE;
        plan->packed_bytes = nrt_dwconv_packed_bytes(plan->dw, cout, taps);
        return true;
    }
    if (!(plan->gemm = k->gemm)) return false;
    plan->kind = NRT_CONV_GEMM;
    size_t run = (size_t)wd[2] * cig;
    plan->merged_rows = group == 1 && d->dilation[1] == 1 && wd[2] > 1 && cig < NRT_CONV_ROWS_CHANNELS &&
                        run <= NRT_CONV_ROWS_MAX_K && wd[1] <= NRT_CONV_ROWS_MAX_KH;
    if (plan->merged_rows) plan->group_bytes = nrt_gemm_packed_bytes(plan->gemm, cout, run, (size_t)wd[1]);
    else plan->group_bytes = nrt_gemm_packed_bytes(plan->gemm, cout / group, cig, taps);
    plan->packed_bytes = group * plan->group_bytes;
    return true;
}

/* ---- packing (load time) ---- */

static void pack_conv(const nrt_conv_plan* plan, const nrt_conv_desc* d, const nrt_conv_weights* cw, void* packed) {
    const int64_t* wd = d->wdims;
    size_t taps = (size_t)(wd[1] * wd[2]), cout = (size_t)wd[0], cig = (size_t)wd[3], k = taps * cig;
    if (plan->kind == NRT_CONV_DEPTHWISE) {
        nrt_dwconv_weights a = {cout, (size_t)wd[1], (size_t)wd[2], 0, (size_t)wd[1], cw->w, cw->bias, cw->scales, 0};
        plan->dw->format->pack(plan->dw, &a, packed);
        return;
    }
    if (plan->merged_rows) { /* kh blocks of the kw x cig contiguous values of a kernel row */
        size_t run = (size_t)wd[2] * cig;
        nrt_gemm_weights a = {cout, run, (size_t)wd[1], cw->w, k, run, 1, cw->bias, cw->scales, 0, 0};
        nrt_gemm_pack(plan->gemm, &a, packed);
        return;
    }
    /* group grp: OHWI rows [grp * cog, (grp + 1) * cog), each taps x cig */
    const nrt_gemm_format* f = plan->gemm->format;
    size_t cog = cout / (size_t)d->group;
    for (size_t grp = 0; grp < (size_t)d->group; grp++) {
        nrt_gemm_weights a = {cog, cig, taps, (const uint8_t*)cw->w + grp * cog * k * f->w_bytes, k, cig, 1,
                              cw->bias ? (const uint8_t*)cw->bias + grp * cog * f->bias_bytes : NULL,
                              cw->scales ? cw->scales + grp * cog : NULL, 0, 0};
        nrt_gemm_pack(plan->gemm, &a, (uint8_t*)packed + grp * plan->group_bytes);
    }
}

/* ConvTranspose through the GEMM, one panel set per kernel row (or one for
 * all of them): column j of kernel row ky is (kx, c) = W[ci][ky][kx][c]; its
 * bias and scale are channel c's, z_x folds into the bias. */
static bool pack_transpose_gemm(const nrt_conv_plan* plan, const nrt_conv_desc* d, const nrt_conv_weights* cw,
                                void* packed) {
    const int64_t* wd = d->wdims;
    size_t cin = (size_t)wd[0], kh = (size_t)wd[1], kw = (size_t)wd[2], cout = (size_t)wd[3], cols = kw * cout;
    size_t rows = plan->merged_rows || plan->convt_wide ? 1 : kh, row_stride = cols;
    if (rows == 1) cols *= kh; /* one panel: column j = (ky * kw + kx) * C_out + c */
    nrt_gemm_table wide = plan->convt_wide ? wide_panel(plan->convt, cols) : (nrt_gemm_table){0};
    const nrt_gemm_table* t = plan->convt_wide ? &wide : plan->gemm;
    size_t bb = t->format->bias_bytes, wb = t->format->w_bytes;
    uint8_t* bias = cw->bias ? malloc(cols * bb) : NULL;
    float* scales = cw->scales ? malloc(cols * sizeof *scales) : NULL;
    bool ok = (bias || !cw->bias) && (scales || !cw->scales);
    for (size_t j = 0; ok && j < cols; j++) {
        if (bias) memcpy(bias + j * bb, (const uint8_t*)cw->bias + j % cout * bb, bb);
        if (scales) scales[j] = cw->scales[j % cout];
    }
    for (size_t ky = 0; ok && ky < rows; ky++) {
        nrt_gemm_weights a = {cols, cin, 1, (const uint8_t*)cw->w + ky * row_stride * wb, 1, 0, kh * kw * cout,
                              bias, scales, cw->zero, 0};
        nrt_gemm_pack(t, &a, (uint8_t*)packed + ky * plan->group_bytes);
    }
    free(bias);
    free(scales);
    return ok;
}

bool nrt_conv_pack(const nrt_conv_plan* plan, const nrt_conv_desc* d, const nrt_conv_weights* w, void* packed) {
    if (plan->kind != NRT_CONV_TRANSPOSE) {
        pack_conv(plan, d, w, packed);
        return true;
    }
    if (plan->convt && !plan->convt_wide)
        return nrt_qs8_convt_pack_lanes(plan->convt, d->wdims, w->w, w->bias, w->scales, w->zero, packed);
    return pack_transpose_gemm(plan, d, w, packed);
}

/* ---- depthwise row variants (per input shape) ---- */

size_t nrt_conv_dw_rows_plan(const nrt_conv_plan* plan, const nrt_conv2d_geom* g, nrt_conv_dw_rows* r) {
    *r = (nrt_conv_dw_rows){0};
    if (plan->kind != NRT_CONV_DEPTHWISE) return 0;
    size_t bytes = 0, tiles = ceil_div((size_t)g->cout, plan->dw->cw);
    for (int64_t oy = 0; oy < g->oh; oy++) {
        int64_t ky0, ky1;
        nrt_window_inside(oy * g->sh - g->pad_t, g->kh, g->dh, g->ih, &ky0, &ky1);
        if (ky0 == 0 && ky1 == g->kh) continue;
        int v = 0;
        while (v < r->count && !(r->ky0[v] == ky0 && r->ky1[v] == ky1)) v++;
        if (v < r->count) continue;
        if (r->count == NRT_CONV_DW_MAX_VARIANTS) break; /* rows past the limit use the full weights */
        r->ky0[v] = ky0;
        r->ky1[v] = ky1;
        r->offset[v] = bytes;
        bytes += tiles * nrt_dwconv_tile_bytes(plan->dw, (size_t)((ky1 - ky0) * g->kw));
        bytes = ceil_div(bytes, NRT_PACK_ALIGN) * NRT_PACK_ALIGN;
        r->count++;
    }
    return bytes;
}

void nrt_conv_dw_rows_pack(const nrt_conv_plan* plan, const nrt_conv2d_geom* g, const nrt_conv_weights* w,
                           nrt_conv_dw_rows* r, void* mem) {
    r->packed = mem;
    for (int v = 0; v < r->count; v++) {
        nrt_dwconv_weights a = {(size_t)g->cout, (size_t)g->kh, (size_t)g->kw, (size_t)r->ky0[v], (size_t)r->ky1[v],
                                w->w, w->bias, w->scales, w->zero};
        plan->dw->format->pack(plan->dw, &a, (uint8_t*)mem + r->offset[v]);
    }
}

/* ---- run ---- */

typedef struct conv_job {
    const nrt_conv_plan* plan;
    const nrt_conv2d_geom* g;
    nrt_indirection ind;
    const uint8_t* packed;
    const nrt_conv_dw_rows* rows;
    const void* params;
    const nrt_conv_lut* lut;           /* NULL: none */
    const nrt_conv_post* post;         /* NULL: none */
    uint8_t* y;
    size_t es, ys; /* element bytes of x and y */
    size_t panels_per_group, m_tiles, n_blocks, block_units, panel_bytes;
    bool direct;  /* 1x1 stride-1 unpadded ungrouped: rows read in place */
    bool m_inner; /* task order: row tiles inside column blocks (weights past L2, gemm.h) */
} conv_job;

/* ---- GEMM / indirect GEMM ---- */

/* The output channels [*c0, *c1) that units [u0, u1) wrote (units run in
 * channel order: group by group, nr columns each). */
static void unit_channels(const conv_job* j, size_t u0, size_t u1, size_t* c0, size_t* c1) {
    size_t cog = (size_t)j->g->cout / (size_t)j->g->group, nr = j->plan->gemm->nr, ppg = j->panels_per_group;
    size_t last = (u1 - 1) % ppg;
    *c0 = u0 / ppg * cog + u0 % ppg * nr;
    *c1 = (u1 - 1) / ppg * cog + ((last + 1) * nr < cog ? (last + 1) * nr : cog);
}

/* The fused table on rows [m0, m0 + mr) of channels [c0, c1). */
static void gemm_lut(const conv_job* j, size_t m0, size_t mr, size_t c0, size_t c1) {
    size_t cout = (size_t)j->g->cout;
    if (c0 == 0 && c1 == cout) { /* every channel: the rows are one run (whole vectors, few masked stores) */
        int8_t* rows = (int8_t*)j->y + m0 * cout;
        j->lut->run(mr * cout, rows, j->lut->table, rows);
        return;
    }
    for (size_t r = 0; r < mr; r++) {
        int8_t* row = (int8_t*)j->y + (m0 + r) * cout + c0;
        j->lut->run(c1 - c0, row, j->lut->table, row);
    }
}

/* The shortcut and activation (r) on rows [m0, m0 + mr), channels [c0, c1). */
static void residual_rows(const nrt_conv_post* post, float* y, size_t cout, size_t m0, size_t mr, size_t c0,
                          size_t c1) {
    size_t cr = post->channels;
    bool act = post->act->kind != NRT_ACT_NONE;
    if (c0 == 0 && c1 == cout && cr == cout) { /* one run */
        float* rows = y + m0 * cout;
        post->add(mr * cout, rows, post->r + m0 * cout, rows, NRT_BIN_VV);
        if (act) post->act_run(post->act, rows, rows, mr * cout);
        return;
    }
    size_t added = c1 < cr ? c1 : cr;
    for (size_t r = 0; r < mr && c0 < added; r++) {
        float* row = y + (m0 + r) * cout;
        post->add(added - c0, row + c0, post->r + (m0 + r) * cr + c0, row + c0, NRT_BIN_VV);
    }
    if (!act) return;
    if (c0 == 0 && c1 == cout) { /* whole rows: one call (a call per row of a few channels costs more) */
        post->act_run(post->act, y + m0 * cout, y + m0 * cout, mr * cout);
        return;
    }
    for (size_t r = 0; r < mr; r++) {
        float* row = y + (m0 + r) * cout + c0;
        post->act_run(post->act, row, row, c1 - c0);
    }
}

void nrt_conv_post_rows(const nrt_conv_post* post, float* y, size_t cout, size_t m0, size_t mr, size_t c0,
                        size_t c1) {
    if (post->r) residual_rows(post, y, cout, m0, mr, c0, c1);
    if (!post->slope) return;
    if (c0 == 0 && c1 == cout) { /* whole rows: slope_rows per call */
        for (size_t r = 0; r < mr; r += post->slope_rows) {
            float* rows = y + (m0 + r) * cout;
            size_t n = (mr - r < post->slope_rows ? mr - r : post->slope_rows) * cout;
            post->prelu(n, rows, post->slope, rows, NRT_BIN_VV);
        }
        return;
    }
    for (size_t r = 0; r < mr; r++) {
        float* row = y + (m0 + r) * cout + c0;
        post->prelu(c1 - c0, row, post->slope + c0, row, NRT_BIN_VV);
    }
}

/* Taps of a tile whose every pointer is at the padding become NULL, which a
 * table with igemm_null_taps skips (gemm.h): a dilated conv on a small map
 * reads mostly padding, and a tile of pixels near its middle none of the
 * outer taps. */
static void null_padding_taps(const void** ind, size_t MR, size_t taps, const void* pad) {
    for (size_t t = 0; t < taps; t++) {
        const void** tap = ind + t * MR;
        size_t r = 0;
        while (r < MR && tap[r] == pad) r++;
        if (r == MR)
            for (r = 0; r < MR; r++) tap[r] = NULL;
    }
}

static void conv_gemm_task(void* arg, size_t begin, size_t end) {
    const conv_job* j = arg;
    const nrt_conv2d_geom* g = j->g;
    const nrt_gemm_table* t = j->plan->gemm;
    const void* ind[NRT_CONV_MAX_TAPS * NRT_GEMM_MAX_MR];
    _Alignas(64) uint8_t edge[NRT_GEMM_MAX_MR * NRT_CONV_ROWS_MAX_KH * NRT_CONV_ROWS_MAX_K * sizeof(float)];
    size_t M = (size_t)(g->n * g->oh * g->ow), cout = (size_t)g->cout, cig = (size_t)(g->cin / g->group);
    size_t cog = cout / (size_t)g->group, taps = (size_t)(g->kh * g->kw);
    size_t units = (size_t)g->group * j->panels_per_group;
    for (size_t task = begin; task < end; task++) {
        size_t mt = j->m_inner ? task % j->m_tiles : task / j->n_blocks;
        size_t nb = j->m_inner ? task / j->m_tiles : task % j->n_blocks;
        size_t m0 = mt * t->mr, mr = M - m0 < t->mr ? M - m0 : t->mr;
        size_t u1 = (nb + 1) * j->block_units < units ? (nb + 1) * j->block_units : units, built = (size_t)-1;
        size_t kc = 0; /* merged rows: elements read per pointer (nrt_indirection_rows) */
        for (size_t u = nb * j->block_units; u < u1; u++) {
            size_t grp = u / j->panels_per_group, pn = u % j->panels_per_group, n0 = pn * t->nr;
            size_t nc = cog - n0 < t->nr ? cog - n0 : t->nr;
            const uint8_t* w = j->packed + grp * j->plan->group_bytes + pn * j->panel_bytes;
            uint8_t* c = j->y + (m0 * cout + grp * cog + n0) * j->ys;
            if (j->direct) {
                t->gemm(mr, nc, cig, j->ind.x + m0 * (size_t)g->cin * j->es, (size_t)g->cin, w, c, cout, j->params);
                continue;
            }
            if (j->plan->merged_rows) {
                if (grp != built) kc = nrt_indirection_rows(&j->ind, t->mr, t->kr, m0, mr, ind, edge);
                built = grp;
                t->igemm(mr, nc, kc, (size_t)g->kh, ind, w, c, cout, j->params);
                continue;
            }
            if (grp != built) {
                nrt_indirection_gemm(&j->ind, t->mr, m0, mr, grp, ind);
                if (t->igemm_null_taps) null_padding_taps(ind, t->mr, taps, j->ind.pad);
            }
            built = grp;
            t->igemm(mr, nc, cig, taps, ind, w, c, cout, j->params);
        }
        if (!j->lut && !j->post) continue;
        size_t c0, c1;
        unit_channels(j, nb * j->block_units, u1, &c0, &c1);
        if (j->lut) gemm_lut(j, m0, mr, c0, c1);
        else nrt_conv_post_rows(j->post, (float*)j->y, cout, m0, mr, c0, c1);
    }
}

static void run_gemm(const nrt_threads* threads, conv_job* j) {
    const nrt_conv2d_geom* g = j->g;
    const nrt_gemm_table* t = j->plan->gemm;
    size_t M = (size_t)(g->n * g->oh * g->ow), cog = (size_t)(g->cout / g->group);
    size_t cig = (size_t)(g->cin / g->group), taps = (size_t)(g->kh * g->kw);
    j->direct = nrt_conv_is_pointwise(g) && !j->plan->merged_rows;
    j->panels_per_group = ceil_div(cog, t->nr);
    j->panel_bytes = j->plan->merged_rows ? nrt_gemm_panel_bytes(t, (size_t)g->kw * cig, (size_t)g->kh)
                                          : nrt_gemm_panel_bytes(t, cig, taps);
    size_t m_tiles = ceil_div(M, t->mr), units = (size_t)g->group * j->panels_per_group;
    j->m_tiles = m_tiles;
    if (units * j->panel_bytes > NRT_GEMM_L2_WEIGHT_BYTES && m_tiles > 1) {
        /* each tile would stream every weight from L3: a block's panels serve all tiles from L2 instead */
        j->block_units = NRT_GEMM_BLOCK_BYTES / j->panel_bytes ? NRT_GEMM_BLOCK_BYTES / j->panel_bytes : 1;
        j->m_inner = true;
    } else {
        j->block_units = ceil_div(units, nrt_column_split(threads, m_tiles, units));
    }
    j->n_blocks = ceil_div(units, j->block_units);
    double work = (double)(M < t->mr ? M : t->mr) * (double)(j->block_units * t->nr) * (double)(taps * cig);
    size_t tasks = m_tiles * j->n_blocks;
    nrt_threads_run(threads, tasks, nrt_task_grain(t->format->task_macs, work), conv_gemm_task, j);
}

/* ---- depthwise ---- */

/* Kernel rows [*ky0, *ky1) of output row oy inside the input, and the
 * variant packed for them (-1: none; all rows run on the full weights). */
static int row_variant(const conv_job* j, int64_t iy0, int64_t* ky0, int64_t* ky1) {
    const nrt_conv2d_geom* g = j->g;
    nrt_window_inside(iy0, g->kh, g->dh, g->ih, ky0, ky1);
    for (int v = 0; j->rows && v < j->rows->count; v++)
        if (j->rows->ky0[v] == *ky0 && j->rows->ky1[v] == *ky1) return v;
    *ky0 = 0;
    *ky1 = g->kh;
    return -1;
}

/* Output pixels [ox0, ox1) of output row `row` (kernel rows [ky0, ky1) on
 * weights `packed`) through the indirection kernel, DW_PIXELS at a time. */
static void dw_indirect(const conv_job* j, size_t row, int64_t ky0, int64_t ky1, bool all_rows, const uint8_t* packed,
                        int64_t ox0, int64_t ox1) {
    const nrt_conv2d_geom* g = j->g;
    const void* ind[DW_PIXELS * NRT_CONV_MAX_TAPS];
    size_t c = (size_t)g->cout, taps = (size_t)((ky1 - ky0) * g->kw);
    uint8_t* yrow = j->y + row * (size_t)g->ow * c * j->ys;
    for (int64_t oxb = ox0; oxb < ox1; oxb += DW_PIXELS) {
        int64_t np = ox1 - oxb < DW_PIXELS ? ox1 - oxb : DW_PIXELS;
        nrt_indirection_dw(&j->ind, row, ky0, ky1, all_rows, oxb, np, ind);
        j->plan->dw->run(c, (size_t)np, taps, ind, packed, yrow + (size_t)oxb * c * j->ys, c, j->params);
    }
}

/* The fused table or post-ops on output row `row`. */
static void dw_lut(const conv_job* j, size_t row) {
    size_t ow = (size_t)j->g->ow, cout = (size_t)j->g->cout, n = ow * cout;
    if (j->post) nrt_conv_post_rows(j->post, (float*)j->y, cout, row * ow, ow, 0, cout);
    if (!j->lut) return;
    int8_t* y = (int8_t*)j->y + row * n;
    j->lut->run(n, y, j->lut->table, y);
}

/* One output row per task unit: the interior columns through the row kernel
 * (when the table has one and the kernel rows run lie inside the input), the
 * rest through the indirection. */
static void dw_task(void* arg, size_t begin, size_t end) {
    const conv_job* j = arg;
    const nrt_conv2d_geom* g = j->g;
    const nrt_dwconv_table* t = j->plan->dw;
    size_t c = (size_t)g->cout, es = j->es;
    int64_t ox0, ox1;
    nrt_interior_columns(g, &ox0, &ox1);
    for (size_t row = begin; row < end; row++) {
        int64_t n = (int64_t)row / g->oh, oy = (int64_t)row % g->oh, iy0 = oy * g->sh - g->pad_t, ky0, ky1;
        int v = row_variant(j, iy0, &ky0, &ky1);
        const uint8_t* packed = v < 0 ? j->packed : j->rows->packed + j->rows->offset[v];
        bool rows_in = ky1 > ky0 && iy0 + ky0 * g->dh >= 0 && iy0 + (ky1 - 1) * g->dh < g->ih;
        if (!t->row || !rows_in || ox1 == ox0) {
            dw_indirect(j, row, ky0, ky1, v < 0, packed, 0, g->ow);
            dw_lut(j, row);
            continue;
        }
        const void* rp[NRT_CONV_MAX_TAPS];
        for (int64_t ky = ky0; ky < ky1; ky++)
            rp[ky - ky0] =
                j->ind.x + (size_t)(((n * g->ih + iy0 + ky * g->dh) * g->iw + ox0 * g->sw - g->pad_l) * g->cin) * es;
        uint8_t* yrow = j->y + (row * (size_t)g->ow + (size_t)ox0) * c * j->ys;
        t->row(c, (size_t)(ox1 - ox0), (size_t)(ky1 - ky0), (size_t)g->kw, rp, (size_t)(g->sw * g->cin),
               (size_t)(g->dw * g->cin), packed, yrow, j->params);
        dw_indirect(j, row, ky0, ky1, v < 0, packed, 0, ox0);
        dw_indirect(j, row, ky0, ky1, v < 0, packed, ox1, g->ow);
        dw_lut(j, row);
    }
}

static void run_depthwise(const nrt_threads* threads, conv_job* j) {
    const nrt_conv2d_geom* g = j->g;
    size_t rows = (size_t)(g->n * g->oh);
    double work = (double)(g->ow * g->cout * g->kh * g->kw);
    nrt_threads_run(threads, rows, nrt_task_grain(TASK_MACS, work), dw_task, j);
}

/* ---- ConvTranspose, kernel == stride ---- */

/* Output row iy * sh + ky of image n, column ix * sw, channel 0. */
static uint8_t* transpose_out(const conv_job* j, int64_t n, int64_t iy, int64_t ky, size_t ix) {
    const nrt_conv2d_geom* g = j->g;
    return j->y + ((size_t)((n * g->oh + iy * g->sh + ky) * g->ow) + ix * (size_t)g->sw) * (size_t)g->cout * j->ys;
}

/* One tile of an input row: for each kernel row, a GEMM of N = kw x C_out
 * written to output row iy * sh + ky from column ix0 * sw on. */
static void convt_task(void* arg, size_t begin, size_t end) {
    const conv_job* j = arg;
    const nrt_conv2d_geom* g = j->g;
    const nrt_gemm_table* t = j->plan->gemm;
    size_t cin = (size_t)g->cin, cols = (size_t)g->kw * (size_t)g->cout, iw = (size_t)g->iw;
    size_t tiles = ceil_div(iw, t->mr), panel = nrt_gemm_panel_bytes(t, cin, 1);
    for (size_t task = begin; task < end; task++) {
        size_t row = task / tiles, ix0 = task % tiles * t->mr, mr = iw - ix0 < t->mr ? iw - ix0 : t->mr;
        int64_t n = (int64_t)row / g->ih, iy = (int64_t)row % g->ih;
        const uint8_t* a = j->ind.x + (row * iw + ix0) * cin * j->es;
        for (int64_t ky = 0; ky < g->kh; ky++) {
            const uint8_t* w = j->packed + (size_t)ky * j->plan->group_bytes;
            uint8_t* c = transpose_out(j, n, iy, ky, ix0);
            for (size_t n0 = 0; n0 < cols; n0 += t->nr, w += panel)
                t->gemm(mr, cols - n0 < t->nr ? cols - n0 : t->nr, cin, a, cin, w, c + n0 * j->ys, cols, j->params);
        }
    }
}

/* Merged kernel rows (kh x kw x C_out <= nr): one GEMM per tile into a
 * buffer, then each kernel row's kw x C_out values of the tile's pixels,
 * contiguous in output row iy * sh + ky, copied there. */
static void convt_merged_task(void* arg, size_t begin, size_t end) {
    const conv_job* j = arg;
    const nrt_conv2d_geom* g = j->g;
    const nrt_gemm_table* t = j->plan->gemm;
    _Alignas(64) uint8_t buf[NRT_GEMM_MAX_MR * NRT_GEMM_MAX_NR * sizeof(float)];
    size_t cin = (size_t)g->cin, cols = (size_t)g->kw * (size_t)g->cout, all = (size_t)g->kh * cols;
    size_t iw = (size_t)g->iw, tiles = ceil_div(iw, t->mr), ys = j->ys;
    for (size_t task = begin; task < end; task++) {
        size_t row = task / tiles, ix0 = task % tiles * t->mr, mr = iw - ix0 < t->mr ? iw - ix0 : t->mr;
        int64_t n = (int64_t)row / g->ih, iy = (int64_t)row % g->ih;
        t->gemm(mr, all, cin, j->ind.x + (row * iw + ix0) * cin * j->es, cin, j->packed, buf, all, j->params);
        for (int64_t ky = 0; ky < g->kh; ky++) {
            uint8_t* c = transpose_out(j, n, iy, ky, ix0);
            for (size_t r = 0; r < mr; r++) memcpy(c + r * cols * ys, buf + (r * all + (size_t)ky * cols) * ys,
                                                   cols * ys);
        }
    }
}

/* Few outputs per pixel (a convt table): one input row per task unit, the
 * kernel writing every kernel row's outputs in place. */
static void convt_lanes_task(void* arg, size_t begin, size_t end) {
    const conv_job* j = arg;
    const nrt_conv2d_geom* g = j->g;
    size_t cin = (size_t)g->cin, iw = (size_t)g->iw, y_row = (size_t)g->ow * (size_t)g->cout;
    size_t all = (size_t)(g->kh * g->kw * g->cout);
    nrt_qs8_convt_ukernel run = j->plan->convt_wide ? j->plan->convt->wide : j->plan->convt->run;
    for (size_t row = begin; row < end; row++) {
        int64_t n = (int64_t)row / g->ih, iy = (int64_t)row % g->ih;
        run(iw, cin, all, (size_t)g->kh, (const int8_t*)j->ind.x + row * iw * cin, j->packed,
            (int8_t*)transpose_out(j, n, iy, 0, 0), y_row, j->params);
    }
}

static void run_transpose(const nrt_threads* threads, conv_job* j) {
    const nrt_conv2d_geom* g = j->g;
    if (j->plan->convt) {
        size_t rows = (size_t)(g->n * g->ih);
        double work = (double)(g->iw * g->kh * g->kw * g->cout * g->cin);
        nrt_threads_run(threads, rows, nrt_task_grain(TASK_MACS, work), convt_lanes_task, j);
        return;
    }
    size_t tasks = (size_t)(g->n * g->ih) * ceil_div((size_t)g->iw, j->plan->gemm->mr);
    double work = (double)j->plan->gemm->mr * (double)(g->kh * g->kw * g->cout * g->cin);
    nrt_threads_run(threads, tasks, nrt_task_grain(TASK_MACS, work),
                    j->plan->merged_rows ? convt_merged_task : convt_task, j);
}

static void run_job(const nrt_threads* threads, const nrt_conv_plan* plan, const nrt_conv2d_geom* g, const void* x,
                    const void* packed, const nrt_conv_dw_rows* rows, const void* pad, const void* params,
                    const nrt_conv_lut* lut, const nrt_conv_post* post, void* y) {
    if (g->n == 0 || g->oh == 0 || g->ow == 0 || g->cout == 0) return;
    size_t es, ys;
    if (plan->kind == NRT_CONV_DEPTHWISE) es = plan->dw->format->x_bytes, ys = plan->dw->format->y_bytes;
    else if (plan->convt) es = ys = 1;
    else es = plan->gemm->format->a_bytes, ys = plan->gemm->format->c_bytes;
    conv_job j = {.plan = plan, .g = g, .packed = packed, .rows = rows, .params = params, .lut = lut,
                  .post = post, .y = y, .es = es, .ys = ys};
    if (plan->kind == NRT_CONV_TRANSPOSE) j.ind.x = x; /* taps are not windows: no indirection */
    else nrt_indirection_init(&j.ind, g, x, pad, es);
    if (plan->kind == NRT_CONV_DEPTHWISE) run_depthwise(threads, &j);
    else if (plan->kind == NRT_CONV_TRANSPOSE) run_transpose(threads, &j);
    else run_gemm(threads, &j);
}

void nrt_conv_run(const nrt_threads* threads, const nrt_conv_plan* plan, const nrt_conv2d_geom* g, const void* x,
                  const void* packed, const nrt_conv_dw_rows* rows, const void* pad, const void* params, void* y) {
    run_job(threads, plan, g, x, packed, rows, pad, params, NULL, NULL, y);
}

void nrt_conv_run_lut(const nrt_threads* threads, const nrt_conv_plan* plan, const nrt_conv2d_geom* g, const void* x,
                      const void* packed, const nrt_conv_dw_rows* rows, const void* pad, const void* params,
                      const nrt_conv_lut* lut, void* y) {
    run_job(threads, plan, g, x, packed, rows, pad, params, lut, NULL, y);
}

void nrt_conv_run_post(const nrt_threads* threads, const nrt_conv_plan* plan, const nrt_conv2d_geom* g,
                           const void* x, const void* packed, const nrt_conv_dw_rows* rows, const void* pad,
                           const void* params, const nrt_conv_post* post, void* y) {
    run_job(threads, plan, g, x, packed, rows, pad, params, NULL, post, y);
}
