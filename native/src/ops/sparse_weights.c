#include "sparse_weights.h"

#include <stdlib.h>
#include <string.h>

#include "../engine/sparse.h"

/* Time of the reference sparse kernel per kept weight over the level's dense
 * kernel's per weight, for blocks of 1x4 (bench/sparse_kernels.py on x86,
 * 1x1 convs of 96 -> 24 and 256 -> 256 channels; the ARM levels are assumed
 * like AVX2, untimed: qemu timings mean nothing). Smaller blocks cost more
 * per kept weight (their indices and column jumps), larger ones less. */
static double relative_cost(nrt_isa isa, bool int8) {
    switch (isa) {
    case NRT_ISA_REF: return int8 ? 5.0 : 8.0;
    case NRT_ISA_AVX2:
    case NRT_ISA_NEON:
    case NRT_ISA_DOTPROD: return int8 ? 100.0 : 40.0;
    default: return int8 ? 250.0 : 60.0;
    }
}

static bool sparse_pays(nrt_isa isa, const nrt_sparse* s, bool int8) {
    const char* force = getenv("NANORT_SPARSE");
    if (force && !strcmp(force, "sparse")) return true;
    if (force && !strcmp(force, "dense")) return false;
    double block_factor = (1.0 + 2.0 / (double)(s->bn * s->bk)) / 1.5; /* 1 for 1x4 blocks */
    return nrt_sparse_density(s) * relative_cost(isa, int8) * block_factor < NRT_SPARSE_PAYS;
}

static size_t align8(size_t n) { return (n + 7) / 8 * 8; }

static size_t csr_bytes(const nrt_sparse* s) {
    return align8(sizeof(int32_t) * (size_t)(s->rows / s->bn + 1)) + align8(sizeof(int32_t) * (size_t)s->kept) +
           (size_t)s->kept * (size_t)(s->bn * s->bk) * s->elem_size;
}

size_t nrt_sparse_gemm_bytes(nrt_ctx* ctx, const nrt_tensor* w) {
    if (!w || !w->sparse || (w->dtype != NRT_INT8 && w->dtype != NRT_FLOAT32)) return 0;
    return sparse_pays(ctx->model->isa, w->sparse, w->dtype == NRT_INT8) ? csr_bytes(w->sparse) : 0;
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

void nrt_sparse_gemm_build(nrt_ctx* ctx, nrt_tensor* w, void* mem, nrt_bcsr* out) {
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
    w->sparse_claims++;
    ctx->model->packed_weight_bytes += csr_bytes(s);
}
