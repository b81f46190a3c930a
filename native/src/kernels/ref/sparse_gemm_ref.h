/* Reference kernels for sparse weights: FullyConnected and 1x1 Conv with a
 * block-sparse W [N, K] (engine/sparse.h stores any format; ops/
 * sparse_weights.h turns it into this block-CSR). They give exactly the
 * dense reference kernels' results on the densified W: int8 sums are
 * modulo 2^32 (any order gives the same bytes; kernels/requant.h), and
 * float32 sums add the kept products in the dense kernel's order, skipping
 * only products with a weight of zero (adding +-0 leaves a finite sum
 * unchanged but for the sign of a zero result). */
#ifndef NRT_SPARSE_GEMM_REF_H
#define NRT_SPARSE_GEMM_REF_H

#include <stdint.h>

#include "int8_ref.h"

/* W [rows, cols] in blocks of bn x bk: block row r (output channels
 * r * bn .. r * bn + bn - 1) keeps blocks indptr[r] .. indptr[r + 1] - 1, at
 * block columns col[] (increasing), each bn x bk values row-major. */
typedef struct nrt_bcsr {
    int64_t rows, cols;
    int32_t bn, bk;
    const int32_t* indptr;
    const int32_t* col;
    const void* values;
} nrt_bcsr;

/* int8 (FullyConnected's / Conv's arithmetic, kernels/requant.h):
 * c[i, n] = requant(bias[n] + sum_k a[i, k] W[n, k], m[n]) for rows i in [m0, m1),
 * every n; folded int32 bias or NULL. */
typedef struct nrt_s8_sparse_gemm {
    const nrt_bcsr* w;
    const int8_t* a;
    int64_t lda;
    int8_t* c;
    int64_t ldc;
    const int32_t* bias;
    const float* m;
    nrt_s8_out out;
} nrt_s8_sparse_gemm;

void nrt_sparse_gemm_s8_ref(const nrt_s8_sparse_gemm* g, int64_t m0, int64_t m1);

/* float32: c[i, n] = act(sum_k a[i, k] W[n, k] + bias[n]), the sum in the
 * order of the dense reference kernel it replaces: `lanes` 0 adds k in
 * ascending order (the conv reference), 8 in nrt_fc_f32_ref's eight lanes
 * (k mod 8, combined pairwise, then the K mod 8 tail). */
typedef struct nrt_f32_sparse_gemm {
    const nrt_bcsr* w;
    const float* a;
    int64_t lda;
    float* c;
    int64_t ldc;
    const float* bias;
    nrt_activation act;
    int lanes;
} nrt_f32_sparse_gemm;

void nrt_sparse_gemm_f32_ref(const nrt_f32_sparse_gemm* g, int64_t m0, int64_t m1);

#endif
