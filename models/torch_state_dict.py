"""A PyTorch state dict (`torch.save` of a dict of tensors) read into numpy arrays, without torch.

    load_state_dict(data) -> OrderedDict[name, np.ndarray]

Both serializations: the zip archive of torch >= 1.6 (a pickle plus one file per storage) and
the legacy one (magic number, protocol, system info, the pickle, then each storage's bytes in
order). Unpickling is restricted: only the handful of globals a state dict needs may be
loaded (tensor and parameter rebuilders, storage types, OrderedDict); anything else, such as
`os.system`, is refused.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections import OrderedDict

import numpy as np

# torch storage class name -> numpy dtype
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _Storage:
    """A storage named by the pickle; its bytes arrive later (legacy) or from the zip."""

    def __init__(self, dtype, numel: int):
        self.dtype = np.dtype(dtype)
        self.numel = numel
        self.array: np.ndarray | None = None


class _PendingTensor:
    def __init__(self, storage: _Storage, offset: int, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def materialize(self) -> np.ndarray:
        buf = self.storage.array
        if buf is None:
            raise ValueError("tensor refers to a storage whose data never came")
        if any(s == 0 for s in self.size):
            return np.zeros(self.size, buf.dtype)
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if self.offset < 0 or min(self.stride, default=0) < 0 or last >= buf.size:
            raise ValueError("tensor view out of its storage's bounds")
        view = np.lib.stride_tricks.as_strided(
            buf[self.offset :], shape=self.size, strides=[s * buf.itemsize for s in self.stride], writeable=False
        )
        return np.array(view)  # own, contiguous copy


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("tensor without a storage")
    return _PendingTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    return data


class _StorageType:
    def __init__(self, name: str):
        self.dtype = _STORAGE_DTYPES[name]


class _StateDictUnpickler(pickle.Unpickler):
    """Loads only what a state dict is made of: OrderedDicts, tensors, storages."""

    _ALLOWED = {
        ("collections", "OrderedDict"): OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    }

    def __init__(self, file, storage_for):
        super().__init__(file)
        self._storage_for = storage_for
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return self._ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a state dict")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1:5]
        if len(pid) > 5 and pid[5] is not None:
            raise pickle.UnpicklingError("storage views (very old format) are not supported")
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unsupported storage type {storage_type!r}")
        if key not in self.storages:
            self.storages[key] = self._storage_for(key, storage_type.dtype, int(numel))
        return self.storages[key]


def _materialize(obj):
    if isinstance(obj, _PendingTensor):
        return obj.materialize()
    if isinstance(obj, dict):
        return OrderedDict((k, _materialize(v)) for k, v in obj.items())
    return obj


def _safe_pickle_load(f):
    """The legacy format's small header pickles hold only ints and plain dicts."""

    class Plain(pickle.Unpickler):
        def find_class(self, module, name):
            raise pickle.UnpicklingError(f"global {module}.{name} not allowed here")

        def persistent_load(self, pid):
            raise pickle.UnpicklingError("persistent id not allowed here")

    return Plain(f).load()


def load_state_dict(data: bytes) -> "OrderedDict[str, np.ndarray]":
    """Reads a `torch.save`d state dict (zip or legacy format) into numpy arrays."""
    if data[:4] == b"PK\x03\x04":
        return _load_zip(data)
    return _load_legacy(data)


def _load_legacy(data: bytes):
    # Layout: pickle(magic), pickle(protocol 1001), pickle(sys_info), pickle(object, with
    # storages as persistent ids), pickle(list of storage keys), then per key in that
    # order: int64 element count + the raw little-endian elements.
    f = io.BytesIO(data)
    if _safe_pickle_load(f) != _LEGACY_MAGIC:
        raise ValueError("not a PyTorch file (bad magic number)")
    if _safe_pickle_load(f) != 1001:
        raise ValueError("unsupported legacy protocol version")
    sys_info = _safe_pickle_load(f)
    if not sys_info.get("little_endian", False):
        raise ValueError("big-endian checkpoints are not supported")
    unpickler = _StateDictUnpickler(f, lambda key, dtype, numel: _Storage(dtype, numel))
    obj = unpickler.load()
    keys = _safe_pickle_load(f)
    for key in keys:
        st = unpickler.storages[key]
        (numel,) = struct.unpack("<q", f.read(8))
        if numel != st.numel:
            raise ValueError(f"storage {key}: {numel} elements on disk, {st.numel} in the pickle")
        raw = f.read(numel * st.dtype.itemsize)
        if len(raw) != numel * st.dtype.itemsize:
            raise ValueError(f"storage {key}: file truncated")
        st.array = np.frombuffer(raw, dtype=st.dtype.newbyteorder("<"))
    return _materialize(obj)


def _load_zip(data: bytes):
    # Layout (torch >= 1.6): PREFIX/data.pkl, storages in PREFIX/data/KEY, PREFIX/byteorder.
    z = zipfile.ZipFile(io.BytesIO(data))
    pkl = [n for n in z.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pkl) != 1:
        raise ValueError("no PREFIX/data.pkl in the archive")
    prefix = pkl[0][: -len("data.pkl")]
    if prefix + "byteorder" in z.namelist() and z.read(prefix + "byteorder") != b"little":
        raise ValueError("big-endian checkpoints are not supported")

    def storage_for(key, dtype, numel):
        st = _Storage(dtype, numel)
        raw = z.read(f"{prefix}data/{key}")
        if len(raw) < numel * st.dtype.itemsize:
            raise ValueError(f"storage {key}: too short")
        st.array = np.frombuffer(raw[: numel * st.dtype.itemsize], dtype=st.dtype.newbyteorder("<"))
        return st

    obj = _StateDictUnpickler(io.BytesIO(z.read(pkl[0])), storage_for).load()
    return _materialize(obj)
