/* Reference float32 matrix products: MatMul (B row-major [K, N]) and
 * FullyConnected (W row-major [N, K], the ONNX Gemm transB / PyTorch Linear
 * layout). Both compute a rectangle [m0, m1) x [n0, n1) of C so callers can
 * split the work across threads.
 *
 * Arithmetic order (what optimized kernels must reproduce up to float
 * rounding; -ffp-contract=off, so no FMA):
 *   MatMul: c = ((0 + a[0]*b[0]) + a[1]*b[1]) + ... in increasing k, then
 *           + bias, then the fused activation.
 *   FullyConnected: 8 partial sums, lane j holding the products with
 *           k = j (mod 8) for k < K - K % 8, in increasing k; the lanes are
 *           added as ((s0+s4)+(s2+s6)) + ((s1+s5)+(s3+s7)); then the tail
 *           products in increasing k; then + bias, then the activation. */
#ifndef NRT_GEMM_REF_H
#define NRT_GEMM_REF_H

#include <stdint.h>

#include "../activation.h"

typedef struct nrt_gemm_f32 {
    int64_t M, N, K;
    const float* a;   /* [M, K], rows lda apart */
    int64_t lda;
    const float* b;   /* MatMul: [K, N], rows ldb apart; FullyConnected: [N, K], rows ldb apart */
    int64_t ldb;
    float* c;         /* [M, N], rows ldc apart */
    int64_t ldc;
    const float* bias; /* [N] or NULL */
    nrt_activation act;
} nrt_gemm_f32;

void nrt_matmul_f32_ref(const nrt_gemm_f32* g, int64_t m0, int64_t m1, int64_t n0, int64_t n1);
void nrt_fc_f32_ref(const nrt_gemm_f32* g, int64_t m0, int64_t m1, int64_t n0, int64_t n1);

/* Applies a fused activation to n contiguous values in place. */
void nrt_activation_f32_ref(const nrt_activation* act, float* x, int64_t n);

#endif
