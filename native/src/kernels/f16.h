/* float16 <-> float32, exactly (the conversions every kernel and op uses). */
#ifndef NRT_F16_H
#define NRT_F16_H

#include <stdint.h>

static inline float nrt_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalize */
            int e = -1;
            do { e++; man <<= 1; } while ((man & 0x400) == 0);
            bits = sign | (uint32_t)(112 - e) << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13;
    } else {
        bits = sign | (exp + 112) << 23 | man << 13;
    }
    float f;
    __builtin_memcpy(&f, &bits, 4);
    return f;
}

/* Round to nearest even, overflow -> inf, NaN -> quiet NaN (sign kept).
 * Branch-free in the common (normal) case; equal to the straightforward
 * shift-and-round version for all 2^32 inputs (checked exhaustively). */
static inline uint16_t nrt_f32_to_f16(float f) {
    uint32_t x;
    __builtin_memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, a = x & 0x7fffffffu;
    if (a >= 0x47800000u) /* >= 65536, inf or NaN */
        return (uint16_t)(sign | (a > 0x7f800000u ? 0x7e00u : 0x7c00u));
    if (a < 0x38800000u) { /* below 2^-14: adding 0.5f rounds to the half subnormal's unit (2^-24) */
        float t;
        uint32_t b;
        __builtin_memcpy(&t, &a, 4);
        t += 0.5f;
        __builtin_memcpy(&b, &t, 4);
        return (uint16_t)(sign | (b - 0x3f000000u));
    }
    /* rebias the exponent (-112 << 23), add just under half an ulp plus the
     * kept lsb (ties to even); a mantissa carry rounds up into the exponent / inf */
    a += 0xc8000fffu + ((a >> 13) & 1u);
    return (uint16_t)(sign | (a >> 13));
}

#endif
