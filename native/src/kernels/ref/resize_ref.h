/* Reference Resize: separable N-D interpolation, one axis at a time.
 *
 * For each resized axis the op builds a table: for every output index, the
 * source taps (indices clamped into the input: edge padding) and their
 * weights, computed in double exactly as ONNX's reference implementation
 * does (onnx/reference/ops/op_resize.py), including the coordinate
 * transforms, nearest rounding modes, cubic_coeff_a, exclude_outside,
 * antialias and tf_crop_and_resize's extrapolation; weights are then
 * stored as float. Note: like ONNX's reference, the transforms that use the
 * resized length (align_corners, pytorch_half_pixel, tf_crop_and_resize,
 * half_pixel_symmetric) take it as scale * input length, which differs from
 * the integer output length when scales (not sizes) are given.
 *
 * nearest: one tap; the op gathers it for any element type (pad_ref's
 *   index-map gather, -1 = extrapolation value).
 * linear / cubic (float32): each pass computes
 *   y[o] = w[0] * x[idx[0]] + w[1] * x[idx[1]] + ... in tap order, in float,
 *   over contiguous runs of the inner axes. */
#ifndef NRT_RESIZE_REF_H
#define NRT_RESIZE_REF_H

#include <stdbool.h>
#include <stdint.h>

/* The file format's numbers (ops/resize.c checks), so a model's values are used as they are. */
enum { NRT_RESIZE_NEAREST = 0, NRT_RESIZE_LINEAR = 1, NRT_RESIZE_CUBIC = 2 };
enum {
    NRT_COORD_HALF_PIXEL = 0, NRT_COORD_ASYMMETRIC = 1, NRT_COORD_PYTORCH_HALF_PIXEL = 2, NRT_COORD_ALIGN_CORNERS = 3,
    NRT_COORD_TF_CROP_AND_RESIZE = 4, NRT_COORD_HALF_PIXEL_SYMMETRIC = 5, NRT_COORD_TF_HALF_PIXEL_FOR_NN = 6,
};
enum { NRT_NEAREST_ROUND_PREFER_FLOOR = 0, NRT_NEAREST_ROUND_PREFER_CEIL = 1, NRT_NEAREST_FLOOR = 2,
      NRT_NEAREST_CEIL = 3 };

typedef struct nrt_resize_method {
    uint8_t mode;        /* NRT_RESIZE_* */
    uint8_t coord;       /* NRT_COORD_* */
    uint8_t nearest;     /* NRT_NEAREST_* */
    float cubic_a;
    bool exclude_outside, antialias;
} nrt_resize_method;

/* One axis: input / output length, scale (output / input, or the
 * aspect-preserving scale), roi start / end (tf_crop_and_resize). */
typedef struct nrt_resize_axis {
    int64_t in, out;
    double scale, roi_start, roi_end;
} nrt_resize_axis;

#define NRT_RESIZE_MAX_TAPS 4096

/* Taps per output index for linear / cubic (0 if the scale needs more than
 * `max_taps` <= NRT_RESIZE_MAX_TAPS, which only very small antialiased
 * scales do). */
int nrt_resize_taps(const nrt_resize_method* m, double scale, int max_taps);

/* Linear / cubic: idx[out * taps], w[out * taps], extrap[out] (1 = output
 * takes the extrapolation value). */
void nrt_resize_axis_coeffs(const nrt_resize_method* m, const nrt_resize_axis* a, int taps, int64_t* idx, float* w,
                            uint8_t* extrap);

/* Nearest: map[out] = source index, or -1 for the extrapolation value. */
void nrt_resize_nearest_map(const nrt_resize_method* m, const nrt_resize_axis* a, int64_t* map);

/* One linear / cubic pass over x viewed as [outer][in_len][inner] into
 * y [outer][out_len][inner]; work items [begin, end) of outer * out_len. */
typedef struct nrt_resize_pass {
    int64_t in_len, out_len, inner;
    int taps;
    const int64_t* idx;
    const float* w;
    const uint8_t* extrap;
    float extrapolation_value;
} nrt_resize_pass;

void nrt_resize_pass_f32_ref(const nrt_resize_pass* p, const float* x, float* y, int64_t begin, int64_t end);

#endif
