/* qs8-qc8w-dwconv-16x4-minmax-fp32-avx512vnni: depthwise convolution, 16
 * channels x 4 output pixels per inner step (each weight vector loaded once
 * for the 4 pixels). Weights are packed as int32 lanes holding
 * (uint16)(int16)w (s8_kernels.h, NRT_S8_DW_INT32LO) and the inputs are
 * sign-extended to int32, so vpdpwssd's pair of 16-bit products is
 * x * w + sign(x) * 0: one exact multiply-add per tap, wrapping modulo 2^32.
 * Channel tails use masked loads (no byte past the channels is touched) and
 * masked stores. */
#include "qs8_requant_x86.h"

#define CW 16
#define PIX 4

/* 16 codes of a tap, sign-extended: a plain load for a full tile (folded
 * into vpmovsxbd), a masked one for the channel tail. */
NRT_AVX512VNNI_INLINE __m512i load_x(const int8_t* x, __mmask16 km, const int FULL) {
    return _mm512_cvtepi8_epi32(FULL ? _mm_loadu_si128((const __m128i*)x) : _mm_maskz_loadu_epi8(km, x));
}

NRT_AVX512VNNI_INLINE void dw_pixels(size_t taps, const int8_t* const* ind, size_t c0, __mmask16 km,
                                     const int32_t* tile, int8_t* y, size_t y_stride, const nrt_s8_requant* rq,
                                     const int P, const int FULL) {
    __m512i acc[PIX];
    __m512i bias = _mm512_loadu_si512(tile);
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) acc[p] = bias;
    const int32_t* w = tile + CW;
    for (size_t t = 0; t < taps; t++, w += CW) {
        __m512i wv = _mm512_loadu_si512(w);
#pragma GCC unroll 4
        for (int p = 0; p < P; p++) {
            acc[p] = _mm512_dpwssd_epi32(acc[p], load_x(ind[(size_t)p * taps + t] + c0, km, FULL), wv);
        }
    }
    __m512 m = _mm512_loadu_ps((const float*)w);
    __m512 lo = _mm512_set1_ps(rq->lo), hi = _mm512_set1_ps(rq->hi);
    __m512i zp = _mm512_set1_epi32(rq->zero_point);
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) {
        __m128i q = nrt_s8_requant16(acc[p], m, lo, hi, zp);
        if (FULL) _mm_storeu_si128((__m128i*)(y + (size_t)p * y_stride + c0), q);
        else _mm_mask_storeu_epi8(y + (size_t)p * y_stride + c0, km, q);
    }
}

/* All pixels of one channel tile. */
NRT_AVX512VNNI_INLINE void dw_tile(size_t npix, size_t taps, const int8_t* const* ind, size_t c0, __mmask16 km,
                                   const int32_t* wt, int8_t* y, size_t y_stride, const nrt_s8_requant* rq,
                                   const int FULL) {
    size_t p = 0;
    for (; p + PIX <= npix; p += PIX) dw_pixels(taps, ind + p * taps, c0, km, wt, y + p * y_stride, y_stride, rq, PIX, FULL);
    for (; p < npix; p++) dw_pixels(taps, ind + p * taps, c0, km, wt, y + p * y_stride, y_stride, rq, 1, FULL);
}

NRT_AVX512VNNI static void qs8_dwconv_16x4_avx512vnni(size_t channels, size_t npix, size_t taps,
                                                      const int8_t* const* ind, const void* w, int8_t* y,
                                                      size_t y_stride, const nrt_s8_requant* rq) {
    size_t tile = CW * (2 + taps);
    const int32_t* wt = w;
    for (size_t c0 = 0; c0 < channels; c0 += CW, wt += tile) {
        if (channels - c0 >= CW) {
            dw_tile(npix, taps, ind, c0, 0xFFFF, wt, y, y_stride, rq, 1);
        } else {
            __mmask16 km = (__mmask16)((1u << (channels - c0)) - 1);
            dw_tile(npix, taps, ind, c0, km, wt, y, y_stride, rq, 0);
        }
    }
}

const nrt_s8_dwconv_table nrt_qs8_dwconv_16x4_avx512vnni = {
    "qs8-qc8w-dwconv-16x4-minmax-fp32-avx512vnni", NRT_ISA_AVX512, CW, NRT_S8_DW_INT32LO, qs8_dwconv_16x4_avx512vnni,
};
