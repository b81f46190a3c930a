/* The GEMM driver of gemm.h: tiles, column blocks and threads, for every
 * element type (the table's format gives the sizes). */
#include "gemm.h"

size_t nrt_task_grain(double task_macs, double work) {
    double g = task_macs / (work > 1.0 ? work : 1.0);
    return g < 1.0 ? 1 : (size_t)g + 1;
}

size_t nrt_column_split(const nrt_threads* threads, size_t m_tasks, size_t panels) {
    size_t want = 4 * (size_t)threads->count;
    if (want <= 4 || m_tasks >= want || panels < 2) return 1;
    size_t split = (want + m_tasks - 1) / m_tasks;
    return split < panels ? split : panels;
}

typedef struct gemm_job {
    const nrt_gemm_table* t;
    const nrt_gemm_args* g;
    size_t m_tiles, panels, n_blocks, block_panels, panel_bytes;
    bool m_inner; /* task order: row tiles inside column blocks */
} gemm_job;

static void gemm_task(void* arg, size_t begin, size_t end) {
    const gemm_job* j = arg;
    const nrt_gemm_args* g = j->g;
    size_t mr_max = j->t->mr, nr = j->t->nr, per_batch = j->m_tiles * j->n_blocks;
    size_t as = j->t->format->a_bytes, cs = j->t->format->c_bytes;
    for (size_t task = begin; task < end; task++) {
        size_t b = task / per_batch, r = task % per_batch;
        size_t mt = j->m_inner ? r % j->m_tiles : r / j->n_blocks;
        size_t nb = j->m_inner ? r / j->m_tiles : r % j->n_blocks;
        size_t m0 = mt * mr_max, mr = g->M - m0 < mr_max ? g->M - m0 : mr_max;
        const uint8_t* a = (const uint8_t*)g->a + ((size_t)(g->a_offset ? g->a_offset[b] : 0) + m0 * g->lda) * as;
        const uint8_t* w = (const uint8_t*)g->packed + b * g->packed_stride;
        uint8_t* c = (uint8_t*)g->c + (b * g->M + m0) * g->ldc * cs;
        size_t p1 = (nb + 1) * j->block_panels < j->panels ? (nb + 1) * j->block_panels : j->panels;
        for (size_t p = nb * j->block_panels; p < p1; p++) {
            size_t n0 = p * nr, nc = g->N - n0 < nr ? g->N - n0 : nr;
            j->t->gemm(mr, nc, g->K, a, g->lda, w + p * j->panel_bytes, c + n0 * cs, g->ldc, g->params);
        }
    }
}

void nrt_gemm_run(const nrt_threads* threads, const nrt_gemm_table* t, const nrt_gemm_args* g) {
    if (g->M == 0 || g->N == 0 || g->batch == 0) return;
    gemm_job j = {t, g, (g->M + t->mr - 1) / t->mr, (g->N + t->nr - 1) / t->nr, 1, 1,
                  nrt_gemm_panel_bytes(t, g->K, 1), false};
    if (j.panels * j.panel_bytes > NRT_GEMM_L2_WEIGHT_BYTES && j.m_tiles > 1) {
        j.block_panels = NRT_GEMM_BLOCK_BYTES / j.panel_bytes ? NRT_GEMM_BLOCK_BYTES / j.panel_bytes : 1;
        j.m_inner = true;
    } else {
        size_t split = nrt_column_split(threads, j.m_tiles * g->batch, j.panels);
        j.block_panels = (j.panels + split - 1) / split;
    }
    j.n_blocks = (j.panels + j.block_panels - 1) / j.block_panels;
    size_t tasks = g->batch * j.m_tiles * j.n_blocks;
    double rows = (double)(g->M < t->mr ? g->M : t->mr);
    double work = rows * (double)(j.block_panels * t->nr) * (double)(g->K ? g->K : 1);
    nrt_threads_run(threads, tasks, nrt_task_grain(t->format->task_macs, work), gemm_task, &j);
}
