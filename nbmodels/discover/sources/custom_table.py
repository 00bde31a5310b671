"""Every catalog's rows together: tasks and model types detected over all of them at once
(:func:`_detect`) and the catalog table's other columns (:func:`_table_columns`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ...types import ModelSource
from ..tasks import Coded, _chat_template, detect_columns
from .custom_rows import _arrow, _coded, _Leftover, _Rows


def _concat(columns: list[Coded | None], lengths: list[int]) -> Coded | None:
    """Coded columns of several catalogs as one (None where no catalog has the column)."""
    if all(c is None for c in columns):
        return None
    codes: list[np.ndarray] = []
    values: list[Any] = []
    for column, n in zip(columns, lengths, strict=True):
        if column is None:
            codes.append(np.full(n, -1, dtype=np.int64))
            continue
        shift = np.where(column.codes >= 0, column.codes + len(values), -1)
        codes.append(shift.astype(np.int64))
        values.extend(column.values)
    return Coded(np.concatenate(codes) if codes else np.zeros(0, np.int64), values)


def _detect(parts: list[_Rows]) -> None:
    """Tasks and model type of every row of every catalog, column-wise
    (:func:`nbmodels.discover.tasks.detect_columns`): base models are looked up among all of them;
    a row's own ``tasks`` replace detection, its own ``model_type`` wins."""
    lengths = [len(r) for r in parts]
    total = sum(lengths)
    if not total:
        return

    def column(name: str) -> Coded | None:
        return _concat([_coded(r.fields.get(name), len(r)) for r in parts], lengths)

    templates: list[bool | None] | None = None
    if any(not isinstance(r.extra, _Leftover) for r in parts):
        # a GGUF's flag or Ollama media types a JSON/YAML catalog carries (CSV cells are text)
        templates = []
        for r in parts:
            if isinstance(r.extra, _Leftover):
                templates.extend([None] * len(r))
            else:
                templates.extend(_chat_template(e) if e else None for e in r.extra)
        if all(t is None for t in templates):
            templates = None
    ids = pa.concat_arrays([_arrow(r.fields["id"], len(r), pa.string()) for r in parts])
    bits = [r.rule_bits() for r in parts]
    name_bits = None
    if all(b is not None for b in bits):
        name_bits = tuple(np.concatenate([b[k] for b in bits if b is not None]) for k in (0, 1))
    codes, answers = detect_columns(
        ids,
        pipeline_tags=column("pipeline_tag"),
        tags=column("tags"),
        libraries=column("library"),
        architectures=column("architectures"),
        capabilities=column("capabilities"),
        chat_templates=templates,
        base_models=column("base_models"),
        tasks=column("tasks"),
        model_types=column("model_type"),
        name_bits=name_bits,
    )
    tasks = [a[0] for a in answers]
    kinds = [a[1] for a in answers]
    start = 0
    for r, n in zip(parts, lengths, strict=True):
        part = codes[start : start + n]
        r.fields["tasks"] = Coded(part, tasks)
        r.fields["model_type"] = Coded(part, kinds)
        r._python.pop("tasks", None)
        r._python.pop("model_type", None)
        start += n


def _concat_arrays(
    parts: list[_Rows],
    name: str,
    kind: pa.DataType,
    convert: Callable[[Any], Any] | None = None,
    empty: Any = None,
) -> pa.Array:
    """A field of every catalog as one pyarrow array (see :func:`_arrow`)."""
    arrays = [_arrow(r.fields.get(name), len(r), kind, convert, empty) for r in parts]
    if len(arrays) == 1:
        return arrays[0]
    return pa.concat_arrays(arrays) if arrays else pa.nulls(0, kind)


def _table_columns(parts: list[_Rows]) -> dict[str, pa.Array]:
    """The catalog table's columns that do not depend on task detection (pyarrow's
    kernels: built on another thread while the tasks are detected)."""
    from .. import frame as _frame

    schema = _frame.SCHEMA
    n = sum(len(r) for r in parts)

    def column(name: str, convert: Callable[[Any], Any] | None = None) -> pa.Array:
        return _concat_arrays(parts, name, schema.field(name).type, convert)

    def lists(name: str) -> pa.Array:  # no value: an empty list
        return _concat_arrays(parts, name, schema.field(name).type, list, [])

    ids = column("id")
    description = column("description")
    description = pc.if_else(
        pc.equal(pc.binary_length(description), 0), pa.scalar(None, pa.string()), description
    )
    return {
        "key": pc.binary_join_element_wise(ModelSource.CUSTOM.value, ids, ":"),
        "id": ids,
        "source": pa.repeat(pa.scalar(ModelSource.CUSTOM.value), n),
        "name": column("name"),
        "author": column("author"),
        "description": description,
        "pipeline_tag": column("pipeline_tag"),
        "library": column("library"),
        "parameters": column("parameters"),
        "size_bytes": column("size_bytes"),
        "license": column("license"),
        "language": lists("language"),
        "downloads": column("downloads"),
        "likes": column("likes"),
        "trending_score": column("trending_score"),
        "created_at": column("created_at", _frame._utc),
        "updated_at": column("updated_at", _frame._utc),
        "tags": lists("tags"),
        "version": column("version"),
        "local_path": column("local_path"),
        "is_downloaded": pa.repeat(pa.scalar(False), n),
    }
