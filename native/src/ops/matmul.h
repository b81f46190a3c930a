/* Matrix products shared by the math family's ops (MatMul, FullyConnected,
 * LSTM / GRU projections). */
#ifndef NRT_OPS_MATMUL_H
#define NRT_OPS_MATMUL_H

#include <stdbool.h>

#include "../engine/op.h"
#include "../kernels/ref/gemm_ref.h"

/* Computes one product over the model's threads: C = A . W^T (+bias, act)
 * when `fc`, else C = A . B. */
void nrt_gemm_f32_parallel(nrt_ctx* ctx, const nrt_gemm_f32* g, bool fc);

#endif
