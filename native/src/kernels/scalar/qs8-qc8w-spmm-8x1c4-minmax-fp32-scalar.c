/* qs8-qc8w-spmm-8x1c4-minmax-fp32-scalar: the reference level's int8 GEMM on
 * weights sparse in 1 x 4 blocks (gemm.h, nrt_gemm_format_qs8_qc8w_spmm),
 * portable C: up to 8 rows per call, each kept block loaded once for all of
 * them, every column; x_offset 0 (signed products). */
#include <string.h>

#include "../gemm.h"
#include "../qs8_kernels.h"
#include "../requant.h"

#define MR 8

static void qs8_spmm_8x1c4_scalar(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride, const void* w,
                                  void* c, size_t c_stride, const void* params) {
    (void)kc;
    const nrt_qs8_requant* rq = params;
    const uint8_t* p = w;
    const uint32_t* blocks = (const uint32_t*)(const void*)(p + nc * (sizeof(int32_t) + sizeof(float)));
    const uint32_t* kb = blocks + nc + 1;
    const int8_t* values = (const int8_t*)(kb + blocks[nc]);
    const int8_t* rows = a;
    int8_t* out = c;
    for (size_t j = 0; j < nc; j++) {
        int32_t bias, acc[MR];
        float m;
        memcpy(&bias, p + j * sizeof bias, sizeof bias);
        memcpy(&m, p + nc * sizeof bias + j * sizeof m, sizeof m);
        for (size_t r = 0; r < mr; r++) acc[r] = bias;
        for (uint32_t b = blocks[j]; b < blocks[j + 1]; b++)
            for (size_t kk = 0; kk < 4; kk++) {
                int8_t v = values[4 * (size_t)b + kk];
                const int8_t* col = rows + 4 * (size_t)kb[b] + kk;
                for (size_t r = 0; r < mr; r++) acc[r] = nrt_mac_wrap(acc[r], col[r * a_stride], v);
            }
        for (size_t r = 0; r < mr; r++) out[r * c_stride + j] = nrt_qs8_requant_value((float)acc[r] * m, rq);
    }
}

const nrt_gemm_table nrt_qs8_qc8w_spmm_8x1c4_minmax_fp32_scalar = {
    .name = "qs8-qc8w-spmm-8x1c4-minmax-fp32-scalar", .isa = NRT_ISA_REF, .mr = MR, .nr = NRT_GEMM_ONE_PANEL, .kr = 4,
    .format = &nrt_gemm_format_qs8_qc8w_spmm, .gemm = qs8_spmm_8x1c4_scalar,
};
