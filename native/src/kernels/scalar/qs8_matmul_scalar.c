/* qs8-matmul-4x4k2-minmax-fp32-scalar: the reference level's MatMul of two
 * int8 activations, portable C, up to 4 rows x 4 columns of a panel of B
 * packed as int16 pairs minus its zero point (s8_kernels.h). */
#include "../requant.h"
#include "../s8_kernels.h"

#define MR 4
#define NR 4

static void qs8_matmul_4x4k2_scalar(size_t mr, size_t nc, size_t K, const int8_t* a, size_t a_stride, int32_t za,
                                    const int16_t* b, int8_t* c, size_t c_stride, float m,
                                    const nrt_s8_requant* rq) {
    for (size_t r = 0; r < mr; r++) {
        const int8_t* ar = a + r * a_stride;
        for (size_t j = 0; j < nc; j++) {
            int32_t acc = 0;
            for (size_t k = 0; k < K; k++) acc = nrt_mac_wrap(acc, ar[k] - za, b[(k / 2 * NR + j) * 2 + k % 2]);
            c[r * c_stride + j] = nrt_s8_requant_value((float)acc * m, rq);
        }
    }
}

const nrt_s8_matmul_table nrt_qs8_matmul_4x4_scalar = {
    .name = "qs8-matmul-4x4k2-minmax-fp32-scalar", .isa = NRT_ISA_REF, .mr = MR, .nr = NR,
    .run = qs8_matmul_4x4k2_scalar,
};
