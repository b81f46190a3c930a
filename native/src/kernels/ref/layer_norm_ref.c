#include "layer_norm_ref.h"

#include <math.h>
#include <stdbool.h>

/* Sum of x (or of (x - mean)^2) in double, element i in lane i % 4, lanes
 * added as (l0 + l1) + (l2 + l3): independent chains keep it fast. */
static double sum4(const float* x, int64_t n, double mean, bool square) {
    double l[4] = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) {
            double d = (double)x[i + k] - mean;
            l[k] += square ? d * d : d;
        }
    for (; i < n; i++) {
        double d = (double)x[i] - mean;
        l[i & 3] += square ? d * d : d;
    }
    return (l[0] + l[1]) + (l[2] + l[3]);
}

void nrt_layer_norm_f32_ref(const float* x, const float* scale, const float* bias, float* y, float* mean_out,
                            float* inv_std_out, int64_t r0, int64_t r1, int64_t n, float epsilon) {
    for (int64_t r = r0; r < r1; r++) {
        const float* xr = x + r * n;
        float* yr = y + r * n;
        double mean = n ? sum4(xr, n, 0.0, false) / (double)n : 0.0;
        double var = n ? sum4(xr, n, mean, true) / (double)n : 0.0;
        float m = (float)mean, inv = (float)(1.0 / sqrt(var + (double)epsilon));
        if (bias)
            for (int64_t i = 0; i < n; i++) yr[i] = (xr[i] - m) * inv * scale[i] + bias[i];
        else
            for (int64_t i = 0; i < n; i++) yr[i] = (xr[i] - m) * inv * scale[i];
        if (mean_out) mean_out[r] = m;
        if (inv_std_out) inv_std_out[r] = inv;
    }
}
