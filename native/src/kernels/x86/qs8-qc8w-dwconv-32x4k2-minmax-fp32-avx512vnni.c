/* qs8-qc8w-dwconv-32x4k2-minmax-fp32-avx512vnni: depthwise convolution, 32
 * channels x 4 output pixels per inner step, two taps per dot-product lane.
 *
 * Two taps' 32 input codes, read as x + 128 (unsigned), are unpacked
 * bytewise: each int32 lane then holds (x_a[c], x_b[c], x_a[c+1], x_b[c+1])
 * for an even channel c. vpdpbusd of such a lane with weights (w_a[c],
 * w_b[c], 0, 0) adds channel c's two products, with (0, 0, w_a[c+1],
 * w_b[c+1]) channel c+1's: 4 vpdpbusd per two taps of 32 channels, where
 * widening to int16 against (w, 0) pairs took 4 per tap. The weights are
 * packed as NRT_QS8_DW_TAP_PAIRS (qs8_kernels.h), whose bias holds -128 x
 * the weights: the accumulators equal the reference's int32 sums (the
 * products are < 2^16, vpdpbusd does not saturate, sums wrap modulo 2^32).
 * The four accumulators of a pixel hold the channels in the layout's slot
 * order; after requantization on 8 lanes, the saturating packs to bytes and
 * one in-lane byte shuffle restore the channel order. Channel tails use masked loads
 * (no byte past the channels is touched; the zeros read meet zero weights)
 * and masked stores.
 *
 * `run` takes one pointer per (pixel, tap) from the driver's indirection
 * buffer; `row` addresses the taps of interior pixels itself (kernel row r,
 * column kx of pixel p at rows[r] + p * xs + kx * ts); 8 and 16 stride-1
 * channels run several pixels per 32-channel vector. */
#include "../dwconv_src.h"
#include "dwconv_unroll_x86.h"
#include "qs8_requant_x86.h"

#define CW 32
#define PIX 4
#define BLOCK 16
#define LANES (CW / 4) /* int32 lanes of one vector */

/* 32 codes of one tap as x + 128: a plain load for a full tile, masked for the tail. */
NRT_ISA_INLINE(AVX512) __m256i load_x(const int8_t* x, __mmask32 km, const int FULL) {
    __m256i v = FULL ? _mm256_loadu_si256((const __m256i*)x) : _mm256_maskz_loadu_epi8(km, x);
    return _mm256_xor_si256(v, _mm256_set1_epi8((char)0x80));
}

/* The tap after (*r, *kx) in kernel-row order. */
NRT_ISA_INLINE(AVX512) void next_tap(size_t* r, size_t* kx, size_t kw) {
    if (++*kx == kw) *kx = 0, ++*r;
}

/* The requantization constants of nrt_qs8_rq16 on 8 lanes. */
typedef struct rq8 {
    __m256 lo, hi;
    __m256i zp, qmin, qmax;
    int mode;
} rq8;

NRT_ISA_INLINE(AVX512) rq8 rq8_make(const nrt_qs8_requant* rq) {
    int32_t qmin = (int32_t)rq->lo + rq->zero_point, qmax = (int32_t)rq->hi + rq->zero_point;
    rq8 q = {_mm256_set1_ps(rq->lo), _mm256_set1_ps(rq->hi), _mm256_set1_epi32(rq->zero_point),
             _mm256_set1_epi8((char)qmin), _mm256_set1_epi8((char)qmax), NRT_QS8_CLAMP_FLOAT};
    if (rq->int_clamp) q.mode = qmin == -128 && qmax == 127 ? NRT_QS8_CLAMP_SAT : NRT_QS8_CLAMP_INT;
    return q;
}

/* 8 accumulators -> int32 codes: clamped in float (FLOAT), or not yet (the
 * saturating narrowing and the byte clamp follow). */
NRT_ISA_INLINE(AVX512) __m256i requant_lanes(__m256i acc, __m256 m, const rq8* q, int mode) {
    __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), m);
    if (mode == NRT_QS8_CLAMP_FLOAT) v = _mm256_min_ps(_mm256_max_ps(v, q->lo), q->hi);
    return _mm256_add_epi32(_mm256_cvtps_epi32(v), q->zp);
}

/* A pixel's 4 accumulators -> its 32 codes in channel order. The saturating
 * packs leave 128-bit lane L's bytes as channels 16L + (0 2 4 6 1 3 5 7 8 10
 * 12 14 9 11 13 15); one in-lane byte shuffle restores the order. */
NRT_ISA_INLINE(AVX512) __m256i requant_pixel(const __m256i* acc, const __m256* m, const rq8* q, int mode) {
    const __m256i order = _mm256_setr_epi8(0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15,
                                           0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15);
    __m256i lo = _mm256_packs_epi32(requant_lanes(acc[0], m[0], q, mode), requant_lanes(acc[1], m[1], q, mode));
    __m256i hi = _mm256_packs_epi32(requant_lanes(acc[2], m[2], q, mode), requant_lanes(acc[3], m[3], q, mode));
    __m256i b = _mm256_shuffle_epi8(_mm256_packs_epi16(lo, hi), order);
    if (mode == NRT_QS8_CLAMP_INT) b = _mm256_min_epi8(_mm256_max_epi8(b, q->qmin), q->qmax);
    return b;
}

/* P pixels of one channel tile: all kh x kw taps in pairs. KH, KW: the
 * kernel's shape when known at compile time (the pair loop then unrolls into
 * fixed offsets), else 0. S1: the row source's pixel stride equals its tap
 * stride (stride = dilation, mostly both 1): pixel p's tap kx is pixel p +
 * kx's tap 0: fewer distinct addresses in the unrolled code (measured 6 %
 * faster on 3x3 stride 1). */
NRT_ISA_INLINE(AVX512) void dw_pixels(const nrt_dw_src* s, size_t c0, __mmask32 km, const int32_t* tile, int8_t* y,
                                      size_t y_stride, const nrt_qs8_requant* rq, const int P, const int FULL,
                                      const int KH, const int KW, const int S1) {
    __m256i acc[PIX][4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        __m256i b = _mm256_loadu_si256((const __m256i*)(tile + k * LANES));
#pragma GCC unroll 4
        for (int p = 0; p < P; p++) acc[p][k] = b;
    }
    const size_t kw = KW ? (size_t)KW : s->kw, taps = (KH ? (size_t)KH : s->kh) * kw;
    const int32_t* w = tile + CW;
    /* A fixed kernel shape runs on the row source only (the indirection's
     * taps run the loop): its kernel rows' pixel-0 pointers, taken once. */
    const int8_t* base[5]; /* KH is 3 or 5 where used */
    for (int i = 0; i < KH; i++) base[i] = (const int8_t*)s->rows[i] + s->p0 * s->xs + c0;
    size_t r = 0, kx = 0;
    NRT_DW_UNROLL_PAIRS
    for (size_t t = 0; t < taps; t += 2, w += CW) {
        const int8_t *xa[PIX], *xb[PIX];
        size_t ra = r, kxa = kx;
        next_tap(&r, &kx, kw);
        int has_b = t + 1 < taps;
#pragma GCC unroll 4
        for (int p = 0; p < P; p++) {
            if (KH) {
                xa[p] = S1 ? base[ra] + (p + kxa) * s->ts : base[ra] + (size_t)p * s->xs + kxa * s->ts;
                xb[p] = !has_b ? xa[p] : S1 ? base[r] + (p + kx) * s->ts : base[r] + (size_t)p * s->xs + kx * s->ts;
                continue;
            }
            xa[p] = (const int8_t*)nrt_dw_row(s, (size_t)p, ra, 1) + kxa * s->ts + c0;
            xb[p] = has_b ? (const int8_t*)nrt_dw_row(s, (size_t)p, r, 1) + kx * s->ts + c0 : xa[p];
        }
        if (has_b) next_tap(&r, &kx, kw);
        __m256i w0 = _mm256_loadu_si256((const __m256i*)w), w1 = _mm256_loadu_si256((const __m256i*)(w + LANES));
        __m256i w2 = _mm256_loadu_si256((const __m256i*)(w + 2 * LANES));
        __m256i w3 = _mm256_loadu_si256((const __m256i*)(w + 3 * LANES));
#pragma GCC unroll 4
        for (int p = 0; p < P; p++) {
            __m256i a = load_x(xa[p], km, FULL), b = load_x(xb[p], km, FULL);
            __m256i lo = _mm256_unpacklo_epi8(a, b), hi = _mm256_unpackhi_epi8(a, b);
            acc[p][0] = _mm256_dpbusd_epi32(acc[p][0], lo, w0);
            acc[p][1] = _mm256_dpbusd_epi32(acc[p][1], lo, w1);
            acc[p][2] = _mm256_dpbusd_epi32(acc[p][2], hi, w2);
            acc[p][3] = _mm256_dpbusd_epi32(acc[p][3], hi, w3);
        }
    }
    const float* mp = (const float*)w;
    __m256 m[4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) m[k] = _mm256_loadu_ps(mp + k * LANES);
    const rq8 q = rq8_make(rq);
    const int mode = q.mode;
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) {
        __m256i b = requant_pixel(acc[p], m, &q, mode);
        int8_t* yp = y + (size_t)p * y_stride + c0;
        if (FULL) _mm256_storeu_si256((__m256i*)yp, b);
        else _mm256_mask_storeu_epi8(yp, km, b);
    }
}

/* The source moved on by p pixels. */
NRT_ISA_INLINE(AVX512) nrt_dw_src src_at(const nrt_dw_src* s, size_t p) {
    nrt_dw_src r = *s;
    r.p0 += p;
    return r;
}

/* All pixels of one channel tile. */
NRT_ISA_INLINE(AVX512) void dw_tile(const nrt_dw_src* s, size_t npix, size_t c0, size_t nc, const int32_t* wt,
                                    int8_t* y, size_t y_stride, const nrt_qs8_requant* rq, const int KH, const int KW,
                                    const int S1) {
    size_t p = 0;
    if (nc >= CW) {
        for (; p + PIX <= npix; p += PIX) {
            nrt_dw_src a = src_at(s, p);
            dw_pixels(&a, c0, 0xFFFFFFFFu, wt, y + p * y_stride, y_stride, rq, PIX, 1, KH, KW, S1);
        }
        for (; p < npix; p++) {
            nrt_dw_src a = src_at(s, p);
            dw_pixels(&a, c0, 0xFFFFFFFFu, wt, y + p * y_stride, y_stride, rq, 1, 1, KH, KW, S1);
        }
        return;
    }
    __mmask32 km = (__mmask32)((1u << nc) - 1);
    for (; p + PIX <= npix; p += PIX) {
        nrt_dw_src a = src_at(s, p);
        dw_pixels(&a, c0, km, wt, y + p * y_stride, y_stride, rq, PIX, 0, KH, KW, S1);
    }
    for (; p < npix; p++) {
        nrt_dw_src a = src_at(s, p);
        dw_pixels(&a, c0, km, wt, y + p * y_stride, y_stride, rq, 1, 0, KH, KW, S1);
    }
}

/* Pixels in blocks of BLOCK, every channel tile for a block: the block's
 * input (kh x kw x BLOCK pixels of every channel) stays in L1 across tiles.
 * 3x3 and 5x5 kernels are unrolled (on the row source, with and without
 * S1), other shapes (and the indirection's taps, at the edges) loop. One
 * copy (not inlined into each entry point): the unrolled variants are large,
 * and slow to compile under sanitizers. */
__attribute__((noinline)) NRT_ISA_TARGET(AVX512) static void dw_all(const nrt_dw_src* s, size_t channels, size_t npix, const void* w, int8_t* y,
                                   size_t y_stride, const nrt_qs8_requant* rq) {
    size_t tile = CW * (2 + (s->kh * s->kw + 1) / 2), kh = s->kh, kw = s->kw;
    int s1 = !s->ind && s->xs == s->ts;
    for (size_t b0 = 0; b0 < npix; b0 += BLOCK) {
        size_t nb = npix - b0 < BLOCK ? npix - b0 : BLOCK;
        nrt_dw_src a = src_at(s, b0);
        const int32_t* wt = w;
        int8_t* yb = y + b0 * y_stride;
        for (size_t c0 = 0; c0 < channels; c0 += CW, wt += tile) {
            size_t nc = channels - c0;
            if (kh == 3 && kw == 3 && s1) dw_tile(&a, nb, c0, nc, wt, yb, y_stride, rq, 3, 3, 1);
            else if (kh == 3 && kw == 3) dw_tile(&a, nb, c0, nc, wt, yb, y_stride, rq, 3, 3, 0);
            else if (kh == 5 && kw == 5 && s1) dw_tile(&a, nb, c0, nc, wt, yb, y_stride, rq, 5, 5, 1);
            else if (kh == 5 && kw == 5) dw_tile(&a, nb, c0, nc, wt, yb, y_stride, rq, 5, 5, 0);
            else dw_tile(&a, nb, c0, nc, wt, yb, y_stride, rq, 0, 0, 0);
        }
    }
}

NRT_ISA_TARGET(AVX512) static void qs8_dwconv_32x4k2_avx512vnni(size_t channels, size_t npix, size_t taps,
                                                                 const void* const* ind, const void* w, void* y,
                                                                 size_t y_stride, const void* params) {
    nrt_dw_src s = nrt_dw_src_taps(ind, taps);
    dw_all(&s, channels, npix, w, y, y_stride, params);
}

/* 8 or 16 channels whose pixels are consecutive (stride 1): 32 / C pixels
 * fill one 32-channel tile, on a copy of the tile whose slots repeat the
 * channels' (the slot of channel j holds channel j mod C's values: the same
 * parity, so a weight lane's bytes stay in place). */
#define GROUP_MAX_TAPS 25

/* Channel of slot s (the inverse of the layout's slot order). */
static inline size_t slot_channel(size_t s) {
    size_t k = s / LANES, i = s % LANES;
    return 16 * (i / 4) + 8 * (k / 2) + 2 * (i % 4) + k % 2;
}

static inline size_t channel_slot(size_t j) {
    return ((j % 16) / 8 * 2 + j % 2) * LANES + 4 * (j / 16) + (j % 8) / 2;
}

/* The copy is made per call (per output row): one two-source dword permute
 * per 16 slots of each 32-slot row of the tile (its bias, tap pairs and
 * multipliers), not a slot-by-slot gather, which took a quarter of a
 * 16-channel row's time. channels: 8 or 16. */
NRT_ISA_INLINE(AVX512) void repeat_tile(size_t channels, size_t taps, const int32_t* w, int32_t* dup) {
    int32_t from[CW];
    for (size_t s = 0; s < CW; s++) from[s] = (int32_t)channel_slot(slot_channel(s) & (channels - 1));
    const __m512i lo = _mm512_loadu_si512(from), hi = _mm512_loadu_si512(from + 16);
    for (size_t row = 0; row < 2 + (taps + 1) / 2; row++, w += CW, dup += CW) {
        __m512i a = _mm512_loadu_si512(w), b = _mm512_loadu_si512(w + 16);
        _mm512_storeu_si512(dup, _mm512_permutex2var_epi32(a, lo, b));
        _mm512_storeu_si512(dup + 16, _mm512_permutex2var_epi32(a, hi, b));
    }
}

NRT_ISA_TARGET(AVX512) static void qs8_dwconv_row_32x4k2_avx512vnni(size_t channels, size_t npix, size_t kh,
                                                                     size_t kw, const void* const* rows, size_t xs,
                                                                     size_t ts, const void* w, void* yv,
                                                                     const void* params) {
    int8_t* y = yv;
    const nrt_qs8_requant* rq = params;
    nrt_dw_src s = nrt_dw_src_rows(rows, kh, kw, xs, ts);
    size_t g = CW / (channels ? channels : 1), grouped = 0;
    if ((channels == 8 || channels == 16) && xs == channels && kh * kw <= GROUP_MAX_TAPS && npix >= g) {
        int32_t dup[CW * (2 + (GROUP_MAX_TAPS + 1) / 2)];
        repeat_tile(channels, kh * kw, w, dup);
        nrt_dw_src sg = nrt_dw_src_rows(rows, kh, kw, CW, ts);
        grouped = npix / g * g;
        dw_all(&sg, CW, npix / g, dup, y, CW, rq);
        s.p0 = grouped;
    }
    dw_all(&s, channels, npix - grouped, w, y + grouped * channels, channels, rq);
}

const nrt_dwconv_table nrt_qs8_qc8w_dwconv_32x4k2_minmax_fp32_avx512vnni = {
    .name = "qs8-qc8w-dwconv-32x4k2-minmax-fp32-avx512vnni", .isa = NRT_ISA_AVX512, .cw = CW,
    .layout = NRT_QS8_DW_TAP_PAIRS, .format = &nrt_dwconv_format_qs8_qc8w, .run = qs8_dwconv_32x4k2_avx512vnni,
    .row = qs8_dwconv_row_32x4k2_avx512vnni,
};
