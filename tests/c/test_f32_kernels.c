/* The float32 microkernels of every level this CPU runs (f32_kernels.h),
 * called directly on many shapes and compared with a double-precision
 * evaluation (GEMM / IGEMM / depthwise: relative to the sum of |terms|;
 * binary ops bit for bit, since each is one IEEE operation; activations and
 * column sums within a few ulp):
 *   GEMM / IGEMM: every row count up to MR + a few, column counts around the
 *     panel width, K around the unroll factors, 1 or several taps (some of
 *     them all NULL where the table skips those), fused activations (SIMD
 *     ones and the scalar Tanh);
 *   depthwise: channel counts around the tile width, kernel sizes, dilation,
 *     1 .. 9 pixels;
 *   vector: Add / Sub / Mul / Div / Min / Max in the three broadcast modes,
 *     every activation kind, column sums, Softmax / LogSoftmax rows (against
 *     the reference op), on lengths around the vector widths.
 * Every kernel a level's table names (kernels/dispatch.c) is run on a CPU
 * that has the level, whether or not dispatch would pick it here.
 * The last input row / pixel ends at a PROT_NONE page, so a kernel reading
 * past what it was given crashes; outputs are checked not to be written
 * outside the tile. Prints the tables it ran; exit status = failures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels/isa.h"
#include "kernels/conv.h"
#include "kernels/dispatch.h"
#include "kernels/ref/binary_ref.h"
#include "kernels/ref/softmax_ref.h"

#define SENTINEL 12345.0f

static int failures = 0;
static uint64_t rng_state = 0x853C49E6748FEA9Bull;

static uint32_t next_random(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static float frand(void) { return (float)(next_random() % 20001) / 10000.0f - 1.0f; }

/* n floats whose end touches an inaccessible page. */
typedef struct guarded {
    uint8_t* map;
    size_t map_bytes;
    float* data;
} guarded;

static guarded guarded_alloc(size_t n) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE), bytes = n * sizeof(float);
    size_t span = (bytes + page - 1) / page * page + page;
    guarded g = {mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), span, NULL};
    if (g.map == MAP_FAILED) {
        printf("mmap failed\n");
        exit(2);
    }
    mprotect(g.map + span - page, page, PROT_NONE);
    g.data = (float*)(void*)(g.map + span - page - bytes);
    for (size_t i = 0; i < n; i++) g.data[i] = frand();
    return g;
}

static void guarded_free(guarded* g) { munmap(g->map, g->map_bytes); }

static void* packed_alloc(size_t bytes) {
    bytes = (bytes + NRT_PACK_ALIGN - 1) / NRT_PACK_ALIGN * NRT_PACK_ALIGN;
    void* p = aligned_alloc(NRT_PACK_ALIGN, bytes ? bytes : NRT_PACK_ALIGN);
    if (!p) {
        printf("out of memory\n");
        exit(2);
    }
    return p;
}

/* |got - act(sum)| within a relative 1e-5 of the sum of |terms| (plus the activation's few ulp). */
static int close_to(float got, double sum, double mag, const nrt_activation* act) {
    double want = (double)nrt_activation_apply(act, (float)sum);
    double tol = 1e-5 * (mag + 1.0) + 1e-6 * fabs(want);
    return fabs((double)got - want) <= tol;
}

static const nrt_activation ACTS[] = {
    {NRT_ACT_NONE, 0.0f, 0.0f},      {NRT_ACT_RELU, 0.0f, 0.0f},
    {NRT_ACT_CLIP, -0.5f, 0.75f},    {NRT_ACT_LEAKY_RELU, 0.1f, 0.0f},
    {NRT_ACT_HARD_SIGMOID, 0.2f, 0.5f}, {NRT_ACT_HARD_SWISH, 0.0f, 0.0f},
    {NRT_ACT_SIGMOID, 0.0f, 0.0f},   {NRT_ACT_SILU, 0.0f, 0.0f},
    {NRT_ACT_TANH, 0.0f, 0.0f},      {NRT_ACT_GELU, 0.0f, 0.0f},
};
#define N_ACTS (sizeof ACTS / sizeof *ACTS)

/* ---- GEMM / IGEMM ---- */

/* On tables that skip all-NULL taps (gemm.h's igemm_null_taps): tap p of the
 * tile of rows from m0 is passed as NULL (as the conv driver passes a tap
 * reading only padding) on a pattern that leaves some tiles none or all. */
static bool null_tap(const nrt_gemm_table* t, size_t m0, size_t p) {
    return t->igemm_null_taps && (m0 / t->mr + p) % 3 == 1;
}

static void check_gemm(const nrt_gemm_table* t, size_t M, size_t N, size_t kc, size_t ks, bool indirect,
                       const nrt_activation* act) {
    size_t K = kc * ks, rows = indirect ? M * ks + 3 : M;
    float* w = malloc(N * K * sizeof(float));
    float* bias = malloc(N * sizeof(float));
    size_t c_stride = N + 3;
    float* c = malloc(M * c_stride * sizeof(float));
    const void** ind = malloc(t->mr * ks * sizeof *ind);
    size_t* pick = malloc(M * ks * sizeof *pick);
    uint8_t* packed = packed_alloc(nrt_gemm_packed_bytes(t, N, kc, ks));
    guarded x = guarded_alloc(rows * kc);
    if (!w || !bias || !c || !ind || !pick) {
        printf("out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < N * K; i++) w[i] = frand();
    for (size_t j = 0; j < N; j++) bias[j] = frand();
    nrt_gemm_weights pw = {N, kc, ks, w, K, kc, 1, bias, NULL, 0, 0};
    nrt_gemm_pack(t, &pw, packed);
    for (size_t i = 0; i < M * ks; i++) pick[i] = indirect ? next_random() % rows : i;
    if (indirect) pick[M * ks - 1] = rows - 1; /* ends at the guard */
    for (size_t i = 0; i < M * c_stride; i++) c[i] = SENTINEL;
    size_t panel = nrt_gemm_panel_bytes(t, kc, ks);
    for (size_t m0 = 0; m0 < M; m0 += t->mr) {
        size_t mr = M - m0 < t->mr ? M - m0 : t->mr;
        for (size_t n0 = 0; n0 < N; n0 += t->nr) {
            size_t nc = N - n0 < t->nr ? N - n0 : t->nr;
            const uint8_t* wp = packed + n0 / t->nr * panel;
            if (!indirect) {
                t->gemm(mr, nc, kc, x.data + m0 * kc, kc, wp, c + m0 * c_stride + n0, c_stride, act);
                continue;
            }
            for (size_t p = 0; p < ks; p++)
                for (size_t r = 0; r < t->mr; r++)
                    ind[p * t->mr + r] =
                        null_tap(t, m0, p) ? NULL : x.data + pick[(m0 + (r < mr ? r : mr - 1)) * ks + p] * kc;
            t->igemm(mr, nc, kc, ks, ind, wp, c + m0 * c_stride + n0, c_stride, act);
        }
    }
    for (size_t i = 0; i < M && failures < 20; i++)
        for (size_t j = 0; j < c_stride; j++) {
            float got = c[i * c_stride + j];
            int ok;
            double sum = 0.0, mag = 0.0;
            if (j < N) {
                sum = bias[j], mag = fabs(bias[j]);
                for (size_t p = 0; p < ks; p++) {
                    if (indirect && null_tap(t, i / t->mr * t->mr, p)) continue;
                    const float* row = x.data + pick[i * ks + p] * kc;
                    for (size_t k = 0; k < kc; k++) {
                        double term = (double)row[k] * (double)w[j * K + p * kc + k];
                        sum += term, mag += fabs(term);
                    }
                }
                ok = close_to(got, sum, mag, act);
            } else {
                ok = got == SENTINEL;
            }
            if (!ok) {
                printf("FAIL %s %s M=%zu N=%zu kc=%zu ks=%zu act=%u: c[%zu][%zu] = %.9g, want %.9g\n", t->name,
                       indirect ? "igemm" : "gemm", M, N, kc, ks, act->kind, i, j, (double)got,
                       j < N ? (double)nrt_activation_apply(act, (float)sum) : (double)SENTINEL);
                failures++;
                break;
            }
        }
    guarded_free(&x);
    free(w), free(bias), free(c), free(ind), free(pick), free(packed);
}

static int run_gemm_cases(const nrt_gemm_table* t) {
    static const size_t kcs[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33, 100};
    size_t ns[] = {1, 3, t->nr / 2, t->nr - 1, t->nr, t->nr + 1, 2 * t->nr + 5};
    size_t ms[] = {1, 2, 3, 4, 5, t->mr - 1, t->mr, t->mr + 1, 2 * t->mr + 3};
    int cases = 0;
    for (size_t a = 0; a < sizeof kcs / sizeof *kcs; a++)
        for (size_t b = 0; b < sizeof ns / sizeof *ns; b++)
            for (size_t d = 0; d < sizeof ms / sizeof *ms; d++) {
                if (!ns[b] || !ms[d]) continue;
                const nrt_activation* act = &ACTS[(a + b + d) % N_ACTS];
                check_gemm(t, ms[d], ns[b], kcs[a], 1, false, act), cases++;
                check_gemm(t, ms[d], ns[b], kcs[a], 1 + (a + d) % 3 * 3, true, act), cases++;
            }
    return cases;
}

/* ---- depthwise: npix output pixels of one row, stride 1, every tap inside the input ---- */

static void check_dwconv(const nrt_kernels* k, size_t C, size_t kh, size_t kw, size_t dil, size_t npix,
                         const nrt_activation* act, bool row) {
    const nrt_dwconv_table* t = k->f32_dwconv;
    size_t taps = kh * kw, W = npix + (kw - 1) * dil, H = (kh - 1) * dil + 1;
    float* w = malloc(C * taps * sizeof(float));
    float* bias = malloc(C * sizeof(float));
    float* y = malloc((npix * C + 4) * sizeof(float));
    const void** ind = malloc(npix * taps * sizeof *ind);
    void* packed = packed_alloc(nrt_dwconv_packed_bytes(t, C, taps));
    guarded x = guarded_alloc(H * W * C); /* the last tap of the last pixel ends at the guard */
    if (!w || !bias || !y || !ind) {
        printf("out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < C * taps; i++) w[i] = frand();
    for (size_t j = 0; j < C; j++) bias[j] = frand();
    nrt_dwconv_weights pw = {C, kh, kw, 0, kh, w, bias, NULL, 0};
    t->format->pack(t, &pw, packed);
    for (size_t i = 0; i < npix * C + 4; i++) y[i] = SENTINEL;
    const void* rows[8];
    for (size_t ky = 0; ky < kh; ky++) rows[ky] = x.data + ky * dil * W * C;
    if (row) {
        t->row(C, npix, kh, kw, rows, C, dil * C, packed, y, act);
    } else {
        for (size_t p = 0; p < npix; p++)
            for (size_t tp = 0; tp < taps; tp++)
                ind[p * taps + tp] = (const float*)rows[tp / kw] + (p + tp % kw * dil) * C;
        t->run(C, npix, taps, ind, packed, y, C, act);
    }
    for (size_t p = 0; p < npix && failures < 20; p++)
        for (size_t ch = 0; ch < C + (p == npix - 1 ? 4 : 0); ch++) {
            float got = y[p * C + ch];
            int ok;
            double sum = 0.0, mag = 0.0;
            if (ch < C) {
                sum = bias[ch], mag = fabs(bias[ch]);
                for (size_t ky = 0; ky < kh; ky++)
                    for (size_t kx = 0; kx < kw; kx++) {
                        double term = (double)x.data[((ky * dil) * W + p + kx * dil) * C + ch] *
                                      (double)w[ch * taps + ky * kw + kx];
                        sum += term, mag += fabs(term);
                    }
                ok = close_to(got, sum, mag, act);
            } else {
                ok = got == SENTINEL;
            }
            if (!ok) {
                printf("FAIL %s %s C=%zu k=%zux%zu dil=%zu npix=%zu act=%u: y[%zu][%zu] = %.9g\n", t->name,
                       row ? "row" : "run", C, kh, kw, dil, npix, act->kind, p, ch, (double)got);
                failures++;
                break;
            }
        }
    guarded_free(&x);
    free(w), free(bias), free(y), free(ind), free(packed);
}

static int run_dwconv_cases(const nrt_kernels* k) {
    const nrt_dwconv_table* t = k->f32_dwconv;
    size_t cs[] = {2, 3, 4, 5, t->cw - 1, t->cw, t->cw + 1, t->cw + 4, 2 * t->cw + 3, 70};
    static const size_t ks[][3] = {{1, 1, 1}, {3, 3, 1}, {3, 3, 2}, {5, 5, 1}, {1, 3, 1}};
    int cases = 0;
    for (size_t a = 0; a < sizeof cs / sizeof *cs; a++)
        for (size_t b = 0; b < sizeof ks / sizeof *ks; b++)
            for (size_t npix = 1; npix <= 9; npix += 2) {
                const nrt_activation* act = &ACTS[(a + b + npix) % N_ACTS];
                check_dwconv(k, cs[a], ks[b][0], ks[b][1], ks[b][2], npix, act, false), cases++;
                if (t->row) check_dwconv(k, cs[a], ks[b][0], ks[b][1], ks[b][2], npix, act, true), cases++;
            }
    return cases;
}

/* ---- vector kernels ---- */

static const size_t LENGTHS[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 257};
#define N_LENGTHS (sizeof LENGTHS / sizeof *LENGTHS)

static float ref_binary(int op, float a, float b) {
    switch (op) {
    case NRT_F32_VADD: return a + b;
    case NRT_F32_VSUB: return a - b;
    case NRT_F32_VMUL: return a * b;
    case NRT_F32_VDIV: return a / b;
    case NRT_F32_VMIN: return a != a || b != b ? NAN : (a < b ? a : b);
    case NRT_F32_VMAX: return a != a || b != b ? NAN : (a > b ? a : b);
    default: return a > 0 ? a : a * b; /* PRelu */
    }
}

static int run_vbinary_cases(const char* name, const nrt_f32_vbinary_ukernel* binary) {
    float y[300];
    int cases = 0;
    for (size_t i = 0; i < N_LENGTHS && failures < 20; i++) {
        size_t n = LENGTHS[i];
        for (int op = 0; op < NRT_F32_VOP_COUNT; op++)
            for (int mode = 0; mode < 3; mode++) {
                guarded ga = guarded_alloc(n), gb = guarded_alloc(n);
                if (n > 2) ga.data[1] = NAN, gb.data[2] = NAN; /* Min / Max propagate NaN */
                for (size_t j = 0; j < n + 4; j++) y[j] = SENTINEL;
                /* a single operand is the last float before the guard */
                const float* pa = mode == NRT_BIN_SV ? ga.data + n - 1 : ga.data;
                const float* pb = mode == NRT_BIN_VS ? gb.data + n - 1 : gb.data;
                binary[op](n, pa, pb, y, mode);
                for (size_t j = 0; j < n + 4; j++) {
                    float want = SENTINEL;
                    if (j < n) want = ref_binary(op, pa[mode == NRT_BIN_SV ? 0 : j], pb[mode == NRT_BIN_VS ? 0 : j]);
                    if (memcmp(&want, &y[j], 4) != 0 && !(want != want && y[j] != y[j])) {
                        printf("FAIL %s op %d mode %d n=%zu: y[%zu] = %.9g, want %.9g\n", name, op, mode, n, j,
                               (double)y[j], (double)want);
                        failures++;
                        break;
                    }
                }
                guarded_free(&ga), guarded_free(&gb);
                cases++;
            }
    }
    return cases;
}

static int run_vact_cases(const char* name, nrt_f32_vact_ukernel act) {
    float y[300], a[300];
    int cases = 0;
    for (size_t i = 0; i < N_LENGTHS && failures < 20; i++) {
        size_t n = LENGTHS[i];
        for (size_t k = 0; k < N_ACTS; k++) {
            guarded gx = guarded_alloc(n);
            for (size_t j = 0; j < n; j++) gx.data[j] *= 8.0f, a[j] = gx.data[j];
            for (size_t j = 0; j < n + 4; j++) y[j] = SENTINEL;
            act(&ACTS[k], gx.data, y, n);
            for (size_t j = 0; j < n + 4; j++) {
                int ok = j < n ? close_to(y[j], (double)a[j], 0.0, &ACTS[k]) : y[j] == SENTINEL;
                if (!ok) {
                    printf("FAIL %s act %u n=%zu: y[%zu] = %.9g for x = %.9g\n", name, ACTS[k].kind, n, j,
                           (double)y[j], (double)a[j]);
                    failures++;
                    break;
                }
            }
            guarded_free(&gx);
            cases++;
        }
    }
    return cases;
}

static int run_vsum_rows_cases(const char* name, nrt_f32_vsum_rows_ukernel sum_rows) {
    float y[300];
    int cases = 0;
    for (size_t i = 0; i < N_LENGTHS && failures < 20; i++) {
        size_t n = LENGTHS[i], rows = 1 + n % 7, stride = n + 3;
        guarded gs = guarded_alloc((rows - 1) * stride + n);
        for (size_t j = 0; j < n + 4; j++) y[j] = SENTINEL;
        sum_rows(gs.data, rows, n, stride, 0.25f, y);
        for (size_t j = 0; j < n + 4; j++) {
            double sum = 0.0, mag = 0.0;
            for (size_t p = 0; j < n && p < rows; p++) {
                sum += gs.data[p * stride + j];
                mag += fabs(gs.data[p * stride + j]);
            }
            int ok = j < n ? fabs((double)y[j] - 0.25 * sum) <= 1e-6 * (mag + 1.0) : y[j] == SENTINEL;
            if (!ok) {
                printf("FAIL %s sum_rows rows=%zu n=%zu: y[%zu] = %.9g\n", name, rows, n, j, (double)y[j]);
                failures++;
                break;
            }
        }
        guarded_free(&gs);
        cases++;
    }
    return cases;
}

/* Softmax / LogSoftmax rows against the reference op (kernels/ref/softmax_ref.h), within a few ulp. */
static int run_vsoftmax_cases(const char* name, nrt_f32_vsoftmax_ukernel softmax) {
    float y[300], want[300];
    int cases = 0;
    for (size_t i = 0; i < N_LENGTHS && failures < 20; i++)
        for (int log_softmax = 0; log_softmax < 2; log_softmax++) {
            size_t n = LENGTHS[i];
            guarded gx = guarded_alloc(n);
            for (size_t j = 0; j < n; j++) gx.data[j] *= 30.0f;
            for (size_t j = 0; j < n + 4; j++) y[j] = SENTINEL;
            softmax(log_softmax, gx.data, y, n);
            nrt_softmax_f32_ref(log_softmax ? NRT_LOG_SOFTMAX : NRT_SOFTMAX, gx.data, want, 0, 1, (int64_t)n, 1);
            for (size_t j = 0; j < n + 4; j++) {
                int ok = j < n ? fabsf(y[j] - want[j]) <= 4e-6f * (fabsf(want[j]) + (log_softmax ? 1.0f : 1e-3f))
                               : y[j] == SENTINEL;
                if (!ok) {
                    printf("FAIL %s softmax log=%d n=%zu: y[%zu] = %.9g, want %.9g\n", name, log_softmax, n, j,
                           (double)y[j], (double)want[j]);
                    failures++;
                    break;
                }
            }
            guarded_free(&gx);
            cases++;
        }
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
        if (k->f32_gemm) printf("%s: %d cases\n", k->f32_gemm->name, run_gemm_cases(k->f32_gemm));
        if (k->f32_dwconv) printf("%s: %d cases\n", k->f32_dwconv->name, run_dwconv_cases(k));
        if (k->f32_vbinary) printf("%s f32_vbinary: %d cases\n", level, run_vbinary_cases(level, k->f32_vbinary));
        if (k->f32_vact) printf("%s f32_vact: %d cases\n", level, run_vact_cases(level, k->f32_vact));
        if (k->f32_vsum_rows)
            printf("%s f32_vsum_rows: %d cases\n", level, run_vsum_rows_cases(level, k->f32_vsum_rows));
        if (k->f32_vsoftmax)
            printf("%s f32_vsoftmax: %d cases\n", level, run_vsoftmax_cases(level, k->f32_vsoftmax));
    }
    printf("%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
