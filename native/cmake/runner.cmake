# nanort-run: the native benchmark / check tool (tools/nanort_run.c). With
# cmake/aarch64-linux-gnu.cmake it links statically: one file that runs on
# any aarch64 Linux, in an Android shell (adb push; adb shell) and under
# qemu-aarch64.
option(NANORT_BUILD_RUNNER "Build the nanort-run command-line tool" ON)
if(NANORT_BUILD_RUNNER)
  add_executable(nanort-run ${CMAKE_CURRENT_SOURCE_DIR}/tools/nanort_run.c)
  target_compile_options(nanort-run PRIVATE -std=c11 -Wall -Wextra $<$<BOOL:${NANORT_WERROR}>:-Werror>)
  target_link_libraries(nanort-run PRIVATE nanort_static)
endif()
