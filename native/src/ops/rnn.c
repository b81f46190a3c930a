/* LSTM and GRU (ONNX semantics, default activations only), float32.
 * Inputs X, W, R, B?, sequence_lens?, initial_h?, initial_c? (LSTM), P?
 * (LSTM); outputs Y, Y_h?, Y_c? (LSTM). Directions forward / reverse /
 * bidirectional; batch_first = ONNX layout 1. With sequence_lens, steps
 * past a batch entry's length leave its state alone and give Y = 0; the
 * reverse direction runs from that entry's last valid step; an entry of
 * length 0 gives Y_h = Y_c = 0 (as onnxruntime does).
 *
 * Per direction: one product X . W^T + biases for all steps (into scratch),
 * then per step h . R^T and the cell update of every active batch row. */
#include <stdio.h>
#include <string.h>

#include "../kernels/dtype.h"
#include "../kernels/ref/rnn_ref.h"
#include "matmul.h"

enum { IN_X, IN_W, IN_R, IN_B, IN_LENS, IN_H0, IN_C0, IN_P };

typedef struct rnn_params {
    uint8_t direction;
    bool batch_first, lstm;
    int gates;            /* 4 (LSTM) or 3 (GRU) */
    nrt_rnn_cell cell;
} rnn_params;

typedef struct rnn_state {
    int64_t seq, batch, in, dirs, G; /* G = gates * H */
    /* float offsets into scratch */
    size_t xw, gh, h, c, rh, bx, bh;
    size_t lens;                     /* byte offset of the int64 lengths */
} rnn_state;

static nrt_status rnn_parse(nrt_ctx* ctx) {
    rnn_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
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
    return NRT_OK;
}

/* Checks an optional float input's shape against `want` (rank dims). */
static nrt_status expect_shape(nrt_ctx* ctx, int i, const char* role, int rank, const int64_t* want) {
    const nrt_tensor* t = nrt_in(ctx, i);
    if (!t) return NRT_OK;
    if (i != IN_LENS && t->dtype != NRT_FLOAT32)
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
static bool plan_scratch(rnn_state* s, int64_t H, size_t* bytes) {
    int64_t rows, xw, gh, bh;
    size_t off = 0;
    if (!nrt_mul_overflow_ok(s->seq, s->batch, &rows) || !nrt_mul_overflow_ok(rows, s->G, &xw) ||
        !nrt_mul_overflow_ok(s->batch, s->G, &gh) || !nrt_mul_overflow_ok(s->batch, H, &bh))
        return false;
    if (!take(&off, xw, &s->xw) || !take(&off, gh, &s->gh) || !take(&off, bh, &s->h) || !take(&off, bh, &s->c) ||
        !take(&off, bh, &s->rh) || !take(&off, s->G, &s->bx) || !take(&off, s->G, &s->bh) || off > SIZE_MAX / 8)
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
    if (!plan_scratch(s, p->cell.H, &bytes) || bytes > ctx->model->opts.max_arena_bytes)
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

/* Combined biases of direction d: bx goes with x . W^T, bh with h . R^T. */
static void biases(nrt_ctx* ctx, const rnn_run* r) {
    const float* b = in_data(ctx, IN_B);
    int64_t G = r->s->G, H = r->p->cell.H;
    float *bx = r->f + r->s->bx, *bh = r->f + r->s->bh;
    for (int64_t j = 0; j < G; j++) {
        float wb = b ? b[r->dir * 2 * G + j] : 0.0f, rb = b ? b[r->dir * 2 * G + G + j] : 0.0f;
        bool separate = r->p->cell.linear_before_reset && j >= 2 * H; /* GRU: Rbh stays inside r * (...) */
        bx[j] = separate ? wb : wb + rb;
        bh[j] = separate ? rb : 0.0f;
    }
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

/* h . R^T (+ bh) for every batch row; GRU without linear_before_reset
 * computes only the z and r parts here. */
static void recurrent_product(nrt_ctx* ctx, const rnn_run* r, const float* h, int64_t n) {
    int64_t H = r->p->cell.H;
    const float* R = (const float*)nrt_in(ctx, IN_R)->data + r->dir * r->s->G * H;
    nrt_gemm_f32 g = {r->s->batch, n, H, h, H, R, H, r->f + r->s->gh, r->s->G, r->f + r->s->bh,
                      {NRT_ACT_NONE, 0, 0}};
    nrt_gemm_f32_parallel(ctx, &g, true);
}

/* GRU without linear_before_reset: (r * h) . Rh^T into gh[:, 2H:3H]. */
static void reset_product(nrt_ctx* ctx, const rnn_run* r) {
    int64_t H = r->p->cell.H;
    const float* R = (const float*)nrt_in(ctx, IN_R)->data + r->dir * r->s->G * H + 2 * H * H;
    nrt_gemm_f32 g = {r->s->batch, H, H, r->f + r->s->rh, H, R, H, r->f + r->s->gh + 2 * H, r->s->G, NULL,
                      {NRT_ACT_NONE, 0, 0}};
    nrt_gemm_f32_parallel(ctx, &g, true);
}

static void step(nrt_ctx* ctx, const rnn_run* r, int64_t s_idx, float* y) {
    const rnn_params* p = r->p;
    const rnn_state* s = r->s;
    int64_t H = p->cell.H, B = s->batch, G = s->G;
    float *h = r->f + s->h, *c = r->f + s->c, *gh = r->f + s->gh, *rh = r->f + s->rh;
    const float* peep = in_data(ctx, IN_P);
    if (peep) peep += r->dir * 3 * H;
    bool two_products = !p->lstm && !p->cell.linear_before_reset;
    recurrent_product(ctx, r, h, two_products ? 2 * H : G);
    for (int64_t b = 0; b < B; b++) {
        if (s_idx >= r->lens[b]) continue;
        int64_t t = r->reverse ? r->lens[b] - 1 - s_idx : s_idx;
        const float* gx = r->f + s->xw + (p->batch_first ? b * s->seq + t : t * B + b) * G;
        if (p->lstm) nrt_lstm_cell_f32_ref(&p->cell, gx, gh + b * G, peep, h + b * H, c + b * H);
        else nrt_gru_gates_f32_ref(&p->cell, gx, gh + b * G, h + b * H, rh + b * H);
    }
    if (two_products) reset_product(ctx, r);
    for (int64_t b = 0; b < B; b++) {
        if (s_idx >= r->lens[b]) continue;
        int64_t t = r->reverse ? r->lens[b] - 1 - s_idx : s_idx;
        const float* gx = r->f + s->xw + (p->batch_first ? b * s->seq + t : t * B + b) * G;
        if (!p->lstm) nrt_gru_update_f32_ref(&p->cell, gx, gh + b * G, h + b * H);
        int64_t row = p->batch_first ? (b * s->seq + t) * s->dirs + r->dir : (t * s->dirs + r->dir) * B + b;
        memcpy(y + row * H, h + b * H, sizeof(float) * (size_t)H);
    }
}

static void run_direction(nrt_ctx* ctx, rnn_run* r, float* y) {
    const rnn_state* s = r->s;
    int64_t H = r->p->cell.H;
    biases(ctx, r);
    const nrt_tensor* x = nrt_in(ctx, IN_X);
    const float* W = (const float*)nrt_in(ctx, IN_W)->data + r->dir * s->G * s->in;
    nrt_gemm_f32 g = {s->seq * s->batch, s->G, s->in, x->data, s->in, W, s->in, r->f + s->xw, s->G, r->f + s->bx,
                      {NRT_ACT_NONE, 0, 0}};
    nrt_gemm_f32_parallel(ctx, &g, true);
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
