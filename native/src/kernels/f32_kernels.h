/* Float32 microkernels: the elementwise families, and the declarations of
 * every float32 kernel of every level (kernels/scalar/, kernels/x86/,
 * kernels/arm/; dispatch.c says which level uses which). GEMM and depthwise
 * tables are gemm.h's and dwconv.h's, shared with every element type. The
 * reference level's kernels are portable C (kernels/scalar/); kernels/ref/
 * holds the reference implementations of whole ops the tests compare against.
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
#include "dwconv.h"
#include "gemm.h"

/* ---- vector (elementwise) kernels over contiguous float32 runs ---- */
/* VPRELU: a > 0 ? a : a * b (b the slope). */
enum {
    NRT_F32_VADD, NRT_F32_VSUB, NRT_F32_VMUL, NRT_F32_VDIV, NRT_F32_VMIN, NRT_F32_VMAX, NRT_F32_VPRELU,
    NRT_F32_VOP_COUNT
};
/* mode: NRT_BIN_VV / VS / SV of kernels/ref/binary_ref.h (which operand is one repeated value). */
typedef void (*nrt_f32_vbinary_ukernel)(size_t n, const float* a, const float* b, float* y, int mode);
/* y[i] = act(x[i]) (x == y allowed). */
typedef void (*nrt_f32_vact_ukernel)(const nrt_activation* act, const float* x, float* y, size_t n);
/* y[j] = (sum over p < rows of x[p * stride + j]) * scale, for j < cols. */
typedef void (*nrt_f32_vsum_rows_ukernel)(const float* x, size_t rows, size_t cols, size_t stride, float scale,
                                          float* y);

/* One output pixel of MaxPool: y[c] = max over the `taps` pointers ind[t][c]
 * (taps inside the input only), c < channels, as nrt_maxpool2d_f32_ref
 * finds it: from -inf, a tap's value replaces the running max only when
 * greater (a NaN tap is skipped, of +0 / -0 the earlier tap's stays), so
 * every level's result is the reference's exactly. */
typedef void (*nrt_f32_maxpool_ukernel)(size_t channels, size_t taps, const float* const* ind, float* y);

/* Softmax (log_softmax false) or LogSoftmax (true) of one contiguous row of
 * n > 0 values (x == y not allowed). Same numerics as the reference
 * (kernels/ref/softmax_ref.h: max subtracted, sum of the exponentials in
 * double, 1 / sum or log(sum) in double) with a vector exp within ~2 ulp. */
typedef void (*nrt_f32_vsoftmax_ukernel)(bool log_softmax, const float* x, float* y, size_t n);

#endif
