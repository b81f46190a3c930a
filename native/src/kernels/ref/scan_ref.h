/* Reference kernels for CumSum, CumProd and Range: the data-movement
 * family's ops that do arithmetic. */
#ifndef NRT_SCAN_REF_H
#define NRT_SCAN_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CumSum along the middle dim of an [outer, dim, inner] tensor. Sums run
 * sequentially along the axis (y[k] = y[k-1] + x[k], or x[k-1] when
 * exclusive; from the far end when reverse), in the element type; integer
 * sums wrap around. `outer` ranges [begin, end) are independent. */
void nrt_cumsum_f32_ref(const float* x, float* y, size_t dim, size_t inner, bool exclusive, bool reverse,
                        size_t begin, size_t end);
void nrt_cumsum_f64_ref(const double* x, double* y, size_t dim, size_t inner, bool exclusive, bool reverse,
                        size_t begin, size_t end);
void nrt_cumsum_i32_ref(const int32_t* x, int32_t* y, size_t dim, size_t inner, bool exclusive, bool reverse,
                        size_t begin, size_t end);
void nrt_cumsum_i64_ref(const int64_t* x, int64_t* y, size_t dim, size_t inner, bool exclusive, bool reverse,
                        size_t begin, size_t end);

/* CumProd: as CumSum with products (an exclusive scan starts from 1). */
void nrt_cumprod_f32_ref(const float* x, float* y, size_t dim, size_t inner, bool exclusive, bool reverse,
                         size_t begin, size_t end);
void nrt_cumprod_f64_ref(const double* x, double* y, size_t dim, size_t inner, bool exclusive, bool reverse,
                         size_t begin, size_t end);
void nrt_cumprod_i32_ref(const int32_t* x, int32_t* y, size_t dim, size_t inner, bool exclusive, bool reverse,
                         size_t begin, size_t end);
void nrt_cumprod_i64_ref(const int64_t* x, int64_t* y, size_t dim, size_t inner, bool exclusive, bool reverse,
                         size_t begin, size_t end);

/* Range: y[0] = start, y[i] = y[i-1] + delta, as ONNX's function body
 * defines it (an accumulation in the element type; integers wrap). */
void nrt_range_f32_ref(float start, float delta, float* y, size_t n);
void nrt_range_f64_ref(double start, double delta, double* y, size_t n);
void nrt_range_i16_ref(int16_t start, int16_t delta, int16_t* y, size_t n);
void nrt_range_i32_ref(int32_t start, int32_t delta, int32_t* y, size_t n);
void nrt_range_i64_ref(int64_t start, int64_t delta, int64_t* y, size_t n);

#endif
