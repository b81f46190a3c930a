/* Reference LayerNormalization over rows of n contiguous float32 values:
 *   y = (x - mean) * inv_std * scale + bias,  inv_std = 1 / sqrt(var + eps)
 * mean and the (biased) variance are computed in double, in two passes
 * (mean first, then the mean of squared deviations), so large offsets and
 * long rows keep full float accuracy; each pass sums into 4 lanes (element
 * i in lane i % 4, lanes added (l0 + l1) + (l2 + l3)). The per-element step
 * is float:
 * ((x - (float)mean) * (float)inv_std) * scale + bias. */
#ifndef NRT_LAYER_NORM_REF_H
#define NRT_LAYER_NORM_REF_H

#include <stdint.h>

/* Rows [r0, r1). bias, mean_out, inv_std_out may be NULL. */
void nrt_layer_norm_f32_ref(const float* x, const float* scale, const float* bias, float* y, float* mean_out,
                            float* inv_std_out, int64_t r0, int64_t r1, int64_t n, float epsilon);

#endif
