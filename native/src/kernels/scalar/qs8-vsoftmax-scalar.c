/* qs8-vsoftmax-scalar: int8 Softmax (qs8_kernels.h) one column at a time,
 * the portable form of the vector kernels' arithmetic. */
#include "../qs8_kernels.h"

void nrt_qs8_vsoftmax_scalar(size_t n, size_t inner, size_t cols, const int8_t* x, const uint32_t* table,
                             int8_t* y) {
    for (size_t c = 0; c < cols; c++) nrt_qs8_softmax_column(n, inner, x + c, table, y + c);
}
