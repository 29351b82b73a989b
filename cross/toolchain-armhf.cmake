# Cross build for armhf (32-bit ARMv7, hard float) with Debian's cross compiler
# (crossbuild-essential-armhf) against the sysroot that cross/sysroot.sh builds:
#   cmake -S . -B build-armhf -DCMAKE_TOOLCHAIN_FILE=cross/toolchain-armhf.cmake \
#         -DCLASSROOM_SYSROOT=$(cross/sysroot.sh armhf)
# cross/build.sh does all of it.
set(CLASSROOM_CROSS_TRIPLET arm-linux-gnueabihf)
set(CLASSROOM_CROSS_DEB_ARCH armhf)
set(CMAKE_SYSTEM_PROCESSOR arm)
# GCC notes that the ARM calling convention of some std::vector members changed
# in GCC 7.1: everything here is built by one compiler, so the note is noise.
set(CMAKE_CXX_FLAGS_INIT -Wno-psabi)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain-common.cmake)
