/* Reference kernel for GridSample of 2-D and 3-D float32 images (ONNX
 * GridSample, which follows PyTorch's grid_sample). */
#ifndef NRT_GRID_SAMPLE_REF_H
#define NRT_GRID_SAMPLE_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The values of the schema's GridSampleMode and GridSamplePadding. */
typedef enum { NRT_GRID_LINEAR = 0, NRT_GRID_NEAREST = 1, NRT_GRID_CUBIC = 2 } nrt_grid_mode;
typedef enum { NRT_GRID_ZEROS = 0, NRT_GRID_BORDER = 1, NRT_GRID_REFLECTION = 2 } nrt_grid_padding;

typedef struct nrt_grid_sample_f32 {
    const float* x;    /* [batch, channels, (depth,) height, width] */
    const float* grid; /* [batch, (out_depth,) out_height, out_width, spatial]: (x, y (, z)), -1 .. 1 spans x */
    float* y;          /* [batch, channels, (out_depth,) out_height, out_width] */
    size_t channels;
    int spatial;         /* 2 or 3 */
    int64_t size[3];     /* depth (1 for 2-D images), height, width */
    int64_t out_size[3]; /* likewise */
    nrt_grid_mode mode;
    nrt_grid_padding padding;
    bool align_corners; /* -1 and 1 are the corner pixels' centres (else their outer edges) */
} nrt_grid_sample_f32;

/* Output rows (batch, out_depth, out_row) in [begin, end), all channels. Any
 * grid value (NaN and infinities included) reads only inside x. */
void nrt_grid_sample_f32_ref(const nrt_grid_sample_f32* g, size_t begin, size_t end);

#endif
