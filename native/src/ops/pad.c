/* Pad, any element type. Inputs: data, pads (static int64: begins then
 * ends, one pair per axis), constant_value? (one element of data's type,
 * read at run time), axes? (static; the axes the pads apply to).
 * Modes constant / reflect / edge / wrap. A negative pad crops: the crop is
 * applied first and the border modes read from the cropped tensor.
 * Quantized int8 (kernels/requant.h): input and output parameters must be
 * equal; the constant is z_x (real zero) when no value is given, a float32
 * value quantized with x's parameters, or an int8 value taken as a code. */
#include <string.h>

#include "../kernels/dtype.h"
#include "../engine/op.h"
#include "../kernels/ref/pad_ref.h"
#include "../kernels/ref/quant_ref.h"
#include "quant_common.h"

/* Pads beyond this size are rejected (keeps index arithmetic in range). */
#define PAD_MAX ((int64_t)1 << 40)

typedef struct pad_params {
    uint8_t mode;
} pad_params;

typedef struct pad_state {
    bool int8;
    nrt_qs8 q; /* int8: x's parameters */
    int64_t in_dims[NRT_MAX_RANK], out_dims[NRT_MAX_RANK];
    const int64_t* map[NRT_MAX_RANK];
    nrt_pad_plan plan;
    int64_t maps[]; /* the index maps, back to back */
} pad_state;

static nrt_status pad_parse(nrt_ctx* ctx) {
    pad_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    nrt_status st = nrt_opt_u8(ctx, NRT_FB_PadOptions_mode, 0, &p->mode);
    if (st != NRT_OK) return st;
    if (p->mode > NRT_FB_PadMode_WRAP) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "unknown pad mode %u", p->mode);
    return NRT_OK;
}

/* Begin/end pad per axis of x, from the pads (and axes) inputs. */
static nrt_status read_pads(nrt_ctx* ctx, const nrt_tensor* x, int64_t* begin, int64_t* end) {
    int r = x->rank, axes[NRT_MAX_RANK], naxes = r;
    int64_t pads[2 * NRT_MAX_RANK], v[NRT_MAX_RANK];
    int count;
    nrt_status st;
    for (int a = 0; a < r; a++) axes[a] = a, begin[a] = end[a] = 0;
    const nrt_tensor* t_axes = nrt_in(ctx, 3);
    if (t_axes) {
        if ((st = nrt_read_static_ints(ctx, t_axes, "axes", v, NRT_MAX_RANK, &naxes))) return st;
        for (int i = 0; i < naxes; i++) {
            if ((st = nrt_axis(ctx, v[i], r, &axes[i]))) return st;
            for (int k = 0; k < i; k++)
                if (axes[k] == axes[i]) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "axis %d is repeated", axes[i]);
        }
    }
    if ((st = nrt_read_static_ints(ctx, nrt_in(ctx, 1), "pads", pads, 2 * NRT_MAX_RANK, &count))) return st;
    if (count != 2 * naxes)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "pads has %d values, expected %d (2 per padded axis)", count, 2 * naxes);
    for (int i = 0; i < naxes; i++) {
        int64_t b = pads[i], e = pads[naxes + i];
        if (b < -PAD_MAX || b > PAD_MAX || e < -PAD_MAX || e > PAD_MAX)
            return nrt_op_fail(ctx, NRT_ERR_LIMIT, "pads of axis %d are too large", axes[i]);
        begin[axes[i]] = b;
        end[axes[i]] = e;
    }
    return NRT_OK;
}

/* Source index of position t relative to the kept (cropped) run [0, len). */
static int64_t border_index(uint8_t mode, int64_t t, int64_t len) {
    if (t >= 0 && t < len) return t;
    switch (mode) {
    case NRT_FB_PadMode_EDGE: return t < 0 ? 0 : len - 1;
    case NRT_FB_PadMode_WRAP: return ((t % len) + len) % len;
    case NRT_FB_PadMode_REFLECT: {
        if (len == 1) return 0;
        int64_t period = 2 * (len - 1), u = ((t % period) + period) % period;
        return u < len ? u : period - u;
    }
    default: return -1;
    }
}

static nrt_status build_plan(nrt_ctx* ctx, const nrt_tensor* x, const int64_t* begin, const int64_t* end) {
    const pad_params* p = ctx->node->params;
    int r = x->rank;
    int64_t total = 0, out[NRT_MAX_RANK];
    for (int a = 0; a < r; a++) {
        int64_t kept = x->dims[a] + (begin[a] < 0 ? begin[a] : 0) + (end[a] < 0 ? end[a] : 0);
        out[a] = x->dims[a] + begin[a] + end[a];
        if (kept < 0 || out[a] < 0)
            return nrt_op_fail(ctx, NRT_ERR_SHAPE, "pads %lld, %lld crop more than axis %d's %lld values",
                               (long long)begin[a], (long long)end[a], a, (long long)x->dims[a]);
        if (kept == 0 && out[a] > 0 && p->mode != NRT_FB_PadMode_CONSTANT)
            return nrt_op_fail(ctx, NRT_ERR_SHAPE, "axis %d has no values for this pad mode to repeat", a);
        total += out[a];
    }
    nrt_status st = nrt_set_shape(ctx, nrt_out(ctx, 0), r, out);
    if (st != NRT_OK) return st;
    /* An empty output needs no maps (eval returns at once); the other axes'
     * sizes are only bounded by the output size when it is not empty. */
    if (nrt_numel(nrt_out(ctx, 0)) == 0) return nrt_alloc_state(ctx, sizeof(pad_state)) ? NRT_OK
                                                   : nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    pad_state* s = nrt_alloc_state(ctx, sizeof *s + (size_t)total * sizeof(int64_t));
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    int64_t* m = s->maps;
    for (int a = 0; a < r; a++) {
        int64_t crop = begin[a] < 0 ? -begin[a] : 0, lead = begin[a] > 0 ? begin[a] : 0;
        int64_t kept = x->dims[a] - crop - (end[a] < 0 ? -end[a] : 0);
        for (int64_t o = 0; o < out[a]; o++) {
            int64_t t = border_index(p->mode, o - lead, kept);
            m[o] = t < 0 ? -1 : crop + t;
        }
        s->map[a] = m;
        s->in_dims[a] = x->dims[a];
        s->out_dims[a] = out[a];
        if (a == r - 1) {
            s->plan.run_out = lead;
            s->plan.run_src = crop;
            s->plan.run_len = kept < out[a] - lead ? kept : out[a] - lead;
            s->plan.edges_constant = true;
            for (int64_t o = 0; o < out[a]; o++)
                if ((o < lead || o >= lead + s->plan.run_len) && m[o] >= 0) s->plan.edges_constant = false;
        }
        m += out[a];
    }
    uint64_t elem;
    nrt_dtype_bytes(x->dtype, 1, &elem);
    s->plan.rank = r;
    s->plan.elem = (size_t)elem;
    s->plan.in_dims = s->in_dims;
    s->plan.out_dims = s->out_dims;
    s->plan.map = s->map;
    return NRT_OK;
}

static nrt_status pad_prepare(nrt_ctx* ctx) {
    nrt_tensor *x = nrt_in(ctx, 0), *value = nrt_in(ctx, 2);
    if (!nrt_in(ctx, 1)) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "pads (input 1) is required");
    nrt_status st = nrt_expect_same_dtype(ctx, x, nrt_out(ctx, 0));
    if (st != NRT_OK) return st;
    if (x->dtype == NRT_INT4) return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "int4 tensors are not supported");
    bool int8 = nrt_is_qs8(x);
    if (int8 && (st = nrt_qs8_same_params(ctx, x, nrt_out(ctx, 0)))) return st;
    if (int8 && value && nrt_numel(value) > 0 && value->dtype != NRT_FLOAT32 && value->dtype != NRT_INT8)
        return nrt_op_fail(ctx, NRT_ERR_DTYPE, "constant_value %s of an int8 Pad must be float32 (quantized) or int8",
                           value->name);
    if (int8 && value && nrt_numel(value) > 1)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "constant_value %s must hold one value", value->name);
    if (!int8 && value && nrt_numel(value) > 0) {
        if ((st = nrt_expect_same_dtype(ctx, x, value))) return st;
        if (nrt_numel(value) != 1)
            return nrt_op_fail(ctx, NRT_ERR_SHAPE, "constant_value %s must hold one value", value->name);
    }
    int64_t begin[NRT_MAX_RANK], end[NRT_MAX_RANK];
    if ((st = read_pads(ctx, x, begin, end))) return st;
    if (x->rank == 0) {
        nrt_alloc_state(ctx, 0);
        return nrt_set_shape_like(ctx, nrt_out(ctx, 0), x);
    }
    if ((st = build_plan(ctx, x, begin, end))) return st;
    pad_state* s = ctx->node->state;
    s->int8 = int8;
    return int8 ? nrt_qs8_params(ctx, x, "input", &s->q) : NRT_OK;
}

/* The int8 constant: z_x, a float value quantized, or an int8 code. */
static int8_t int8_fill(const pad_state* s, const nrt_tensor* value) {
    if (!value || nrt_numel(value) == 0) return (int8_t)s->q.zero_point;
    if (value->dtype == NRT_INT8) return *(const int8_t*)value->data;
    return (int8_t)nrt_quantize_value(*(const float*)value->data, s->q.scale, s->q.zero_point, -128.0, 127.0);
}

typedef struct pad_job {
    const nrt_pad_plan* plan;
    const uint8_t* x;
    uint8_t* y;
} pad_job;

static void pad_rows(void* arg, size_t begin, size_t end) {
    const pad_job* j = arg;
    nrt_pad_ref(j->plan, j->x, j->y, (int64_t)begin, (int64_t)end);
}

static nrt_status pad_eval(nrt_ctx* ctx) {
    nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0), *value = nrt_in(ctx, 2);
    if (x->rank == 0) {
        memcpy(y->data, x->data, x->nbytes);
        return NRT_OK;
    }
    const pad_state* s = ctx->node->state;
    uint64_t zero[1] = {0};
    int8_t fill = s->int8 ? int8_fill(s, value) : 0;
    nrt_pad_plan plan = s->plan;
    plan.value = s->int8 ? (const uint8_t*)&fill : value && nrt_numel(value) == 1 ? value->data : (const uint8_t*)zero;
    int64_t rows = nrt_numel(y) / (y->dims[y->rank - 1] ? y->dims[y->rank - 1] : 1);
    if (nrt_numel(y) == 0) return NRT_OK;
    pad_job job = {&plan, x->data, y->data};
    nrt_parallel_for(ctx, (size_t)rows, 1 + 16384 / (size_t)y->dims[y->rank - 1], pad_rows, &job);
    return NRT_OK;
}

/* A float32 Pad that appends zeros to the last axis only (BlazeFace's
 * channel padding; engine/prepare.c fuse_residual). */
bool nrt_pad_is_zero_tail(const nrt_model* m, const nrt_node* node) {
    const pad_params* p = node->params;
    const pad_state* s = node->state;
    const nrt_tensor* x = &m->tensors[node->inputs[0]];
    if (!s || node->op != NRT_FB_OpType_Pad || p->mode != NRT_FB_PadMode_CONSTANT || x->dtype != NRT_FLOAT32 ||
        x->rank < 1 || s->plan.rank != x->rank || s->int8)
        return false;
    if (node->num_inputs > 2 && node->inputs[2] >= 0) { /* a constant value: 0 only */
        const nrt_tensor* v = &m->tensors[node->inputs[2]];
        if (nrt_numel(v) > 0 && !(nrt_is_static(v) && *(const float*)v->data == 0.0f)) return false;
    }
    int last = s->plan.rank - 1;
    for (int a = 0; a <= last; a++) {
        int64_t kept = a == last ? s->in_dims[a] : s->out_dims[a];
        if (s->in_dims[a] > s->out_dims[a]) return false;
        for (int64_t o = 0; o < s->out_dims[a]; o++)
            if (s->map[a][o] != (o < kept ? o : -1)) return false;
    }
    return true;
}

const nrt_op_def nrt_op_Pad = {"Pad", 0, NRT_FB_OpOptions_PadOptions, 2, 4, 1, 1,
                               pad_parse, pad_prepare, pad_eval, NULL};
