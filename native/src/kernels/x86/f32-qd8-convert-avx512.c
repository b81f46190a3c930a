/* f32-qd8-convert-avx512: the dynamic FullyConnected's row quantization
 * (nrt_qd8_fc_table.quantize_rows), bit for bit as the reference's
 * quantize_row: the same range (min / max with 0, compared in the
 * reference's order so signed zeros resolve alike), the same scalar scale and
 * zero point, then q = clamp(rint(x * (1 / s)) + z) (x / s where 1 / s
 * overflows) with round-to-nearest-even per lane, as the reference. */
#include <math.h>

#include "../ref/qs8_ref.h"
#include "qs8_requant_x86.h"

NRT_ISA_INLINE(AVX512) bool row_range(const float* x, int64_t K, float* lo, float* hi) {
    __m512 vlo = _mm512_setzero_ps(), vhi = _mm512_setzero_ps();
    __mmask16 bad = 0;
    int64_t k = 0;
    for (; k < K; k += 16) {
        __mmask16 m = K - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (K - k)) - 1u);
        __m512 v = _mm512_maskz_loadu_ps(m, x + k);
        /* not finite: exponent all ones (lanes past K are 0.0) */
        bad |= _mm512_cmpeq_epi32_mask(_mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7f800000)),
                                       _mm512_set1_epi32(0x7f800000));
        vlo = _mm512_min_ps(v, vlo); /* v < lo ? v : lo, as the reference */
        vhi = _mm512_max_ps(v, vhi);
    }
    float l[16], h[16];
    _mm512_storeu_ps(l, vlo);
    _mm512_storeu_ps(h, vhi);
    float a = 0.0f, b = 0.0f;
    for (int j = 0; j < 16; j++) {
        a = l[j] < a ? l[j] : a;
        b = h[j] > b ? h[j] : b;
    }
    *lo = a;
    *hi = b;
    return bad == 0;
}

NRT_ISA_INLINE(AVX512) void quantize_row(const float* x, int64_t K, int8_t* q, float* scale, int32_t* zero) {
    float lo, hi;
    bool finite = row_range(x, K, &lo, &hi);
    float span = hi - lo;
    if (!finite || !isfinite(span)) {
        *scale = NAN;
        *zero = 0;
        memset(q, 0, (size_t)K);
        return;
    }
    float s = span / 255.0f;
    int32_t z = 0;
    if (s == 0.0f) {
        s = 1.0f;
    } else {
        float zf = rintf(-128.0f - lo / s);
        z = (int32_t)(zf < -128.0f ? -128.0f : (zf > 127.0f ? 127.0f : zf));
    }
    float inv = 1.0f / s;
    bool multiply = isfinite(inv);
    __m512 vs = _mm512_set1_ps(s), vinv = _mm512_set1_ps(inv), vz = _mm512_set1_ps((float)z);
    __m512 qmin = _mm512_set1_ps(-128.0f), qmax = _mm512_set1_ps(127.0f);
    for (int64_t k = 0; k < K; k += 16) {
        __mmask16 m = K - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (K - k)) - 1u);
        __m512 xv = _mm512_maskz_loadu_ps(m, x + k);
        __m512 v = multiply ? _mm512_mul_ps(xv, vinv) : _mm512_div_ps(xv, vs);
        v = _mm512_add_ps(_mm512_roundscale_ps(v, NRT_ROUND_NEAREST), vz);
        v = _mm512_min_ps(_mm512_max_ps(v, qmin), qmax);
        _mm_mask_storeu_epi8(q + k, m, _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v)));
    }
    *scale = s;
    *zero = z;
}

NRT_ISA_TARGET(AVX512) void nrt_f32_qd8_convert_avx512(const nrt_dyn_fc* g, int64_t m0, int64_t m1) {
    for (int64_t i = m0; i < m1; i++)
        quantize_row(g->x + i * g->K, g->K, g->q + i * g->K, g->row_scale + i, g->row_zero + i);
}
