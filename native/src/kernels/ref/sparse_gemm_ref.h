/* Reference float32 kernel for sparse weights: FullyConnected and 1x1 Conv
 * with a block-sparse W [N, K] (engine/sparse.h stores any format; ops/
 * sparse_weights.h turns it into this block-CSR). It gives exactly the
 * reference level's dense GEMM results on the densified W (f32-gemm-4x8-
 * scalar: the bias, then the products in ascending k, then the activation),
 * skipping only products with a weight of zero (adding +-0 leaves a finite
 * sum unchanged but for the sign of a zero result). int8 sparse weights run
 * on the GEMM tables of kernels/gemm.h (nrt_gemm_format_qs8_qc8w_spmm). */
#ifndef NRT_SPARSE_GEMM_REF_H
#define NRT_SPARSE_GEMM_REF_H

#include <stdint.h>

#include "../activation.h"

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

/* c[i, n] = act(bias[n] + sum_k a[i, k] W[n, k]) for rows i in [m0, m1), every n. */
typedef struct nrt_f32_sparse_gemm {
    const nrt_bcsr* w;
    const float* a;
    int64_t lda;
    float* c;
    int64_t ldc;
    const float* bias;
    nrt_activation act;
} nrt_f32_sparse_gemm;

void nrt_sparse_gemm_f32_ref(const nrt_f32_sparse_gemm* g, int64_t m0, int64_t m1);

#endif
