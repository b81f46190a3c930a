/* Which microkernel table each kernel level uses. Every switch below lists
 * the ladder of its architecture from the best tier down; a tier without a
 * table falls through to the next lower one, and the bottom (NRT_ISA_REF,
 * or a level with nothing yet) returns NULL: the reference kernels.
 *
 * The tables are const data chosen per model (model->isa), so there is no
 * global state to initialize and two models may run different levels. */
#include "f32_kernels.h"
#include "s8_kernels.h"
#include "movement_kernels.h"

const nrt_f32_gemm_table* nrt_f32_gemm_table_for(nrt_isa isa) {
    switch ((int)isa) {
#if defined(__x86_64__) || defined(__i386__)
    case NRT_ISA_AVX512VBMI:
    case NRT_ISA_AVX512: return &nrt_f32_gemm_12x32_avx512;
    case NRT_ISA_AVX2: return &nrt_f32_gemm_6x16_avx2;
#endif
#if defined(__aarch64__)
    case NRT_ISA_DOTPROD: /* dotprod has no float instructions: the NEON kernels */
    case NRT_ISA_NEON: return &nrt_f32_gemm_8x8_neon;
#endif
    default: return NULL;
    }
}

const nrt_f32_dwconv_table* nrt_f32_dwconv_table_for(nrt_isa isa) {
    switch ((int)isa) {
#if defined(__x86_64__) || defined(__i386__)
    case NRT_ISA_AVX512VBMI:
    case NRT_ISA_AVX512: return &nrt_f32_dwconv_16x4_avx512;
    case NRT_ISA_AVX2: return &nrt_f32_dwconv_8x4_avx2;
#endif
#if defined(__aarch64__)
    case NRT_ISA_DOTPROD:
    case NRT_ISA_NEON: return &nrt_f32_dwconv_8x4_neon;
#endif
    default: return NULL;
    }
}

const nrt_f32_vector_table* nrt_f32_vector_table_for(nrt_isa isa) {
    switch ((int)isa) {
#if defined(__x86_64__) || defined(__i386__)
    case NRT_ISA_AVX512VBMI:
    case NRT_ISA_AVX512: return &nrt_f32_vector_avx512;
    case NRT_ISA_AVX2: return &nrt_f32_vector_avx2;
#endif
#if defined(__aarch64__)
    case NRT_ISA_DOTPROD:
    case NRT_ISA_NEON: return &nrt_f32_vector_neon;
#endif
    default: return NULL;
    }
}

/* ---- int8 (s8_kernels.h) ---- */

const nrt_s8_gemm_table* nrt_s8_gemm_table_for(nrt_isa isa) {
    switch ((int)isa) {
#if defined(__x86_64__) || defined(__i386__)
    case NRT_ISA_AVX512VBMI:
    case NRT_ISA_AVX512: return &nrt_qs8_gemm_12x32c4_avx512vnni;
    case NRT_ISA_AVX2: return &nrt_qs8_gemm_4x8c4_avx2;
#endif
#if defined(__aarch64__)
    case NRT_ISA_DOTPROD: return &nrt_qs8_gemm_8x8c4_neondot;
    case NRT_ISA_NEON: return &nrt_qs8_gemm_8x8_neon;
#endif
    default: return NULL;
    }
}

const nrt_s8_dwconv_table* nrt_s8_dwconv_table_for(nrt_isa isa) {
    switch ((int)isa) {
#if defined(__x86_64__) || defined(__i386__)
    case NRT_ISA_AVX512VBMI:
    case NRT_ISA_AVX512: return &nrt_qs8_dwconv_32x4_avx512vnni;
    case NRT_ISA_AVX2: return &nrt_qs8_dwconv_8x4_avx2;
#endif
#if defined(__aarch64__)
    case NRT_ISA_DOTPROD: /* a depthwise tap has nothing for SDOT to sum: the NEON kernel */
    case NRT_ISA_NEON: return &nrt_qs8_dwconv_16x2_neon;
#endif
    default: return NULL;
    }
}

const nrt_s8_vector_table* nrt_s8_vector_table_for(nrt_isa isa) {
    switch ((int)isa) {
#if defined(__x86_64__) || defined(__i386__)
    case NRT_ISA_AVX512VBMI: return &nrt_qs8_vector_avx512vbmi; /* + byte permutes for the Lut */
    case NRT_ISA_AVX512: return &nrt_qs8_vector_avx512;
    case NRT_ISA_AVX2: return &nrt_qs8_vector_avx2;
#endif
#if defined(__aarch64__)
    case NRT_ISA_DOTPROD:
    case NRT_ISA_NEON: return &nrt_qs8_vector_neon;
#endif
    default: return NULL;
    }
}

nrt_s8_rescale_ukernel nrt_s8_rescale_for(nrt_isa isa) {
    switch ((int)isa) {
#if defined(__x86_64__) || defined(__i386__)
    case NRT_ISA_AVX512VBMI:
    case NRT_ISA_AVX512: return nrt_qs8_rescale_avx512;
    case NRT_ISA_AVX2: return nrt_qs8_rescale_avx2;
#endif
#if defined(__aarch64__)
    case NRT_ISA_DOTPROD:
    case NRT_ISA_NEON: return nrt_qs8_rescale_neon;
#endif
    default: return NULL;
    }
}

nrt_s8_quantize_ukernel nrt_s8_quantize_for(nrt_isa isa) {
    switch ((int)isa) {
#if defined(__x86_64__) || defined(__i386__)
    case NRT_ISA_AVX512VBMI:
    case NRT_ISA_AVX512: return nrt_qs8_quantize_avx512;
    case NRT_ISA_AVX2: return nrt_qs8_quantize_avx2;
#endif
#if defined(__aarch64__)
    case NRT_ISA_DOTPROD:
    case NRT_ISA_NEON: return nrt_qs8_quantize_neon;
#endif
    default: return NULL;
    }
}

nrt_s8_dequantize_ukernel nrt_s8_dequantize_for(nrt_isa isa) {
    switch ((int)isa) {
#if defined(__x86_64__) || defined(__i386__)
    case NRT_ISA_AVX512VBMI:
    case NRT_ISA_AVX512: return nrt_qs8_dequantize_avx512;
    case NRT_ISA_AVX2: return nrt_qs8_dequantize_avx2;
#endif
#if defined(__aarch64__)
    case NRT_ISA_DOTPROD:
    case NRT_ISA_NEON: return nrt_qs8_dequantize_neon;
#endif
    default: return NULL;
    }
}

const nrt_s8_matmul_table* nrt_s8_matmul_table_for(nrt_isa isa) {
    switch ((int)isa) {
#if defined(__x86_64__) || defined(__i386__)
    case NRT_ISA_AVX512VBMI:
    case NRT_ISA_AVX512: return &nrt_qs8_matmul_4x16k2_avx512vnni;
#endif
#if defined(__aarch64__)
    case NRT_ISA_DOTPROD: /* pairs of int16 products: no SDOT form, the NEON kernel */
    case NRT_ISA_NEON: return &nrt_qs8_matmul_4x8k2_neon;
#endif
    case NRT_ISA_AVX2: /* none yet: reference */
    default: return NULL;
    }
}

const nrt_s8_convt_table* nrt_s8_convt_table_for(nrt_isa isa) {
    switch ((int)isa) {
#if defined(__x86_64__) || defined(__i386__)
    case NRT_ISA_AVX512VBMI:
    case NRT_ISA_AVX512: return &nrt_qs8_convt_16c4_avx512vnni;
    case NRT_ISA_AVX2: return &nrt_qs8_convt_8c2_avx2;
#endif
    case NRT_ISA_DOTPROD: /* none: the GEMM kernels (s8_drivers.h TRANSPOSE) */
    case NRT_ISA_NEON:
    default: return NULL;
    }
}

const nrt_qd8_fc_table* nrt_qd8_fc_table_for(nrt_isa isa) {
    switch ((int)isa) {
#if defined(__x86_64__) || defined(__i386__)
    case NRT_ISA_AVX512VBMI:
    case NRT_ISA_AVX512: return &nrt_qd8_f32_qc8w_fc_4x16c4_avx512vnni;
    case NRT_ISA_AVX2: return &nrt_qd8_f32_qc8w_fc_4x8c2_avx2;
#endif
    case NRT_ISA_DOTPROD:
    case NRT_ISA_NEON:
    default: return NULL;
    }
}

nrt_strided_fn nrt_strided_short_rows_for(nrt_isa isa) {
    switch ((int)isa) {
#if defined(__x86_64__) || defined(__i386__)
    case NRT_ISA_AVX512VBMI:
    case NRT_ISA_AVX512:
    case NRT_ISA_AVX2: return nrt_strided_short_rows_avx2;
#endif
    default: return NULL;
    }
}
