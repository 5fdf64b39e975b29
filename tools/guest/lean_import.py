"""At build time, inside componentize-py: modules imported after `install()` are compiled as
`python -OO` compiles them, without docstrings and asserts.

The build-time snapshot keeps the code of every module imported, and the docstrings of numpy,
Pillow and the standard library are a part of it that nothing reads at run time. CPython's
`sys.flags.optimize` is fixed when componentize-py starts the interpreter, so the compile
step itself is replaced, for source files only (extension modules load as usual).
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

OPTIMIZE = 2  # -OO: no docstrings, no asserts, __debug__ is False


class LeanSourceLoader(SourceFileLoader):
    """Compiles from the source every time: a cached .pyc would hold the docstrings."""

    def get_code(self, fullname):
        path = self.get_filename(fullname)
        return compile(self.get_data(path), path, "exec", dont_inherit=True, optimize=OPTIMIZE)


def install():
    sys.path_hooks.insert(
        0,
        FileFinder.path_hook(
            (ExtensionFileLoader, EXTENSION_SUFFIXES),
            (LeanSourceLoader, SOURCE_SUFFIXES),
            (SourcelessFileLoader, BYTECODE_SUFFIXES),
        ),
    )
    sys.path_importer_cache.clear()
