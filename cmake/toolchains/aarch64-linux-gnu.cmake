# Cross build for 64-bit Arm Linux (Debian's gcc-aarch64-linux-gnu, libc6-arm64-cross).
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
# The binaries run on the build machine under qemu-user: qemu-aarch64 -L /usr/aarch64-linux-gnu.
# AArch64 always has Advanced SIMD, so no ISA flag is needed for *neon*.c files.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(TOD_CROSS_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu CACHE STRING "runs target binaries")
set(CMAKE_CROSSCOMPILING_EMULATOR ${TOD_CROSS_EMULATOR})
