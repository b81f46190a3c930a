/* Peak arithmetic throughput of this CPU, per core and for N threads:
 * the denominators of bench/suite.py's "% of peak" column.
 *
 *   cc -O3 -pthread bench/peak.c -o peak && ./peak [threads]
 * (-O3: the chain loop must be unrolled so the accumulators stay in registers;
 * at -O2 they live in memory and the loop measures store forwarding instead)
 *
 * Each test runs independent multiply-accumulate chains (more chains than
 * the instruction's latency x issue width, so the loop is throughput-bound)
 * for a fixed iteration count and reports multiply-adds per second: one
 * fp32 FMA lane = 1 FMA; one int8 dot-product lane (vpdpbusd, sdot) = 4 MACs.
 * Prints one line per test: "name threads GOPS", machine-readable. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#include <sys/auxv.h>
#endif

#define ITERS 20000000L
#define CHAINS 12

typedef double (*test_fn)(long iters); /* returns multiply-adds done, keeps results live */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static volatile float sink_f;
static volatile int32_t sink_i;

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static double fma_avx512(long iters) {
    __m512 acc[CHAINS], a = _mm512_set1_ps(1.0000001f), b = _mm512_set1_ps(0.9999999f);
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_set1_ps((float)c);
    for (long i = 0; i < iters; i++)
        for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
    for (int c = 1; c < CHAINS; c++) acc[0] = _mm512_add_ps(acc[0], acc[c]);
    sink_f = _mm512_reduce_add_ps(acc[0]);
    return (double)iters * CHAINS * 16;
}

__attribute__((target("avx2,fma"))) static double fma_avx2(long iters) {
    __m256 acc[CHAINS], a = _mm256_set1_ps(1.0000001f), b = _mm256_set1_ps(0.9999999f);
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_set1_ps((float)c);
    for (long i = 0; i < iters; i++)
        for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
    for (int c = 1; c < CHAINS; c++) acc[0] = _mm256_add_ps(acc[0], acc[c]);
    float out[8];
    _mm256_storeu_ps(out, acc[0]);
    sink_f = out[0];
    return (double)iters * CHAINS * 8;
}

/* vpdpbusd in asm, the accumulator tied: around the intrinsic gcc 12 copies
 * every accumulator in and out of the loop body (24 zmm moves per 12 dot
 * products), which take vector slots on Zen 4 and halved the measured peak. */
__attribute__((target("avx512f,avx512vnni"))) static inline __m512i dpbusd(__m512i acc, __m512i a, __m512i b) {
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
    return acc;
}

__attribute__((target("avx512f,avx512vnni"))) static double dot_avx512vnni(long iters) {
    __m512i acc[CHAINS], a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_set1_epi32(c);
    for (long i = 0; i < iters; i++)
        for (int c = 0; c < CHAINS; c++) acc[c] = dpbusd(acc[c], a, b);
    for (int c = 1; c < CHAINS; c++) acc[0] = _mm512_add_epi32(acc[0], acc[c]);
    sink_i = _mm512_reduce_add_epi32(acc[0]);
    return (double)iters * CHAINS * 64;
}

/* AVX2 without VNNI: int8 widened to int16, vpmaddwd (2 MACs per 32-bit lane)
 * and an add, the exact int8 path nanort's AVX2 kernels can take. */
__attribute__((target("avx2"))) static double dot_avx2_maddwd(long iters) {
    __m256i acc[CHAINS], a = _mm256_set1_epi16(3), b = _mm256_set1_epi16(-2);
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_set1_epi32(c);
    for (long i = 0; i < iters; i++)
        for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_add_epi32(acc[c], _mm256_madd_epi16(a, b));
    for (int c = 1; c < CHAINS; c++) acc[0] = _mm256_add_epi32(acc[0], acc[c]);
    sink_i = _mm256_extract_epi32(acc[0], 0);
    return (double)iters * CHAINS * 16;
}
#elif defined(__aarch64__)
static double fma_neon(long iters) {
    float32x4_t acc[CHAINS], a = vdupq_n_f32(1.0000001f), b = vdupq_n_f32(0.9999999f);
    for (int c = 0; c < CHAINS; c++) acc[c] = vdupq_n_f32((float)c);
    for (long i = 0; i < iters; i++)
        for (int c = 0; c < CHAINS; c++) acc[c] = vfmaq_f32(b, acc[c], a);
    for (int c = 1; c < CHAINS; c++) acc[0] = vaddq_f32(acc[0], acc[c]);
    sink_f = vaddvq_f32(acc[0]);
    return (double)iters * CHAINS * 4;
}

__attribute__((target("arch=armv8.2-a+dotprod"))) static double dot_neon_sdot(long iters) {
    int32x4_t acc[CHAINS];
    int8x16_t a = vdupq_n_s8(3), b = vdupq_n_s8(-2);
    for (int c = 0; c < CHAINS; c++) acc[c] = vdupq_n_s32(c);
    for (long i = 0; i < iters; i++)
        for (int c = 0; c < CHAINS; c++) acc[c] = vdotq_s32(acc[c], a, b);
    for (int c = 1; c < CHAINS; c++) acc[0] = vaddq_s32(acc[0], acc[c]);
    sink_i = vaddvq_s32(acc[0]);
    return (double)iters * CHAINS * 16;
}
#endif

typedef struct test {
    const char* name;
    test_fn fn;
    int supported;
} test;

typedef struct run_arg {
    test_fn fn;
    long iters;
    double ops;
} run_arg;

static void* run_thread(void* p) {
    run_arg* r = p;
    r->ops = r->fn(r->iters);
    return NULL;
}

/* Multiply-adds per second with `threads` threads running the test at once. */
static double measure(test_fn fn, int threads, long iters) {
    pthread_t tid[256];
    run_arg args[256];
    double start = now();
    for (int t = 0; t < threads; t++) {
        args[t] = (run_arg){fn, iters, 0.0};
        if (pthread_create(&tid[t], NULL, run_thread, &args[t]) != 0) return 0.0;
    }
    double ops = 0.0;
    for (int t = 0; t < threads; t++) {
        pthread_join(tid[t], NULL);
        ops += args[t].ops;
    }
    return ops / (now() - start);
}

int main(int argc, char** argv) {
    int max_threads = argc > 1 ? atoi(argv[1]) : 1;
    if (max_threads < 1 || max_threads > 256) {
        fprintf(stderr, "usage: %s [threads (1..256)]\n", argv[0]);
        return 2;
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    test tests[] = {
        {"fp32-fma-avx512", fma_avx512, __builtin_cpu_supports("avx512f")},
        {"fp32-fma-avx2", fma_avx2, __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")},
        {"int8-dot-avx512vnni", dot_avx512vnni,
         __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vnni")},
        {"int8-maddwd-avx2", dot_avx2_maddwd, __builtin_cpu_supports("avx2")},
    };
#elif defined(__aarch64__)
    test tests[] = {
        {"fp32-fma-neon", fma_neon, 1},
        {"int8-sdot-dotprod", dot_neon_sdot, (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0},
    };
#else
    test tests[] = {{"none", NULL, 0}};
#endif
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (!tests[i].supported) continue;
        measure(tests[i].fn, 1, ITERS / 20); /* warm up: clocks ramp, 512-bit units power on */
        for (int threads = 1; threads <= max_threads; threads = threads < max_threads ? max_threads : threads + 1) {
            /* best of 3: a shared machine only ever makes a run slower */
            double best = 0.0;
            for (int rep = 0; rep < 3; rep++) {
                double r = measure(tests[i].fn, threads, ITERS / 4);
                if (r > best) best = r;
            }
            printf("%s %d %.1f\n", tests[i].name, threads, best * 1e-9);
        }
    }
    return 0;
}
