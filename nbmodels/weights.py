"""How big a model's weights are, read from headers only: safetensors and GGUF.

A safetensors file starts with 8 bytes (little-endian header length) and a JSON header that
names every tensor with its dtype, shape and byte offsets; the header alone gives the exact
parameter count per dtype and the exact number of bytes of the weights. The Hub publishes
the same per-dtype counts (``safetensors.parameters``), so the size of a Hub model's weights
is known before any file is fetched: :func:`bytes_from_parameters`.

GGUF headers are read by :mod:`nbmodels.gguf_info` (the tensor table gives sizes per
quantization type); :func:`gguf_weights` summarises one the same way.

Written by hand rather than with the ``safetensors`` package because that package is an
optional (engine) dependency, and the header is 8 bytes of length plus JSON.

    >>> w = read_safetensors("model.safetensors")
    >>> w.total, w.parameters, w.nbytes
    (124439808, {'F32': 124439808}, 497759232)
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = [
    "DTYPE_BYTES",
    "MAX_HEADER_BYTES",
    "TensorInfo",
    "WeightsInfo",
    "bytes_from_parameters",
    "gguf_weights",
    "parse_safetensors_header",
    "read_safetensors",
    "read_safetensors_files",
]

#: bytes per element of each safetensors dtype (the Hub uses the same names)
DTYPE_BYTES: dict[str, float] = {
    "C64": 8,
    "F64": 8,
    "I64": 8,
    "U64": 8,
    "F32": 4,
    "I32": 4,
    "U32": 4,
    "F16": 2,
    "BF16": 2,
    "I16": 2,
    "U16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "F8_E8M0": 1,
    "F6_E2M3": 0.75,
    "F6_E3M2": 0.75,
    "F4": 0.5,
    "I4": 0.5,
    "U4": 0.5,
}
MAX_HEADER_BYTES = 100 * 2**20  # the format's own limit


@dataclass(frozen=True, slots=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]
    nbytes: int  # from the header's data offsets (exact), else elements x dtype size

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True, slots=True)
class WeightsInfo:
    """The weights of one file (or several shards together): what each header says."""

    parameters: Mapping[str, int]  # dtype -> number of elements
    nbytes: int  # bytes of tensor data
    tensors: tuple[TensorInfo, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)  # the header's __metadata__
    files: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return sum(self.parameters.values())

    def as_hub(self) -> dict[str, Any]:
        """``{"parameters": {dtype: n}, "total": n}``, the Hub's ``safetensors`` field."""
        return {"parameters": dict(self.parameters), "total": self.total}


def parse_safetensors_header(header: bytes | str, *, source: str = "header") -> WeightsInfo:
    """The weights a safetensors JSON header describes. Raises ValueError if malformed."""
    try:
        doc = json.loads(header)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{source}: header is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{source}: header is not a JSON object")
    tensors: list[TensorInfo] = []
    per_dtype: dict[str, int] = {}
    nbytes = 0
    for name, entry in doc.items():
        if name == "__metadata__":
            continue
        shape = entry.get("shape") if isinstance(entry, dict) else None
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise ValueError(f"{source}: tensor {name!r} has no valid shape")
        dtype = str(entry.get("dtype", "?")).upper()
        count = math.prod(shape)
        offsets = entry.get("data_offsets")
        if (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(o, int) for o in offsets)
            and offsets[1] >= offsets[0]
        ):
            size = offsets[1] - offsets[0]
        else:
            size = math.ceil(count * DTYPE_BYTES.get(dtype, 0))
        tensors.append(TensorInfo(str(name), dtype, tuple(shape), size))
        per_dtype[dtype] = per_dtype.get(dtype, 0) + count
        nbytes += size
    meta = doc.get("__metadata__")
    metadata = {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {}
    return WeightsInfo(per_dtype, nbytes, tuple(tensors), metadata, (source,))


def _read_header(fh: IO[bytes], size: int | None, source: str) -> bytes:
    head = fh.read(8)
    if len(head) < 8:
        raise ValueError(f"{source}: shorter than a safetensors header")
    (length,) = struct.unpack("<Q", head)
    limit = MAX_HEADER_BYTES if size is None else min(MAX_HEADER_BYTES, size - 8)
    if not 2 <= length <= limit:
        raise ValueError(f"{source}: header length {length} does not fit the file")
    data = fh.read(length)
    if len(data) != length:
        raise ValueError(f"{source}: header is cut short")
    return data


def read_safetensors(path: str | os.PathLike[str]) -> WeightsInfo:
    """The weights in one safetensors file, from its header. Raises ValueError or OSError."""
    p = Path(path)
    size = p.stat().st_size
    with p.open("rb") as fh:
        return parse_safetensors_header(_read_header(fh, size, p.name), source=p.name)


def read_safetensors_files(paths: Iterable[str | os.PathLike[str]]) -> WeightsInfo:
    """The weights of several shards together (a sharded checkpoint)."""
    parts = [read_safetensors(p) for p in paths]
    per_dtype: dict[str, int] = {}
    for part in parts:
        for dtype, n in part.parameters.items():
            per_dtype[dtype] = per_dtype.get(dtype, 0) + n
    return WeightsInfo(
        per_dtype,
        sum(p.nbytes for p in parts),
        tuple(t for p in parts for t in p.tensors),
        parts[0].metadata if parts else {},
        tuple(f for p in parts for f in p.files),
    )


def bytes_from_parameters(parameters: Mapping[str, Any] | None) -> int | None:
    """The exact size in bytes of weights given as ``{dtype: count}`` (the Hub's
    ``safetensors.parameters``); None when a dtype is unknown or nothing is given."""
    if not isinstance(parameters, Mapping) or not parameters:
        return None
    total = 0.0
    for dtype, count in parameters.items():
        if count is None or count == 0:  # Hub records list absent dtypes as null
            continue
        width = DTYPE_BYTES.get(str(dtype).upper())
        if width is None or isinstance(count, bool) or not isinstance(count, int | float):
            return None  # a dtype we cannot size: unknown, rather than a wrong figure
        total += width * count
    return math.ceil(total) if total > 0 else None


def gguf_weights(path: str | os.PathLike[str]) -> WeightsInfo:
    """The weights of a GGUF file, from its header (raises GGUFError)."""
    from .gguf_info import read_gguf_info

    info = read_gguf_info(path)
    per_type = dict(info.tensor_types)
    return WeightsInfo(
        per_type,
        info.tensor_bytes,
        (),
        {k: str(v) for k, v in info.metadata.items() if isinstance(v, str | int | float)},
        (str(path),),
    )
