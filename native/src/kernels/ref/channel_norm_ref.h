/* Reference float32 kernels for per-channel normalizations. Tensors are
 * viewed as [outer][C][inner] around the channel axis (any layout).
 *
 * BatchNormalization (inference): y = x * a[c] + b[c] with
 *   a[c] = scale[c] / sqrt(var[c] + eps), b[c] = B[c] - mean[c] * a[c].
 * InstanceNormalization: x viewed as [N][mid][C][inner]; each (n, c) is
 *   normalized over its mid * inner values: mean and variance (biased) are
 *   summed in double, two passes; y = (x - mean) * a + B[c] with
 *   a = scale[c] / sqrt(var + eps) rounded to float, mean rounded to float.
 * LpNormalization: y = x / ||x||_p along the axis (p = 1 or 2, the norm
 *   summed in double); a zero norm gives 0, as ONNX's reference does. */
#ifndef NRT_CHANNEL_NORM_REF_H
#define NRT_CHANNEL_NORM_REF_H

#include <stdint.h>

/* a, b: C coefficients from nrt_batchnorm_coeffs; rows [begin, end) of outer * C. */
void nrt_batchnorm_coeffs_f32(const float* scale, const float* bias, const float* mean, const float* var, float eps,
                              int64_t c, float* a, float* b);
void nrt_batchnorm_f32_ref(const float* x, const float* a, const float* b, int64_t c, int64_t inner, float* y,
                           int64_t begin, int64_t end);

typedef struct nrt_instnorm_geom {
    int64_t n, mid, c, inner;
    float eps;
} nrt_instnorm_geom;

#define NRT_INSTNORM_CHUNK 64
/* Work items [begin, end) of n * ceil(c / NRT_INSTNORM_CHUNK): each normalizes one batch's block of channels. */
void nrt_instnorm_f32_ref(const nrt_instnorm_geom* g, const float* x, const float* scale, const float* bias, float* y,
                          int64_t begin, int64_t end);

/* Vectors [begin, end) of outer * inner, each `len` long with stride `inner`. */
void nrt_lpnorm_f32_ref(const float* x, int64_t len, int64_t inner, int p, float* y, int64_t begin, int64_t end);

#endif
