/* Sparse constants: verification against the tensor, expansion to a dense
 * copy, and the walk over kept blocks that kernels' packing uses
 * (sparse.h). Every array is located and bounds-checked before it is read;
 * every index is checked against the tensor's block grid before any value
 * is written through it. */
#include "sparse.h"

#include <stdlib.h>
#include <string.h>

#include "../kernels/dtype.h"
#include "memory.h"

#define NRT_SPARSE_MAX_GROUP 64 /* N_M: largest M */

static const char* label(const nrt_tensor* t) { return t->name ? t->name : "(unnamed)"; }

/* An array of `bytes` at a file offset or in a Buffer record (never both),
 * inside the file and aligned like a constant (64 bytes from 1024 bytes up,
 * else 16). */
static nrt_status locate(nrt_model* m, const nrt_tensor* t, const nrt_fb_vec* buffers, uint32_t buffer,
                         uint64_t offset, uint64_t bytes, const char* what, const uint8_t** out) {
    *out = NULL;
    if (buffer && offset)
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: sparse %s given both by buffer and by offset",
                        label(t), what);
    if (buffer) {
        nrt_fb_table b;
        uint64_t size;
        if (buffer >= buffers->len || !nrt_fb_vec_table(buffers, buffer, &b) ||
            !nrt_fb_u64(&b, NRT_FB_Buffer_offset, 0, &offset) || !nrt_fb_u64(&b, NRT_FB_Buffer_size, 0, &size))
            return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: sparse %s: buffer index %u is invalid", label(t),
                            what, buffer);
        if (size != bytes)
            return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: sparse %s holds %llu bytes, the tensor needs %llu",
                            label(t), what, (unsigned long long)size, (unsigned long long)bytes);
    }
    if (bytes == 0) return NRT_OK;
    if (!buffer && !offset)
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: sparse %s (%llu bytes) is missing", label(t), what,
                        (unsigned long long)bytes);
    uint64_t align = bytes >= 1024 ? 64 : 16;
    if (offset > m->map_size || bytes > m->map_size - offset || offset % align != 0)
        return nrt_fail(m, NRT_ERR_INVALID_MODEL,
                        "tensor %s: sparse %s [%llu, +%llu) is outside the %zu-byte file or not %llu-byte aligned",
                        label(t), what, (unsigned long long)offset, (unsigned long long)bytes, m->map_size,
                        (unsigned long long)align);
    *out = (const uint8_t*)m->map + offset;
    return NRT_OK;
}

static uint64_t read_uint(const uint8_t* p, int width) {
    uint64_t v = 0;
    for (int i = width - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static int32_t read_i32(const uint8_t* p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* N_M: the bits-wide position number e (least significant bit first). */
static uint32_t nm_position(const uint8_t* bytes, int64_t e, int bits) {
    uint32_t v = 0;
    for (int b = 0; b < bits; b++) {
        int64_t i = e * bits + b;
        v |= (uint32_t)(bytes[i >> 3] >> (i & 7) & 1u) << b;
    }
    return v;
}

static int bits_for(int32_t m) {
    int bits = 1;
    while ((1 << bits) < m) bits++;
    return bits;
}

typedef struct sparse_fields {
    uint8_t format, index_width;
    nrt_fb_vec block_shape, dense_shape;
    uint64_t mask_offset, indptr_offset, indices_offset;
    uint32_t mask_buffer, indptr_buffer, indices_buffer;
} sparse_fields;

static bool read_fields(const nrt_fb_table* sp, sparse_fields* f) {
    return nrt_fb_u8(sp, NRT_FB_Sparsity_format, 0, &f->format) &&
           nrt_fb_u8(sp, NRT_FB_Sparsity_index_width, 4, &f->index_width) &&
           nrt_fb_vector(sp, NRT_FB_Sparsity_block_shape, 4, &f->block_shape) &&
           nrt_fb_vector(sp, NRT_FB_Sparsity_dense_shape, 8, &f->dense_shape) &&
           nrt_fb_u64(sp, NRT_FB_Sparsity_mask_offset, 0, &f->mask_offset) &&
           nrt_fb_u64(sp, NRT_FB_Sparsity_indptr_offset, 0, &f->indptr_offset) &&
           nrt_fb_u64(sp, NRT_FB_Sparsity_indices_offset, 0, &f->indices_offset) &&
           nrt_fb_u32(sp, NRT_FB_Sparsity_mask_buffer, 0, &f->mask_buffer) &&
           nrt_fb_u32(sp, NRT_FB_Sparsity_indptr_buffer, 0, &f->indptr_buffer) &&
           nrt_fb_u32(sp, NRT_FB_Sparsity_indices_buffer, 0, &f->indices_buffer);
}

/* rows / cols of the matrix view, the block shape, and the dense shape's agreement. */
static nrt_status check_geometry(nrt_model* m, const nrt_tensor* t, const sparse_fields* f, nrt_sparse* s) {
    if (t->decl_rank < 1)
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: a sparse tensor needs rank >= 1", label(t));
    if (f->dense_shape.len != 0) {
        bool same = f->dense_shape.len == (uint32_t)t->decl_rank;
        for (uint32_t d = 0; same && d < f->dense_shape.len; d++)
            same = nrt_fb_vec_i64(&f->dense_shape, d) == t->decl_dims[d];
        if (!same)
            return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: sparse dense_shape differs from the tensor's shape",
                            label(t));
    }
    s->rows = t->decl_dims[0];
    s->cols = 1;
    for (int d = 0; d < t->decl_rank; d++)
        if (t->decl_dims[d] < 0 || (d > 0 && !nrt_mul_overflow_ok(s->cols, t->decl_dims[d], &s->cols)))
            return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: sparse shape is dynamic or overflows", label(t));
    int64_t n;
    if (!nrt_mul_overflow_ok(s->rows, s->cols, &n))
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: sparse shape overflows", label(t));
    int32_t b0 = 1, b1 = 1;
    if (f->block_shape.len == 2) {
        b0 = nrt_fb_vec_i32(&f->block_shape, 0);
        b1 = nrt_fb_vec_i32(&f->block_shape, 1);
    } else if (f->block_shape.len != 0) {
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: sparse block_shape has %u entries, expects 0 or 2",
                        label(t), f->block_shape.len);
    }
    if (f->format == NRT_FB_SparseFormat_N_M) {
        if (b0 < 1 || b1 <= b0 || b1 > NRT_SPARSE_MAX_GROUP || s->cols % b1 != 0)
            return nrt_fail(m, NRT_ERR_INVALID_MODEL,
                            "tensor %s: N:M sparsity %d:%d is invalid for %lld columns (1 <= N < M <= %d, M divides "
                            "the columns)", label(t), b0, b1, (long long)s->cols, NRT_SPARSE_MAX_GROUP);
        s->n = b0, s->m = b1, s->bn = 1, s->bk = 1;
        return NRT_OK;
    }
    if (b0 < 1 || b1 < 1 || s->rows % b0 != 0 || s->cols % b1 != 0)
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: sparse block %d x %d does not tile its %lld x %lld matrix",
                        label(t), b0, b1, (long long)s->rows, (long long)s->cols);
    s->bn = b0, s->bk = b1;
    return NRT_OK;
}

static nrt_status load_bitmask(nrt_model* m, const nrt_tensor* t, const sparse_fields* f, const nrt_fb_vec* buffers,
                               nrt_sparse* s) {
    uint64_t blocks = (uint64_t)(s->rows / s->bn) * (uint64_t)(s->cols / s->bk); /* <= rows * cols */
    nrt_status st = locate(m, t, buffers, f->mask_buffer, f->mask_offset, (blocks + 7) / 8, "mask", &s->mask);
    if (st != NRT_OK) return st;
    if (blocks % 8 && s->mask[blocks / 8] >> (blocks % 8))
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: sparse mask has bits set past its %llu blocks", label(t),
                        (unsigned long long)blocks);
    s->kept = 0;
    for (uint64_t i = 0; i < (blocks + 7) / 8; i++) s->kept += __builtin_popcount(s->mask[i]);
    return NRT_OK;
}

static nrt_status load_block_csr(nrt_model* m, const nrt_tensor* t, const sparse_fields* f,
                                 const nrt_fb_vec* buffers, nrt_sparse* s) {
    int64_t block_rows = s->rows / s->bn, block_cols = s->cols / s->bk;
    const uint8_t* indptr;
    nrt_status st = locate(m, t, buffers, f->indptr_buffer, f->indptr_offset, 4 * ((uint64_t)block_rows + 1),
                           "indptr", &indptr);
    if (st != NRT_OK) return st;
    s->indptr = (const int32_t*)(const void*)indptr;
    if (read_i32(indptr) != 0)
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: sparse indptr[0] = %d, expects 0", label(t),
                        read_i32(indptr));
    for (int64_t r = 0; r < block_rows; r++) {
        int64_t a = read_i32(indptr + 4 * r), b = read_i32(indptr + 4 * (r + 1));
        if (b < a || b - a > block_cols)
            return nrt_fail(m, NRT_ERR_INVALID_MODEL,
                            "tensor %s: sparse indptr[%lld..%lld] = %lld..%lld: decreasing or more than the %lld "
                            "blocks of a row", label(t), (long long)r, (long long)r + 1, (long long)a, (long long)b,
                            (long long)block_cols);
    }
    s->kept = read_i32(indptr + 4 * block_rows);
    if (f->index_width != 1 && f->index_width != 2 && f->index_width != 4)
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: sparse index width %u is not 1, 2 or 4", label(t),
                        f->index_width);
    s->index_width = f->index_width;
    st = locate(m, t, buffers, f->indices_buffer, f->indices_offset, (uint64_t)s->kept * s->index_width, "indices",
                &s->indices);
    if (st != NRT_OK) return st;
    for (int64_t r = 0; r < block_rows; r++) {
        int64_t prev = -1;
        for (int64_t b = read_i32(indptr + 4 * r); b < read_i32(indptr + 4 * (r + 1)); b++) {
            uint64_t col = read_uint(s->indices + b * s->index_width, s->index_width);
            if (col >= (uint64_t)block_cols)
                return nrt_fail(m, NRT_ERR_INVALID_MODEL,
                                "tensor %s: sparse indices[%lld] = %llu is outside the %lld block columns",
                                label(t), (long long)b, (unsigned long long)col, (long long)block_cols);
            if ((int64_t)col <= prev)
                return nrt_fail(m, NRT_ERR_INVALID_MODEL,
                                "tensor %s: sparse indices[%lld] = %llu in block row %lld: not increasing", label(t),
                                (long long)b, (unsigned long long)col, (long long)r);
            prev = (int64_t)col;
        }
    }
    return NRT_OK;
}

static nrt_status load_n_m(nrt_model* m, const nrt_tensor* t, const sparse_fields* f, const nrt_fb_vec* buffers,
                           nrt_sparse* s) {
    int64_t groups = s->rows * (s->cols / s->m);
    s->kept = groups * s->n; /* <= rows * cols */
    int bits = bits_for(s->m);
    uint64_t nbits = (uint64_t)s->kept * (uint64_t)bits;
    nrt_status st = locate(m, t, buffers, f->indices_buffer, f->indices_offset, (nbits + 7) / 8, "indices",
                           &s->indices);
    if (st != NRT_OK) return st;
    if (nbits % 8 && s->indices[nbits / 8] >> (nbits % 8))
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: sparse N:M indices have bits set past their end",
                        label(t));
    for (int64_t g = 0; g < groups; g++) {
        int64_t prev = -1;
        for (int32_t q = 0; q < s->n; q++) {
            uint32_t pos = nm_position(s->indices, g * s->n + q, bits);
            if (pos >= (uint32_t)s->m)
                return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: sparse N:M position %u in group %lld is past %d",
                                label(t), pos, (long long)g, s->m - 1);
            if ((int64_t)pos <= prev)
                return nrt_fail(m, NRT_ERR_INVALID_MODEL,
                                "tensor %s: sparse N:M position %u in group %lld: not increasing", label(t), pos,
                                (long long)g);
            prev = pos;
        }
    }
    return NRT_OK;
}

void nrt_sparse_for_each_block(const nrt_sparse* s, nrt_sparse_block_fn fn, void* arg) {
    size_t block_bytes = (size_t)s->bn * (size_t)s->bk * s->elem_size;
    const uint8_t* v = s->values;
    if (s->format == NRT_FB_SparseFormat_BITMASK) {
        int64_t block_cols = s->cols / s->bk, blocks = s->rows / s->bn * block_cols;
        for (int64_t i = 0; i < blocks; i++)
            if (s->mask[i >> 3] >> (i & 7) & 1) {
                fn(arg, i / block_cols, i % block_cols, v);
                v += block_bytes;
            }
    } else if (s->format == NRT_FB_SparseFormat_BLOCK_CSR) {
        for (int64_t r = 0; r < s->rows / s->bn; r++)
            for (int64_t b = read_i32((const uint8_t*)s->indptr + 4 * r);
                 b < read_i32((const uint8_t*)s->indptr + 4 * (r + 1)); b++) {
                fn(arg, r, (int64_t)read_uint(s->indices + b * s->index_width, s->index_width), v);
                v += block_bytes;
            }
    } else {
        int64_t per_row = s->cols / s->m, bits = bits_for(s->m);
        for (int64_t g = 0; g < s->rows * per_row; g++)
            for (int32_t q = 0; q < s->n; q++) {
                uint32_t pos = nm_position(s->indices, g * s->n + q, (int)bits);
                fn(arg, g / per_row, g % per_row * s->m + pos, v);
                v += block_bytes;
            }
    }
}

double nrt_sparse_density(const nrt_sparse* s) {
    if (s->format == NRT_FB_SparseFormat_N_M) return (double)s->n / (double)s->m;
    double blocks = (double)(s->rows / s->bn) * (double)(s->cols / s->bk);
    return blocks > 0 ? (double)s->kept / blocks : 0.0;
}

typedef struct densify_job {
    const nrt_sparse* s;
    uint8_t* dense;
} densify_job;

static void densify_block(void* arg, int64_t block_row, int64_t block_col, const uint8_t* values) {
    const densify_job* j = arg;
    const nrt_sparse* s = j->s;
    size_t row_bytes = (size_t)s->bk * s->elem_size;
    for (int32_t i = 0; i < s->bn; i++) {
        int64_t row = block_row * s->bn + i;
        memcpy(j->dense + ((size_t)(row * s->cols) + (size_t)(block_col * s->bk)) * s->elem_size,
               values + (size_t)i * row_bytes, row_bytes);
    }
}

/* The kept values: located, and the dense copy made (bounded by the memory limit). */
static nrt_status densify(nrt_model* m, nrt_tensor* t, const nrt_fb_vec* buffers, uint32_t buffer,
                          uint64_t data_offset, nrt_sparse* s) {
    uint64_t per_block = (uint64_t)s->bn * (uint64_t)s->bk * s->elem_size, values_bytes, dense_bytes;
    if (!nrt_dtype_bytes(t->dtype, s->rows * s->cols, &dense_bytes) ||
        (uint64_t)s->kept > UINT64_MAX / per_block) /* (kept <= blocks: cannot happen, checked anyway) */
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: sparse sizes overflow", label(t));
    values_bytes = (uint64_t)s->kept * per_block;
    nrt_status st = locate(m, t, buffers, buffer, data_offset, values_bytes, "values", &s->values);
    if (st != NRT_OK) return st;
    if (dense_bytes > m->opts.max_arena_bytes || m->packed_weight_bytes > m->opts.max_arena_bytes - dense_bytes)
        return nrt_fail(m, NRT_ERR_LIMIT, "tensor %s: expanding sparse weights to %llu bytes exceeds the memory limit",
                        label(t), (unsigned long long)dense_bytes);
    size_t alloc = dense_bytes ? (size_t)(dense_bytes + 63) / 64 * 64 : 64; /* (an empty tensor's data is not NULL) */
    uint8_t* dense = nrt_mem_alloc_block(m, alloc); /* (counted against the load budget) */
    if (!dense)
        return nrt_mem_status(m, nrt_fail(m, NRT_ERR_OUT_OF_MEMORY, "tensor %s: out of memory expanding sparse weights",
                                          label(t)));
    memset(dense, 0, alloc);
    densify_job job = {s, dense};
    nrt_sparse_for_each_block(s, densify_block, &job);
    t->owned_data = dense;
    t->kind = NRT_TENSOR_CONSTANT;
    t->data = dense;
    t->nbytes = (size_t)dense_bytes;
    t->rank = t->decl_rank;
    memcpy(t->dims, t->decl_dims, sizeof t->dims);
    t->shape_known = true;
    m->packed_weight_bytes += (size_t)dense_bytes;
    return NRT_OK;
}

nrt_status nrt_sparse_load(nrt_model* m, nrt_tensor* t, const nrt_fb_table* sp, const nrt_fb_vec* buffers,
                           uint32_t buffer, uint64_t data_offset) {
    sparse_fields f;
    if (!read_fields(sp, &f)) return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: corrupt sparsity table", label(t));
    if (f.format == NRT_FB_SparseFormat_DENSE) return NRT_OK;
    if (f.format > NRT_FB_SparseFormat_N_M)
        return nrt_fail(m, NRT_ERR_UNSUPPORTED, "tensor %s: sparse format %u is not supported by this runtime",
                        label(t), f.format);
    if (!buffer && !data_offset)
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: sparsity on a tensor that is not a constant", label(t));
    size_t elem = nrt_dtype_size(t->dtype);
    uint64_t one;
    if (!nrt_dtype_bytes(t->dtype, 1, &one) || one != elem || elem == 0)
        return nrt_fail(m, NRT_ERR_UNSUPPORTED, "tensor %s: sparse %s weights are not supported", label(t),
                        nrt_dtype_name(t->dtype));
    nrt_sparse s = {.format = f.format, .elem_size = elem};
    nrt_status st = check_geometry(m, t, &f, &s);
    if (st == NRT_OK) {
        if (f.format == NRT_FB_SparseFormat_BITMASK) st = load_bitmask(m, t, &f, buffers, &s);
        else if (f.format == NRT_FB_SparseFormat_BLOCK_CSR) st = load_block_csr(m, t, &f, buffers, &s);
        else st = load_n_m(m, t, &f, buffers, &s);
    }
    if (st != NRT_OK) return st;
    if (!(t->sparse = malloc(sizeof s))) return nrt_fail(m, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    *t->sparse = s;
    return densify(m, t, buffers, buffer, data_offset, t->sparse);
}

void nrt_sparse_release_claimed(nrt_model* m) {
    int* readers = calloc((size_t)(m->num_tensors ? m->num_tensors : 1), sizeof *readers);
    if (!readers) return; /* the dense copies stay: correct, just larger */
    for (int i = 0; i < m->num_nodes; i++)
        for (int k = 0; k < m->nodes[i].num_inputs; k++)
            if (m->nodes[i].inputs[k] >= 0) readers[m->nodes[i].inputs[k]]++;
    for (int i = 0; i < m->num_tensors; i++) {
        nrt_tensor* t = &m->tensors[i];
        if (!t->sparse || !t->owned_data || t->sparse_claims != readers[i] || t->is_output) continue;
        nrt_mem_free(m, t->owned_data);
        t->owned_data = NULL;
        t->data = NULL;
        m->packed_weight_bytes -= t->nbytes;
    }
    free(readers);
}

void nrt_sparse_free(nrt_model* m, nrt_tensor* t) {
    nrt_mem_free(m, t->owned_data);
    free(t->sparse);
    t->owned_data = NULL;
    t->sparse = NULL;
}
