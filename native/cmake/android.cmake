# Android toolchain for nanort:
#   cmake -S native -B build-android -DCMAKE_TOOLCHAIN_FILE=native/cmake/android.cmake \
#         [-DANDROID_ABI=arm64-v8a|x86_64] [-DANDROID_PLATFORM=24]
#
# With the Android NDK (-DANDROID_NDK=..., or the environment's ANDROID_NDK_HOME,
# ANDROID_NDK_ROOT or ANDROID_NDK): the NDK's own toolchain file, with
# arm64-v8a and API 24 unless given. Without one: NANORT_ANDROID_SYSROOT names
# a sysroot laid out like the NDK's (usr/include, and libc.so / libm.so /
# (libdl.so) in usr/lib/<triple>/<api>) used with clang's Android target;
# android-demo/build.sh makes one from Debian packages (no executables can
# be linked against it: libraries only). Either way shared libraries get
# 16 KB-aligned segments (Android 15 devices with 16 KB pages) and must
# resolve every symbol at link time.
if(NOT ANDROID_ABI)
  set(ANDROID_ABI arm64-v8a)
endif()
if(NOT ANDROID_PLATFORM)
  set(ANDROID_PLATFORM 24)
endif()
string(REGEX REPLACE "^android-" "" NANORT_ANDROID_API "${ANDROID_PLATFORM}")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES ANDROID_ABI ANDROID_PLATFORM ANDROID_NDK NANORT_ANDROID_SYSROOT)

if(NOT ANDROID_NDK)
  foreach(var ANDROID_NDK_HOME ANDROID_NDK_ROOT ANDROID_NDK)
    if(NOT ANDROID_NDK AND DEFINED ENV{${var}})
      set(ANDROID_NDK "$ENV{${var}}")
    endif()
  endforeach()
endif()

set(NANORT_ANDROID_LINK_FLAGS "-Wl,-z,max-page-size=16384 -Wl,--no-undefined -Wl,-z,noexecstack")

if(ANDROID_NDK AND EXISTS "${ANDROID_NDK}/build/cmake/android.toolchain.cmake")
  set(ANDROID_SUPPORT_FLEXIBLE_PAGE_SIZES ON) # NDK r27+: 16 KB pages
  set(ANDROID_PLATFORM "android-${NANORT_ANDROID_API}")
  include("${ANDROID_NDK}/build/cmake/android.toolchain.cmake")
  string(APPEND CMAKE_SHARED_LINKER_FLAGS_INIT " ${NANORT_ANDROID_LINK_FLAGS}")
  return()
endif()

if(NOT NANORT_ANDROID_SYSROOT OR NOT EXISTS "${NANORT_ANDROID_SYSROOT}/usr/include")
  message(FATAL_ERROR "android.cmake: no Android NDK found (set ANDROID_NDK_HOME or -DANDROID_NDK=...) and no "
                      "-DNANORT_ANDROID_SYSROOT=<sysroot> given (android-demo/build.sh makes one)")
endif()

if(ANDROID_ABI STREQUAL "arm64-v8a")
  set(CMAKE_SYSTEM_PROCESSOR aarch64)
  set(NANORT_ANDROID_TRIPLE aarch64-linux-android)
  # No libatomic / compiler-rt here: inline atomics only
  set(NANORT_ANDROID_ARCH_FLAGS "-mno-outline-atomics")
elseif(ANDROID_ABI STREQUAL "x86_64")
  set(CMAKE_SYSTEM_PROCESSOR x86_64)
  set(NANORT_ANDROID_TRIPLE x86_64-linux-android)
  set(NANORT_ANDROID_ARCH_FLAGS "")
else()
  message(FATAL_ERROR "android.cmake: ANDROID_ABI ${ANDROID_ABI} is not arm64-v8a or x86_64")
endif()

set(CMAKE_SYSTEM_NAME Linux) # CMake's Android platform module wants an NDK: the target triple says Android
set(ANDROID TRUE)
find_program(NANORT_ANDROID_CLANG NAMES clang-14 clang REQUIRED)
set(CMAKE_C_COMPILER "${NANORT_ANDROID_CLANG}")
set(CMAKE_C_COMPILER_TARGET "${NANORT_ANDROID_TRIPLE}${NANORT_ANDROID_API}")
set(CMAKE_SYSROOT "${NANORT_ANDROID_SYSROOT}")
set(CMAKE_C_FLAGS_INIT "-fPIC ${NANORT_ANDROID_ARCH_FLAGS}")
set(NANORT_ANDROID_LIBDIR "${NANORT_ANDROID_SYSROOT}/usr/lib/${NANORT_ANDROID_TRIPLE}")
# -nostdlib: the sysroot has the libraries to link against, not the NDK's crt
# objects and compiler runtime; what a library needs from the latter (x86's
# __builtin_cpu_supports data) is in libcompiler_builtins.a when present.
set(CMAKE_SHARED_LINKER_FLAGS_INIT
    "-fuse-ld=lld -nostdlib -L${NANORT_ANDROID_LIBDIR}/${NANORT_ANDROID_API} ${NANORT_ANDROID_LINK_FLAGS} -Wl,--hash-style=both -Wl,--build-id=sha1 -Wl,-z,relro -Wl,-z,now")
set(CMAKE_C_STANDARD_LIBRARIES "-lm -lc")
if(EXISTS "${NANORT_ANDROID_LIBDIR}/libcompiler_builtins.a")
  string(APPEND CMAKE_C_STANDARD_LIBRARIES " ${NANORT_ANDROID_LIBDIR}/libcompiler_builtins.a")
endif()
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY) # checks compile only: nothing here links executables
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
