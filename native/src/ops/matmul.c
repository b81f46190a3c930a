/* MatMul (numpy semantics: batched, broadcasting batch dims, 1-D operands)
 * and FullyConnected (y[..., N] = x[..., K] . W[N, K]^T + b[N]), float32,
 * with a fused activation. */
#include "matmul.h"

#include <string.h>

#include "../engine/dtype.h"

#define TILE_M 16  /* rows per task: a multiple of the kernels' row block */

typedef struct gemm_params {
    nrt_activation act;
    bool keep_dims; /* FullyConnected */
} gemm_params;

/* MatMul's batch structure, computed in prepare. */
typedef struct matmul_state {
    int64_t M, N, K, batch;
    int nb;                          /* broadcast batch rank */
    int64_t bdims[NRT_MAX_RANK];
    int64_t a_stride[NRT_MAX_RANK];  /* element offset per batch index step, 0 = broadcast */
    int64_t b_stride[NRT_MAX_RANK];
} matmul_state;

typedef struct gemm_job {
    nrt_gemm_f32 g;        /* batch 0's pointers */
    bool fc;
    const matmul_state* s; /* NULL: a single product */
    int64_t tile_n, tiles_m, tiles_n;
} gemm_job;

static void batch_offsets(const matmul_state* s, int64_t bi, int64_t* ao, int64_t* bo) {
    *ao = *bo = 0;
    for (int d = s->nb - 1; d >= 0; d--) {
        int64_t i = bi % s->bdims[d];
        bi /= s->bdims[d];
        *ao += i * s->a_stride[d];
        *bo += i * s->b_stride[d];
    }
}

static void gemm_range(void* arg, size_t begin, size_t end) {
    const gemm_job* j = arg;
    int64_t per_batch = j->tiles_m * j->tiles_n;
    for (size_t t = begin; t < end; t++) {
        int64_t bi = (int64_t)t / per_batch, r = (int64_t)t % per_batch;
        int64_t m0 = r / j->tiles_n * TILE_M, n0 = r % j->tiles_n * j->tile_n;
        int64_t m1 = m0 + TILE_M < j->g.M ? m0 + TILE_M : j->g.M;
        int64_t n1 = n0 + j->tile_n < j->g.N ? n0 + j->tile_n : j->g.N;
        nrt_gemm_f32 g = j->g;
        if (j->s && bi > 0) {
            int64_t ao, bo;
            batch_offsets(j->s, bi, &ao, &bo);
            g.a += ao;
            g.b += bo;
            g.c += bi * g.M * g.N;
        }
        if (j->fc) nrt_fc_f32_ref(&g, m0, m1, n0, n1);
        else nrt_matmul_f32_ref(&g, m0, m1, n0, n1);
    }
}

/* Splits the columns too when there are too few row tiles to keep every
 * thread busy (M = 1 products, RNN steps). */
static void run_tiles(nrt_ctx* ctx, gemm_job* j, int64_t batch) {
    if (j->g.M == 0 || j->g.N == 0 || batch == 0) return;
    j->tiles_m = (j->g.M + TILE_M - 1) / TILE_M;
    j->tile_n = j->g.N;
    int64_t threads = nrt_num_threads(ctx), row_tasks = j->tiles_m * batch;
    if (threads > 1 && row_tasks < 4 * threads) {
        int64_t split = (4 * threads + row_tasks - 1) / row_tasks;
        int64_t tn = (j->g.N + split - 1) / split;
        tn = (tn + 31) / 32 * 32;
        j->tile_n = tn < j->g.N ? tn : j->g.N;
    }
    j->tiles_n = (j->g.N + j->tile_n - 1) / j->tile_n;
    nrt_parallel_for(ctx, (size_t)(row_tasks * j->tiles_n), 1, gemm_range, j);
}

void nrt_gemm_f32_parallel(nrt_ctx* ctx, const nrt_gemm_f32* g, bool fc) {
    gemm_job j = {.g = *g, .fc = fc, .s = NULL};
    run_tiles(ctx, &j, 1);
}

static nrt_status gemm_parse_common(nrt_ctx* ctx, int act_slot) {
    gemm_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    nrt_status st = nrt_opt_activation(ctx, act_slot, &p->act);
    if (st) return st;
    if (ctx->node->op == NRT_FB_OpType_FullyConnected) {
        uint8_t keep;
        if ((st = nrt_opt_u8(ctx, NRT_FB_FullyConnectedOptions_keep_dims, 1, &keep))) return st;
        p->keep_dims = keep != 0;
    }
    return NRT_OK;
}

static nrt_status matmul_parse(nrt_ctx* ctx) { return gemm_parse_common(ctx, NRT_FB_MatMulOptions_activation); }

static nrt_status fc_parse(nrt_ctx* ctx) { return gemm_parse_common(ctx, NRT_FB_FullyConnectedOptions_activation); }

static nrt_status expect_f32(nrt_ctx* ctx, const nrt_tensor* t, const char* role) {
    if (t->dtype == NRT_FLOAT32) return NRT_OK;
    return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "%s %s has type %s; only float32 is supported", role, t->name,
                       nrt_dtype_name(t->dtype));
}

/* Batch dims of A (rank ra, matrix dims last) and B broadcast numpy-style. */
static nrt_status matmul_batch(nrt_ctx* ctx, const nrt_tensor* a, const nrt_tensor* b, int ra, int rb,
                               matmul_state* s) {
    int na = ra > 2 ? ra - 2 : 0, nb = rb > 2 ? rb - 2 : 0;
    s->nb = na > nb ? na : nb;
    int64_t as = s->M * s->K, bs = s->K * s->N;
    s->batch = 1;
    for (int d = s->nb - 1; d >= 0; d--) {
        int ia = d - (s->nb - na), ib = d - (s->nb - nb);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return nrt_op_fail(ctx, NRT_ERR_SHAPE, "batch dimensions of %s (%lld) and %s (%lld) do not broadcast",
                               a->name, (long long)da, b->name, (long long)db);
        s->bdims[d] = da == 1 ? db : da;
        s->a_stride[d] = da == 1 ? 0 : as;
        s->b_stride[d] = db == 1 ? 0 : bs;
        as *= da; /* bounded by the operands' sizes */
        bs *= db;
        if (!nrt_mul_overflow_ok(s->batch, s->bdims[d], &s->batch))
            return nrt_op_fail(ctx, NRT_ERR_LIMIT, "the batch size overflows");
    }
    return NRT_OK;
}

static nrt_status matmul_prepare(nrt_ctx* ctx) {
    nrt_tensor *a = nrt_in(ctx, 0), *b = nrt_in(ctx, 1), *y = nrt_out(ctx, 0);
    nrt_status st;
    if (!a || !b) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "inputs A and B are required");
    if ((st = expect_f32(ctx, a, "input")) || (st = expect_f32(ctx, b, "input")) ||
        (st = nrt_expect_same_dtype(ctx, a, y)))
        return st;
    if (a->rank < 1 || b->rank < 1)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "MatMul operands must have rank >= 1 (%s has %d, %s has %d)", a->name,
                           a->rank, b->name, b->rank);
    matmul_state* s = nrt_alloc_state(ctx, sizeof *s);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    s->M = a->rank == 1 ? 1 : a->dims[a->rank - 2];
    s->K = a->dims[a->rank - 1];
    s->N = b->rank == 1 ? 1 : b->dims[b->rank - 1];
    int64_t kb = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
    if (kb != s->K)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "inner dimensions differ: %s has K = %lld, %s has K = %lld", a->name,
                           (long long)s->K, b->name, (long long)kb);
    if ((st = matmul_batch(ctx, a, b, a->rank, b->rank, s))) return st;
    int64_t dims[NRT_MAX_RANK + 2];
    int r = 0;
    for (int d = 0; d < s->nb; d++) dims[r++] = s->bdims[d];
    if (a->rank > 1) dims[r++] = s->M;
    if (b->rank > 1) dims[r++] = s->N;
    if ((st = nrt_set_shape(ctx, y, r, dims))) return st;
    if (b->rank <= 2 && s->nb > 0) { /* B shared by every batch: one product with batch*M rows */
        if (!nrt_mul_overflow_ok(s->M, s->batch, &s->M))
            return nrt_op_fail(ctx, NRT_ERR_LIMIT, "the row count overflows");
        s->batch = 1;
        s->nb = 0;
    }
    return NRT_OK;
}

static nrt_status matmul_eval(nrt_ctx* ctx) {
    const gemm_params* p = ctx->node->params;
    const matmul_state* s = ctx->node->state;
    nrt_tensor *a = nrt_in(ctx, 0), *b = nrt_in(ctx, 1), *y = nrt_out(ctx, 0);
    gemm_job j = {.g = {s->M, s->N, s->K, a->data, s->K, b->data, s->N, y->data, s->N, NULL, p->act},
                  .fc = false, .s = s};
    run_tiles(ctx, &j, s->batch);
    return NRT_OK;
}

static nrt_status fc_prepare(nrt_ctx* ctx) {
    const gemm_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1), *bias = nrt_in(ctx, 2), *y = nrt_out(ctx, 0);
    nrt_status st;
    if (!x || !w) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "inputs x and W are required");
    if ((st = expect_f32(ctx, x, "input")) || (st = expect_f32(ctx, w, "weight")) ||
        (st = nrt_expect_same_dtype(ctx, x, y)))
        return st;
    if (x->rank < 1 || w->rank != 2)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "x %s must have rank >= 1 and W %s rank 2 (got %d and %d)", x->name,
                           w->name, x->rank, w->rank);
    int64_t K = x->dims[x->rank - 1], N = w->dims[0];
    if (w->dims[1] != K)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "W %s is [%lld, %lld] but x %s has %lld features", w->name,
                           (long long)N, (long long)w->dims[1], x->name, (long long)K);
    if (bias && ((st = expect_f32(ctx, bias, "bias")) || nrt_numel(bias) != N))
        return st ? st : nrt_op_fail(ctx, NRT_ERR_SHAPE, "bias %s has %lld values, expected %lld", bias->name,
                                     (long long)nrt_numel(bias), (long long)N);
    int64_t dims[NRT_MAX_RANK], M = 1;
    for (int d = 0; d < x->rank - 1; d++) {
        dims[d] = x->dims[d];
        if (!nrt_mul_overflow_ok(M, x->dims[d], &M))
            return nrt_op_fail(ctx, NRT_ERR_LIMIT, "the row count of x %s overflows", x->name);
    }
    int64_t* rows = nrt_alloc_state(ctx, sizeof *rows);
    if (!rows) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    *rows = M;
    if (p->keep_dims) {
        dims[x->rank - 1] = N;
        return nrt_set_shape(ctx, y, x->rank, dims);
    }
    int64_t flat[2] = {M, N};
    return nrt_set_shape(ctx, y, 2, flat);
}

static nrt_status fc_eval(nrt_ctx* ctx) {
    const gemm_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1), *bias = nrt_in(ctx, 2), *y = nrt_out(ctx, 0);
    int64_t K = w->dims[1], N = w->dims[0], M = *(const int64_t*)ctx->node->state;
    nrt_gemm_f32 g = {M, N, K, x->data, K, w->data, K, y->data, N, bias ? bias->data : NULL, p->act};
    nrt_gemm_f32_parallel(ctx, &g, true);
    return NRT_OK;
}

const nrt_op_def nrt_op_MatMul = {"MatMul", 0, NRT_FB_OpOptions_MatMulOptions, 2, 2, 1, 1,
                                  matmul_parse, matmul_prepare, matmul_eval, NULL};
const nrt_op_def nrt_op_FullyConnected = {"FullyConnected", 0, NRT_FB_OpOptions_FullyConnectedOptions, 2, 3, 1, 1,
                                          fc_parse, fc_prepare, fc_eval, NULL};
