/* The kernel table of every level (dispatch.h). A table names what its level
 * adds over the level it falls back to (isa.h); everything else comes from
 * there. The tables are const data and a model resolves its level's once,
 * so there is no global state and two models may run different levels. */
#include "dispatch.h"

static const nrt_kernels levels[NRT_ISA_COUNT] = {
    [NRT_ISA_REF] = {
        .f32_gemm = &nrt_f32_gemm_4x8_scalar,
        .f32_dwconv = &nrt_f32_dwconv_4_scalar,
        .f32_vbinary = nrt_f32_vbinary_scalar,
        .f32_vact = nrt_f32_vact_scalar,
        .f32_vsum_rows = nrt_f32_vsum_rows_scalar,
        .f32_vsoftmax = nrt_f32_vsoftmax_scalar,
        .qs8_gemm = &nrt_qs8_gemm_4x4_scalar,
        .qs8_dwconv = &nrt_qs8_dwconv_4_scalar,
        .qs8_matmul = &nrt_qs8_matmul_4x4k2_scalar,
        .qd8_fc = &nrt_qd8_f32_qc8w_fc_scalar,
        .qs8_vadd = nrt_qs8_vadd_scalar,
        .qs8_vmul = nrt_qs8_vmul_scalar,
        .qs8_lut = nrt_qs8_lut_scalar,
        .qs8_gavgpool = nrt_qs8_gavgpool_scalar,
        .qs8_avgpool = nrt_qs8_avgpool_scalar,
        .qs8_maxpool = nrt_qs8_maxpool_scalar,
        .qs8_rescale = nrt_qs8_rescale_scalar,
        .qs8_quantize = nrt_qs8_quantize_scalar,
        .qs8_dequantize = nrt_qs8_dequantize_scalar,
    },
#if defined(__x86_64__) || defined(__i386__)
    [NRT_ISA_AVX2] = {
        .f32_gemm = &nrt_f32_gemm_6x16_avx2,
        .f32_dwconv = &nrt_f32_dwconv_8x4_avx2,
        .f32_vbinary = nrt_f32_vbinary_avx2,
        .f32_vact = nrt_f32_vact_avx2,
        .f32_vsum_rows = nrt_f32_vsum_rows_avx2,
        .f32_vsoftmax = nrt_f32_vsoftmax_avx2,
        .qs8_gemm = &nrt_qs8_gemm_4x8c4_avx2,
        .qs8_dwconv = &nrt_qs8_dwconv_8x4_avx2,
        .qs8_convt = &nrt_qs8_convt_8c2_avx2,
        .qd8_fc = &nrt_qd8_f32_qc8w_fc_4x8c2_avx2,
        .qs8_vadd = nrt_qs8_vadd_avx2,
        .qs8_vmul = nrt_qs8_vmul_avx2,
        .qs8_gavgpool = nrt_qs8_gavgpool_avx2,
        .qs8_avgpool = nrt_qs8_avgpool_avx2,
        .qs8_maxpool = nrt_qs8_maxpool_avx2,
        .qs8_rescale = nrt_qs8_rescale_avx2,
        .qs8_quantize = nrt_qs8_quantize_avx2,
        .qs8_dequantize = nrt_qs8_dequantize_avx2,
        .strided_short_rows = nrt_strided_short_rows_avx2,
    },
    [NRT_ISA_AVX512] = {
        .f32_gemm = &nrt_f32_gemm_12x32_avx512,
        .f32_dwconv = &nrt_f32_dwconv_16x4_avx512,
        .f32_vbinary = nrt_f32_vbinary_avx512,
        .f32_vact = nrt_f32_vact_avx512,
        .f32_vsum_rows = nrt_f32_vsum_rows_avx512,
        .f32_vsoftmax = nrt_f32_vsoftmax_avx512,
        .qs8_gemm = &nrt_qs8_gemm_12x32c4_avx512vnni,
        .qs8_dwconv = &nrt_qs8_dwconv_32x4_avx512vnni,
        .qs8_convt = &nrt_qs8_convt_16c4_avx512vnni,
        .qs8_matmul = &nrt_qs8_matmul_4x16k2_avx512vnni,
        .qd8_fc = &nrt_qd8_f32_qc8w_fc_4x16c4_avx512vnni,
        .qs8_vadd = nrt_qs8_vadd_avx512,
        .qs8_vmul = nrt_qs8_vmul_avx512,
        .qs8_gavgpool = nrt_qs8_gavgpool_avx512,
        .qs8_avgpool = nrt_qs8_avgpool_avx512,
        .qs8_maxpool = nrt_qs8_maxpool_avx512,
        .qs8_rescale = nrt_qs8_rescale_avx512,
        .qs8_quantize = nrt_qs8_quantize_avx512,
        .qs8_dequantize = nrt_qs8_dequantize_avx512,
    },
    [NRT_ISA_AVX512VBMI] = {
        .qs8_lut = nrt_qs8_lut_avx512vbmi, /* byte permutes: 64 table lookups per instruction */
    },
#endif
#if defined(__aarch64__)
    [NRT_ISA_NEON] = {
        .f32_gemm = &nrt_f32_gemm_8x8_neon,
        .f32_dwconv = &nrt_f32_dwconv_8x4_neon,
        .f32_vbinary = nrt_f32_vbinary_neon,
        .f32_vact = nrt_f32_vact_neon,
        .f32_vsum_rows = nrt_f32_vsum_rows_neon,
        .qs8_gemm = &nrt_qs8_gemm_8x8_neon,
        .qs8_dwconv = &nrt_qs8_dwconv_16x2_neon,
        .qs8_matmul = &nrt_qs8_matmul_4x8k2_neon,
        .qs8_vadd = nrt_qs8_vadd_neon,
        .qs8_vmul = nrt_qs8_vmul_neon,
        .qs8_lut = nrt_qs8_lut_neon,
        .qs8_gavgpool = nrt_qs8_gavgpool_neon,
        .qs8_avgpool = nrt_qs8_avgpool_neon,
        .qs8_maxpool = nrt_qs8_maxpool_neon,
        .qs8_rescale = nrt_qs8_rescale_neon,
        .qs8_quantize = nrt_qs8_quantize_neon,
        .qs8_dequantize = nrt_qs8_dequantize_neon,
    },
    /* dotprod has no float instructions, and a depthwise tap or a MatMul's
     * int16 pair has nothing for SDOT to sum: the NEON kernels for those */
    [NRT_ISA_DOTPROD] = {
        .qs8_gemm = &nrt_qs8_gemm_8x8c4_neondot,
    },
#endif
};

const nrt_kernels* nrt_kernels_of_level(int isa) {
    return &levels[isa >= 0 && isa < NRT_ISA_COUNT ? isa : NRT_ISA_REF];
}

void nrt_kernels_resolve(int isa, nrt_kernels* out) {
    *out = *nrt_kernels_of_level(isa);
    for (int level = isa; level != NRT_ISA_REF;) {
        level = nrt_isa_fallback(level);
        const nrt_kernels* down = nrt_kernels_of_level(level);
#define NRT_KERNEL_INHERIT(type, entry) \
    if (!out->entry) out->entry = down->entry;
        NRT_KERNEL_ENTRIES(NRT_KERNEL_INHERIT)
#undef NRT_KERNEL_INHERIT
    }
}
