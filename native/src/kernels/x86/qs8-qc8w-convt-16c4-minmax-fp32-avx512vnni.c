/* qs8-qc8w-convt-16c4-minmax-fp32-avx512vnni: upsampling ConvTranspose with
 * n = kh x kw x C_out dividing 16 (qs8_kernels.h): P = 16 / n input pixels
 * per zmm of int32 lanes.
 *
 * The P pixels' channels, in blocks of 4 (c4), are 4 * ceil(kc / 4) * P <= 128
 * bytes: two zmm. For block g, one vpermt2d gathers dword g of each lane's
 * pixel into that lane, and one vpdpbusd adds its 4 products with the lane's
 * column weights: n outputs of P pixels for the price a GEMM pays for one
 * pixel, and one requantization per 16 outputs. Activations are flipped to
 * u8 (x ^ 0x80 = x + 128) for vpdpbusd; the packed bias holds
 * -128 * sum(w) per lane (x_offset = 128), as in the GEMM kernel.
 *
 * When kc is a multiple of 4 (or P = 1) the pixels are already in that
 * layout in the input; otherwise each pixel is copied to its 4-aligned place
 * in a small buffer (bytes between pixels meet zero weights). Partial vectors
 * (npix not a multiple of P) use masked loads and stores: no byte outside the
 * pixels' input or outputs is touched.
 *
 * qs8-qc8w-convt-1x96c4-minmax-fp32-avx512vnni (the table's `wide` kernel):
 * n = 32 .. 96 outputs per pixel in whole vectors per kernel row, below. */
#include "qs8_requant_x86.h"

#define LANES 16
#define MAX_BYTES 128

/* Mask of the low n <= 64 bits. */
static inline uint64_t low_bits(size_t n) { return n >= 64 ? ~0ull : (1ull << n) - 1; }

/* The P pixels' blocks as two zmm of u8: bytes [0, 64) and [64, 128) of the
 * 4-aligned layout (pixel p's block g at dword p * kd + g). */
NRT_ISA_INLINE(AVX512) void load_pixels(const int8_t* x, size_t np, size_t kc, size_t kd, bool packed_layout,
                                       int8_t* buf, __m512i* v0, __m512i* v1) {
    const __m512i flip = _mm512_set1_epi32((int32_t)0x80808080u);
    if (!packed_layout) {
        for (size_t p = 0; p < np; p++)
            _mm512_mask_storeu_epi8(buf + p * kd * 4, low_bits(kc), _mm512_maskz_loadu_epi8(low_bits(kc), x + p * kc));
        x = buf;
        kc = kd * 4;
    }
    size_t bytes = np * kc;
    *v0 = _mm512_xor_si512(_mm512_maskz_loadu_epi8(low_bits(bytes), x), flip);
    *v1 = bytes > 64 ? _mm512_xor_si512(_mm512_maskz_loadu_epi8(low_bits(bytes - 64), x + 64), flip) : flip;
}

/* The 16 outputs of one vector of pixels (v0, v1 from load_pixels):
 * blocks in two interleaved accumulator chains (the adds wrap: any order
 * gives the same int32), then one requantization. */
NRT_ISA_INLINE(AVX512) __m128i outputs(__m512i v0, __m512i v1, size_t kd, const __m512i* idx, const __m512i* w,
                                      __m512i b, __m512 m, const nrt_qs8_rq16* q, int mode) {
    __m512i acc0 = b, acc1 = _mm512_setzero_si512();
    size_t g = 0;
    for (; g + 2 <= kd; g += 2) {
        acc0 = _mm512_dpbusd_epi32(acc0, _mm512_permutex2var_epi32(v0, idx[g], v1), _mm512_loadu_si512(w + g));
        acc1 = _mm512_dpbusd_epi32(acc1, _mm512_permutex2var_epi32(v0, idx[g + 1], v1), _mm512_loadu_si512(w + g + 1));
    }
    if (g < kd) acc0 = _mm512_dpbusd_epi32(acc0, _mm512_permutex2var_epi32(v0, idx[g], v1), _mm512_loadu_si512(w + g));
    return nrt_qs8_requant16_q(_mm512_add_epi32(acc0, acc1), m, q, mode);
}

/* Kernel row ky's `count` bytes of q (from byte ky * P * cols: shift[ky]
 * moves them to the front) to y + ky * y_row. */
NRT_ISA_INLINE(AVX512) void store_rows(__m128i q, size_t count, size_t kh, const __m128i* shift, int8_t* y,
                                      size_t y_row) {
    __mmask16 keep = (__mmask16)((1u << count) - 1);
    _mm_mask_storeu_epi8(y, keep, q);
    for (size_t ky = 1; ky < kh; ky++) _mm_mask_storeu_epi8(y + ky * y_row, keep, _mm_shuffle_epi8(q, shift[ky]));
}

NRT_ISA_TARGET(AVX512) static void qs8_convt_16c4_avx512vnni(size_t npix, size_t kc, size_t n, size_t kh,
                                                             const int8_t* x,
                                                    const void* packed, int8_t* y, size_t y_row,
                                                    const nrt_qs8_requant* rq) {
    size_t P = LANES / n, cols = n / kh, row_bytes = P * cols, kd = (kc + 3) / 4;
    bool packed_layout = kc % 4 == 0 || P == 1; /* the input is the 4-aligned layout */
    const int32_t* bias = packed;
    const __m512i* w = (const __m512i*)(bias + LANES);
    __m512i b = _mm512_loadu_si512(bias);
    __m512 m = _mm512_loadu_ps((const float*)(bias + LANES + kd * LANES));
    const nrt_qs8_rq16 rq16 = nrt_qs8_rq16_make(rq);
    const int mode = rq16.mode;
    __m512i idx[MAX_BYTES / 4]; /* block g: lane l reads dword g of its pixel */
    int32_t first[LANES];
    for (size_t l = 0; l < LANES; l++) first[l] = (int32_t)(l % row_bytes / cols * kd);
    idx[0] = _mm512_loadu_si512(first);
    for (size_t g = 1; g < kd; g++) idx[g] = _mm512_add_epi32(idx[g - 1], _mm512_set1_epi32(1));
    __m128i shift[LANES]; /* kernel row ky's bytes moved to the front */
    for (size_t ky = 0; ky < kh; ky++)
        shift[ky] = _mm_add_epi8(_mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                 _mm_set1_epi8((char)(ky * row_bytes)));
    int8_t buf[MAX_BYTES] = {0};
    size_t p0 = 0;
    if (packed_layout) /* whole pairs of vectors: two independent chains in flight */
        for (; p0 + 2 * P <= npix; p0 += 2 * P, x += 2 * P * kc) {
            __m512i a0, a1, c0, c1;
            load_pixels(x, P, kc, kd, true, buf, &a0, &a1);
            load_pixels(x + P * kc, P, kc, kd, true, buf, &c0, &c1);
            __m128i q = outputs(a0, a1, kd, idx, w, b, m, &rq16, mode);
            __m128i r = outputs(c0, c1, kd, idx, w, b, m, &rq16, mode);
            store_rows(q, P * cols, kh, shift, y + p0 * cols, y_row);
            store_rows(r, P * cols, kh, shift, y + (p0 + P) * cols, y_row);
        }
    for (; p0 < npix; p0 += P, x += P * kc) {
        size_t np = npix - p0 < P ? npix - p0 : P;
        __m512i v0, v1;
        load_pixels(x, np, kc, kd, packed_layout, buf, &v0, &v1);
        store_rows(outputs(v0, v1, kd, idx, w, b, m, &rq16, mode), np * cols, kh, shift, y + p0 * cols, y_row);
    }
}

/* ---- wide: n = V x 16 columns (V <= 6), each kernel row a multiple of 16 ----
 * One pixel at a time against all n columns: its 4 channels broadcast once
 * for V vpdpbusd (a GEMM with panels of 32 columns per kernel row broadcasts
 * them once per panel and kernel row), each 16-column block requantized and
 * stored in place in its kernel row. (Tiles of 2 to 4 pixels sharing the
 * weight loads measured slower: with 6 x R accumulators live, GCC's
 * register allocation adds copies on every block.) */
#define WIDE_V 6

/* Block of 4 channels at k of one pixel as u8 in every lane (the first kc - k
 * < 4 of them, read byte-exactly, at the end of K: zero weights). */
NRT_ISA_INLINE(AVX512) __m512i wide_x4(const int8_t* x, size_t k, size_t kc) {
    int32_t a4 = k + 4 <= kc ? nrt_qs8_load4(x + k) : nrt_qs8_load_partial(x + k, kc - k);
    return _mm512_xor_si512(_mm512_set1_epi32(a4), _mm512_set1_epi32((int32_t)0x80808080u));
}

NRT_ISA_INLINE(AVX512) void wide_pixel(size_t kc, size_t cols, const int8_t* x, const void* packed, int8_t* y,
                                      size_t y_row, const nrt_qs8_requant* rq, const int V) {
    const int32_t* bias = packed;
    const __m512i* w = (const __m512i*)(bias + V * LANES);
    __m512i acc[WIDE_V];
#pragma GCC unroll 6
    for (int v = 0; v < V; v++) acc[v] = _mm512_loadu_si512(bias + v * LANES);
    size_t k = 0;
    for (; k + 4 <= kc; k += 4, w += V) {
        __m512i av = wide_x4(x, k, k + 4);
#pragma GCC unroll 6
        for (int v = 0; v < V; v++) acc[v] = _mm512_dpbusd_epi32(acc[v], av, _mm512_loadu_si512(w + v));
    }
    if (k < kc) {
        __m512i av = wide_x4(x, k, kc);
#pragma GCC unroll 6
        for (int v = 0; v < V; v++) acc[v] = _mm512_dpbusd_epi32(acc[v], av, _mm512_loadu_si512(w + v));
        w += V;
    }
    const float* m = (const float*)w;
    const nrt_qs8_rq16 rq16 = nrt_qs8_rq16_make(rq);
    const int mode = rq16.mode;
#pragma GCC unroll 6
    for (int v = 0; v < V; v++) {
        size_t col = (size_t)v * LANES, ky = col / cols;
        __m128i q = nrt_qs8_requant16_q(acc[v], _mm512_loadu_ps(m + v * LANES), &rq16, mode);
        _mm_storeu_si128((__m128i*)(y + ky * y_row + (col - ky * cols)), q);
    }
}

#define WIDE(V)                                                                                               \
    NRT_ISA_TARGET(AVX512) static void wide_##V(size_t npix, size_t kc, size_t cols, const int8_t* x, const void* w, \
                                        int8_t* y, size_t y_row, const nrt_qs8_requant* rq) {                 \
        for (size_t p = 0; p < npix; p++) wide_pixel(kc, cols, x + p * kc, w, y + p * cols, y_row, rq, V);  \
    }
WIDE(1)
WIDE(2)
WIDE(3)
WIDE(4)
WIDE(5)
WIDE(6)

static void qs8_convt_1x96c4_avx512vnni(size_t npix, size_t kc, size_t n, size_t kh, const int8_t* x,
                                        const void* packed, int8_t* y, size_t y_row, const nrt_qs8_requant* rq) {
    static void (*const by_width[WIDE_V])(size_t, size_t, size_t, const int8_t*, const void*, int8_t*, size_t,
                                          const nrt_qs8_requant*) = {wide_1, wide_2, wide_3, wide_4, wide_5, wide_6};
    by_width[n / LANES - 1](npix, kc, n / kh, x, packed, y, y_row, rq);
}

const nrt_qs8_convt_table nrt_qs8_qc8w_convt_16c4_minmax_fp32_avx512vnni = {
    "qs8-qc8w-convt-16c4-minmax-fp32-avx512vnni", NRT_ISA_AVX512, LANES, 4, MAX_BYTES, 128, qs8_convt_16c4_avx512vnni,
    "qs8-qc8w-convt-1x96c4-minmax-fp32-avx512vnni", WIDE_V * LANES, qs8_convt_1x96c4_avx512vnni,
};
