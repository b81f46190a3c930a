/* A glibc JVM (the host's, or an arm64 one under qemu) loading the Android
 * library: it needs "libc.so" and "libm.so" (bionic's names) and bionic's
 * __errno. Built as libc.so (NEEDED libc.so.6), beside libm.so -> libm.so.6
 * symlinks, in a folder on LD_LIBRARY_PATH. */
#include <errno.h>

int* __errno(void);
int* __errno(void) { return &errno; }
