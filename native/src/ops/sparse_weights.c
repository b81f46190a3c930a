#include "sparse_weights.h"

#include <stdlib.h>
#include <string.h>

#include "../engine/sparse.h"

/* A SIMD sparse int8 kernel's time over its level's dense int8 kernel's on a
 * layer of K inputs and N outputs (1x1 conv or FullyConnected on 4+ rows):
 * fixed shares, the transpose of A (per row ~K, against the dense kernel's
 * ~K x N: a share ~1 / N) and the requantization and transpose of C (~N:
 * ~1 / K), plus a share per kept block that grows with K (a call's
 * transposed rows, 64 x K bytes, leave L1 past K ~ 512). Least-squares fit
 * to the kernels called directly at 1 thread on 8 layer shapes of real
 * models (K 16-1024, N 24-256) at 50 / 75 / 90 % block sparsity, Zen 4
 * (bench/sparse_results.md); within +-0.05 of the measured ratio between
 * 0.5 and 1. */
typedef struct spmm_fit {
    double base, per_inv_n, per_inv_k, per_density, per_density_k1024;
} spmm_fit;

static const spmm_fit AVX512_FIT = {0.05, 4.8, 6.9, 0.91, 0.72};
static const spmm_fit AVX2_FIT = {0.06, 2.3, 3.5, 0.56, 0.24}; /* its dense kernel is 4x slower, its sparse 2.5x */

static double fitted(const spmm_fit* f, double density, int64_t n, int64_t k) {
    return f->base + f->per_inv_n / (double)n + f->per_inv_k / (double)k +
           density * (f->per_density + f->per_density_k1024 * (double)k / 1024.0);
}

/* The relative time of the sparse kernel: on 1-3 rows (a FullyConnected on
 * one input) the SIMD kernels gather their activations and stay slower than
 * dense even at 90 % (FC 1024 -> 1000: 0.5x / 0.8x at 75 / 90 % on
 * AVX-512, 0.25x / 0.5x on AVX2). A level without its own sparse kernel
 * runs the reference one, far slower than its SIMD dense kernels: never
 * worth it there. The ARM levels are untimed (qemu timings mean nothing):
 * AVX-512's figures, the more cautious ones. */
static double relative_time(const nrt_kernels* k, bool int8, double density, int64_t rows, int64_t n,
                            int64_t kdim) {
    if (!int8) return ((int)k->f32_gemm->isa == NRT_ISA_REF ? 8.0 : 60.0) * density;
    int spmm = (int)k->qs8_spmm->isa;
    if (spmm == NRT_ISA_REF) return ((int)k->qs8_gemm->isa == NRT_ISA_REF ? 5.0 : 250.0) * density;
    if (spmm == NRT_ISA_AVX2) return rows < 4 ? 1.3 + 5.3 * density : fitted(&AVX2_FIT, density, n, kdim);
    return rows < 4 ? 0.6 + 6.0 * density : fitted(&AVX512_FIT, density, n, kdim);
}

static const char* forced(void) { return getenv("NANORT_SPARSE"); }

static bool pays(nrt_ctx* ctx, double density, bool int8, int64_t rows, int64_t n, int64_t k) {
    const char* force = forced();
    if (force && !strcmp(force, "sparse")) return true;
    if (force && !strcmp(force, "dense")) return false;
    return relative_time(nrt_kernels_of(ctx), int8, density, rows, n, k) < NRT_SPARSE_PAYS;
}

/* The fraction of 1 x 4 blocks (4 consecutive k of a row) holding a nonzero. */
static double block_density(const int8_t* w, int64_t n, int64_t k) {
    int64_t kept = 0;
    for (int64_t j = 0; j < n; j++)
        for (int64_t kb = 0; kb < k; kb += 4)
            kept += (w[j * k + kb] | w[j * k + kb + 1] | w[j * k + kb + 2] | w[j * k + kb + 3]) != 0;
    return n && k ? (double)kept / (double)(n * (k / 4)) : 1.0;
}

const nrt_gemm_table* nrt_sparse_qs8_table(nrt_ctx* ctx, const nrt_tensor* w, int64_t k, int64_t rows) {
    if (!w || !w->sparse || !w->data || w->dtype != NRT_INT8 || k < 4 || k % 4 || k > NRT_SPMM_MAX_K) return NULL;
    int64_t n = nrt_numel(w) / k;
    return pays(ctx, block_density(w->data, n, k), true, rows, n, k) ? nrt_kernels_of(ctx)->qs8_spmm : NULL;
}

void nrt_sparse_claim(nrt_tensor* w) { w->sparse_claims++; }

static size_t align8(size_t n) { return (n + 7) / 8 * 8; }

static size_t csr_bytes(const nrt_sparse* s) {
    return align8(sizeof(int32_t) * (size_t)(s->rows / s->bn + 1)) + align8(sizeof(int32_t) * (size_t)s->kept) +
           (size_t)s->kept * (size_t)(s->bn * s->bk) * s->elem_size;
}

size_t nrt_sparse_f32_bytes(nrt_ctx* ctx, const nrt_tensor* w) {
    if (!w || !w->sparse || w->dtype != NRT_FLOAT32) return 0;
    double block_factor = (1.0 + 2.0 / (double)(w->sparse->bn * w->sparse->bk)) / 1.5; /* 1 for 1x4 blocks */
    return pays(ctx, nrt_sparse_density(w->sparse) * block_factor, false, 0, 0, 0) ? csr_bytes(w->sparse) : 0;
}

typedef struct build_job {
    int32_t* indptr;
    int32_t* col;
    uint8_t* values;
    size_t block_bytes;
    int64_t next;
} build_job;

static void add_block(void* arg, int64_t block_row, int64_t block_col, const uint8_t* values) {
    build_job* j = arg;
    j->col[j->next] = (int32_t)block_col;
    memcpy(j->values + (size_t)j->next * j->block_bytes, values, j->block_bytes);
    j->indptr[block_row + 1] = (int32_t)++j->next; /* rows come in order: gaps filled below */
}

void nrt_sparse_f32_build(nrt_ctx* ctx, nrt_tensor* w, void* mem, nrt_bcsr* out) {
    const nrt_sparse* s = w->sparse;
    int64_t block_rows = s->rows / s->bn;
    uint8_t* p = mem;
    build_job j = {(int32_t*)(void*)p, NULL, NULL, (size_t)(s->bn * s->bk) * s->elem_size, 0};
    p += align8(sizeof(int32_t) * (size_t)(block_rows + 1));
    j.col = (int32_t*)(void*)p;
    j.values = p + align8(sizeof(int32_t) * (size_t)s->kept);
    for (int64_t r = 0; r <= block_rows; r++) j.indptr[r] = -1;
    j.indptr[0] = 0;
    nrt_sparse_for_each_block(s, add_block, &j);
    for (int64_t r = 1; r <= block_rows; r++)
        if (j.indptr[r] < 0) j.indptr[r] = j.indptr[r - 1]; /* block rows with nothing kept */
    *out = (nrt_bcsr){s->rows, s->cols, s->bn, s->bk, j.indptr, j.col, j.values};
    nrt_sparse_claim(w);
    ctx->model->packed_weight_bytes += csr_bytes(s);
}
