# CMake toolchain for static C libraries (zlib-ng, libjpeg-turbo) that get linked into Pillow's
# wasm32-wasip1 extension modules. wasm-cc supplies target, sysroot and -fPIC.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR wasm32)
get_filename_component(_wasi_bin "${CMAKE_CURRENT_LIST_DIR}/../bin" ABSOLUTE)
set(CMAKE_C_COMPILER "${_wasi_bin}/wasm-cc")
set(CMAKE_AR llvm-ar-19 CACHE FILEPATH "")
set(CMAKE_RANLIB llvm-ranlib-19 CACHE FILEPATH "")
# Debian's clang-19 cannot link a wasm32-wasip1 program (it looks for compiler-rt under a path
# Debian does not ship), so CMake's compiler checks must stop at building a static library.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
