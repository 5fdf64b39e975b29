"""At build time, inside componentize-py: modules imported between `install()` and `finish()`
are compiled as `python -OO -X no_debug_ranges` compiles them: without docstrings and asserts,
and with the columns left out of their location tables (line_table.py: tracebacks keep their
files and lines).

The build-time snapshot keeps the code of every module imported, and the docstrings of numpy,
Pillow and the standard library are a part of it that nothing reads at run time. CPython's
optimization level is fixed when componentize-py starts the interpreter, so the compile step
itself is replaced, for source files only (extension modules load as usual), and `sys.flags`
says optimize=2 meanwhile: numpy reads it when its core loads and then attaches none of the
docstrings of numpy._core._add_newdocs to its C types and functions (it keeps each one
attached alive otherwise). `finish()` puts the real `sys.flags` back and lets go of the
docstrings of extension modules (`sys`, `_heapq`...), which CPython stores as strings.
"""

import sys
from importlib.machinery import (
    BYTECODE_SUFFIXES,
    EXTENSION_SUFFIXES,
    SOURCE_SUFFIXES,
    ExtensionFileLoader,
    FileFinder,
    SourceFileLoader,
    SourcelessFileLoader,
)
from types import ModuleType

from line_table import lines_only

OPTIMIZE = 2  # -OO: no docstrings, no asserts, __debug__ is False


class OptimizedFlags:
    """sys.flags, but for its optimization level."""

    optimize = OPTIMIZE

    def __init__(self, real):
        self.real = real

    def __getattr__(self, name):
        return getattr(self.real, name)


class LeanSourceLoader(SourceFileLoader):
    """Compiles from the source every time: a cached .pyc would hold the docstrings."""

    def get_code(self, fullname):
        path = self.get_filename(fullname)
        code = compile(self.get_data(path), path, "exec", dont_inherit=True, optimize=OPTIMIZE)
        return lines_only(code)


def install():
    sys.flags = OptimizedFlags(sys.flags)
    sys.path_hooks.insert(
        0,
        FileFinder.path_hook(
            (ExtensionFileLoader, EXTENSION_SUFFIXES),
            (LeanSourceLoader, SOURCE_SUFFIXES),
            (SourcelessFileLoader, BYTECODE_SUFFIXES),
        ),
    )
    sys.path_importer_cache.clear()


def finish():
    if isinstance(sys.flags, OptimizedFlags):
        sys.flags = sys.flags.real
    for module in list(sys.modules.values()):
        if isinstance(module, ModuleType) and module.__dict__.get("__doc__") is not None:
            module.__doc__ = None
