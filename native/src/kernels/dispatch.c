/* Which microkernel table each kernel level uses. Every switch below lists
 * the ladder of its architecture from the best tier down; a tier without a
 * table falls through to the next lower one, and the bottom (NRT_ISA_REF,
 * or a level with nothing yet) returns NULL: the reference kernels.
 *
 * The tables are const data chosen per model (model->isa), so there is no
 * global state to initialize and two models may run different levels. */
#include "f32_kernels.h"

const nrt_f32_gemm_table* nrt_f32_gemm_table_for(nrt_isa isa) {
    switch (isa) {
#if defined(__x86_64__) || defined(__i386__)
    case NRT_ISA_AVX512: return &nrt_f32_gemm_12x32_avx512;
    case NRT_ISA_AVX2: return &nrt_f32_gemm_6x16_avx2;
#endif
    case NRT_ISA_DOTPROD: /* fall through: no dotprod-specific float kernels */
    case NRT_ISA_NEON:    /* slot for kernels/arm/ (f32-gemm-...-neon); none yet: reference */
    default: return NULL;
    }
}

const nrt_f32_dwconv_table* nrt_f32_dwconv_table_for(nrt_isa isa) {
    switch (isa) {
#if defined(__x86_64__) || defined(__i386__)
    case NRT_ISA_AVX512: return &nrt_f32_dwconv_16x4_avx512;
    case NRT_ISA_AVX2: return &nrt_f32_dwconv_8x4_avx2;
#endif
    case NRT_ISA_DOTPROD:
    case NRT_ISA_NEON:
    default: return NULL;
    }
}

const nrt_f32_vector_table* nrt_f32_vector_table_for(nrt_isa isa) {
    switch (isa) {
#if defined(__x86_64__) || defined(__i386__)
    case NRT_ISA_AVX512: return &nrt_f32_vector_avx512;
    case NRT_ISA_AVX2: return &nrt_f32_vector_avx2;
#endif
    case NRT_ISA_DOTPROD:
    case NRT_ISA_NEON:
    default: return NULL;
    }
}
