# The one description of the runtime's sources and compiler flags, included
# by native/CMakeLists.txt and read by runtime/build_ffi.py (the Python
# extension). Keep it to set() calls of plain words: build_ffi.py parses
# them without CMake.

# Source folders: every *.c in each (not recursive). The kernels (kernels/
# and below) build and test as a library of their own: they include nothing
# of the engine or the ops.
set(NANORT_KERNEL_DIRS src/kernels src/kernels/ref src/kernels/scalar)
set(NANORT_ENGINE_DIRS src/engine src/ops)
# The kernels of one architecture, added for it only. Each file enables its
# level's instructions for its own functions (kernels/isa.h), so no per-file
# -march is needed (one would clash with a user's -mcpu), and dispatch picks
# them only on CPUs that have them.
set(NANORT_KERNEL_DIRS_X86_64 src/kernels/x86)
set(NANORT_KERNEL_DIRS_AARCH64 src/kernels/arm)

# -ffp-contract=off: the int8 requantization (fp32 multiply, round to nearest
# even) must not be fused into FMAs differently by each kernel, so every
# level gives bit-identical results. -fno-math-errno and -fno-trapping-math
# let libm calls and float selects vectorize; nothing reads errno or the
# floating-point exception flags.
set(NANORT_C_FLAGS -std=c11 -D_GNU_SOURCE -ffp-contract=off -fno-math-errno -fno-trapping-math -fvisibility=hidden)
set(NANORT_WARNING_FLAGS -Wall -Wextra)
