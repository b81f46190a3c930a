/* The kernel table of every level (dispatch.h). A table names what its level
 * adds over the level it falls back to (isa.h); everything else comes from
 * there. The tables are const data and a model resolves its level's once,
 * so there is no global state and two models may run different levels.
 * The per-ISA kernels are declared here, the one place that names them. */
#include "dispatch.h"

/* ---- the kernels of every level (kernels/scalar/, kernels/x86/, kernels/arm/) ---- */

/* float32 (f32_kernels.h) */
extern const nrt_gemm_table nrt_f32_gemm_4x8_scalar;
extern const nrt_dwconv_table nrt_f32_dwconv_4_scalar;
extern const nrt_f32_vbinary_ukernel nrt_f32_vbinary_scalar[NRT_F32_VOP_COUNT];
void nrt_f32_vact_scalar(const nrt_activation* act, const float* x, float* y, size_t n);
void nrt_f32_vsum_rows_scalar(const float* x, size_t rows, size_t cols, size_t stride, float scale, float* y);
void nrt_f32_vsoftmax_scalar(bool log_softmax, const float* x, float* y, size_t n);
void nrt_f32_maxpool_scalar(size_t channels, size_t taps, const float* const* ind, float* y);
#if defined(__x86_64__) || defined(__i386__)
extern const nrt_gemm_table nrt_f32_gemm_12x32_avx512;
extern const nrt_gemm_table nrt_f32_gemm_6x16_avx2;
extern const nrt_dwconv_table nrt_f32_dwconv_16x4_avx512;
extern const nrt_dwconv_table nrt_f32_dwconv_8x4_avx2;
extern const nrt_f32_vbinary_ukernel nrt_f32_vbinary_avx512[NRT_F32_VOP_COUNT];
extern const nrt_f32_vbinary_ukernel nrt_f32_vbinary_avx2[NRT_F32_VOP_COUNT];
void nrt_f32_vact_avx512(const nrt_activation* act, const float* x, float* y, size_t n);
void nrt_f32_vact_avx2(const nrt_activation* act, const float* x, float* y, size_t n);
void nrt_f32_vsum_rows_avx512(const float* x, size_t rows, size_t cols, size_t stride, float scale, float* y);
void nrt_f32_vsum_rows_avx2(const float* x, size_t rows, size_t cols, size_t stride, float scale, float* y);
void nrt_f32_vsoftmax_avx512(bool log_softmax, const float* x, float* y, size_t n);
void nrt_f32_vsoftmax_avx2(bool log_softmax, const float* x, float* y, size_t n);
void nrt_f32_maxpool_avx512(size_t channels, size_t taps, const float* const* ind, float* y);
void nrt_f32_maxpool_avx2(size_t channels, size_t taps, const float* const* ind, float* y);
#endif
#if defined(__aarch64__)
extern const nrt_gemm_table nrt_f32_gemm_8x8_neon;
extern const nrt_dwconv_table nrt_f32_dwconv_8x4_neon;
extern const nrt_f32_vbinary_ukernel nrt_f32_vbinary_neon[NRT_F32_VOP_COUNT];
void nrt_f32_vact_neon(const nrt_activation* act, const float* x, float* y, size_t n);
void nrt_f32_vsum_rows_neon(const float* x, size_t rows, size_t cols, size_t stride, float scale, float* y);
void nrt_f32_maxpool_neon(size_t channels, size_t taps, const float* const* ind, float* y);
#endif

/* int8 (qs8_kernels.h) */
#define NRT_QS8_VECTOR_KERNELS(ISA)                                                                                 \
    void nrt_qs8_vadd_##ISA(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode); \
    void nrt_qs8_vmul_##ISA(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode); \
    void nrt_qs8_gavgpool_##ISA(size_t rows, size_t channels, const int8_t* x, size_t stride, int32_t zx, float m,  \
                                const nrt_qs8_requant* rq, int8_t* y);                                               \
    void nrt_qs8_avgpool_##ISA(size_t channels, size_t taps, const int8_t* const* ind, int32_t zx, float m,         \
                               const nrt_qs8_requant* rq, int8_t* y);                                                \
    void nrt_qs8_maxpool_##ISA(size_t channels, size_t taps, const int8_t* const* ind, int32_t qmin, int32_t qmax, \
                               int8_t* y);                                                                          \
    void nrt_qs8_rescale_##ISA(size_t n, const int8_t* x, int32_t zx, float m, const nrt_qs8_requant* rq, int8_t* y); \
    void nrt_qs8_quantize_##ISA(size_t n, const float* x, float s, int32_t z, int8_t* y);                          \
    void nrt_qs8_dequantize_##ISA(size_t n, const int8_t* x, float s, int32_t z, float* y);                        \
    void nrt_qs8_vsoftmax_##ISA(size_t n, size_t inner, size_t cols, const int8_t* x, const uint32_t* table,        \
                                int8_t* y);

extern const nrt_gemm_table nrt_qs8_qc8w_gemm_4x4_minmax_fp32_scalar;
extern const nrt_gemm_table nrt_qs8_qc8w_spmm_8x1c4_minmax_fp32_scalar;
extern const nrt_dwconv_table nrt_qs8_qc8w_dwconv_4_minmax_fp32_scalar;
extern const nrt_gemm_table nrt_qs8_matmul_4x4k2_minmax_fp32_scalar;
extern const nrt_qd8_fc_table nrt_qd8_f32_qc8w_fc_scalar;
extern const nrt_qd8_qb4w_fc_table nrt_qd8_f32_qb4w_fc_scalar;
NRT_QS8_VECTOR_KERNELS(scalar)
void nrt_qs8_lut_scalar(size_t n, const int8_t* x, const int8_t* table, int8_t* y);
void nrt_qs8_f32_lut_scalar(size_t n, const int8_t* x, const float* table, float* y);
#if defined(__x86_64__) || defined(__i386__)
extern const nrt_gemm_table nrt_qs8_qc8w_gemm_12x32c4_minmax_fp32_avx512vnni;
extern const nrt_gemm_table nrt_qs8_qc8w_gemm_4x8c4_minmax_fp32_avx2;
extern const nrt_gemm_table nrt_qs8_qc8w_spmm_64x1c4_minmax_fp32_avx512vnni;
extern const nrt_gemm_table nrt_qs8_qc8w_spmm_32x1c4_minmax_fp32_avx2;
extern const nrt_dwconv_table nrt_qs8_qc8w_dwconv_32x4k2_minmax_fp32_avx512vnni;
extern const nrt_dwconv_table nrt_qs8_qc8w_dwconv_16x4k2_minmax_fp32_avx2;
extern const nrt_gemm_table nrt_qs8_matmul_4x16k2_minmax_fp32_avx512vnni;
extern const nrt_qs8_convt_table nrt_qs8_qc8w_convt_16c4_minmax_fp32_avx512vnni;
extern const nrt_qs8_convt_table nrt_qs8_qc8w_convt_8c2_minmax_fp32_avx2;
extern const nrt_qd8_fc_table nrt_qd8_f32_qc8w_fc_8x32c4_avx512vnni;
extern const nrt_qd8_fc_table nrt_qd8_f32_qc8w_fc_4x8c2_avx2;
extern const nrt_qd8_qb4w_fc_table nrt_qd8_f32_qb4w_fc_4x16c8_avx512vnni;
extern const nrt_qd8_qb4w_fc_table nrt_qd8_f32_qb4w_fc_4x8c8_avx2;
NRT_QS8_VECTOR_KERNELS(avx512)
NRT_QS8_VECTOR_KERNELS(avx2)
void nrt_qs8_lut_avx512vbmi(size_t n, const int8_t* x, const int8_t* table, int8_t* y);
void nrt_qs8_f32_lut_avx2(size_t n, const int8_t* x, const float* table, float* y);
void nrt_qs8_f32_lut_avx512(size_t n, const int8_t* x, const float* table, float* y);
#endif
#if defined(__aarch64__)
extern const nrt_gemm_table nrt_qs8_qc8w_gemm_8x8c4_minmax_fp32_neondot;
extern const nrt_gemm_table nrt_qs8_qc8w_gemm_8x8c8_minmax_fp32_neoni8mm;
extern const nrt_gemm_table nrt_qs8_qc8w_gemm_8x8_minmax_fp32_neon_mlal_lane;
extern const nrt_gemm_table nrt_qs8_qc8w_spmm_16x1c4_minmax_fp32_neon;
extern const nrt_gemm_table nrt_qs8_qc8w_spmm_16x1c4_minmax_fp32_neondot;
extern const nrt_dwconv_table nrt_qs8_qc8w_dwconv_16x2_minmax_fp32_neon_mul8;
extern const nrt_dwconv_table nrt_qs8_qc8w_dwconv_16x4k2_minmax_fp32_neondot;
extern const nrt_gemm_table nrt_qs8_matmul_4x8k2_minmax_fp32_neon;
extern const nrt_qd8_qb4w_fc_table nrt_qd8_f32_qb4w_fc_4x8c8_neon;
extern const nrt_qd8_qb4w_fc_table nrt_qd8_f32_qb4w_fc_4x8c8_neondot;
NRT_QS8_VECTOR_KERNELS(neon)
void nrt_qs8_lut_neon(size_t n, const int8_t* x, const int8_t* table, int8_t* y);
#endif

/* 16x8 (qs16_kernels.h) */
extern const nrt_gemm_table nrt_qs16_qc8w_gemm_4x4c2_minmax_fp32_scalar;
extern const nrt_dwconv_table nrt_qs16_qc8w_dwconv_8_minmax_fp32_scalar;
void nrt_qs16_quantize_scalar(size_t n, const float* x, float s, int16_t* y);
void nrt_qs16_dequantize_scalar(size_t n, const int16_t* x, float s, float* y);
void nrt_qs16_vadd_scalar(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode);
void nrt_qs16_vmul_scalar(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode);
#if defined(__x86_64__) || defined(__i386__)
extern const nrt_gemm_table nrt_qs16_qc8w_gemm_8x16c2_minmax_fp32_avx512vnni;
extern const nrt_gemm_table nrt_qs16_qc8w_gemm_4x8c2_minmax_fp32_avx2;
extern const nrt_dwconv_table nrt_qs16_qc8w_dwconv_32x4c2_minmax_fp32_avx512vnni;
extern const nrt_dwconv_table nrt_qs16_qc8w_dwconv_16x4c2_minmax_fp32_avx2;
void nrt_qs16_quantize_avx2(size_t n, const float* x, float s, int16_t* y);
void nrt_qs16_dequantize_avx2(size_t n, const int16_t* x, float s, float* y);
void nrt_qs16_vadd_avx2(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode);
void nrt_qs16_vmul_avx2(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode);
#endif
#if defined(__aarch64__)
extern const nrt_gemm_table nrt_qs16_qc8w_gemm_4x8c2_minmax_fp32_neon_mlal;
extern const nrt_dwconv_table nrt_qs16_qc8w_dwconv_8x4c2_minmax_fp32_neon_mlal;
void nrt_qs16_quantize_neon(size_t n, const float* x, float s, int16_t* y);
void nrt_qs16_dequantize_neon(size_t n, const int16_t* x, float s, float* y);
void nrt_qs16_vadd_neon(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode);
void nrt_qs16_vmul_neon(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode);
#endif

/* data movement (movement_kernels.h) */
#if defined(__x86_64__) || defined(__i386__)
void nrt_xx_strided_short_rows_avx2(const nrt_strided* s, const void* in, void* out, size_t unit_begin,
                                    size_t unit_end);
#endif

/* ---- the tables ---- */

static const nrt_kernels levels[NRT_ISA_COUNT] = {
    [NRT_ISA_REF] = {
        .f32_gemm = &nrt_f32_gemm_4x8_scalar,
        .f32_dwconv = &nrt_f32_dwconv_4_scalar,
        .f32_vbinary = nrt_f32_vbinary_scalar,
        .f32_vact = nrt_f32_vact_scalar,
        .f32_vsum_rows = nrt_f32_vsum_rows_scalar,
        .f32_maxpool = nrt_f32_maxpool_scalar,
        .f32_vsoftmax = nrt_f32_vsoftmax_scalar,
        .qs8_gemm = &nrt_qs8_qc8w_gemm_4x4_minmax_fp32_scalar,
        .qs8_spmm = &nrt_qs8_qc8w_spmm_8x1c4_minmax_fp32_scalar,
        .qs8_dwconv = &nrt_qs8_qc8w_dwconv_4_minmax_fp32_scalar,
        .qs8_matmul = &nrt_qs8_matmul_4x4k2_minmax_fp32_scalar,
        .qs16_gemm = &nrt_qs16_qc8w_gemm_4x4c2_minmax_fp32_scalar,
        .qs16_dwconv = &nrt_qs16_qc8w_dwconv_8_minmax_fp32_scalar,
        .qs16_quantize = nrt_qs16_quantize_scalar,
        .qs16_dequantize = nrt_qs16_dequantize_scalar,
        .qs16_vadd = nrt_qs16_vadd_scalar,
        .qs16_vmul = nrt_qs16_vmul_scalar,
        .qd8_fc = &nrt_qd8_f32_qc8w_fc_scalar,
        .qd8_qb4w_fc = &nrt_qd8_f32_qb4w_fc_scalar,
        .qs8_vadd = nrt_qs8_vadd_scalar,
        .qs8_vmul = nrt_qs8_vmul_scalar,
        .qs8_lut = nrt_qs8_lut_scalar,
        .qs8_f32_lut = nrt_qs8_f32_lut_scalar,
        .qs8_gavgpool = nrt_qs8_gavgpool_scalar,
        .qs8_avgpool = nrt_qs8_avgpool_scalar,
        .qs8_maxpool = nrt_qs8_maxpool_scalar,
        .qs8_rescale = nrt_qs8_rescale_scalar,
        .qs8_quantize = nrt_qs8_quantize_scalar,
        .qs8_dequantize = nrt_qs8_dequantize_scalar,
        .qs8_vsoftmax = nrt_qs8_vsoftmax_scalar,
    },
#if defined(__x86_64__) || defined(__i386__)
    [NRT_ISA_AVX2] = {
        .f32_gemm = &nrt_f32_gemm_6x16_avx2,
        .f32_dwconv = &nrt_f32_dwconv_8x4_avx2,
        .f32_vbinary = nrt_f32_vbinary_avx2,
        .f32_vact = nrt_f32_vact_avx2,
        .f32_vsum_rows = nrt_f32_vsum_rows_avx2,
        .f32_maxpool = nrt_f32_maxpool_avx2,
        .f32_vsoftmax = nrt_f32_vsoftmax_avx2,
        .qs8_gemm = &nrt_qs8_qc8w_gemm_4x8c4_minmax_fp32_avx2,
        .qs8_spmm = &nrt_qs8_qc8w_spmm_32x1c4_minmax_fp32_avx2,
        .qs8_dwconv = &nrt_qs8_qc8w_dwconv_16x4k2_minmax_fp32_avx2,
        .qs8_convt = &nrt_qs8_qc8w_convt_8c2_minmax_fp32_avx2,
        .qs16_gemm = &nrt_qs16_qc8w_gemm_4x8c2_minmax_fp32_avx2,
        .qs16_dwconv = &nrt_qs16_qc8w_dwconv_16x4c2_minmax_fp32_avx2,
        .qs16_quantize = nrt_qs16_quantize_avx2,
        .qs16_dequantize = nrt_qs16_dequantize_avx2,
        .qs16_vadd = nrt_qs16_vadd_avx2,
        .qs16_vmul = nrt_qs16_vmul_avx2,
        .qd8_fc = &nrt_qd8_f32_qc8w_fc_4x8c2_avx2,
        .qd8_qb4w_fc = &nrt_qd8_f32_qb4w_fc_4x8c8_avx2,
        .qs8_vadd = nrt_qs8_vadd_avx2,
        .qs8_vmul = nrt_qs8_vmul_avx2,
        .qs8_f32_lut = nrt_qs8_f32_lut_avx2,
        .qs8_gavgpool = nrt_qs8_gavgpool_avx2,
        .qs8_avgpool = nrt_qs8_avgpool_avx2,
        .qs8_maxpool = nrt_qs8_maxpool_avx2,
        .qs8_rescale = nrt_qs8_rescale_avx2,
        .qs8_quantize = nrt_qs8_quantize_avx2,
        .qs8_dequantize = nrt_qs8_dequantize_avx2,
        .qs8_vsoftmax = nrt_qs8_vsoftmax_avx2,
        .strided_short_rows = nrt_xx_strided_short_rows_avx2,
    },
    [NRT_ISA_AVX512] = {
        .f32_gemm = &nrt_f32_gemm_12x32_avx512,
        .f32_dwconv = &nrt_f32_dwconv_16x4_avx512,
        .f32_vbinary = nrt_f32_vbinary_avx512,
        .f32_vact = nrt_f32_vact_avx512,
        .f32_vsum_rows = nrt_f32_vsum_rows_avx512,
        .f32_maxpool = nrt_f32_maxpool_avx512,
        .f32_vsoftmax = nrt_f32_vsoftmax_avx512,
        .qs8_gemm = &nrt_qs8_qc8w_gemm_12x32c4_minmax_fp32_avx512vnni,
        .qs8_spmm = &nrt_qs8_qc8w_spmm_64x1c4_minmax_fp32_avx512vnni,
        .qs8_dwconv = &nrt_qs8_qc8w_dwconv_32x4k2_minmax_fp32_avx512vnni,
        .qs8_convt = &nrt_qs8_qc8w_convt_16c4_minmax_fp32_avx512vnni,
        .qs8_matmul = &nrt_qs8_matmul_4x16k2_minmax_fp32_avx512vnni,
        .qs16_gemm = &nrt_qs16_qc8w_gemm_8x16c2_minmax_fp32_avx512vnni,
        .qs16_dwconv = &nrt_qs16_qc8w_dwconv_32x4c2_minmax_fp32_avx512vnni,
        .qd8_fc = &nrt_qd8_f32_qc8w_fc_8x32c4_avx512vnni,
        .qd8_qb4w_fc = &nrt_qd8_f32_qb4w_fc_4x16c8_avx512vnni,
        .qs8_vadd = nrt_qs8_vadd_avx512,
        .qs8_vmul = nrt_qs8_vmul_avx512,
        .qs8_f32_lut = nrt_qs8_f32_lut_avx512,
        .qs8_gavgpool = nrt_qs8_gavgpool_avx512,
        .qs8_avgpool = nrt_qs8_avgpool_avx512,
        .qs8_maxpool = nrt_qs8_maxpool_avx512,
        .qs8_rescale = nrt_qs8_rescale_avx512,
        .qs8_quantize = nrt_qs8_quantize_avx512,
        .qs8_dequantize = nrt_qs8_dequantize_avx512,
        .qs8_vsoftmax = nrt_qs8_vsoftmax_avx512,
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
        .f32_maxpool = nrt_f32_maxpool_neon,
        .qs8_gemm = &nrt_qs8_qc8w_gemm_8x8_minmax_fp32_neon_mlal_lane,
        .qs8_spmm = &nrt_qs8_qc8w_spmm_16x1c4_minmax_fp32_neon,
        .qs8_dwconv = &nrt_qs8_qc8w_dwconv_16x2_minmax_fp32_neon_mul8,
        .qs8_matmul = &nrt_qs8_matmul_4x8k2_minmax_fp32_neon,
        .qs16_gemm = &nrt_qs16_qc8w_gemm_4x8c2_minmax_fp32_neon_mlal,
        .qs16_dwconv = &nrt_qs16_qc8w_dwconv_8x4c2_minmax_fp32_neon_mlal,
        .qs16_quantize = nrt_qs16_quantize_neon,
        .qs16_dequantize = nrt_qs16_dequantize_neon,
        .qs16_vadd = nrt_qs16_vadd_neon,
        .qs16_vmul = nrt_qs16_vmul_neon,
        .qd8_qb4w_fc = &nrt_qd8_f32_qb4w_fc_4x8c8_neon,
        .qs8_vadd = nrt_qs8_vadd_neon,
        .qs8_vmul = nrt_qs8_vmul_neon,
        .qs8_lut = nrt_qs8_lut_neon,
        .qs8_gavgpool = nrt_qs8_gavgpool_neon,
        .qs8_avgpool = nrt_qs8_avgpool_neon,
        .qs8_maxpool = nrt_qs8_maxpool_neon,
        .qs8_rescale = nrt_qs8_rescale_neon,
        .qs8_quantize = nrt_qs8_quantize_neon,
        .qs8_dequantize = nrt_qs8_dequantize_neon,
        .qs8_vsoftmax = nrt_qs8_vsoftmax_neon,
    },
    /* dotprod has no float instructions, and a MatMul's int16 pair has
     * nothing for SDOT to sum: the NEON kernels for those */
    [NRT_ISA_DOTPROD] = {
        .qs8_gemm = &nrt_qs8_qc8w_gemm_8x8c4_minmax_fp32_neondot,
        .qs8_spmm = &nrt_qs8_qc8w_spmm_16x1c4_minmax_fp32_neondot,
        .qs8_dwconv = &nrt_qs8_qc8w_dwconv_16x4k2_minmax_fp32_neondot, /* two taps per SDOT lane */
        .qd8_qb4w_fc = &nrt_qd8_f32_qb4w_fc_4x8c8_neondot,
    },
    [NRT_ISA_I8MM] = {
        .qs8_gemm = &nrt_qs8_qc8w_gemm_8x8c8_minmax_fp32_neoni8mm, /* SMMLA: 2 x 8 by 8 x 2 per instruction */
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
