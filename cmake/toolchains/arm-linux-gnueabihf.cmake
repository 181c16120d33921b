# Cross build for 32-bit Arm Linux, hard-float ABI (Debian's gcc-arm-linux-gnueabihf,
# libc6-armhf-cross). Baseline: ARMv7-A with VFPv3-D16, Debian armhf's own baseline, so the
# portable code runs on every armhf board (NEON is optional on ARMv7: Cortex-A9 parts without it
# exist). Only *neon*.c files are compiled with -mfpu=neon (CMakeLists.txt) and must be chosen
# at run time, as the avx files are on x86.
#   cmake -S . -B build-armhf -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/arm-linux-gnueabihf.cmake
# Run under qemu-user: qemu-arm -L /usr/arm-linux-gnueabihf.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_C_FLAGS_INIT "-march=armv7-a -mfpu=vfpv3-d16 -mfloat-abi=hard")
set(CMAKE_FIND_ROOT_PATH /usr/arm-linux-gnueabihf)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(TOD_CROSS_EMULATOR qemu-arm -L /usr/arm-linux-gnueabihf CACHE STRING "runs target binaries")
set(CMAKE_CROSSCOMPILING_EMULATOR ${TOD_CROSS_EMULATOR})
