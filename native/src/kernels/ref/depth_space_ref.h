/* Reference DepthToSpace / SpaceToDepth on NHWC tensors (any element size).
 *
 * In ONNX's NCHW terms, with block b and C' = C / (b * b):
 *   DepthToSpace DCR: y[n, c, h*b + i, w*b + j] = x[n, (i*b + j)*C' + c, h, w]
 *   DepthToSpace CRD: y[n, c, h*b + i, w*b + j] = x[n, c*b*b + i*b + j, h, w]
 *   SpaceToDepth:     y[n, (i*b + j)*C + c, h, w] = x[n, c, h*b + i, w*b + j]
 * The same element mapping holds here, with channels stored last. */
#ifndef NRT_DEPTH_SPACE_REF_H
#define NRT_DEPTH_SPACE_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* x [N, H, W, C] -> y [N, H*b, W*b, C/(b*b)], output rows [row_begin, row_end) of N * H*b. */
void nrt_depth_to_space_ref(const uint8_t* x, uint8_t* y, size_t elem, int64_t h, int64_t w, int64_t c, int64_t b,
                            bool crd, int64_t row_begin, int64_t row_end);
/* x [N, H, W, C] -> y [N, H/b, W/b, C*b*b], output rows [row_begin, row_end) of N * H/b. */
void nrt_space_to_depth_ref(const uint8_t* x, uint8_t* y, size_t elem, int64_t h, int64_t w, int64_t c, int64_t b,
                            int64_t row_begin, int64_t row_end);

#endif
