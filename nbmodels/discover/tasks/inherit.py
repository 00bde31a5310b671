"""Derived models (fine-tunes, quantizations, adapters, merges): what a model takes from
its base models, and how a whole collection's bases are resolved within it."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence

from ...types import ModelType, SupportedTask
from .rules import _chat_evidence, _own_tasks, _type_of
from .signals import _Signals

T = SupportedTask

#: what detection answers for one model: its tasks (most important first) and its type
Answer = tuple[tuple[SupportedTask, ...], ModelType | None]
#: how a derived model relates to its base ("" when the record does not say)
_CARRIED = frozenset({"quantized", "adapter"})  # the base's own weights, run as they are


def _answer(
    s: _Signals, chat_template: bool | None, base_answers: Sequence[Answer | None] = ()
) -> Answer:
    """The model's tasks and type: its own evidence first; where that is silent, what its
    base model(s) answer (``base_answers``, one per ``s.bases``, None where unknown)."""
    tasks = _own_tasks(s, chat_template)
    kind = _type_of(tasks, s)
    if not s.bases:
        return tasks, kind
    known = [a for a in base_answers if a is not None and a[0]]
    parent = _parent(s, base_answers)
    if parent is not None and kind in (None, ModelType.INTERFACE_MODEL):
        p_tasks, p_kind = parent
        carried = all(relation in _CARRIED for _, relation in s.bases)
        # A fine-tune or merge that says it generates text has left its base's vision
        # behind unless its own metadata shows it (a quantized copy or an adapter runs the
        # base's own weights).
        left_vision = p_kind is ModelType.MULTIMODAL_MODEL and bool(tasks) and not carried
        if (
            p_kind is not None
            and (p_kind is not ModelType.INTERFACE_MODEL or not tasks)
            and not left_vision
        ):
            tasks, kind = _combine(p_tasks, tasks), p_kind
    evaluator = bool(tasks) and tasks[0] is T.TEXT_CLASSIFICATION
    if (
        known
        and T.TEXT_GENERATION in tasks
        and T.CHAT not in tasks
        and not evaluator
        and _chat_evidence(s, chat_template) is None
        and any(T.CHAT in a[0] for a in known)
    ):
        tasks = (*tasks, T.CHAT)
    return tasks, kind


def _parent(s: _Signals, base_answers: Sequence[Answer | None]) -> Answer | None:
    """The one answer a derived model inherits from: its base's; for a merge (or several
    bases), the bases' answer where they all agree on the type and primary task."""
    answers = list(base_answers)
    if not answers:
        return None
    merged = len(answers) > 1 or any(relation == "merge" for _, relation in s.bases)
    first = answers[0]
    if not merged:
        return first if first is not None and first[0] else None
    if any(a is None or not a[0] for a in answers):
        return None
    assert first is not None
    same = all(a is not None and a[1] == first[1] and a[0][0] is first[0][0] for a in answers)
    return first if same else None


def _combine(
    parent: tuple[SupportedTask, ...], own: tuple[SupportedTask, ...]
) -> tuple[SupportedTask, ...]:
    """The base's purpose with the model's own generation tasks."""
    if T.TEXT_GENERATION not in parent or parent[0] is T.TEXT_CLASSIFICATION:
        return parent  # evaluators, embedders, speech and image models: the base's tasks
    cut = parent.index(T.TEXT_GENERATION)
    rest = own or tuple(t for t in parent[cut:] if t is not T.CHAT)
    return tuple(dict.fromkeys((*parent[:cut], *rest)))


@functools.lru_cache(maxsize=4096)
def _by_name(base_id: str) -> Answer:
    """What name rules alone say about a base model that is not in the collection."""
    return _answer(_Signals.build(None, (), None, (), (), base_id), None)


#: how a caller resolves base model ids (lower-cased): a mapping, or a function; None
#: where the id is unknown (name rules then decide)
BaseResolver = Mapping[str, Answer] | Callable[[str], Answer | None]


def _resolved(s: _Signals, bases: BaseResolver | None) -> list[Answer | None]:
    out: list[Answer | None] = []
    for base_id, _ in s.bases:
        found = None
        if bases is not None:
            found = bases(base_id) if callable(bases) else bases.get(base_id)
        out.append(found if found is not None else _by_name(base_id))
    return out


def _id_index(ids: Iterable[str | None]) -> dict[str, int]:
    """Lower-cased id -> its first row."""
    index: dict[str, int] = {}
    for i, model_id in enumerate(ids):
        if model_id:
            index.setdefault(model_id.lower(), i)
    return index


def _resolve_all(
    ids: Sequence[str | None],
    signals: Callable[[int], _Signals],
    chat_template: Callable[[int], bool | None],
    settle: Callable[[int, Answer], Answer],
    *,
    index: Mapping[str, int] | None = None,
    known: Callable[[int], Answer | None] | None = None,
    rows: Iterable[int] | None = None,
) -> list[Answer]:
    """The answer of every row of a collection (or of ``rows``), bases resolved within it.

    ``settle(i, detected)`` is row ``i``'s final answer (what the record states wins);
    ``index`` maps lower-cased ids to rows (built from ``ids`` if not given); ``known(i)``
    answers rows already answered elsewhere (None: not known). Depth first, without
    recursion (chains of merges can be long).
    """
    if index is None:
        index = _id_index(ids)
    done: dict[int, Answer] = {}
    on_stack: set[int] = set()

    def finished(i: int) -> bool:
        if i in done:
            return True
        answer = known(i) if known is not None else None
        if answer is not None:
            done[i] = answer
        return answer is not None

    def base_rows(i: int) -> list[int | None]:
        return [
            j if (j := index.get(base_id)) is not None and j != i else None
            for base_id, _ in signals(i).bases
        ]

    wanted = list(range(len(ids)) if rows is None else rows)
    for root in wanted:
        stack = [root]
        while stack:
            i = stack[-1]
            if finished(i):
                stack.pop()
                on_stack.discard(i)
                continue
            links = base_rows(i)
            if i not in on_stack:
                on_stack.add(i)
                todo = [j for j in links if j is not None and not finished(j) and j not in on_stack]
                if todo:
                    stack.extend(reversed(todo))
                    continue
            s = signals(i)
            answers: list[Answer | None] = []
            for (base_id, _), j in zip(s.bases, links, strict=True):
                if j is None:
                    answers.append(_by_name(base_id))
                elif finished(j):
                    answers.append(done[j])
                else:  # a cycle: that record answers from its own metadata
                    answers.append(settle(j, _answer(signals(j), chat_template(j))))
            done[i] = settle(i, _answer(s, chat_template(i), answers))
            stack.pop()
            on_stack.discard(i)
    return [done[i] for i in wanted]
