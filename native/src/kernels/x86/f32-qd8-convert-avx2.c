/* f32-qd8-convert-avx2: the dynamic FullyConnected's row quantization
 * (nrt_qd8_fc_table.quantize_rows) on AVX2, bit for bit as the reference's
 * quantize_row: the range is min / max with 0 (vminps / vmaxps keep the
 * reference's `x < lo ? x : lo` operand order, so signed zeros resolve
 * alike), then the same scalar scale and zero point, and q = clamp(rint(x *
 * (1 / s)) + z) (x / s where 1 / s overflows) with round-to-nearest-even per
 * lane. The last K % 8 values take the reference's scalar steps. */
#include <math.h>

#include "../ref/qs8_ref.h"
#include "qs8_requant_x86.h"

/* min and max of x with 0; false when x holds a NaN or Inf */
NRT_ISA_INLINE(AVX2) bool row_range(const float* x, int64_t K, float* lo, float* hi) {
    __m256 vlo = _mm256_setzero_ps(), vhi = _mm256_setzero_ps();
    const __m256i exponent = _mm256_set1_epi32(0x7f800000);
    __m256i bad = _mm256_setzero_si256();
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 v = _mm256_loadu_ps(x + k);
        bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(v), exponent), exponent));
        vlo = _mm256_min_ps(v, vlo);
        vhi = _mm256_max_ps(v, vhi);
    }
    float l[8], h[8];
    _mm256_storeu_ps(l, vlo);
    _mm256_storeu_ps(h, vhi);
    float a = 0.0f, b = 0.0f;
    bool finite = _mm256_testz_si256(bad, bad);
    for (int j = 0; j < 8; j++) {
        a = l[j] < a ? l[j] : a;
        b = h[j] > b ? h[j] : b;
    }
    for (; k < K; k++) {
        finite &= isfinite(x[k]);
        a = x[k] < a ? x[k] : a;
        b = x[k] > b ? x[k] : b;
    }
    *lo = a;
    *hi = b;
    return finite;
}

NRT_ISA_INLINE(AVX2) void quantize_row(const float* x, int64_t K, int8_t* q, float* scale, int32_t* zero) {
    float lo, hi;
    bool finite = row_range(x, K, &lo, &hi);
    float span = hi - lo;
    if (!finite || !isfinite(span)) { /* the contract: NaN outputs */
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
    __m256 vs = _mm256_set1_ps(s), vinv = _mm256_set1_ps(inv), vz = _mm256_set1_ps((float)z);
    __m256 qmin = _mm256_set1_ps(-128.0f), qmax = _mm256_set1_ps(127.0f);
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 xv = _mm256_loadu_ps(x + k);
        __m256 v = multiply ? _mm256_mul_ps(xv, vinv) : _mm256_div_ps(xv, vs);
        v = _mm256_add_ps(_mm256_round_ps(v, NRT_ROUND_NEAREST), vz);
        __m256i i = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, qmin), qmax));
        __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
        _mm_storel_epi64((__m128i*)(void*)(q + k), _mm_packs_epi16(w, w));
    }
    for (; k < K; k++) {
        float v = rintf(multiply ? x[k] * inv : x[k] / s) + (float)z; /* exact: |rint(x / s)| <= 256 here */
        q[k] = (int8_t)(v < -128.0f ? -128.0f : (v > 127.0f ? 127.0f : v));
    }
    *scale = s;
    *zero = z;
}

NRT_ISA_TARGET(AVX2) void nrt_f32_qd8_convert_avx2(const nrt_dyn_fc* g, int64_t m0, int64_t m1) {
    for (int64_t i = m0; i < m1; i++)
        quantize_row(g->x + i * g->K, g->K, g->q + i * g->K, g->row_scale + i, g->row_zero + i);
}
