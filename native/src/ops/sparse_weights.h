/* Conv 1x1 and FullyConnected on sparse weights (engine/sparse.h): whether a
 * sparse kernel pays on this kernel level, and the block-CSR copy it runs
 * on (kernels/ref/sparse_gemm_ref.h).
 *
 * The choice is a cost model: the sparse kernel's time relative to the
 * level's dense kernel, per kept weight, times the weight's density, must
 * stay below NRT_SPARSE_PAYS. Only reference sparse kernels exist so far:
 * against the reference dense kernels they pay from moderate sparsity on,
 * against the SIMD dense kernels essentially never, so on a SIMD level the
 * weights run dense (expanded once at load). NANORT_SPARSE=sparse / dense
 * overrides the choice (tests, benchmarks). */
#ifndef NRT_SPARSE_WEIGHTS_H
#define NRT_SPARSE_WEIGHTS_H

#include <stdbool.h>
#include <stddef.h>

#include "../engine/op.h"
#include "../kernels/ref/sparse_gemm_ref.h"

#define NRT_SPARSE_PAYS 0.8

/* Bytes of the block-CSR copy of constant weights w when a sparse kernel
 * should run them on this level (0: run dense). */
size_t nrt_sparse_gemm_bytes(nrt_ctx* ctx, const nrt_tensor* w);

/* Builds that copy in `mem` (8-byte aligned, nrt_sparse_gemm_bytes long),
 * counts it in the model's packed bytes and claims w (its dense copy is
 * freed once every reader has claimed it). */
void nrt_sparse_gemm_build(nrt_ctx* ctx, nrt_tensor* w, void* mem, nrt_bcsr* out);

#endif
