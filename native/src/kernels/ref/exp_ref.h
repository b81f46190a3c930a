/* exp for float32 kernels: portable, branch-free (loops calling it
 * vectorize, also under gcc's default -ftrapping-math, which keeps float
 * compares from being if-converted: the range checks use integer masks),
 * and the same bits on every platform, unlike libm's expf.
 *
 * x = n * ln2 + r, |r| <= ln2 / 2 (n rounded to nearest through the
 * 1.5 * 2^23 trick, ln2 split in two for an exact reduction); exp(r) by the
 * Cephes polynomial (< 1 ulp over [-87, 88.7]); times 2^n applied as two
 * power-of-two factors so results down to the subnormal range and up to
 * FLT_MAX come out right. x > 88.7228 gives +inf, x < -104 gives 0, NaN
 * stays NaN. Evaluation order is as written (no FMA contraction). */
#ifndef NRT_EXP_REF_H
#define NRT_EXP_REF_H

#include <stdint.h>
#include <string.h>

static inline float nrt_exp_f32(float x) {
    const int32_t hi_bits = 0x42b17218, lo_bits = (int32_t)0xc2d00000; /* 88.7228394, -104 */
    int32_t i;
    memcpy(&i, &x, sizeof i);
    int32_t a = i & 0x7fffffff;
    int32_t finite = -(int32_t)(a <= 0x7f800000); /* all ones unless NaN */
    int32_t over = -(int32_t)(i >= 0 && a > hi_bits) & finite;
    int32_t under = -(int32_t)(i < 0 && a > (lo_bits & 0x7fffffff)) & finite;
    float xc = x; /* out-of-range lanes compute garbage (no UB: unsigned bit math) and are replaced below */
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float t = xc * 1.44269504088896341f + magic;
    float n = t - magic;
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    uint32_t tb;
    memcpy(&tb, &t, sizeof tb);
    int32_t ni = (int32_t)(tb - 0x4B400000u), n1 = ni / 2, n2 = ni - n1; /* t's mantissa holds n */
    uint32_t b1 = (uint32_t)(n1 + 127) << 23, b2 = (uint32_t)(n2 + 127) << 23;
    float s1, s2;
    memcpy(&s1, &b1, sizeof s1);
    memcpy(&s2, &b2, sizeof s2);
    float y = p * s1 * s2;
    int32_t yi;
    memcpy(&yi, &y, sizeof yi);
    yi = (yi & ~(over | under)) | (0x7f800000 & over);
    memcpy(&y, &yi, sizeof y);
    return y;
}

#endif
