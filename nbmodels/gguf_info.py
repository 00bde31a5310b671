"""What the header of a GGUF file says: architecture, size, context length, quantization.

GGUF is the single-file format of llama.cpp and Ollama (an Ollama model blob is a GGUF
file). Only the header is read (key/value metadata and the tensor table) through a
read-only memory map; the weights are never touched.

The header is walked by hand, with the ``gguf`` package's constants (value types, file
types, quantization block sizes): ``gguf.GGUFReader`` decodes every element of every
array into numpy views, which takes ~10 s for a 150k-token vocabulary (measured here:
9.5 s), while jumping over the long arrays takes 45 ms. ``tests/test_gguf_info.py``
checks this reader against ``GGUFReader`` on the same files.

    >>> info = read_gguf_info("tinyllama.Q4_K_M.gguf")
    >>> info.architecture, info.parameter_count, info.quantization
    ('llama', 1100048384, 'Q4_K_M')
"""

from __future__ import annotations

import functools
import math
import mmap
import os
import struct
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import GGUFError

__all__ = ["GGUFError", "GGUFInfo", "is_gguf", "read_gguf_info"]

GGUF_MAGIC = b"GGUF"

#: arrays up to this many items are kept in ``GGUFInfo.metadata``; longer ones (the
#: tokenizer's vocabulary, merges, scores...) are left out and only counted
MAX_ARRAY_ITEMS = 64


@dataclass(frozen=True, slots=True)
class GGUFInfo:
    """The header of one GGUF file."""

    path: Path
    version: int
    architecture: str | None = None
    name: str | None = None
    parameter_count: int | None = None
    context_length: int | None = None
    embedding_length: int | None = None
    file_type: int | None = None  # general.file_type (a llama.cpp LlamaFileType)
    quantization: str | None = None  # "Q4_K_M", "F16"... from file_type or the tensors
    tensor_count: int = 0
    chat_template: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)  # scalars and short arrays
    array_lengths: Mapping[str, int] = field(default_factory=dict)  # the long arrays left out
    tensor_types: Mapping[str, int] = field(default_factory=dict)  # ggml type -> elements
    tensor_bytes: int = 0  # bytes of tensor data (the weights), from the tensor table

    @property
    def pooling(self) -> bool:
        """Whether the model pools its output into one vector (an embedding model)."""
        return bool(self.architecture) and f"{self.architecture}.pooling_type" in self.metadata


def is_gguf(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a file that starts with the GGUF magic (never raises)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == GGUF_MAGIC
    except OSError:
        return False


def read_gguf_info(path: str | os.PathLike[str]) -> GGUFInfo:
    """The header of the GGUF file at ``path``. Raises :class:`GGUFError` if unreadable.

    Results are cached per (path, size, modification time).
    """
    p = Path(path)
    try:
        stat = p.stat()
    except OSError as exc:
        raise GGUFError(
            f"Cannot read GGUF file {p}: {exc.strerror or exc}. Check the path."
        ) from None
    if not p.is_file():
        raise GGUFError(f"{p} is not a file; give the path of a .gguf file.")
    return _read_cached(str(p.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _read_cached(path: str, size: int, mtime_ns: int) -> GGUFInfo:
    del size, mtime_ns  # only part of the cache key
    p = Path(path)
    if not is_gguf(p):
        raise GGUFError(
            f"{p} is not a GGUF file (it does not start with b'GGUF'); "
            "re-download it, or remove it from the folder being scanned."
        )
    try:
        with p.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _parse(p, buf)
    except _Damaged as exc:
        raise GGUFError(
            f"{p} has a damaged GGUF header ({exc}); the file is probably truncated or "
            "not fully downloaded: re-download it."
        ) from None
    except OSError as exc:
        raise GGUFError(f"Cannot read GGUF file {p}: {exc.strerror or exc}.") from None


# gguf.GGUFValueType: the struct format of each scalar type, and the two compound types
_SCALAR_FORMATS = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}
_STRING, _ARRAY = 8, 9


class _Damaged(Exception):
    """The header does not hold together (reason in the message)."""


class _Skipped:
    """Stands for a long array that was skipped, remembering its length."""

    def __init__(self, length: int) -> None:
        self.length = length


class _Cursor:
    """Reads GGUF's little- (or big-) endian values from a buffer, with bounds checks."""

    def __init__(self, buf: mmap.mmap, order: str) -> None:
        self.buf = buf
        self.pos = 0
        self.order = order
        self.end = len(buf)

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.pos + size > self.end:
            raise _Damaged(f"it ends at byte {self.end}, inside a value at byte {self.pos}")
        (value,) = struct.unpack_from(self.order + fmt, self.buf, self.pos)
        self.pos += size
        return value

    def skip(self, nbytes: int) -> None:
        if nbytes < 0 or self.pos + nbytes > self.end:
            raise _Damaged(f"a value at byte {self.pos} claims {nbytes} bytes past the end")
        self.pos += nbytes

    def string(self) -> str:
        length = self.unpack("Q")
        start = self.pos
        self.skip(length)
        return bytes(self.buf[start : self.pos]).decode("utf-8", errors="replace")


def _value(cur: _Cursor, vtype: int, depth: int = 0) -> Any:
    formats = _SCALAR_FORMATS
    if vtype in formats:
        return cur.unpack(formats[vtype])
    if vtype == _STRING:
        return cur.string()
    if vtype == _ARRAY and depth < 4:
        itype = cur.unpack("I")
        length = cur.unpack("Q")
        if length > cur.end - cur.pos:  # every item takes at least one byte
            raise _Damaged(f"an array at byte {cur.pos} claims {length} items")
        if length <= MAX_ARRAY_ITEMS:
            return [_value(cur, itype, depth + 1) for _ in range(length)]
        if itype in formats:
            cur.skip(length * struct.calcsize(formats[itype]))
        elif itype == _STRING:  # the vocabulary: jump over each string (hot loop)
            read_length = struct.Struct(cur.order + "Q").unpack_from
            buf, pos, end = cur.buf, cur.pos, cur.end
            for _ in range(length):
                if pos + 8 > end:
                    raise _Damaged(f"it ends at byte {end}, inside an array of strings")
                pos += 8 + read_length(buf, pos)[0]
            if pos > end:
                raise _Damaged(f"it ends at byte {end}, inside an array of strings")
            cur.pos = pos
        else:
            for _ in range(length):
                _value(cur, itype, depth + 1)
        return _Skipped(length)
    raise _Damaged(f"unknown value type {vtype} at byte {cur.pos}")


def _parse(path: Path, buf: mmap.mmap) -> GGUFInfo:
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, LlamaFileType

    cur = _Cursor(buf, "<")
    cur.pos = 4
    version = cur.unpack("I")
    if version & 0xFFFF == 0:  # written on a big-endian machine
        cur.order = ">"
        cur.pos = 4
        version = cur.unpack("I")
    if version not in (2, 3):
        raise _Damaged(f"GGUF version {version} is not supported (only 2 and 3)")
    tensor_count = cur.unpack("Q")
    kv_count = cur.unpack("Q")
    if kv_count > cur.end or tensor_count > cur.end:
        raise _Damaged(f"it claims {kv_count} keys and {tensor_count} tensors")

    metadata: dict[str, Any] = {}
    array_lengths: dict[str, int] = {}
    for _ in range(kv_count):
        key = cur.string()
        value = _value(cur, cur.unpack("I"))
        if isinstance(value, _Skipped):
            array_lengths[key] = value.length
        else:
            metadata[key] = value

    params_from_tensors = 0
    weight: Counter[str] = Counter()
    elements: Counter[str] = Counter()
    data_end = 0
    for _ in range(tensor_count):
        cur.string()  # the tensor's name
        n_dims = cur.unpack("I")
        if n_dims > 8:
            raise _Damaged(f"a tensor at byte {cur.pos} claims {n_dims} dimensions")
        n_elements = math.prod(cur.unpack("Q") for _ in range(n_dims))
        raw_type = cur.unpack("I")
        offset = cur.unpack("Q")
        params_from_tensors += n_elements
        try:
            ggml_type = GGMLQuantizationType(raw_type)
            block, type_size = GGML_QUANT_SIZES[ggml_type]
        except (ValueError, KeyError):
            raise _Damaged(f"a tensor has the unknown type {raw_type}") from None
        n_bytes = n_elements * type_size // block
        weight[ggml_type.name] += n_bytes
        elements[ggml_type.name] += n_elements
        data_end = max(data_end, offset + n_bytes)

    alignment = metadata.get("general.alignment", 32)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise _Damaged(f"general.alignment {alignment!r} is not a power of two")
    data_start = cur.pos + (-cur.pos % alignment)
    if tensor_count and data_start + data_end > cur.end:
        raise _Damaged(f"its tensors need {data_start + data_end} bytes but the file has {cur.end}")

    arch = _str(metadata.get("general.architecture"))
    chat_template = metadata.pop("tokenizer.chat_template", None)
    file_type = _int(metadata.get("general.file_type"))
    params = _int(metadata.get("general.parameter_count"))
    if params is None and tensor_count:
        params = params_from_tensors
    quantization = None
    if file_type is not None:
        try:
            quantization = (
                LlamaFileType(file_type).name.removeprefix("MOSTLY_").removeprefix("ALL_")
            )
        except ValueError:
            quantization = None
    if quantization is None and weight:
        # no (known) file type: name the tensor type that holds most of the weights
        quantization = weight.most_common(1)[0][0]

    return GGUFInfo(
        path=path,
        version=version,
        architecture=arch,
        name=_str(metadata.get("general.name")),
        parameter_count=params,
        context_length=_int(metadata.get(f"{arch}.context_length")) if arch else None,
        embedding_length=_int(metadata.get(f"{arch}.embedding_length")) if arch else None,
        file_type=file_type,
        quantization=quantization,
        tensor_count=tensor_count,
        chat_template=_str(chat_template),
        metadata=metadata,
        array_lengths=array_lengths,
        tensor_types=dict(elements),
        tensor_bytes=sum(weight.values()),
    )


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
