#include "resize_ref.h"

#include <math.h>


/* Source coordinate of output index o (ONNX's coordinate transforms). */
static double original_coord(const nrt_resize_method* m, const nrt_resize_axis* a, int64_t o, bool* extrap) {
    double x = (double)o, in = (double)a->in, s = a->scale, out_w = s * in;
    *extrap = false;
    switch (m->coord) {
    case NRT_COORD_ASYMMETRIC: return x / s;
    case NRT_COORD_PYTORCH_HALF_PIXEL: return out_w == 1.0 ? -0.5 : (x + 0.5) / s - 0.5;
    case NRT_COORD_ALIGN_CORNERS: return out_w == 1.0 ? 0.0 : x * (in - 1.0) / (out_w - 1.0);
    case NRT_COORD_TF_CROP_AND_RESIZE: {
        double span = a->roi_end - a->roi_start;
        double v = out_w == 1.0 ? span * (in - 1.0) / 2.0 : x * span * (in - 1.0) / (out_w - 1.0);
        v += a->roi_start * (in - 1.0);
        *extrap = v < 0.0 || v > in - 1.0;
        return v;
    }
    case NRT_COORD_HALF_PIXEL_SYMMETRIC: {
        double adjustment = (double)a->out / out_w, center = in / 2.0;
        return center * (1.0 - adjustment) + (x + 0.5) / s - 0.5;
    }
    case NRT_COORD_TF_HALF_PIXEL_FOR_NN: return (x + 0.5) / s;
    default: return (x + 0.5) / s - 0.5; /* HALF_PIXEL */
    }
}

static int64_t clamp_index(int64_t i, int64_t n) { return i < 0 ? 0 : (i >= n ? n - 1 : i); }

/* Keeps a coordinate finite and within `margin` of the input, which changes
 * no result (every tap beyond it is clamped to the same edge) but keeps the
 * integer conversions defined, also for a hostile roi. */
static double clamp_coord(double v, int64_t n, int margin) {
    double lo = -(double)margin, hi = (double)n + margin;
    return !(v >= lo) ? lo : (v > hi ? hi : v); /* NaN (from a NaN roi) goes to lo */
}

void nrt_resize_nearest_map(const nrt_resize_method* m, const nrt_resize_axis* a, int64_t* map) {
    for (int64_t o = 0; o < a->out; o++) {
        bool extrap;
        double v = clamp_coord(original_coord(m, a, o, &extrap), a->in, 4);
        if (extrap) {
            map[o] = -1;
            continue;
        }
        double fl = floor(v), r = v - fl;
        int64_t i = (int64_t)fl;
        if (r != 0.0) {
            switch (m->nearest) {
            case NRT_NEAREST_ROUND_PREFER_CEIL: i += r >= 0.5; break;
            case NRT_NEAREST_FLOOR: break;
            case NRT_NEAREST_CEIL: i += 1; break;
            default: i += r > 0.5; break; /* ROUND_PREFER_FLOOR */
            }
        }
        map[o] = clamp_index(i, a->in);
    }
}

static double cubic_kernel(double x, double A) {
    x = fabs(x);
    if (x <= 1.0) return ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    if (x < 2.0) return ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    return 0.0;
}

int nrt_resize_taps(const nrt_resize_method* m, double scale, int max_taps) {
    if (!m->antialias) return m->mode == NRT_RESIZE_CUBIC ? 4 : 2;
    double s = scale < 1.0 ? scale : 1.0, support = m->mode == NRT_RESIZE_CUBIC ? 2.0 : 1.0;
    if (support / s > (double)max_taps) return 0;
    int64_t start = (int64_t)floor(-support / s) + 1;
    return (int)(2 - 2 * start);
}

/* Weights of taps fl + start + i for the fractional position r in (0, 1]. */
static void tap_weights(const nrt_resize_method* m, double scale, double r, int taps, double* c) {
    int64_t start = 1 - taps / 2;
    if (!m->antialias && m->mode == NRT_RESIZE_LINEAR) {
        c[0] = 1.0 - r;
        c[1] = r;
    } else if (!m->antialias) {
        double A = m->cubic_a, q = 1.0 - r;
        c[0] = ((A * (r + 1.0) - 5.0 * A) * (r + 1.0) + 8.0 * A) * (r + 1.0) - 4.0 * A;
        c[1] = ((A + 2.0) * r - (A + 3.0)) * r * r + 1.0;
        c[2] = ((A + 2.0) * q - (A + 3.0)) * q * q + 1.0;
        c[3] = ((A * (q + 1.0) - 5.0 * A) * (q + 1.0) + 8.0 * A) * (q + 1.0) - 4.0 * A;
    } else { /* antialias: the kernel stretched by 1 / scale when downsampling, normalized */
        double s = scale < 1.0 ? scale : 1.0, sum = 0.0;
        for (int i = 0; i < taps; i++) {
            double arg = ((double)(start + i) - r) * s;
            if (m->mode == NRT_RESIZE_CUBIC) {
                c[i] = cubic_kernel(arg, m->cubic_a);
            } else {
                double v = 1.0 - fabs(arg);
                c[i] = v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v);
            }
            sum += c[i];
        }
        for (int i = 0; i < taps; i++) c[i] /= sum;
    }
}

void nrt_resize_axis_coeffs(const nrt_resize_method* m, const nrt_resize_axis* a, int taps, int64_t* idx, float* w,
                            uint8_t* extrap) {
    double c[NRT_RESIZE_MAX_TAPS];
    for (int64_t o = 0; o < a->out; o++) {
        bool ex;
        double v = clamp_coord(original_coord(m, a, o, &ex), a->in, taps + 4);
        extrap[o] = ex;
        /* ONNX prefers the pixel left of v: an integer v is tap "fl + 1" at ratio 1 */
        double fl = floor(v), r = v - fl;
        if (r == 0.0) {
            fl -= 1.0;
            r = 1.0;
        }
        tap_weights(m, a->scale, r, taps, c);
        int64_t first = (int64_t)fl + 1 - taps / 2;
        if (m->exclude_outside) {
            double sum = 0.0;
            for (int i = 0; i < taps; i++) {
                if (first + i < 0 || first + i >= a->in) c[i] = 0.0;
                sum += c[i];
            }
            for (int i = 0; i < taps; i++) c[i] /= sum == 0.0 ? 1.0 : sum;
        }
        for (int i = 0; i < taps; i++) {
            idx[o * taps + i] = clamp_index(first + i, a->in);
            w[o * taps + i] = (float)c[i];
        }
    }
}

void nrt_resize_pass_f32_ref(const nrt_resize_pass* p, const float* x, float* y, int64_t begin, int64_t end) {
    int64_t inner = p->inner;
    for (int64_t item = begin; item < end; item++) {
        int64_t outer = item / p->out_len, o = item % p->out_len;
        float* restrict yp = y + item * inner;
        if (p->extrap && p->extrap[o]) {
            for (int64_t i = 0; i < inner; i++) yp[i] = p->extrapolation_value;
            continue;
        }
        const float* xo = x + outer * p->in_len * inner;
        const int64_t* idx = p->idx + o * p->taps;
        const float* w = p->w + o * p->taps;
        const float* restrict x0 = xo + idx[0] * inner;
        float w0 = w[0];
        for (int64_t i = 0; i < inner; i++) yp[i] = w0 * x0[i];
        for (int t = 1; t < p->taps; t++) {
            const float* restrict xt = xo + idx[t] * inner;
            float wt = w[t];
            for (int64_t i = 0; i < inner; i++) yp[i] += wt * xt[i];
        }
    }
}
