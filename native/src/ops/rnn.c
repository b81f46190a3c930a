/* LSTM and GRU (ONNX semantics, default activations only), float32.
 * Inputs X, W, R, B?, sequence_lens?, initial_h?, initial_c? (LSTM), P?
 * (LSTM); outputs Y, Y_h?, Y_c? (LSTM). Directions forward / reverse /
 * bidirectional; batch_first = ONNX layout 1. With sequence_lens, steps
 * past a batch entry's length leave its state alone and give Y = 0; the
 * reverse direction runs from that entry's last valid step; an entry of
 * length 0 gives Y_h = Y_c = 0 (as onnxruntime does).
 *
 * Per direction: one product X . W^T + biases for all steps (into scratch),
 * then per step h . R^T and the cell update of every active batch row.
 * With constant W, R and B the products run on the level's float32 GEMM,
 * W and R packed at load with the biases, and the gate activations on the
 * level's vector kernels; otherwise (or with peepholes, for the cell) on
 * the reference kernels.
 * An LSTM with constant int8 W and R (one scale per direction or per tensor,
 * zero point 0: onnxruntime's DynamicQuantizeLSTM) is the dynamic int8 LSTM
 * (kernels/requant.h DynamicLSTM): X quantized as one tensor at run time, h
 * at each step row by row (onnxruntime's choices), both products on the level's dynamic FullyConnected
 * kernel with W and R packed at load, the cell on the vector kernels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/dispatch.h"
#include "../kernels/dtype.h"
#include "../kernels/ref/qs8_ref.h"
#include "../kernels/ref/rnn_ref.h"
#include "dynamic_quant.h"
#include "matmul.h"

enum { IN_X, IN_W, IN_R, IN_B, IN_LENS, IN_H0, IN_C0, IN_P };

/* One direction's weights packed for the GEMM table (gemm.h's f32 panels). */
typedef struct rnn_packed {
    const void* w;      /* W: G columns, bias bx */
    const void* r;      /* R's first `r_cols` columns (LSTM: all; GRU: z and r), bias bh */
    const void* r_cand; /* GRU: R's candidate columns [2H, 3H), bias bh there */
} rnn_packed;

typedef struct rnn_params {
    uint8_t direction;
    bool batch_first, lstm;
    int gates;            /* 4 (LSTM) or 3 (GRU) */
    nrt_rnn_cell cell;
    const nrt_gemm_table* gemm; /* NULL: the reference products */
    rnn_packed packed[2];
    nrt_f32_vact_ukernel vact;  /* the level's activation kernel (gate activations) */
    const nrt_qd8_fc_table* qd8; /* int8 W and R: the dynamic kernel, W and R packed in w[] */
    const void* qw[2];
    const void* qr[2];
    uint8_t w[];                /* the packed weights (aligned within) */
} rnn_params;

typedef struct rnn_state {
    int64_t seq, batch, in, dirs, G; /* G = gates * H */
    /* float offsets into scratch */
    size_t xw, gh, h, c, rh, bx, bh;
    size_t lens;                     /* byte offset of the int64 lengths */
    size_t qx, qh, qrows;            /* int8 W and R: quantized X, quantized h, rows' scale and zero */
} rnn_state;

/* Combined biases of direction d from B (NULL: none): bx goes with
 * x . W^T, bh with h . R^T (GRU with linear_before_reset keeps Rbh apart:
 * it stays inside r * (...)). */
static void split_biases(const float* b, int d, int64_t G, const nrt_rnn_cell* cell, float* bx, float* bh) {
    for (int64_t j = 0; j < G; j++) {
        float wb = b ? b[d * 2 * G + j] : 0.0f, rb = b ? b[d * 2 * G + G + j] : 0.0f;
        bool separate = cell->linear_before_reset && j >= 2 * cell->H;
        bx[j] = separate ? wb : wb + rb;
        bh[j] = separate ? rb : 0.0f;
    }
}

static bool constant_f32(const nrt_tensor* t, int rank, const int64_t* dims) {
    if (!t || t->kind != NRT_TENSOR_CONSTANT || t->dtype != NRT_FLOAT32 || t->rank != rank) return false;
    for (int d = 0; d < rank; d++)
        if (t->dims[d] != dims[d]) return false;
    return true;
}

static size_t aligned(size_t bytes) { return (bytes + NRT_PACK_ALIGN - 1) / NRT_PACK_ALIGN * NRT_PACK_ALIGN; }

/* Columns of R in the step's first product: GRU's candidate part is separate. */
static int64_t first_columns(const rnn_params* p) { return p->lstm ? p->gates * p->cell.H : 2 * p->cell.H; }

/* Bytes of every direction's packed W and R, 0 when they cannot be packed
 * (W, R or B not constant float32 of the expected shape: prepare reports it). */
static size_t packed_bytes(nrt_ctx* ctx, const rnn_params* p, const nrt_gemm_table* t) {
    int64_t H = p->cell.H, G = p->gates * H, dirs = p->direction == NRT_FB_RnnDirection_BIDIRECTIONAL ? 2 : 1;
    const nrt_tensor* w = nrt_in(ctx, IN_W);
    if (!w || w->rank != 3 || w->dims[2] < 1) return 0;
    int64_t wd[3] = {dirs, G, w->dims[2]}, rd[3] = {dirs, G, H}, bd[2] = {dirs, 2 * G};
    const nrt_tensor* b = nrt_in(ctx, IN_B);
    if (!constant_f32(w, 3, wd) || !constant_f32(nrt_in(ctx, IN_R), 3, rd) || (b && !constant_f32(b, 2, bd)))
        return 0;
    size_t one = aligned(nrt_gemm_packed_bytes(t, (size_t)G, (size_t)w->dims[2], 1)) +
                 aligned(nrt_gemm_packed_bytes(t, (size_t)first_columns(p), (size_t)H, 1)) +
                 (p->lstm ? 0 : aligned(nrt_gemm_packed_bytes(t, (size_t)H, (size_t)H, 1)));
    return (size_t)dirs * one + NRT_PACK_ALIGN;
}

static const uint8_t* pack_columns(const nrt_gemm_table* t, const float* w, size_t n, size_t k, const float* bias,
                                   uint8_t** at) {
    nrt_gemm_weights a = {n, k, 1, w, k, 0, 1, bias, NULL, 0, 0};
    uint8_t* dst = *at;
    nrt_gemm_pack(t, &a, dst);
    *at += aligned(nrt_gemm_packed_bytes(t, n, k, 1));
    return dst;
}

/* Packs W and R of every direction with their biases into p->w. */
static bool pack_weights(nrt_ctx* ctx, rnn_params* p, const nrt_gemm_table* t, size_t bytes) {
    int64_t H = p->cell.H, G = p->gates * H, in = nrt_in(ctx, IN_W)->dims[2];
    int dirs = p->direction == NRT_FB_RnnDirection_BIDIRECTIONAL ? 2 : 1;
    const float *W = nrt_in(ctx, IN_W)->data, *R = nrt_in(ctx, IN_R)->data;
    const nrt_tensor* b = nrt_in(ctx, IN_B);
    float* bias = malloc(2 * (size_t)G * sizeof(float));
    if (!bias) return false;
    uint8_t* at = (uint8_t*)(((uintptr_t)p->w + NRT_PACK_ALIGN - 1) & ~(uintptr_t)(NRT_PACK_ALIGN - 1));
    for (int d = 0; d < dirs; d++) {
        float *bx = bias, *bh = bias + G;
        split_biases(b ? b->data : NULL, d, G, &p->cell, bx, bh);
        const float* Rd = R + d * G * H;
        p->packed[d].w = pack_columns(t, W + d * G * in, (size_t)G, (size_t)in, bx, &at);
        p->packed[d].r = pack_columns(t, Rd, (size_t)first_columns(p), (size_t)H, bh, &at);
        if (!p->lstm) p->packed[d].r_cand = pack_columns(t, Rd + 2 * H * H, (size_t)H, (size_t)H, bh + 2 * H, &at);
    }
    free(bias);
    p->gemm = t;
    ctx->model->packed_weight_bytes += bytes - NRT_PACK_ALIGN;
    return true;
}

/* The dynamic LSTM's weights: W [dirs, G, in] and R [dirs, G, H] constant int8 with one scale
 * per direction (axis 0) or per tensor and zero point 0; B constant float32 or absent. */
static bool int8_weights(nrt_ctx* ctx, const rnn_params* p) {
    int64_t G = p->gates * p->cell.H, dirs = p->direction == NRT_FB_RnnDirection_BIDIRECTIONAL ? 2 : 1;
    const nrt_tensor* t[2] = {nrt_in(ctx, IN_W), nrt_in(ctx, IN_R)};
    if (!p->lstm || !t[0] || !t[1]) return false;
    for (int i = 0; i < 2; i++) {
        const nrt_quant* q = &t[i]->quant;
        if (t[i]->kind != NRT_TENSOR_CONSTANT || t[i]->dtype != NRT_INT8 || t[i]->rank != 3 ||
            t[i]->dims[0] != dirs || t[i]->dims[1] != G || t[i]->dims[2] < 1 ||
            (q->count != 1 && !(q->count == (uint32_t)dirs && q->axis == 0)))
            return false;
        for (uint32_t c = 0; q->zero_point && c < q->count; c++)
            if (q->zero_point[c]) return false;
    }
    const nrt_tensor* b = nrt_in(ctx, IN_B);
    int64_t bd[2] = {dirs, 2 * G};
    return t[1]->dims[2] == p->cell.H && (!b || constant_f32(b, 2, bd));
}

static size_t int8_packed_bytes(nrt_ctx* ctx, const nrt_qd8_fc_table* t) {
    const nrt_tensor *w = nrt_in(ctx, IN_W), *r = nrt_in(ctx, IN_R);
    size_t G = (size_t)w->dims[1];
    return (size_t)w->dims[0] * (aligned(t->packed_bytes(G, (size_t)w->dims[2])) +
                                 aligned(t->packed_bytes(G, (size_t)r->dims[2]))) + NRT_PACK_ALIGN;
}

static void pack_int8_weights(nrt_ctx* ctx, rnn_params* p, const nrt_qd8_fc_table* t, size_t bytes) {
    const nrt_tensor *w = nrt_in(ctx, IN_W), *r = nrt_in(ctx, IN_R);
    size_t G = (size_t)w->dims[1], in = (size_t)w->dims[2], H = (size_t)r->dims[2];
    uint8_t* at = (uint8_t*)(((uintptr_t)p->w + NRT_PACK_ALIGN - 1) & ~(uintptr_t)(NRT_PACK_ALIGN - 1));
    for (int64_t d = 0; d < w->dims[0]; d++) {
        t->pack(G, in, (const int8_t*)w->data + (size_t)d * G * in, at);
        p->qw[d] = at;
        at += aligned(t->packed_bytes(G, in));
        t->pack(G, H, (const int8_t*)r->data + (size_t)d * G * H, at);
        p->qr[d] = at;
        at += aligned(t->packed_bytes(G, H));
    }
    p->qd8 = t;
    ctx->model->packed_weight_bytes += bytes - NRT_PACK_ALIGN;
}

static nrt_status rnn_parse(nrt_ctx* ctx) {
    rnn_params opts = {0}, *p = &opts;
    uint8_t lbr, bf, forget;
    int32_t hidden;
    nrt_status st;
    if ((st = nrt_opt_u8(ctx, NRT_FB_RnnOptions_direction, 0, &p->direction)) ||
        (st = nrt_opt_i32(ctx, NRT_FB_RnnOptions_hidden_size, 0, &hidden)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_RnnOptions_linear_before_reset, 0, &lbr)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_RnnOptions_batch_first, 0, &bf)) ||
        (st = nrt_opt_f32(ctx, NRT_FB_RnnOptions_clip, 0.0f, &p->cell.clip)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_RnnOptions_input_forget, 0, &forget)))
        return st;
    if (p->direction > NRT_FB_RnnDirection_BIDIRECTIONAL)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "unknown direction %u", p->direction);
    if (hidden <= 0) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "hidden_size %d must be positive", (int)hidden);
    if (!(p->cell.clip >= 0.0f) || isinf(p->cell.clip))
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "clip %g must be finite and >= 0", (double)p->cell.clip);
    p->lstm = ctx->node->op == NRT_FB_OpType_LSTM;
    p->gates = p->lstm ? 4 : 3;
    p->batch_first = bf;
    p->cell.H = hidden;
    p->cell.input_forget = forget && p->lstm;
    p->cell.linear_before_reset = lbr && !p->lstm;
    const nrt_gemm_table* t = nrt_kernels_of(ctx)->f32_gemm;
    const nrt_qd8_fc_table* t8 = nrt_kernels_of(ctx)->qd8_fc;
    bool int8 = int8_weights(ctx, p);
    size_t bytes = int8 ? int8_packed_bytes(ctx, t8) : packed_bytes(ctx, p, t);
    rnn_params* out = nrt_alloc_params(ctx, sizeof *out + bytes);
    if (!out) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    *out = opts;
    out->vact = nrt_kernels_of(ctx)->f32_vact;
    if (int8) pack_int8_weights(ctx, out, t8, bytes);
    else if (bytes && !pack_weights(ctx, out, t, bytes))
        return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    return NRT_OK;
}

/* Checks an optional float input's shape against `want` (rank dims). */
static nrt_status expect_shape(nrt_ctx* ctx, int i, const char* role, int rank, const int64_t* want) {
    const nrt_tensor* t = nrt_in(ctx, i);
    if (!t) return NRT_OK;
    bool int8 = ((const rnn_params*)ctx->node->params)->qd8 && (i == IN_W || i == IN_R);
    if (i != IN_LENS && !int8 && t->dtype != NRT_FLOAT32)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "%s %s has type %s; only float32 is supported", role, t->name,
                           nrt_dtype_name(t->dtype));
    bool ok = t->rank == rank;
    for (int d = 0; ok && d < rank; d++) ok = t->dims[d] == want[d];
    if (!ok) {
        char buf[96] = "";
        for (int d = 0; d < rank; d++)
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%lld", d ? ", " : "", (long long)want[d]);
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "%s %s must have shape [%s]", role, t->name, buf);
    }
    return NRT_OK;
}

static nrt_status check_inputs(nrt_ctx* ctx, const rnn_params* p, const rnn_state* s) {
    int64_t H = p->cell.H;
    int64_t w[3] = {s->dirs, s->G, s->in}, r[3] = {s->dirs, s->G, H}, b[2] = {s->dirs, 2 * s->G};
    int64_t lens[1] = {s->batch}, pp[2] = {s->dirs, 3 * H};
    int64_t hs[3] = {s->dirs, s->batch, H};
    if (p->batch_first) hs[0] = s->batch, hs[1] = s->dirs;
    nrt_status st;
    if ((st = expect_shape(ctx, IN_W, "W", 3, w)) || (st = expect_shape(ctx, IN_R, "R", 3, r)) ||
        (st = expect_shape(ctx, IN_B, "B", 2, b)) || (st = expect_shape(ctx, IN_LENS, "sequence_lens", 1, lens)) ||
        (st = expect_shape(ctx, IN_H0, "initial_h", 3, hs)))
        return st;
    if (p->lstm && ((st = expect_shape(ctx, IN_C0, "initial_c", 3, hs)) || (st = expect_shape(ctx, IN_P, "P", 2, pp))))
        return st;
    const nrt_tensor* l = nrt_in(ctx, IN_LENS);
    if (l && l->dtype != NRT_INT32 && l->dtype != NRT_INT64)
        return nrt_op_fail(ctx, NRT_ERR_DTYPE, "sequence_lens %s must be int32, not %s", l->name,
                           nrt_dtype_name(l->dtype));
    return NRT_OK;
}

static nrt_status set_outputs(nrt_ctx* ctx, const rnn_params* p, const rnn_state* s) {
    int64_t H = p->cell.H;
    int64_t y[4] = {s->seq, s->dirs, s->batch, H}, hs[3] = {s->dirs, s->batch, H};
    if (p->batch_first) {
        y[0] = s->batch, y[1] = s->seq, y[2] = s->dirs;
        hs[0] = s->batch, hs[1] = s->dirs;
    }
    nrt_status st;
    for (int k = 0; k < nrt_num_out(ctx); k++) {
        nrt_tensor* o = nrt_out(ctx, k);
        if ((st = nrt_expect_dtype(ctx, o, NRT_FLOAT32, "output")) ||
            (st = k == 0 ? nrt_set_shape(ctx, o, 4, y) : nrt_set_shape(ctx, o, 3, hs)))
            return st;
    }
    return NRT_OK;
}

/* Reserves n floats at *off; false on overflow. */
static bool take(size_t* off, int64_t n, size_t* at) {
    *at = *off;
    return n >= 0 && !__builtin_add_overflow(*off, (size_t)n, off);
}

/* Lays out the scratch buffers; false on size overflow. */
static bool plan_scratch(rnn_state* s, int64_t H, bool int8, size_t* bytes) {
    int64_t rows, xw, gh, bh, xq;
    size_t off = 0;
    if (!nrt_mul_overflow_ok(s->seq, s->batch, &rows) || !nrt_mul_overflow_ok(rows, s->G, &xw) ||
        !nrt_mul_overflow_ok(s->batch, s->G, &gh) || !nrt_mul_overflow_ok(s->batch, H, &bh) ||
        !nrt_mul_overflow_ok(rows, s->in, &xq))
        return false;
    if (!take(&off, xw, &s->xw) || !take(&off, gh, &s->gh) || !take(&off, bh, &s->h) || !take(&off, bh, &s->c) ||
        !take(&off, bh, &s->rh) || !take(&off, s->G, &s->bx) || !take(&off, s->G, &s->bh) || off > SIZE_MAX / 8)
        return false;
    /* int8 (in floats' room): X and h quantized, then a scale and a zero point per row of X */
    if (int8 && (!take(&off, xq / 4 + 1, &s->qx) || !take(&off, bh / 4 + 1, &s->qh) ||
                 !take(&off, 2 * (rows > s->batch ? rows : s->batch), &s->qrows) || off > SIZE_MAX / 8))
        return false;
    off = (off + 1) / 2 * 2; /* 8-byte alignment for the lengths */
    s->lens = off * sizeof(float);
    return !__builtin_mul_overflow((size_t)s->batch, (size_t)8, bytes) &&
           !__builtin_add_overflow(*bytes, s->lens, bytes);
}

static nrt_status rnn_prepare(nrt_ctx* ctx) {
    const rnn_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, IN_X), *wt = nrt_in(ctx, IN_W), *rt = nrt_in(ctx, IN_R);
    if (!x || !wt || !rt) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "inputs X, W and R are required");
    if (x->dtype != NRT_FLOAT32)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "input %s has type %s; only float32 is supported", x->name,
                           nrt_dtype_name(x->dtype));
    if (x->rank != 3) return nrt_op_fail(ctx, NRT_ERR_SHAPE, "X %s must have rank 3, has %d", x->name, x->rank);
    rnn_state* s = nrt_alloc_state(ctx, sizeof *s);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    s->seq = x->dims[p->batch_first ? 1 : 0];
    s->batch = x->dims[p->batch_first ? 0 : 1];
    s->in = x->dims[2];
    s->dirs = p->direction == NRT_FB_RnnDirection_BIDIRECTIONAL ? 2 : 1;
    s->G = p->gates * p->cell.H;
    nrt_status st;
    if ((st = check_inputs(ctx, p, s)) || (st = set_outputs(ctx, p, s))) return st;
    size_t bytes;
    if (!plan_scratch(s, p->cell.H, p->qd8 != NULL, &bytes) || bytes > ctx->model->opts.max_arena_bytes)
        return nrt_op_fail(ctx, NRT_ERR_LIMIT, "working memory for %lld steps x %lld batch x %lld gates is too large",
                           (long long)s->seq, (long long)s->batch, (long long)s->G);
    ctx->node->scratch_bytes = bytes;
    return NRT_OK;
}

/* ---- eval ---- */
typedef struct rnn_run {
    const rnn_params* p;
    const rnn_state* s;
    float* f;          /* scratch as floats */
    int64_t* lens;
    int dir;
    bool reverse;
} rnn_run;

static const float* in_data(nrt_ctx* ctx, int i) {
    const nrt_tensor* t = nrt_in(ctx, i);
    return t ? t->data : NULL;
}


/* Initial state (layout-aware) for direction d, or zeros. */
static void init_state(const rnn_run* r, const float* src, float* dst) {
    int64_t H = r->p->cell.H, B = r->s->batch, D = r->s->dirs;
    for (int64_t b = 0; b < B; b++) {
        float* d = dst + b * H;
        if (!src) {
            memset(d, 0, sizeof(float) * (size_t)H);
            continue;
        }
        int64_t row = r->p->batch_first ? b * D + r->dir : r->dir * B + b;
        memcpy(d, src + row * H, sizeof(float) * (size_t)H);
    }
}

/* Final state; an entry with sequence length 0 gives zeros (onnxruntime's
 * choice: it never ran, so it has no last step). */
static void store_state(const rnn_run* r, const float* src, float* dst) {
    int64_t H = r->p->cell.H, B = r->s->batch, D = r->s->dirs;
    for (int64_t b = 0; b < B; b++) {
        int64_t row = r->p->batch_first ? b * D + r->dir : r->dir * B + b;
        if (r->lens[b] == 0) memset(dst + row * H, 0, sizeof(float) * (size_t)H);
        else memcpy(dst + row * H, src + b * H, sizeof(float) * (size_t)H);
    }
}

static const nrt_activation NO_ACT = {NRT_ACT_NONE, 0, 0};

/* C[rows, n] (row stride ldc) = A . packed^T + its bias on the level's GEMM. */
static void packed_product(nrt_ctx* ctx, const void* packed, size_t rows, size_t n, size_t k, const float* a,
                           float* c, size_t ldc) {
    const rnn_params* p = ctx->node->params;
    nrt_gemm_args g = {rows, n, k, 1, a, k, NULL, packed, 0, c, ldc, &NO_ACT};
    nrt_threads threads = nrt_threads_of(ctx);
    nrt_gemm_run(&threads, p->gemm, &g);
}

/* The dynamic kernel on a's `rows` rows of k values, quantized into q as one tensor (X) or
 * each row on its own (h, as onnxruntime does): c [rows, G] = q(a) . packed^T (int8 W or R
 * of direction `dir`) + bias. */
typedef struct dyn_job {
    const nrt_dyn_fc* d;
    const nrt_qd8_fc_table* t;
    const void* packed;
} dyn_job;

#define DYN_COLUMNS 256 /* columns per task: a multiple of every kernel's column block */

static void dyn_columns(void* arg, size_t begin, size_t end) {
    const dyn_job* j = arg;
    for (size_t b = begin; b < end; b++) {
        int64_t n0 = (int64_t)b * DYN_COLUMNS, n1 = n0 + DYN_COLUMNS < j->d->N ? n0 + DYN_COLUMNS : j->d->N;
        j->t->run(j->d, j->packed, 0, j->d->M, n0, n1);
    }
}

static void dynamic_product(nrt_ctx* ctx, const rnn_run* r, int w_input, const float* a, int64_t rows, int64_t k,
                            bool per_row, int8_t* q, const float* bias, float* c) {
    const rnn_params* p = r->p;
    const nrt_tensor* w = nrt_in(ctx, w_input);
    float* row_scale = r->f + r->s->qrows;
    int32_t* row_zero = (int32_t*)(row_scale + (rows > r->s->batch ? rows : r->s->batch));
    int64_t G = r->s->G;
    nrt_dyn_fc d = {rows, G, k, a, (const int8_t*)w->data + r->dir * G * k,
                    w->quant.scale + (w->quant.count > 1 ? r->dir : 0), false, bias, c, NO_ACT, q, row_scale,
                    row_zero};
    if (per_row && p->qd8->quantize_rows) {
        p->qd8->quantize_rows(&d, 0, rows);
    } else if (per_row) {
        nrt_dynamic_quantize_rows_ref(&d, 0, rows);
    } else {
        float scale;
        int32_t zero;
        nrt_dynamic_quantize_tensor(ctx, a, rows * k, q, &scale, &zero);
        for (int64_t i = 0; i < rows; i++) {
            row_scale[i] = scale;
            row_zero[i] = zero;
        }
    }
    dyn_job j = {&d, p->qd8, w_input == IN_W ? p->qw[r->dir] : p->qr[r->dir]};
    nrt_parallel_for(ctx, (size_t)((G + DYN_COLUMNS - 1) / DYN_COLUMNS), 1, dyn_columns, &j);
}

/* h . R^T (+ bh) for every batch row; GRU computes only the z and r parts
 * here, and with linear_before_reset h . Rh^T + Rbh too. */
static void recurrent_product(nrt_ctx* ctx, const rnn_run* r, const float* h) {
    const rnn_params* p = r->p;
    int64_t H = p->cell.H, G = r->s->G, n = first_columns(p);
    float* gh = r->f + r->s->gh;
    if (p->qd8) { /* (LSTM: bh is 0, its biases went into bx) */
        dynamic_product(ctx, r, IN_R, h, r->s->batch, H, true, (int8_t*)(r->f + r->s->qh), NULL, gh);
        return;
    }
    if (p->gemm) {
        packed_product(ctx, p->packed[r->dir].r, (size_t)r->s->batch, (size_t)n, (size_t)H, h, gh, (size_t)G);
        if (p->cell.linear_before_reset)
            packed_product(ctx, p->packed[r->dir].r_cand, (size_t)r->s->batch, (size_t)H, (size_t)H, h, gh + 2 * H,
                           (size_t)G);
        return;
    }
    if (p->cell.linear_before_reset) n = G;
    const float* R = (const float*)nrt_in(ctx, IN_R)->data + r->dir * G * H;
    nrt_gemm_f32 g = {r->s->batch, n, H, h, H, R, H, gh, G, r->f + r->s->bh, NO_ACT};
    nrt_gemm_f32_parallel(ctx, &g, true);
}

/* GRU without linear_before_reset: (r * h) . Rh^T into gh[:, 2H:3H]. */
static void reset_product(nrt_ctx* ctx, const rnn_run* r) {
    int64_t H = r->p->cell.H, G = r->s->G;
    const float* rh = r->f + r->s->rh;
    float* out = r->f + r->s->gh + 2 * H;
    if (r->p->gemm) {
        packed_product(ctx, r->p->packed[r->dir].r_cand, (size_t)r->s->batch, (size_t)H, (size_t)H, rh, out,
                       (size_t)G);
        return;
    }
    const float* R = (const float*)nrt_in(ctx, IN_R)->data + r->dir * G * H + 2 * H * H;
    nrt_gemm_f32 g = {r->s->batch, H, H, rh, H, R, H, out, G, NULL, NO_ACT};
    nrt_gemm_f32_parallel(ctx, &g, true);
}

/* a[j] = clip(a[j] + b[j]) for j < n, then act over them. */
static void add_clip_act(const rnn_params* p, float* a, const float* b, int64_t n, uint8_t act) {
    float c = p->cell.clip;
    for (int64_t j = 0; j < n; j++) a[j] += b[j];
    if (c > 0.0f)
        for (int64_t j = 0; j < n; j++) a[j] = a[j] < -c ? -c : (a[j] > c ? c : a[j]);
    nrt_activation f = {act, 0, 0};
    p->vact(&f, a, a, (size_t)n);
}

/* The LSTM cell without peepholes, as nrt_lstm_cell_f32_ref with the gate
 * activations on the level's vector kernel. gh (i, o, f, c) is overwritten. */
static void lstm_cell(const rnn_params* p, const float* gx, float* gh, float* h, float* c) {
    int64_t H = p->cell.H;
    float *i = gh, *o = gh + H, *f = gh + 2 * H, *g = gh + 3 * H;
    add_clip_act(p, gh, gx, 3 * H, NRT_ACT_SIGMOID);
    add_clip_act(p, g, gx + 3 * H, H, NRT_ACT_TANH);
    for (int64_t j = 0; j < H; j++) c[j] = (p->cell.input_forget ? 1.0f - i[j] : f[j]) * c[j] + i[j] * g[j];
    nrt_activation tanh_act = {NRT_ACT_TANH, 0, 0};
    p->vact(&tanh_act, c, g, (size_t)H);
    for (int64_t j = 0; j < H; j++) h[j] = o[j] * g[j];
}

/* GRU, as nrt_gru_gates_f32_ref / nrt_gru_update_f32_ref on the vector kernel. */
static void gru_gates(const rnn_params* p, const float* gx, float* gh, const float* h, float* rh) {
    int64_t H = p->cell.H;
    add_clip_act(p, gh, gx, 2 * H, NRT_ACT_SIGMOID);
    if (!p->cell.linear_before_reset)
        for (int64_t j = 0; j < H; j++) rh[j] = gh[H + j] * h[j];
}

static void gru_update(const rnn_params* p, const float* gx, float* gh, float* h) {
    int64_t H = p->cell.H;
    float *z = gh, *r = gh + H, *a = gh + 2 * H;
    if (p->cell.linear_before_reset)
        for (int64_t j = 0; j < H; j++) a[j] *= r[j];
    add_clip_act(p, a, gx + 2 * H, H, NRT_ACT_TANH);
    for (int64_t j = 0; j < H; j++) h[j] = (1.0f - z[j]) * a[j] + z[j] * h[j];
}

static void step(nrt_ctx* ctx, const rnn_run* r, int64_t s_idx, float* y) {
    const rnn_params* p = r->p;
    const rnn_state* s = r->s;
    int64_t H = p->cell.H, B = s->batch, G = s->G;
    float *h = r->f + s->h, *c = r->f + s->c, *gh = r->f + s->gh, *rh = r->f + s->rh;
    const float* peep = in_data(ctx, IN_P);
    if (peep) peep += r->dir * 3 * H;
    bool fast = p->gemm || p->qd8; /* (packed weights: the vector cell) */
    recurrent_product(ctx, r, h);
    for (int64_t b = 0; b < B; b++) {
        if (s_idx >= r->lens[b]) continue;
        int64_t t = r->reverse ? r->lens[b] - 1 - s_idx : s_idx;
        const float* gx = r->f + s->xw + (p->batch_first ? b * s->seq + t : t * B + b) * G;
        if (p->lstm && fast && !peep) lstm_cell(p, gx, gh + b * G, h + b * H, c + b * H);
        else if (p->lstm) nrt_lstm_cell_f32_ref(&p->cell, gx, gh + b * G, peep, h + b * H, c + b * H);
        else if (fast) gru_gates(p, gx, gh + b * G, h + b * H, rh + b * H);
        else nrt_gru_gates_f32_ref(&p->cell, gx, gh + b * G, h + b * H, rh + b * H);
    }
    if (!p->lstm && !p->cell.linear_before_reset) reset_product(ctx, r);
    for (int64_t b = 0; b < B; b++) {
        if (s_idx >= r->lens[b]) continue;
        int64_t t = r->reverse ? r->lens[b] - 1 - s_idx : s_idx;
        const float* gx = r->f + s->xw + (p->batch_first ? b * s->seq + t : t * B + b) * G;
        if (!p->lstm && fast) gru_update(p, gx, gh + b * G, h + b * H);
        else if (!p->lstm) nrt_gru_update_f32_ref(&p->cell, gx, gh + b * G, h + b * H);
        int64_t row = p->batch_first ? (b * s->seq + t) * s->dirs + r->dir : (t * s->dirs + r->dir) * B + b;
        memcpy(y + row * H, h + b * H, sizeof(float) * (size_t)H);
    }
}

/* x . W^T + bx for every step into scratch. */
static void input_product(nrt_ctx* ctx, const rnn_run* r) {
    const rnn_state* s = r->s;
    const nrt_tensor* x = nrt_in(ctx, IN_X);
    if (r->p->gemm) {
        packed_product(ctx, r->p->packed[r->dir].w, (size_t)(s->seq * s->batch), (size_t)s->G, (size_t)s->in,
                       x->data, r->f + s->xw, (size_t)s->G);
        return;
    }
    split_biases(in_data(ctx, IN_B), r->dir, s->G, &r->p->cell, r->f + s->bx, r->f + s->bh);
    if (r->p->qd8) {
        dynamic_product(ctx, r, IN_W, x->data, s->seq * s->batch, s->in, false, (int8_t*)(r->f + s->qx),
                        r->f + s->bx, r->f + s->xw);
        return;
    }
    const float* W = (const float*)nrt_in(ctx, IN_W)->data + r->dir * s->G * s->in;
    nrt_gemm_f32 g = {s->seq * s->batch, s->G, s->in, x->data, s->in, W, s->in, r->f + s->xw, s->G, r->f + s->bx,
                      NO_ACT};
    nrt_gemm_f32_parallel(ctx, &g, true);
}

static void run_direction(nrt_ctx* ctx, rnn_run* r, float* y) {
    const rnn_state* s = r->s;
    int64_t H = r->p->cell.H;
    input_product(ctx, r);
    init_state(r, in_data(ctx, IN_H0), r->f + s->h);
    init_state(r, r->p->lstm ? in_data(ctx, IN_C0) : NULL, r->f + s->c);
    memset(r->f + s->rh, 0, sizeof(float) * (size_t)(s->batch * H));
    for (int64_t i = 0; i < s->seq; i++) step(ctx, r, i, y);
    for (int k = 1; k < nrt_num_out(ctx); k++)
        store_state(r, r->f + (k == 1 ? s->h : s->c), nrt_out(ctx, k)->data);
}

static nrt_status read_lens(nrt_ctx* ctx, const rnn_state* s, int64_t* lens) {
    const nrt_tensor* t = nrt_in(ctx, IN_LENS);
    for (int64_t b = 0; b < s->batch; b++) {
        int64_t v = !t ? s->seq : t->dtype == NRT_INT32 ? ((const int32_t*)t->data)[b] : ((const int64_t*)t->data)[b];
        if (v < 0 || v > s->seq)
            return nrt_op_fail(ctx, NRT_ERR_INVALID_ARGUMENT, "sequence_lens[%lld] = %lld is outside [0, %lld]",
                               (long long)b, (long long)v, (long long)s->seq);
        lens[b] = v;
    }
    return NRT_OK;
}

static nrt_status rnn_eval(nrt_ctx* ctx) {
    const rnn_params* p = ctx->node->params;
    const rnn_state* s = ctx->node->state;
    nrt_tensor* y = nrt_out(ctx, 0);
    rnn_run r = {p, s, ctx->node->scratch, (int64_t*)((uint8_t*)ctx->node->scratch + s->lens), 0, false};
    nrt_status st = read_lens(ctx, s, r.lens);
    if (st) return st;
    memset(y->data, 0, y->nbytes);
    for (int d = 0; d < s->dirs; d++) {
        r.dir = d;
        r.reverse = p->direction == NRT_FB_RnnDirection_REVERSE || d == 1;
        run_direction(ctx, &r, y->data);
    }
    return NRT_OK;
}

const nrt_op_def nrt_op_LSTM = {"LSTM", 0, NRT_FB_OpOptions_RnnOptions, 3, 8, 1, 3,
                                rnn_parse, rnn_prepare, rnn_eval, NULL};
const nrt_op_def nrt_op_GRU = {"GRU", 0, NRT_FB_OpOptions_RnnOptions, 3, 6, 1, 2,
                               rnn_parse, rnn_prepare, rnn_eval, NULL};
