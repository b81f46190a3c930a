/* The requantization of kernels/requant.h on NEON int32 vectors, shared by
 * this folder's int8 kernels, and byte loads / stores for tails.
 *
 * Per lane, the reference's steps in its order: SCVTF (int32 -> float, round
 * to nearest even like the C conversion), FMUL by the channel's multiplier
 * (never fused: separate instructions, -ffp-contract=off), the clamp to
 * [lo, hi] = [qmin - z_y, qmax - z_y] written as the reference's
 * `v < lo ? lo : (v > hi ? hi : v)` (FMIN then a select on v < lo, which
 * equals it even for a Clip whose qmin > qmax), FCVTNS (round to nearest
 * even = rintf), + z_y, and SQXTN narrowing that never saturates (the value
 * is already inside [-128, 127]). So every value is bit-identical to the
 * reference's.
 *
 * Loads: int8 data is only ever read through vld1 on int8 pointers (no
 * alignment requirement) or memcpy; packed int32 / float fields are read as
 * bytes and reinterpreted, never through a cast pointer. */
#ifndef NRT_QS8_REQUANT_NEON_H
#define NRT_QS8_REQUANT_NEON_H

#include <arm_neon.h>
#include <stdint.h>
#include <string.h>

#include "../qs8_kernels.h"

typedef struct nrt_qs8_rq_neon {
    float32x4_t lo, hi;
    int32x4_t zp;
} nrt_qs8_rq_neon;

NRT_ALWAYS_INLINE nrt_qs8_rq_neon nrt_qs8_rq_neon_make(const nrt_qs8_requant* rq) {
    nrt_qs8_rq_neon r = {vdupq_n_f32(rq->lo), vdupq_n_f32(rq->hi), vdupq_n_s32(rq->zero_point)};
    return r;
}

/* 4 int32 / float values stored little-endian at p (any alignment). */
NRT_ALWAYS_INLINE int32x4_t nrt_ld_s32_bytes(const void* p) {
    return vreinterpretq_s32_u8(vld1q_u8((const uint8_t*)p));
}
NRT_ALWAYS_INLINE float32x4_t nrt_ld_f32_bytes(const void* p) {
    return vreinterpretq_f32_u8(vld1q_u8((const uint8_t*)p));
}

/* acc -> rint(clamp(acc * m)) + z_y, as int32. */
NRT_ALWAYS_INLINE int32x4_t nrt_qs8_requant4(int32x4_t acc, float32x4_t m, const nrt_qs8_rq_neon* rq) {
    float32x4_t v = vmulq_f32(vcvtq_f32_s32(acc), m);
    v = vbslq_f32(vcltq_f32(v, rq->lo), rq->lo, vminq_f32(v, rq->hi));
    return vaddq_s32(vcvtnq_s32_f32(v), rq->zp);
}

/* 8 requantized values -> 8 int8 codes. */
NRT_ALWAYS_INLINE int8x8_t nrt_qs8_narrow8(int32x4_t q0, int32x4_t q1) {
    return vqmovn_s16(vcombine_s16(vqmovn_s32(q0), vqmovn_s32(q1)));
}

/* Tails without a library call (a call would clobber the accumulator
 * registers and make the compiler keep them in memory): fixed-size memcpy
 * compiles to single loads / stores, which AArch64 allows at any alignment. */

/* The first n (< 8) bytes at p, zeros above: no byte past p[n - 1] is read. */
NRT_ALWAYS_INLINE int8x8_t nrt_ld_s8_part8(const int8_t* p, size_t n) {
    uint64_t bits = 0;
    size_t off = 0;
    if (n & 4) {
        uint32_t v;
        memcpy(&v, p, 4);
        bits = v;
        off = 4;
    }
    if (n & 2) {
        uint16_t v;
        memcpy(&v, p + off, 2);
        bits |= (uint64_t)v << (8 * off);
        off += 2;
    }
    if (n & 1) bits |= (uint64_t)(uint8_t)p[off] << (8 * off);
    return vcreate_s8(bits);
}

/* The same for n < 16. */
NRT_ALWAYS_INLINE int8x16_t nrt_ld_s8_part16(const int8_t* p, size_t n) {
    if (n & 8) return vcombine_s8(vld1_s8(p), nrt_ld_s8_part8(p + 8, n & 7));
    return vcombine_s8(nrt_ld_s8_part8(p, n), vdup_n_s8(0));
}

/* Stores the first n (<= 8) bytes of v. */
NRT_ALWAYS_INLINE void nrt_st_s8_part8(int8_t* p, int8x8_t v, size_t n) {
    if (n == 8) {
        vst1_s8(p, v);
        return;
    }
    uint64_t bits = vget_lane_u64(vreinterpret_u64_s8(v), 0);
    if (n & 4) {
        uint32_t w = (uint32_t)bits;
        memcpy(p, &w, 4);
        p += 4;
        bits >>= 32;
    }
    if (n & 2) {
        uint16_t h = (uint16_t)bits;
        memcpy(p, &h, 2);
        p += 2;
        bits >>= 16;
    }
    if (n & 1) *p = (int8_t)(uint8_t)bits;
}

/* Stores the first n (< 16) bytes of v. */
NRT_ALWAYS_INLINE void nrt_st_s8_part16(int8_t* p, int8x16_t v, size_t n) {
    int8x8_t lo = vget_low_s8(v);
    if (n & 8) {
        vst1_s8(p, lo);
        p += 8;
        lo = vget_high_s8(v);
    }
    nrt_st_s8_part8(p, lo, n & 7);
}

#endif
