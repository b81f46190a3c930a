/* Compiled (never run) against the generated sysroot, whose headers are
 * musl's: every type and constant the runtime and the JNI bridge pass to
 * bionic has bionic's size, layout and value on this ABI (bionic's
 * LP64 headers: libc/include/bits/pthread_types.h, sys/stat.h, fcntl.h,
 * sys/mman.h, time.h, elf.h). A mismatch stops the build here.
 * Kept away from on purpose (they differ): sysconf's _SC_* numbers,
 * pthread_mutexattr_t / pthread_condattr_t, FILE internals, _Thread_local. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#if !defined(__LP64__)
#error "64-bit ABIs only"
#endif

/* bionic LP64: int32_t __private[10] / [12]; pthread_attr_t: flags, stack base, stack and guard sizes,
 * policy, priority, 16 reserved bytes */
_Static_assert(sizeof(pthread_mutex_t) == 40, "pthread_mutex_t");
_Static_assert(sizeof(pthread_cond_t) == 48, "pthread_cond_t");
_Static_assert(sizeof(pthread_attr_t) == 56, "pthread_attr_t");
_Static_assert(sizeof(pthread_t) == 8, "pthread_t");
_Static_assert(sizeof(struct timespec) == 16, "struct timespec");
_Static_assert(sizeof(off_t) == 8 && sizeof(size_t) == 8, "off_t / size_t");
#if defined(__aarch64__)
/* the generic kernel struct stat */
_Static_assert(sizeof(struct stat) == 128, "struct stat");
_Static_assert(offsetof(struct stat, st_mode) == 16, "st_mode");
_Static_assert(offsetof(struct stat, st_size) == 48, "st_size");
#elif defined(__x86_64__)
_Static_assert(sizeof(struct stat) == 144, "struct stat");
_Static_assert(offsetof(struct stat, st_mode) == 24, "st_mode");
_Static_assert(offsetof(struct stat, st_size) == 48, "st_size");
#endif
_Static_assert(O_RDONLY == 0 && O_CLOEXEC == 02000000, "open flags");
_Static_assert(S_IFMT == 0170000 && S_IFREG == 0100000, "file type bits");
_Static_assert(PROT_READ == 1 && MAP_PRIVATE == 2, "mmap");
_Static_assert(CLOCK_MONOTONIC == 1, "CLOCK_MONOTONIC");
_Static_assert(AT_HWCAP == 16, "AT_HWCAP");
_Static_assert(ENOENT == 2 && EINVAL == 22 && ENOMEM == 12 && EACCES == 13, "errno values");

int nanort_abi_checked;
