/* Reference int8 kernels: the definition of every quantized op's result.
 * The arithmetic is kernels/requant.h's, step for step; tests/int8_reference.py
 * models it independently in numpy and the tests compare bit for bit.
 * Optimized kernels (x86/, arm/) must give the same bytes. */
#ifndef NRT_INT8_REF_H
#define NRT_INT8_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "binary_ref.h"

/* Output side of a requantization: zero point and the clamp [qmin, qmax]. */
typedef struct nrt_s8_out {
    int32_t zero_point, qmin, qmax;
} nrt_s8_out;

/* ---- elementwise ---- */

/* Add / Sub / Mul of quantized operands (nrt_binary_kernel.params points here).
 * Add/Sub: v = ma * (a - za) + mb * (b - zb) (mb negated for Sub);
 * Mul:     v = ma * ((a - za) * (b - zb)). */
typedef struct nrt_s8_binary {
    int32_t za, zb;
    float ma, mb;
    nrt_s8_out out;
} nrt_s8_binary;

/* nrt_binary_fn kernels (modes NRT_BIN_VV / VS / SV) */
void nrt_add_s8_ref(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode);
void nrt_mul_s8_ref(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode);

/* Rescale: y = requant((x - zx) * m); a copy when m == 1 and zx == zy with no clamp. */
void nrt_rescale_s8_ref(const int8_t* x, int8_t* y, size_t n, int32_t zx, float m, const nrt_s8_out* out);

/* y = clamp(x, qmin, qmax) (an int8 max pool's / movement op's fused Relu). */
void nrt_clamp_s8_ref(int8_t* y, size_t n, int32_t qmin, int32_t qmax);

#endif
