/* The sparse int8 GEMM microkernels (qs8-qc8w-spmm-*) against the dense ones
 * (qs8-qc8w-gemm-*) of the same x86 level, called through the GEMM driver at
 * 1 thread with no model around them: the numbers behind the cost model in
 * native/src/ops/sparse_weights.c (sparse over dense time per layer shape and
 * 1x4-block density). Both sides int8; outputs compared byte for byte.
 *
 *   cmake -S native -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build --target nanort_static
 *   cc -O2 -Inative/src -Inative/include bench/spmm_kernels.c build/libnanort.a -lm -pthread -o spmm_kernels
 *   ./spmm_kernels [M K N ...]     (default: the 8 layer shapes of the fit; needs AVX-512 VNNI for that level)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/gemm.h"
#include "kernels/isa.h"
#include "kernels/qs8_kernels.h"
#include "kernels/threads.h"

extern const nrt_gemm_table nrt_qs8_qc8w_gemm_12x32c4_minmax_fp32_avx512vnni, nrt_qs8_qc8w_gemm_4x8c4_minmax_fp32_avx2,
    nrt_qs8_qc8w_spmm_64x1c4_minmax_fp32_avx512vnni, nrt_qs8_qc8w_spmm_32x1c4_minmax_fp32_avx2;

enum { RUNS = 31 };

static void serial(void* pool, size_t n, size_t grain, nrt_task_fn fn, void* arg) {
    (void)pool, (void)grain;
    fn(arg, 0, n);
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int by_value(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return x < y ? -1 : x > y;
}

static void* packed_for(const nrt_gemm_table* t, const nrt_gemm_weights* w) {
    size_t bytes = nrt_gemm_weights_bytes(t, w);
    void* p = aligned_alloc(NRT_PACK_ALIGN, (bytes + NRT_PACK_ALIGN) / NRT_PACK_ALIGN * NRT_PACK_ALIGN);
    if (!p) exit(2);
    nrt_gemm_pack(t, w, p);
    return p;
}

/* Median ms of dense and sparse (interleaved), and whether they wrote the same bytes. */
static void compare(const nrt_gemm_table* dense, const nrt_gemm_table* sparse, size_t M, size_t K, size_t N,
                    double density) {
    int8_t* a = malloc(M * K);
    int8_t* w = malloc(N * K);
    int32_t* bias = malloc(N * sizeof(int32_t));
    float* m = malloc(N * sizeof(float));
    int8_t* c[2] = {malloc(M * N), malloc(M * N)};
    if (!a || !w || !bias || !m || !c[0] || !c[1]) exit(2);
    for (size_t i = 0; i < M * K; i++) a[i] = (int8_t)rand();
    for (size_t i = 0; i < N * K; i += 4) {
        bool kept = (double)(rand() % 10000) < density * 10000.0;
        for (size_t j = 0; j < 4; j++) w[i + j] = kept ? (int8_t)(rand() % 255 - 127) : 0;
    }
    for (size_t j = 0; j < N; j++) bias[j] = rand() % 2000 - 1000, m[j] = 0.0005f + (float)(rand() % 100) * 1e-5f;
    nrt_gemm_weights pw = {N, K, 1, w, K, 0, 1, bias, m, 0, 0};
    const nrt_gemm_table* tables[2] = {dense, sparse};
    void* packed[2] = {packed_for(dense, &pw), packed_for(sparse, &pw)};
    nrt_threads one = {serial, NULL, 1};
    nrt_qs8_requant rq = nrt_qs8_requant_make(-2, -128, 127);
    rq.int_clamp = true;
    double ms[2][RUNS];
    for (int r = -3; r < RUNS; r++)
        for (int v = 0; v < 2; v++) {
            nrt_gemm_args g = {M, N, K, 1, a, K, NULL, packed[v], 0, c[v], N, &rq};
            double t0 = now_ms();
            nrt_gemm_run(&one, tables[v], &g);
            if (r >= 0) ms[v][r] = now_ms() - t0;
        }
    for (int v = 0; v < 2; v++) qsort(ms[v], RUNS, sizeof(double), by_value);
    double d = ms[0][RUNS / 2], s = ms[1][RUNS / 2];
    printf("| %s | %zu | %zu | %zu | %.0f%% | %.4f | %.4f | %.2f | %s |\n", sparse->name, M, K, N,
           100.0 * (1.0 - density), d, s, s / d, memcmp(c[0], c[1], M * N) ? "NO" : "yes");
    free(a), free(w), free(bias), free(m), free(c[0]), free(c[1]), free(packed[0]), free(packed[1]);
}

int main(int argc, char** argv) {
    static const size_t fit[][3] = {{25600, 96, 24}, {784, 256, 256}, {6400, 32, 96}, {1600, 512, 128},
                                    {6400, 144, 24}, {784, 1024, 64}, {25600, 16, 96}, {3136, 64, 256}};
    static const double densities[] = {1.0, 0.5, 0.25, 0.1};
    size_t shapes = argc > 1 ? (size_t)(argc - 1) / 3 : sizeof fit / sizeof *fit;
    srand(3);
    printf("| sparse kernel | M | K | N | sparsity | dense ms | sparse ms | sparse / dense | same |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < shapes; i++) {
        size_t M = argc > 1 ? strtoul(argv[1 + 3 * i], NULL, 10) : fit[i][0];
        size_t K = argc > 1 ? strtoul(argv[2 + 3 * i], NULL, 10) : fit[i][1];
        size_t N = argc > 1 ? strtoul(argv[3 + 3 * i], NULL, 10) : fit[i][2];
        for (size_t d = 0; d < sizeof densities / sizeof *densities; d++) {
            if (nrt_isa_supported(NRT_ISA_AVX512, nrt_cpu_features()))
                compare(&nrt_qs8_qc8w_gemm_12x32c4_minmax_fp32_avx512vnni,
                        &nrt_qs8_qc8w_spmm_64x1c4_minmax_fp32_avx512vnni, M, K, N, densities[d]);
            if (nrt_isa_supported(NRT_ISA_AVX2, nrt_cpu_features()))
                compare(&nrt_qs8_qc8w_gemm_4x8c4_minmax_fp32_avx2, &nrt_qs8_qc8w_spmm_32x1c4_minmax_fp32_avx2, M, K,
                        N, densities[d]);
        }
    }
    return 0;
}
