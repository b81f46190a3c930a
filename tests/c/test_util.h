/* Helpers shared by the C test programs. */
#ifndef NRT_TEST_UTIL_H
#define NRT_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>

/* The whole file in a malloc'ed buffer (NULL when it cannot be read). */
static inline unsigned char* read_file(const char* path, size_t* size) {
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char* buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return buf;
}

#endif
