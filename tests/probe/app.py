"""Probe component: runs a Python snippet inside the sandbox and returns the bytes it makes.

It has numpy, Pillow and the project's numpy engine (component/engine) imported.

componentize-py snapshots this module after importing it at build time and bundles only the
modules imported then, so every numpy submodule and Pillow's format plugins load here.
"""
import io
import json
import traceback
import encodings.cp437  # noqa: F401  zipfile decodes member names with it
import zipfile  # noqa: F401  np.load reads .npz archives with it

import numpy
import numpy.fft
import numpy.linalg
import numpy.random
from PIL import Image, ImageOps

import engine
import wit_world
from componentize_py_types import Err

Image.init()  # registers every format plugin now: they could not be imported at run time


class WitWorld(wit_world.WitWorld):
    def run(self, source: str, data: bytes) -> bytes:
        scope = {"np": numpy, "Image": Image, "ImageOps": ImageOps, "io": io, "json": json,
                 "engine": engine, "data": data}
        try:
            exec(source, scope)
        except Exception as e:
            raise Err(f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
        return scope["result"]
