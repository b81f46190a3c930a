#include "s8_drivers.h"

#include <stdlib.h>
#include <string.h>

#include "f32_gemm.h" /* nrt_f32_grain / nrt_s8_grain / nrt_f32_column_split: the same task sizing */

/* Packed weights up to this size stay in a core's L2 across row tiles; larger
 * ones are walked in column blocks of BLOCK_BYTES with the row tiles inside. */
#define L2_WEIGHT_BYTES (512u << 10)
#define BLOCK_BYTES (128u << 10)
/* Output pixels whose depthwise tap pointers are built at once. */
#define DW_PIXELS 16

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

/* Bytes of a merged kernel row of `run` values in a packed panel: whole K blocks. */
static size_t row_span(const nrt_s8_gemm_table* t, size_t run) { return ceil_div(run, t->kr) * t->kr; }

/* ---- packing ---- */

size_t nrt_s8_gemm_packed_bytes(const nrt_s8_gemm_table* t, size_t n, size_t kc, size_t ks) {
    return ceil_div(n, t->nr) * nrt_s8_gemm_panel_bytes(t, kc, ks);
}

/* Element (column j, tap p, k) at w[j * stride_n + p * stride_tap + k * stride_k]. */
static void pack_panels(const nrt_s8_gemm_table* t, size_t n, size_t kc, size_t ks, const int8_t* w, size_t stride_n,
                        size_t stride_tap, size_t stride_k, const int32_t* bias, const float* m, void* packed) {
    size_t nr = t->nr, kr = t->kr, kcb = ceil_div(kc, kr);
    uint8_t* p = packed;
    for (size_t n0 = 0; n0 < n; n0 += nr) {
        size_t nc = n - n0 < nr ? n - n0 : nr;
        for (size_t j = 0; j < nr; j++) {
            /* B - x_offset * sum W, modulo 2^32 (s8_kernels.h) */
            uint32_t sum = 0, b = 0;
            if (j < nc) {
                for (size_t tap = 0; tap < ks; tap++)
                    for (size_t k = 0; k < kc; k++)
                        sum += (uint32_t)w[(n0 + j) * stride_n + tap * stride_tap + k * stride_k];
                b = (bias ? (uint32_t)bias[n0 + j] : 0u) - (uint32_t)t->x_offset * sum;
            }
            memcpy(p, &b, sizeof b);
            p += sizeof b;
        }
        for (size_t tap = 0; tap < ks; tap++)
            for (size_t kb = 0; kb < kcb; kb++)
                for (size_t j = 0; j < nr; j++)
                    for (size_t kk = 0; kk < kr; kk++) {
                        size_t k = kb * kr + kk;
                        *p++ = (uint8_t)(j < nc && k < kc ? w[(n0 + j) * stride_n + tap * stride_tap + k * stride_k]
                                                          : 0);
                    }
        for (size_t j = 0; j < nr; j++) {
            float v = j < nc ? m[n0 + j] : 0.0f;
            memcpy(p, &v, sizeof v);
            p += sizeof v;
        }
    }
}

void nrt_s8_gemm_pack(const nrt_s8_gemm_table* t, size_t n, size_t kc, size_t ks, const int8_t* w, size_t stride_n,
                      size_t stride_tap, const int32_t* bias, const float* m, void* packed) {
    pack_panels(t, n, kc, ks, w, stride_n, stride_tap, 1, bias, m, packed);
}

/* Depthwise tiles: bias[cw], taps x cw weights in the table's format, m[cw];
 * w is OHWI [C][KH][KW][1] = [C][taps]. NRT_S8_DW_PAIRS stores each tile's
 * channels even ones first (slot j / 2), then odd ones (cw / 2 + j / 2). */
static void pack_depthwise(const nrt_s8_dwconv_table* t, size_t c, size_t taps, const int8_t* w,
                           const int32_t* bias, const float* m, uint8_t* p) {
    size_t cw = t->cw, wb = nrt_s8_dw_weight_bytes(t->wformat);
    bool pairs = t->wformat == NRT_S8_DW_PAIRS;
    for (size_t c0 = 0; c0 < c; c0 += cw) {
        for (size_t j = 0; j < cw; j++) {
            size_t slot = pairs ? (j % 2) * (cw / 2) + j / 2 : j;
            int32_t v = c0 + j < c && bias ? bias[c0 + j] : 0;
            memcpy(p + slot * sizeof v, &v, sizeof v);
        }
        p += cw * sizeof(int32_t);
        for (size_t tap = 0; tap < taps; tap++, p += cw * wb)
            for (size_t j = 0; j < cw; j++) {
                int8_t v = c0 + j < c ? w[(c0 + j) * taps + tap] : 0;
                int16_t v16 = v;
                uint32_t v32 = (uint16_t)v16; /* low half w, high half 0 */
                if (pairs) {
                    uint32_t lane = j % 2 ? v32 << 16 : v32; /* (w, 0) for even channels, (0, w) for odd */
                    memcpy(p + ((j % 2) * (cw / 2) + j / 2) * wb, &lane, sizeof lane);
                    continue;
                }
                switch (t->wformat) {
                case NRT_S8_DW_INT8: p[j] = (uint8_t)v; break;
                case NRT_S8_DW_INT16: memcpy(p + j * wb, &v16, sizeof v16); break;
                default: memcpy(p + j * wb, &v32, sizeof v32); break;
                }
            }
        for (size_t j = 0; j < cw; j++) {
            size_t slot = pairs ? (j % 2) * (cw / 2) + j / 2 : j;
            float v = c0 + j < c ? m[c0 + j] : 0.0f;
            memcpy(p + slot * sizeof v, &v, sizeof v);
        }
        p += cw * sizeof(float);
    }
}

/* Taps k of a window starting at `start` (dilation d) inside [0, n): [*k0, *k1). */
static void valid_rows(int64_t start, int64_t kernel, int64_t d, int64_t n, int64_t* k0, int64_t* k1) {
    int64_t a = start >= 0 ? 0 : (-start + d - 1) / d, b = start >= n ? 0 : (n - start + d - 1) / d;
    *k0 = a < kernel ? a : kernel;
    *k1 = b < kernel ? b : kernel;
    if (*k1 < *k0) *k1 = *k0;
}

size_t nrt_s8_dw_rows_plan(const nrt_s8_conv_plan* plan, const nrt_conv2d_geom* g, nrt_s8_dw_rows* r) {
    *r = (nrt_s8_dw_rows){0};
    if (plan->kind != NRT_S8_CONV_DEPTHWISE) return 0;
    size_t bytes = 0, tiles = ceil_div((size_t)g->cout, plan->dw->cw);
    for (int64_t oy = 0; oy < g->oh; oy++) {
        int64_t ky0, ky1;
        valid_rows(oy * g->sh - g->pad_t, g->kh, g->dh, g->ih, &ky0, &ky1);
        if (ky0 == 0 && ky1 == g->kh) continue;
        int v = 0;
        while (v < r->count && !(r->ky0[v] == ky0 && r->ky1[v] == ky1)) v++;
        if (v < r->count) continue;
        if (r->count == NRT_S8_DW_MAX_VARIANTS) break; /* rows past the limit use the full weights */
        r->ky0[v] = ky0;
        r->ky1[v] = ky1;
        r->offset[v] = bytes;
        bytes += tiles * nrt_s8_dwconv_tile_bytes(plan->dw, (size_t)((ky1 - ky0) * g->kw));
        bytes = ceil_div(bytes, NRT_S8_PACK_ALIGN) * NRT_S8_PACK_ALIGN;
        r->count++;
    }
    return bytes;
}

void nrt_s8_dw_rows_pack(const nrt_s8_conv_plan* plan, const nrt_conv2d_geom* g, const int8_t* w,
                         const int32_t* bias, const float* m, int32_t zx, nrt_s8_dw_rows* r, void* mem) {
    size_t c = (size_t)g->cout, kh = (size_t)g->kh, kw = (size_t)g->kw, taps = kh * kw;
    r->packed = mem;
    int32_t b[64];
    int8_t wv[64 * NRT_S8_CONV_MAX_TAPS];
    for (int v = 0; v < r->count; v++) {
        size_t k0 = (size_t)r->ky0[v], k1 = (size_t)r->ky1[v], vt = (k1 - k0) * kw;
        size_t tile = nrt_s8_dwconv_tile_bytes(plan->dw, vt);
        /* 64 channels at a time (a multiple of every tile width) */
        for (size_t c0 = 0; c0 < c; c0 += 64) {
            size_t cn = c - c0 < 64 ? c - c0 : 64;
            for (size_t i = 0; i < cn; i++) {
                const int8_t* wc = w + (c0 + i) * taps;
                uint32_t skipped = 0;
                for (size_t t = 0; t < taps; t++)
                    if (t / kw < k0 || t / kw >= k1) skipped += (uint32_t)wc[t];
                b[i] = (int32_t)((bias ? (uint32_t)bias[c0 + i] : 0u) + (uint32_t)zx * skipped);
                memcpy(wv + i * vt, wc + k0 * kw, vt);
            }
            pack_depthwise(plan->dw, cn, vt, wv, b, m + c0, (uint8_t*)mem + r->offset[v] + c0 / plan->dw->cw * tile);
        }
    }
}

/* ---- GEMM (FullyConnected) ---- */

typedef struct gemm_job {
    const nrt_s8_gemm_table* t;
    const nrt_s8_gemm_args* g;
    size_t m_tiles, panels, n_blocks, block_panels, panel_bytes;
    bool m_inner; /* task order: row tiles inside column blocks */
} gemm_job;

static void gemm_task(void* arg, size_t begin, size_t end) {
    const gemm_job* j = arg;
    const nrt_s8_gemm_args* g = j->g;
    size_t mr_max = j->t->mr, nr = j->t->nr;
    for (size_t task = begin; task < end; task++) {
        size_t mt = j->m_inner ? task % j->m_tiles : task / j->n_blocks;
        size_t nb = j->m_inner ? task / j->m_tiles : task % j->n_blocks;
        size_t m0 = mt * mr_max, mr = g->M - m0 < mr_max ? g->M - m0 : mr_max;
        size_t p1 = (nb + 1) * j->block_panels < j->panels ? (nb + 1) * j->block_panels : j->panels;
        for (size_t p = nb * j->block_panels; p < p1; p++) {
            size_t n0 = p * nr, nc = g->N - n0 < nr ? g->N - n0 : nr;
            j->t->gemm(mr, nc, g->K, g->a + m0 * g->lda, g->lda, (const uint8_t*)g->packed + p * j->panel_bytes,
                       g->c + m0 * g->ldc + n0, g->ldc, g->rq);
        }
    }
}

void nrt_s8_gemm_run(const nrt_threads* threads, const nrt_s8_gemm_table* t, const nrt_s8_gemm_args* g) {
    if (g->M == 0 || g->N == 0) return;
    gemm_job j = {t, g, ceil_div(g->M, t->mr), ceil_div(g->N, t->nr), 1, 1, nrt_s8_gemm_panel_bytes(t, g->K, 1),
                  false};
    if (j.panels * j.panel_bytes > L2_WEIGHT_BYTES && j.m_tiles > 1) {
        j.block_panels = BLOCK_BYTES / j.panel_bytes ? BLOCK_BYTES / j.panel_bytes : 1;
        j.m_inner = true;
    } else {
        size_t split = nrt_f32_column_split(threads, j.m_tiles, j.panels);
        j.block_panels = ceil_div(j.panels, split);
    }
    j.n_blocks = ceil_div(j.panels, j.block_panels);
    size_t tasks = j.m_tiles * j.n_blocks;
    double rows = (double)(g->M < t->mr ? g->M : t->mr);
    double work = rows * (double)(j.block_panels * t->nr) * (double)g->K;
    nrt_threads_run(threads, tasks, nrt_s8_grain(tasks, work), gemm_task, &j);
}

/* ---- MatMul of two activations ---- */

size_t nrt_s8_matmul_packed_elems(const nrt_s8_matmul_table* t, size_t K, size_t N) {
    return ceil_div(N, t->nr) * ceil_div(K, 2) * t->nr * 2;
}

void nrt_s8_matmul_pack(const nrt_s8_matmul_table* t, size_t K, size_t N, const int8_t* b, size_t ldb, int32_t zb,
                        int16_t* packed) {
    size_t nr = t->nr;
    for (size_t n0 = 0; n0 < N; n0 += nr)
        for (size_t k = 0; k < K; k += 2)
            for (size_t j = 0; j < nr; j++) {
                bool col = n0 + j < N;
                *packed++ = (int16_t)(col ? b[k * ldb + n0 + j] - zb : 0);
                *packed++ = (int16_t)(col && k + 1 < K ? b[(k + 1) * ldb + n0 + j] - zb : 0);
            }
}

typedef struct matmul_job {
    const nrt_s8_matmul_table* t;
    const nrt_s8_matmul_args* g;
    size_t m_tiles, panels;
} matmul_job;

static void matmul_task(void* arg, size_t begin, size_t end) {
    const matmul_job* j = arg;
    const nrt_s8_matmul_args* g = j->g;
    size_t MR = j->t->mr, nr = j->t->nr, per_batch = j->m_tiles * j->panels;
    size_t panel = ceil_div(g->K, 2) * nr * 2;
    for (size_t task = begin; task < end; task++) {
        size_t bi = task / per_batch, r = task % per_batch, mt = r / j->panels, pn = r % j->panels;
        size_t m0 = mt * MR, mr = g->M - m0 < MR ? g->M - m0 : MR, n0 = pn * nr, nc = g->N - n0 < nr ? g->N - n0 : nr;
        const int8_t* a = g->a + (g->a_offset ? g->a_offset[bi] : 0) + m0 * g->lda;
        j->t->run(mr, nc, g->K, a, g->lda, g->za, g->packed + bi * g->packed_stride + pn * panel,
                  g->c + (bi * g->M + m0) * g->ldc + n0, g->ldc, g->m, g->rq);
    }
}

void nrt_s8_matmul_run(const nrt_threads* threads, const nrt_s8_matmul_table* t, const nrt_s8_matmul_args* g) {
    if (g->M == 0 || g->N == 0 || g->batch == 0) return;
    matmul_job j = {t, g, ceil_div(g->M, t->mr), ceil_div(g->N, t->nr)};
    size_t tasks = g->batch * j.m_tiles * j.panels;
    double work = (double)(g->M < t->mr ? g->M : t->mr) * (double)t->nr * (double)(g->K ? g->K : 1);
    nrt_threads_run(threads, tasks, nrt_s8_grain(tasks, work), matmul_task, &j);
}

/* ---- Conv: plan and packing ---- */

bool nrt_s8_conv_plan_init(const nrt_kernels* k, const int64_t* wd, int64_t group, int64_t dilation_w,
                           nrt_s8_conv_plan* plan) {
    *plan = (nrt_s8_conv_plan){0};
    if (wd[1] > NRT_S8_CONV_MAX_TAPS || wd[2] > NRT_S8_CONV_MAX_TAPS) return false;
    size_t taps = (size_t)(wd[1] * wd[2]), cout = (size_t)wd[0], cig = (size_t)wd[3];
    if (group < 1 || taps > NRT_S8_CONV_MAX_TAPS || cout % (size_t)group != 0) return false;
    if (cig == 1 && group > 1 && cout == (size_t)group && (plan->dw = k->qs8_dwconv)) {
        plan->kind = NRT_S8_CONV_DEPTHWISE;
        plan->packed_bytes = ceil_div(cout, plan->dw->cw) * nrt_s8_dwconv_tile_bytes(plan->dw, taps);
        return true;
    }
    if (!(plan->gemm = k->qs8_gemm)) return false;
    plan->kind = NRT_S8_CONV_GEMM;
    size_t run = (size_t)wd[2] * cig;
    plan->merged_rows = group == 1 && dilation_w == 1 && wd[2] > 1 && cig < NRT_S8_ROWS_CHANNELS &&
                        run <= NRT_S8_ROWS_MAX_K && wd[1] <= NRT_S8_ROWS_MAX_KH;
    if (plan->merged_rows) plan->group_bytes = nrt_s8_gemm_packed_bytes(plan->gemm, cout, run, (size_t)wd[1]);
    else plan->group_bytes = nrt_s8_gemm_packed_bytes(plan->gemm, cout / (size_t)group, cig, taps);
    plan->packed_bytes = (size_t)group * plan->group_bytes;
    return true;
}

void nrt_s8_conv_pack(const nrt_s8_conv_plan* plan, const int64_t* wd, int64_t group, const int8_t* w,
                      const int32_t* bias, const float* m, void* packed) {
    size_t taps = (size_t)(wd[1] * wd[2]), cout = (size_t)wd[0], cig = (size_t)wd[3];
    if (plan->kind == NRT_S8_CONV_DEPTHWISE) {
        pack_depthwise(plan->dw, cout, taps, w, bias, m, packed);
        return;
    }
    size_t cog = cout / (size_t)group, k = taps * cig;
    if (plan->merged_rows) { /* kh blocks of the kw x cig contiguous values of a kernel row */
        size_t run = (size_t)wd[2] * cig;
        nrt_s8_gemm_pack(plan->gemm, cout, run, (size_t)wd[1], w, k, run, bias, m, packed);
        return;
    }
    /* group grp: OHWI rows [grp * cog, (grp + 1) * cog), each taps x cig */
    for (size_t grp = 0; grp < (size_t)group; grp++)
        nrt_s8_gemm_pack(plan->gemm, cog, cig, taps, w + grp * cog * k, k, cig, bias ? bias + grp * cog : NULL,
                         m + grp * cog, (uint8_t*)packed + grp * plan->group_bytes);
}

/* A convt table's wide kernel reads one c4 GEMM panel `cols` columns wide
 * (every kernel row's outputs: s8_kernels.h); packed and sized as such. */
static nrt_s8_gemm_table wide_panel(const nrt_s8_convt_table* ct, size_t cols) {
    return (nrt_s8_gemm_table){ct->wide_name, ct->isa, 1, (uint32_t)cols, 4, ct->x_offset, NULL, NULL};
}

bool nrt_s8_convt_plan_init(const nrt_kernels* k, const int64_t* wd, int64_t group, const int64_t* stride,
                            const int64_t* dilation, bool padded, nrt_s8_conv_plan* plan) {
    *plan = (nrt_s8_conv_plan){0};
    bool upsample = group == 1 && !padded && dilation[0] == 1 && dilation[1] == 1 && stride[0] == wd[1] &&
                    stride[1] == wd[2];
    if (!upsample) return false;
    size_t all = (size_t)(wd[1] * wd[2] * wd[3]);
    const nrt_s8_convt_table* ct = k->qs8_convt;
    if (ct && ct->lanes % all == 0 && ct->lanes / all * nrt_s8_convt_block_bytes(ct, (size_t)wd[0]) <= ct->max_bytes) {
        plan->kind = NRT_S8_CONV_TRANSPOSE;
        plan->convt = ct;
        plan->group_bytes = plan->packed_bytes = nrt_s8_convt_packed_bytes(ct, (size_t)wd[0]);
        return true;
    }
    size_t cols = (size_t)(wd[2] * wd[3]);
    if (ct && ct->wide && all <= ct->wide_max && cols % ct->lanes == 0) {
        plan->kind = NRT_S8_CONV_TRANSPOSE;
        plan->convt = ct;
        plan->convt_wide = true;
        nrt_s8_gemm_table panel = wide_panel(ct, all);
        plan->group_bytes = plan->packed_bytes = nrt_s8_gemm_panel_bytes(&panel, (size_t)wd[0], 1);
        return true;
    }
    if (!(plan->gemm = k->qs8_gemm)) return false;
    plan->kind = NRT_S8_CONV_TRANSPOSE;
    plan->merged_rows = all <= plan->gemm->nr && all <= NRT_S8_GEMM_MAX_NR;
    if (plan->merged_rows) {
        plan->group_bytes = plan->packed_bytes = nrt_s8_gemm_packed_bytes(plan->gemm, all, (size_t)wd[0], 1);
        return true;
    }
    plan->group_bytes = nrt_s8_gemm_packed_bytes(plan->gemm, (size_t)(wd[2] * wd[3]), (size_t)wd[0], 1);
    plan->packed_bytes = (size_t)wd[1] * plan->group_bytes;
    return true;
}

/* int32 bias[n], int16 w[ceil(kc / 2)][n][2] (w[j * kc + k], 0 past kc), float m[n]
 * (s8_kernels.h, convt kr 2); the bias as given (x_offset 0). */
static void pack_pairs16(size_t n, size_t kc, const int8_t* w, const int32_t* bias, const float* m, void* packed) {
    uint8_t* p = packed;
    memcpy(p, bias, n * sizeof *bias);
    p += n * sizeof *bias;
    for (size_t k = 0; k < kc; k += 2)
        for (size_t j = 0; j < n; j++)
            for (size_t kk = k; kk < k + 2; kk++, p += sizeof(int16_t)) {
                int16_t v = kk < kc ? w[j * kc + kk] : 0;
                memcpy(p, &v, sizeof v);
            }
    memcpy(p, m, n * sizeof *m);
}

/* The lanes of a convt table (s8_kernels.h): lane l takes column (ky, j) of
 * pixel slot l % (P * cols) / cols, packed as a c4 GEMM panel of `lanes`
 * columns (kr 4) or as int16 pairs (kr 2). */
static bool convt_pack_lanes(const nrt_s8_convt_table* ct, const int64_t* wd, const int8_t* w, const int32_t* bias,
                             const float* m, int32_t zx, void* packed) {
    size_t cin = (size_t)wd[0], kh = (size_t)wd[1], cout = (size_t)wd[3], all = (size_t)wd[1] * (size_t)wd[2] * cout;
    size_t lanes = ct->lanes, cols = all / kh, row_bytes = lanes / all * cols;
    int8_t* wl = malloc(lanes * cin);
    int32_t* b = malloc(lanes * sizeof *b);
    float* ml = malloc(lanes * sizeof *ml);
    bool ok = wl && b && ml;
    for (size_t l = 0; ok && l < lanes; l++) {
        size_t col = l / row_bytes * cols + l % cols; /* (ky, kx, c) = w[ci][ky][kx][c] at ci * all + col */
        uint32_t sum = 0;
        for (size_t ci = 0; ci < cin; ci++) sum += (uint32_t)(wl[l * cin + ci] = w[ci * all + col]);
        b[l] = (int32_t)((bias ? (uint32_t)bias[col % cout] : 0u) - (uint32_t)zx * sum);
        ml[l] = m[col % cout];
    }
    nrt_s8_gemm_table t = {ct->name, ct->isa, (uint32_t)lanes, (uint32_t)lanes, 4, ct->x_offset, NULL, NULL};
    if (ok && ct->kr == 4) pack_panels(&t, lanes, cin, 1, wl, cin, 0, 1, b, ml, packed);
    if (ok && ct->kr == 2) pack_pairs16(lanes, cin, wl, b, ml, packed);
    free(wl);
    free(b);
    free(ml);
    return ok;
}

bool nrt_s8_convt_pack(const nrt_s8_conv_plan* plan, const int64_t* wd, const int8_t* w, const int32_t* bias,
                       const float* m, int32_t zx, void* packed) {
    if (plan->convt && !plan->convt_wide) return convt_pack_lanes(plan->convt, wd, w, bias, m, zx, packed);
    size_t cin = (size_t)wd[0], kh = (size_t)wd[1], kw = (size_t)wd[2], cout = (size_t)wd[3], cols = kw * cout;
    size_t rows = plan->merged_rows || plan->convt_wide ? 1 : kh, row_stride = cols;
    if (rows == 1) cols *= kh; /* one panel: column j = (ky * kw + kx) * C_out + c */
    nrt_s8_gemm_table wide = plan->convt_wide ? wide_panel(plan->convt, cols) : (nrt_s8_gemm_table){0};
    const nrt_s8_gemm_table* t = plan->convt_wide ? &wide : plan->gemm;
    int32_t* b = malloc(cols * sizeof *b);
    float* mc = malloc(cols * sizeof *mc);
    bool ok = b && mc;
    for (size_t ky = 0; ok && ky < rows; ky++) {
        /* kernel row ky: column j = kx * C_out + c, K = C_in, W_ky[j][ci] = w[ci][ky][kx][c] */
        const int8_t* wk = w + ky * row_stride;
        for (size_t j = 0; j < cols; j++) {
            uint32_t sum = 0;
            for (size_t ci = 0; ci < cin; ci++) sum += (uint32_t)wk[ci * kh * kw * cout + j];
            b[j] = (int32_t)((bias ? (uint32_t)bias[j % cout] : 0u) - (uint32_t)zx * sum);
            mc[j] = m[j % cout];
        }
        pack_panels(t, cols, cin, 1, wk, 1, 0, kh * kw * cout, b, mc,
                    (uint8_t*)packed + ky * plan->group_bytes);
    }
    free(b);
    free(mc);
    return ok;
}

/* ---- Conv: GEMM / indirect GEMM ---- */

typedef struct conv_job {
    const nrt_s8_conv_plan* plan;
    const nrt_conv2d_geom* g;
    const int8_t *x, *zbuf;
    const uint8_t* packed;
    const nrt_s8_requant* rq;
    int8_t* y;
    const nrt_s8_dw_rows* rows;
    size_t panels_per_group, n_blocks, block_units, panel_bytes;
    bool direct; /* 1x1 stride-1 unpadded ungrouped: rows read in place */
    ptrdiff_t tap_offset[NRT_S8_CONV_MAX_TAPS]; /* tap t's input offset from the window's corner pixel */
} conv_job;

static void init_tap_offsets(conv_job* j) {
    const nrt_conv2d_geom* g = j->g;
    for (int64_t ky = 0; ky < g->kh; ky++)
        for (int64_t kx = 0; kx < g->kw; kx++)
            j->tap_offset[ky * g->kw + kx] = (ptrdiff_t)((ky * g->dh * g->iw + kx * g->dw) * g->cin);
}

/* Whether every tap of the window with corner (iy0, ix0) lies inside the input. */
static bool interior(const nrt_conv2d_geom* g, int64_t iy0, int64_t ix0) {
    return iy0 >= 0 && ix0 >= 0 && iy0 + (g->kh - 1) * g->dh < g->ih && ix0 + (g->kw - 1) * g->dw < g->iw;
}

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

/* Tap pointers of output pixels [m0, m0 + mr) for group grp: ind[t * MR + r]
 * (the z_x buffer in the padding); rows past mr repeat the last one. */
static void build_indirection(const conv_job* j, size_t m0, size_t mr, size_t grp, const int8_t** ind) {
    const nrt_conv2d_geom* g = j->g;
    size_t MR = j->plan->gemm->mr, taps = (size_t)(g->kh * g->kw);
    pixel_pos p = pixel_at(g, m0);
    int64_t iy0 = p.oy * g->sh - g->pad_t, ix0 = p.ox * g->sw - g->pad_l;
    if (p.ox + (int64_t)mr <= g->ow && interior(g, iy0, ix0) && interior(g, iy0, ix0 + ((int64_t)mr - 1) * g->sw)) {
        /* the common case: the tile's pixels in one output row, all inside: fixed strides */
        const int8_t* corner = j->x + ((p.n * g->ih + iy0) * g->iw + ix0) * g->cin + (int64_t)grp * (g->cin / g->group);
        size_t xs = (size_t)(g->sw * g->cin);
        for (size_t t = 0; t < taps; t++)
            for (size_t r = 0; r < MR; r++) ind[t * MR + r] = corner + j->tap_offset[t] + (r < mr ? r : mr - 1) * xs;
        return;
    }
    for (size_t r = 0; r < MR; r++) {
        if (r > 0 && r < mr) pixel_next(g, &p);
        iy0 = p.oy * g->sh - g->pad_t, ix0 = p.ox * g->sw - g->pad_l;
        const int8_t* img = j->x + p.n * g->ih * g->iw * g->cin + (int64_t)grp * (g->cin / g->group);
        const int8_t** out = ind + r;
        if (interior(g, iy0, ix0)) { /* the common case: fixed offsets from the corner */
            const int8_t* corner = img + (iy0 * g->iw + ix0) * g->cin;
            for (size_t t = 0; t < taps; t++) out[t * MR] = corner + j->tap_offset[t];
            continue;
        }
        for (int64_t ky = 0; ky < g->kh; ky++) {
            int64_t iy = iy0 + ky * g->dh;
            const int8_t* row = iy >= 0 && iy < g->ih ? img + iy * g->iw * g->cin : NULL;
            for (int64_t kx = 0; kx < g->kw; kx++, out += MR) {
                int64_t ix = ix0 + kx * g->dw;
                *out = row && ix >= 0 && ix < g->iw ? row + ix * g->cin : j->zbuf;
            }
        }
    }
}

/* Merged rows: one pointer per (pixel, kernel row) at the kw x C_in bytes
 * under it; rows crossing the left / right edge, or in the padding, get a
 * copy in `edge` with z_x filled in. Returns the bytes the GEMM may read per
 * pointer: kw x C_in, or that rounded up to whole K blocks when every pointer
 * is into the input and the bytes past the run (the next pixel's, multiplied
 * by the panel's zero pad weights) are still inside it: no K remainder, read
 * byte by byte, per kernel row. */
static size_t build_row_indirection(const conv_job* j, size_t m0, size_t mr, const int8_t** ind, int8_t* edge) {
    const nrt_conv2d_geom* g = j->g;
    size_t MR = j->plan->gemm->mr, run = (size_t)(g->kw * g->cin);
    int8_t zx = *j->zbuf;
    pixel_pos p = pixel_at(g, m0);
    int64_t iy0 = p.oy * g->sh - g->pad_t, ix0 = p.ox * g->sw - g->pad_l;
    if (p.ox + (int64_t)mr <= g->ow && interior(g, iy0, ix0) && interior(g, iy0, ix0 + ((int64_t)mr - 1) * g->sw)) {
        /* the common case: the tile's pixels in one output row, all inside: fixed strides */
        const int8_t* corner = j->x + ((p.n * g->ih + iy0) * g->iw + ix0) * g->cin;
        size_t xs = (size_t)(g->sw * g->cin), ys = (size_t)(g->dh * g->iw * g->cin);
        for (size_t ky = 0; ky < (size_t)g->kh; ky++, corner += ys)
            for (size_t r = 0; r < MR; r++) ind[ky * MR + r] = corner + (r < mr ? r : mr - 1) * xs;
        size_t span = row_span(j->plan->gemm, run);
        const int8_t* last = ind[(size_t)(g->kh - 1) * MR + mr - 1];
        return (size_t)(j->x + g->n * g->ih * g->iw * g->cin - last) >= span ? span : run;
    }
    for (size_t r = 0; r < MR; r++) {
        if (r > 0 && r < mr) pixel_next(g, &p);
        iy0 = p.oy * g->sh - g->pad_t, ix0 = p.ox * g->sw - g->pad_l;
        int64_t kx0 = ix0 >= 0 ? 0 : -ix0, kx1 = g->iw - ix0;
        kx0 = kx0 < g->kw ? kx0 : g->kw;
        kx1 = kx1 < g->kw ? (kx1 > kx0 ? kx1 : kx0) : g->kw;
        const int8_t* img = j->x + p.n * g->ih * g->iw * g->cin;
        for (int64_t ky = 0; ky < g->kh; ky++) {
            int64_t iy = iy0 + ky * g->dh;
            const int8_t** out = ind + (size_t)ky * MR + r;
            bool row_in = iy >= 0 && iy < g->ih;
            if (row_in && kx0 == 0 && kx1 == g->kw) {
                *out = img + (iy * g->iw + ix0) * g->cin;
                continue;
            }
            int8_t* dst = edge + (r * (size_t)g->kh + (size_t)ky) * run;
            size_t lo = row_in ? (size_t)(kx0 * g->cin) : 0, hi = row_in ? (size_t)(kx1 * g->cin) : 0;
            const int8_t* src = hi > lo ? img + (iy * g->iw + ix0 + kx0) * g->cin : NULL;
            for (size_t i = 0; i < run; i++) dst[i] = i >= lo && i < hi ? src[i - lo] : zx;
            *out = dst;
        }
    }
    return run;
}

static void conv_gemm_task(void* arg, size_t begin, size_t end) {
    const conv_job* j = arg;
    const nrt_conv2d_geom* g = j->g;
    const nrt_s8_gemm_table* t = j->plan->gemm;
    const int8_t* ind[NRT_S8_CONV_MAX_TAPS * NRT_S8_GEMM_MAX_MR];
    int8_t edge[NRT_S8_GEMM_MAX_MR * NRT_S8_ROWS_MAX_KH * NRT_S8_ROWS_MAX_K];
    size_t M = (size_t)(g->n * g->oh * g->ow), cout = (size_t)g->cout, cig = (size_t)(g->cin / g->group);
    size_t cog = cout / (size_t)g->group, taps = (size_t)(g->kh * g->kw);
    size_t units = (size_t)g->group * j->panels_per_group;
    for (size_t task = begin; task < end; task++) {
        size_t mt = task / j->n_blocks, nb = task % j->n_blocks;
        size_t m0 = mt * t->mr, mr = M - m0 < t->mr ? M - m0 : t->mr;
        size_t u1 = (nb + 1) * j->block_units < units ? (nb + 1) * j->block_units : units, built = (size_t)-1;
        size_t kc = 0; /* merged rows: bytes read per pointer (build_row_indirection) */
        for (size_t u = nb * j->block_units; u < u1; u++) {
            size_t grp = u / j->panels_per_group, pn = u % j->panels_per_group, n0 = pn * t->nr;
            size_t nc = cog - n0 < t->nr ? cog - n0 : t->nr;
            const uint8_t* w = j->packed + grp * j->plan->group_bytes + pn * j->panel_bytes;
            int8_t* c = j->y + m0 * cout + grp * cog + n0;
            if (j->direct) {
                t->gemm(mr, nc, cig, j->x + m0 * (size_t)g->cin, (size_t)g->cin, w, c, cout, j->rq);
                continue;
            }
            if (j->plan->merged_rows) {
                if (grp != built) kc = build_row_indirection(j, m0, mr, ind, edge);
                built = grp;
                t->igemm(mr, nc, kc, (size_t)g->kh, ind, w, c, cout, j->rq);
                continue;
            }
            if (grp != built) build_indirection(j, m0, mr, grp, ind);
            built = grp;
            t->igemm(mr, nc, cig, taps, ind, w, c, cout, j->rq);
        }
    }
}

static void run_gemm(const nrt_threads* threads, conv_job* j) {
    const nrt_conv2d_geom* g = j->g;
    const nrt_s8_gemm_table* t = j->plan->gemm;
    size_t M = (size_t)(g->n * g->oh * g->ow), cog = (size_t)(g->cout / g->group);
    size_t cig = (size_t)(g->cin / g->group), taps = (size_t)(g->kh * g->kw);
    j->direct = nrt_conv_is_pointwise(g) && !j->plan->merged_rows;
    j->panels_per_group = ceil_div(cog, t->nr);
    j->panel_bytes = j->plan->merged_rows ? nrt_s8_gemm_panel_bytes(t, (size_t)g->kw * cig, (size_t)g->kh)
                                          : nrt_s8_gemm_panel_bytes(t, cig, taps);
    size_t m_tiles = ceil_div(M, t->mr), units = (size_t)g->group * j->panels_per_group;
    size_t split = nrt_f32_column_split(threads, m_tiles, units);
    j->block_units = ceil_div(units, split);
    j->n_blocks = ceil_div(units, j->block_units);
    double work = (double)(M < t->mr ? M : t->mr) * (double)(j->block_units * t->nr) * (double)(taps * cig);
    size_t tasks = m_tiles * j->n_blocks;
    nrt_threads_run(threads, tasks, nrt_s8_grain(tasks, work), conv_gemm_task, j);
}

/* ---- Conv: depthwise ---- */

/* Kernel rows [*ky0, *ky1) of output row oy inside the input, and the
 * variant packed for them (-1: none; all rows run on the full weights). */
static int row_variant(const conv_job* j, int64_t iy0, int64_t* ky0, int64_t* ky1) {
    const nrt_conv2d_geom* g = j->g;
    valid_rows(iy0, g->kh, g->dh, g->ih, ky0, ky1);
    for (int v = 0; j->rows && v < j->rows->count; v++)
        if (j->rows->ky0[v] == *ky0 && j->rows->ky1[v] == *ky1) return v;
    *ky0 = 0;
    *ky1 = g->kh;
    return -1;
}

/* Output columns [*ox0, *ox1) whose taps all lie inside the input's columns. */
static void interior_cols(const nrt_conv2d_geom* g, int64_t* ox0, int64_t* ox1) {
    int64_t last = g->iw - 1 - (g->kw - 1) * g->dw + g->pad_l; /* ox * sw may reach this */
    int64_t b = last < 0 ? 0 : last / g->sw + 1, a = (g->pad_l + g->sw - 1) / g->sw;
    *ox1 = b < g->ow ? b : g->ow;
    *ox0 = a < *ox1 ? a : *ox1;
}

/* Output pixels [ox0, ox1) of output row `row` (corner row iy0, kernel rows
 * [ky0, ky1) on weights `packed`; v < 0: the full weights) through the
 * indirection kernel, DW_PIXELS at a time. */
static void dw_indirect(const conv_job* j, size_t row, int64_t iy0, int64_t ky0, int64_t ky1, int v,
                        const uint8_t* packed, int64_t ox0, int64_t ox1) {
    const nrt_conv2d_geom* g = j->g;
    const int8_t* ind[DW_PIXELS * NRT_S8_CONV_MAX_TAPS];
    size_t c = (size_t)g->cout, taps = (size_t)((ky1 - ky0) * g->kw);
    const int8_t* img = j->x + (int64_t)row / g->oh * g->ih * g->iw * g->cin;
    int8_t* yrow = j->y + row * (size_t)g->ow * c;
    for (int64_t oxb = ox0; oxb < ox1; oxb += DW_PIXELS) {
        int64_t np = ox1 - oxb < DW_PIXELS ? ox1 - oxb : DW_PIXELS;
        const int8_t** out = ind;
        for (int64_t p = 0; p < np; p++) {
            int64_t ix0 = (oxb + p) * g->sw - g->pad_l;
            if (v < 0 && interior(g, iy0, ix0)) {
                const int8_t* corner = img + (iy0 * g->iw + ix0) * g->cin;
                for (size_t t = 0; t < taps; t++) *out++ = corner + j->tap_offset[t];
                continue;
            }
            for (int64_t ky = ky0; ky < ky1; ky++) {
                int64_t iy = iy0 + ky * g->dh;
                const int8_t* xr = iy >= 0 && iy < g->ih ? img + iy * g->iw * g->cin : NULL;
                for (int64_t kx = 0; kx < g->kw; kx++) {
                    int64_t ix = ix0 + kx * g->dw;
                    *out++ = xr && ix >= 0 && ix < g->iw ? xr + ix * g->cin : j->zbuf;
                }
            }
        }
        j->plan->dw->run(c, (size_t)np, taps, ind, packed, yrow + (size_t)oxb * c, c, j->rq);
    }
}

/* One output row per task unit: the interior columns through the row kernel
 * (when the table has one and the kernel rows run lie inside the input), the
 * rest through the indirection. */
static void dw_task(void* arg, size_t begin, size_t end) {
    const conv_job* j = arg;
    const nrt_conv2d_geom* g = j->g;
    const nrt_s8_dwconv_table* t = j->plan->dw;
    size_t c = (size_t)g->cout;
    int64_t ox0, ox1;
    interior_cols(g, &ox0, &ox1);
    for (size_t row = begin; row < end; row++) {
        int64_t n = (int64_t)row / g->oh, oy = (int64_t)row % g->oh, iy0 = oy * g->sh - g->pad_t, ky0, ky1;
        int v = row_variant(j, iy0, &ky0, &ky1);
        const uint8_t* packed = v < 0 ? j->packed : j->rows->packed + j->rows->offset[v];
        bool rows_in = ky1 > ky0 && iy0 + ky0 * g->dh >= 0 && iy0 + (ky1 - 1) * g->dh < g->ih;
        if (!t->row || !rows_in || ox1 == ox0) {
            dw_indirect(j, row, iy0, ky0, ky1, v, packed, 0, g->ow);
            continue;
        }
        const int8_t* rp[NRT_S8_CONV_MAX_TAPS];
        const int8_t* img = j->x + n * g->ih * g->iw * g->cin;
        for (int64_t ky = ky0; ky < ky1; ky++)
            rp[ky - ky0] = img + ((iy0 + ky * g->dh) * g->iw + ox0 * g->sw - g->pad_l) * g->cin;
        int8_t* yrow = j->y + (row * (size_t)g->ow + (size_t)ox0) * c;
        t->row(c, (size_t)(ox1 - ox0), (size_t)(ky1 - ky0), (size_t)g->kw, rp, (size_t)(g->sw * g->cin),
               (size_t)(g->dw * g->cin), packed, yrow, j->rq);
        dw_indirect(j, row, iy0, ky0, ky1, v, packed, 0, ox0);
        dw_indirect(j, row, iy0, ky0, ky1, v, packed, ox1, g->ow);
    }
}

static void run_depthwise(const nrt_threads* threads, conv_job* j) {
    const nrt_conv2d_geom* g = j->g;
    size_t rows = (size_t)(g->n * g->oh);
    double work = (double)(g->ow * g->cout * g->kh * g->kw);
    nrt_threads_run(threads, rows, nrt_f32_grain(rows, work), dw_task, j);
}

/* ---- ConvTranspose, kernel == stride ---- */

/* One tile of an input row: for each kernel row, a GEMM of N = kw x C_out
 * written to output row iy * sh + ky from column ix0 * sw on. */
static void convt_task(void* arg, size_t begin, size_t end) {
    const conv_job* j = arg;
    const nrt_conv2d_geom* g = j->g;
    const nrt_s8_gemm_table* t = j->plan->gemm;
    size_t cin = (size_t)g->cin, cout = (size_t)g->cout, cols = (size_t)g->kw * cout, iw = (size_t)g->iw;
    size_t tiles = ceil_div(iw, t->mr), panel = nrt_s8_gemm_panel_bytes(t, cin, 1);
    for (size_t task = begin; task < end; task++) {
        size_t row = task / tiles, ix0 = task % tiles * t->mr, mr = iw - ix0 < t->mr ? iw - ix0 : t->mr;
        int64_t n = (int64_t)row / g->ih, iy = (int64_t)row % g->ih;
        const int8_t* a = j->x + (row * iw + ix0) * cin;
        for (int64_t ky = 0; ky < g->kh; ky++) {
            const uint8_t* w = j->packed + (size_t)ky * j->plan->group_bytes;
            int8_t* c = j->y + ((size_t)((n * g->oh + iy * g->sh + ky) * g->ow) + ix0 * (size_t)g->sw) * cout;
            for (size_t n0 = 0; n0 < cols; n0 += t->nr, w += panel)
                t->gemm(mr, cols - n0 < t->nr ? cols - n0 : t->nr, cin, a, cin, w, c + n0, cols, j->rq);
        }
    }
}

/* Merged kernel rows (kh x kw x C_out <= nr): one GEMM per tile into a
 * buffer, then each kernel row's kw x C_out values of the tile's pixels,
 * contiguous in output row iy * sh + ky, copied there. */
static void convt_merged_task(void* arg, size_t begin, size_t end) {
    const conv_job* j = arg;
    const nrt_conv2d_geom* g = j->g;
    const nrt_s8_gemm_table* t = j->plan->gemm;
    int8_t buf[NRT_S8_GEMM_MAX_MR * NRT_S8_GEMM_MAX_NR];
    size_t cin = (size_t)g->cin, cols = (size_t)g->kw * (size_t)g->cout, all = (size_t)g->kh * cols;
    size_t iw = (size_t)g->iw, tiles = ceil_div(iw, t->mr);
    for (size_t task = begin; task < end; task++) {
        size_t row = task / tiles, ix0 = task % tiles * t->mr, mr = iw - ix0 < t->mr ? iw - ix0 : t->mr;
        int64_t n = (int64_t)row / g->ih, iy = (int64_t)row % g->ih;
        t->gemm(mr, all, cin, j->x + (row * iw + ix0) * cin, cin, j->packed, buf, all, j->rq);
        for (int64_t ky = 0; ky < g->kh; ky++) {
            size_t oy = (size_t)((n * g->oh + iy * g->sh + ky) * g->ow);
            int8_t* c = j->y + (oy + ix0 * (size_t)g->sw) * (size_t)g->cout;
            const int8_t* src = buf + (size_t)ky * cols;
            for (size_t r = 0; r < mr; r++, c += cols, src += all)
                for (size_t i = 0; i < cols; i++) c[i] = src[i];
        }
    }
}

/* Few outputs per pixel (a convt table): one input row per task unit, the
 * kernel writing every kernel row's outputs in place. */
static void convt_lanes_task(void* arg, size_t begin, size_t end) {
    const conv_job* j = arg;
    const nrt_conv2d_geom* g = j->g;
    size_t cin = (size_t)g->cin, cout = (size_t)g->cout, iw = (size_t)g->iw, y_row = (size_t)g->ow * cout;
    size_t all = (size_t)(g->kh * g->kw) * cout;
    nrt_s8_convt_ukernel run = j->plan->convt_wide ? j->plan->convt->wide : j->plan->convt->run;
    for (size_t row = begin; row < end; row++) {
        int64_t n = (int64_t)row / g->ih, iy = (int64_t)row % g->ih;
        int8_t* y = j->y + (size_t)(n * g->oh + iy * g->sh) * y_row;
        run(iw, cin, all, (size_t)g->kh, j->x + row * iw * cin, j->packed, y, y_row, j->rq);
    }
}

static void run_transpose(const nrt_threads* threads, conv_job* j) {
    const nrt_conv2d_geom* g = j->g;
    if (j->plan->convt) {
        size_t rows = (size_t)(g->n * g->ih);
        double work = (double)(g->iw * g->kh * g->kw * g->cout * g->cin);
        nrt_threads_run(threads, rows, nrt_f32_grain(rows, work), convt_lanes_task, j);
        return;
    }
    size_t tasks = (size_t)(g->n * g->ih) * ceil_div((size_t)g->iw, j->plan->gemm->mr);
    double work = (double)j->plan->gemm->mr * (double)(g->kh * g->kw * g->cout * g->cin);
    nrt_threads_run(threads, tasks, nrt_f32_grain(tasks, work), j->plan->merged_rows ? convt_merged_task : convt_task, j);
}

void nrt_s8_conv_run(const nrt_threads* threads, const nrt_s8_conv_plan* plan, const nrt_conv2d_geom* g, const int8_t* x,
                     const void* packed, const nrt_s8_dw_rows* rows, const int8_t* zbuf, const nrt_s8_requant* rq,
                     int8_t* y) {
    conv_job j = {plan, g, x, zbuf, packed, rq, y, rows, 0, 0, 0, 0, false, {0}};
    if (g->n == 0 || g->oh == 0 || g->ow == 0 || g->cout == 0) return;
    if (plan->kind != NRT_S8_CONV_TRANSPOSE) init_tap_offsets(&j);
    if (plan->kind == NRT_S8_CONV_DEPTHWISE) run_depthwise(threads, &j);
    else if (plan->kind == NRT_S8_CONV_TRANSPOSE) run_transpose(threads, &j);
    else run_gemm(threads, &j);
}
