/* The conv and GEMM drivers (kernels/conv.h, gemm.h) on every level's tables
 * this CPU runs, against the reference kernels of kernels/ref: random Conv
 * geometries (padding, stride, dilation, groups, depthwise with its row
 * variants, 1x1, the few-channel first layer), upsampling ConvTranspose,
 * FullyConnected and MatMul, int8 byte for byte and float32 within a
 * relative tolerance. Half of the int8 cases use multipliers 1/2 and 1/4,
 * whose products with odd accumulators are exact halves: the contract rounds
 * them to even (requant.h), and a kernel or reference rounding them another
 * way disagrees here. Work is split in several chunks, as the thread pool
 * would. Prints the cases per level; exit status = failures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/conv.h"
#include "kernels/dispatch.h"
#include "kernels/isa.h"
#include "kernels/ref/conv_ref.h"
#include "kernels/ref/qs8_ref.h"

static int failures = 0;
static uint64_t rng_state = 0x9E6C63D0676A9A99ull;

static uint32_t next_random(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static int64_t between(int64_t lo, int64_t hi) { return lo + (int64_t)(next_random() % (uint32_t)(hi - lo + 1)); }

static void* alloc(size_t bytes) {
    void* p = aligned_alloc(NRT_PACK_ALIGN, (bytes + NRT_PACK_ALIGN - 1) / NRT_PACK_ALIGN * NRT_PACK_ALIGN + 64);
    if (!p) {
        printf("out of memory\n");
        exit(2);
    }
    return p;
}

/* The engine's thread pool, serially: ranges of `grain` items (so the
 * drivers' task splits and column blocks run as with 3 threads). */
static void chunked_for(void* pool, size_t n, size_t grain, nrt_task_fn fn, void* arg) {
    (void)pool;
    for (size_t b = 0; b < n; b += grain) fn(arg, b, n - b < grain ? n : b + grain);
}
static const nrt_threads THREADS = {chunked_for, NULL, 3};

/* A random Conv geometry of one of the shapes the driver plans differently. */
static nrt_conv2d_geom random_conv(void) {
    nrt_conv2d_geom g = {0};
    /* general, depthwise, grouped, 1x1, few-channel first layer, RGB first layer at a real shape's scale */
    int kind = (int)(next_random() % 6);
    g.n = between(1, 2), g.ih = between(1, 11), g.iw = between(1, 13);
    g.kh = between(1, 5), g.kw = between(1, 5), g.sh = between(1, 2), g.sw = between(1, 2);
    g.dh = between(1, 2), g.dw = between(1, 2), g.group = 1;
    g.cin = between(1, 40), g.cout = between(1, 40);
    if (kind == 1) g.group = g.cout = g.cin = between(2, 70);
    if (kind == 2) g.group = between(2, 4), g.cin = g.group * between(1, 8), g.cout = g.group * between(1, 9);
    if (kind == 3) g.kh = g.kw = g.sh = g.sw = g.dh = g.dw = 1;
    if (kind == 4) g.cin = between(1, 4), g.dw = 1;
    if (kind == 5) { /* wide enough for whole 12-pixel tiles and several panels, k up to 7 (joined rows) */
        g.cin = between(1, 3), g.dw = 1, g.kh = g.kw = 2 * between(1, 3) + 1, g.sh = g.sw = 2;
        g.ih = between(g.kh, 41), g.iw = between(g.kw, 53), g.cout = between(1, 70);
    }
    int64_t pt = kind == 3 ? 0 : between(0, 2), pb = kind == 3 ? 0 : between(0, 2);
    int64_t pl = kind == 3 ? 0 : between(0, 2), pr = kind == 3 ? 0 : between(0, 2);
    int64_t eh = (g.kh - 1) * g.dh + 1, ew = (g.kw - 1) * g.dw + 1;
    if (g.ih + pt + pb < eh) pb += eh - (g.ih + pt + pb);
    if (g.iw + pl + pr < ew) pr += ew - (g.iw + pl + pr);
    g.pad_t = pt, g.pad_l = pl;
    g.oh = (g.ih + pt + pb - eh) / g.sh + 1, g.ow = (g.iw + pl + pr - ew) / g.sw + 1;
    return g;
}

static void fill_s8(int8_t* p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = (int8_t)(uint8_t)next_random();
}

/* Multipliers: exact 1/2 or 1/4 for half the cases (exact halves of odd
 * accumulators), else around 1 / (127 k) (outputs across the int8 range). */
static void random_multipliers(float* m, size_t n, size_t k) {
    int halves = next_random() % 2;
    for (size_t i = 0; i < n; i++)
        m[i] = halves ? (next_random() % 2 ? 0.5f : 0.25f) : (float)(1 + next_random() % 400) / (100.0f * k + 50.0f);
}

static nrt_qs8_out random_out(void) {
    int32_t zy = (int32_t)(next_random() % 256) - 128, lo = -128, hi = 127;
    if (next_random() % 3 == 0) lo = zy; /* a fused Relu */
    return (nrt_qs8_out){zy, lo, hi};
}

static int compare_s8(const char* what, const char* level, const int8_t* got, const int8_t* want, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i]) {
            printf("FAIL %s at %s: byte %zu = %d, reference %d\n", what, level, i, got[i], want[i]);
            failures++;
            return 0;
        }
    return 1;
}

/* ---- int8 Conv ---- */

static void check_qs8_conv(const nrt_kernels* k, const char* level) {
    nrt_conv2d_geom g = random_conv();
    size_t cig = (size_t)(g.cin / g.group), taps = (size_t)(g.kh * g.kw), cout = (size_t)g.cout;
    size_t xn = (size_t)(g.n * g.ih * g.iw * g.cin), yn = (size_t)(g.n * g.oh * g.ow) * cout, wn = cout * taps * cig;
    int8_t *x = alloc(xn), *w = alloc(wn), *y = alloc(yn), *want = alloc(yn), *pad = alloc((size_t)g.cin);
    int32_t* bias = alloc(cout * sizeof(int32_t));
    float* m = alloc(cout * sizeof(float));
    fill_s8(x, xn), fill_s8(w, wn);
    for (size_t c = 0; c < cout; c++) bias[c] = (int32_t)(next_random() % 200001) - 100000;
    random_multipliers(m, cout, taps * cig);
    nrt_qs8_out out = random_out();
    int32_t zx = (int32_t)(next_random() % 256) - 128;
    memset(pad, (int)zx, (size_t)g.cin);
    int64_t wd[4] = {g.cout, g.kh, g.kw, (int64_t)cig};
    nrt_conv_desc d = {false, wd, g.group, {g.sh, g.sw}, {g.dh, g.dw}, true};
    nrt_conv_kernels ck = {k->qs8_gemm, k->qs8_dwconv, k->qs8_convt};
    nrt_conv_plan plan;
    if (nrt_conv_plan_init(&ck, &d, &plan)) {
        void* packed = alloc(plan.packed_bytes);
        nrt_conv_weights cw = {w, bias, m, zx};
        nrt_conv_pack(&plan, &d, &cw, packed);
        nrt_conv_dw_rows rows;
        size_t rows_bytes = nrt_conv_dw_rows_plan(&plan, &g, &rows);
        void* rows_mem = alloc(rows_bytes);
        if (rows_bytes) nrt_conv_dw_rows_pack(&plan, &g, &cw, &rows, rows_mem);
        nrt_qs8_requant rq = nrt_qs8_requant_make(out.zero_point, out.qmin, out.qmax);
        nrt_conv_run(&THREADS, &plan, &g, x, packed, &rows, pad, &rq, y);
        int8_t* dw = alloc(wn);
        nrt_qs8_conv q = {x, w, bias, m, want, zx, out, nrt_conv_is_depthwise((int64_t)cig, g.group)};
        if (q.dw_packed) nrt_conv_dw_pack_qs8(w, g.cout, g.kh, g.kw, dw), q.w = dw;
        nrt_conv2d_qs8_ref(&g, &q, 0, g.n * g.oh);
        char what[160];
        snprintf(what, sizeof what, "int8 conv %lldx%lldx%lld -> %lld k%lldx%lld s%lld,%lld d%lld,%lld g%lld",
                 (long long)g.ih, (long long)g.iw, (long long)g.cin, (long long)g.cout, (long long)g.kh,
                 (long long)g.kw, (long long)g.sh, (long long)g.sw, (long long)g.dh, (long long)g.dw,
                 (long long)g.group);
        compare_s8(what, level, y, want, yn);
        free(packed), free(rows_mem), free(dw);
    }
    free(x), free(w), free(y), free(want), free(pad), free(bias), free(m);
}

/* ---- int8 ConvTranspose, kernel == stride ---- */

static void check_qs8_convt(const nrt_kernels* k, const char* level) {
    nrt_conv2d_geom g = {0};
    g.n = between(1, 2), g.ih = between(1, 6), g.iw = between(1, 19), g.cin = between(1, 40);
    g.kh = g.sh = between(1, 3), g.kw = g.sw = between(1, 3), g.dh = g.dw = 1, g.group = 1;
    static const int64_t couts[] = {1, 2, 3, 8, 12, 24, 33};
    g.cout = couts[next_random() % 7], g.oh = g.ih * g.sh, g.ow = g.iw * g.sw;
    size_t cin = (size_t)g.cin, cout = (size_t)g.cout, wn = cin * (size_t)(g.kh * g.kw) * cout;
    size_t xn = (size_t)(g.n * g.ih * g.iw) * cin, yn = (size_t)(g.n * g.oh * g.ow) * cout;
    int8_t *x = alloc(xn), *w = alloc(wn), *y = alloc(yn), *want = alloc(yn);
    int32_t* bias = alloc(cout * sizeof(int32_t));
    float* m = alloc(cout * sizeof(float));
    fill_s8(x, xn), fill_s8(w, wn);
    for (size_t c = 0; c < cout; c++) bias[c] = (int32_t)(next_random() % 20001) - 10000;
    random_multipliers(m, cout, cin);
    nrt_qs8_out out = random_out();
    int32_t zx = (int32_t)(next_random() % 256) - 128;
    int64_t wd[4] = {g.cin, g.kh, g.kw, g.cout};
    nrt_conv_desc d = {true, wd, 1, {g.sh, g.sw}, {1, 1}, false};
    nrt_conv_kernels ck = {k->qs8_gemm, k->qs8_dwconv, k->qs8_convt};
    nrt_conv_plan plan;
    if (nrt_conv_plan_init(&ck, &d, &plan)) {
        void* packed = alloc(plan.packed_bytes);
        nrt_conv_weights cw = {w, bias, m, zx};
        nrt_conv_pack(&plan, &d, &cw, packed);
        nrt_qs8_requant rq = nrt_qs8_requant_make(out.zero_point, out.qmin, out.qmax);
        nrt_conv_run(&THREADS, &plan, &g, x, packed, NULL, NULL, &rq, y);
        nrt_qs8_conv q = {x, w, bias, m, want, zx, out, false};
        nrt_conv_transpose2d_qs8_ref(&g, &q, 0, g.n * g.oh);
        char what[96];
        snprintf(what, sizeof what, "int8 convt %lldx%lldx%lld k%lldx%lld -> %lld", (long long)g.ih,
                 (long long)g.iw, (long long)g.cin, (long long)g.kh, (long long)g.kw, (long long)g.cout);
        compare_s8(what, level, y, want, yn);
        free(packed);
    }
    free(x), free(w), free(y), free(want), free(bias), free(m);
}

/* ---- int8 FullyConnected and MatMul ---- */

static void check_qs8_gemm(const nrt_kernels* k, const char* level) {
    size_t M = (size_t)between(1, 40), N = (size_t)between(1, 70), K = (size_t)between(1, 300);
    int8_t *a = alloc(M * K), *w = alloc(N * K), *y = alloc(M * N), *want = alloc(M * N);
    int32_t* bias = alloc(N * sizeof(int32_t));
    float* m = alloc(N * sizeof(float));
    fill_s8(a, M * K), fill_s8(w, N * K);
    for (size_t j = 0; j < N; j++) bias[j] = (int32_t)(next_random() % 200001) - 100000;
    random_multipliers(m, N, K);
    nrt_qs8_out out = random_out();
    nrt_qs8_requant rq = nrt_qs8_requant_make(out.zero_point, out.qmin, out.qmax);
    /* FullyConnected: W [N, K] */
    const nrt_gemm_table* t = k->qs8_gemm;
    void* packed = alloc(nrt_gemm_packed_bytes(t, N, K, 1));
    nrt_gemm_weights pw = {N, K, 1, w, K, 0, 1, bias, m, 0, 0};
    nrt_gemm_pack(t, &pw, packed);
    nrt_gemm_args g = {M, N, K, 1, a, K, NULL, packed, 0, y, N, &rq};
    nrt_gemm_run(&THREADS, t, &g);
    nrt_qs8_gemm r = {(int64_t)M, (int64_t)N, (int64_t)K, a, (int64_t)K, w, (int64_t)K, want, (int64_t)N, bias, m,
                      0, 0, out};
    nrt_fc_qs8_ref(&r, 0, (int64_t)M, 0, (int64_t)N);
    char what[64];
    snprintf(what, sizeof what, "int8 FullyConnected %zux%zux%zu", M, N, K);
    compare_s8(what, level, y, want, M * N);
    free(packed);
    /* MatMul: B [K, N] (w's bytes), zero points, one multiplier */
    t = k->qs8_matmul;
    int32_t za = (int32_t)(next_random() % 256) - 128, zb = (int32_t)(next_random() % 256) - 128;
    packed = alloc(nrt_gemm_packed_bytes(t, N, K, 1));
    nrt_gemm_weights pb = {N, K, 1, w, 1, 0, N, NULL, NULL, 0, zb};
    nrt_gemm_pack(t, &pb, packed);
    nrt_qs8_matmul_params mp = {za, m[0], rq};
    nrt_gemm_args gm = {M, N, K, 1, a, K, NULL, packed, 0, y, N, &mp};
    nrt_gemm_run(&THREADS, t, &gm);
    nrt_qs8_gemm rm = {(int64_t)M, (int64_t)N, (int64_t)K, a, (int64_t)K, w, (int64_t)N, want, (int64_t)N, NULL, m,
                       za, zb, out};
    nrt_matmul_qs8_ref(&rm, 0, (int64_t)M, 0, (int64_t)N);
    snprintf(what, sizeof what, "int8 MatMul %zux%zux%zu", M, N, K);
    compare_s8(what, level, y, want, M * N);
    free(packed);
    free(a), free(w), free(y), free(want), free(bias), free(m);
}

/* ---- float32 Conv ---- */

static void check_f32_conv(const nrt_kernels* k, const char* level) {
    nrt_conv2d_geom g = random_conv();
    size_t cig = (size_t)(g.cin / g.group), taps = (size_t)(g.kh * g.kw), cout = (size_t)g.cout;
    size_t xn = (size_t)(g.n * g.ih * g.iw * g.cin), yn = (size_t)(g.n * g.oh * g.ow) * cout, wn = cout * taps * cig;
    float *x = alloc(xn * 4), *w = alloc(wn * 4), *y = alloc(yn * 4), *want = alloc(yn * 4);
    float *bias = alloc(cout * 4), *zeros = alloc((size_t)g.cin * 4), *wref = alloc(wn * 4);
    for (size_t i = 0; i < xn; i++) x[i] = (float)(int)(next_random() % 2001 - 1000) / 500.0f;
    for (size_t i = 0; i < wn; i++) w[i] = (float)(int)(next_random() % 2001 - 1000) / 1000.0f;
    for (size_t i = 0; i < cout; i++) bias[i] = (float)(int)(next_random() % 201 - 100) / 100.0f;
    memset(zeros, 0, (size_t)g.cin * 4);
    nrt_activation act = {next_random() % 2 ? NRT_ACT_RELU : NRT_ACT_NONE, 0.0f, 0.0f};
    int64_t wd[4] = {g.cout, g.kh, g.kw, (int64_t)cig};
    nrt_conv_desc d = {false, wd, g.group, {g.sh, g.sw}, {g.dh, g.dw}, true};
    nrt_conv_kernels ck = {k->f32_gemm, k->f32_dwconv, NULL};
    nrt_conv_plan plan;
    if (nrt_conv_plan_init(&ck, &d, &plan)) {
        void* packed = alloc(plan.packed_bytes);
        nrt_conv_weights cw = {w, bias, NULL, 0};
        nrt_conv_pack(&plan, &d, &cw, packed);
        nrt_conv_dw_rows rows;
        size_t rows_bytes = nrt_conv_dw_rows_plan(&plan, &g, &rows);
        void* rows_mem = alloc(rows_bytes);
        if (rows_bytes) nrt_conv_dw_rows_pack(&plan, &g, &cw, &rows, rows_mem);
        nrt_conv_run(&THREADS, &plan, &g, x, packed, &rows, zeros, &act, y);
        nrt_conv_pack_f32(w, g.cout, g.kh, g.kw, (int64_t)cig, g.group, wref);
        nrt_conv2d_f32_ref(&g, x, wref, bias, &act, zeros, want, 0, g.n * g.oh);
        for (size_t i = 0; i < yn; i++)
            if (!(fabsf(y[i] - want[i]) <= 1e-4f * (1.0f + fabsf(want[i])) * (float)(taps * cig))) {
                printf("FAIL float32 conv %lldx%lldx%lld -> %lld k%lldx%lld g%lld at %s: y[%zu] = %.9g, reference "
                       "%.9g\n", (long long)g.ih, (long long)g.iw, (long long)g.cin, (long long)g.cout,
                       (long long)g.kh, (long long)g.kw, (long long)g.group, level, i, (double)y[i], (double)want[i]);
                failures++;
                break;
            }
        free(packed), free(rows_mem);
    }
    free(x), free(w), free(y), free(want), free(bias), free(zeros), free(wref);
}

int main(void) {
    uint32_t features = nrt_cpu_features();
    for (int isa = 0; isa < NRT_ISA_COUNT; isa++) {
        if (!nrt_isa_supported(isa, features)) continue;
        nrt_kernels k;
        nrt_kernels_resolve(isa, &k);
        const char* level = nrt_isa_name((nrt_isa)isa);
        int cases = 0;
        for (int i = 0; i < 150 && failures < 20; i++, cases += 5) {
            check_qs8_conv(&k, level);
            check_qs8_convt(&k, level);
            check_qs8_gemm(&k, level);
            check_f32_conv(&k, level);
        }
        printf("%s conv / GEMM drivers vs reference: %d cases\n", level, cases);
    }
    printf("%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
