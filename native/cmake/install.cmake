# `cmake --install`: the header, libnanort.a / libnanort.so, nanort-run, a
# CMake package (find_package(nanort) -> nanort::nanort, the shared library,
# and nanort::nanort_static) and a pkg-config file (nanort.pc).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

file(STRINGS ${CMAKE_CURRENT_SOURCE_DIR}/include/nanort.h NANORT_VERSION_LINES
     REGEX "^#define NRT_VERSION_(MAJOR|MINOR|PATCH) [0-9]+$")
foreach(part MAJOR MINOR PATCH)
  string(REGEX REPLACE ".*NRT_VERSION_${part} ([0-9]+).*" "\\1" NANORT_VERSION_${part} "${NANORT_VERSION_LINES}")
endforeach()
set(NANORT_VERSION "${NANORT_VERSION_MAJOR}.${NANORT_VERSION_MINOR}.${NANORT_VERSION_PATCH}")

# The include folder is the source tree's while building, the prefix's once installed.
foreach(kind static shared)
  set_target_properties(nanort_${kind} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES
    "$<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>;$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>")
endforeach()
set_target_properties(nanort_shared PROPERTIES EXPORT_NAME nanort VERSION ${NANORT_VERSION}
                      SOVERSION ${NANORT_VERSION_MAJOR})
set_target_properties(nanort_static PROPERTIES EXPORT_NAME nanort_static)

install(TARGETS nanort_static nanort_shared EXPORT nanortTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/include/nanort.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET nanort-run)
  install(TARGETS nanort-run RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

set(NANORT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/nanort)
install(EXPORT nanortTargets NAMESPACE nanort:: FILE nanortTargets.cmake DESTINATION ${NANORT_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/nanortConfig.cmake.in
                              ${CMAKE_CURRENT_BINARY_DIR}/nanortConfig.cmake INSTALL_DESTINATION ${NANORT_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/nanortConfigVersion.cmake VERSION ${NANORT_VERSION}
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/nanortConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/nanortConfigVersion.cmake
        DESTINATION ${NANORT_CMAKE_DIR})

configure_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/nanort.pc.in ${CMAKE_CURRENT_BINARY_DIR}/nanort.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/nanort.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
