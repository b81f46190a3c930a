/* qd8-f32-qb4w-fc-scalar: the reference level's dynamic-quantization
 * FullyConnected on group-wise int4 weights (qs8_kernels.h): the reference
 * computation itself, on the weights in place (nothing to pack). */
#include "../qs8_kernels.h"
#include "../ref/qd8_qb4w_ref.h"

static bool supports(size_t group) { return group > 0; }

static size_t packed_bytes(size_t N, size_t K, size_t group) {
    (void)N, (void)K, (void)group;
    return 0;
}

static void pack(size_t N, size_t K, size_t group, const uint8_t* w, const float* group_scale, void* packed) {
    (void)N, (void)K, (void)group, (void)w, (void)group_scale, (void)packed;
}

static void run(const nrt_dyn_fc_qb4w* g, const void* packed, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    (void)packed;
    nrt_dynamic_fc_qb4w_ref(g, m0, m1, n0, n1);
}

const nrt_qd8_qb4w_fc_table nrt_qd8_f32_qb4w_fc_scalar = {
    .name = "qd8-f32-qb4w-fc-scalar", .isa = NRT_ISA_REF, .supports = supports, .packed_bytes = packed_bytes,
    .pack = pack, .run = run,
};
