/* The C tests run the Android library under musl's loader (qemu-aarch64 for
 * arm64, natively for x86_64): the library reads errno through bionic's
 * __errno, which musl does not have; the test program provides it. */
#include <errno.h>

int* __errno(void);
int* __errno(void) { return &errno; }
