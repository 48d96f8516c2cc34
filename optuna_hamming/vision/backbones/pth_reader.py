"""Read PyTorch ``.pth`` state dicts into numpy arrays without unpickling arbitrary objects.

Both of PyTorch's on-disk formats are read: the zip archive of ``torch.save`` since 1.6
(``archive/data.pkl`` plus one file per storage) and the older "legacy" stream (magic number,
protocol, system info, the state-dict pickle, the storage keys, then the raw storages), which
is what torchvision's 2018 MobileNetV2 weights use. The unpickler accepts only what a tensor
state dict is made of: ``OrderedDict``, ``torch._utils._rebuild_tensor(_v2)``,
``_rebuild_parameter`` and the storage types; any other global raises
:class:`UnsafeWeightsError`, so a malicious file cannot run code. PyTorch is not needed.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

_STORAGE_DTYPES: dict[str, np.dtype[Any]] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class UnsafeWeightsError(pickle.UnpicklingError):
    """The file holds something other than tensors; it was not loaded."""


@dataclass(frozen=True)
class _StorageType:
    name: str

    @property
    def dtype(self) -> np.dtype[Any]:
        return _STORAGE_DTYPES[self.name]


@dataclass
class _Storage:
    key: str
    dtype: np.dtype[Any]
    numel: int
    data: npt.NDArray[Any] | None = None


@dataclass(frozen=True)
class _TensorRecord:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def materialise(self) -> npt.NDArray[Any]:
        if self.storage.data is None:
            raise ValueError(f"storage {self.storage.key} was never read from the file")
        flat = self.storage.data
        itemsize = flat.dtype.itemsize
        if not self.size:
            return np.array(flat[self.offset])
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset :],
            shape=self.size,
            strides=tuple(s * itemsize for s in self.stride),
            writeable=False,
        )
        return np.array(view, copy=True)


def _rebuild_tensor(
    storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> _TensorRecord:
    return _TensorRecord(storage, int(offset), tuple(size), tuple(stride))


def _rebuild_parameter(data: _TensorRecord, *_: Any) -> _TensorRecord:
    return data


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


class _TensorUnpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise UnsafeWeightsError(
            f"refusing to load {module}.{name}: a weights file may only hold tensors "
            "(re-save it with torch.save(model.state_dict(), path))"
        )

    def persistent_load(self, pid: Any) -> _Storage:
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise UnsafeWeightsError(f"unexpected persistent record {pid!r} in weights file")
        storage_type, key, _location, numel = pid[1], str(pid[2]), pid[3], int(pid[4])
        if not isinstance(storage_type, _StorageType):
            raise UnsafeWeightsError(f"unknown storage type {storage_type!r}")
        if key not in self.storages:
            self.storages[key] = _Storage(key, storage_type.dtype, numel)
        return self.storages[key]


def _plain(file: IO[bytes]) -> Any:
    """Unpickle a header record that may only hold numbers, strings, lists and dicts."""

    class Plain(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            raise UnsafeWeightsError(f"refusing to load {module}.{name} in a weights header")

    return Plain(file).load()


def _materialise(state: Any) -> dict[str, npt.NDArray[Any]]:
    if not isinstance(state, dict):
        raise UnsafeWeightsError(f"expected a state dict, found {type(state).__name__}")
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    arrays: dict[str, npt.NDArray[Any]] = {}
    for name, value in state.items():
        if isinstance(value, _TensorRecord):
            arrays[str(name)] = value.materialise()
    return arrays


def _read_legacy(raw: bytes) -> dict[str, npt.NDArray[Any]]:
    stream = io.BytesIO(raw)
    if _plain(stream) != LEGACY_MAGIC:
        raise ValueError("not a PyTorch weights file (bad magic number)")
    _plain(stream)  # protocol version
    info = _plain(stream)
    if isinstance(info, dict) and not info.get("little_endian", True):
        raise ValueError("big-endian PyTorch files are not supported")
    storages: dict[str, _Storage] = {}
    state = _TensorUnpickler(stream, storages).load()
    keys = _plain(stream)
    for key in keys:
        storage = storages[str(key)]
        (numel,) = struct.unpack("<q", stream.read(8))
        nbytes = numel * storage.dtype.itemsize
        storage.data = np.frombuffer(stream.read(nbytes), dtype=storage.dtype, count=numel)
    return _materialise(state)


def _read_zip(path: Path) -> dict[str, npt.NDArray[Any]]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if not pickles:
            raise ValueError(f"{path} is a zip file without data.pkl: not a PyTorch weights file")
        prefix = pickles[0][: -len("data.pkl")]
        storages: dict[str, _Storage] = {}
        with archive.open(pickles[0]) as handle:
            state = _TensorUnpickler(io.BytesIO(handle.read()), storages).load()
        for key, storage in storages.items():
            data = archive.read(f"{prefix}data/{key}")
            storage.data = np.frombuffer(data, dtype=storage.dtype, count=storage.numel)
    return _materialise(state)


def read_state_dict(path: str | Path) -> dict[str, npt.NDArray[Any]]:
    """The tensors of a ``.pth`` state dict, by name, as numpy arrays (float32 stays float32)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    if zipfile.is_zipfile(path):
        return _read_zip(path)
    return _read_legacy(path.read_bytes())
