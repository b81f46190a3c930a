#include "depth_space_ref.h"

#include <string.h>

void nrt_depth_to_space_ref(const uint8_t* x, uint8_t* y, size_t elem, int64_t h, int64_t w, int64_t c, int64_t b,
                            bool crd, int64_t row_begin, int64_t row_end) {
    int64_t oc = c / (b * b), oh = h * b, ow = w * b;
    for (int64_t row = row_begin; row < row_end; row++) {
        int64_t n = row / oh, yy = row % oh, iy = yy / b, i = yy % b;
        for (int64_t xx = 0; xx < ow; xx++) {
            int64_t ix = xx / b, j = xx % b;
            const uint8_t* xp = x + ((n * h + iy) * w + ix) * c * (int64_t)elem;
            uint8_t* yp = y + ((row * ow) + xx) * oc * (int64_t)elem;
            if (!crd) { /* DCR: the C' outputs are a contiguous run of input channels */
                memcpy(yp, xp + (i * b + j) * oc * (int64_t)elem, (size_t)oc * elem);
            } else {
                for (int64_t k = 0; k < oc; k++)
                    memcpy(yp + k * (int64_t)elem, xp + (k * b * b + i * b + j) * (int64_t)elem, elem);
            }
        }
    }
}

void nrt_space_to_depth_ref(const uint8_t* x, uint8_t* y, size_t elem, int64_t h, int64_t w, int64_t c, int64_t b,
                            int64_t row_begin, int64_t row_end) {
    int64_t oh = h / b, ow = w / b, run = c * (int64_t)elem;
    for (int64_t row = row_begin; row < row_end; row++) {
        int64_t n = row / oh, yy = row % oh;
        for (int64_t xx = 0; xx < ow; xx++) {
            uint8_t* yp = y + (row * ow + xx) * c * b * b * (int64_t)elem;
            for (int64_t i = 0; i < b; i++)
                for (int64_t j = 0; j < b; j++) {
                    const uint8_t* xp = x + ((n * h + yy * b + i) * w + xx * b + j) * run;
                    memcpy(yp + (i * b + j) * run, xp, (size_t)run);
                }
        }
    }
}
