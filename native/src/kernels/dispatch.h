/* Dispatch as data: one kernel table per level (dispatch.c), resolved once
 * per model.
 *
 * An entry is one microkernel family: a table with its tile parameters
 * (GEMM, depthwise ...) or a single function (the elementwise kernels). A
 * level's table names only what it adds; an absent entry is taken from the
 * level it falls back to (isa.h), down to the reference level, whose
 * kernels are portable C (kernels/scalar/). So every entry of a resolved
 * table is set, except the ones the reference level leaves out on purpose:
 * qs8_convt (the driver takes the GEMM instead) and strided_short_rows (the
 * plain copy loops run instead). An op makes one call whatever the level.
 *
 * A new microkernel family is a line here (and its kernels in the level
 * tables); a new level is a table in dispatch.c. */
#ifndef NRT_DISPATCH_H
#define NRT_DISPATCH_H

#include "f32_kernels.h"
#include "movement_kernels.h"
#include "qs16_kernels.h"
#include "qs8_kernels.h"

/* type                               entry */
#define NRT_KERNEL_ENTRIES(X)                                                                                      \
    X(const nrt_gemm_table*, f32_gemm)                                                                         \
    X(const nrt_dwconv_table*, f32_dwconv)                                                                     \
    X(const nrt_f32_vbinary_ukernel*, f32_vbinary) /* [NRT_F32_VOP_COUNT] */                                       \
    X(nrt_f32_vact_ukernel, f32_vact)                                                                              \
    X(nrt_f32_vsum_rows_ukernel, f32_vsum_rows)                                                                    \
    X(nrt_f32_vsoftmax_ukernel, f32_vsoftmax)                                                                      \
    X(nrt_f32_maxpool_ukernel, f32_maxpool)                                                                        \
    X(const nrt_gemm_table*, qs8_gemm)                                                                          \
    X(const nrt_gemm_table*, qs8_spmm) /* weights sparse in 1 x 4 blocks (gemm.h) */                              \
    X(const nrt_dwconv_table*, qs8_dwconv)                                                                      \
    X(const nrt_qs8_convt_table*, qs8_convt)                                                                        \
    X(const nrt_gemm_table*, qs8_matmul)                                                                      \
    X(const nrt_gemm_table*, qs16_gemm) /* 16x8: int16 activations, int8 weights (qs16_kernels.h) */             \
    X(const nrt_dwconv_table*, qs16_dwconv)                                                                     \
    X(nrt_qs16_quantize_ukernel, qs16_quantize)                                                                   \
    X(nrt_qs16_dequantize_ukernel, qs16_dequantize)                                                               \
    X(nrt_binary_fn, qs16_vadd) /* 16-bit Add / Sub / Mul (ref/qs16_ref.h) */                                    \
    X(nrt_binary_fn, qs16_vmul)                                                                                    \
    X(const nrt_qd8_fc_table*, qd8_fc)                                                                             \
    X(const nrt_qd8_qb4w_fc_table*, qd8_qb4w_fc) /* int4 group-wise W */                                      \
    X(nrt_binary_fn, qs8_vadd)                                                                                     \
    X(nrt_binary_fn, qs8_vmul)                                                                                     \
    X(nrt_qs8_lut_ukernel, qs8_lut)                                                                                 \
    X(nrt_qs8_f32_lut_ukernel, qs8_f32_lut)                                                                         \
    X(nrt_qs8_vsoftmax_ukernel, qs8_vsoftmax)                                                                       \
    X(nrt_qs8_gavgpool_ukernel, qs8_gavgpool)                                                                       \
    X(nrt_qs8_avgpool_ukernel, qs8_avgpool)                                                                         \
    X(nrt_qs8_maxpool_ukernel, qs8_maxpool)                                                                         \
    X(nrt_qs8_rescale_ukernel, qs8_rescale)                                                                         \
    X(nrt_qs8_quantize_ukernel, qs8_quantize)                                                                       \
    X(nrt_qs8_dequantize_ukernel, qs8_dequantize)                                                                   \
    X(nrt_strided_fn, strided_short_rows)

#define NRT_KERNEL_FIELD(type, entry) type entry;
typedef struct nrt_kernels {
    NRT_KERNEL_ENTRIES(NRT_KERNEL_FIELD)
} nrt_kernels;
#undef NRT_KERNEL_FIELD

/* The entries level `isa` itself defines (the others NULL). */
const nrt_kernels* nrt_kernels_of_level(int isa);
/* Every entry level `isa` runs: its own, the rest from its fallbacks. */
void nrt_kernels_resolve(int isa, nrt_kernels* out);

#endif
