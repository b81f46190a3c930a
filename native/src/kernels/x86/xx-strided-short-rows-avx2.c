/* The short-rows gather of a strided copy (NCHW -> NHWC of an image input,
 * rows of 1-4 channels) compiled for AVX2: GCC vectorizes the interleave
 * with byte / dword shuffles that baseline x86-64 lacks. */
#include "../movement_kernels.h"
#include "../ref/movement_short_rows.h"

NRT_SHORT_ROWS_ENTRY(NRT_ISA_TARGET(AVX2), nrt_xx_strided_short_rows_avx2)
