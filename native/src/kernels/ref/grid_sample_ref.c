#include "grid_sample_ref.h"

#include <math.h>

/* Sample positions beyond this many pixels outside the image all read the
 * same padding; clamping there keeps NaN and infinities out of the integer
 * conversions. */
#define FAR_OUTSIDE 1073741824.0f

/* A normalized coordinate in pixels (the centre of pixel i is i). */
static float denormalize(float v, int64_t size, bool align_corners) {
    return align_corners ? (v + 1) / 2 * (float)(size - 1) : ((v + 1) * (float)size - 1) / 2;
}

/* Reflects v at the borders lo and hi until it lies between them. */
static float reflect(float v, float lo, float hi) {
    float range = hi - lo;
    if (range <= 0) return lo;
    if (v >= lo && v <= hi) return v;
    float dist = v < lo ? lo - v : v - hi;
    float flips = floorf(dist / range), rest = dist - flips * range;
    bool even = fmodf(flips, 2.0f) == 0;
    if (v < lo) return even ? lo + rest : hi - rest;
    return even ? hi - rest : lo + rest;
}

typedef struct axis_taps {
    int64_t index[4]; /* -1: the tap reads zero padding */
    float weight[4];
} axis_taps;

/* The pixel index that tap i of an axis of `size` reads under the padding. */
static int64_t tap_index(int64_t i, int64_t size, nrt_grid_padding padding, float lo, float hi) {
    if (padding == NRT_GRID_REFLECTION && (i < 0 || i >= size)) i = (int64_t)reflect((float)i, lo, hi);
    if (padding == NRT_GRID_ZEROS) return i >= 0 && i < size ? i : -1;
    return i < 0 ? 0 : i >= size ? size - 1 : i; /* border (and reflection's rounding) */
}

static void cubic_weights(float t, float* w) {
    const float a = -0.75f; /* Keys' cubic convolution, as PyTorch and ONNX */
    float t1 = t + 1, u = 1 - t, u1 = 2 - t;
    w[0] = ((a * t1 - 5 * a) * t1 + 8 * a) * t1 - 4 * a;
    w[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
    w[2] = ((a + 2) * u - (a + 3)) * u * u + 1;
    w[3] = ((a * u1 - 5 * a) * u1 + 8 * a) * u1 - 4 * a;
}

/* The taps of one axis for normalized coordinate v; returns how many. */
static int axis_taps_of(const nrt_grid_sample_f32* g, float v, int64_t size, axis_taps* taps) {
    float lo = g->align_corners ? 0.0f : -0.5f, hi = g->align_corners ? (float)(size - 1) : (float)size - 0.5f;
    float p = denormalize(v, size, g->align_corners);
    if (!(p > -FAR_OUTSIDE)) p = -FAR_OUTSIDE; /* NaN too */
    if (p > FAR_OUTSIDE) p = FAR_OUTSIDE;
    if (g->mode == NRT_GRID_NEAREST) p = nearbyintf(p); /* halves to even, as PyTorch */
    if (p < lo || p > hi) { /* cubic clamps only its taps at a border (PyTorch and onnxruntime; ONNX's
                               reference clamps the point too) */
        if (g->padding == NRT_GRID_BORDER && g->mode != NRT_GRID_CUBIC)
            p = p < 0 ? 0 : p > (float)(size - 1) ? (float)(size - 1) : p;
        else if (g->padding == NRT_GRID_REFLECTION) p = reflect(p, lo, hi);
    }
    float base = floorf(p), t = p - base;
    int64_t i0 = (int64_t)base;
    switch (g->mode) {
    case NRT_GRID_NEAREST:
        taps->index[0] = tap_index((int64_t)p, size, g->padding, lo, hi);
        taps->weight[0] = 1;
        return 1;
    case NRT_GRID_LINEAR:
        for (int i = 0; i < 2; i++) taps->index[i] = tap_index(i0 + i, size, g->padding, lo, hi);
        taps->weight[0] = 1 - t;
        taps->weight[1] = t;
        return 2;
    default:
        for (int i = 0; i < 4; i++) taps->index[i] = tap_index(i0 - 1 + i, size, g->padding, lo, hi);
        cubic_weights(t, taps->weight);
        return 4;
    }
}

void nrt_grid_sample_f32_ref(const nrt_grid_sample_f32* g, size_t begin, size_t end) {
    const int64_t *in = g->size, *out = g->out_size;
    size_t volume = (size_t)(in[0] * in[1] * in[2]), out_volume = (size_t)(out[0] * out[1] * out[2]);
    size_t rows = (size_t)(out[0] * out[1]), width = (size_t)out[2], spatial = (size_t)g->spatial;
    axis_taps flat = {{0}, {1}}; /* the depth of a 2-D image: one tap */
    for (size_t u = begin; u < end; u++) {
        size_t n = u / rows, row = u % rows; /* row: (out_depth, out_row) */
        const float* grid = g->grid + u * width * spatial;
        for (size_t col = 0; col < width; col++) {
            const float* point = grid + col * spatial; /* (x, y, z): width first */
            axis_taps tx, ty, tz = flat;
            int count = axis_taps_of(g, point[0], in[2], &tx), count_z = 1;
            axis_taps_of(g, point[1], in[1], &ty);
            if (g->spatial == 3) count_z = axis_taps_of(g, point[2], in[0], &tz);
            for (size_t c = 0; c < g->channels; c++) {
                const float* img = g->x + (n * g->channels + c) * volume;
                float sum = 0; /* the innermost axis first, as ONNX's reference */
                for (int k = 0; k < count_z; k++) {
                    if (tz.index[k] < 0) continue;
                    const float* plane = img + tz.index[k] * in[1] * in[2];
                    float across_plane = 0;
                    for (int i = 0; i < count; i++) {
                        float across_row = 0;
                        for (int j = 0; j < count; j++)
                            if (ty.index[i] >= 0 && tx.index[j] >= 0)
                                across_row += tx.weight[j] * plane[ty.index[i] * in[2] + tx.index[j]];
                        across_plane += ty.weight[i] * across_row;
                    }
                    sum += tz.weight[k] * across_plane;
                }
                g->y[(n * g->channels + c) * out_volume + row * width + col] = sum;
            }
        }
    }
}
