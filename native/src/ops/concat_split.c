/* Concat and Split along one axis. Both see a tensor as [outer, axis *
 * inner] rows and copy each input's (output's) block of every row. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/ref/qs8_ref.h"
#include "../kernels/requant.h"
#include "../kernels/dispatch.h"
#include "movement_util.h"
#include "upsample.h"

bool nrt_blocks_contiguous(const nrt_node* node, size_t* offsets);

typedef struct axis_params {
    int32_t axis;
    int32_t num_outputs; /* Split: 0 = one part per output */
    nrt_upsample up;     /* Concat: inputs read upsampled (upsample.h) */
} axis_params;

/* Per-shape state: the row count and each part's bytes per row. */
typedef struct blocks_state {
    size_t rows, row_bytes;
    int n;
    size_t* block_bytes;          /* n entries */
    void** ptrs;                  /* n entries: the parts' data, filled at eval */
    nrt_int8_rescale* rescale;    /* Concat of int8 inputs quantized unlike the output, else NULL */
    nrt_qs8_rescale_ukernel fast;  /* the level's rescale kernel for them (qs8_kernels.h) */
    const nrt_upsample* up;       /* Concat with upsampled inputs (channel axis of 4-D tensors), else NULL */
    int64_t height, width;        /* up: the output's H and W */
    size_t cache_at[NRT_UPSAMPLE_MAX_INPUTS]; /* up: see plan_row_cache */
} blocks_state;

/* The state and its arrays in one block (rescale's room stays unused when
 * no input needs it). */
typedef struct blocks_storage {
    blocks_state s;
    size_t room_for_rescale; /* offset of the rescale entries */
    _Alignas(16) uint8_t arrays[];
} blocks_storage;

static blocks_state* alloc_blocks(nrt_ctx* ctx, int n) {
    size_t sizes = ((size_t)n + 1) * sizeof(size_t), ptrs = ((size_t)n + 1) * sizeof(void*);
    size_t rescale_at = (sizes + ptrs + 15) / 16 * 16;
    blocks_storage* b = nrt_alloc_state(ctx, sizeof *b + rescale_at + (size_t)n * sizeof(nrt_int8_rescale));
    if (!b) return NULL;
    b->s.n = n;
    b->s.block_bytes = (size_t*)b->arrays;
    b->s.ptrs = (void**)(b->arrays + sizes);
    b->room_for_rescale = rescale_at;
    return &b->s;
}

/* rows = prod(dims[:axis]); per-row bytes of a part = its axis dim x prod(dims[axis+1:]) x esize. */
static size_t rows_before(const nrt_tensor* t, int axis) {
    size_t r = 1;
    for (int d = 0; d < axis; d++) r *= (size_t)t->dims[d];
    return r;
}

static size_t bytes_from(const nrt_tensor* t, int axis) {
    size_t b = nrt_dtype_size(t->dtype);
    for (int d = axis; d < t->rank; d++) b *= (size_t)t->dims[d];
    return b;
}

static nrt_status axis_parse(nrt_ctx* ctx) {
    axis_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    nrt_status st;
    if (ctx->node->op == NRT_FB_OpType_Split) {
        if ((st = nrt_opt_i32(ctx, NRT_FB_SplitOptions_axis, 0, &p->axis)) ||
            (st = nrt_opt_i32(ctx, NRT_FB_SplitOptions_num_outputs, 0, &p->num_outputs)))
            return st;
        if (p->num_outputs < 0)
            return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "num_outputs %d is negative", (int)p->num_outputs);
        if (p->num_outputs && p->num_outputs != ctx->node->num_outputs)
            return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "num_outputs is %d but the node has %d outputs",
                               (int)p->num_outputs, ctx->node->num_outputs);
        return NRT_OK;
    }
    if ((st = nrt_opt_i32(ctx, NRT_FB_AxisOptions_axis, 0, &p->axis))) return st;
    return nrt_upsample_parse(ctx, NRT_FB_AxisOptions_upsample, &p->up);
}

/* Parts are contiguous blocks when there is one row (every dim before the
 * axis is 1) and each part is copied as is. */
bool nrt_blocks_contiguous(const nrt_node* node, size_t* offsets) {
    const blocks_state* s = node->state;
    if (!s || s->rows != 1 || s->rescale || s->up) return false;
    size_t offset = 0;
    for (int k = 0; k < s->n; k++) {
        offsets[k] = offset;
        offset += s->block_bytes[k];
    }
    return true;
}

/* One-row parts: each copied unless the planner put it in place. */
static void copy_parts_once(const blocks_state* s, uint8_t* joined, bool into_joined) {
    size_t offset = 0;
    for (int k = 0; k < s->n; k++) {
        uint8_t* part = s->ptrs[k];
        if (part != joined + offset && s->block_bytes[k]) {
            if (into_joined) memcpy(joined + offset, part, s->block_bytes[k]);
            else memcpy(part, joined + offset, s->block_bytes[k]);
        }
        offset += s->block_bytes[k];
    }
}

/* ---- Concat ---- */

/* Int8 inputs whose quantization differs from the output's are rescaled
 * as requant.h specifies; others are copied. */
static nrt_status concat_rescale(nrt_ctx* ctx, blocks_state* s, const nrt_tensor* y) {
    const nrt_quant* qy = &y->quant;
    for (int k = 0; k < s->n; k++) {
        const nrt_tensor* x = nrt_in(ctx, k);
        if (nrt_mv_same_quant(&x->quant, qy)) continue;
        if (x->dtype != NRT_INT8 || x->quant.count != 1 || qy->count != 1 || x->quant.block_size || qy->block_size)
            return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "input %s and output %s are quantized differently; only "
                               "per-tensor int8 inputs are rescaled", x->name, y->name);
        if (!s->rescale) {
            blocks_storage* b = (blocks_storage*)s;
            s->rescale = (nrt_int8_rescale*)(b->arrays + b->room_for_rescale);
        }
        s->rescale[k] = (nrt_int8_rescale){false, nrt_requant_multiplier(x->quant.scale[0], 1.0, qy->scale[0]),
                                           x->quant.zero_point ? (int32_t)x->quant.zero_point[0] : 0,
                                           qy->zero_point ? (int32_t)qy->zero_point[0] : 0};
        if (!nrt_requant_multiplier_ok(s->rescale[k].m))
            return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "rescaling %s to %s needs a multiplier %g outside the int8 "
                               "range (|m| <= 2^64)", x->name, y->name, (double)s->rescale[k].m);
    }
    for (int k = 0; s->rescale && k < s->n; k++)
        if (nrt_mv_same_quant(&nrt_in(ctx, k)->quant, qy)) s->rescale[k].copy = true;
    s->fast = s->rescale ? nrt_kernels_of(ctx)->qs8_rescale : NULL;
    return NRT_OK;
}

/* An upsampled input that needs rescaling repeats each source row in fh
 * output rows: its rescaled row is kept (per task, on the stack) for the
 * next ones when it fits. cache_at[k]: its place there, or NOT_CACHED. */
#define ROW_CACHE_BYTES 4096
#define NOT_CACHED SIZE_MAX

static void plan_row_cache(blocks_state* s) {
    size_t used = 0;
    for (int k = 0; k < s->n; k++) {
        size_t bytes = (size_t)(s->width / s->up->f[k][1]) * s->block_bytes[k];
        bool worth = s->rescale && !s->rescale[k].copy && s->up->f[k][0] > 1 && bytes;
        s->cache_at[k] = worth && bytes <= ROW_CACHE_BYTES - used ? used : NOT_CACHED;
        if (s->cache_at[k] != NOT_CACHED) used += bytes;
    }
}

/* Input t (seen as dims: upsampled when it is) against the first input (seen as first_dims). */
static nrt_status check_concat_input(nrt_ctx* ctx, const nrt_tensor* first, const int64_t* first_dims,
                                     const nrt_tensor* t, const int64_t* dims, int axis) {
    if (t->dtype == NRT_INT4)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "input %s is int4, a packed weight type", t->name);
    nrt_status st = nrt_expect_same_dtype(ctx, first, t);
    if (st) return st;
    if (t->rank != first->rank)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "inputs %s and %s have ranks %d and %d", first->name, t->name,
                           first->rank, t->rank);
    for (int d = 0; d < t->rank; d++)
        if (d != axis && dims[d] != first_dims[d]) {
            char a[96], b[96];
            return nrt_op_fail(ctx, NRT_ERR_SHAPE, "inputs %s %s and %s %s differ outside axis %d (as upsampled)",
                               first->name, nrt_mv_dims_str(first->rank, first_dims, a, sizeof a), t->name,
                               nrt_mv_dims_str(t->rank, dims, b, sizeof b), axis);
        }
    return NRT_OK;
}

static nrt_status concat_prepare(nrt_ctx* ctx) {
    const axis_params* p = ctx->node->params;
    int n = nrt_num_in(ctx);
    nrt_tensor *first, *y = nrt_out(ctx, 0);
    nrt_status st = nrt_mv_input(ctx, 0, "inputs", &first);
    if (st) return st;
    if (first->rank == 0) return nrt_op_fail(ctx, NRT_ERR_SHAPE, "cannot concatenate scalars (%s)", first->name);
    int axis;
    if ((st = nrt_axis(ctx, p->axis, first->rank, &axis)) || (st = nrt_expect_same_dtype(ctx, first, y))) return st;
    if (p->up.any && (first->rank != 4 || axis != 3))
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "upsampled inputs are concatenated on axis 3 of 4-D tensors "
                           "only (axis %d, rank %d)", axis, first->rank);
    int64_t dims[NRT_MAX_RANK] = {0}, first_dims[NRT_MAX_RANK] = {0}, view[NRT_MAX_RANK] = {0};
    if ((st = nrt_upsample_view(ctx, &p->up, 0, first, first_dims))) return st;
    memcpy(dims, first_dims, sizeof dims);
    dims[axis] = 0;
    for (int k = 0; k < n; k++) {
        nrt_tensor* t;
        if ((st = nrt_mv_input(ctx, k, "inputs", &t)) || (st = nrt_upsample_view(ctx, &p->up, k, t, view)) ||
            (st = check_concat_input(ctx, first, first_dims, t, view, axis)))
            return st;
        if (__builtin_add_overflow(dims[axis], t->dims[axis], &dims[axis]))
            return nrt_op_fail(ctx, NRT_ERR_LIMIT, "concatenated dim overflows");
    }
    if ((st = nrt_set_shape(ctx, y, first->rank, dims))) return st;
    blocks_state* s = alloc_blocks(ctx, n);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    s->rows = rows_before(y, axis);
    s->row_bytes = bytes_from(y, axis);
    for (int k = 0; k < n; k++) s->block_bytes[k] = bytes_from(nrt_in(ctx, k), axis);
    if (!p->up.any) return concat_rescale(ctx, s, y);
    s->up = &p->up;
    s->height = y->dims[1];
    s->width = y->dims[2];
    if ((st = concat_rescale(ctx, s, y))) return st;
    plan_row_cache(s);
    return NRT_OK;
}

typedef struct blocks_job {
    const blocks_state* s;
    void* data;  /* Concat: output, Split: input */
} blocks_job;

/* The reference's loop with the level's rescale kernel (the same bytes). A
 * channel concat of NHWC maps has rows of a few dozen bytes per input: a
 * block of rows of one input is rescaled in one kernel call into a buffer,
 * then copied out (the kernel's fixed cost per call outweighs a row's work),
 * and every input fills one block of output rows before the next block (the
 * block stays in cache while its rows are completed). */
#define RESCALE_BLOCK_BYTES 4096

static void concat_block(const blocks_state* s, int k, uint8_t* dst, size_t r, size_t rows, int8_t* buf) {
    size_t nb = s->block_bytes[k];
    const int8_t* x = (const int8_t*)s->ptrs[k] + r * nb;
    const nrt_int8_rescale* q = &s->rescale[k];
    nrt_qs8_requant rq = nrt_qs8_requant_make(q->zy, -128, 127);
    if (!q->copy && rows * nb <= RESCALE_BLOCK_BYTES) {
        s->fast(rows * nb, x, q->zx, q->m, &rq, buf);
        x = buf;
    } else if (!q->copy) { /* rows of over half the buffer: one call each */
        for (size_t i = 0; i < rows; i++) s->fast(nb, x + i * nb, q->zx, q->m, &rq, (int8_t*)dst + i * s->row_bytes);
        return;
    }
    for (size_t i = 0; i < rows; i++) nrt_mv_copy_short(dst + i * s->row_bytes, (const uint8_t*)x + i * nb, nb);
}

static void concat_rows_fast(const blocks_state* s, uint8_t* out, size_t begin, size_t end) {
    size_t widest = 1;
    for (int k = 0; k < s->n; k++) widest = s->block_bytes[k] > widest ? s->block_bytes[k] : widest;
    size_t block = widest < RESCALE_BLOCK_BYTES ? RESCALE_BLOCK_BYTES / widest : 1;
    int8_t buf[RESCALE_BLOCK_BYTES];
    for (size_t r = begin; r < end; r += block) {
        size_t rows = end - r < block ? end - r : block, offset = 0;
        for (int k = 0; k < s->n; k++) {
            if (s->block_bytes[k]) concat_block(s, k, out + r * s->row_bytes + offset, r, rows, buf);
            offset += s->block_bytes[k];
        }
    }
}

/* ---- Concat with upsampled inputs: rows are the output's image rows (n, y) ---- */

/* n values of input k brought to the output's quantization. */
static void rescale_input(const blocks_state* s, int k, const int8_t* x, size_t n, int8_t* y) {
    const nrt_int8_rescale* q = &s->rescale[k];
    nrt_qs8_requant rq = nrt_qs8_requant_make(q->zy, -128, 127);
    s->fast(n, x, q->zx, q->m, &rq, y);
}

/* Input k's part of one output image row: `src` is its source row (the
 * row y / fh), each source pixel fills fw output pixels at stride
 * row_bytes. An input that needs rescaling is rescaled once per source
 * pixel, in chunks through `buf`, before it is repeated. */
static void concat_up_input(const blocks_state* s, int k, const uint8_t* src, uint8_t* dst, int8_t* buf) {
    size_t nb = s->block_bytes[k], rb = s->row_bytes;
    int64_t fw = s->up->f[k][1], w = s->width / fw;
    bool rescale = s->rescale && !s->rescale[k].copy;
    int64_t chunk = rescale && nb <= RESCALE_BLOCK_BYTES ? (int64_t)(RESCALE_BLOCK_BYTES / nb) : w;
    for (int64_t x0 = 0; x0 < w; x0 += chunk) {
        int64_t x1 = w - x0 < chunk ? w : x0 + chunk;
        const uint8_t* from = src + (size_t)x0 * nb;
        if (rescale && nb <= RESCALE_BLOCK_BYTES) {
            rescale_input(s, k, (const int8_t*)from, (size_t)(x1 - x0) * nb, buf);
            from = (const uint8_t*)buf;
        }
        if (!rescale || nb <= RESCALE_BLOCK_BYTES) {
            nrt_upsample_pixels(from, nb, (size_t)(x1 - x0), fw, dst + (size_t)(x0 * fw) * rb, rb);
            continue;
        }
        for (int64_t x = x0; x < x1; x++, from += nb) { /* wide pixels: each rescaled into its first copy */
            uint8_t* to = dst + (size_t)(x * fw) * rb;
            rescale_input(s, k, (const int8_t*)from, nb, (int8_t*)to);
            nrt_upsample_pixels(to, nb, 1, fw - 1, to + rb, rb);
        }
    }
}

static void concat_up_rows(const blocks_state* s, uint8_t* out, size_t begin, size_t end) {
    int8_t buf[RESCALE_BLOCK_BYTES], cache[ROW_CACHE_BYTES];
    size_t cached[NRT_UPSAMPLE_MAX_INPUTS]; /* the source row each cached input holds */
    for (int k = 0; k < s->n; k++) cached[k] = NOT_CACHED;
    for (size_t r = begin; r < end; r++) {
        int64_t n = (int64_t)r / s->height, y = (int64_t)r % s->height;
        uint8_t* dst = out + r * (size_t)s->width * s->row_bytes;
        for (int k = 0; k < s->n; k++) {
            int64_t fh = s->up->f[k][0], fw = s->up->f[k][1];
            size_t nb = s->block_bytes[k], w = (size_t)(s->width / fw);
            size_t src_row = (size_t)(n * (s->height / fh) + y / fh) * w;
            const uint8_t* src = (const uint8_t*)s->ptrs[k] + src_row * nb;
            if (s->cache_at[k] != NOT_CACHED) {
                int8_t* row = cache + s->cache_at[k];
                if (cached[k] != src_row) rescale_input(s, k, (const int8_t*)src, w * nb, row);
                cached[k] = src_row;
                nrt_upsample_pixels((const uint8_t*)row, nb, w, fw, dst, s->row_bytes);
            } else if (nb) {
                concat_up_input(s, k, src, dst, buf);
            }
            dst += nb;
        }
    }
}

static void concat_range(void* arg, size_t begin, size_t end) {
    const blocks_job* j = arg;
    if (j->s->up) {
        concat_up_rows(j->s, j->data, begin, end);
        return;
    }
    if (j->s->rescale) {
        concat_rows_fast(j->s, j->data, begin, end);
        return;
    }
    nrt_concat_ref((const void* const*)j->s->ptrs, j->s->block_bytes, j->s->n, j->s->rescale, j->data,
                   j->s->row_bytes, begin, end);
}

static nrt_status concat_eval(nrt_ctx* ctx) {
    blocks_state* s = ctx->node->state;
    for (int k = 0; k < s->n; k++) s->ptrs[k] = nrt_in(ctx, k)->data;
    blocks_job job = {s, nrt_out(ctx, 0)->data};
    if (s->rows == 1 && !s->rescale && !s->up)
        copy_parts_once(s, job.data, true);
    else if (s->up && s->row_bytes && s->width)
        nrt_mv_parallel(ctx, s->rows / (size_t)s->width, s->row_bytes * (size_t)s->width, concat_range, &job);
    else if (s->row_bytes)
        nrt_mv_parallel(ctx, s->rows, s->row_bytes, concat_range, &job);
    return NRT_OK;
}

/* ---- Split ---- */

/* Part sizes: input 1 when present, else equal parts of ceil(dim / n) with
 * a smaller last one (ONNX opset 18). */
static nrt_status split_sizes(nrt_ctx* ctx, const nrt_tensor* x, int axis, int64_t* sizes) {
    int n = nrt_num_out(ctx), count;
    int64_t dim = x->dims[axis], sum = 0;
    nrt_tensor* t = nrt_in(ctx, 1);
    if (t) {
        nrt_status st = nrt_read_static_ints(ctx, t, "split", sizes, n, &count);
        if (st) return st;
        if (count != n)
            return nrt_op_fail(ctx, NRT_ERR_SHAPE, "split has %d sizes for %d outputs", count, n);
        for (int k = 0; k < n; k++) {
            if (sizes[k] < 0 || __builtin_add_overflow(sum, sizes[k], &sum))
                return nrt_op_fail(ctx, NRT_ERR_SHAPE, "split size %lld is invalid", (long long)sizes[k]);
        }
        if (sum != dim)
            return nrt_op_fail(ctx, NRT_ERR_SHAPE, "split sizes add up to %lld, but dim %d of input %s is %lld",
                               (long long)sum, axis, x->name, (long long)dim);
        return NRT_OK;
    }
    int64_t part = (dim + n - 1) / n;
    for (int k = 0; k < n; k++) {
        sizes[k] = part < dim - sum ? part : dim - sum;
        sum += sizes[k];
    }
    if (n > 1 && sizes[n - 1] == 0 && dim % n != 0)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "dim %d of input %s (%lld) cannot be split into %d parts", axis,
                           x->name, (long long)dim, n);
    return NRT_OK;
}

static nrt_status split_prepare(nrt_ctx* ctx) {
    const axis_params* p = ctx->node->params;
    int n = nrt_num_out(ctx), axis;
    nrt_tensor *x, *y;
    nrt_status st = nrt_mv_data_io(ctx, &x, &y);
    if (st || (st = nrt_axis(ctx, p->axis, x->rank, &axis))) return st;
    if (x->rank == 0) return nrt_op_fail(ctx, NRT_ERR_SHAPE, "cannot split a scalar (%s)", x->name);
    blocks_state* s = alloc_blocks(ctx, n);
    int64_t* sizes = nrt_mem_alloc(ctx->model, (size_t)n * sizeof *sizes);
    if (!s || !sizes) {
        nrt_mem_free(ctx->model, sizes);
        return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    }
    st = split_sizes(ctx, x, axis, sizes);
    int64_t dims[NRT_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    for (int k = 0; k < n && st == NRT_OK; k++) {
        nrt_tensor* out = nrt_out(ctx, k);
        dims[axis] = sizes[k];
        if (!(st = nrt_expect_same_dtype(ctx, x, out)) && !(st = nrt_mv_expect_same_quant(ctx, x, out)))
            st = nrt_set_shape(ctx, out, x->rank, dims);
        s->block_bytes[k] = bytes_from(out, axis);
    }
    nrt_mem_free(ctx->model, sizes);
    s->rows = rows_before(x, axis);
    s->row_bytes = bytes_from(x, axis);
    return st;
}

static void split_range(void* arg, size_t begin, size_t end) {
    const blocks_job* j = arg;
    nrt_split_ref(j->data, j->s->row_bytes, j->s->ptrs, j->s->block_bytes, j->s->n, begin, end);
}

static nrt_status split_eval(nrt_ctx* ctx) {
    blocks_state* s = ctx->node->state;
    for (int k = 0; k < s->n; k++) s->ptrs[k] = nrt_out(ctx, k)->data;
    blocks_job job = {s, nrt_in(ctx, 0)->data};
    if (s->rows == 1) copy_parts_once(s, job.data, false);
    else if (s->row_bytes) nrt_mv_parallel(ctx, s->rows, s->row_bytes, split_range, &job);
    return NRT_OK;
}

const nrt_op_def nrt_op_Concat = {"Concat", 0, NRT_FB_OpOptions_AxisOptions, 1, -1, 1, 1,
                                  axis_parse, concat_prepare, concat_eval, NULL};
const nrt_op_def nrt_op_Split = {"Split", 0, NRT_FB_OpOptions_SplitOptions, 1, 2, 1, -1,
                                 axis_parse, split_prepare, split_eval, NULL};
