# Cross build for arm64 (aarch64) with Debian's cross compiler
# (crossbuild-essential-arm64) against the sysroot that cross/sysroot.sh builds:
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cross/toolchain-aarch64.cmake \
#         -DCLASSROOM_SYSROOT=$(cross/sysroot.sh arm64)
# cross/build.sh does all of it.
set(CLASSROOM_CROSS_TRIPLET aarch64-linux-gnu)
set(CLASSROOM_CROSS_DEB_ARCH arm64)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain-common.cmake)
