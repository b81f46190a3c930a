/* GEMM microkernels of every element type, their packed weights, and the one
 * GEMM driver (FullyConnected, MatMul, 1x1 Conv; conv.h runs the others).
 *
 * A table is one microkernel pair for one ISA, named XNNPACK style after
 * what it computes ("qs8-qc8w-gemm-12x32c4-minmax-fp32-avx512vnni": int8
 * activations, int8 weights with per-channel scales, 12 rows x 32 columns
 * per call, K in blocks of 4, output clamp, fp32 requantization, AVX-512
 * VNNI). Its `format` says what the elements are and how the weights are
 * packed (gemm_pack.c); the driver knows nothing else of the element type,
 * so a new weight type (int4, fp16, sparse) is a format and its tables.
 *
 * Packed weights: output channels are cut into column groups of `nr`; each
 * group is one self-contained blob ("panel"), so a microkernel walks a single
 * pointer. The K dimension is ks blocks ("taps") of kc values: ks = 1 for a
 * GEMM, KH x KW for an indirect conv (kc = input channels per group), KH for
 * merged rows (kc = KW x C_in, conv.h). Layouts: the format's comment.
 *
 * Microkernel calls (element counts and strides are in elements of A and C):
 * gemm:  mr <= MR rows x nc <= nr columns of one panel `w`. Row r of A is
 *        a + r * a_stride, kc values read exactly (no element past them).
 * igemm: K is ks blocks of kc; a[p * MR + r] points at row r's kc values for
 *        block p (a conv tap: a pixel's input channels of the group, or the
 *        padding buffer). Entries for r >= mr are valid pointers too (copies
 *        of row mr - 1); they may be read, never stored. On tables with
 *        igemm_null_taps, a block whose MR pointers are all NULL is skipped
 *        (its weights passed over), as if its values were 0: the conv
 *        driver passes a tap that reads only padding so when the padding is
 *        0 (float32), which a dilated conv on a small map (DeepLab's ASPP)
 *        has for most of its taps.
 * c:     row r at c + r * c_stride; exactly mr x nc elements are written.
 * params: the output side, of the format's type (f32: nrt_activation,
 *        qs8: nrt_qs8_requant, the MatMul format: nrt_qs8_matmul_params). */
#ifndef NRT_GEMM_H
#define NRT_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "isa.h"
#include "threads.h"

typedef void (*nrt_gemm_ukernel)(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride, const void* w,
                                 void* c, size_t c_stride, const void* params);
typedef void (*nrt_igemm_ukernel)(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* a, const void* w,
                                  void* c, size_t c_stride, const void* params);

typedef struct nrt_gemm_table nrt_gemm_table;

/* What a packing routine reads: n columns of ks taps x kc values, element
 * (column j, tap p, k) at w + j * stride_n + p * stride_tap + k * stride_k
 * (in weight elements). */
typedef struct nrt_gemm_weights {
    size_t n, kc, ks;
    const void* w;
    size_t stride_n, stride_tap, stride_k;
    const void* bias;    /* per column, the format's bias type; NULL: 0 */
    const float* scales; /* per column (qs8: requantization multipliers); unused by f32 */
    int32_t zero_fold;   /* qs8: subtract zero_fold x (the column's weight sum) from its bias (a
                            ConvTranspose's input zero point, requant.h); 0 elsewhere */
    int32_t w_zero;      /* the MatMul format: B's zero point, subtracted from every value */
} nrt_gemm_weights;

typedef struct nrt_gemm_format {
    const char* name;
    uint8_t a_bytes, c_bytes;   /* element sizes of A and C */
    uint8_t w_bytes, bias_bytes; /* of the weights and bias a packing routine reads */
    double task_macs;           /* multiply-adds worth handing a thread (dot-product instructions
                                   do several int8 multiply-adds per float one) */
    size_t (*panel_bytes)(const nrt_gemm_table* t, size_t kc, size_t ks);
    void (*pack)(const nrt_gemm_table* t, const nrt_gemm_weights* w, void* packed);
    /* Formats whose size depends on the values (sparse): the packed bytes of
     * these weights; NULL: ceil(n / nr) panels of panel_bytes. */
    size_t (*weights_bytes)(const nrt_gemm_table* t, const nrt_gemm_weights* w);
} nrt_gemm_format;

struct nrt_gemm_table {
    const char* name;
    nrt_isa isa;
    uint32_t mr, nr, kr;             /* kr: K block of the panel layout (1 for float32) */
    int32_t x_offset;                /* qs8: 128 where activations are read as x ^ 0x80 (x86 VNNI's
                                        u8 x s8); 0 for signed products. Packing folds -x_offset x
                                        (weight sum) into the bias */
    const nrt_gemm_format* format;
    nrt_gemm_ukernel gemm;
    nrt_igemm_ukernel igemm;         /* NULL where only `gemm` exists (MatMul) */
    bool igemm_null_taps;            /* igemm skips all-NULL blocks (above); format f32 only */
};

/* float32 A, W, bias and C; params nrt_activation. Panel: float bias[nr],
 * then ks x kc rows of nr weights. */
extern const nrt_gemm_format nrt_gemm_format_f32;
/* int8 A and C, int8 W with per-column multipliers, int32 bias; params
 * nrt_qs8_requant. Panel (kcb = ceil(kc / kr) blocks of kr consecutive k):
 *   int32 bias[nr]                B[n] - (x_offset + zero_fold) * sum_k W[n, k]  (mod 2^32)
 *   int8  w[ks][kcb][nr][kr]      0 past kc and past the last column
 *   float m[nr]                   requantization multipliers
 * The bytes depend on the ISA only through (nr, kr, x_offset): a c4 layout
 * serves VNNI, AVX2 (vpmaddwd on sign-extended pairs) and NEON sdot alike. */
extern const nrt_gemm_format nrt_gemm_format_qs8_qc8w;
/* MatMul of two int8 activations (requant.h): B [K, N] packed per run as
 * int16 pairs minus its zero point, b2[ceil(K / 2)][nr][2] = (b[2p][j] - zb,
 * b[2p + 1][j] - zb), 0 past K and N, no bias; params nrt_qs8_matmul_params.
 * Each product pair sums at most 2 * 255^2 < 2^31: exact in int32 lanes. */
extern const nrt_gemm_format nrt_gemm_format_qs8_matmul;
/* int8 like qs8_qc8w, W sparse in blocks of 1 column x 4 consecutive k (the
 * c4 blocks of the dense panels; kc a multiple of 4, ks 1), every column in
 * one panel (tables of this format have nr NRT_GEMM_ONE_PANEL and vectorize
 * over rows instead, each kernel transposing its rows of A). Panel, of size
 * weights_bytes:
 *   int32  bias[n]        B[n] - (x_offset + zero_fold) * sum_k W[n, k]  (mod 2^32)
 *   float  m[n]           requantization multipliers
 *   uint32 blocks[n + 1]  column j keeps blocks blocks[j] .. blocks[j + 1] - 1
 *   uint32 kb[kept]       each kept block's k / 4
 *   int8   w[kept][4]     its 4 weights (some may be 0; a block of 4 zeros is left out) */
extern const nrt_gemm_format nrt_gemm_format_qs8_qc8w_spmm;
#define NRT_GEMM_ONE_PANEL (1u << 30)
/* The largest kc of a spmm kernel (its transposed rows of A live on the stack). */
#define NRT_SPMM_MAX_K 2048

static inline size_t nrt_gemm_panel_bytes(const nrt_gemm_table* t, size_t kc, size_t ks) {
    return t->format->panel_bytes(t, kc, ks);
}

/* Bytes for n columns of ks x kc values: ceil(n / nr) panels. */
static inline size_t nrt_gemm_packed_bytes(const nrt_gemm_table* t, size_t n, size_t kc, size_t ks) {
    return (n + t->nr - 1) / t->nr * nrt_gemm_panel_bytes(t, kc, ks);
}

/* Bytes of these weights packed for t (any format). */
static inline size_t nrt_gemm_weights_bytes(const nrt_gemm_table* t, const nrt_gemm_weights* w) {
    return t->format->weights_bytes ? t->format->weights_bytes(t, w) : nrt_gemm_packed_bytes(t, w->n, w->kc, w->ks);
}

static inline void nrt_gemm_pack(const nrt_gemm_table* t, const nrt_gemm_weights* w, void* packed) {
    t->format->pack(t, w, packed);
}

/* Packed weights up to this size stay in a core's L2 across row tiles; larger
 * ones are walked in column blocks of NRT_GEMM_BLOCK_BYTES with the row tiles
 * inside (the GEMM and conv drivers both). */
#define NRT_GEMM_L2_WEIGHT_BYTES (512u << 10)
#define NRT_GEMM_BLOCK_BYTES (128u << 10)

/* Alignment of packed weights. */
#define NRT_PACK_ALIGN 64
/* The largest MR and nr of any table. */
#define NRT_GEMM_MAX_MR 12
#define NRT_GEMM_MAX_NR 32

/* C = A . W (+ the output side in params) for `batch` independent products:
 * product b reads A at a + a_offset[b] (a_offset NULL: every product reads
 * a), rows lda apart, its packed weights at packed + b * packed_stride
 * bytes, and writes C at c + b * M * ldc (offsets and strides in elements). */
typedef struct nrt_gemm_args {
    size_t M, N, K, batch;
    const void* a;
    size_t lda;
    const int64_t* a_offset;
    const void* packed;
    size_t packed_stride;
    void* c;
    size_t ldc;
    const void* params;
} nrt_gemm_args;

/* Runs on the threads when the product is large enough to pay for it. */
void nrt_gemm_run(const nrt_threads* threads, const nrt_gemm_table* t, const nrt_gemm_args* g);

/* Task sizing shared by the drivers: how many of `tasks` items (each worth
 * `work` multiply-adds) one thread should take at least, so that a share
 * pays for handing it over and small ops run on the calling thread alone;
 * `task_macs` is what a share should be worth (a format's). */
size_t nrt_task_grain(double task_macs, double work);
/* Column blocks to split N into (in panels) so `m_tasks` row tasks give every
 * thread a few pieces of work. */
size_t nrt_column_split(const nrt_threads* threads, size_t m_tasks, size_t panels);

#endif
