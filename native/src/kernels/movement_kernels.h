/* Per-ISA data-movement kernels. Only the short-rows gather of a strided
 * copy has them (kernels/ref/movement_short_rows.h: the same loops compiled
 * for a wider ISA); every other movement runs the reference kernels, which
 * plain copies already serve at memory speed. Any level moves the same
 * elements. */
#ifndef NRT_MOVEMENT_KERNELS_H
#define NRT_MOVEMENT_KERNELS_H

#include "isa.h"
#include "ref/movement_ref.h"

#endif
