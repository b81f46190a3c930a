/* Reference 16-bit elementwise kernels: the definition of the results of the
 * int16 (symmetric, zero point 0) Add / Sub / Mul and table lookup that sit
 * between 16x8 layers (kernels/requant.h's 16-bit elementwise rules).
 * tests/int16_reference.py models them independently in numpy; the level
 * kernels (nrt_kernels.qs16_vadd / qs16_vmul) give the same bytes. */
#ifndef NRT_QS16_REF_H
#define NRT_QS16_REF_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "../qs16_kernels.h"
#include "binary_ref.h"

/* Add / Sub / Mul of int16 operands (nrt_binary_kernel.params points here):
 * Add/Sub: v = ma * (float)a + mb * (float)b  (mb negated for Sub);
 * Mul:     v = ma * (float)(a * b)            (the product exact in int32);
 * then y = (int16)rint(clamp(v, out.lo, out.hi)) (nrt_qs16_requantize_float). */
typedef struct nrt_qs16_binary {
    float ma, mb;
    nrt_qs16_requant out;
} nrt_qs16_binary;

/* nrt_binary_fn kernels (modes NRT_BIN_VV / VS / SV) */
void nrt_add_qs16_ref(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode);
void nrt_mul_qs16_ref(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode);

/* y[i] = table[x[i] + 32768]: a 65536-entry int16 table the converter computes
 * (any elementwise function of an int16 tensor: HardSwish, Sigmoid, chains). */
void nrt_lut_qs16_ref(size_t n, const int16_t* x, const int16_t* table, int16_t* y);

/* QuantizeLinear between integer codes (an int8 tensor's readers in 16 bits, a 16-bit result's
 * int8 readers), requant.h's Rescale rule with the output type's range:
 * y = clamp(rint((float)(x - zx) * m) + zy, lo, hi), m = (float)((double)s_x / s_y), the clamp
 * applied in float before the rounding as nrt_requantize_float does. x and y are int8 or int16
 * (x_size, y_size: 1 or 2 bytes). */
void nrt_requantize_codes_ref(size_t n, const void* x, int x_size, int32_t zx, float m, int32_t zy, int32_t lo,
                              int32_t hi, void* y, int y_size);

#endif
