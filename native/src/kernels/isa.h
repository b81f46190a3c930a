/* Kernel levels: named sets of CPU features, defined once here.
 *
 * The CPU's features are detected as independent bits (nrt_cpu_features).
 * A level is a row of NRT_ISA_LEVELS: its id, the name users give it
 * (NANORT_ISA, isa=, --isa), the features it requires, and the level it
 * falls back to; its compiler target string is NRT_ISA_TARGET_<id>. A CPU
 * runs a level when it has every feature the row requires, so levels need
 * not form a ladder (an ARM core may have dotprod without i8mm, an x86 one
 * AVX-512 VNNI without VBMI). Within an architecture, rows are in order of
 * preference: "auto" picks the last row the CPU runs. Each level's kernels
 * are one table (dispatch.c); an entry a level leaves out is taken from the
 * level it falls back to, down to the reference.
 *
 * A new level is a row here (and its target string when it needs one), a
 * kernel table in dispatch.c, and its kernel files. */
#ifndef NRT_ISA_H
#define NRT_ISA_H

#include <stdbool.h>
#include <stdint.h>

#include "nanort.h"

/* CPU features, one bit each. */
enum {
    NRT_CPU_AVX2 = 1u << 0,
    NRT_CPU_FMA = 1u << 1,
    NRT_CPU_AVX512F = 1u << 2,
    NRT_CPU_AVX512BW = 1u << 3,
    NRT_CPU_AVX512VL = 1u << 4,
    NRT_CPU_AVX512DQ = 1u << 5,
    NRT_CPU_AVX512VNNI = 1u << 6,
    NRT_CPU_AVX512VBMI = 1u << 7,
    NRT_CPU_AVXVNNI = 1u << 8,     /* VNNI on 256-bit vectors without AVX-512 (Alder Lake) */
    NRT_CPU_NEON = 1u << 16,       /* AArch64 Advanced SIMD (always present) */
    NRT_CPU_DOTPROD = 1u << 17,    /* SDOT / UDOT (ARMv8.2 optional, v8.4 mandatory) */
    NRT_CPU_I8MM = 1u << 18,       /* SMMLA / UMMLA / USDOT (ARMv8.6) */
    NRT_CPU_FP16 = 1u << 19,       /* half-precision arithmetic */
    NRT_CPU_SVE = 1u << 20,
    NRT_CPU_SVE2 = 1u << 21,
};

#define NRT_CPU_AVX512_BASE (NRT_CPU_AVX2 | NRT_CPU_FMA | NRT_CPU_AVX512F | NRT_CPU_AVX512BW | NRT_CPU_AVX512VL | \
                             NRT_CPU_AVX512DQ)

/* id          name          requires                                              falls back to */
#define NRT_ISA_LEVELS(X)                                                                                      \
    X(REF,        "ref",        0,                                                     REF)                    \
    X(AVX2,       "avx2",       NRT_CPU_AVX2 | NRT_CPU_FMA,                            REF)                    \
    X(AVX512,     "avx512",     NRT_CPU_AVX512_BASE | NRT_CPU_AVX512VNNI,              AVX2)                   \
    X(AVX512VBMI, "avx512vbmi", NRT_CPU_AVX512_BASE | NRT_CPU_AVX512VNNI | NRT_CPU_AVX512VBMI, AVX512)         \
    X(NEON,       "neon",       NRT_CPU_NEON,                                          REF)                    \
    X(DOTPROD,    "dotprod",    NRT_CPU_NEON | NRT_CPU_DOTPROD,                        NEON)                   \
    X(I8MM,       "i8mm",       NRT_CPU_NEON | NRT_CPU_DOTPROD | NRT_CPU_I8MM,         DOTPROD)

/* Compiler target strings: what a kernel file compiled for the level may
 * use (x86: function attributes; ARM: a pragma before <arm_neon.h>, as
 * GCC 12's per-function targets reject NEON intrinsics). */
#define NRT_ISA_TARGET_AVX2 "avx2,fma"
#define NRT_ISA_TARGET_AVX512 "avx2,fma,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"
#define NRT_ISA_TARGET_AVX512VBMI "avx2,fma,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512vbmi"
#if defined(__clang__)
#define NRT_ISA_TARGET_DOTPROD "dotprod"
#define NRT_ISA_TARGET_I8MM "dotprod,i8mm"
#else
#define NRT_ISA_TARGET_DOTPROD "arch=armv8.2-a+dotprod"
#define NRT_ISA_TARGET_I8MM "arch=armv8.2-a+dotprod+i8mm"
#endif

/* __attribute__((target(...))) of a level, for x86 kernel functions, and
 * for the helpers they inline. */
#define NRT_ISA_TARGET(id) __attribute__((target(NRT_ISA_TARGET_##id)))
#define NRT_ISA_INLINE(id) NRT_ISA_TARGET(id) NRT_ALWAYS_INLINE
#define NRT_ALWAYS_INLINE __attribute__((always_inline)) static inline

#define NRT_ISA_ENUM_ROW(id, name, requires, fallback) NRT_ISA_##id,
/* Level ids in row order; NRT_ISA_REF is 0 (nanort.h: levels are numbered
 * 0 .. nrt_isa_count() - 1). */
enum { NRT_ISA_LEVELS(NRT_ISA_ENUM_ROW) NRT_ISA_COUNT };
#undef NRT_ISA_ENUM_ROW

/* The features of this CPU (detected once per call; cheap). */
uint32_t nrt_cpu_features(void);
/* Whether a CPU with `features` runs level `isa`. */
bool nrt_isa_supported(int isa, uint32_t features);
/* The level `isa` falls back to (the reference falls back to itself). */
int nrt_isa_fallback(int isa);
/* The preferred level a CPU with `features` runs. */
int nrt_isa_best(uint32_t features);

#endif
