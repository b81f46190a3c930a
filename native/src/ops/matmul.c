/* MatMul (numpy semantics: batched, broadcasting batch dims, 1-D operands)
 * and FullyConnected (y[..., N] = x[..., K] . W[N, K]^T + b[N]), float32,
 * with a fused activation.
 * int8 (kernels/requant.h): MatMul of two quantized int8 activations;
 * FullyConnected of an int8 x with int8 W and a folded int32 bias; and the
 * dynamic FullyConnected of a float32 x with int8 W (rows quantized at run
 * time, float32 bias and result), or with group-wise int4 W (ref/qd8_qb4w_ref.h). */
#include "matmul.h"

#include <stdlib.h>
#include <string.h>

#include "../engine/packed.h"
#include "../kernels/dispatch.h"
#include "../kernels/dtype.h"
#include "../kernels/ref/qd8_qb4w_ref.h"
#include "../kernels/ref/quant_ref.h"
#include "dynamic_quant.h"
#include "qs16.h"
#include "quant_common.h"
#include "sparse_weights.h"

#define TILE_M 16  /* rows per task: a multiple of the kernels' row block */

typedef struct gemm_params {
    nrt_activation act;
    bool keep_dims; /* FullyConnected */
    bool dynamic_per_tensor; /* dynamic FullyConnected: x quantized as one tensor, not per row */
    /* The level's GEMM kernels (kernels/gemm.h; NULL: the reference ones). MatMul
     * packs B into scratch on each run; FullyConnected runs them only on a
     * constant W (and bias), packed at load (fc_pack). */
    const nrt_gemm_table* fast;
    const void* packed;
    /* int8 FullyConnected on the level's kernels (dense or sparse): W, bias and multipliers packed at load. */
    const nrt_gemm_table* s8;
    const void* s8_packed;
    /* dynamic FullyConnected (float x, int8 W) on the level's kernel: W packed at load. */
    const nrt_qd8_fc_table* qd8;
    const void* qd8_packed;
    /* ... with group-wise int4 W: the level's kernel (NULL: the reference), W packed at load into w[]. */
    const nrt_qd8_qb4w_fc_table* qb4w;
    const void* qb4w_packed;
    /* float32 FullyConnected on sparse weights: their block-CSR copy in w[] (int8 ones run on the
     * level's sparse GEMM table as `s8`, ops/sparse_weights.h). */
    bool sparse_f32;
    nrt_bcsr sparse;
    float w[];
} gemm_params;

/* MatMul's batch structure, computed in prepare. */
typedef struct matmul_state {
    int64_t M, N, K, batch;
    int nb;                          /* broadcast batch rank */
    int64_t bdims[NRT_MAX_RANK];
    int64_t a_stride[NRT_MAX_RANK];  /* element offset per batch index step, 0 = broadcast */
    int64_t b_stride[NRT_MAX_RANK];
    bool int8;                       /* quantized operands: q holds the constants, m the multiplier */
    nrt_qs8_gemm q;
    float m;
    bool fast;                       /* float32 on the level's GEMM kernels */
    const nrt_gemm_table* s8;        /* int8 on the level's MatMul kernels (B packed into scratch), NULL: reference */
} matmul_state;

/* FullyConnected's per-shape state; m[N] holds the int8 multipliers.
 * The dynamic kinds quantize the rows of x once per invoke for every such
 * node reading x (the Q, K and V projections of one input): the first of
 * them (the leader) quantizes into `shared`, the others read it there when
 * the leader's quantized_at says it ran in this invoke (else their own copy). */
typedef struct fc_state {
    int64_t rows;
    enum { FC_F32, FC_INT8, FC_DYNAMIC, FC_QB4W } kind;
    nrt_qs8_out out;
    int leader;            /* the node whose quantized rows of x this one reads, -1: none */
    uint8_t* shared;       /* the leader's: x's rows quantized for later readers (fc_rows_bytes), or NULL */
    uint64_t quantized_at; /* ... in this invoke of the model (nrt_model.invokes) */
    float m[];
} fc_state;

typedef struct gemm_job {
    nrt_gemm_f32 g;        /* batch 0's pointers */
    nrt_qs8_gemm q;         /* int8: batch 0's pointers and constants */
    const nrt_dyn_fc* dyn; /* dynamic FullyConnected */
    const nrt_dyn_fc_qb4w* dyn4; /* ... with int4 W */
    const gemm_params* p;  /* ... its ISA kernel, when p->qd8 */
    int kind;              /* FC_F32 / FC_INT8 / FC_DYNAMIC / FC_QB4W */
    bool fc;
    const matmul_state* s; /* NULL: a single product */
    int64_t M, N, tile_n, tiles_m, tiles_n;
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
        int64_t m1 = m0 + TILE_M < j->M ? m0 + TILE_M : j->M;
        int64_t n1 = n0 + j->tile_n < j->N ? n0 + j->tile_n : j->N;
        int64_t ao = 0, bo = 0;
        if (j->s && bi > 0) batch_offsets(j->s, bi, &ao, &bo);
        if (j->kind == FC_QB4W) {
            if (j->p->qb4w) j->p->qb4w->run(j->dyn4, j->p->qb4w_packed, m0, m1, n0, n1);
            else nrt_dynamic_fc_qb4w_ref(j->dyn4, m0, m1, n0, n1);
        } else if (j->kind == FC_DYNAMIC) {
            if (j->p && j->p->qd8) j->p->qd8->run(j->dyn, j->p->qd8_packed, m0, m1, n0, n1);
            else nrt_dynamic_fc_ref(j->dyn, m0, m1, n0, n1);
        } else if (j->kind == FC_INT8) {
            nrt_qs8_gemm q = j->q;
            q.a += ao;
            q.b += bo;
            q.c += bi * q.M * q.N;
            if (j->fc) nrt_fc_qs8_ref(&q, m0, m1, n0, n1);
            else nrt_matmul_qs8_ref(&q, m0, m1, n0, n1);
        } else {
            nrt_gemm_f32 g = j->g;
            g.a += ao;
            g.b += bo;
            g.c += bi * g.M * g.N;
            if (j->fc) nrt_fc_f32_ref(&g, m0, m1, n0, n1);
            else nrt_matmul_f32_ref(&g, m0, m1, n0, n1);
        }
    }
}

/* Splits the columns too when there are too few row tiles to keep every
 * thread busy (M = 1 products, RNN steps). */
static void run_tiles(nrt_ctx* ctx, gemm_job* j, int64_t batch, int64_t M, int64_t N) {
    if (M == 0 || N == 0 || batch == 0) return;
    j->M = M;
    j->N = N;
    j->tiles_m = (M + TILE_M - 1) / TILE_M;
    j->tile_n = N;
    int64_t threads = nrt_num_threads(ctx), row_tasks = j->tiles_m * batch;
    if (threads > 1 && row_tasks < 4 * threads) {
        int64_t split = (4 * threads + row_tasks - 1) / row_tasks;
        int64_t tn = (N + split - 1) / split;
        tn = (tn + 31) / 32 * 32;
        j->tile_n = tn < N ? tn : N;
    }
    j->tiles_n = (N + j->tile_n - 1) / j->tile_n;
    nrt_parallel_for(ctx, (size_t)(row_tasks * j->tiles_n), 1, gemm_range, j);
}

void nrt_gemm_f32_parallel(nrt_ctx* ctx, const nrt_gemm_f32* g, bool fc) {
    gemm_job j = {.g = *g, .fc = fc, .s = NULL};
    run_tiles(ctx, &j, 1, g->M, g->N);
}

/* FullyConnected's constant W (and bias) is packed at load into memory
 * shared with every op packing them alike (engine/packed.h), for one of
 * three kernel families; each key names the family (tag), the constants,
 * the kernel table and, for int8, the activation scales folded into the
 * multipliers. */
enum { PACK_F32 = 1, PACK_S8, PACK_QD8, PACK_QB4W };

static nrt_pack_key fc_pack_key(nrt_ctx* ctx, int tag, const void* table) {
    const nrt_node* n = ctx->node;
    nrt_pack_key k = {{(uint64_t)tag, (uint64_t)n->inputs[1], (uint64_t)(n->num_inputs > 2 ? n->inputs[2] : -1),
                       (uint64_t)(uintptr_t)table}};
    if (tag == PACK_S8) {
        const nrt_quant *qx = &nrt_in(ctx, 0)->quant, *qy = &nrt_out(ctx, 0)->quant;
        k.v[4] = nrt_pack_key_f32(qx->scale[0]);
        k.v[5] = nrt_pack_key_f32(qy->scale[0]);
    }
    return k;
}

/* The float32 kernels take a constant float32 W and bias. */
static bool fc_f32_packable(nrt_ctx* ctx) {
    const nrt_tensor *w = nrt_in(ctx, 1), *b = nrt_in(ctx, 2);
    if (!w || w->kind != NRT_TENSOR_CONSTANT || w->dtype != NRT_FLOAT32 || w->rank != 2) return false;
    return !b || (b->kind == NRT_TENSOR_CONSTANT && b->dtype == NRT_FLOAT32 && nrt_numel(b) == w->dims[0]);
}

/* The int8 kernels (kernels/gemm.h) take quantized x and y, a constant int8 W and int32 bias. */
static bool fc_s8_packable(nrt_ctx* ctx) {
    const nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1), *b = nrt_in(ctx, 2), *y = nrt_out(ctx, 0);
    if (!nrt_is_qs8(x) || !nrt_is_qs8(y) || !w || w->kind != NRT_TENSOR_CONSTANT || w->dtype != NRT_INT8 ||
        w->rank != 2 || w->dims[0] < 1 || w->dims[1] < 1)
        return false;
    return !b || (b->kind == NRT_TENSOR_CONSTANT && b->dtype == NRT_INT32 && nrt_numel(b) == w->dims[0]);
}

/* The dynamic kernel takes a float x and a constant int8 W (its scales are checked in prepare). */
static bool fc_qd8_packable(nrt_ctx* ctx) {
    const nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1);
    return x && x->dtype == NRT_FLOAT32 && w && w->kind == NRT_TENSOR_CONSTANT && w->dtype == NRT_INT8 &&
           w->rank == 2 && w->dims[0] >= 1 && w->dims[1] >= 1;
}

/* The int8 multipliers of this FullyConnected (counted memory, freed by the
 * caller with nrt_mem_free), NULL when unknown, out of range or out of memory. */
static float* fc_s8_multipliers(nrt_ctx* ctx) {
    const nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1), *y = nrt_out(ctx, 0);
    float* m = nrt_mem_alloc(ctx->model, (size_t)w->dims[0] * sizeof(float));
    if (m && nrt_qs8_static_multipliers(x, w, 0, y, w->dims[0], m)) return m;
    nrt_mem_free(ctx->model, m);
    return NULL;
}

/* Packs W into dst; false when the int8 multipliers are unknown or out of range. */
static bool fc_pack_into(nrt_ctx* ctx, int tag, const void* table, void* dst) {
    const nrt_tensor *w = nrt_in(ctx, 1), *b = nrt_in(ctx, 2);
    size_t N = (size_t)w->dims[0], K = (size_t)w->dims[1];
    if (tag == PACK_QD8) {
        ((const nrt_qd8_fc_table*)table)->pack(N, K, w->data, dst);
        return true;
    }
    if (tag == PACK_QB4W) {
        ((const nrt_qd8_qb4w_fc_table*)table)->pack(N, K, (size_t)w->quant.block_size, w->data, w->quant.scale, dst);
        return true;
    }
    float* m = tag == PACK_S8 ? fc_s8_multipliers(ctx) : NULL;
    if (tag == PACK_S8 && !m) return false;
    nrt_gemm_weights a = {N, K, 1, w->data, K, 0, 1, b ? b->data : NULL, m, 0, 0};
    nrt_gemm_pack(table, &a, dst);
    nrt_mem_free(ctx->model, m);
    return true;
}

/* The packed W for `table` (NULL when the int8 multipliers do not allow it). */
static nrt_status fc_pack(nrt_ctx* ctx, int tag, const void* table, size_t bytes, const void** packed) {
    nrt_pack_key key = fc_pack_key(ctx, tag, table);
    uint64_t info;
    if ((*packed = nrt_packed_find(ctx->model, &key, &info))) return NRT_OK;
    void* dst = nrt_packed_alloc(ctx->model, bytes);
    if (!dst) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    if (!fc_pack_into(ctx, tag, table, dst)) {
        nrt_mem_free(ctx->model, dst);
        return nrt_mem_refused(ctx->model) ? nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory") : NRT_OK;
    }
    if (!nrt_packed_add(ctx->model, &key, dst, bytes, 0)) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    *packed = dst;
    return NRT_OK;
}

/* Why a constant int4 W [N, K] cannot be a group-wise FullyConnected weight,
 * NULL when it can: symmetric int4 with scales per output channel (axis 0)
 * and group of block_size k (block_axis 1), N x ceil(K / block_size) of them. */
#define QB4W_MAX_GROUP 65536 /* the int32 group sums cannot overflow: 255 * 8 * 65536 < 2^31 */
static const char* qb4w_layout_error(const nrt_tensor* w) {
    const nrt_quant* q = &w->quant;
    if (w->kind != NRT_TENSOR_CONSTANT || w->rank != 2) return "must be a constant matrix";
    if (q->count == 0 || q->block_size <= 0 || q->block_axis != 1 || (q->count > 1 && q->axis != 0))
        return "needs scales per output channel (axis 0) and group of k (block_axis 1)";
    if (q->block_size > QB4W_MAX_GROUP) return "has a group size over 65536";
    int64_t groups = (w->dims[1] + q->block_size - 1) / q->block_size, want;
    if (!nrt_mul_overflow_ok(w->dims[0], groups, &want) || want != (int64_t)q->count)
        return "has a scale count other than N x ceil(K / group size)";
    for (uint32_t i = 0; q->zero_point && i < q->count; i++)
        if (q->zero_point[i] != 0) return "has nonzero zero points (only symmetric int4 weights run)";
    return NULL;
}

/* The level's kernel for a dynamic FullyConnected on int4 W, NULL (the
 * reference) when it has none for this group size; bytes of its packed W. */
static const nrt_qd8_qb4w_fc_table* fc_qb4w_table(nrt_ctx* ctx, size_t* bytes) {
    const nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1);
    const nrt_qd8_qb4w_fc_table* t = nrt_kernels_of(ctx)->qd8_qb4w_fc;
    *bytes = 0;
    if (!t || !x || x->dtype != NRT_FLOAT32 || !w || w->dtype != NRT_INT4 || qb4w_layout_error(w) ||
        w->dims[0] < 1 || w->dims[1] < 1 || !t->supports((size_t)w->quant.block_size))
        return NULL;
    *bytes = t->packed_bytes((size_t)w->dims[0], (size_t)w->dims[1], (size_t)w->quant.block_size);
    return *bytes ? t : NULL;
}

/* The level's int8 sparse GEMM table when it should run this FullyConnected
 * (int8 weights the dense kernels could take, multipliers known now and an
 * output range that is not empty), and the bytes of its packed weights. */
static const nrt_gemm_table* fc_sparse_s8_table(nrt_ctx* ctx, const nrt_activation* act, size_t* bytes) {
    const nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1), *b = nrt_in(ctx, 2);
    if (!w || !w->sparse || !fc_s8_packable(ctx)) return NULL;
    if (act->kind != NRT_ACT_NONE && act->kind != NRT_ACT_RELU && !(act->kind == NRT_ACT_CLIP && act->alpha <= act->beta))
        return NULL;
    int64_t numel = nrt_numel(x), rows = numel > 0 ? numel / w->dims[1] : 1; /* (dynamic dims: taken as 1 row) */
    const nrt_gemm_table* t = nrt_sparse_qs8_table(ctx, w, w->dims[1], rows);
    float* m = t ? fc_s8_multipliers(ctx) : NULL;
    if (m) {
        nrt_gemm_weights a = {(size_t)w->dims[0], (size_t)w->dims[1], 1, w->data, (size_t)w->dims[1], 0, 1,
                              b ? b->data : NULL, m, 0, 0};
        *bytes = nrt_gemm_weights_bytes(t, &a);
    } else {
        t = NULL;
    }
    nrt_mem_free(ctx->model, m);
    return t;
}

/* Bytes of the block-CSR weights when this float32 FullyConnected runs the sparse kernel. */
static size_t fc_sparse_f32_bytes(nrt_ctx* ctx) {
    const nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1);
    if (!x || !w || !w->sparse || w->rank != 2 || x->dtype != NRT_FLOAT32) return 0;
    return nrt_sparse_f32_bytes(ctx, w);
}

/* FullyConnected's weights: float32 sparse ones as a block-CSR copy of this
 * op's own (p->w, counted with the parameters); all others packed once and
 * shared (fc_pack). */
static nrt_status fc_parse_weights(nrt_ctx* ctx, gemm_params* p, const nrt_gemm_table* spmm, size_t spmm_bytes,
                                   size_t sparse32) {
    const nrt_kernels* k = nrt_kernels_of(ctx);
    nrt_tensor* w = nrt_in(ctx, 1);
    nrt_status st = NRT_OK;
    if (sparse32) {
        p->sparse_f32 = true;
        nrt_sparse_f32_build(ctx, w, p->w, &p->sparse);
    } else if (spmm) {
        st = fc_pack(ctx, PACK_S8, spmm, spmm_bytes, &p->s8_packed);
        if (p->s8_packed) {
            p->s8 = spmm;
            nrt_sparse_claim(w);
        }
    } else if (w && w->dtype == NRT_INT4) {
        size_t bytes;
        const nrt_qd8_qb4w_fc_table* t4 = fc_qb4w_table(ctx, &bytes);
        if (t4) st = fc_pack(ctx, PACK_QB4W, t4, bytes, &p->qb4w_packed);
        if (p->qb4w_packed) p->qb4w = t4;
    } else if (fc_qd8_packable(ctx)) {
        st = fc_pack(ctx, PACK_QD8, k->qd8_fc, k->qd8_fc->packed_bytes((size_t)w->dims[0], (size_t)w->dims[1]),
                     &p->qd8_packed);
        if (p->qd8_packed) p->qd8 = k->qd8_fc;
    } else if (fc_s8_packable(ctx)) {
        st = fc_pack(ctx, PACK_S8, k->qs8_gemm, nrt_gemm_packed_bytes(k->qs8_gemm, (size_t)w->dims[0], (size_t)w->dims[1], 1),
                     &p->s8_packed);
        if (p->s8_packed) p->s8 = k->qs8_gemm;
    } else if (fc_f32_packable(ctx)) {
        st = fc_pack(ctx, PACK_F32, k->f32_gemm,
                     nrt_gemm_packed_bytes(k->f32_gemm, (size_t)w->dims[0], (size_t)w->dims[1], 1), &p->packed);
        if (p->packed) p->fast = k->f32_gemm;
    }
    return st;
}

static nrt_status gemm_parse_common(nrt_ctx* ctx, int act_slot) {
    bool fc = ctx->node->op == NRT_FB_OpType_FullyConnected;
    nrt_activation act;
    nrt_status st = nrt_opt_activation(ctx, act_slot, &act);
    if (st) return st;
    size_t spmm_bytes = 0, sparse32 = 0;
    const nrt_gemm_table* spmm = fc ? fc_sparse_s8_table(ctx, &act, &spmm_bytes) : NULL;
    if (fc && !spmm) sparse32 = fc_sparse_f32_bytes(ctx);
    gemm_params* p = nrt_alloc_params(ctx, sizeof *p + sparse32);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    p->act = act;
    p->fast = fc ? NULL : nrt_kernels_of(ctx)->f32_gemm;
    if (!fc) return NRT_OK;
    uint8_t keep;
    if ((st = nrt_opt_u8(ctx, NRT_FB_FullyConnectedOptions_keep_dims, 1, &keep))) return st;
    p->keep_dims = keep != 0;
    if ((st = nrt_opt_u8(ctx, NRT_FB_FullyConnectedOptions_dynamic_per_tensor, 0, &keep))) return st;
    p->dynamic_per_tensor = keep != 0;
    return fc_parse_weights(ctx, p, spmm, spmm_bytes, sparse32);
}

static nrt_status matmul_parse(nrt_ctx* ctx) { return gemm_parse_common(ctx, NRT_FB_MatMulOptions_activation); }

/* A FullyConnected that quantizes the rows of a float32 x at run time (int8 or int4 W). */
static bool fc_quantizes_rows(const nrt_model* m, const nrt_node* n) {
    if (n->num_inputs < 2 || n->inputs[0] < 0 || n->inputs[1] < 0) return false;
    const nrt_tensor *x = &m->tensors[n->inputs[0]], *w = &m->tensors[n->inputs[1]];
    const gemm_params* p = n->params;
    /* (x quantized as one tensor, onnxruntime's way, is not the rows the others share) */
    return x->dtype == NRT_FLOAT32 && (w->dtype == NRT_INT8 || w->dtype == NRT_INT4) && p &&
           !p->dynamic_per_tensor;
}

static nrt_status fc_parse(nrt_ctx* ctx) {
    if (nrt_is_qs16(nrt_in(ctx, 0))) return nrt_fc_qs16_parse(ctx);
    nrt_status st = gemm_parse_common(ctx, NRT_FB_FullyConnectedOptions_activation);
    if (st != NRT_OK || !fc_quantizes_rows(ctx->model, ctx->node)) return st;
    nrt_tensor* x = nrt_in(ctx, 0); /* (nodes parse in order) */
    if (x->first_rows_quantizer < 0) x->first_rows_quantizer = ctx->node_index;
    x->last_rows_quantizer = ctx->node_index;
    return NRT_OK;
}

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

/* MatMul of quantized int8 A and B: acc = sum (a - za)(b - zb), m = s_a s_b / s_y. */
static nrt_status matmul_int8(nrt_ctx* ctx, const nrt_tensor* a, const nrt_tensor* b, const nrt_tensor* y,
                              matmul_state* s) {
    const gemm_params* p = ctx->node->params;
    nrt_qs8 qa, qb, qy;
    nrt_status st;
    if ((st = nrt_qs8_params(ctx, a, "input", &qa)) || (st = nrt_qs8_params(ctx, b, "input", &qb)) ||
        (st = nrt_qs8_params(ctx, y, "output", &qy)) || (st = nrt_qs8_output(ctx, &p->act, &qy, &s->q.out)) ||
        (st = nrt_qs8_multiplier(ctx, (double)qa.scale * (double)qb.scale, qy.scale, "s_a * s_b / s_y",
                                 &s->m)))
        return st;
    s->int8 = true;
    s->q.za = qa.zero_point;
    s->q.zb = qb.zero_point;
    return NRT_OK;
}

/* MatMul scratch on the GEMM kernels: per-batch offsets of A, then B packed per batch. */
static size_t packed_b_offset(const matmul_state* s) {
    return ((size_t)s->batch * sizeof(int64_t) + NRT_PACK_ALIGN - 1) / NRT_PACK_ALIGN * NRT_PACK_ALIGN;
}

static size_t matmul_scratch(const matmul_state* s, const nrt_gemm_table* t) {
    return packed_b_offset(s) + (size_t)s->batch * nrt_gemm_packed_bytes(t, (size_t)s->N, (size_t)s->K, 1);
}

static nrt_status matmul_prepare(nrt_ctx* ctx) {
    nrt_tensor *a = nrt_in(ctx, 0), *b = nrt_in(ctx, 1), *y = nrt_out(ctx, 0);
    nrt_status st;
    if (!a || !b) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "inputs A and B are required");
    matmul_state* s = nrt_alloc_state(ctx, sizeof *s);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    if (nrt_is_qs8(a) || nrt_is_qs8(b)) {
        if ((st = matmul_int8(ctx, a, b, y, s))) return st;
    } else if ((st = expect_f32(ctx, a, "input")) || (st = expect_f32(ctx, b, "input")) ||
               (st = nrt_expect_same_dtype(ctx, a, y))) {
        return st;
    }
    if (a->rank < 1 || b->rank < 1)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "MatMul operands must have rank >= 1 (%s has %d, %s has %d)", a->name,
                           a->rank, b->name, b->rank);
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
    s->fast = p->fast && a->dtype == NRT_FLOAT32 && b->dtype == NRT_FLOAT32;
    if (s->fast) ctx->node->scratch_bytes = matmul_scratch(s, p->fast);
    s->s8 = s->int8 && s->q.out.qmin <= s->q.out.qmax ? nrt_kernels_of(ctx)->qs8_matmul : NULL;
    if (s->s8) ctx->node->scratch_bytes = matmul_scratch(s, s->s8);
    return NRT_OK;
}

/* Per batch: A's offset, and B packed for the kernel (element (k, j) at b[k * N + j]). */
typedef struct pack_job {
    const matmul_state* s;
    const nrt_gemm_table* t;
    const uint8_t* b;
    int64_t* a_offset;
    uint8_t* packed;
    int32_t zb; /* int8: B's zero point */
} pack_job;

static void pack_batches(void* arg, size_t begin, size_t end) {
    const pack_job* j = arg;
    size_t N = (size_t)j->s->N, K = (size_t)j->s->K, bytes = nrt_gemm_packed_bytes(j->t, N, K, 1);
    for (size_t bi = begin; bi < end; bi++) {
        int64_t ao, bo;
        batch_offsets(j->s, (int64_t)bi, &ao, &bo);
        j->a_offset[bi] = ao;
        nrt_gemm_weights w = {N, K, 1, j->b + (size_t)bo * j->t->format->w_bytes, 1, 0, N, NULL, NULL, 0, j->zb};
        nrt_gemm_pack(j->t, &w, j->packed + bi * bytes);
    }
}

/* Packs B per batch into scratch (after the batch offsets of A) and runs the GEMM. */
static void matmul_run(nrt_ctx* ctx, const matmul_state* s, const nrt_gemm_table* t, int32_t zb, const void* params) {
    nrt_tensor *a = nrt_in(ctx, 0), *b = nrt_in(ctx, 1), *y = nrt_out(ctx, 0);
    size_t N = (size_t)s->N, K = (size_t)s->K;
    pack_job pj = {s, t, b->data, ctx->node->scratch, (uint8_t*)ctx->node->scratch + packed_b_offset(s), zb};
    nrt_parallel_for(ctx, (size_t)s->batch, nrt_task_grain(nrt_gemm_format_f32.task_macs, (double)(K * N) / 4),
                     pack_batches, &pj);
    nrt_gemm_args g = {(size_t)s->M, N, K, (size_t)s->batch, a->data, K, pj.a_offset, pj.packed,
                       nrt_gemm_packed_bytes(t, N, K, 1), y->data, N, params};
    nrt_threads threads = nrt_threads_of(ctx);
    nrt_gemm_run(&threads, t, &g);
}

static nrt_status matmul_eval(nrt_ctx* ctx) {
    const gemm_params* p = ctx->node->params;
    const matmul_state* s = ctx->node->state;
    if (nrt_out(ctx, 0)->nbytes == 0) return NRT_OK; /* (an empty batch has no scratch to pack into) */
    if (s->fast) {
        matmul_run(ctx, s, p->fast, 0, &p->act);
        return NRT_OK;
    }
    if (s->s8) {
        nrt_qs8_requant rq = nrt_qs8_requant_make(s->q.out.zero_point, s->q.out.qmin, s->q.out.qmax);
        nrt_qs8_matmul_params mp = {s->q.za, s->m, rq};
        matmul_run(ctx, s, s->s8, s->q.zb, &mp);
        return NRT_OK;
    }
    nrt_tensor *a = nrt_in(ctx, 0), *b = nrt_in(ctx, 1), *y = nrt_out(ctx, 0);
    gemm_job j = {.g = {s->M, s->N, s->K, a->data, s->K, b->data, s->N, y->data, s->N, NULL, p->act},
                  .kind = s->int8 ? FC_INT8 : FC_F32, .fc = false, .s = s};
    if (s->int8) {
        j.q = s->q;
        j.q.m = &s->m;
        j.q.M = s->M, j.q.N = s->N, j.q.K = s->K;
        j.q.a = a->data, j.q.lda = s->K, j.q.b = b->data, j.q.ldb = s->N, j.q.c = y->data, j.q.ldc = s->N;
    }
    run_tiles(ctx, &j, s->batch, s->M, s->N);
    return NRT_OK;
}

/* int8 x, W, folded int32 bias -> int8 y: multipliers m[n] = s_x s_w[n] / s_y. */
static nrt_status fc_int8(nrt_ctx* ctx, const nrt_tensor* x, const nrt_tensor* w, const nrt_tensor* bias,
                          const nrt_tensor* y, fc_state* s) {
    const gemm_params* p = ctx->node->params;
    nrt_qs8 qx, qy;
    nrt_status st;
    if ((st = nrt_qs8_params(ctx, x, "input", &qx)) || (st = nrt_qs8_params(ctx, y, "output", &qy)) ||
        (st = nrt_qs8_output(ctx, &p->act, &qy, &s->out)) ||
        (st = nrt_qs8_weight_multipliers(ctx, w, 0, w->dims[0], qx.scale, qy.scale, s->m)))
        return st;
    if (bias && bias->dtype != NRT_INT32)
        return nrt_op_fail(ctx, NRT_ERR_DTYPE, "bias %s is %s; an int8 FullyConnected takes an int32 bias", bias->name,
                           nrt_dtype_name(bias->dtype));
    s->kind = FC_INT8;
    return NRT_OK;
}

/* float x, int8 W -> float y: rows of x quantized at run time. */
static nrt_status fc_dynamic(nrt_ctx* ctx, const nrt_tensor* w, const nrt_tensor* bias, const nrt_tensor* y,
                             fc_state* s) {
    nrt_status st;
    float unused;
    if ((st = expect_f32(ctx, y, "output")) || (bias && (st = expect_f32(ctx, bias, "bias"))) ||
        (st = nrt_qs8_weight_multipliers(ctx, w, 0, 1, 1.0, 1.0, &unused)))
        return st;
    s->kind = FC_DYNAMIC;
    return NRT_OK;
}

/* float x, group-wise int4 W -> float y: rows of x quantized at run time. */
static nrt_status fc_qb4w(nrt_ctx* ctx, const nrt_tensor* w, const nrt_tensor* bias, const nrt_tensor* y,
                          fc_state* s) {
    nrt_status st;
    const char* why = qb4w_layout_error(w);
    if (why) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "int4 weight %s %s", w->name ? w->name : "", why);
    if ((st = expect_f32(ctx, y, "output")) || (bias && (st = expect_f32(ctx, bias, "bias")))) return st;
    s->kind = FC_QB4W;
    return NRT_OK;
}

/* Scratch of the dynamic kernel: q [M, K] int8, then row scales and zero points. */
static size_t dyn_offset(int64_t M, int64_t K) { return ((size_t)(M * K) + 63) / 64 * 64; }

/* Bytes of x's quantized rows: q [M, K] int8, then row scales and zero points. */
static size_t fc_rows_bytes(int64_t M, int64_t K) {
    return dyn_offset(M, K) + (size_t)M * (sizeof(float) + sizeof(int32_t));
}

static nrt_status fc_prepare(nrt_ctx* ctx) {
    if (nrt_is_qs16(nrt_in(ctx, 0))) return nrt_fc_qs16_prepare(ctx);
    const gemm_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1), *bias = nrt_in(ctx, 2), *y = nrt_out(ctx, 0);
    nrt_status st;
    if (!x || !w) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "inputs x and W are required");
    if (x->rank < 1 || w->rank != 2)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "x %s must have rank >= 1 and W %s rank 2 (got %d and %d)", x->name,
                           w->name, x->rank, w->rank);
    int64_t K = x->dims[x->rank - 1], N = w->dims[0];
    if (w->dims[1] != K)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "W %s is [%lld, %lld] but x %s has %lld features", w->name,
                           (long long)N, (long long)w->dims[1], x->name, (long long)K);
    if (bias && nrt_numel(bias) != N)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "bias %s has %lld values, expected %lld", bias->name,
                           (long long)nrt_numel(bias), (long long)N);
    int64_t dims[NRT_MAX_RANK], M = 1, mk;
    for (int d = 0; d < x->rank - 1; d++) {
        dims[d] = x->dims[d];
        if (!nrt_mul_overflow_ok(M, x->dims[d], &M))
            return nrt_op_fail(ctx, NRT_ERR_LIMIT, "the row count of x %s overflows", x->name);
    }
    if (x->dtype == NRT_FLOAT32 && (w->dtype == NRT_INT8 || w->dtype == NRT_INT4) &&
        (!nrt_mul_overflow_ok(M, K, &mk) || mk > (int64_t)1 << 40))
        return nrt_op_fail(ctx, NRT_ERR_LIMIT, "x %s is too large to quantize", x->name);
    bool shares = fc_quantizes_rows(ctx->model, ctx->node);
    int leader = shares && x->first_rows_quantizer < ctx->node_index ? x->first_rows_quantizer : -1;
    size_t state = sizeof(fc_state) + (size_t)N * sizeof(float);
    size_t shared = shares && leader < 0 && x->last_rows_quantizer > ctx->node_index ? fc_rows_bytes(M, K) : 0;
    fc_state* s = nrt_alloc_state(ctx, shared ? state + 63 + shared : state);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    s->leader = leader;
    s->shared = shared ? (uint8_t*)(((uintptr_t)s + state + 63) / 64 * 64) : NULL; /* (aligned as scratch) */
    s->quantized_at = 0;
    if (nrt_is_qs8(x)) st = fc_int8(ctx, x, w, bias, y, s);
    else if (x->dtype == NRT_FLOAT32 && w->dtype == NRT_INT8) st = fc_dynamic(ctx, w, bias, y, s);
    else if (x->dtype == NRT_FLOAT32 && w->dtype == NRT_INT4) st = fc_qb4w(ctx, w, bias, y, s);
    else if (!(st = expect_f32(ctx, x, "input")) && !(st = expect_f32(ctx, w, "weight")) &&
             !(st = nrt_expect_same_dtype(ctx, x, y)) && bias)
        st = expect_f32(ctx, bias, "bias");
    if (st) return st;
    s->rows = M;
    if (s->kind == FC_DYNAMIC || s->kind == FC_QB4W) ctx->node->scratch_bytes = shared ? 0 : fc_rows_bytes(M, K);
    if (p->keep_dims) {
        dims[x->rank - 1] = N;
        return nrt_set_shape(ctx, y, x->rank, dims);
    }
    int64_t flat[2] = {M, N};
    return nrt_set_shape(ctx, y, 2, flat);
}

typedef struct dyn_rows_job {
    const nrt_dyn_fc* d;
    const nrt_qd8_fc_table* t; /* the level's kernel, or NULL */
} dyn_rows_job;

static void dyn_rows(void* arg, size_t begin, size_t end) {
    const dyn_rows_job* j = arg;
    if (j->t && j->t->quantize_rows) j->t->quantize_rows(j->d, (int64_t)begin, (int64_t)end);
    else nrt_dynamic_quantize_rows_ref(j->d, (int64_t)begin, (int64_t)end);
}

/* x quantized as one tensor the way DynamicQuantizeLinear does (uint8 scale and
 * zero point, requant.h), stored as int8 (q - 128, zero point - 128: the same
 * q - z) with every row given that scale and zero point. */
static void dyn_quantize_tensor(nrt_ctx* ctx, const nrt_dyn_fc* d) {
    float s;
    int32_t z;
    nrt_dynamic_quantize_tensor(ctx, d->x, d->M * d->K, d->q, &s, &z);
    for (int64_t m = 0; m < d->M; m++) {
        d->row_scale[m] = s;
        d->row_zero[m] = z;
    }
}

/* x's rows quantized (fc_state): the leader's of this invoke, or quantized now by `t`'s
 * quantizer (NULL: the reference), or as one tensor (per_tensor), into shared memory or
 * scratch. Sets d's q, row_scale, row_zero. */
static void fc_quantized_rows(nrt_ctx* ctx, fc_state* s, const nrt_qd8_fc_table* t, bool per_tensor,
                              nrt_dyn_fc* d) {
    const fc_state* lead = s->leader >= 0 ? ctx->model->nodes[s->leader].state : NULL;
    bool reuse = lead && lead->shared && lead->quantized_at == ctx->model->invokes && lead->rows == s->rows;
    uint8_t* rows = reuse ? lead->shared : s->shared ? s->shared : ctx->node->scratch;
    d->q = (int8_t*)rows;
    d->row_scale = (float*)(rows + dyn_offset(d->M, d->K));
    d->row_zero = (int32_t*)(d->row_scale + d->M);
    if (reuse) return;
    if (per_tensor) {
        dyn_quantize_tensor(ctx, d);
    } else {
        size_t grain = d->K >= 4096 ? 1 : (size_t)(4096 / (d->K ? d->K : 1));
        dyn_rows_job job = {d, t};
        nrt_parallel_for(ctx, (size_t)d->M, grain, dyn_rows, &job);
    }
    if (s->shared) s->quantized_at = ctx->model->invokes;
}

static void fc_eval_dynamic(nrt_ctx* ctx, fc_state* s) {
    const gemm_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1), *bias = nrt_in(ctx, 2), *y = nrt_out(ctx, 0);
    int64_t K = w->dims[1], N = w->dims[0], M = s->rows;
    if (M == 0) return; /* (an empty x: no rows, and no scratch) */
    nrt_dyn_fc d = {M, N, K, x->data, w->data, w->quant.scale, w->quant.count > 1, bias ? bias->data : NULL,
                    y->data, p->act, NULL, NULL, NULL};
    fc_quantized_rows(ctx, s, p->qd8, p->dynamic_per_tensor, &d);
    gemm_job j = {.dyn = &d, .p = p, .kind = FC_DYNAMIC, .fc = true, .s = NULL};
    run_tiles(ctx, &j, 1, M, N);
}

static void fc_eval_qb4w(nrt_ctx* ctx, fc_state* s) {
    const gemm_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1), *bias = nrt_in(ctx, 2), *y = nrt_out(ctx, 0);
    int64_t K = w->dims[1], N = w->dims[0], M = s->rows;
    if (M == 0) return; /* (an empty x: no rows, and no scratch) */
    nrt_dyn_fc rows = {.M = M, .K = K, .x = x->data};
    fc_quantized_rows(ctx, s, nrt_kernels_of(ctx)->qd8_fc, false, &rows); /* (the int8 path's row quantizer) */
    nrt_dyn_fc_qb4w d = {M, N, K, w->quant.block_size, rows.q, rows.row_scale, rows.row_zero, w->data,
                         w->quant.scale, bias ? bias->data : NULL, y->data, p->act};
    gemm_job j = {.dyn4 = &d, .p = p, .kind = FC_QB4W, .fc = true, .s = NULL};
    run_tiles(ctx, &j, 1, M, N);
}

typedef struct fc_sparse_job {
    const gemm_params* p;
    const float *x, *bias;
    float* y;
    int64_t K, N;
} fc_sparse_job;

static void fc_sparse_rows(void* arg, size_t begin, size_t end) {
    const fc_sparse_job* j = arg;
    nrt_f32_sparse_gemm f = {&j->p->sparse, j->x, j->K, j->y, j->N, j->bias, j->p->act};
    nrt_sparse_gemm_f32_ref(&f, (int64_t)begin, (int64_t)end);
}

static nrt_status fc_eval(nrt_ctx* ctx) {
    if (nrt_is_qs16(nrt_in(ctx, 0))) return nrt_fc_qs16_eval(ctx);
    const gemm_params* p = ctx->node->params;
    fc_state* s = ctx->node->state;
    nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1), *bias = nrt_in(ctx, 2), *y = nrt_out(ctx, 0);
    int64_t K = w->dims[1], N = w->dims[0], M = s->rows;
    if (s->kind == FC_DYNAMIC) {
        fc_eval_dynamic(ctx, s);
        return NRT_OK;
    }
    if (s->kind == FC_QB4W) {
        fc_eval_qb4w(ctx, s);
        return NRT_OK;
    }
    if (p->sparse_f32) {
        fc_sparse_job j = {p, x->data, bias ? bias->data : NULL, y->data, K, N};
        nrt_parallel_for(ctx, (size_t)M, 1, fc_sparse_rows, &j);
        return NRT_OK;
    }
    if (s->kind == FC_INT8 && p->s8 && p->s8->format == &nrt_gemm_format_qs8_qc8w_spmm && s->out.qmin > s->out.qmax)
        return nrt_op_fail(ctx, NRT_ERR_INTERNAL, "sparse kernel chosen for an empty output range");
    if (s->kind == FC_INT8 && p->s8 && s->out.qmin <= s->out.qmax) {
        nrt_qs8_requant rq = nrt_qs8_requant_make(s->out.zero_point, s->out.qmin, s->out.qmax);
        nrt_gemm_args a = {(size_t)M, (size_t)N, (size_t)K, 1, x->data, (size_t)K, NULL, p->s8_packed, 0, y->data,
                           (size_t)N, &rq};
        nrt_threads threads = nrt_threads_of(ctx);
        nrt_gemm_run(&threads, p->s8, &a);
        return NRT_OK;
    }
    if (s->kind == FC_INT8) {
        gemm_job j = {.q = {M, N, K, x->data, K, w->data, K, y->data, N, bias ? bias->data : NULL, s->m, 0, 0, s->out},
                      .kind = FC_INT8, .fc = true, .s = NULL};
        run_tiles(ctx, &j, 1, M, N);
        return NRT_OK;
    }
    if (s->kind == FC_F32 && p->fast) {
        nrt_gemm_args f = {(size_t)M, (size_t)N, (size_t)K, 1, x->data, (size_t)K, NULL, p->packed, 0, y->data,
                           (size_t)N, &p->act};
        nrt_threads threads = nrt_threads_of(ctx);
        nrt_gemm_run(&threads, p->fast, &f);
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
