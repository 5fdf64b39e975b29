"""Writes the Asyncify remove-list for _imaging: the functions that can never be on the stack
while jpeg_unwind.c's longjmp unwinds it.

    python asyncify_removelist.py WASM_OPT OUT MODULE JPEG_OBJECTS... -- OTHER_OBJECTS...

By default Asyncify instruments every function that makes an indirect call, and its callers:
in _imaging that is most of Pillow and zlib, which then runs slower for nothing. An unwind only
ever crosses libjpeg and Pillow's JPEG codec (JPEG_OBJECTS), so every function defined in the
other objects is listed, except names that JPEG_OBJECTS define too: the list matches by name,
and a name-sake left off only costs a little speed, while a libjpeg function wrongly listed
would break the unwind. Only names that MODULE (the linked _imaging) has are written: the
linker drops unused functions, and Binaryen warns about each listed name it cannot find.
"""

import subprocess
import sys


def defined_names(paths, types):
    """Names that the objects or archives define as symbols of the given nm types."""
    out = subprocess.run(["llvm-nm-19", "--defined-only", *paths], check=True, capture_output=True, text=True).stdout
    return {f[2] for f in (line.split() for line in out.splitlines()) if len(f) == 3 and f[1] in types}


def module_function_names(wasm_opt, module):
    """Function names as Binaryen sees them (it renames duplicates to name.1, name.2, ...)."""
    out = subprocess.run(
        [wasm_opt, module, "--print-function-map", "-o", "/dev/null"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {line.split(":", 1)[1] for line in out.splitlines()}


def main():
    wasm_opt, out, module, *objects = sys.argv[1:]
    split = objects.index("--")
    # Every name the JPEG code defines (any kind: the safe side); functions (T, t) elsewhere.
    keep = defined_names(objects[:split], "TtWwDdBbRrVv")
    remove = defined_names(objects[split + 1 :], "Tt") - keep & module_function_names(wasm_opt, module)
    # Binaryen reads a comma-separated list from a response file.
    with open(out, "w") as f:
        f.write(",".join(sorted(remove)))


if __name__ == "__main__":
    main()
