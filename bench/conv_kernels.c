/* int8 depthwise, first-layer (3-channel input), narrow dense and few-input pointwise convs through the conv
 * driver (kernels/conv.h) on one thread, per level this CPU runs: median
 * time per conv, G multiply-adds/s and the fraction of the int8 dot-product
 * peak measured in the same process (vpdpbusd / sdot chains, as
 * bench/peak.c). Built and run by bench/conv_kernels.py.
 *
 *   conv_kernels [level ...] [dw|rgb|dense|pw]   (default: every level this CPU runs
 *                                        but ref; every kind of shape)
 * Prints one line per (level, shape): "level shape ms gmacs pct",
 * machine-readable, after a line "peak GMACS". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/conv.h"
#include "kernels/dispatch.h"
#include "kernels/isa.h"

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#define CHAINS 12
#define REPEATS 15

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static volatile int32_t sink;

/* Multiply-adds per second of independent dot-product chains (4 per lane). */
#if defined(__x86_64__)
/* vpdpbusd in asm, the accumulator tied: around the intrinsic gcc 12 copies
 * every accumulator in and out of the loop body (24 zmm moves per 12 dot
 * products), which take vector slots on Zen 4 and measured 95-150 GMAC/s
 * where the conv kernels ran at 200+. */
__attribute__((target("avx512f,avx512vnni"))) static inline __m512i dpbusd(__m512i acc, __m512i a, __m512i b) {
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
    return acc;
}

__attribute__((target("avx512f,avx512vnni"))) static double dot_chains(long iters) {
    __m512i acc[CHAINS], a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-5);
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_set1_epi32(c);
    for (long i = 0; i < iters; i++)
        for (int c = 0; c < CHAINS; c++) acc[c] = dpbusd(acc[c], a, b);
    for (int c = 1; c < CHAINS; c++) acc[0] = _mm512_add_epi32(acc[0], acc[c]);
    sink = _mm512_reduce_add_epi32(acc[0]);
    return (double)iters * CHAINS * 64;
}
#elif defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
static double dot_chains(long iters) {
    int32x4_t acc[CHAINS];
    int8x16_t a = vdupq_n_s8(3), b = vdupq_n_s8(-5);
    for (int c = 0; c < CHAINS; c++) acc[c] = vdupq_n_s32(c);
    for (long i = 0; i < iters; i++)
        for (int c = 0; c < CHAINS; c++) acc[c] = vdotq_s32(acc[c], a, b);
    for (int c = 1; c < CHAINS; c++) acc[0] = vaddq_s32(acc[0], acc[c]);
    sink = vaddvq_s32(acc[0]);
    return (double)iters * CHAINS * 16;
}
#else
static double dot_chains(long iters) { return (double)iters * 0; }
#endif

static double peak_gmacs(void) {
    double best = 0;
    for (int r = 0; r < 3; r++) {
        double t0 = now(), macs = dot_chains(20000000L), t = now() - t0;
        if (macs / t > best) best = macs / t;
    }
    return best * 1e-9;
}

static void serial_for(void* pool, size_t n, size_t grain, nrt_task_fn fn, void* arg) {
    (void)pool, (void)grain;
    fn(arg, 0, n);
}
static const nrt_threads ONE_THREAD = {serial_for, NULL, 1};

static void* alloc(size_t bytes) {
    void* p = aligned_alloc(NRT_PACK_ALIGN, (bytes + NRT_PACK_ALIGN - 1) / NRT_PACK_ALIGN * NRT_PACK_ALIGN + 64);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < bytes; i++) ((uint8_t*)p)[i] = (uint8_t)(i * 2654435761u >> 24);
    return p;
}

typedef struct shape {
    const char* kind; /* "dw": depthwise C -> C; "rgb": 3 -> cout; "dense", "pw" (1x1): cin -> cout */
    int64_t cout, h, k, s, cin; /* output and input channels, side, kernel, stride */
} shape;

/* Depthwise layers of PP-OCR / PicoDet-style backbones (32-128 channels,
 * 20x20 to 160x160, 3x3 and 5x5, stride 1 and 2), first convs, and dense
 * convs with fewer output channels than a GEMM panel. */
static const shape SHAPES[] = {
    {"dw", 32, 160, 3, 1, 32},  {"dw", 32, 160, 3, 2, 32}, {"dw", 48, 80, 3, 1, 48},  {"dw", 64, 80, 3, 1, 64},
    {"dw", 64, 80, 3, 2, 64},   {"dw", 96, 40, 3, 1, 96},  {"dw", 128, 40, 3, 1, 128}, {"dw", 128, 20, 3, 1, 128},
    {"dw", 32, 160, 5, 1, 32},  {"dw", 64, 80, 5, 1, 64},  {"dw", 96, 40, 5, 2, 96},  {"dw", 128, 20, 5, 1, 128},
    /* PP-OCRv4 det's largest depthwise convs: 16 channels at 320x320 (a 32-channel tile holds two pixels),
     * 48 at 160x160 (a full tile and a half one) */
    {"dw", 16, 320, 3, 1, 16},  {"dw", 48, 160, 3, 1, 48},
    {"rgb", 16, 320, 3, 2, 3}, {"rgb", 16, 640, 3, 2, 3}, {"rgb", 32, 640, 3, 2, 3},
    /* PP-OCRv4 det's head: 3x3 96 -> 24 at 160x160 (two: 46 % of its multiply-adds) and at 80x80 (its
     * input and output fit the L2: the pair shows what a larger working set costs on a loaded machine) */
    {"dense", 24, 160, 3, 1, 96}, {"dense", 24, 80, 3, 1, 96},
    /* PP-OCRv4 det's pointwise convs of few input channels (K = 12 .. 48: their requantization costs as much
     * as their dot products), and one of K = 192 at the same size for comparison */
    {"pw", 32, 320, 1, 1, 16}, {"pw", 96, 160, 1, 1, 12}, {"pw", 48, 160, 1, 1, 32}, {"pw", 48, 160, 1, 1, 48},
    {"pw", 96, 80, 1, 1, 18},  {"pw", 48, 160, 1, 1, 192},
};

static double median(double* v, int n) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double t = v[j];
            v[j] = v[j - 1], v[j - 1] = t;
        }
    return v[n / 2];
}

/* Seconds per run of one conv (same padding: k / 2 each side). */
static double time_conv(const nrt_kernels* k, const shape* sh, double* macs) {
    int dw = strcmp(sh->kind, "dw") == 0;
    int64_t cin = sh->cin, pad = sh->k / 2, group = dw ? sh->cout : 1, cig = cin / group;
    nrt_conv2d_geom g = {0};
    g.n = 1, g.ih = g.iw = sh->h, g.cin = cin, g.cout = sh->cout, g.kh = g.kw = sh->k, g.sh = g.sw = sh->s;
    g.dh = g.dw = 1, g.group = group, g.pad_t = g.pad_l = pad;
    g.oh = (g.ih + 2 * pad - sh->k) / sh->s + 1, g.ow = g.oh;
    int64_t wd[4] = {sh->cout, sh->k, sh->k, cig};
    nrt_conv_desc d = {false, wd, group, {sh->s, sh->s}, {1, 1}, true};
    nrt_conv_kernels ck = {k->qs8_gemm, k->qs8_dwconv, k->qs8_convt};
    nrt_conv_plan plan;
    if (!nrt_conv_plan_init(&ck, &d, &plan)) return -1;
    size_t xn = (size_t)(g.ih * g.iw * cin), yn = (size_t)(g.oh * g.ow * g.cout), wn = (size_t)(g.cout * g.kh * g.kw * cig);
    int8_t *x = alloc(xn), *w = alloc(wn), *y = alloc(yn), *pad_buf = alloc((size_t)cin);
    int32_t* bias = alloc((size_t)g.cout * sizeof(int32_t));
    float* m = alloc((size_t)g.cout * sizeof(float));
    for (int64_t c = 0; c < g.cout; c++) m[c] = 0.001f;
    memset(pad_buf, 3, (size_t)cin);
    void* packed = alloc(plan.packed_bytes);
    nrt_conv_weights cw = {w, bias, m, 3};
    nrt_conv_pack(&plan, &d, &cw, packed);
    nrt_conv_dw_rows rows;
    size_t rows_bytes = nrt_conv_dw_rows_plan(&plan, &g, &rows);
    void* rows_mem = alloc(rows_bytes);
    if (rows_bytes) nrt_conv_dw_rows_pack(&plan, &g, &cw, &rows, rows_mem);
    nrt_qs8_requant rq = nrt_qs8_requant_make(-2, -128, 127);
    *macs = (double)yn * (double)(g.kh * g.kw * cig);
    int inner = (int)(2e7 / *macs) + 1; /* ~10 ms per sample at 2 GMAC/s */
    double t[REPEATS];
    nrt_conv_run(&ONE_THREAD, &plan, &g, x, packed, &rows, pad_buf, &rq, y);
    for (int r = 0; r < REPEATS; r++) {
        double t0 = now();
        for (int i = 0; i < inner; i++) nrt_conv_run(&ONE_THREAD, &plan, &g, x, packed, &rows, pad_buf, &rq, y);
        t[r] = (now() - t0) / inner;
    }
    free(x), free(w), free(y), free(pad_buf), free(bias), free(m), free(packed), free(rows_mem);
    return median(t, REPEATS);
}

int main(int argc, char** argv) {
    int levels[NRT_ISA_COUNT], nlevels = 0;
    const char* kind = NULL; /* only shapes of this kind */
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "dw") || !strcmp(argv[a], "rgb") || !strcmp(argv[a], "dense") ||
            !strcmp(argv[a], "pw")) {
            kind = argv[a];
            continue;
        }
        int isa = nrt_isa_from_name(argv[a]);
        if (isa < 0 || !nrt_isa_supported(isa, nrt_cpu_features())) {
            fprintf(stderr, "level %s: unknown or not supported by this CPU\n", argv[a]);
            return 2;
        }
        levels[nlevels++] = isa;
    }
    for (int isa = 1, named = nlevels; !named && isa < NRT_ISA_COUNT; isa++)
        if (nrt_isa_supported(isa, nrt_cpu_features())) levels[nlevels++] = isa;
    double peak = peak_gmacs();
    printf("peak %.1f\n", peak);
    for (size_t s = 0; s < sizeof SHAPES / sizeof *SHAPES; s++)
        for (int l = 0; l < nlevels && (!kind || !strcmp(kind, SHAPES[s].kind)); l++) {
            nrt_kernels k;
            nrt_kernels_resolve(levels[l], &k);
            double macs, sec = time_conv(&k, &SHAPES[s], &macs);
            if (sec < 0) continue;
            char name[64], cin[24] = "";
            if (strcmp(SHAPES[s].kind, "dense") == 0 || strcmp(SHAPES[s].kind, "pw") == 0)
                snprintf(cin, sizeof cin, "%lldto", (long long)SHAPES[s].cin);
            snprintf(name, sizeof name, "%s%s%lldx%lldx%lld_k%lld_s%lld", SHAPES[s].kind, cin, (long long)SHAPES[s].cout,
                     (long long)SHAPES[s].h, (long long)SHAPES[s].h, (long long)SHAPES[s].k, (long long)SHAPES[s].s);
            printf("%s %s %.4f %.2f %.1f\n", nrt_isa_name(levels[l]), name, sec * 1e3, macs / sec * 1e-9,
                   peak > 0 ? 100 * macs / sec * 1e-9 / peak : 0);
            fflush(stdout);
        }
    return 0;
}
