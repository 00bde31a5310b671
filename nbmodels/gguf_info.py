"""What the header of a GGUF file says: architecture, size, context length, quantization.

GGUF is the single-file format of llama.cpp and Ollama (an Ollama model blob is a GGUF
file). Only the header is read (key/value metadata and the tensor table); the weights are
memory-mapped by :class:`gguf.GGUFReader` but never touched.

    >>> info = read_gguf_info("tinyllama.Q4_K_M.gguf")
    >>> info.architecture, info.parameter_count, info.quantization
    ('llama', 1100048384, 'Q4_K_M')
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import NBModelsError

__all__ = ["GGUFError", "GGUFInfo", "is_gguf", "read_gguf_info"]

GGUF_MAGIC = b"GGUF"

#: arrays up to this many items are kept in ``GGUFInfo.metadata``; longer ones (the
#: tokenizer's vocabulary, merges, scores...) are left out and only counted
MAX_ARRAY_ITEMS = 64


class GGUFError(NBModelsError, ValueError):
    """A file is not a GGUF file, or its header cannot be read."""


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

    Results are cached per (path, size, modification time): reading the header of a real
    model means decoding its whole vocabulary (~1 s for 150k tokens).
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
    from gguf import GGUFReader  # numpy-heavy: imported on first use

    try:
        reader = GGUFReader(p, "r")
    except Exception as exc:  # the reader raises ValueError/IndexError/KeyError on damage
        raise GGUFError(
            f"{p} has a damaged GGUF header ({type(exc).__name__}: {exc}); "
            "the file is probably truncated: re-download it."
        ) from None
    return _info_from_reader(p, reader)


def _info_from_reader(path: Path, reader: Any) -> GGUFInfo:
    from gguf import GGUFValueType, LlamaFileType

    metadata: dict[str, Any] = {}
    array_lengths: dict[str, int] = {}
    for key, fld in reader.fields.items():
        if key.startswith("GGUF."):  # the reader's own pseudo fields (version, counts)
            continue
        if not fld.types:
            continue
        if fld.types[0] == GGUFValueType.ARRAY:
            length = len(fld.data)
            if length > MAX_ARRAY_ITEMS:
                array_lengths[key] = length
                continue
        try:
            metadata[key] = _plain(fld.contents())
        except (UnicodeDecodeError, ValueError, IndexError):
            continue  # one undecodable value does not make the whole header useless

    version = int(reader.fields["GGUF.version"].contents())
    arch = _str(metadata.get("general.architecture"))
    chat_template = metadata.pop("tokenizer.chat_template", None)
    file_type = _int(metadata.get("general.file_type"))
    tensors = reader.tensors
    params = _int(metadata.get("general.parameter_count"))
    if params is None and tensors:
        params = sum(int(t.n_elements) for t in tensors)

    quantization = None
    if file_type is not None:
        try:
            quantization = (
                LlamaFileType(file_type).name.removeprefix("MOSTLY_").removeprefix("ALL_")
            )
        except ValueError:
            quantization = None
    if quantization is None and tensors:
        # no (known) file type: name the tensor type that holds most of the weights
        weight: Counter[str] = Counter()
        for t in tensors:
            weight[t.tensor_type.name] += int(t.n_bytes)
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
        tensor_count=len(tensors),
        chat_template=_str(chat_template),
        metadata=metadata,
        array_lengths=array_lengths,
    )


def _plain(value: Any) -> Any:
    """numpy scalars from the reader -> plain Python values (JSON-friendly)."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
