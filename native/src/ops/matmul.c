/* MatMul (numpy semantics: batched, broadcasting batch dims, 1-D operands)
 * and FullyConnected (y[..., N] = x[..., K] . W[N, K]^T + b[N]), float32,
 * with a fused activation. */
#include "matmul.h"

#include <string.h>

#include "../engine/dtype.h"
#include "../kernels/f32_gemm.h"

#define TILE_M 16  /* rows per task: a multiple of the kernels' row block */

typedef struct gemm_params {
    nrt_activation act;
    bool keep_dims; /* FullyConnected */
    /* The ISA's GEMM kernels (NULL: the reference ones). MatMul packs B into
     * scratch on each run; FullyConnected runs them only on a constant W
     * (and bias), packed at load into w[] (`packed` is w[] aligned). */
    const nrt_f32_gemm_table* fast;
    const float* packed;
    float w[];
} gemm_params;

/* MatMul's batch structure, computed in prepare. */
typedef struct matmul_state {
    int64_t M, N, K, batch;
    int nb;                          /* broadcast batch rank */
    int64_t bdims[NRT_MAX_RANK];
    int64_t a_stride[NRT_MAX_RANK];  /* element offset per batch index step, 0 = broadcast */
    int64_t b_stride[NRT_MAX_RANK];
    bool fast;                       /* float32 on the ISA's GEMM kernels */
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

/* Bytes to reserve for FullyConnected's packed W and bias, 0 when the fast
 * kernels cannot take them (W or bias computed at run time, other types). */
static size_t fc_packed_bytes(nrt_ctx* ctx, const nrt_f32_gemm_table* t) {
    const nrt_tensor *w = nrt_in(ctx, 1), *b = nrt_in(ctx, 2);
    if (!t || !w || w->kind != NRT_TENSOR_CONSTANT || w->dtype != NRT_FLOAT32 || w->rank != 2) return 0;
    if (b && !(b->kind == NRT_TENSOR_CONSTANT && b->dtype == NRT_FLOAT32 && nrt_numel(b) == w->dims[0])) return 0;
    return nrt_f32_gemm_packed_floats(t, (size_t)w->dims[0], (size_t)w->dims[1]) * sizeof(float) +
           NRT_F32_PACK_ALIGN;
}

static nrt_status gemm_parse_common(nrt_ctx* ctx, int act_slot) {
    bool fc = ctx->node->op == NRT_FB_OpType_FullyConnected;
    const nrt_f32_gemm_table* t = nrt_f32_gemm_table_for(ctx->model->isa);
    size_t extra = fc ? fc_packed_bytes(ctx, t) : 0;
    gemm_params* p = nrt_alloc_params(ctx, sizeof *p + extra);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    nrt_status st = nrt_opt_activation(ctx, act_slot, &p->act);
    if (st) return st;
    if (fc) {
        uint8_t keep;
        if ((st = nrt_opt_u8(ctx, NRT_FB_FullyConnectedOptions_keep_dims, 1, &keep))) return st;
        p->keep_dims = keep != 0;
    }
    p->fast = !fc || extra ? t : NULL;
    if (fc && extra) {
        const nrt_tensor *w = nrt_in(ctx, 1), *b = nrt_in(ctx, 2);
        float* packed = (float*)(((uintptr_t)p->w + NRT_F32_PACK_ALIGN - 1) & ~(uintptr_t)(NRT_F32_PACK_ALIGN - 1));
        nrt_f32_gemm_pack(t, (size_t)w->dims[0], (size_t)w->dims[1], w->data, (size_t)w->dims[1], 1,
                          b ? b->data : NULL, packed);
        p->packed = packed;
        ctx->model->packed_weight_bytes += extra - NRT_F32_PACK_ALIGN;
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

/* Fast MatMul scratch: per-batch offsets of A, then B packed per batch. */
static size_t matmul_fast_scratch(const matmul_state* s, const nrt_f32_gemm_table* t, size_t* packed_offset) {
    *packed_offset = ((size_t)s->batch * sizeof(int64_t) + NRT_F32_PACK_ALIGN - 1) / NRT_F32_PACK_ALIGN *
                     NRT_F32_PACK_ALIGN;
    return *packed_offset + (size_t)s->batch * nrt_f32_gemm_packed_floats(t, (size_t)s->N, (size_t)s->K) * sizeof(float);
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
    const gemm_params* p = ctx->node->params;
    size_t unused;
    s->fast = p->fast && a->dtype == NRT_FLOAT32 && b->dtype == NRT_FLOAT32;
    if (s->fast) ctx->node->scratch_bytes = matmul_fast_scratch(s, p->fast, &unused);
    return NRT_OK;
}

typedef struct pack_job {
    const matmul_state* s;
    const nrt_f32_gemm_table* t;
    const float* b;
    int64_t* a_offset;
    float* packed;
} pack_job;

static void pack_batches(void* arg, size_t begin, size_t end) {
    const pack_job* j = arg;
    size_t N = (size_t)j->s->N, K = (size_t)j->s->K, floats = nrt_f32_gemm_packed_floats(j->t, N, K);
    for (size_t bi = begin; bi < end; bi++) {
        int64_t ao, bo;
        batch_offsets(j->s, (int64_t)bi, &ao, &bo);
        j->a_offset[bi] = ao;
        nrt_f32_gemm_pack(j->t, N, K, j->b + bo, 1, N, NULL, j->packed + bi * floats);
    }
}

static nrt_status matmul_eval_fast(nrt_ctx* ctx, const gemm_params* p, const matmul_state* s) {
    nrt_tensor *a = nrt_in(ctx, 0), *b = nrt_in(ctx, 1), *y = nrt_out(ctx, 0);
    size_t off, N = (size_t)s->N, K = (size_t)s->K;
    matmul_fast_scratch(s, p->fast, &off);
    pack_job pj = {s, p->fast, b->data, ctx->node->scratch, (float*)((uint8_t*)ctx->node->scratch + off)};
    nrt_parallel_for(ctx, (size_t)s->batch, nrt_f32_grain((size_t)s->batch, (double)(K * N) / 4), pack_batches, &pj);
    nrt_f32_gemm_args g = {(size_t)s->M, N, K, (size_t)s->batch, a->data, K, pj.a_offset, pj.packed,
                           nrt_f32_gemm_packed_floats(p->fast, N, K), y->data, N, &p->act};
    nrt_f32_gemm_run(ctx, p->fast, &g);
    return NRT_OK;
}

static nrt_status matmul_eval(nrt_ctx* ctx) {
    const gemm_params* p = ctx->node->params;
    const matmul_state* s = ctx->node->state;
    if (s->fast) return matmul_eval_fast(ctx, p, s);
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
    if (p->fast) {
        nrt_f32_gemm_args f = {(size_t)M, (size_t)N, (size_t)K, 1, x->data, (size_t)K, NULL, p->packed, 0, y->data,
                               (size_t)N, &p->act};
        nrt_f32_gemm_run(ctx, p->fast, &f);
        return NRT_OK;
    }
    nrt_gemm_f32 g = {M, N, K, x->data, K, w->data, K, y->data, N, bias ? bias->data : NULL, p->act};
    nrt_gemm_f32_parallel(ctx, &g, true);
    return NRT_OK;
}

const nrt_op_def nrt_op_MatMul = {"MatMul", 0, NRT_FB_OpOptions_MatMulOptions, 2, 2, 1, 1,
                                  matmul_parse, matmul_prepare, matmul_eval, NULL};
const nrt_op_def nrt_op_FullyConnected = {"FullyConnected", 0, NRT_FB_OpOptions_FullyConnectedOptions, 2, 3, 1, 1,
                                          fc_parse, fc_prepare, fc_eval, NULL};
