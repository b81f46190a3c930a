# The aarch64 cross build with clang instead of gcc (Debian clang with
# gcc-aarch64-linux-gnu / libc6-dev-arm64-cross for headers and libraries):
#   cmake -S native -B build-arm-clang -DCMAKE_TOOLCHAIN_FILE=native/cmake/aarch64-linux-gnu-clang.cmake
# CC selects the clang binary (default: clang).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
if(DEFINED ENV{CC} AND "$ENV{CC}" MATCHES "clang")
  set(CMAKE_C_COMPILER $ENV{CC})
else()
  set(CMAKE_C_COMPILER clang)
endif()
set(CMAKE_C_COMPILER_TARGET aarch64-linux-gnu)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
