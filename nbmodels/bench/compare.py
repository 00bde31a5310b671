"""Which of a few models (or configurations of one) to run: :func:`compare`.

    >>> c = nbmodels.compare(["org/model", ("org/model", {"quantization": "nf4"}), "ollama:qwen3"])
    >>> c.outputs          # one row per prompt, one column per candidate: the texts side by side
    >>> c.summary()        # one row per candidate: tokens/s ± spread, TTFT, load, memory, perplexity
    >>> c.chart()          # bars: decode tokens/s, peak memory, perplexity
    >>> c                  # the last expression of a cell: a live view with a progress bar and Stop

Each candidate in turn: its configuration, the memory estimate (a candidate that won't fit is
skipped with the estimate's reason, before anything is downloaded or loaded), one load, every
prompt greedily with the same settings, then :func:`nbmodels.bench.run.benchmark` on the
loaded model (speed, memory, perplexity), and the model is unloaded before the next. A
candidate that fails is recorded with its error and the others go on; :meth:`Comparison.stop`
ends the running one at its next step and leaves the rest "not run: stopped". Nothing is
dropped silently: skipped and failed candidates are in ``skipped``/``failed``, the summary's
``status`` column, the view, and a :class:`~nbmodels.errors.BenchmarkWarning` each.

The work runs in a thread of its own; ``compare()`` waits for it unless ``background=True``
(what the notebook view uses), and the progress is a list of :class:`CompareEvent` plus an
optional callback. The object never imports a widget: it shows itself through
:mod:`nbmodels.display`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..errors import BenchmarkWarning, ConfigurationError, EngineError
from ..settings import Settings, default_settings
from ..types import ModelConfiguration
from .candidates import Candidate, _model_id, _model_name, _plain, parse_candidates
from .chart import Chart, _number, chart_svg

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["Candidate", "Chart", "CompareEvent", "Comparison", "compare"]

#: a few short prompts of different kinds (prose, instruction, code) when none are given
DEFAULT_PROMPTS = (
    "The capital of France is",
    "Write one sentence about the sea.",
    "def fibonacci(n):",
)

#: how much of one candidate's share of the progress bar is filled once it has loaded, and
#: once its prompts have run (the benchmark fills the rest)
_LOADED, _GENERATED = 0.05, 0.15
#: the benchmark's stages in the order it runs them (nbmodels.bench.run)
_BENCH_STAGES = ("load", "prefill", "decode", "perplexity", "reference", "kl", "save", "done")


# -- progress -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CompareEvent:
    """One step of a comparison: candidate ``index + 1`` of ``total`` (its ``label``) is at
    ``stage`` ("estimate", "load", "generate", "benchmark", "done", "skipped", "failed",
    "stopped", "not run", and "finished" for the whole), ``done`` of ``steps`` within it;
    ``fraction`` is the whole comparison's progress, 0 to 1."""

    index: int
    total: int
    label: str
    stage: str
    done: int
    steps: int
    message: str
    fraction: float

    def __str__(self) -> str:
        if self.stage == "finished":
            return self.message
        counted = f" {self.done}/{self.steps}" if self.steps else ""
        text = f"candidate {self.index + 1} of {self.total} · {self.label} · {self.stage}{counted}"
        return text + (f": {self.message}" if self.message else "")


# -- the comparison -------------------------------------------------------------------------------
_SUMMARY_COLUMNS = (
    "model", "status", "decode_tokens_per_s", "decode_spread", "prefill_tokens_per_s",
    "prefill_spread", "ttft_s", "ttft_spread", "load_s", "peak_bytes", "peak_gib",
    "estimate_bytes", "perplexity", "kl_divergence", "top_token_agreement", "note",
)  # fmt: skip


class Comparison:
    """The same prompts through several models or configurations; see :func:`compare`.

    Read while it runs or after: ``labels``, ``status`` (label -> "waiting", "estimating",
    "loading", "generating", "benchmarking", then "done", "skipped", "failed", "stopped" or
    "not run"), ``outputs``, ``configurations`` (what each ran with),
    ``responses``, ``cards``, ``estimates``, ``skipped``/``failed`` (label -> why),
    ``events``; ``summary()``, ``chart()``, ``to_dict()``/``to_json()``; ``stop()``,
    ``wait()``, ``done``."""

    def __init__(
        self,
        candidates: Sequence[Any],
        prompts: Sequence[str] | None = None,
        *,
        max_new_tokens: int = 64,
        repeats: int = 2,
        prompt_tokens: int = 128,
        perplexity_tokens: int | None = 4096,
        reference: Any = "auto",
        kl_tokens: int | None = 512,
        chat: bool = False,
        settings: Settings | None = None,
        registry: Any = None,
        save: bool = True,
        hardware: Any = None,
        progress: Callable[[CompareEvent], None] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        if isinstance(prompts, str):
            prompts = [prompts]
        self.prompts = list(DEFAULT_PROMPTS if prompts is None else prompts)
        if not self.prompts or not all(isinstance(p, str) and p for p in self.prompts):
            raise ConfigurationError("prompts must be a list of non-empty strings (or None for a few short ones).")  # fmt: skip
        for name, value in (("max_new_tokens", max_new_tokens), ("repeats", repeats), ("prompt_tokens", prompt_tokens)):  # fmt: skip
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigurationError(f"{name} must be a positive whole number, got {value!r}.")
        for name, maybe in (("perplexity_tokens", perplexity_tokens), ("kl_tokens", kl_tokens)):
            if maybe is not None and (not isinstance(maybe, int) or maybe < 0):
                raise ConfigurationError(f"{name} must be a whole number (0 or None: skip it), got {maybe!r}.")  # fmt: skip
        if not (reference in ("auto", None) or isinstance(reference, ModelConfiguration)):
            raise ConfigurationError(f"reference must be 'auto', None or a ModelConfiguration, got {reference!r}.")  # fmt: skip
        self.candidates = parse_candidates(candidates)
        self.options = {
            "max_new_tokens": max_new_tokens, "repeats": repeats, "prompt_tokens": prompt_tokens,
            "perplexity_tokens": perplexity_tokens, "reference": reference, "kl_tokens": kl_tokens,
            "chat": chat, "save": save,
        }  # fmt: skip
        self.settings = settings or default_settings()
        self.registry = registry
        self.hardware = hardware
        self.created_at = datetime.now(UTC)
        self.events: list[CompareEvent] = []
        self.status: dict[str, str] = {c.label: "waiting" for c in self.candidates}
        self.skipped: dict[str, str] = {}
        self.failed: dict[str, str] = {}
        self.cards: dict[str, Any] = {}
        self.estimates: dict[str, Any] = {}
        #: label -> the configuration it ran with (None: Ollama's own, or not reached)
        self.configurations: dict[str, ModelConfiguration | None] = {
            c.label: c.config for c in self.candidates
        }
        self.responses: dict[str, list[Any]] = {c.label: [] for c in self.candidates}
        self.version = 0  # grows with every event: a view redraws only when it changed
        self._progress = progress
        self._listeners: list[Callable[[CompareEvent], None]] = []
        self._lock = threading.RLock()
        self._stop = stop if stop is not None else threading.Event()
        self._done = threading.Event()
        self._current: Any = None
        self._warned = False
        self._thread = threading.Thread(target=self._run, name="nbmodels-compare", daemon=True)

    # -- what the caller sees --------------------------------------------------------------------
    @property
    def labels(self) -> list[str]:
        return [c.label for c in self.candidates]

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def last_event(self) -> CompareEvent | None:
        with self._lock:
            return self.events[-1] if self.events else None

    @property
    def fraction(self) -> float:
        event = self.last_event
        return 1.0 if self.done else (event.fraction if event else 0.0)

    @property
    def outputs(self) -> pd.DataFrame:
        """One row per prompt, one column per candidate: each reply's text (None where the
        candidate did not answer: skipped, failed, stopped, or not yet)."""
        import pandas as pd

        with self._lock:
            data = {
                label: [r.text for r in self.responses[label]]
                + [None] * (len(self.prompts) - len(self.responses[label]))
                for label in self.labels
            }
        frame = pd.DataFrame(data, index=pd.Index(self.prompts, name="prompt"), dtype=object)
        frame.columns.name = "candidate"
        return frame

    def summary(self) -> pd.DataFrame:
        """One row per candidate (index: its label): decode and prefill tokens/s with their
        spread, time to first token, load seconds, peak memory (bytes and GiB), the estimate,
        perplexity, KL divergence and top-token agreement against the reference, the status,
        and a note (why it was skipped or failed, or what was not measured)."""
        import pandas as pd

        rows = []
        with self._lock:
            for cand in self.candidates:
                label, card = cand.label, self.cards.get(cand.label)
                row: dict[str, Any] = {"label": label, "model": _model_name(cand.model), "status": self.status[label]}  # fmt: skip
                for column in _SUMMARY_COLUMNS[2:]:
                    row[column] = getattr(card, column, None) if card is not None else None
                peak = _number(row["peak_bytes"])
                row["peak_gib"] = peak / 2**30 if peak else None
                estimate = self.estimates.get(label)
                if row["estimate_bytes"] is None and estimate is not None:
                    row["estimate_bytes"] = estimate.peak_bytes
                row["note"] = (
                    self.skipped.get(label) or self.failed.get(label) or _not_measured(card)
                )
                rows.append(row)
        frame = pd.DataFrame(rows, columns=["label", *_SUMMARY_COLUMNS]).set_index("label")
        for column in _SUMMARY_COLUMNS[2:-1]:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
        frame.index.name = "candidate"
        return frame

    def chart(self) -> Chart:
        """Decode tokens/s (± spread), peak memory and perplexity, a bar per candidate."""
        summary = self.summary()
        rows = [{"label": label, **{str(k): v for k, v in row.items()}} for label, row in summary.iterrows()]  # fmt: skip
        return Chart(chart_svg(rows))

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain data: the prompts, the options, and per candidate its model,
        configuration, status, reason, replies and card."""
        from ..config.stored import configuration_dict

        with self._lock:
            out = []
            for cand in self.candidates:
                label = cand.label
                card = self.cards.get(label)
                est = self.estimates.get(label)
                cfg = self.configurations[label]
                out.append({
                    **cand.describe(),
                    "configuration": None if cfg is None else configuration_dict(cfg),
                    "status": self.status[label],
                    "reason": self.skipped.get(label) or self.failed.get(label),
                    "outputs": [
                        {"text": r.text, "prompt_tokens": r.prompt_tokens, "completion_tokens": r.completion_tokens,
                         "seconds": r.seconds, "time_to_first_token": r.time_to_first_token, "finish_reason": r.finish_reason}
                        for r in self.responses[label]
                    ],
                    "estimate": None if est is None else {"verdict": est.verdict, "peak_bytes": est.peak_bytes, "available_bytes": est.available_bytes},
                    "card": card.to_dict() if card is not None else None,
                })  # fmt: skip
            return {
                "created_at": self.created_at.isoformat(),
                "prompts": list(self.prompts),
                "options": {k: _plain(v) for k, v in self.options.items()},
                "done": self.done,
                "stopped": self.stopped,
                "candidates": out,
            }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=str)

    def stop(self) -> None:
        """End the running candidate at its next step (a generation within a token); the
        candidates not started are left "not run: stopped"."""
        self._stop.set()
        handle = self._current
        if handle is not None:
            with contextlib.suppress(Exception):
                handle.stop()

    def wait(self, timeout: float | None = None) -> Comparison:
        """Block until the comparison ends (or ``timeout`` seconds), then say what was
        skipped or failed (warnings, once). Ctrl-C (the notebook's stop button) stops it."""
        try:
            finished = self._done.wait(timeout)
        except KeyboardInterrupt:
            self.stop()
            self._done.wait(60)
            self._warn()
            raise
        if not finished:
            event = self.last_event
            raise TimeoutError(
                f"The comparison is still running after {timeout} s"
                + (f" ({event})" if event else "") + "; wait() again or stop()."
            )  # fmt: skip
        self._warn()
        return self

    def on_event(self, callback: Callable[[CompareEvent], None]) -> None:
        """Call ``callback(event)`` on each event (from the comparison's thread)."""
        with self._lock:
            self._listeners.append(callback)

    def __repr__(self) -> str:
        with self._lock:
            counts: dict[str, int] = {}
            for state in self.status.values():
                counts[state] = counts.get(state, 0) + 1
        said = ", ".join(f"{n} {state}" for state, n in counts.items())
        n = len(self.candidates)
        k = len(self.prompts)
        return f"<Comparison of {n} candidate{'s' if n != 1 else ''} on {k} prompt{'s' if k != 1 else ''}: {said}>"  # fmt: skip

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """In a notebook: a live view (progress, Stop, outputs, summary, chart)."""
        from ..display import mimebundle

        text = repr(self)
        with contextlib.suppress(Exception):  # the text view must never fail to show
            text += "\n" + self.summary()[["status", "decode_tokens_per_s", "peak_gib", "perplexity", "note"]].to_string()  # fmt: skip
        return mimebundle(self, text, **kwargs)

    # -- the work --------------------------------------------------------------------------------
    def _start(self) -> Comparison:
        self._thread.start()
        return self

    def _emit(self, index: int, stage: str, done: int = 0, steps: int = 0, message: str = "", within: float = 0.0) -> None:  # fmt: skip
        n = len(self.candidates)
        fraction = 1.0 if stage == "finished" else min(1.0, (index + min(1.0, within)) / n)
        label = self.candidates[index].label if index < n else ""
        with self._lock:  # the bar never goes back (a stage may report out of order)
            fraction = max(fraction, self.events[-1].fraction if self.events else 0.0)
            event = CompareEvent(index, n, label, stage, done, steps, message, fraction)
            self.events.append(event)
            self.version += 1
            listeners = list(self._listeners)
        if self._progress is not None:
            self._progress(event)
        for listener in listeners:
            with contextlib.suppress(Exception):  # a view's failure never stops the work
                listener(event)

    def _set(self, label: str, status: str, reason: str | None = None, *, failed: bool = False) -> None:  # fmt: skip
        with self._lock:
            self.status[label] = status
            if reason is not None:
                (self.failed if failed else self.skipped)[label] = reason

    def _run(self) -> None:
        n = len(self.candidates)
        try:
            for index, cand in enumerate(self.candidates):
                if self._stop.is_set():
                    for rest in self.candidates[index:]:
                        self._set(rest.label, "not run", "not run: stopped")
                    self._emit(index, "not run", message="stopped before it started")
                    break
                self._candidate(index, cand)
        finally:
            states = list(self.status.values())
            counts = ", ".join(f"{states.count(st)} {st}" for st in dict.fromkeys(states))
            try:
                self._emit(n - 1, "finished", n, n, f"{n} candidate{'s' if n != 1 else ''}: {counts}")  # fmt: skip
            finally:
                self._done.set()

    def _candidate(self, index: int, cand: Candidate) -> None:
        label = cand.label
        handle, owned = cand.handle, False
        try:
            cfg = cand.config if handle is not None else None
            if handle is None:
                self._set(label, "estimating")
                self._emit(index, "estimate", message="memory estimate")
                cfg = self._configuration(cand)
                with self._lock:
                    self.configurations[label] = cfg
                reason = self._wont_fit(label, cand, cfg)
                if reason is not None:
                    self._set(label, "skipped", reason)
                    self._emit(index, "skipped", message=reason, within=1.0)
                    return
                self._set(label, "loading")
                self._emit(index, "load", message="loading", within=_LOADED / 2)
                try:
                    handle = self._load(cand, cfg)
                except EngineError as exc:
                    if "won't fit" not in str(exc):
                        raise
                    self._set(label, "skipped", str(exc))
                    self._emit(index, "skipped", message=str(exc), within=1.0)
                    return
                owned = True
            self._current = handle
            if not self._prompts(index, label, handle):
                return
            card = _with_load(self._benchmark(index, cand, cfg, handle), handle)
            with self._lock:
                self.cards[label] = card
            if not getattr(card, "complete", True):  # the figures measured before it are kept
                if self._stop.is_set():
                    self._set(label, "stopped")
                    self._emit(index, "stopped", message="stopped during the benchmark", within=1.0)  # fmt: skip
                else:
                    reason = f"benchmark: {card.error}"
                    self._set(label, "failed", reason, failed=True)
                    self._emit(index, "failed", message=reason, within=1.0)
                return
            self._set(label, "done")
            self._emit(index, "done", within=1.0)
        except Exception as exc:  # one candidate's failure is recorded; the others go on
            reason = f"{type(exc).__name__}: {exc}"
            self._set(label, "failed", reason, failed=True)
            self._emit(index, "failed", message=reason, within=1.0)
        finally:
            self._current = None
            if owned and handle is not None:
                with contextlib.suppress(Exception):
                    handle.unload()

    def _configuration(self, cand: Candidate) -> ModelConfiguration | None:
        """The configuration ``load()`` would use (given, stored, else configured), with the
        candidate's overrides on top; None for an Ollama model (Ollama configures it)."""
        if cand.is_ollama:
            return None
        from ..config.configuration import configure, get_configuration, validate

        cfg = cand.config
        if cfg is None:
            model_id = _model_id(cand.model)
            cfg = get_configuration(model_id, self.settings)
            if cfg is None:  # as load() configures a model with no stored configuration
                cfg = configure(cand.model, settings=self.settings)
                cfg = dataclasses.replace(cfg, model_id=model_id)
        cfg = dataclasses.replace(cfg, **dict(cand.overrides))
        validate(cfg).raise_for_errors()
        return cfg

    def _wont_fit(self, label: str, cand: Candidate, cfg: ModelConfiguration | None) -> str | None:
        """The estimate's reason when the candidate won't fit (checked before anything is
        downloaded or loaded), else None. No estimate (Ollama, a kind of model the estimate
        cannot size) is no reason to skip: load() then measures."""
        if cfg is None:
            return None
        from ..config.memory import estimate_memory
        from ..errors import NBModelsError

        try:
            est = estimate_memory(cand.model, cfg, context=cfg.max_context_length, hardware=self.hardware)  # fmt: skip
        except NBModelsError:
            return None
        with self._lock:
            self.estimates[label] = est
        if est.verdict != "won't fit":
            return None
        advice = ("; try " + "; or ".join(est.advice)) if est.advice else ""
        gib = 2**30
        return (
            f"won't fit: it needs about {est.peak_bytes / gib:.2f} GiB at peak (up to "
            f"{(est.peak_bytes + est.spread_bytes) / gib:.2f} GiB: identical runs vary) and "
            f"{(est.available_bytes or 0) / gib:.2f} GiB are free{advice}"
        )

    def _load(self, cand: Candidate, cfg: ModelConfiguration | None) -> Any:
        from ..engine.handle import load

        return load(cand.model, cfg, settings=self.settings)

    def _prompts(self, index: int, label: str, handle: Any) -> bool:
        """Every prompt through ``handle``, greedily; False when stopped before the end."""
        self._set(label, "generating")
        n = len(self.prompts)
        tokens = self.options["max_new_tokens"]
        greedy: dict[str, Any] = {"temperature": 0, "max_tokens": tokens}
        if type(handle).__name__ == "OllamaHandle":
            greedy["seed"] = 0  # Ollama's option; temperature 0 is greedy there too
        else:
            greedy["do_sample"] = False  # a stored configuration may sample
        for j, prompt in enumerate([*self.prompts, None]):
            if prompt is not None:
                within = _LOADED + (_GENERATED - _LOADED) * j / n
                self._emit(index, "generate", j, n, f"prompt {j + 1} of {n}", within=within)
            if self._stop.is_set():  # before each prompt, and after the last one
                self._set(label, "stopped")
                self._emit(index, "stopped", j, n, f"stopped after {j} of {n} prompts", within=1.0)  # fmt: skip
                return False
            if prompt is None:
                return True
            if self.options["chat"]:
                handle.reset()
                response = handle.chat(prompt, **greedy)
                handle.reset()
            else:
                response = handle.generate(prompt, **greedy)
            with self._lock:
                self.responses[label].append(response)
        return True  # pragma: no cover (the loop returns)

    def _benchmark(self, index: int, cand: Candidate, cfg: ModelConfiguration | None, handle: Any) -> Any:  # fmt: skip
        from .run import benchmark

        self._set(cand.label, "benchmarking")
        self._emit(index, "benchmark", message="starting", within=_GENERATED)

        def progress(event: Any) -> None:
            # the benchmark counts steps per stage: its stages, in order, share the bar
            at = _BENCH_STAGES.index(event.stage) if event.stage in _BENCH_STAGES else 0
            share = (at + (min(1.0, event.done / event.total) if event.total else 0.0)) / len(_BENCH_STAGES)  # fmt: skip
            within = _GENERATED + (1.0 - _GENERATED) * share
            self._emit(index, f"benchmark: {event.stage}", event.done, event.total, event.message, within)  # fmt: skip

        o = self.options
        return benchmark(
            cand.model, cfg, repeats=o["repeats"], prompt_tokens=o["prompt_tokens"],
            generate_tokens=o["max_new_tokens"], perplexity_tokens=o["perplexity_tokens"],
            reference=o["reference"], kl_tokens=o["kl_tokens"], settings=self.settings,
            registry=self.registry, save=o["save"], progress=progress, stop=self._stop,
            handle=handle,
        )  # fmt: skip

    def _warn(self) -> None:
        """Say what was skipped or failed, once, in the caller's thread (a warning from the
        comparison's thread would land in whichever notebook cell runs at that moment)."""
        with self._lock:
            if self._warned:
                return
            self._warned = True
            notes = [f"{label} was skipped: {why}" for label, why in self.skipped.items() if self.status[label] != "not run"]  # fmt: skip
            notes += [f"{label} failed: {why}" for label, why in self.failed.items()]
            not_run = [label for label, state in self.status.items() if state == "not run"]
        if not_run:
            notes.append(f"stopped: {', '.join(not_run)} not run")
        for note in notes:
            warnings.warn(note, BenchmarkWarning, stacklevel=3)


def _with_load(card: Any, handle: Any) -> Any:
    """``card`` with the load figures ``load()`` measured for this comparison: the benchmark
    was handed the loaded model, so it did not watch the load itself."""
    seconds = getattr(handle, "load_seconds", None)
    if getattr(card, "load_s", 1) is not None or not seconds:
        return card
    peak = getattr(handle, "load_peak_bytes", None)
    peaks = [int(p) for p in (peak, card.peak_generate_bytes) if p is not None]
    skip = ("load_s", "peak_load_bytes", "peak_bytes") if peak is not None else ("load_s",)
    return dataclasses.replace(
        card,
        load_s=float(seconds),
        peak_load_bytes=int(peak) if peak is not None else card.peak_load_bytes,
        peak_bytes=max(peaks) if peaks else card.peak_bytes,
        samples={**card.samples, "load_s": [float(seconds)]},
        not_measured={k: v for k, v in card.not_measured.items() if k not in skip},
        details={**{k: v for k, v in card.details.items() if k != "peak_bytes"}, "load": "timed by nbmodels.load() for the comparison (ModelHandle.load_seconds and load_peak_bytes: resident bytes above the process before loading)"},
    )  # fmt: skip


def _not_measured(card: Any) -> str | None:
    missing = getattr(card, "not_measured", None) or {}
    error = getattr(card, "error", None)
    said = [f"{k}: {v}" for k, v in dict(missing).items()]
    if error:
        said.insert(0, str(error))
    return "; ".join(said) or None


def compare(
    candidates: Sequence[Any],
    prompts: Sequence[str] | None = None,
    *,
    max_new_tokens: int = 64,
    repeats: int = 2,
    prompt_tokens: int = 128,
    perplexity_tokens: int | None = 4096,
    reference: Any = "auto",
    kl_tokens: int | None = 512,
    chat: bool = False,
    settings: Settings | None = None,
    registry: Any = None,
    save: bool = True,
    hardware: Any = None,
    background: bool = False,
    progress: Callable[[CompareEvent], None] | None = None,
    stop: threading.Event | None = None,
) -> Comparison:
    """The same ``prompts`` through each of ``candidates``, side by side, each benchmarked.

    A candidate is a model reference (a Hub id, a folder, a ``.gguf`` file,
    ``"ollama:<name>"``), a ``(model, {"quantization": "nf4", ...})`` or
    ``(model, ModelConfiguration)`` pair, a ``ModelConfiguration`` (its ``model_id`` is the
    model), a mapping ``{"model": ..., "label": ..., **overrides}``, or a model already
    loaded (used as is and left loaded). Each gets a readable label ("org/name · nf4").

    Every prompt runs greedily (temperature 0) for ``max_new_tokens`` tokens, as a raw
    completion, or as one chat turn with ``chat=True`` (Ollama applies its model's template
    either way; compare with transformers models with ``chat=True``). The benchmark runs with
    the comparison's sizes (``repeats``, ``prompt_tokens``, ``max_new_tokens``,
    ``perplexity_tokens``, ``reference``, ``kl_tokens``); ``save`` stores each card in the
    registry. ``hardware`` (``nbmodels.hardware()``'s answer) is what the estimates fit to.

    Waits until every candidate has run, then warns about the ones skipped or failed;
    ``background=True`` returns at once (watch it in a notebook: it shows a live view;
    ``wait()`` blocks). ``progress`` is called with each :class:`CompareEvent` (from the
    comparison's thread); setting ``stop`` (a ``threading.Event``) is :meth:`Comparison.stop`.
    Ctrl-C while waiting stops it."""
    comparison = Comparison(
        candidates, prompts, max_new_tokens=max_new_tokens, repeats=repeats,
        prompt_tokens=prompt_tokens, perplexity_tokens=perplexity_tokens, reference=reference,
        kl_tokens=kl_tokens, chat=chat, settings=settings, registry=registry, save=save,
        hardware=hardware, progress=progress, stop=stop,
    )._start()  # fmt: skip
    if background:
        return comparison
    comparison.wait()
    return comparison
