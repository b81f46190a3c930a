#include "qd8_qb4w_ref.h"

#include <math.h>

void nrt_dynamic_fc_qb4w_ref(const nrt_dyn_fc_qb4w* g, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    int64_t groups = (g->K + g->group - 1) / g->group;
    for (int64_t i = m0; i < m1; i++) {
        const int8_t* q = g->q + i * g->K;
        float s = g->row_scale[i], *y = g->y + i * g->N;
        int32_t z = g->row_zero[i];
        for (int64_t n = n0; n < n1; n++) {
            if (isnan(s)) {
                y[n] = NAN;
                continue;
            }
            float acc = 0.0f;
            for (int64_t gi = 0; gi < groups; gi++) {
                int64_t k0 = gi * g->group, k1 = k0 + g->group < g->K ? k0 + g->group : g->K;
                int32_t isum = 0;
                for (int64_t k = k0; k < k1; k++) isum += (q[k] - z) * nrt_int4_at(g->w, n * g->K + k);
                acc = acc + (float)isum * (s * g->group_scale[n * groups + gi]);
            }
            float v = g->bias ? acc + g->bias[n] : acc;
            y[n] = nrt_activation_apply(&g->act, v);
        }
    }
}
