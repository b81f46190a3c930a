#ifndef NRT_CPU_FEATURES_H
#define NRT_CPU_FEATURES_H

#include "nanort.h"

int nrt_cpu_supports_isa(nrt_isa isa);
/* NRT_ISA_* for "ref", "avx2", ...; NRT_ISA_AUTO for NULL/""/"auto"; -2 if unknown. */
int nrt_isa_from_name(const char* name);

#endif
