/* Conv 1x1 and FullyConnected on sparse weights (engine/sparse.h): whether a
 * sparse kernel pays on this kernel level, and what it runs on.
 *
 * int8: the level's qs8_spmm GEMM table (kernels/gemm.h: weights in 1 x 4
 * blocks, packed from the dense copy like any GEMM format, run by the GEMM
 * driver). float32: the reference block-CSR kernel (kernels/ref/
 * sparse_gemm_ref.h) on a block-CSR copy.
 *
 * The choice is a cost model: the sparse kernel's time relative to the
 * level's dense kernel's (a function of the weights' density and, for int8,
 * the layer's K and N, fitted to measured kernels) must stay below
 * NRT_SPARSE_PAYS: 0.9, as the fit is within +-0.05 near it, so sparse runs
 * where it is faster by a margin the fit can see. NANORT_SPARSE=sparse /
 * dense overrides it (tests, benchmarks). A weight every reader runs sparse
 * drops its dense copy after the graph is loaded. */
#ifndef NRT_SPARSE_WEIGHTS_H
#define NRT_SPARSE_WEIGHTS_H

#include <stdbool.h>
#include <stddef.h>

#include "../engine/op.h"
#include "../kernels/gemm.h"
#include "../kernels/ref/sparse_gemm_ref.h"

#define NRT_SPARSE_PAYS 0.9

/* The level's int8 sparse GEMM table when it should run the constant int8
 * weights w [N, K] (a sparse file tensor; K a multiple of 4 and at most
 * NRT_SPMM_MAX_K) on about `rows` rows of input per run, else NULL. */
const nrt_gemm_table* nrt_sparse_qs8_table(nrt_ctx* ctx, const nrt_tensor* w, int64_t k, int64_t rows);

/* Marks w as run by a sparse kernel in this op (its dense copy is freed once
 * every reader has claimed it). */
void nrt_sparse_claim(nrt_tensor* w);

/* float32: bytes of the block-CSR copy of constant weights w when the
 * reference sparse kernel should run them on this level (0: run dense). */
size_t nrt_sparse_f32_bytes(nrt_ctx* ctx, const nrt_tensor* w);

/* Builds that copy in `mem` (8-byte aligned, nrt_sparse_f32_bytes long),
 * counts it in the model's packed bytes and claims w. */
void nrt_sparse_f32_build(nrt_ctx* ctx, nrt_tensor* w, void* mem, nrt_bcsr* out);

#endif
