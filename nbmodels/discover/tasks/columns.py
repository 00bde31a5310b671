"""Detection over a whole table at once (:func:`detect_columns`), and its row-by-row
reference (:func:`detect_rows`): how catalogs of many thousand rows are typed."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from ...types import SupportedTask
from .inherit import Answer, _answer, _by_name, _resolve_all, _resolved
from .rules import _type_of
from .signals import _base_pairs, _Signals, _tag_signals
from .words import _BASE_CHAT, _E, _LLM_FAMILY_TAGS, COMMON_NAME_RULES, NAME_PATTERNS, _name_re


@dataclasses.dataclass(frozen=True)
class Coded:
    """One column of a table as ``codes`` (one int per row, -1 where empty) into
    ``values`` (each distinct value once): how catalogs hold columns whose values repeat."""

    codes: Any  # numpy int array
    values: Sequence[Any]

    @classmethod
    def of(cls, column: Sequence[Any]) -> Coded:
        """A Python column (None where empty; lists are read as tuples) coded."""
        import numpy as np

        index: dict[Any, int] = {}
        values: list[Any] = []
        codes = np.empty(len(column), dtype=np.int64)
        for i, value in enumerate(column):
            if value is None:
                codes[i] = -1
                continue
            if isinstance(value, list):
                value = tuple(value)
            try:
                code = index.get(value)
            except TypeError:  # unhashable: a value of its own
                code = None
                index_key = None
            else:
                index_key = value
            if code is None:
                code = len(values)
                values.append(value)
                if index_key is not None:
                    index[index_key] = code
            codes[i] = code
        return cls(codes, values)

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, i: int) -> Any:
        code = int(self.codes[i])
        return None if code < 0 else self.values[code]


_COLUMNS = (
    "pipeline_tags",
    "tags",
    "libraries",
    "architectures",
    "capabilities",
    "chat_templates",
    "base_models",
    "tasks",
    "model_types",
)


class _Table:
    """The inputs of :func:`detect_columns` / :func:`detect_rows`, row by row."""

    def __init__(self, names: Any, columns: Mapping[str, Any]) -> None:
        self.names: Sequence[str] = _Names(names)
        n = len(self.names)
        self.columns: dict[str, Coded] = {}
        for key in _COLUMNS:
            column = columns.get(key)
            if column is None:
                continue
            coded = column if isinstance(column, Coded) else Coded.of(list(column))
            if len(coded) != n:
                raise ValueError(f"{key} has {len(coded)} rows, names has {n}")
            self.columns[key] = coded

    def value(self, key: str, i: int) -> Any:
        column = self.columns.get(key)
        return None if column is None else column[i]

    def signals(self, i: int) -> _Signals:
        v = self.value
        return _Signals.build(
            v("pipeline_tags", i),
            v("tags", i) or (),
            v("libraries", i),
            v("architectures", i) or (),
            v("capabilities", i) or (),
            self.names[i],
            v("base_models", i) or (),
        )

    def signals_of(self, rows: Any) -> list[_Signals]:
        """:meth:`signals` of many rows (each column's values looked up at once)."""
        keys = ("pipeline_tags", "tags", "libraries", "architectures", "capabilities")
        picked = []
        for key in (*keys, "base_models"):
            column = self.columns.get(key)
            if column is None:
                picked.append([None] * len(rows))
            else:
                values = column.values
                picked.append([None if c < 0 else values[c] for c in column.codes[rows].tolist()])
        return [
            _Signals.build(p, t or (), lib, a or (), c or (), self.names[i], b or ())
            for i, p, t, lib, a, c, b in zip(rows.tolist(), *picked, strict=True)
        ]

    def chat_template(self, i: int) -> bool | None:
        flag = self.value("chat_templates", i)
        return flag if isinstance(flag, bool) else None

    def settle(self, i: int, answer: Answer) -> Answer:
        """What the row states wins: its tasks replace detection (its type, or the type of
        those tasks); its type replaces the detected one."""
        given = self.value("tasks", i)
        kind = self.value("model_types", i)
        if given:
            tasks = tuple(SupportedTask.parse(t) for t in given)
            return tasks, kind or _type_of(
                tasks, _Signals.build(None, (), None, (), (), self.names[i])
            )
        return (answer[0], kind or answer[1]) if kind else answer


class _Names(Sequence[str]):
    """Names as a sequence of str ("" where missing), read from Arrow only where asked."""

    def __init__(self, names: Any) -> None:
        self._arrow = names if hasattr(names, "to_pylist") else None
        self._list = None if self._arrow is not None else list(names)
        self._n = len(names)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        value = self._arrow[i].as_py() if self._arrow is not None else self._list[i]  # type: ignore[index]
        return value if isinstance(value, str) else ""


def detect_rows(names: Any, **columns: Any) -> list[Answer]:
    """The reference for :func:`detect_columns`: the same answers, one row at a time.

    Each row is :func:`detect_model` of its values; with ``collection=True`` (the default)
    base models that are rows of the table (by id, lower-cased) are resolved within it as
    :func:`annotate_all` does. ``tasks`` and ``model_types`` are what the rows state
    (a team catalog's own columns): given tasks replace detection, a given type wins.
    """
    collection = columns.pop("collection", True)
    table = _Table(names, columns)
    if collection:
        return _resolve_all(table.names, table.signals, table.chat_template, table.settle)
    out = []
    for i in range(len(table.names)):
        s = table.signals(i)
        out.append(table.settle(i, _answer(s, table.chat_template(i), _resolved(s, None))))
    return out


def detect_columns(names: Any, **columns: Any) -> tuple[Any, list[Answer]]:
    """Tasks and model types of a whole table, answered column-wise: ``(codes, answers)``,
    row ``i``'s answer being ``answers[codes[i]]``. Identical to :func:`detect_rows`.

    ``names`` (the ids: a list or a pyarrow string array) and, each optional and aligned
    with it, ``pipeline_tags``, ``tags``, ``libraries``, ``architectures``, ``capabilities``,
    ``chat_templates``, ``base_models``, ``tasks`` and ``model_types`` (what the rows state),
    each a :class:`Coded` column or a Python sequence; ``collection`` as in detect_rows;
    ``name_bits``: :func:`name_rule_bits` of ``names`` if the caller has it already.

    How: the name rules (:data:`NAME_PATTERNS`) run over the name column with RE2 (pyarrow):
    the ones most rows need over every row, the others only where their union matches.
    Rows that are alike to the rules (the same other columns as the rules read them, the
    same answer from every name rule) get the same answer, so each such group is answered
    once, by its first row, with the per-row rules. Rows whose base models are rows of the
    table are answered one by one, as detect_rows does; so are names that are not ASCII
    (where RE2 and Python could lower-case differently).
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    collection = columns.pop("collection", True)
    given_bits = columns.pop("name_bits", None)
    if isinstance(names, pa.ChunkedArray):
        names = names.combine_chunks()
    arrow = names if isinstance(names, pa.Array) else pa.array(list(names), pa.string())
    arrow = pc.fill_null(arrow.cast(pa.string()), "")
    table = _Table(arrow, columns)
    n = len(table.names)
    if n == 0:
        return np.zeros(0, dtype=np.int64), []

    # the "llm" name rule matters only to rows without an LLM family tag (_llm_family)
    tags = table.columns.get("tags")
    family = np.zeros(n, dtype=bool)
    if tags is not None and len(tags.values):
        has = np.array([bool(_tag_signals(v)[0] & _LLM_FAMILY_TAGS) for v in tags.values])
        family = np.where(tags.codes < 0, False, has[np.maximum(tags.codes, 0)])
    if given_bits is not None:  # computed by the caller, while it read other columns
        word, ascii_names = given_bits
        word = np.where(family, word & ~np.int64(1 << COMMON_NAME_RULES.index("llm")), word)
    else:
        word, ascii_names = name_rule_bits(arrow, skip_llm=family)
    key = np.zeros(n, dtype=np.int64)
    span = 1  # key < span

    def combine(key: Any, codes: Any) -> Any:
        """``key`` and ``codes`` as one int64 (mixed radix; renumbered where it would not fit)."""
        nonlocal span
        codes = np.asarray(codes, dtype=np.int64) + 1
        radix = int(codes.max(initial=0)) + 1
        if span * radix >= 2**62:
            key, uniques = pd.factorize(key)
            key = key.astype(np.int64)
            span = max(len(uniques), 1)
        span *= radix
        return key * radix + codes

    # tags and base models as the rules read them: the tag words, the chat datasets, and
    # each base's relation and what its id says (for rows whose bases are not in the table)
    pairs, first_of_pair = _factorized(_pair_key(table, n))
    read = []
    pair_bases: list[tuple[tuple[str, str], ...]] = []
    for row in first_of_pair.tolist():
        tag_set, tag_bases, datasets = _tag_signals(table.value("tags", row) or ())
        bases = _base_pairs(tag_bases, table.value("base_models", row) or ())
        pair_bases.append(bases)
        read.append((tag_set, datasets, _bases_read(bases)))
    key = combine(key, pd.factorize(pd.Series(read, dtype=object))[0][pairs])
    for name, coded in table.columns.items():
        if name not in ("tags", "base_models"):
            key = combine(key, coded.codes)
    key = combine(key, word)
    odd = np.flatnonzero(~ascii_names)
    if odd.size:  # a group of its own each
        key[odd] = key.max() + 1 + np.arange(odd.size)
    codes, first = _factorized(key)

    answers: list[Answer] = []
    rules = [*COMMON_NAME_RULES, *_RARE_NAME_RULES]
    # the name rules' answers for each group's first row, from the passes above
    seen = ((word[first][:, None] >> np.arange(len(rules))) & 1).astype(bool).tolist()
    for row, s, bits in zip(first.tolist(), table.signals_of(first), seen, strict=True):
        if ascii_names[row]:
            s._seen.update(zip(rules, bits, strict=True))
        answers.append(table.settle(row, _answer(s, table.chat_template(row), _resolved(s, None))))
    if collection:
        codes, answers = _within_table(table, arrow, codes, answers, pairs, pair_bases)
    return codes, answers


def _codes(table: _Table, name: str, n: int) -> Any:
    import numpy as np

    coded = table.columns.get(name)
    return coded.codes if coded is not None else np.full(n, -1, dtype=np.int64)


def _pair_key(table: _Table, n: int) -> Any:
    """One int per row for its (tags, base_models) pair of codes."""
    tags = _codes(table, "tags", n) + 1
    bases = _codes(table, "base_models", n) + 1
    return tags * (int(bases.max(initial=0)) + 1) + bases


def _factorized(key: Any) -> tuple[Any, Any]:
    """``(codes, first row of each code)``, codes numbered in order of first appearance."""
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(key)
    codes = codes.astype(np.int64)
    first = np.full(len(uniques), len(codes), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(codes), dtype=np.int64))
    return codes, first


def _bases_read(bases: tuple[tuple[str, str], ...]) -> tuple[Any, ...]:
    """What the per-row rules read of a row's base models when none is in the table: each
    base's relation and answer by name, whether one names an LLM family or chat."""
    return (
        tuple((relation, _by_name(base)) for base, relation in bases),
        any(_name_re("llm").search(base.rsplit("/", 1)[-1]) for base, _ in bases),
        any(_BASE_CHAT.search(base) for base, _ in bases),
    )


#: the name rules most rows do not need (read only where their union matches), in groups
#: whose unions narrow the rows each rule runs over
_RARE_NAME_RULES: tuple[str, ...] = tuple(r for r in NAME_PATTERNS if r not in COMMON_NAME_RULES)
_RARE_CLUSTERS: tuple[tuple[str, ...], ...] = (
    ("base", "quant", "seq2seq", "english", "one_job"),
    ("rerank", "reward", "cost", "camel_rm", "guard", "embed"),
    ("vision", "ollama_vision", "gemma3", "gemma3_small", "audio", "omni", "whisper"),
    ("translation", "rag", "rag_upper", "qa", "summary"),
    ("code_start", "code_end"),
)


def name_rule_bits(names: Any, skip_llm: Any = None) -> tuple[Any, Any]:
    """``(word, ascii)``: per row, one bit per name rule (COMMON_NAME_RULES, then the
    others in NAME_PATTERNS order) as RE2 reads them, and whether the name is ASCII.
    The "llm" rule is left 0 where ``skip_llm`` (rows that never read it)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(names)
    raw = _after_last_slash(names)
    low = pc.utf8_lower(raw)
    present = pc.greater(pc.binary_length(raw), 0).to_numpy(zero_copy_only=False)
    ascii_names = pc.string_is_ascii(names).to_numpy(zero_copy_only=False)
    bit_of = {rule: bit for bit, rule in enumerate((*COMMON_NAME_RULES, *_RARE_NAME_RULES))}
    word = np.zeros(n, dtype=np.int64)

    def search(pattern: str, text: Any, rows: Any) -> Any:
        """Where ``pattern`` matches ``text`` among ``rows`` (None: every row)."""
        if rows is not None:
            text = text.take(pa.array(rows, pa.int64()))
        return pc.match_substring_regex(text, pattern).to_numpy(zero_copy_only=False)

    def rule_bits(rule: str, rows: Any) -> Any:
        pattern, original_case = NAME_PATTERNS[rule]
        return search(pattern, raw if original_case else low, rows).astype(np.int64) << bit_of[rule]

    def union(rules: tuple[str, ...]) -> str:
        return "|".join(f"(?:{_lower_superset(rule)})" for rule in rules)

    everyone = None if present.all() else np.flatnonzero(present)
    at = slice(None) if everyone is None else everyone
    for rule in COMMON_NAME_RULES:
        if rule == "llm" and skip_llm is not None and skip_llm.any():
            rows = np.flatnonzero(present & ~skip_llm)
            if rows.size:
                word[rows] |= rule_bits(rule, rows)
            continue
        word[at] |= rule_bits(rule, everyone)
    hit = search(union(_RARE_NAME_RULES), low, everyone)
    some = np.flatnonzero(hit) if everyone is None else everyone[hit]
    for cluster in _RARE_CLUSTERS:
        if not some.size:
            break
        rows = some[search(union(cluster), low, some)]
        for rule in cluster:
            if rows.size:
                word[rows] |= rule_bits(rule, rows)
    return word, ascii_names


def _after_last_slash(names: Any) -> Any:
    """``name.rsplit("/", 1)[-1]`` of every name (a pyarrow string array)."""
    import pyarrow.compute as pc

    parts = pc.split_pattern(names, "/", reverse=True, max_splits=1)
    offsets = parts.offsets.to_numpy()
    return parts.flatten().take(offsets[1:] - 1 - offsets[0])


def _lower_superset(rule: str) -> str:
    """A pattern over the lower-cased name that matches wherever ``rule`` can."""
    pattern, original_case = NAME_PATTERNS[rule]
    if not original_case:
        return pattern
    return {"camel_rm": rf"[a-z]rm{_E}", "rag_upper": "rag"}[rule]


def _within_table(
    table: _Table,
    ids: Any,
    codes: Any,
    answers: list[Answer],
    pairs: Any,
    pair_bases: list[tuple[tuple[str, str], ...]],
) -> tuple[Any, list[Answer]]:
    """Rows whose base models are rows of the table, answered one by one (as detect_rows)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    wanted = sorted({base for bases in pair_bases for base, _ in bases})
    if not wanted:
        return codes, answers
    lower = pc.utf8_lower(ids)
    hits = np.flatnonzero(
        pc.is_in(lower, value_set=pa.array(wanted, pa.string())).to_numpy(zero_copy_only=False)
    )
    if not hits.size:
        return codes, answers
    index: dict[str, int] = {}
    for row, model_id in zip(hits.tolist(), lower.take(pa.array(hits)).to_pylist(), strict=True):
        index.setdefault(model_id, row)
    linked_pairs = np.array([any(b in index for b, _ in bases) for bases in pair_bases])
    linked = linked_pairs[pairs]
    rows = np.flatnonzero(linked)
    if not rows.size:
        return codes, answers

    def known(i: int) -> Answer | None:
        return None if linked[i] else answers[int(codes[i])]

    resolved = _resolve_all(
        table.names,
        table.signals,
        table.chat_template,
        table.settle,
        index=index,
        known=known,
        rows=rows.tolist(),
    )
    codes = codes.copy()
    codes[rows] = len(answers) + np.arange(rows.size)
    return codes, [*answers, *resolved]
