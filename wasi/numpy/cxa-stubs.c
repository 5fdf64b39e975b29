/* Stand-ins for the C++ ABI's exception entry points, linked (hidden) into each numpy module that
 * has a C++ `throw` (numpy's unique.cpp, compiled with -fexceptions).
 *
 * componentize-py 0.25.1 links the modules against a libc++abi built without exception support,
 * which lacks these two symbols, and refuses modules that import them. wasm32 code built by
 * clang-19 for componentize-py cannot unwind anyway, so a `throw` aborts (the instance traps)
 * instead of propagating. Hidden visibility keeps each module's copy private, so the modules do
 * not export clashing definitions. */
#include <stddef.h>
#include <stdlib.h>

__attribute__((visibility("hidden"))) void *__cxa_allocate_exception(size_t size) {
  (void)size;
  abort();
}

__attribute__((visibility("hidden"))) void __cxa_throw(void *exception, void *type, void (*destructor)(void *)) {
  (void)exception;
  (void)type;
  (void)destructor;
  abort();
}
