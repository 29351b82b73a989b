# What both toolchain files share: Debian's cross gcc for CLASSROOM_CROSS_TRIPLET,
# the target's libraries and headers from CLASSROOM_SYSROOT only, and the build
# tools (protoc, pkg-config) from the host.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${CLASSROOM_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${CLASSROOM_CROSS_TRIPLET}-g++)

# The sysroot: a cache variable so that try_compile projects see it too.
set(CLASSROOM_SYSROOT "$ENV{CLASSROOM_SYSROOT}" CACHE PATH "Target sysroot (cross/sysroot.sh)")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES CLASSROOM_SYSROOT)
if(NOT CLASSROOM_SYSROOT OR NOT EXISTS "${CLASSROOM_SYSROOT}/usr/include")
  message(FATAL_ERROR "CLASSROOM_SYSROOT must name a sysroot made by cross/sysroot.sh")
endif()
set(CMAKE_SYSROOT ${CLASSROOM_SYSROOT})
set(CMAKE_FIND_ROOT_PATH ${CLASSROOM_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_LIBRARY_ARCHITECTURE ${CLASSROOM_CROSS_TRIPLET})

# pkg-config answers for the target: .pc files of the sysroot, paths prefixed.
set(ENV{PKG_CONFIG_DIR} "")
set(ENV{PKG_CONFIG_LIBDIR}
    "${CLASSROOM_SYSROOT}/usr/lib/${CLASSROOM_CROSS_TRIPLET}/pkgconfig:${CLASSROOM_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} ${CLASSROOM_SYSROOT})

# protoc runs on the host: the host's protobuf-compiler (same Debian suite, so
# the same protobuf version as the sysroot's runtime).
set(Protobuf_PROTOC_EXECUTABLE /usr/bin/protoc CACHE FILEPATH "host protoc")

# The tests run under qemu-user with the sysroot as library prefix
# (cross/test.sh); ctest and catch_discover_tests use the same emulator.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-${CMAKE_SYSTEM_PROCESSOR};-L;${CLASSROOM_SYSROOT})
