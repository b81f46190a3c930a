/* qs8-qc8w-convt-8c2-minmax-fp32-avx2: upsampling ConvTranspose with
 * n = kh x kw x C_out dividing 8 (qs8_kernels.h): P = 8 / n input pixels per
 * ymm of int32 lanes, x_offset 0, weights packed as int16 pairs (kr 2).
 *
 * No vpmaddubsw (its int16 sums saturate): the P pixels' channels are
 * sign-extended to int16 in a small buffer, and for each pair of channels
 * every lane gets its pixel's pair (a broadcast per pixel, blended by the
 * lanes' pixel masks); vpmaddwd with the lanes' int16 weight pairs then adds
 * two exact products (at most 2 * 128 * 128, never saturating) per lane, the
 * int32 adds wrapping like requant.h's accumulator. One requantization per 8
 * outputs; each kernel row's bytes of the P pixels are consecutive. */
#include "qs8_requant_x86.h"

#define LANES 8
#define MAX_BYTES 128 /* P x ceil(kc / 2) pairs of int16 */

/* The low `count` <= 8 bytes of v to y. */
NRT_ISA_INLINE(AVX2) void store_bytes(int8_t* y, __m128i v, size_t count) {
    if (count == 8) {
        _mm_storel_epi64((__m128i*)y, v);
    } else if (count == 4) {
        int32_t t = _mm_cvtsi128_si32(v);
        memcpy(y, &t, sizeof t);
    } else {
        nrt_qs8_store_low(y, v, count);
    }
}

/* np pixels' channels sign-extended into buf, pixel p at p * 2 * kp: an even
 * kc makes that the input's own layout, widened 16 bytes at a time while
 * they lie inside the pixels (the rest byte by byte). */
NRT_ISA_INLINE(AVX2) void widen(const int8_t* x, size_t np, size_t kc, size_t kp, int16_t* buf) {
    if (kc % 2) {
        for (size_t p = 0; p < np; p++)
            for (size_t ci = 0; ci < kc; ci++) buf[p * 2 * kp + ci] = x[p * kc + ci];
        return;
    }
    size_t bytes = np * kc, i = 0;
    for (; i + 16 <= bytes; i += 16)
        _mm256_storeu_si256((__m256i*)(buf + i), _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(x + i))));
    for (; i < bytes; i++) buf[i] = x[i];
}

NRT_ISA_TARGET(AVX2) static void qs8_convt_8c2_avx2(size_t npix, size_t kc, size_t n, size_t kh, const int8_t* x,
                                          const void* packed, int8_t* y, size_t y_row, const nrt_qs8_requant* rq) {
    size_t P = LANES / n, cols = n / kh, row_bytes = P * cols, kp = (kc + 1) / 2;
    const int32_t* bias = packed;
    const __m256i* w = (const __m256i*)(bias + LANES);
    __m256i b = _mm256_loadu_si256((const __m256i*)bias);
    __m256 m = _mm256_loadu_ps((const float*)(bias + LANES + kp * LANES));
    __m256 lo = _mm256_set1_ps(rq->lo), hi = _mm256_set1_ps(rq->hi);
    __m256i zp = _mm256_set1_epi32(rq->zero_point);
    __m256i sel[LANES]; /* pixel p's lanes */
    for (size_t p = 0; p < P; p++) {
        int32_t lanes[LANES];
        for (size_t l = 0; l < LANES; l++) lanes[l] = l % row_bytes / cols == p ? -1 : 0;
        sel[p] = _mm256_loadu_si256((const __m256i*)lanes);
    }
    __m128i shift[LANES]; /* kernel row ky's bytes moved to the front */
    for (size_t ky = 0; ky < kh; ky++)
        shift[ky] = _mm_add_epi8(_mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                 _mm_set1_epi8((char)(ky * row_bytes)));
    int16_t buf[MAX_BYTES / 2] = {0}; /* pixel p's channels at p * 2 * kp (an odd kc's last pair: 0 above) */
    for (size_t p0 = 0; p0 < npix; p0 += P, x += P * kc) {
        size_t np = npix - p0 < P ? npix - p0 : P;
        widen(x, np, kc, kp, buf);
        __m256i acc = b;
        for (size_t g = 0; g < kp; g++) {
            __m256i av = _mm256_set1_epi32(nrt_qs8_load4((const int8_t*)(buf + 2 * g)));
            for (size_t p = 1; p < P; p++)
                av = _mm256_blendv_epi8(av, _mm256_set1_epi32(nrt_qs8_load4((const int8_t*)(buf + 2 * (p * kp + g)))),
                                        sel[p]);
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(av, _mm256_loadu_si256(w + g)));
        }
        __m128i q = nrt_qs8_requant8(acc, m, lo, hi, zp);
        int8_t* yr = y + p0 * cols;
        store_bytes(yr, q, np * cols);
        for (size_t ky = 1; ky < kh; ky++) store_bytes(yr + ky * y_row, _mm_shuffle_epi8(q, shift[ky]), np * cols);
    }
}

const nrt_qs8_convt_table nrt_qs8_qc8w_convt_8c2_minmax_fp32_avx2 = {
    "qs8-qc8w-convt-8c2-minmax-fp32-avx2", NRT_ISA_AVX2, LANES, 2, MAX_BYTES, 0, qs8_convt_8c2_avx2, NULL, 0, NULL,
};
