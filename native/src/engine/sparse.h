/* Sparse constants (schemas/nanort.fbs: Sparsity): a weight stored as its
 * kept values plus a bitmask, block-CSR or N:M index structure.
 *
 * Load verifies every index array against its tensor before anything reads
 * it (TFLite's CVE-2022-23560 was sparse indices pointing outside the
 * tensor) and expands the weight into a dense copy, so every op runs on it
 * unchanged. An op with a sparse kernel that pays on this CPU (ops/
 * sparse_weights.h) claims the weight at parse; a weight that every reader
 * claimed drops its dense copy after the graph is loaded. The dense copies
 * are counted in the model's packed-weight bytes. */
#ifndef NRT_SPARSE_H
#define NRT_SPARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"

typedef struct nrt_sparse {
    uint8_t format;            /* NRT_FB_SparseFormat_* */
    int64_t rows, cols;        /* the matrix view [shape[0], the product of the other dims] */
    int32_t bn, bk;            /* block shape (N_M: 1 x 1, one block per kept value) */
    int32_t n, m;              /* N_M: N kept in every group of M */
    const uint8_t* mask;       /* BITMASK: one bit per block, least significant first */
    const int32_t* indptr;     /* BLOCK_CSR: rows / bn + 1 */
    const uint8_t* indices;    /* BLOCK_CSR: index_width bytes per kept block; N_M: bit-packed positions */
    uint8_t index_width;
    const uint8_t* values;     /* the kept values, in the file */
    int64_t kept;              /* kept blocks (N_M: groups x N values) */
    size_t elem_size;
} nrt_sparse;

/* Verifies Tensor.sparsity `sp` of tensor t; for a sparse format, also the
 * tensor's values (at data_offset, or in Buffer `buffer`) and index arrays,
 * then makes t a constant holding the dense copy. */
nrt_status nrt_sparse_load(nrt_model* m, nrt_tensor* t, const nrt_fb_table* sp, const nrt_fb_vec* buffers,
                           uint32_t buffer, uint64_t data_offset);

/* The kept fraction of the weight's blocks (N_M: N / M). */
double nrt_sparse_density(const nrt_sparse* s);

/* Visits the kept blocks of any format in block-CSR order (block rows in
 * order, columns increasing within a row); `values` points at the block's
 * bn x bk values. */
typedef void (*nrt_sparse_block_fn)(void* arg, int64_t block_row, int64_t block_col, const uint8_t* values);
void nrt_sparse_for_each_block(const nrt_sparse* s, nrt_sparse_block_fn fn, void* arg);

/* After every operator is parsed: frees the dense copies of weights whose
 * every reader runs a sparse kernel (claimed through nrt_sparse_claim). */
void nrt_sparse_release_claimed(nrt_model* m);

/* Frees a tensor's sparse record and dense copy (unload). */
void nrt_sparse_free(nrt_model* m, nrt_tensor* t);

#endif
