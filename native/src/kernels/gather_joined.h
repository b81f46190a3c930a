/* Gathering for igemm_joined kernels (gemm.h) without byte-masked loads:
 * each row's ks runs of kc bytes copied end to end into one row of a stack
 * buffer, in 8- and 4-byte moves (the last one overlapping the one before
 * rather than reading past the run), zero up to whole K blocks; flipped to
 * u8 on the way for kernels that read u8 (an integer XOR, off the vector
 * units). */
#ifndef NRT_GATHER_JOINED_H
#define NRT_GATHER_JOINED_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gemm.h"

static inline void nrt_move8(int8_t* dst, const int8_t* src, uint64_t flip) {
    uint64_t v;
    memcpy(&v, src, 8);
    v ^= flip;
    memcpy(dst, &v, 8);
}

static inline void nrt_move4(int8_t* dst, const int8_t* src, uint64_t flip) {
    uint32_t v;
    memcpy(&v, src, 4);
    v ^= (uint32_t)flip;
    memcpy(dst, &v, 4);
}

/* n bytes from src to dst, each XORed with the byte of `flip` (every byte
 * alike), reading and writing nothing outside them. */
static inline void nrt_copy_run(int8_t* dst, const int8_t* src, size_t n, uint64_t flip) {
    if (n >= 8) {
        for (size_t i = 0; i + 8 <= n; i += 8) nrt_move8(dst + i, src + i, flip);
        nrt_move8(dst + n - 8, src + n - 8, flip);
    } else if (n >= 4) {
        nrt_move4(dst, src, flip);
        nrt_move4(dst + n - 4, src + n - 4, flip);
    } else {
        for (size_t i = 0; i < n; i++) dst[i] = (int8_t)(src[i] ^ (int8_t)flip);
    }
}

/* Rows [0, mr) of a[p * MR + r] (p < ks, kc bytes each) joined at
 * buf + r * NRT_GEMM_JOINED_MAX_K, XORed with `flip` (0, or 0x80 per byte
 * for kernels reading u8), zero (flipped) from ks x kc up to `padded`. */
static inline void nrt_gather_joined(size_t mr, size_t MR, size_t kc, size_t ks, const void* const* a, size_t padded,
                                     uint64_t flip, int8_t* buf) {
    for (size_t r = 0; r < mr; r++) {
        int8_t* row = buf + r * NRT_GEMM_JOINED_MAX_K;
        for (size_t p = 0; p < ks; p++) nrt_copy_run(row + p * kc, (const int8_t*)a[p * MR + r], kc, flip);
        for (size_t k = kc * ks; k < padded; k++) row[k] = (int8_t)flip;
    }
}

#endif
