"""What :func:`~nbmodels.packing.pack` and :func:`~nbmodels.packing.unpack` report: progress as
they go (:class:`PackProgress`) and what they did (:class:`PackReport`, :class:`UnpackReport`)."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..units import format_size

__all__ = ["PackProgress", "PackReport", "ProgressCallback", "UnpackReport"]


@dataclass(frozen=True)
class PackProgress:
    """One step of a pack or unpack: ``stage`` is ``"writing"`` (pack: each file hashed as
    it is written) or ``"checking"`` (unpack: each blob hashed as it is read and staged;
    installing them is links and renames); ``file`` the model's file
    (``org/name: model.safetensors``); bytes done and in all."""

    stage: str
    file: str
    done_bytes: int
    total_bytes: int

    @property
    def percentage(self) -> float:
        return (
            100.0
            if not self.total_bytes
            else min(100.0, 100.0 * self.done_bytes / self.total_bytes)
        )


ProgressCallback = Callable[[PackProgress], None]


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td></tr>" for a, b in rows)
    return f"<table>{cells}</table>"


@dataclass(frozen=True)
class PackReport:
    """A written pack: where, which models, how many files (and distinct blobs), its size."""

    path: Path
    models: tuple[str, ...]
    files: int
    blobs: int
    bytes: int  # the archive's size
    seconds: float

    def __repr__(self) -> str:
        return (f"<PackReport {self.path.name}: {len(self.models)} model(s), {self.files} files "
                f"({self.blobs} blobs), {format_size(self.bytes)} in {self.seconds:.1f} s>")  # fmt: skip

    def _repr_html_(self) -> str:
        head = (f"<b>{html.escape(str(self.path))}</b>: {self.files} files checked by sha256 "
                f"({self.blobs} distinct blobs), {format_size(self.bytes)}, {self.seconds:.1f} s")  # fmt: skip
        return head + _table([(m, "packed") for m in self.models])


@dataclass(frozen=True)
class UnpackReport:
    """An installed pack: each model's state (``installed``, or ``present`` when every file
    was here already), the files and bytes checked by sha256, the bytes written, the blobs
    already present (not rewritten), where the lockfile was written, and every note (a ref
    or alias of this home left as it was, a manifest replaced, blobs nothing named)."""

    path: Path
    models: Mapping[str, str]
    files_checked: int
    bytes_checked: int
    bytes_written: int
    blobs_present: int
    lockfile: Path | None
    notes: tuple[str, ...] = ()
    seconds: float = 0.0
    registered: tuple[str, ...] = field(default=())  # registry keys of the models

    def __repr__(self) -> str:
        states = ", ".join(f"{k}: {v}" for k, v in self.models.items())
        return (f"<UnpackReport {self.path.name}: {self.files_checked} files checked by sha256 "
                f"({format_size(self.bytes_checked)}), {format_size(self.bytes_written)} written, "
                f"{self.blobs_present} blobs already here; {states}>")  # fmt: skip

    def _repr_html_(self) -> str:
        head = (f"<b>{html.escape(str(self.path))}</b>: {self.files_checked} files checked by "
                f"sha256 ({format_size(self.bytes_checked)}), {format_size(self.bytes_written)} "
                f"written, {self.blobs_present} blobs already here, {self.seconds:.1f} s")  # fmt: skip
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return head + _table(list(self.models.items())) + (f"<ul>{notes}</ul>" if notes else "")
