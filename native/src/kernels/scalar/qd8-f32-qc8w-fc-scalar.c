/* qd8-f32-qc8w-fc-scalar: the reference level's dynamic-quantization
 * FullyConnected (qs8_kernels.h): the reference computation itself, on the
 * weights in place (nothing to pack). */
#include "../ref/qs8_ref.h"
#include "../qs8_kernels.h"

static size_t packed_bytes(size_t N, size_t K) {
    (void)N, (void)K;
    return 0;
}

static void pack(size_t N, size_t K, const int8_t* w, void* packed) { (void)N, (void)K, (void)w, (void)packed; }

static void run(const nrt_dyn_fc* g, const void* packed, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    (void)packed;
    nrt_dynamic_fc_ref(g, m0, m1, n0, n1);
}

const nrt_qd8_fc_table nrt_qd8_f32_qc8w_fc_scalar = {
    .name = "qd8-f32-qc8w-fc-scalar", .isa = NRT_ISA_REF, .packed_bytes = packed_bytes, .pack = pack, .run = run,
};
