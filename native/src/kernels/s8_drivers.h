/* int8 drivers over the microkernel tables of s8_kernels.h: weight packing,
 * indirection, tiling and threads for Conv (GEMM, indirect GEMM, depthwise)
 * and FullyConnected. ISA-independent: the tables decide tile shapes and
 * packed layouts; every level gives the reference kernels' bytes.
 *
 * Conv algorithms, chosen once at load from the weights' shape (the plan is
 * kept with the packed weights in the op's parameters):
 *   DEPTHWISE  group == C_in == C_out (one input channel per output channel):
 *              the dwconv kernels, vectorized over channels. Each output
 *              row's interior (every tap inside the input) goes to the
 *              table's row kernel, which finds the taps at fixed strides from
 *              one pointer per kernel row; the edge pixels (and everything on
 *              tables without one) get one tap pointer per (output pixel,
 *              tap), padding taps pointing at a buffer of z_x (so the folded
 *              bias stays exact at the borders);
 *   GEMM       any other conv, per group: output pixels x output channels,
 *              K = taps x input channels of the group. A 1x1 stride-1
 *              unpadded ungrouped conv reads the input rows in place (gemm);
 *              every other one goes through an indirection buffer (igemm:
 *              one pointer per pixel and tap, the z_x buffer in the padding),
 *              built per tile of MR pixels: no im2col copy (a tile inside
 *              the input within one output row: pointers at fixed strides,
 *              no per-pixel edge tests). With few input
 *              channels (the RGB first layer) and undilated columns, the kw
 *              taps of a kernel row are kw x C_in contiguous bytes of the
 *              input, so each kernel row is one K block of the indirection
 *              ("merged rows": kh blocks of kw x C_in instead of kh x kw
 *              blocks of C_in, e.g. 3 x 9 bytes instead of 9 x 3); pixels
 *              whose row crosses the left / right edge get a copy with z_x
 *              filled in; tiles whose rows all lie in the input read each
 *              row padded to whole K blocks (the next pixel's bytes meet the
 *              panel's zero weights) while that stays inside the input.
 *   TRANSPOSE  ConvTranspose with kernel == stride, no padding or dilation,
 *              group 1 (upsampling layers): every output pixel receives
 *              exactly one tap, so z_x folds into the bias like a Conv's
 *              (B[c] - z_x * sum_ci W[ci, ky, kx, c], per kernel position).
 *              For kernel row ky, the kw x C_out outputs of consecutive input
 *              pixels are consecutive in output row iy * stride + ky: one
 *              GEMM per kernel row with N = kw x C_out writes them in place.
 *              When all kh x kw x C_out columns fit one panel (an upsampling
 *              to one channel: 2 x 2 x 1), one GEMM covers every kernel row
 *              through a buffer ("merged rows" too: the per-call cost of a
 *              panel is paid once instead of kh times). Before both, on
 *              levels with a convt table (s8_kernels.h; x86 AVX2 and AVX-512
 *              VNNI, ARM takes the GEMM): when kh x kw x C_out divides its
 *              vector, several pixels share each vector (one requantization
 *              for all of them) and one call per input row writes every
 *              kernel row in place; when it is whole vectors per kernel row,
 *              at most the table's wide_max (24 -> 24 channels, 2 x 2: 2 x 48),
 *              its wide kernel takes each pixel against all kernel rows at
 *              once (one broadcast of the input for all of them), also in
 *              place.
 * Other geometries (other ConvTransposes, more than NRT_S8_CONV_MAX_TAPS
 * taps, depthwise with a channel multiplier) stay on the reference kernels. */
#ifndef NRT_S8_DRIVERS_H
#define NRT_S8_DRIVERS_H

#include <stdbool.h>

#include "ref/conv_ref.h"
#include "dispatch.h"
#include "threads.h"

#define NRT_S8_CONV_MAX_TAPS 128
#define NRT_S8_GEMM_MAX_MR 12
#define NRT_S8_GEMM_MAX_NR 32
#define NRT_S8_PACK_ALIGN 64
/* Merged rows: C_in below this and kw x C_in at most NRT_S8_ROWS_MAX_K, kh at
 * most NRT_S8_ROWS_MAX_KH (the edge copies live on the stack). */
#define NRT_S8_ROWS_CHANNELS 16
#define NRT_S8_ROWS_MAX_K 64
#define NRT_S8_ROWS_MAX_KH 16

/* ---- GEMM packing (layout: s8_kernels.h) ---- */

/* Bytes for n columns of ks x kc values: ceil(n / nr) panels. */
size_t nrt_s8_gemm_packed_bytes(const nrt_s8_gemm_table* t, size_t n, size_t kc, size_t ks);

/* Packs W, element (column j, tap p, k) at w[j * stride_n + p * stride_tap + k],
 * with bias[j] (NULL: 0) and multipliers m[j]. */
void nrt_s8_gemm_pack(const nrt_s8_gemm_table* t, size_t n, size_t kc, size_t ks, const int8_t* w, size_t stride_n,
                      size_t stride_tap, const int32_t* bias, const float* m, void* packed);

/* C[M, N] = requant(bias + A[M, K] . W^T) on packed weights; rows of A at
 * a + i * lda, of C at c + i * ldc. */
typedef struct nrt_s8_gemm_args {
    size_t M, N, K;
    const int8_t* a;
    size_t lda;
    const void* packed;
    int8_t* c;
    size_t ldc;
    const nrt_s8_requant* rq;
} nrt_s8_gemm_args;

void nrt_s8_gemm_run(const nrt_threads* threads, const nrt_s8_gemm_table* t, const nrt_s8_gemm_args* g);

/* ---- MatMul of two int8 activations (layout: s8_kernels.h) ---- */

/* int16 elements of B [K, N] packed: ceil(N / nr) panels of ceil(K / 2) x nr x 2. */
size_t nrt_s8_matmul_packed_elems(const nrt_s8_matmul_table* t, size_t K, size_t N);

/* Packs B, element (k, j) at b[k * ldb + j], minus its zero point zb. */
void nrt_s8_matmul_pack(const nrt_s8_matmul_table* t, size_t K, size_t N, const int8_t* b, size_t ldb, int32_t zb,
                        int16_t* packed);

/* `batch` products: product i reads A at a + a_offset[i] (rows of K, lda
 * apart), packed B at packed + i * packed_stride, writes C at c + i * M * ldc. */
typedef struct nrt_s8_matmul_args {
    size_t M, N, K, batch;
    const int8_t* a;
    const int64_t* a_offset;
    size_t lda;
    const int16_t* packed;
    size_t packed_stride;
    int8_t* c;
    size_t ldc;
    int32_t za;
    float m;
    const nrt_s8_requant* rq;
} nrt_s8_matmul_args;

void nrt_s8_matmul_run(const nrt_threads* threads, const nrt_s8_matmul_table* t, const nrt_s8_matmul_args* g);

/* ---- Conv ---- */

enum { NRT_S8_CONV_NONE = 0, NRT_S8_CONV_GEMM, NRT_S8_CONV_DEPTHWISE, NRT_S8_CONV_TRANSPOSE };

typedef struct nrt_s8_conv_plan {
    int kind;
    const nrt_s8_gemm_table* gemm;
    const nrt_s8_dwconv_table* dw;
    const nrt_s8_convt_table* convt; /* TRANSPOSE through a convt table (else the GEMM's): */
    bool convt_wide;                 /* its `wide` kernel, else its `run` */
    bool merged_rows;    /* GEMM: one K block per kernel row (packed as kh blocks of kw x C_in);
                            TRANSPOSE: one panel for every kernel row (columns (ky, kx, c)) */
    size_t group_bytes;  /* GEMM: packed bytes per group; TRANSPOSE: per kernel row */
    size_t packed_bytes; /* total */
    bool int_clamp;      /* every acc * m is within NRT_S8_INT_CLAMP_BOUND (nrt_s8_requant) */
} nrt_s8_conv_plan;

/* wdims: OHWI [C_out, KH, KW, C_in / group]; dilation_w: the column
 * dilation. False (kind NONE) when the kernels `k` have nothing for this conv. */
bool nrt_s8_conv_plan_init(const nrt_kernels* k, const int64_t* wdims, int64_t group, int64_t dilation_w,
                           nrt_s8_conv_plan* plan);

/* Packs the OHWI weights with the folded bias (NULL: 0) and the per-channel
 * multipliers m[C_out]. */
void nrt_s8_conv_pack(const nrt_s8_conv_plan* plan, const int64_t* wdims, int64_t group, const int8_t* w,
                      const int32_t* bias, const float* m, void* packed);

/* ConvTranspose, wdims [C_in, KH, KW, C_out / group]: true (kind TRANSPOSE)
 * for the upsampling geometry above. */
bool nrt_s8_convt_plan_init(const nrt_kernels* k, const int64_t* wdims, int64_t group, const int64_t* stride,
                            const int64_t* dilation, bool padded, nrt_s8_conv_plan* plan);

/* Packs its weights with the unfolded bias (NULL: 0), multipliers m[C_out]
 * and the input zero point; false when out of memory. */
bool nrt_s8_convt_pack(const nrt_s8_conv_plan* plan, const int64_t* wdims, const int8_t* w, const int32_t* bias,
                       const float* m, int32_t zx, void* packed);

/* Depthwise row variants (per input shape): an output row whose top or
 * bottom kernel rows lie entirely in the padding runs only the kernel rows
 * [ky0, ky1) inside the input, on weights packed for them, the skipped taps'
 * z_x * W folded into the bias (exact modulo 2^32). Small feature maps with
 * 5x5 kernels spend most taps in the padding otherwise. */
#define NRT_S8_DW_MAX_VARIANTS 8

typedef struct nrt_s8_dw_rows {
    int count;
    int64_t ky0[NRT_S8_DW_MAX_VARIANTS], ky1[NRT_S8_DW_MAX_VARIANTS];
    size_t offset[NRT_S8_DW_MAX_VARIANTS]; /* bytes into the variants' memory */
    const uint8_t* packed;                 /* set by nrt_s8_dw_rows_pack */
} nrt_s8_dw_rows;

/* Plans the variants of a DEPTHWISE plan for geometry g; returns the bytes
 * they need (0: none worth having; r->count 0). */
size_t nrt_s8_dw_rows_plan(const nrt_s8_conv_plan* plan, const nrt_conv2d_geom* g, nrt_s8_dw_rows* r);

/* Packs them into `mem` (NRT_S8_PACK_ALIGN-aligned) from the OHWI weights,
 * the folded bias (NULL: 0), multipliers m and the input zero point. */
void nrt_s8_dw_rows_pack(const nrt_s8_conv_plan* plan, const nrt_conv2d_geom* g, const int8_t* w,
                         const int32_t* bias, const float* m, int32_t zx, nrt_s8_dw_rows* r, void* mem);

/* y = requant(conv(x)) for the whole output; `zbuf` holds >= C_in bytes of
 * z_x (the padding taps' input); rows: depthwise row variants or NULL. */
void nrt_s8_conv_run(const nrt_threads* threads, const nrt_s8_conv_plan* plan, const nrt_conv2d_geom* g, const int8_t* x,
                     const void* packed, const nrt_s8_dw_rows* rows, const int8_t* zbuf, const nrt_s8_requant* rq,
                     int8_t* y);

#endif
