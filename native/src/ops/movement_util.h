/* Helpers shared by the data-movement ops (reshape.c, transpose.c,
 * concat_split.c, slice.c, gather.c, shape.c, expand_tile.c, generate.c,
 * cumulative.c, trilu.c, scatter.c). */
#ifndef NRT_MOVEMENT_UTIL_H
#define NRT_MOVEMENT_UTIL_H

#include "../engine/op.h"
#include "../kernels/ref/movement_ref.h"

#include <string.h>

/* Input i, which must be present; `role` names it in the error. */
nrt_status nrt_mv_input(nrt_ctx* ctx, int i, const char* role, nrt_tensor** out);
/* Input 1, indices: int32 or int64 (Gather*, Scatter*). */
nrt_status nrt_mv_indices_input(nrt_ctx* ctx, nrt_tensor** idx);
/* The error for the index at `pos` of idx, out of range for a dim of `dim`. */
nrt_status nrt_mv_index_error(nrt_ctx* ctx, const nrt_tensor* idx, int64_t pos, int64_t dim);
/* Input 0 (data moved by element size, any type but the packed int4) and
 * output 0 of the same type and quantization. */
nrt_status nrt_mv_data_io(nrt_ctx* ctx, nrt_tensor** x, nrt_tensor** y);
/* Copied quantized values keep their meaning only between tensors of equal
 * quantization (requant.h); anything else is an inconsistent model. */
bool nrt_mv_same_quant(const nrt_quant* a, const nrt_quant* b);
nrt_status nrt_mv_expect_same_quant(nrt_ctx* ctx, const nrt_tensor* x, const nrt_tensor* y);
/* For ops that compute with the values (CumSum, Trilu's zeros ...). */
nrt_status nrt_mv_not_quantized(nrt_ctx* ctx, const nrt_tensor* t);
/* Row-major element strides of dims[0..rank). */
void nrt_mv_strides(int rank, const int64_t* dims, int64_t* strides);
/* "[2,3,4]" into buf, for error messages. */
const char* nrt_mv_dims_str(int rank, const int64_t* dims, char* buf, size_t size);
/* Plans `s` into newly allocated node state (prepare). */
nrt_status nrt_mv_plan_strided(nrt_ctx* ctx, const nrt_strided* s);
/* Runs the copy planned in the node state (eval). */
void nrt_mv_run_strided(nrt_ctx* ctx, const void* in, void* out);
/* Runs fn on [0, n) units of about `unit_bytes` each, on the model's threads
 * when there is enough work to share. */
void nrt_mv_parallel(nrt_ctx* ctx, size_t n, size_t unit_bytes, nrt_task_fn fn, void* arg);

/* memcpy of a few dozen bytes is a library call that costs more than the
 * copy; constant-size pieces (overlapping at the end) compile to moves. */
static inline void nrt_mv_copy_short(uint8_t* dst, const uint8_t* src, size_t n) {
    if (n >= 256) {
        memcpy(dst, src, n);
    } else if (n >= 16) {
        for (size_t i = 0; i + 16 <= n; i += 16) memcpy(dst + i, src + i, 16);
        memcpy(dst + n - 16, src + n - 16, 16);
    } else if (n >= 8) {
        memcpy(dst, src, 8);
        memcpy(dst + n - 8, src + n - 8, 8);
    } else if (n >= 4) {
        memcpy(dst, src, 4);
        memcpy(dst + n - 4, src + n - 4, 4);
    } else {
        for (size_t i = 0; i < n; i++) dst[i] = src[i];
    }
}

#endif
