/* Stand-in for wasi-libc's <setjmp.h>, whose setjmp/longjmp need the wasm exceptions proposal
 * that componentize-py 0.25.1 cannot take. Only Pillow's JPEG codec uses them (Jpeg.h), to get
 * back from libjpeg's fatal errors (error_exit) to ImagingJpegDecode/ImagingJpegEncode, which
 * then report a broken image. The replacement, in jpeg_unwind.c, is portable wasm:
 *   - longjmp() unwinds the wasm stack with binaryen's Asyncify (build.sh instruments
 *     _imaging with wasm-opt) up to a wrapper around Pillow's codec function, which stops it;
 *   - the wrapper then calls Pillow's function once more, and this time setjmp() returns
 *     longjmp's value, so that Pillow's own error branch runs. That is what a real longjmp
 *     would do as long as setjmp() is the first thing the function does, as in Pillow 13. */
#ifndef PILLOW_WASI_SETJMP_H
#define PILLOW_WASI_SETJMP_H

typedef struct pillow_wasi_jmp {
    char unused; /* the state lives in jpeg_unwind.c: only one codec call runs at a time */
} jmp_buf[1];

int pillow_wasi_setjmp(jmp_buf env);
#define setjmp(env) pillow_wasi_setjmp(env)

/* Not noreturn (and so not named longjmp, which clang knows as noreturn): it does return, and
 * the unwind then leaves each caller right after its call. */
void pillow_wasi_longjmp(jmp_buf env, int val);
#define longjmp(env, val) pillow_wasi_longjmp(env, val)

#endif
