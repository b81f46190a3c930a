#include "movement_util.h"

#include <stdio.h>
#include <string.h>

#include "../kernels/dispatch.h"

nrt_status nrt_mv_input(nrt_ctx* ctx, int i, const char* role, nrt_tensor** out) {
    *out = nrt_in(ctx, i);
    if (!*out) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "input %d (%s) is missing", i, role);
    return NRT_OK;
}

nrt_status nrt_mv_indices_input(nrt_ctx* ctx, nrt_tensor** idx) {
    nrt_status st = nrt_mv_input(ctx, 1, "indices", idx);
    if (st) return st;
    if ((*idx)->dtype != NRT_INT32 && (*idx)->dtype != NRT_INT64)
        return nrt_op_fail(ctx, NRT_ERR_DTYPE, "indices %s are %s, expected int32 or int64", (*idx)->name,
                           nrt_dtype_name((*idx)->dtype));
    return NRT_OK;
}

nrt_status nrt_mv_index_error(nrt_ctx* ctx, const nrt_tensor* idx, int64_t pos, int64_t dim) {
    int64_t v = idx->dtype == NRT_INT64 ? ((const int64_t*)idx->data)[pos] : ((const int32_t*)idx->data)[pos];
    return nrt_op_fail(ctx, NRT_ERR_INVALID_ARGUMENT, "index %lld (at position %lld of %s) is out of range for a "
                       "dim of %lld: indices must lie in [-dim, dim)", (long long)v, (long long)pos, idx->name,
                       (long long)dim);
}

nrt_status nrt_mv_data_io(nrt_ctx* ctx, nrt_tensor** x, nrt_tensor** y) {
    nrt_status st = nrt_mv_input(ctx, 0, "data", x);
    if (st) return st;
    *y = nrt_out(ctx, 0);
    if ((*x)->dtype == NRT_INT4)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "input %s is int4, a packed weight type this op cannot move",
                           (*x)->name);
    if ((st = nrt_expect_same_dtype(ctx, *x, *y))) return st;
    return nrt_mv_expect_same_quant(ctx, *x, *y);
}

bool nrt_mv_same_quant(const nrt_quant* a, const nrt_quant* b) {
    if (a->count != b->count || a->block_size != b->block_size || (a->count > 1 && a->axis != b->axis)) return false;
    for (uint32_t i = 0; i < a->count; i++) {
        int64_t za = a->zero_point ? a->zero_point[i] : 0, zb = b->zero_point ? b->zero_point[i] : 0;
        if (a->scale[i] != b->scale[i] || za != zb) return false;
    }
    return true;
}

nrt_status nrt_mv_expect_same_quant(nrt_ctx* ctx, const nrt_tensor* x, const nrt_tensor* y) {
    if (nrt_mv_same_quant(&x->quant, &y->quant)) return NRT_OK;
    return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "%s and %s are quantized differently; this op copies values and "
                       "cannot rescale them", x->name, y->name);
}

nrt_status nrt_mv_not_quantized(nrt_ctx* ctx, const nrt_tensor* t) {
    if (!t->quant.count) return NRT_OK;
    return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "%s is quantized; this op has no int8 implementation", t->name);
}

void nrt_mv_strides(int rank, const int64_t* dims, int64_t* strides) {
    int64_t s = 1;
    for (int d = rank - 1; d >= 0; d--) {
        strides[d] = s;
        s *= dims[d];
    }
}

const char* nrt_mv_dims_str(int rank, const int64_t* dims, char* buf, size_t size) {
    size_t len = 0;
    buf[0] = '\0';
    for (int d = 0; d < rank && len + 1 < size; d++) {
        int w = snprintf(buf + len, size - len, "%s%lld", d ? "," : "[", (long long)dims[d]);
        if (w < 0) break;
        len += (size_t)w;
    }
    if (len + 1 < size) snprintf(buf + len, size - len, rank ? "]" : "[]");
    return buf;
}

nrt_status nrt_mv_plan_strided(nrt_ctx* ctx, const nrt_strided* s) {
    nrt_strided* st = nrt_alloc_state(ctx, sizeof *st);
    if (!st) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    *st = *s;
    nrt_strided_plan(st);
    return NRT_OK;
}

typedef struct strided_job {
    const nrt_strided* s;
    const void* in;
    void* out;
    nrt_strided_fn copy;
} strided_job;

static void strided_range(void* arg, size_t begin, size_t end) {
    const strided_job* j = arg;
    j->copy(j->s, j->in, j->out, begin, end);
}

void nrt_mv_run_strided(nrt_ctx* ctx, const void* in, void* out) {
    const nrt_strided* s = ctx->node->state;
    nrt_strided_fn fast = nrt_strided_short_rows(s) ? nrt_kernels_of(ctx)->strided_short_rows : NULL;
    strided_job job = {s, in, out, fast ? fast : nrt_strided_copy_ref};
    nrt_mv_parallel(ctx, s->units, s->unit_bytes, strided_range, &job);
}

/* Below this many bytes per chunk, handing work to another thread costs
 * more than the copy. */
#define PARALLEL_GRAIN_BYTES 65536

void nrt_mv_parallel(nrt_ctx* ctx, size_t n, size_t unit_bytes, nrt_task_fn fn, void* arg) {
    size_t grain = unit_bytes >= PARALLEL_GRAIN_BYTES ? 1 : PARALLEL_GRAIN_BYTES / (unit_bytes ? unit_bytes : 1);
    nrt_parallel_for(ctx, n, grain, fn, arg);
}
