/* Float32 GEMM over a microkernel table (f32_kernels.h): weight packing and
 * the tiled, multithreaded driver that FullyConnected, MatMul, 1x1 Conv and
 * ConvTranspose use. ISA-independent: the table decides the tile shape. */
#ifndef NRT_F32_GEMM_H
#define NRT_F32_GEMM_H

#include "f32_kernels.h"
#include "threads.h"

/* Largest MR of any table, and the packed-weight alignment. */
#define NRT_F32_GEMM_MAX_MR 12
#define NRT_F32_PACK_ALIGN 64

/* Floats of the packed form of an N x K weight matrix: ceil(N / nr) panels of
 * nr bias values + K * nr weights. */
size_t nrt_f32_gemm_packed_floats(const nrt_f32_gemm_table* t, size_t n, size_t k);

/* Packs W, element (n, k) at w[n * stride_n + k * stride_k], with bias[n]
 * (NULL = zeros), zero-padding the last panel. */
void nrt_f32_gemm_pack(const nrt_f32_gemm_table* t, size_t n, size_t k, const float* w, size_t stride_n,
                       size_t stride_k, const float* bias, float* packed);

/* C = act(A . W + bias) for `batch` independent products: product b reads
 * A at a + a_offset[b] (a_offset NULL: every product reads a), packed
 * weights at packed + b * packed_stride, and writes c + b * M * ldc. */
typedef struct nrt_f32_gemm_args {
    size_t M, N, K, batch;
    const float* a;
    size_t lda;
    const int64_t* a_offset;
    const float* packed;
    size_t packed_stride;
    float* c;
    size_t ldc;
    const nrt_activation* act;
} nrt_f32_gemm_args;

/* Runs on the model's threads when the product is large enough to pay for it. */
void nrt_f32_gemm_run(const nrt_threads* threads, const nrt_f32_gemm_table* t, const nrt_f32_gemm_args* g);

/* Task sizing shared by the drivers: how many of `tasks` items (each worth
 * `work` float multiply-adds) one thread should take at least, so that a
 * thread's share pays for handing it over and small ops run on the calling
 * thread alone. `work` counts the rows a task really computes (not a full
 * MR-row tile when M is smaller). */
size_t nrt_f32_grain(size_t tasks, double work);
/* The same for int8 multiply-adds (dot-product instructions do several per
 * float multiply-add's time). */
size_t nrt_s8_grain(size_t tasks, double work);

/* Column blocks to split N into (in panels) so `m_tasks` row tasks give every
 * thread a few pieces of work. */
size_t nrt_f32_column_split(const nrt_threads* threads, size_t m_tasks, size_t panels);

#endif
