/* The int8 microkernels of every level this CPU runs (qs8_kernels.h), called
 * directly on many shapes and compared byte for byte with a scalar
 * evaluation of kernels/requant.h:
 *   GEMM / IGEMM: every row count up to MR + a few, column counts around the
 *     panel width, K around every block size (1 .. 100), 1 or several taps;
 *   depthwise: channel counts around the tile width, 1 .. 25 taps, 1 .. 5 pixels;
 *     the row entry point with 2 .. 70 channels, strides 1 and 2, dilation 2, up to 37 pixels;
 *   sparse GEMM (1 x 4 blocks): K 4 .. NRT_SPMM_MAX_K, 0 .. 100 % of the blocks kept,
 *     rows up to 2 MR + 3, 1 .. 130 columns per call, rows at stride K or apart;
 *   MatMul of two activations: rows, columns and K (odd too) around the tiles;
 *   ConvTranspose with few outputs per pixel: kh x kw x C_out dividing the vector
 *     (1 .. 16) or whole vectors per kernel row (32 .. 96; the wide kernel), K 1 .. 128
 *     (odd too), 1 .. 37 pixels (partial vectors and tiles);
 *   vector kernels (Add / Sub / Mul in the three broadcast modes, Lut, global /
 *     windowed average and max pooling, Rescale, QuantizeLinear,
 *     DequantizeLinear) on lengths around the vector widths, against the
 *     reference functions or requant.h's steps;
 *   int8 Softmax: rows (1 .. 300 values, all equal or one dominant too) and
 *     strided columns (n 1 .. 33, 1 .. 40 of inner 1 .. 50 columns) against
 *     nrt_softmax_qs8_ref.
 * Inputs cover the whole int8 range (-128 x -128 products), biases the whole
 * int32 range (the accumulator must wrap like the reference's), multipliers
 * from tiny to large (clamping), 1/2 and 1/4 (exact halves, rounded to even)
 * and narrowed output ranges (fused Relu / Clip).
 * The last input row / pixel ends at a PROT_NONE page, so a kernel reading
 * past the bytes it was given crashes; outputs are checked not to be written
 * outside the tile. Prints the tables it ran; exit status = failures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels/conv.h"
#include "kernels/dispatch.h"
#include "kernels/isa.h"
#include "kernels/ref/qs8_ref.h"
#include "kernels/ref/quant_ref.h"
#include "kernels/requant.h"

static int failures = 0;
static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint32_t next_random(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static void fill_bytes(int8_t* p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = (int8_t)(uint8_t)next_random();
}

/* A buffer of n bytes whose end touches an inaccessible page. */
typedef struct guarded {
    uint8_t* map;
    size_t map_bytes;
    int8_t* data;
} guarded;

static guarded guarded_alloc(size_t n) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE), span = (n + page - 1) / page * page + page;
    guarded g = {mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), span, NULL};
    if (g.map == MAP_FAILED) {
        printf("mmap failed\n");
        exit(2);
    }
    mprotect(g.map + span - page, page, PROT_NONE);
    g.data = (int8_t*)(g.map + span - page - n);
    return g;
}

static void guarded_free(guarded* g) { munmap(g->map, g->map_bytes); }

/* Requantization parameters: a multiplier around 2^-e, a random zero point, a random (valid) output range. */
static void random_requant(size_t k_total, float* m, size_t n, nrt_qs8_requant* rq, int32_t* qmin, int32_t* qmax) {
    float base = 1.0f / (float)(k_total * 128 + 1);
    for (size_t i = 0; i < n; i++) m[i] = base * (float)(1 + next_random() % 4000) / 100.0f;
    if (next_random() % 4 == 0) /* exact halves of odd accumulators: rounded to even */
        for (size_t i = 0; i < n; i++) m[i] = next_random() % 2 ? 0.5f : 0.25f;
    if (next_random() % 8 == 0) m[0] = 0x1p40f; /* saturates */
    int32_t zp = (int32_t)(next_random() % 256) - 128, lo = -128, hi = 127;
    if (next_random() % 3 == 0) lo = zp; /* Relu */
    if (next_random() % 4 == 0) hi = lo + (int32_t)(next_random() % (uint32_t)(128 - lo));
    *qmin = lo;
    *qmax = hi;
    *rq = nrt_qs8_requant_make(zp, lo, hi);
    /* half the cases let kernels clamp after rounding (nrt_qs8_requant's int_clamp): allowed,
     * as |acc * m| < 2^31 * 40 / (128 k_total + 1) < 2^30, except with the saturating m[0] */
    rq->int_clamp = m[0] != 0x1p40f && next_random() % 2;
}

/* ---- GEMM / IGEMM ---- */

typedef struct gemm_case {
    size_t M, N, kc, ks;
    bool indirect;
} gemm_case;

static void check_gemm(const nrt_gemm_table* t, const gemm_case* gc) {
    size_t M = gc->M, N = gc->N, kc = gc->kc, ks = gc->ks, K = kc * ks, rows = M * ks + 3;
    int8_t* w = malloc(N * K);
    int32_t* bias = malloc(N * sizeof(int32_t));
    float* m = malloc(N * sizeof(float));
    size_t packed_bytes = nrt_gemm_packed_bytes(t, N, kc, ks);
    void* packed = aligned_alloc(NRT_PACK_ALIGN, (packed_bytes + NRT_PACK_ALIGN - 1) / NRT_PACK_ALIGN *
                                                        NRT_PACK_ALIGN);
    size_t c_stride = N + 5;
    int8_t* c = malloc(M * c_stride);
    const void** ind = malloc(t->mr * ks * sizeof *ind);
    size_t* pick = malloc(M * ks * sizeof *pick); /* row of x for (pixel, tap) */
    guarded x = guarded_alloc(rows * kc);
    if (!w || !bias || !m || !packed || !c || !ind || !pick) {
        printf("out of memory\n");
        exit(2);
    }
    fill_bytes(w, N * K);
    fill_bytes(x.data, rows * kc);
    for (size_t j = 0; j < N; j++) bias[j] = (int32_t)(next_random() * 65599u + (next_random() % 2 ? 0x80000000u : 0u));
    int32_t qmin, qmax;
    nrt_qs8_requant rq;
    random_requant(K, m, N, &rq, &qmin, &qmax);
    nrt_gemm_weights pw = {N, kc, ks, w, K, kc, 1, bias, m, 0, 0};
    nrt_gemm_pack(t, &pw, packed);
    /* direct GEMM: pixel i reads row i (rows of K = kc bytes, ks = 1); indirect:
     * a random row per (pixel, tap), the last row (ending at the guard) used too */
    for (size_t i = 0; i < M * ks; i++) pick[i] = gc->indirect ? next_random() % rows : i;
    if (gc->indirect) pick[M * ks - 1] = rows - 1;
    memset(c, 0x5A, M * c_stride);
    size_t panel = nrt_gemm_panel_bytes(t, kc, ks);
    for (size_t m0 = 0; m0 < M; m0 += t->mr) {
        size_t mr = M - m0 < t->mr ? M - m0 : t->mr;
        for (size_t n0 = 0; n0 < N; n0 += t->nr) {
            size_t nc = N - n0 < t->nr ? N - n0 : t->nr;
            const void* wp = (const uint8_t*)packed + n0 / t->nr * panel;
            if (!gc->indirect) {
                /* direct rows at stride kc: the last pixel's row ends at the guard when M * ks == rows - 3 */
                const int8_t* a = x.data + (rows - M) * kc + m0 * kc;
                t->gemm(mr, nc, kc, a, kc, wp, c + m0 * c_stride + n0, c_stride, &rq);
            } else {
                for (size_t p = 0; p < ks; p++)
                    for (size_t r = 0; r < t->mr; r++)
                        ind[p * t->mr + r] = x.data + pick[(m0 + (r < mr ? r : mr - 1)) * ks + p] * kc;
                t->igemm(mr, nc, kc, ks, ind, wp, c + m0 * c_stride + n0, c_stride, &rq);
            }
        }
    }
    for (size_t i = 0; i < M && failures < 20; i++) {
        for (size_t j = 0; j < c_stride; j++) {
            int8_t want = 0x5A;
            if (j < N) {
                int32_t acc = bias[j];
                for (size_t p = 0; p < ks; p++) {
                    const int8_t* row = gc->indirect ? x.data + pick[i * ks + p] * kc : x.data + (rows - M + i) * kc;
                    for (size_t k = 0; k < kc; k++) acc = nrt_mac_wrap(acc, row[k], w[j * K + p * kc + k]);
                }
                want = nrt_requantize(acc, m[j], rq.zero_point, qmin, qmax);
            }
            if (c[i * c_stride + j] != want) {
                printf("FAIL %s %s M=%zu N=%zu kc=%zu ks=%zu: c[%zu][%zu] = %d, want %d\n", t->name,
                       gc->indirect ? "igemm" : "gemm", M, N, kc, ks, i, j, c[i * c_stride + j], want);
                failures++;
                break;
            }
        }
    }
    guarded_free(&x);
    free(w), free(bias), free(m), free(packed), free(c), free(ind), free(pick);
}

static int run_gemm_cases(const nrt_gemm_table* t) {
    static const size_t kcs[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 20, 31, 32, 33, 63, 100};
    int cases = 0;
    size_t ns[] = {1, 3, t->nr - 1, t->nr, t->nr + 1, 2 * t->nr + 5, 37};
    size_t ms[] = {1, 2, 3, t->mr - 1, t->mr, t->mr + 1, 2 * t->mr + 3};
    for (size_t a = 0; a < sizeof kcs / sizeof *kcs; a++)
        for (size_t b = 0; b < sizeof ns / sizeof *ns; b++)
            for (size_t d = 0; d < sizeof ms / sizeof *ms; d++) {
                if (ns[b] == 0 || ms[d] == 0) continue;
                gemm_case g = {ms[d], ns[b], kcs[a], 1, false};
                check_gemm(t, &g), cases++;
                g.indirect = true;
                g.ks = 1 + (a + b + d) % 4 * 2; /* 1, 3, 5, 7 taps */
                check_gemm(t, &g), cases++;
            }
    return cases;
}

/* ---- sparse GEMM (weights in 1 x 4 blocks, nrt_gemm_format_qs8_qc8w_spmm) ---- */

/* W [N, K] keeping each 1 x 4 block with probability `density` (a kept block
 * may hold zeros too); rows of A `a_stride` apart (a strided 1x1 conv's
 * pixels), the last row ending at the guard page; every column per call. */
static void check_spmm(const nrt_gemm_table* t, size_t M, size_t N, size_t K, size_t a_stride, double density) {
    int8_t* w = malloc(N * K);
    int32_t* bias = malloc(N * sizeof(int32_t));
    float* m = malloc(N * sizeof(float));
    size_t c_stride = N + 3;
    int8_t* c = malloc(M * c_stride);
    guarded x = guarded_alloc((M - 1) * a_stride + K);
    if (!w || !bias || !m || !c) {
        printf("out of memory\n");
        exit(2);
    }
    fill_bytes(w, N * K);
    for (size_t i = 0; i < N * K; i += 4)
        if ((double)(next_random() % 10000) >= density * 10000.0) memset(w + i, 0, 4);
        else if (next_random() % 4 == 0) w[i + next_random() % 4] = 0;
    fill_bytes(x.data, (M - 1) * a_stride + K);
    /* biases of a conv's size, so that the sums show in the outputs; 1 case in 8 the whole int32 range (wrapping) */
    bool wide = next_random() % 8 == 0;
    for (size_t j = 0; j < N; j++)
        bias[j] = wide ? (int32_t)(next_random() * 65599u + (next_random() % 2 ? 0x80000000u : 0u))
                       : (int32_t)(next_random() % 65536) - 32768;
    int32_t qmin, qmax;
    nrt_qs8_requant rq;
    random_requant(K, m, N, &rq, &qmin, &qmax);
    nrt_gemm_weights pw = {N, K, 1, w, K, 0, 1, bias, m, 0, 0};
    size_t bytes = nrt_gemm_weights_bytes(t, &pw);
    void* packed = aligned_alloc(NRT_PACK_ALIGN, (bytes + NRT_PACK_ALIGN) / NRT_PACK_ALIGN * NRT_PACK_ALIGN);
    if (!packed) {
        printf("out of memory\n");
        exit(2);
    }
    nrt_gemm_pack(t, &pw, packed);
    memset(c, 0x5A, M * c_stride);
    for (size_t m0 = 0; m0 < M; m0 += t->mr) {
        size_t mr = M - m0 < t->mr ? M - m0 : t->mr;
        t->gemm(mr, N, K, x.data + m0 * a_stride, a_stride, packed, c + m0 * c_stride, c_stride, &rq);
    }
    for (size_t i = 0; i < M && failures < 20; i++)
        for (size_t j = 0; j < c_stride; j++) {
            int8_t want = 0x5A;
            if (j < N) {
                int32_t acc = bias[j];
                for (size_t k = 0; k < K; k++) acc = nrt_mac_wrap(acc, x.data[i * a_stride + k], w[j * K + k]);
                want = nrt_requantize(acc, m[j], rq.zero_point, qmin, qmax);
            }
            if (c[i * c_stride + j] != want) {
                printf("FAIL %s M=%zu N=%zu K=%zu a_stride=%zu density=%.2f: c[%zu][%zu] = %d, want %d\n", t->name,
                       M, N, K, a_stride, density, i, j, c[i * c_stride + j], want);
                failures++;
                j = c_stride;
            }
        }
    guarded_free(&x);
    free(w), free(bias), free(m), free(packed), free(c);
}

static int run_spmm_cases(const nrt_gemm_table* t) {
    static const size_t ks[] = {4, 8, 12, 20, 64, 96, 100, 256, 1024, NRT_SPMM_MAX_K};
    static const size_t ns[] = {1, 2, 3, 4, 15, 16, 17, 24, 31, 32, 33, 63, 64, 65, 130};
    static const double densities[] = {0.0, 0.1, 0.25, 0.5, 1.0};
    size_t ms[] = {1, 2, 3, 4, 5, 15, 16, 17, t->mr / 2 + 7, t->mr - 1, t->mr, t->mr + 1, 2 * t->mr + 3};
    int cases = 0;
    for (size_t a = 0; a < sizeof ks / sizeof *ks; a++)
        for (size_t b = 0; b < sizeof ns / sizeof *ns; b++)
            for (size_t d = 0; d < sizeof ms / sizeof *ms; d++) {
                size_t K = ks[a], stride = (a + b + d) % 3 == 0 ? 2 * K + 4 : K;
                if (K * ns[b] * ms[d] > (1u << 22)) continue; /* (the largest shapes: a few rows suffice) */
                check_spmm(t, ms[d], ns[b], K, stride, densities[(a + b + d) % 5]), cases++;
            }
    return cases;
}

/* ---- depthwise ---- */

static void check_dwconv(const nrt_kernels* k, size_t C, size_t kh, size_t kw, size_t npix) {
    size_t taps = kh * kw, pixels = npix * taps + 2;
    const nrt_dwconv_table* t = k->qs8_dwconv;
    int8_t* w = malloc(C * taps);
    int32_t* bias = malloc(C * sizeof(int32_t));
    float* m = malloc(C * sizeof(float));
    size_t packed_bytes = nrt_dwconv_packed_bytes(t, C, taps);
    void* packed = aligned_alloc(NRT_PACK_ALIGN, (packed_bytes + NRT_PACK_ALIGN - 1) / NRT_PACK_ALIGN * NRT_PACK_ALIGN);
    size_t y_stride = C + 3;
    int8_t* y = malloc(npix * y_stride);
    int8_t* zbuf = malloc(C);
    const void** ind = malloc(npix * taps * sizeof *ind);
    guarded x = guarded_alloc(pixels * C);
    if (!w || !bias || !m || !packed || !y || !zbuf || !ind) {
        printf("out of memory\n");
        exit(2);
    }
    fill_bytes(w, C * taps);
    fill_bytes(x.data, pixels * C);
    memset(zbuf, (int)(next_random() % 256) - 128, C);
    for (size_t j = 0; j < C; j++) bias[j] = (int32_t)(next_random() % 200001) - 100000; /* few outputs clamped */
    int32_t qmin, qmax;
    nrt_qs8_requant rq;
    random_requant(taps, m, C, &rq, &qmin, &qmax);
    nrt_dwconv_weights pw = {C, kh, kw, 0, kh, w, bias, m, 0};
    t->format->pack(t, &pw, packed);
    for (size_t i = 0; i < npix * taps; i++)
        ind[i] = next_random() % 5 == 0 ? zbuf : x.data + (next_random() % pixels) * C;
    ind[npix * taps - 1] = x.data + (pixels - 1) * C; /* ends at the guard */
    memset(y, 0x5A, npix * y_stride);
    t->run(C, npix, taps, ind, packed, y, y_stride, &rq);
    for (size_t p = 0; p < npix && failures < 20; p++)
        for (size_t j = 0; j < y_stride; j++) {
            int8_t want = 0x5A;
            if (j < C) {
                int32_t acc = bias[j];
                for (size_t tp = 0; tp < taps; tp++)
                    acc = nrt_mac_wrap(acc, ((const int8_t*)ind[p * taps + tp])[j], w[j * taps + tp]);
                want = nrt_requantize(acc, m[j], rq.zero_point, qmin, qmax);
            }
            if (y[p * y_stride + j] != want) {
                printf("FAIL %s C=%zu taps=%zu npix=%zu: y[%zu][%zu] = %d, want %d\n", t->name, C, taps, npix,
                       p, j, y[p * y_stride + j], want);
                failures++;
                break;
            }
        }
    guarded_free(&x);
    free(w), free(bias), free(m), free(packed), free(y), free(zbuf), free(ind);
}

/* The row entry point: kernel row r's column kx of pixel p at
 * rows[r] + p * xs + kx * ts; the last byte read is the input's last (at
 * the guard); exactly npix * C output bytes written. */
static void check_dwconv_row(const nrt_kernels* k, size_t C, size_t kh, size_t kw, size_t npix, size_t xs, size_t ts) {
    size_t taps = kh * kw, row_bytes = (npix - 1) * xs + (kw - 1) * ts + C;
    const nrt_dwconv_table* t = k->qs8_dwconv;
    int8_t* w = malloc(C * taps);
    int32_t* bias = malloc(C * sizeof(int32_t));
    float* m = malloc(C * sizeof(float));
    size_t packed_bytes = nrt_dwconv_packed_bytes(t, C, taps);
    void* packed = aligned_alloc(NRT_PACK_ALIGN, (packed_bytes + NRT_PACK_ALIGN - 1) / NRT_PACK_ALIGN * NRT_PACK_ALIGN);
    int8_t* y = malloc(npix * C + 8);
    const void* rows[5];
    guarded x = guarded_alloc(kh * row_bytes);
    if (!w || !bias || !m || !packed || !y) {
        printf("out of memory\n");
        exit(2);
    }
    fill_bytes(w, C * taps);
    fill_bytes(x.data, kh * row_bytes);
    for (size_t j = 0; j < C; j++) bias[j] = (int32_t)(next_random() % 200001) - 100000; /* few outputs clamped */
    int32_t qmin, qmax;
    nrt_qs8_requant rq;
    random_requant(taps, m, C, &rq, &qmin, &qmax);
    nrt_dwconv_weights pw = {C, kh, kw, 0, kh, w, bias, m, 0};
    t->format->pack(t, &pw, packed);
    for (size_t r = 0; r < kh; r++) rows[r] = x.data + r * row_bytes;
    memset(y, 0x5A, npix * C + 8);
    t->row(C, npix, kh, kw, rows, xs, ts, packed, y, &rq);
    for (size_t i = 0; i < npix * C + 8 && failures < 20; i++) {
        int8_t want = 0x5A;
        if (i < npix * C) {
            size_t p = i / C, j = i % C;
            int32_t acc = bias[j];
            for (size_t r = 0; r < kh; r++)
                for (size_t kx = 0; kx < kw; kx++)
                    acc = nrt_mac_wrap(acc, ((const int8_t*)rows[r])[p * xs + kx * ts + j], w[j * taps + r * kw + kx]);
            want = nrt_requantize(acc, m[j], rq.zero_point, qmin, qmax);
        }
        if (y[i] != want) {
            printf("FAIL %s row C=%zu %zux%zu npix=%zu xs=%zu ts=%zu: y[%zu] = %d, want %d\n", t->name, C, kh,
                   kw, npix, xs, ts, i, y[i], want);
            failures++;
            break;
        }
    }
    guarded_free(&x);
    free(w), free(bias), free(m), free(packed), free(y);
}

static int run_dwconv_cases(const nrt_kernels* k) {
    const nrt_dwconv_table* t = k->qs8_dwconv;
    size_t cs[] = {2, 3, 7, t->cw - 1, t->cw, t->cw + 1, 2 * t->cw + 3, 70};
    static const size_t ks[][2] = {{1, 1}, {2, 2}, {3, 3}, {1, 5}, {5, 5}};
    int cases = 0;
    for (size_t a = 0; a < sizeof cs / sizeof *cs; a++)
        for (size_t b = 0; b < sizeof ks / sizeof *ks; b++)
            for (size_t npix = 1; npix <= 5; npix++) {
                if (cs[a] == 0) continue;
                check_dwconv(k, cs[a], ks[b][0], ks[b][1], npix);
                cases++;
            }
    if (!t->row) return cases;
    /* row kernel: pixel counts around the pixel step (4) and block (16); strides 1 and 2, dilation 2;
     * 8 and 16 channels (several stride-1 pixels per vector on AVX-512) */
    static const size_t np[] = {1, 2, 3, 4, 5, 9, 16, 17, 37};
    size_t rc[] = {2, 3, 8, 16, t->cw - 1, t->cw, t->cw + 1, 48, 70};
    for (size_t a = 0; a < sizeof rc / sizeof *rc; a++)
        for (size_t b = 0; b < sizeof ks / sizeof *ks; b++)
            for (size_t i = 0; i < sizeof np / sizeof *np; i++)
                for (size_t v = 0; v < 3; v++) {
                    size_t c = rc[a], xs = v == 1 ? 2 * c : c, ts = v == 2 ? 2 * c : c;
                    check_dwconv_row(k, c, ks[b][0], ks[b][1], np[i], xs, ts);
                    cases++;
                }
    return cases;
}

/* ---- vector kernels ---- */

static void expect_bytes(const char* what, size_t n, const int8_t* got, const int8_t* want) {
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i]) {
            printf("FAIL %s: [%zu] = %d, want %d\n", what, i, got[i], want[i]);
            failures++;
            return;
        }
}

static void check_binary(const char* name, nrt_binary_fn fn, size_t n, int mul, int mode) {
    nrt_qs8_binary p;
    int32_t qmin, qmax;
    nrt_qs8_requant rq;
    float m[2];
    random_requant(1, m, 2, &rq, &qmin, &qmax);
    p.za = (int32_t)(next_random() % 256) - 128;
    p.zb = (int32_t)(next_random() % 256) - 128;
    p.ma = (float)(next_random() % 1000 + 1) / (mul ? 20000.0f : 300.0f);
    p.mb = (float)(next_random() % 1000 + 1) / 300.0f * (next_random() % 2 ? -1.0f : 1.0f); /* Sub: negative */
    if (next_random() % 6 == 0) p.ma = next_random() % 2 ? 0x1p22f : -1e30f; /* values past int32: the float clamp */
    p.out = (nrt_qs8_out){rq.zero_point, qmin, qmax};
    nrt_binary_kernel k = {0};
    k.params = &p;
    int8_t a[300], b[300], want[300 + 8], got[300 + 8];
    fill_bytes(a, n);
    fill_bytes(b, n);
    memset(want, 0x5A, sizeof want);
    memset(got, 0x5A, sizeof got);
    (mul ? nrt_mul_qs8_ref : nrt_add_qs8_ref)(&k, a, b, want, n, mode);
    fn(&k, a, b, got, n, mode);
    char what[96];
    snprintf(what, sizeof what, "%s %s n=%zu mode=%d", name, mul ? "mul" : "add", n, mode);
    expect_bytes(what, n + 8, got, want);
}

static void check_lut(const char* name, nrt_qs8_lut_ukernel lut, size_t n) {
    int8_t table[256], x[300], want[300 + 8], got[300 + 8];
    fill_bytes(table, 256);
    fill_bytes(x, n);
    memset(want, 0x5A, sizeof want);
    memset(got, 0x5A, sizeof got);
    nrt_lut_qs8_ref(x, table, want, (int64_t)n);
    guarded g = guarded_alloc(n); /* the input ends at the guard */
    memcpy(g.data, x, n);
    lut(n, g.data, table, got);
    guarded_free(&g);
    char what[64];
    snprintf(what, sizeof what, "%s lut n=%zu", name, n);
    expect_bytes(what, n + 8, got, want);
}

/* kind 0: gavgpool over `taps` rows, 1: avgpool over `taps` pointers, 2: maxpool */
static void check_pool(const char* name, const nrt_kernels* t, int kind, size_t channels, size_t taps) {
    size_t stride = channels + 2, rows = taps + 3;
    guarded x = guarded_alloc(rows * stride);
    fill_bytes(x.data, rows * stride);
    const int8_t* ind[64];
    for (size_t i = 0; i < taps; i++) ind[i] = x.data + (next_random() % rows) * stride;
    if (taps) ind[taps - 1] = x.data + rows * stride - channels; /* ends at the guard */
    int32_t qmin, qmax, zx = (int32_t)(next_random() % 256) - 128;
    nrt_qs8_requant rq;
    float m;
    random_requant(taps, &m, 1, &rq, &qmin, &qmax);
    int8_t want[300 + 8], got[300 + 8];
    memset(want, 0x5A, sizeof want);
    memset(got, 0x5A, sizeof got);
    const int8_t* base = x.data + rows * stride - ((taps ? taps : 1) - 1) * stride - channels;
    for (size_t c = 0; c < channels; c++) {
        int32_t acc = 0, mx = -128;
        for (size_t i = 0; i < taps; i++) {
            int8_t v = kind == 0 ? base[i * stride + c] : ind[i][c];
            acc = nrt_mac_wrap(acc, v - zx, 1);
            mx = v > mx ? v : mx;
        }
        want[c] = kind == 2 ? (int8_t)(mx < qmin ? qmin : (mx > qmax ? qmax : mx))
                            : nrt_requantize(acc, m, rq.zero_point, qmin, qmax);
    }
    if (kind == 0) t->qs8_gavgpool(taps, channels, base, stride, zx, m, &rq, got);
    else if (kind == 1) t->qs8_avgpool(channels, taps, ind, zx, m, &rq, got);
    else t->qs8_maxpool(channels, taps, ind, qmin, qmax, got);
    guarded_free(&x);
    char what[96];
    snprintf(what, sizeof what, "%s %s channels=%zu taps=%zu", name,
             kind == 0 ? "gavgpool" : kind == 1 ? "avgpool" : "maxpool", channels, taps);
    expect_bytes(what, channels + 8, got, want);
}

static void check_rescale(nrt_qs8_rescale_ukernel k, const char* name, size_t n, int in_place) {
    int32_t qmin, qmax, zx = (int32_t)(next_random() % 256) - 128;
    nrt_qs8_requant rq;
    float m;
    random_requant(1, &m, 1, &rq, &qmin, &qmax);
    m = next_random() % 5 == 0 ? 1.0f : (float)(next_random() % 3000 + 1) / 1000.0f;
    if (m == 1.0f && next_random() % 2) { /* the reference's plain copy */
        zx = rq.zero_point, qmin = -128, qmax = 127;
        rq = nrt_qs8_requant_make(zx, -128, 127);
    }
    nrt_qs8_out out = {rq.zero_point, qmin, qmax};
    int8_t x[300], want[300 + 8], got[300 + 8];
    fill_bytes(x, n);
    memset(want, 0x5A, sizeof want);
    memset(got, 0x5A, sizeof got);
    nrt_rescale_qs8_ref(x, want, n, zx, m, &out);
    if (in_place) {
        memcpy(got, x, n);
        k(n, got, zx, m, &rq, got);
    } else {
        guarded g = guarded_alloc(n);
        memcpy(g.data, x, n);
        k(n, g.data, zx, m, &rq, got);
        guarded_free(&g);
    }
    char what[96];
    snprintf(what, sizeof what, "%s rescale n=%zu%s", name, n, in_place ? " in place" : "");
    expect_bytes(what, n + 8, got, want);
}

/* The contract's QuantizeLinear: rint(x / s) in float, NaN -> z, clamp, + z. */
static int8_t quantize_one(float x, float s, int32_t z) {
    float v = rintf(x / s), a = -128.0f - (float)z, b = 127.0f - (float)z;
    v = v != v ? 0.0f : (v < a ? a : (v > b ? b : v));
    return (int8_t)((int32_t)v + z);
}

/* An input whose quotient x / s lies within a few ulps of the half-integer
 * h (either side, or on it): where a kernel that multiplies by 1 / s must
 * fall back to the division to round as the contract does. */
static float near_half(float s) {
    float h = (float)(int32_t)(next_random() % 301) - 150.5f;
    float x = h * s;
    for (uint32_t steps = next_random() % 4; steps; steps--)
        x = nextafterf(x, next_random() % 2 ? INFINITY : -INFINITY);
    return x;
}

/* Scales: ordinary ones, and a few far from 1 whose reciprocal the kernels must not use. */
static float quantize_scale(uint32_t which) {
    static const float extreme[] = {1e-30f, 3e-39f, 1e-45f /* subnormal */, 1e30f, 3e38f, 0x1p-64f, 0x1p64f};
    if (which % 4 != 3) return (float)(next_random() % 1000 + 1) / 4000.0f;
    return extreme[next_random() % (sizeof extreme / sizeof *extreme)];
}

static void check_quantize(nrt_qs8_quantize_ukernel k, const char* name, size_t n, uint32_t which) {
    float s = quantize_scale(which);
    int32_t z = (int32_t)(next_random() % 256) - 128;
    guarded g = guarded_alloc(n * sizeof(float));
    float* x = (float*)(void*)g.data;
    for (size_t i = 0; i < n; i++) {
        uint32_t r = next_random() % 16;
        if (r == 0) x[i] = NAN;
        else if (r == 1) x[i] = next_random() % 2 ? INFINITY : -INFINITY;
        else if (r == 2) x[i] = next_random() % 2 ? -1e30f : 3e38f;
        else if (r < 6) x[i] = ((float)(next_random() % 300) - 150.5f) * s; /* ties */
        else if (r < 10) x[i] = near_half(s);
        else if (r == 10) x[i] = ((float)(next_random() % 2001) - 1000.0f) * s; /* clamped */
        else x[i] = ((float)(next_random() % 20001) / 100.0f - 100.0f) * s;
    }
    int8_t want[300 + 8], got[300 + 8];
    memset(want, 0x5A, sizeof want);
    memset(got, 0x5A, sizeof got);
    for (size_t i = 0; i < n; i++) want[i] = quantize_one(x[i], s, z);
    k(n, x, s, z, got);
    guarded_free(&g);
    char what[96];
    snprintf(what, sizeof what, "%s quantize n=%zu s=%g", name, n, (double)s);
    expect_bytes(what, n + 8, got, want);
}

static void check_dequantize(nrt_qs8_dequantize_ukernel k, const char* name, size_t n) {
    float s = (float)(next_random() % 1000 + 1) / 3000.0f, want[300 + 4], got[300 + 4];
    int32_t z = (int32_t)(next_random() % 256) - 128;
    guarded g = guarded_alloc(n);
    fill_bytes(g.data, n);
    for (size_t i = 0; i < n + 4; i++) want[i] = got[i] = -7.0f;
    for (size_t i = 0; i < n; i++) want[i] = (float)(g.data[i] - z) * s;
    k(n, g.data, s, z, got);
    guarded_free(&g);
    if (memcmp(want, got, (n + 4) * sizeof(float)) != 0) {
        printf("FAIL %s dequantize n=%zu\n", name, n);
        failures++;
    }
}

/* Softmax of `cols` columns (inner > 1) or one row (inner == 1) of n values;
 * fill 0: random, 1: all 127 (largest sum), 2: one 127 among -128 (quotient 256). */
static void check_softmax(const char* name, nrt_qs8_vsoftmax_ukernel k, size_t n, size_t inner, size_t cols,
                          int fill) {
    uint32_t table[256];
    float s_x = (float)(next_random() % 3000 + 1) / 1000.0f * (fill ? 10.0f : 1.0f);
    nrt_softmax_s8_table(s_x, table);
    size_t bytes = n * inner, c0 = inner - cols; /* the last columns: the input ends at the guard */
    int8_t *want = malloc(bytes + 8), *got = malloc(bytes + 8);
    guarded g = guarded_alloc(bytes);
    fill_bytes(g.data, bytes);
    if (fill) memset(g.data, fill == 1 ? 127 : -128, bytes);
    if (fill == 2) g.data[c0 + inner * (n / 2)] = 127;
    memset(want, 0x5A, bytes + 8);
    memset(got, 0x5A, bytes + 8);
    nrt_softmax_qs8_ref(table, g.data, want, 0, 1, (int64_t)n, (int64_t)inner);
    for (size_t i = 0; i < n; i++) memset(want + i * inner, 0x5A, c0); /* columns the kernel was not given */
    k(n, inner, cols, g.data + c0, table, got + c0);
    char what[96];
    snprintf(what, sizeof what, "%s softmax n=%zu inner=%zu cols=%zu fill=%d", name, n, inner, cols, fill);
    expect_bytes(what, bytes + 8, got, want);
    guarded_free(&g);
    free(want);
    free(got);
}

static int run_softmax_cases(const char* name, nrt_qs8_vsoftmax_ukernel k) {
    static const size_t rows[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 64, 65, 100, 300};
    static const size_t ns[] = {1, 2, 3, 16, 33}, inners[] = {2, 7, 8, 9, 16, 17, 33, 50};
    int cases = 0;
    for (size_t a = 0; a < sizeof rows / sizeof *rows; a++)
        for (int fill = 0; fill < 3; fill++) check_softmax(name, k, rows[a], 1, 1, fill), cases++;
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
        for (size_t b = 0; b < sizeof inners / sizeof *inners; b++) {
            size_t inner = inners[b];
            check_softmax(name, k, ns[a], inner, inner, 0);
            check_softmax(name, k, ns[a], inner, inner - inner / 3, 0);
            check_softmax(name, k, ns[a], inner, 1, 0);
            check_softmax(name, k, ns[a], inner, inner, 1 + (int)(b % 2));
            cases += 4;
        }
    return cases;
}

/* The elementwise, table and pooling kernels level `name` names itself. */
static int run_vector_cases(const char* name, const nrt_kernels* t) {
    static const size_t ns[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 100, 257};
    static const size_t taps[] = {1, 2, 4, 9, 25, 49};
    int cases = 0;
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++) {
        for (int mode = 0; mode < 3; mode++) {
            if (t->qs8_vadd) check_binary(name, t->qs8_vadd, ns[a], 0, mode), cases++;
            if (t->qs8_vmul) check_binary(name, t->qs8_vmul, ns[a], 1, mode), cases++;
        }
        if (t->qs8_lut) check_lut(name, t->qs8_lut, ns[a]), cases++;
        for (size_t b = 0; b < sizeof taps / sizeof *taps; b++) {
            if (t->qs8_gavgpool) check_pool(name, t, 0, ns[a], taps[b]), cases++;
            if (t->qs8_avgpool) check_pool(name, t, 1, ns[a], taps[b]), cases++;
            if (t->qs8_maxpool) check_pool(name, t, 2, ns[a], taps[b]), cases++;
        }
        if (t->qs8_maxpool) check_pool(name, t, 2, ns[a], 0), cases++; /* no tap: -128, clamped */
    }
    if (t->qs8_vsoftmax) cases += run_softmax_cases(name, t->qs8_vsoftmax);
    static const size_t lengths[] = {1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 33, 64, 100, 257};
    for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++) {
        if (t->qs8_rescale)
            check_rescale(t->qs8_rescale, name, lengths[i], 0), check_rescale(t->qs8_rescale, name, lengths[i], 1),
                cases += 2;
        for (uint32_t w = 0; t->qs8_quantize && w < 8; w++) check_quantize(t->qs8_quantize, name, lengths[i], w),
            cases++;
        if (t->qs8_dequantize) check_dequantize(t->qs8_dequantize, name, lengths[i]), cases++;
    }
    return cases;
}

/* ---- MatMul of two activations ---- */

static void check_matmul(const nrt_gemm_table* t, size_t M, size_t N, size_t K) {
    int32_t za = (int32_t)(next_random() % 256) - 128, zb = (int32_t)(next_random() % 256) - 128, qmin, qmax;
    nrt_qs8_requant rq;
    float m;
    random_requant(K * 2, &m, 1, &rq, &qmin, &qmax);
    int8_t* b = malloc(K * N + 1);
    uint8_t* packed = malloc(nrt_gemm_packed_bytes(t, N, K, 1) + 2);
    size_t c_stride = N + 3;
    int8_t* c = malloc(M * c_stride);
    guarded a = guarded_alloc(M * K + 1); /* the last row ends at the guard */
    if (!b || !packed || !c) {
        printf("out of memory\n");
        exit(2);
    }
    fill_bytes(b, K * N);
    fill_bytes(a.data, M * K + 1);
    const int8_t* a0 = a.data + 1;
    nrt_gemm_weights pw = {N, K, 1, b, 1, 0, N, NULL, NULL, 0, zb};
    nrt_gemm_pack(t, &pw, packed);
    nrt_qs8_matmul_params params = {za, m, rq};
    memset(c, 0x5A, M * c_stride);
    size_t panel = nrt_gemm_panel_bytes(t, K, 1);
    for (size_t m0 = 0; m0 < M; m0 += t->mr)
        for (size_t n0 = 0; n0 < N; n0 += t->nr) {
            size_t mr = M - m0 < t->mr ? M - m0 : t->mr, nc = N - n0 < t->nr ? N - n0 : t->nr;
            t->gemm(mr, nc, K, a0 + m0 * K, K, packed + n0 / t->nr * panel, c + m0 * c_stride + n0, c_stride, &params);
        }
    for (size_t i = 0; i < M && failures < 20; i++)
        for (size_t j = 0; j < c_stride; j++) {
            int8_t want = 0x5A;
            if (j < N) {
                int32_t acc = 0;
                for (size_t k = 0; k < K; k++) acc = nrt_mac_wrap(acc, a0[i * K + k] - za, b[k * N + j] - zb);
                want = nrt_requantize(acc, m, rq.zero_point, qmin, qmax);
            }
            if (c[i * c_stride + j] != want) {
                printf("FAIL %s M=%zu N=%zu K=%zu: c[%zu][%zu] = %d, want %d\n", t->name, M, N, K, i, j,
                       c[i * c_stride + j], want);
                failures++;
                break;
            }
        }
    guarded_free(&a);
    free(b), free(packed), free(c);
}

static int run_matmul_cases(const nrt_gemm_table* t) {
    static const size_t ks[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 33, 64, 101};
    size_t ns[] = {1, 3, t->nr - 1, t->nr, t->nr + 1, 2 * t->nr + 5};
    size_t ms[] = {1, 2, 3, t->mr, t->mr + 1, 2 * t->mr + 3};
    int cases = 0;
    for (size_t a = 0; a < sizeof ks / sizeof *ks; a++)
        for (size_t b = 0; b < sizeof ns / sizeof *ns; b++)
            for (size_t d = 0; d < sizeof ms / sizeof *ms; d++)
                if (ns[b] && ms[d]) check_matmul(t, ms[d], ns[b], ks[a]), cases++;
    return cases;
}

/* ---- ConvTranspose with few outputs per pixel (convt tables) ---- */

/* npix pixels of kc channels (the last ends at the guard page) through the
 * table's kernel on weights packed by the driver for [kc, kh, kw, cout];
 * kernel row ky of pixel p compared with requant(B[c] + sum (x - zx) W). */
static int check_convt(const nrt_kernels* k, const nrt_qs8_convt_table* t, size_t kc, size_t kh, size_t kw, size_t cout,
                        size_t npix) {
    int64_t wd[4] = {(int64_t)kc, (int64_t)kh, (int64_t)kw, (int64_t)cout};
    int64_t stride[2] = {(int64_t)kh, (int64_t)kw};
    nrt_conv_desc d = {true, wd, 1, {stride[0], stride[1]}, {1, 1}, false};
    nrt_conv_kernels ck = {NULL, NULL, k->qs8_convt};
    nrt_conv_plan plan;
    if (!nrt_conv_plan_init(&ck, &d, &plan) || plan.convt != t) return 0; /* not a shape for the kernel */
    size_t n = kh * kw * cout, cols = kw * cout, y_row = npix * cols + 7, all = kc * n;
    int8_t* w = malloc(all);
    int32_t* bias = malloc(cout * sizeof(int32_t));
    float* m = malloc(cout * sizeof(float));
    void* packed = aligned_alloc(NRT_PACK_ALIGN, (plan.packed_bytes + NRT_PACK_ALIGN - 1) /
                                                        NRT_PACK_ALIGN * NRT_PACK_ALIGN);
    int8_t* y = malloc(kh * y_row);
    guarded x = guarded_alloc(npix * kc);
    if (!w || !bias || !m || !packed || !y) {
        printf("out of memory\n");
        exit(2);
    }
    fill_bytes(w, all);
    fill_bytes(x.data, npix * kc);
    for (size_t c = 0; c < cout; c++) bias[c] = (int32_t)(next_random() * 65599u);
    int32_t qmin, qmax, zx = (int32_t)(next_random() % 256) - 128;
    nrt_qs8_requant rq;
    random_requant(kc, m, cout, &rq, &qmin, &qmax);
    nrt_conv_weights cw = {w, bias, m, zx};
    if (!nrt_conv_pack(&plan, &d, &cw, packed)) {
        printf("out of memory\n");
        exit(2);
    }
    memset(y, 0x5A, kh * y_row);
    (plan.convt_wide ? t->wide : t->run)(npix, kc, n, kh, x.data, packed, y, y_row, &rq);
    for (size_t ky = 0; ky < kh && failures < 20; ky++)
        for (size_t i = 0; i < y_row; i++) {
            int8_t want = 0x5A;
            if (i < npix * cols) {
                size_t p = i / cols, kx = i % cols / cout, c = i % cout;
                int32_t acc = bias[c];
                for (size_t ci = 0; ci < kc; ci++)
                    acc = nrt_mac_wrap(acc, x.data[p * kc + ci] - zx, w[ci * n + (ky * kw + kx) * cout + c]);
                want = nrt_requantize(acc, m[c], rq.zero_point, qmin, qmax);
            }
            if (y[ky * y_row + i] != want) {
                printf("FAIL %s kc=%zu k=%zux%zu cout=%zu npix=%zu: row %zu byte %zu = %d, want %d\n", t->name, kc,
                       kh, kw, cout, npix, ky, i, y[ky * y_row + i], want);
                failures++;
                break;
            }
        }
    guarded_free(&x);
    free(w), free(bias), free(m), free(packed), free(y);
    return 1;
}

static int run_convt_cases(const nrt_kernels* k) {
    const nrt_qs8_convt_table* t = k->qs8_convt;
    static const size_t shapes[][3] = {{1, 1, 1}, {1, 1, 2}, {2, 1, 1}, {1, 2, 1}, {2, 2, 1}, {2, 2, 2}, {2, 2, 4},
                                       {2, 1, 4}, {1, 4, 2}, {4, 4, 1}, {1, 1, 16}, {4, 2, 2}, {2, 2, 3},
                                       /* wide: */ {2, 2, 8}, {1, 1, 32}, {2, 2, 24}, {3, 1, 16}, {2, 1, 32},
                                       {1, 1, 96}, {1, 2, 40}, {2, 2, 12}, {1, 1, 112}};
    static const size_t kcs[] = {1, 2, 3, 4, 5, 7, 8, 11, 16, 24, 29, 32, 33, 64, 100, 128, 203};
    static const size_t npixs[] = {1, 2, 3, 5, 8, 17, 37};
    int cases = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (size_t c = 0; c < sizeof kcs / sizeof *kcs; c++)
            for (size_t p = 0; p < sizeof npixs / sizeof *npixs; p++)
                cases += check_convt(k, t, kcs[c], shapes[s][0], shapes[s][1], shapes[s][2], npixs[p]);
    return cases;
}

int main(void) {
    printf("best level on this CPU: %s\n", nrt_isa_name(nrt_cpu_best_isa()));
    uint32_t features = nrt_cpu_features();
    for (int isa = 0; isa < NRT_ISA_COUNT; isa++) {
        /* every kernel a level names itself, whether or not dispatch picks it on this CPU */
        const nrt_kernels* k = nrt_kernels_of_level(isa);
        const char* level = nrt_isa_name((nrt_isa)isa);
        if (!nrt_isa_supported(isa, features)) continue;
        if (k->qs8_gemm) printf("%s: %d cases\n", k->qs8_gemm->name, run_gemm_cases(k->qs8_gemm));
        if (k->qs8_spmm) printf("%s: %d cases\n", k->qs8_spmm->name, run_spmm_cases(k->qs8_spmm));
        if (k->qs8_dwconv) printf("%s: %d cases\n", k->qs8_dwconv->name, run_dwconv_cases(k));
        if (k->qs8_matmul) printf("%s: %d cases\n", k->qs8_matmul->name, run_matmul_cases(k->qs8_matmul));
        const nrt_qs8_convt_table* ct = k->qs8_convt;
        if (ct)
            printf("%s%s%s: %d cases\n", ct->name, ct->wide ? " / " : "", ct->wide ? ct->wide_name : "",
                   run_convt_cases(k));
        int vector = run_vector_cases(level, k);
        if (vector) printf("%s int8 vector kernels: %d cases\n", level, vector);
    }
    printf("%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
