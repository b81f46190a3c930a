/* qs8-matmul-4x4k2-minmax-fp32-scalar: the reference level's MatMul of two
 * int8 activations, portable C, up to 4 rows x 4 columns of a panel of B
 * packed as int16 pairs minus its zero point (gemm.h, nrt_gemm_format_qs8_matmul). */
#include "../requant.h"
#include "../qs8_kernels.h"

#define MR 4
#define NR 4

static void qs8_matmul_4x4k2_scalar(size_t mr, size_t nc, size_t K, const void* a, size_t a_stride, const void* b,
                                    void* c, size_t c_stride, const void* params) {
    const nrt_qs8_matmul_params* p = params;
    const int16_t* bp = b;
    for (size_t r = 0; r < mr; r++) {
        const int8_t* ar = (const int8_t*)a + r * a_stride;
        for (size_t j = 0; j < nc; j++) {
            int32_t acc = 0;
            for (size_t k = 0; k < K; k++) acc = nrt_mac_wrap(acc, ar[k] - p->za, bp[(k / 2 * NR + j) * 2 + k % 2]);
            ((int8_t*)c)[r * c_stride + j] = nrt_qs8_requant_value((float)acc * p->m, &p->rq);
        }
    }
}

const nrt_gemm_table nrt_qs8_matmul_4x4k2_minmax_fp32_scalar = {
    .name = "qs8-matmul-4x4k2-minmax-fp32-scalar", .isa = NRT_ISA_REF, .mr = MR, .nr = NR, .kr = 2,
    .format = &nrt_gemm_format_qs8_matmul, .gemm = qs8_matmul_4x4k2_scalar,
};
