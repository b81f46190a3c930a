/* Per-ISA data-movement kernels. Only the short-rows gather of a strided
 * copy has them (kernels/ref/movement_short_rows.h: the same loops compiled
 * for a wider ISA); every other movement runs the reference kernels, which
 * plain copies already serve at memory speed. Any level moves the same
 * elements. */
#ifndef NRT_MOVEMENT_KERNELS_H
#define NRT_MOVEMENT_KERNELS_H

#include "isa.h"
#include "ref/movement_ref.h"

#if defined(__x86_64__) || defined(__i386__)
void nrt_strided_short_rows_avx2(const nrt_strided* s, const void* in, void* out, size_t unit_begin,
                                 size_t unit_end);
#endif

#endif
