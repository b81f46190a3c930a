/* How the x86 depthwise kernels unroll their loop over tap pairs: fully (a
 * 3x3 or 5x5 kernel then runs on fixed offsets), except under
 * AddressSanitizer, where instrumenting every load of the unrolled copies
 * takes the compiler many minutes. */
#ifndef NRT_DWCONV_UNROLL_X86_H
#define NRT_DWCONV_UNROLL_X86_H

#if defined(__SANITIZE_ADDRESS__)
#define NRT_DW_UNROLL_PAIRS
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NRT_DW_UNROLL_PAIRS
#endif
#endif
#ifndef NRT_DW_UNROLL_PAIRS
#define NRT_DW_UNROLL_PAIRS _Pragma("GCC unroll 13")
#endif

#endif
