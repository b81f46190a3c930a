/* Float32 microkernel tables: the interface between ISA-independent drivers
 * (kernels/f32_*.c: packing, tiling, threads) and the per-ISA microkernels
 * (kernels/scalar/, kernels/x86/, kernels/arm/); dispatch.c says which
 * level uses which.
 *
 * A family with tile parameters is a const table of function pointers for
 * one ISA, named after what its widest kernel does (XNNPACK style:
 * "f32-gemm-12x32-avx512" = float32 GEMM, 12 rows x 32 columns per call,
 * AVX-512); an elementwise family is one function per ISA. The reference
 * level's kernels are portable C (kernels/scalar/); kernels/ref/ holds the
 * reference implementations of whole ops that the tests compare against.
 *
 * Results: float32 microkernels keep their own summation order (blocked,
 * FMA) and may differ from the reference in the last bits; tests allow
 * ~1e-5 relative error. (The int8 path is different: bit-exact everywhere.) */
#ifndef NRT_F32_KERNELS_H
#define NRT_F32_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "activation.h"
#include "isa.h"

/* ---- GEMM: C[M, N] = act(A[M, K] . W[K, N] + bias[N]) ----
 *
 * W is packed once into panels of nr columns (the last one zero-padded):
 * panel = bias[nr], then K rows of nr weights (nrt_f32_gemm_pack). A call
 * computes mr <= MR rows x nc <= nr columns of one panel.
 *
 * gemm:  row r of A is a + r * a_stride (K = kc contiguous floats).
 * igemm: K is ks blocks of kc ("indirect GEMM", XNNPACK): a[p * MR + r] is
 *        row r's pointer for block p (a conv tap: a pixel's input channels,
 *        or a zero buffer in the padding). Entries for r >= mr must be valid
 *        pointers too (copies of row mr - 1); the kernel reads but never
 *        stores them.
 * c: row r at c + r * c_stride; only mr x nc values are written. */
typedef void (*nrt_f32_gemm_ukernel)(size_t mr, size_t nc, size_t kc, const float* a, size_t a_stride,
                                     const float* w, float* c, size_t c_stride, const nrt_activation* act);
typedef void (*nrt_f32_igemm_ukernel)(size_t mr, size_t nc, size_t kc, size_t ks, const float* const* a,
                                      const float* w, float* c, size_t c_stride, const nrt_activation* act);

typedef struct nrt_f32_gemm_table {
    const char* name;
    nrt_isa isa;
    uint32_t mr, nr;
    nrt_f32_gemm_ukernel gemm;
    nrt_f32_igemm_ukernel igemm;
} nrt_f32_gemm_table;

/* ---- depthwise convolution, NHWC, one input channel per output channel ----
 *
 * Weights are packed in channel tiles of `cw`: tile = bias[cw], then kh * kw
 * taps of cw weights (nrt_f32_dwconv_pack). A call computes `npix` output
 * pixels of one output row, every channel, over the taps [ky0, ky1) x
 * [kx0, kx1), all of which must lie inside the input: x points at the input
 * of tap (ky0, kx0) of the first pixel. */
typedef struct nrt_f32_dwconv_args {
    size_t channels, kh, kw;
    size_t x_pixel;           /* elements between consecutive output pixels' inputs (stride_w * C) */
    size_t x_tap_row;         /* between tap rows (dilation_h * W_in * C) */
    size_t x_tap_col;         /* between tap columns (dilation_w * C) */
    const float* w;           /* packed weights */
    const nrt_activation* act;
} nrt_f32_dwconv_args;

typedef void (*nrt_f32_dwconv_ukernel)(const nrt_f32_dwconv_args* args, size_t npix, const float* x, size_t ky0,
                                       size_t ky1, size_t kx0, size_t kx1, float* y);

typedef struct nrt_f32_dwconv_table {
    const char* name;
    nrt_isa isa;
    uint32_t cw;
    nrt_f32_dwconv_ukernel run;
} nrt_f32_dwconv_table;

/* ---- vector (elementwise) kernels over contiguous float32 runs ---- */
enum { NRT_F32_VADD, NRT_F32_VSUB, NRT_F32_VMUL, NRT_F32_VDIV, NRT_F32_VMIN, NRT_F32_VMAX, NRT_F32_VOP_COUNT };
/* mode: NRT_BIN_VV / VS / SV of kernels/ref/binary_ref.h (which operand is one repeated value). */
typedef void (*nrt_f32_vbinary_ukernel)(size_t n, const float* a, const float* b, float* y, int mode);
/* y[i] = act(x[i]) (x == y allowed). */
typedef void (*nrt_f32_vact_ukernel)(const nrt_activation* act, const float* x, float* y, size_t n);
/* y[j] = (sum over p < rows of x[p * stride + j]) * scale, for j < cols. */
typedef void (*nrt_f32_vsum_rows_ukernel)(const float* x, size_t rows, size_t cols, size_t stride, float scale,
                                          float* y);

/* Softmax (log_softmax false) or LogSoftmax (true) of one contiguous row of
 * n > 0 values (x == y not allowed). Same numerics as the reference
 * (kernels/ref/softmax_ref.h: max subtracted, sum of the exponentials in
 * double, 1 / sum or log(sum) in double) with a vector exp within ~2 ulp. */
typedef void (*nrt_f32_vsoftmax_ukernel)(bool log_softmax, const float* x, float* y, size_t n);

/* ---- per-level kernels (defined in kernels/scalar/, kernels/x86/, kernels/arm/;
 * picked by dispatch.c) ---- */
extern const nrt_f32_gemm_table nrt_f32_gemm_4x8_scalar;
extern const nrt_f32_dwconv_table nrt_f32_dwconv_4_scalar;
extern const nrt_f32_vbinary_ukernel nrt_f32_vbinary_scalar[NRT_F32_VOP_COUNT];
void nrt_f32_vact_scalar(const nrt_activation* act, const float* x, float* y, size_t n);
void nrt_f32_vsum_rows_scalar(const float* x, size_t rows, size_t cols, size_t stride, float scale, float* y);
void nrt_f32_vsoftmax_scalar(bool log_softmax, const float* x, float* y, size_t n);
#if defined(__x86_64__) || defined(__i386__)
extern const nrt_f32_gemm_table nrt_f32_gemm_12x32_avx512;
extern const nrt_f32_gemm_table nrt_f32_gemm_6x16_avx2;
extern const nrt_f32_dwconv_table nrt_f32_dwconv_16x4_avx512;
extern const nrt_f32_dwconv_table nrt_f32_dwconv_8x4_avx2;
extern const nrt_f32_vbinary_ukernel nrt_f32_vbinary_avx512[NRT_F32_VOP_COUNT];
extern const nrt_f32_vbinary_ukernel nrt_f32_vbinary_avx2[NRT_F32_VOP_COUNT];
void nrt_f32_vact_avx512(const nrt_activation* act, const float* x, float* y, size_t n);
void nrt_f32_vact_avx2(const nrt_activation* act, const float* x, float* y, size_t n);
void nrt_f32_vsum_rows_avx512(const float* x, size_t rows, size_t cols, size_t stride, float scale, float* y);
void nrt_f32_vsum_rows_avx2(const float* x, size_t rows, size_t cols, size_t stride, float scale, float* y);
void nrt_f32_vsoftmax_avx512(bool log_softmax, const float* x, float* y, size_t n);
void nrt_f32_vsoftmax_avx2(bool log_softmax, const float* x, float* y, size_t n);
#endif
#if defined(__aarch64__)
extern const nrt_f32_gemm_table nrt_f32_gemm_8x8_neon;
extern const nrt_f32_dwconv_table nrt_f32_dwconv_8x4_neon;
extern const nrt_f32_vbinary_ukernel nrt_f32_vbinary_neon[NRT_F32_VOP_COUNT];
void nrt_f32_vact_neon(const nrt_activation* act, const float* x, float* y, size_t n);
void nrt_f32_vsum_rows_neon(const float* x, size_t rows, size_t cols, size_t stride, float scale, float* y);
#endif

#endif
