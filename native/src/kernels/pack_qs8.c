/* int8 packed weights: the GEMM panels of nrt_gemm_format_qs8_qc8w and
 * nrt_gemm_format_qs8_matmul (gemm.h), the depthwise tiles of nrt_dwconv_format_qs8_qc8w
 * (dwconv.h) in each table's layout, and a convt table's lanes
 * (qs8_kernels.h). All sums are modulo 2^32, as the accumulators. */
#include <stdlib.h>
#include <string.h>

#include "dwconv.h"
#include "gemm.h"
#include "qs8_kernels.h"

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

/* ---- GEMM panels ---- */

static size_t gemm_panel_bytes(const nrt_gemm_table* t, size_t kc, size_t ks) {
    return (size_t)t->nr * (2 * sizeof(int32_t) + ks * ceil_div(kc, t->kr) * t->kr);
}

static void gemm_pack(const nrt_gemm_table* t, const nrt_gemm_weights* a, void* packed) {
    const int8_t* w = a->w;
    const int32_t* bias = a->bias;
    size_t nr = t->nr, kr = t->kr, kcb = ceil_div(a->kc, kr);
    uint32_t fold = (uint32_t)t->x_offset + (uint32_t)a->zero_fold;
    uint8_t* p = packed;
    for (size_t n0 = 0; n0 < a->n; n0 += nr) {
        size_t nc = a->n - n0 < nr ? a->n - n0 : nr;
        for (size_t j = 0; j < nr; j++, p += sizeof(int32_t)) {
            uint32_t sum = 0, b = 0;
            if (j < nc) {
                const int8_t* wj = w + (n0 + j) * a->stride_n;
                for (size_t tap = 0; tap < a->ks; tap++)
                    for (size_t k = 0; k < a->kc; k++) sum += (uint32_t)wj[tap * a->stride_tap + k * a->stride_k];
                b = (bias ? (uint32_t)bias[n0 + j] : 0u) - fold * sum;
            }
            memcpy(p, &b, sizeof b);
        }
        for (size_t tap = 0; tap < a->ks; tap++)
            for (size_t kb = 0; kb < kcb; kb++)
                for (size_t j = 0; j < nr; j++)
                    for (size_t kk = 0; kk < kr; kk++) {
                        size_t k = kb * kr + kk;
                        *p++ = (uint8_t)(j < nc && k < a->kc
                                             ? w[(n0 + j) * a->stride_n + tap * a->stride_tap + k * a->stride_k]
                                             : 0);
                    }
        for (size_t j = 0; j < nr; j++, p += sizeof(float)) {
            float v = j < nc ? a->scales[n0 + j] : 0.0f;
            memcpy(p, &v, sizeof v);
        }
    }
}

const nrt_gemm_format nrt_gemm_format_qs8_qc8w = {
    .name = "qs8-qc8w", .a_bytes = 1, .c_bytes = 1, .w_bytes = 1, .bias_bytes = 4,
    .task_macs = 524288.0, /* int8 dot products: ~4x the float rate in small convs */
    .panel_bytes = gemm_panel_bytes, .pack = gemm_pack,
};

static size_t matmul_panel_bytes(const nrt_gemm_table* t, size_t kc, size_t ks) {
    return (size_t)t->nr * ks * ceil_div(kc, 2) * 2 * sizeof(int16_t);
}

static void matmul_pack(const nrt_gemm_table* t, const nrt_gemm_weights* a, void* packed) {
    const int8_t* b = a->w;
    int16_t* p = packed;
    for (size_t n0 = 0; n0 < a->n; n0 += t->nr)
        for (size_t k = 0; k < a->kc; k += 2)
            for (size_t j = 0; j < t->nr; j++) {
                const int8_t* col = b + (n0 + j) * a->stride_n;
                bool in = n0 + j < a->n;
                *p++ = (int16_t)(in ? col[k * a->stride_k] - a->w_zero : 0);
                *p++ = (int16_t)(in && k + 1 < a->kc ? col[(k + 1) * a->stride_k] - a->w_zero : 0);
            }
}

const nrt_gemm_format nrt_gemm_format_qs8_matmul = {
    .name = "qs8-matmul", .a_bytes = 1, .c_bytes = 1, .w_bytes = 1, .bias_bytes = 0,
    .task_macs = 524288.0, .panel_bytes = matmul_panel_bytes, .pack = matmul_pack,
};

/* ---- sparse panels (1 x 4 blocks, every column in one) ---- */

static size_t spmm_panel_bytes(const nrt_gemm_table* t, size_t kc, size_t ks) {
    (void)t, (void)kc, (void)ks;
    return 0; /* one panel: the driver never steps past it */
}

static bool spmm_block_kept(const nrt_gemm_weights* a, size_t j, size_t kb) {
    const int8_t* w = (const int8_t*)a->w + j * a->stride_n;
    for (size_t k = 4 * kb; k < 4 * kb + 4 && k < a->kc; k++)
        if (w[k * a->stride_k]) return true;
    return false;
}

static size_t spmm_kept(const nrt_gemm_weights* a) {
    size_t kept = 0;
    for (size_t j = 0; j < a->n; j++)
        for (size_t kb = 0; kb < ceil_div(a->kc, 4); kb++) kept += spmm_block_kept(a, j, kb);
    return kept;
}

static size_t spmm_weights_bytes(const nrt_gemm_table* t, const nrt_gemm_weights* a) {
    (void)t;
    return a->n * (sizeof(int32_t) + sizeof(float)) + (a->n + 1) * sizeof(uint32_t) +
           spmm_kept(a) * (sizeof(uint32_t) + 4);
}

static void spmm_pack(const nrt_gemm_table* t, const nrt_gemm_weights* a, void* packed) {
    const int32_t* bias = a->bias;
    size_t n = a->n, kcb = ceil_div(a->kc, 4), kept = spmm_kept(a);
    uint32_t fold = (uint32_t)t->x_offset + (uint32_t)a->zero_fold;
    uint8_t* p = packed;
    uint32_t* blocks = (uint32_t*)(void*)(p + n * (sizeof(int32_t) + sizeof(float)));
    uint32_t* kb_of = blocks + n + 1;
    int8_t* values = (int8_t*)(kb_of + kept);
    uint32_t b = 0;
    for (size_t j = 0; j < n; j++) {
        const int8_t* wj = (const int8_t*)a->w + j * a->stride_n;
        uint32_t sum = 0;
        for (size_t k = 0; k < a->kc; k++) sum += (uint32_t)wj[k * a->stride_k];
        uint32_t bj = (bias ? (uint32_t)bias[j] : 0u) - fold * sum;
        memcpy(p + j * sizeof bj, &bj, sizeof bj);
        memcpy(p + n * sizeof bj + j * sizeof(float), &a->scales[j], sizeof(float));
        blocks[j] = b;
        for (size_t kb = 0; kb < kcb; kb++) {
            if (!spmm_block_kept(a, j, kb)) continue;
            kb_of[b] = (uint32_t)kb;
            for (size_t kk = 0; kk < 4; kk++) {
                size_t k = 4 * kb + kk;
                values[4 * (size_t)b + kk] = k < a->kc ? wj[k * a->stride_k] : 0;
            }
            b++;
        }
    }
    blocks[n] = b;
}

const nrt_gemm_format nrt_gemm_format_qs8_qc8w_spmm = {
    .name = "qs8-qc8w-spmm", .a_bytes = 1, .c_bytes = 1, .w_bytes = 1, .bias_bytes = 4,
    .task_macs = 524288.0, .panel_bytes = spmm_panel_bytes, .pack = spmm_pack, .weights_bytes = spmm_weights_bytes,
};

/* ---- depthwise tiles ---- */

static bool dw_tap_pairs(const nrt_dwconv_table* t) {
    return t->layout == NRT_QS8_DW_TAP_PAIRS || t->layout == NRT_QS8_DW_SDOT_TAP_PAIRS ||
           t->layout == NRT_QS8_DW_INT16_TAP_PAIRS;
}

/* The tap-pair layouts pack an even number of taps (a zero-weight one last). */
static size_t dw_packed_taps(const nrt_dwconv_table* t, size_t taps) {
    return dw_tap_pairs(t) ? ceil_div(taps, 2) * 2 : taps;
}

static size_t dw_tile_bytes(const nrt_dwconv_table* t, size_t taps) {
    return (size_t)t->cw * (2 * sizeof(int32_t) + dw_packed_taps(t, taps) * nrt_qs8_dw_weight_bytes(t->layout));
}

/* Slot of channel j in a tile's bias and multipliers (and the tap-pair
 * layouts' weight lanes): j itself, or the layout's order (qs8_kernels.h). */
static size_t dw_slot(const nrt_dwconv_table* t, size_t j) {
    if (t->layout == NRT_QS8_DW_INT16_TAP_PAIRS) return (j % 8) / 4 * (t->cw / 2) + 4 * (j / 8) + j % 4;
    if (t->layout != NRT_QS8_DW_TAP_PAIRS && t->layout != NRT_QS8_DW_SDOT_TAP_PAIRS) return j;
    size_t L = j / 16, k = (j % 16) / 8 * 2 + j % 2, i = 4 * L + (j % 8) / 2;
    return k * (t->cw / 4) + i;
}

static void dw_store_weight(const nrt_dwconv_table* t, size_t j, int8_t v, uint8_t* p) {
    int16_t v16 = v;
    if (t->layout == NRT_QS8_DW_INT16) memcpy(p + j * sizeof v16, &v16, sizeof v16);
    else p[j] = (uint8_t)v;
}

/* The weights of a tap pair's taps a and b of channel j into its lane of
 * the pair's vectors at p: int8 (w_a, w_b) in the low or high half of the
 * lane (NRT_QS8_DW_TAP_PAIRS, NRT_QS8_DW_SDOT_TAP_PAIRS), or int16 (w_a, w_b). */
static void dw_store_pair(const nrt_dwconv_table* t, size_t j, int8_t wa, int8_t wb, uint8_t* p) {
    uint8_t* lane = p + dw_slot(t, j) * 4;
    if (t->layout == NRT_QS8_DW_INT16_TAP_PAIRS) {
        int16_t pair[2] = {wa, wb};
        memcpy(lane, pair, sizeof pair);
        return;
    }
    size_t at = j % 2 ? 2 : 0;
    lane[at] = (uint8_t)wa;
    lane[at + 1] = (uint8_t)wb;
}

static void dw_pack_weights(const nrt_dwconv_table* t, const nrt_dwconv_weights* a, size_t c0, uint8_t* p) {
    size_t cw = t->cw, taps = a->kh * a->kw, t0 = a->ky0 * a->kw, t1 = a->ky1 * a->kw;
    const int8_t* w = a->w;
    if (!dw_tap_pairs(t)) {
        for (size_t tap = t0; tap < t1; tap++, p += cw * nrt_qs8_dw_weight_bytes(t->layout))
            for (size_t j = 0; j < cw; j++)
                dw_store_weight(t, j, c0 + j < a->channels ? w[(c0 + j) * taps + tap] : 0, p);
        return;
    }
    size_t pair_bytes = 2 * cw * nrt_qs8_dw_weight_bytes(t->layout);
    memset(p, 0, dw_packed_taps(t, t1 - t0) / 2 * pair_bytes);
    for (size_t tap = t0; tap < t1; tap += 2, p += pair_bytes)
        for (size_t j = 0; j < cw && c0 + j < a->channels; j++) {
            const int8_t* wc = w + (c0 + j) * taps;
            dw_store_pair(t, j, wc[tap], tap + 1 < t1 ? wc[tap + 1] : 0, p);
        }
}

/* The bias of channel c: the given one, + zero x the weights of the kernel
 * rows left out (they read the padding), - 128 x the packed ones when the
 * layout reads the inputs as x + 128. */
static int32_t dw_bias(const nrt_dwconv_table* t, const nrt_dwconv_weights* a, size_t c) {
    const int8_t* wc = (const int8_t*)a->w + c * a->kh * a->kw;
    uint32_t skipped = 0, packed = 0;
    for (size_t tap = 0; tap < a->kh * a->kw; tap++)
        if (tap / a->kw < a->ky0 || tap / a->kw >= a->ky1) skipped += (uint32_t)wc[tap];
        else packed += (uint32_t)wc[tap];
    uint32_t v = (a->bias ? (uint32_t)((const int32_t*)a->bias)[c] : 0u) + (uint32_t)a->zero * skipped;
    if (t->layout == NRT_QS8_DW_TAP_PAIRS) v -= 128u * packed;
    return (int32_t)v;
}

static void dw_pack(const nrt_dwconv_table* t, const nrt_dwconv_weights* a, void* packed) {
    size_t cw = t->cw;
    uint8_t* p = packed;
    for (size_t c0 = 0; c0 < a->channels; c0 += cw) {
        for (size_t j = 0; j < cw; j++) {
            int32_t v = c0 + j < a->channels ? dw_bias(t, a, c0 + j) : 0;
            memcpy(p + dw_slot(t, j) * sizeof v, &v, sizeof v);
        }
        p += cw * sizeof(int32_t);
        dw_pack_weights(t, a, c0, p);
        p += dw_packed_taps(t, (a->ky1 - a->ky0) * a->kw) * cw * nrt_qs8_dw_weight_bytes(t->layout);
        for (size_t j = 0; j < cw; j++) {
            float v = c0 + j < a->channels ? a->scales[c0 + j] : 0.0f;
            memcpy(p + dw_slot(t, j) * sizeof v, &v, sizeof v);
        }
        p += cw * sizeof(float);
    }
}

const nrt_dwconv_format nrt_dwconv_format_qs8_qc8w = {
    .name = "qs8-qc8w", .x_bytes = 1, .y_bytes = 1, .w_bytes = 1, .bias_bytes = 4,
    .tile_bytes = dw_tile_bytes, .pack = dw_pack,
};

/* ---- ConvTranspose lanes (qs8_kernels.h) ---- */

/* int32 bias[n], int16 w[ceil(kc / 2)][n][2] (w[j * kc + k], 0 past kc), float m[n]
 * (convt kr 2); the bias as given. */
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

bool nrt_qs8_convt_pack_lanes(const nrt_qs8_convt_table* ct, const int64_t* wd, const int8_t* w, const int32_t* bias,
                             const float* m, int32_t zx, void* packed) {
    size_t cin = (size_t)wd[0], kh = (size_t)wd[1], cout = (size_t)wd[3], all = (size_t)wd[1] * (size_t)wd[2] * cout;
    size_t lanes = ct->lanes, cols = all / kh, row_bytes = lanes / all * cols;
    int8_t* wl = malloc(lanes * cin);
    int32_t* b = malloc(lanes * sizeof *b);
    float* ml = malloc(lanes * sizeof *ml);
    bool ok = wl && b && ml;
    for (size_t l = 0; ok && l < lanes; l++) {
        size_t col = l / row_bytes * cols + l % cols; /* (ky, kx, c) = w[ci][ky][kx][c] at ci * all + col */
        for (size_t ci = 0; ci < cin; ci++) wl[l * cin + ci] = w[ci * all + col];
        b[l] = bias ? bias[col % cout] : 0;
        ml[l] = m[col % cout];
    }
    if (ok && ct->kr == 4) { /* a c4 GEMM panel of `lanes` columns, z_x folded in */
        nrt_gemm_table t = {ct->name, ct->isa, (uint32_t)lanes, (uint32_t)lanes, 4, ct->x_offset,
                            &nrt_gemm_format_qs8_qc8w,
                            NULL, NULL, false};
        nrt_gemm_weights a = {lanes, cin, 1, wl, cin, 0, 1, b, ml, zx, 0};
        nrt_gemm_pack(&t, &a, packed);
    } else if (ok) { /* int16 pairs: the bias takes z_x here */
        for (size_t l = 0; l < lanes; l++) {
            uint32_t sum = 0;
            for (size_t ci = 0; ci < cin; ci++) sum += (uint32_t)wl[l * cin + ci];
            b[l] = (int32_t)((uint32_t)b[l] - (uint32_t)zx * sum);
        }
        pack_pairs16(lanes, cin, wl, b, ml, packed);
    }
    free(wl);
    free(b);
    free(ml);
    return ok;
}
