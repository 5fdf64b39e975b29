/* setjmp/longjmp for Pillow's JPEG codec on top of binaryen's Asyncify: see include/setjmp.h.
 * build.sh compiles JpegDecode.c and JpegEncode.c with their codec functions renamed to
 * pillow_ImagingJpeg{De,En}code; the wrappers below take the original names. */
#include "Imaging.h"
#include <setjmp.h>

/* Imports that wasm-opt's Asyncify pass turns into calls to the functions it adds. */
__attribute__((import_module("asyncify"), import_name("start_unwind"))) void
asyncify_start_unwind(void *data);
__attribute__((import_module("asyncify"), import_name("stop_unwind"))) void
asyncify_stop_unwind(void);

/* Asyncify saves each unwound frame's call index and live locals here. It checks for overflow
 * only when the unwind stops, so this is kept far larger than what the deepest libjpeg error
 * needs (measured: at most 280 bytes, over the corrupt headers tried). */
static char unwind_stack[64 * 1024];
static struct {
    char *pos, *end;
} unwind_data;

static int catching; /* a wrapper is running Pillow's codec function for the first time */
static struct pillow_wasi_jmp *armed; /* the jmp_buf that setjmp() saw last */
static int thrown; /* longjmp's value, from the longjmp until the replay's setjmp() */

int
pillow_wasi_setjmp(jmp_buf env) {
    int value = thrown;
    thrown = 0;
    armed = env;
    return value;
}

void
pillow_wasi_longjmp(jmp_buf env, int val) {
    if (!catching || env != armed) {
        __builtin_trap(); /* nothing would stop the unwind: end here, as a plain trap */
    }
    thrown = val ? val : 1;
    unwind_data.pos = unwind_stack;
    unwind_data.end = unwind_stack + sizeof unwind_stack;
    asyncify_start_unwind(&unwind_data);
}

/* The C stack pointer (a wasm global): unwound frames skip their epilogues, which would have
 * given back their C stack space, so the wrapper puts the pointer back itself. */
static inline void *
get_stack_pointer(void) {
    void *sp;
    __asm__ volatile(
        ".globaltype __stack_pointer, i32\n\tglobal.get __stack_pointer\n\tlocal.set %0"
        : "=r"(sp)
    );
    return sp;
}

static inline void
set_stack_pointer(void *sp) {
    __asm__ volatile(
        ".globaltype __stack_pointer, i32\n\tlocal.get %0\n\tglobal.set __stack_pointer"
        :
        : "r"(sp)
    );
}

/* The wrapper calls asyncify_stop_unwind itself, which is what tells Asyncify not to
 * instrument it: the unwind ends here instead of going on into CPython. */
#define CATCHING_WRAPPER(name, pillow_name, size_type)                                   \
    int pillow_name(Imaging im, ImagingCodecState state, UINT8 *buf, size_type bytes);    \
    int name(Imaging im, ImagingCodecState state, UINT8 *buf, size_type bytes) {          \
        void *sp = get_stack_pointer();                                                   \
        catching = 1;                                                                     \
        int result = pillow_name(im, state, buf, bytes);                                  \
        catching = 0; /* a longjmp from the error branch would have nowhere to go: trap */ \
        if (thrown) {                                                                     \
            asyncify_stop_unwind();                                                       \
            set_stack_pointer(sp);                                                        \
            result = pillow_name(im, state, buf, bytes);                                  \
        }                                                                                 \
        return result;                                                                    \
    }

CATCHING_WRAPPER(ImagingJpegDecode, pillow_ImagingJpegDecode, Py_ssize_t)
CATCHING_WRAPPER(ImagingJpegEncode, pillow_ImagingJpegEncode, int)
