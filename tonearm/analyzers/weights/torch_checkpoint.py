"""Read PyTorch ``.pt``/``.pth`` checkpoints (zip + pickle) into numpy, without torch.

A modern torch checkpoint is a zip: ``<name>/data.pkl`` pickles the object (usually a
state dict) and refers to tensor storages by key; each storage's raw little-endian bytes
are the file ``<name>/data/<key>``. We unpickle with a restricted unpickler that only
knows how to rebuild tensors and plain containers, so loading a checkpoint cannot run
arbitrary code (the safety ``torch.load(weights_only=True)`` aims for).
"""

from __future__ import annotations

import collections
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}  # fmt: skip


class _StorageType:
    def __init__(self, name: str) -> None:
        self.dtype = _STORAGE_DTYPES[name]


def _rebuild_tensor(storage: np.ndarray, offset: int, size: tuple, stride: tuple, *_: Any) -> np.ndarray:
    if not size:
        return storage[offset].copy()
    itemsize = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=tuple(size), strides=tuple(s * itemsize for s in stride)
    )
    return np.array(view)


def _rebuild_parameter(data: np.ndarray, *_: Any) -> np.ndarray:
    return data


class _Unpickler(pickle.Unpickler):
    def __init__(self, fh, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(fh)
        self.archive, self.prefix = archive, prefix
        self.storages: dict[str, np.ndarray] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "scalar":
            from numpy._core.multiarray import scalar

            return scalar
        if module == "numpy" and name == "dtype":
            return np.dtype
        if module == "_codecs" and name == "encode":  # how pickle protocol 2 stores numpy scalar bytes
            import codecs

            return codecs.encode
        raise pickle.UnpicklingError(f"checkpoint refers to {module}.{name}, which is not plain weights")

    def persistent_load(self, pid: Any) -> np.ndarray:
        kind, storage_type, key, _location, _numel = pid
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {kind!r}")
        if key not in self.storages:
            raw = self.archive.read(f"{self.prefix}data/{key}")
            self.storages[key] = np.frombuffer(raw, dtype=storage_type.dtype)
        return self.storages[key]


def read_torch_checkpoint(path: str | Path) -> Any:
    """The unpickled checkpoint object with every tensor as a numpy array."""
    with zipfile.ZipFile(path) as archive:
        pkl = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
        if pkl is None:
            raise ValueError(f"{path} is not a zip-format torch checkpoint (torch >= 1.6)")
        prefix = pkl[: -len("data.pkl")]
        with archive.open(pkl) as fh:
            return _Unpickler(fh, archive, prefix).load()
