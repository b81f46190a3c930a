/* Reference kernels of the quantization ops: QuantizeLinear,
 * DequantizeLinear, DynamicQuantizeLinear, Lut. The arithmetic is the
 * contract's (kernels/requant.h):
 *   Quantize    q = clamp(rint(x / s) + z) (float division, rint in float, + z and
 *               the clamp in double; NaN gives z)
 *   Dequantize  y = (float)(q - z) * s     (q - z exact in int64)
 *
 * Scales and zero points are applied along x viewed as [outer][axis][inner]:
 *   per tensor   one (s, z) for everything;
 *   per axis     (s[a], z[a]) for axis index a;
 *   blocked      (s, z) shaped like x but with ceil(axis / block) on the axis:
 *                element (o, a, i) uses entry (o * blocks + a / block) * inner + i. */
#ifndef NRT_QUANT_REF_H
#define NRT_QUANT_REF_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nanort.h"

typedef struct nrt_qlayout {
    int64_t outer, axis, inner; /* x viewed as [outer][axis][inner] (per tensor: 1, 1, n) */
    int64_t block;              /* > 0: blocked along the axis */
    bool per_tensor;
} nrt_qlayout;

/* One quantize / dequantize job: `q` is int8 / uint8 / int16 / int32 (qtype),
 * `z` holds one int32 zero point per scale. Work items are elements
 * [begin, end) of outer * axis * inner. */
typedef struct nrt_qjob {
    nrt_qlayout l;
    nrt_dtype qtype;
    const float* s;
    const int32_t* z;
    const void* src; /* quantize: float32 x; dequantize: the integers */
    void* dst;
} nrt_qjob;

void nrt_quantize_ref(const nrt_qjob* j, int64_t begin, int64_t end);
void nrt_dequantize_ref(const nrt_qjob* j, int64_t begin, int64_t end);

/* The contract's element rule, for other kernels (dynamic quantization). */
static inline double nrt_quantize_value(float x, float s, int32_t z, double lo, double hi) {
    float r = rintf(x / s);
    if (r != r) return (double)z;
    double v = (double)r + (double)z;
    return v < lo ? lo : (v > hi ? hi : v);
}

/* DynamicQuantizeLinear (ONNX): uint8 with scale and zero point from x's range. */
void nrt_dynamic_quantize_params(const float* x, int64_t n, float* scale, uint8_t* zero_point);

/* y[i] = table[x[i] + 128] */
void nrt_lut_qs8_ref(const int8_t* x, const int8_t* table, int8_t* y, int64_t n);

#endif
