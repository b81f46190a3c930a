#include "f32_gemm.h"

/* A thread's share should be worth at least this many multiply-adds (about
 * 3 us on a Zen 4 core: float at ~40, int8 at ~150 GMAC/s in small convs):
 * handing a share to another thread costs ~1 us (cache lines of the job and
 * of the data moving between cores), so smaller shares lose time. */
#define MIN_CHUNK_MACS 131072.0
#define MIN_CHUNK_MACS_S8 524288.0
/* Packed weights up to this size stay in a core's L2 across row tiles; larger
 * ones are walked in column blocks of BLOCK_BYTES with the row tiles inside. */
#define L2_WEIGHT_BYTES (512u << 10)
#define BLOCK_BYTES (128u << 10)

size_t nrt_f32_gemm_packed_floats(const nrt_f32_gemm_table* t, size_t n, size_t k) {
    size_t panels = (n + t->nr - 1) / t->nr;
    return panels * t->nr * (1 + k);
}

void nrt_f32_gemm_pack(const nrt_f32_gemm_table* t, size_t n, size_t k, const float* w, size_t stride_n,
                       size_t stride_k, const float* bias, float* packed) {
    size_t nr = t->nr;
    for (size_t n0 = 0; n0 < n; n0 += nr) {
        size_t nc = n - n0 < nr ? n - n0 : nr;
        for (size_t j = 0; j < nr; j++) *packed++ = j < nc && bias ? bias[n0 + j] : 0.0f;
        for (size_t kk = 0; kk < k; kk++)
            for (size_t j = 0; j < nr; j++) *packed++ = j < nc ? w[(n0 + j) * stride_n + kk * stride_k] : 0.0f;
    }
}

static size_t grain(double min_chunk, double work) {
    double g = min_chunk / (work > 1.0 ? work : 1.0);
    return g < 1.0 ? 1 : (size_t)g + 1;
}

size_t nrt_f32_grain(size_t tasks, double work) {
    (void)tasks;
    return grain(MIN_CHUNK_MACS, work);
}

size_t nrt_s8_grain(size_t tasks, double work) {
    (void)tasks;
    return grain(MIN_CHUNK_MACS_S8, work);
}

size_t nrt_f32_column_split(const nrt_threads* threads, size_t m_tasks, size_t panels) {
    size_t want = 4 * (size_t)threads->count;
    if (want <= 4 || m_tasks >= want || panels < 2) return 1;
    size_t split = (want + m_tasks - 1) / m_tasks;
    return split < panels ? split : panels;
}

typedef struct gemm_job {
    const nrt_f32_gemm_table* t;
    const nrt_f32_gemm_args* g;
    size_t m_tiles, panels, n_blocks, block_panels;
    bool m_inner; /* task order: row tiles inside column blocks */
} gemm_job;

static void gemm_task(void* arg, size_t begin, size_t end) {
    const gemm_job* j = arg;
    const nrt_f32_gemm_args* g = j->g;
    size_t mr_max = j->t->mr, nr = j->t->nr, panel = nr * (1 + g->K);
    size_t per_batch = j->m_tiles * j->n_blocks;
    for (size_t task = begin; task < end; task++) {
        size_t b = task / per_batch, r = task % per_batch;
        size_t mt = j->m_inner ? r % j->m_tiles : r / j->n_blocks;
        size_t nb = j->m_inner ? r / j->m_tiles : r % j->n_blocks;
        size_t m0 = mt * mr_max, mr = g->M - m0 < mr_max ? g->M - m0 : mr_max;
        const float* a = g->a + (g->a_offset ? g->a_offset[b] : 0) + m0 * g->lda;
        const float* w = g->packed + b * g->packed_stride;
        float* c = g->c + (b * g->M + m0) * g->ldc;
        size_t p1 = (nb + 1) * j->block_panels < j->panels ? (nb + 1) * j->block_panels : j->panels;
        for (size_t p = nb * j->block_panels; p < p1; p++) {
            size_t n0 = p * nr, nc = g->N - n0 < nr ? g->N - n0 : nr;
            j->t->gemm(mr, nc, g->K, a, g->lda, w + p * panel, c + n0, g->ldc, g->act);
        }
    }
}

void nrt_f32_gemm_run(const nrt_threads* threads, const nrt_f32_gemm_table* t, const nrt_f32_gemm_args* g) {
    if (g->M == 0 || g->N == 0 || g->batch == 0) return;
    gemm_job j = {t, g, (g->M + t->mr - 1) / t->mr, (g->N + t->nr - 1) / t->nr, 1, 1, false};
    size_t panel_bytes = t->nr * (1 + g->K) * sizeof(float);
    if (j.panels * panel_bytes > L2_WEIGHT_BYTES && j.m_tiles > 1) {
        j.block_panels = BLOCK_BYTES / panel_bytes ? BLOCK_BYTES / panel_bytes : 1;
        j.m_inner = true;
    } else {
        size_t split = nrt_f32_column_split(threads, j.m_tiles * g->batch, j.panels);
        j.block_panels = (j.panels + split - 1) / split;
    }
    j.n_blocks = (j.panels + j.block_panels - 1) / j.block_panels;
    size_t tasks = g->batch * j.m_tiles * j.n_blocks;
    double rows = (double)(g->M < t->mr ? g->M : t->mr);
    double work = rows * (double)(j.block_panels * t->nr) * (double)g->K;
    nrt_threads_run(threads, tasks, nrt_f32_grain(tasks, work), gemm_task, &j);
}
