"""``benchmark()``: load a model, measure it, unload it, and keep the card in the registry.

    >>> card = nbmodels.benchmark("org/name")                       # its stored configuration
    >>> card = nbmodels.benchmark("org/name", quantization="nf4")   # + KL against unquantized
    >>> card = nbmodels.benchmark("ollama:llama3.2")                 # from Ollama's timings

What each figure means and how it is measured: :mod:`.speed` (prefill, decode, time to first
token, memory peaks), :mod:`.perplexity`, :mod:`.quality` (KL divergence, top-token
agreement), :mod:`.ollama_card`. Stages, in order: load, prefill, decode, perplexity, then
for a quantized configuration the model's log-probabilities of the KL windows are kept, the
model unloaded and the reference loaded (never both at once), kl, save, done. Model work
runs on the engine's model thread, as :mod:`nbmodels.engine.handle` runs it.

When a run cannot finish, the card says what was measured and what was not:

- a model that cannot load (the memory estimate refuses it, a missing file, an error from
  transformers): a card with ``error`` set and every figure in ``not_measured``; no exception;
- an error or running out of memory mid-way: the figures measured before it, the rest in
  ``not_measured`` with the error;
- ``stop`` set (a widget's Stop button) or Ctrl-C: the same, ``error`` says it was stopped or
  interrupted. A Ctrl-C does not propagate: the card is returned (a notebook keeps what was
  measured); a loop over models should test ``card.complete``, or pass a ``stop`` event.

Such a card is ``complete=False``. With ``save=True`` the card, complete or not, is stored in
one transaction after measuring (:func:`nbmodels.storage.cards.save_card`: one row or none,
never half of one), when the model is registered; an unregistered model's card is returned
and not stored, which a :class:`~nbmodels.errors.RegistryWarning` says.
"""

from __future__ import annotations

import dataclasses
import functools
import platform
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config.stored import configuration_dict, effective_quantization
from ..engine.handle import load
from ..engine.model_thread import _on_torch_thread
from ..engine.resident import _free_memory, _rss
from ..errors import ConfigurationError, NBModelsError, RegistryWarning
from ..settings import Settings, default_settings
from ..types import ModelConfiguration
from .card import BenchEvent, BenchmarkCard, Draft
from .perplexity import (
    PerplexityResult,
    describe,
    perplexity,
    scored,
    window_input,
    window_logprobs,
    windows,
)
from .quality import KLAccumulator
from .speed import PhasePeak, Stopped, context_limit, measure_decode, measure_prefill
from .text import SLICE_NAME, wikitext_slice

__all__ = ["benchmark"]


def benchmark(
    model: Any,
    config: ModelConfiguration | None = None,
    *,
    repeats: int = 3,
    prompt_tokens: int = 512,
    generate_tokens: int = 128,
    perplexity_tokens: int | None = 32768,
    reference: str | ModelConfiguration | None = "auto",
    kl_tokens: int | None = 2048,
    settings: Settings | None = None,
    registry: Any = None,
    save: bool = True,
    progress: Callable[[BenchEvent], None] | None = None,
    stop: threading.Event | None = None,
    handle: Any = None,
    window: int = 1024,
    decode_prompt_tokens: int = 16,
    **overrides: Any,
) -> BenchmarkCard:
    """Measure ``model`` (what :func:`nbmodels.load` takes: a Hub id, a folder, a .gguf file,
    ``ollama:<name>``) with ``config`` and ``overrides`` (e.g. ``quantization="nf4"``) and
    return its :class:`~nbmodels.bench.card.BenchmarkCard`; see the module's docstring.

    ``repeats`` runs of prefill (``prompt_tokens`` tokens, capped at the model's context) and
    decode (``generate_tokens`` greedy tokens after ``decode_prompt_tokens``); perplexity
    over the first ``perplexity_tokens`` tokens of the bundled wikitext-2 slice in windows
    of ``window`` tokens (0 or None: skipped); ``reference``: what a quantized model's KL
    divergence over ``kl_tokens`` tokens is measured against: ``"auto"`` (the same model
    unquantized, float32), a :class:`~nbmodels.types.ModelConfiguration`, or None (skipped).
    ``handle``: a model already loaded (its load is then not measured, and it is not
    unloaded). ``registry``: where the card is stored (default: the settings' registry);
    ``progress`` receives :class:`~nbmodels.bench.card.BenchEvent`; ``stop``: set it to stop
    at the next step."""
    for name, value in (("repeats", repeats), ("prompt_tokens", prompt_tokens),
                        ("generate_tokens", generate_tokens), ("window", window),
                        ("decode_prompt_tokens", decode_prompt_tokens)):  # fmt: skip
        if not isinstance(value, int) or value < 1:
            raise ConfigurationError(f"{name} must be a whole number of at least 1, not {value!r}.")  # fmt: skip
    for name, maybe in (("perplexity_tokens", perplexity_tokens), ("kl_tokens", kl_tokens)):
        if maybe is not None and (not isinstance(maybe, int) or maybe < 0):
            raise ConfigurationError(f"{name} must be a whole number (0 or None: skip), not {maybe!r}.")  # fmt: skip
    if not (reference in ("auto", None) or isinstance(reference, ModelConfiguration)):
        raise ConfigurationError(f"reference must be 'auto', None or a ModelConfiguration, not {reference!r}.")  # fmt: skip
    _check_overrides(model, config, handle, overrides)
    run = _Run(model, config, settings or default_settings(), progress, _Stop(stop), handle, overrides)  # fmt: skip
    opts = dict(repeats=repeats, prompt_tokens=prompt_tokens, generate_tokens=generate_tokens,
                perplexity_tokens=perplexity_tokens or 0, reference=reference,
                kl_tokens=kl_tokens or 0, window=window, decode_prompt_tokens=decode_prompt_tokens)  # fmt: skip
    reg, ref = run.registry_entry(registry) if save else (None, None)
    draft = run.measure(opts, reg, ref)
    card = draft.card()
    if save:
        card = run.store(card, reg, ref)
    run.emit("done", 1, 1, repr(card))
    return card


class _Stop(threading.Event):
    """The run's stop: set by a Ctrl-C here, or by the caller's event (which a Ctrl-C leaves
    as it was, so it can be used again)."""

    def __init__(self, outer: threading.Event | None) -> None:
        super().__init__()
        self.outer = outer

    def is_set(self) -> bool:
        return super().is_set() or (self.outer is not None and self.outer.is_set())


class _Run:
    """One benchmark run: its options, the handles it loaded, the draft it fills."""

    def __init__(self, model: Any, config: ModelConfiguration | None, settings: Settings,
                 progress: Callable[[BenchEvent], None] | None, stop: threading.Event,
                 handle: Any, overrides: dict[str, Any]) -> None:  # fmt: skip
        self.model, self.config, self.settings = model, config, settings
        self.progress, self.stop, self.given = progress, stop, handle
        self.overrides = overrides
        self.handle: Any = handle
        self.owned: list[Any] = []  # handles this run loaded (unloaded at the end)
        self.ollama = (isinstance(model, str) and model.startswith("ollama:")) or type(handle).__name__ == "OllamaHandle"  # fmt: skip
        self.stage = "load"
        self.base = 0  # resident bytes before the model was loaded

    # -- naming and the registry ----------------------------------------------------------------
    def name(self) -> str:
        if self.handle is not None and getattr(self.handle, "model_id", None):
            return ("ollama:" if self.ollama and not str(self.handle.model_id).startswith("ollama:") else "") + str(self.handle.model_id)  # fmt: skip
        text = str(getattr(self.model, "id", self.model))
        path = Path(text).expanduser()
        if not text.startswith("ollama:") and path.exists():
            return path.stem if path.is_file() else path.name  # as load() names it
        return text

    def _refs(self) -> list[str]:
        name = self.name()
        if name.startswith("ollama:"):
            bare = name.split(":", 1)[1]
            short = bare.removesuffix(":latest")
            return [f"ollama:{bare}", f"ollama:{short}", f"ollama:{short}:latest", bare, short]
        return [name]

    def registry_entry(self, registry: Any) -> tuple[Any, str | None]:
        """(the registry, the model's reference there) or (registry, None) when the model is
        not registered; a registry that cannot be read is said and the card not stored."""
        from ..storage.registry import Registry

        try:
            reg = registry if registry is not None else Registry(settings=self.settings)
            if registry is None and not reg.path.exists():
                return reg, None  # no registry on this home: nothing to look in (or create)
            return reg, next((r for r in self._refs() if r in reg), None)
        except NBModelsError as exc:
            warnings.warn(f"{self.name()}: the registry cannot be read ({exc}); the card will not be stored.", RegistryWarning, stacklevel=3)  # fmt: skip
            return None, None

    def store(self, card: BenchmarkCard, reg: Any, ref: str | None) -> BenchmarkCard:
        from ..storage.cards import save_card

        if reg is None:
            return card
        if ref is None:
            warnings.warn(
                f"{card.model} is not in the registry, so its benchmark card was not stored: "
                "register it (nbmodels.registry.register) and benchmark again, or keep this one "
                "with card.to_json().", RegistryWarning, stacklevel=3,
            )  # fmt: skip
            return card
        self.emit("save", 0, 1, f"storing the card of {ref}")
        try:
            number = save_card(reg, ref, card.to_dict())
        except NBModelsError as exc:
            warnings.warn(f"{ref}: the benchmark card could not be stored ({exc}); it is returned.", RegistryWarning, stacklevel=3)  # fmt: skip
            return card
        self.emit("save", 1, 1, f"stored as card {number} of {ref}")
        return dataclasses.replace(card, number=number)

    # -- progress -------------------------------------------------------------------------------
    def emit(self, stage: str, done: int, total: int, message: str) -> None:
        if self.progress is not None:
            self.progress(BenchEvent(stage, done, total, message))

    def check(self) -> None:
        if self.stop.is_set():
            raise Stopped

    # -- measuring --------------------------------------------------------------------------------
    def measure(self, opts: dict[str, Any], reg: Any, ref: str | None) -> Draft:
        draft = Draft(self.name(), "ollama" if self.ollama else "transformers", repeats=opts["repeats"],
                      prompt_tokens=opts["prompt_tokens"], generate_tokens=opts["generate_tokens"])  # fmt: skip
        draft.machine = _machine()
        if reg is not None and ref is not None:
            from ..storage.versions import current_version

            try:
                draft.version = current_version(reg, ref)
            except NBModelsError:
                draft.version = None
        try:
            if self.ollama:
                self._ollama(draft, opts)
            else:
                self._transformers(draft, opts)
        except Stopped:
            draft.error = f"stopped during {self.stage} (the stop event was set)"
        except KeyboardInterrupt:
            self.stop.set()
            draft.error = f"interrupted during {self.stage} (KeyboardInterrupt)"
        except Exception as exc:  # an out-of-memory, transformers' or the server's error
            draft.error = f"{self.stage} failed: {type(exc).__name__}: {exc}"
        finally:
            for h in self.owned:
                try:
                    h.unload()
                except Exception as exc:  # said on the card, never raised over its figures
                    draft.details["unload"] = f"unloading failed: {exc}"
            self.owned.clear()
        return draft

    def _ollama(self, draft: Draft, opts: dict[str, Any]) -> None:
        from ..engine.ollama_handle import OllamaHandle
        from .ollama_card import measure_ollama

        name = self.name().split(":", 1)[1]
        handle = self.given if self.given is not None else OllamaHandle(name, settings=self.settings)  # fmt: skip
        if self.given is None:
            self.owned.append(handle)
        measure_ollama(name, draft, handle=handle, repeats=opts["repeats"], prompt_tokens=opts["prompt_tokens"],
                       generate_tokens=opts["generate_tokens"], stop=self.stop, emit=self._emit_stage)  # fmt: skip

    def _emit_stage(self, stage: str, done: int, total: int, message: str) -> None:
        self.stage = stage
        self.emit(stage, done, total, message)

    def _intended(self) -> ModelConfiguration:
        """The configuration a load would use (for a card whose load failed)."""
        from ..config.configuration import get_configuration

        cfg = self.config
        if cfg is None:
            try:
                cfg = get_configuration(self.name(), self.settings)
            except NBModelsError:
                cfg = None
        cfg = cfg or ModelConfiguration(self.name())
        try:
            return dataclasses.replace(cfg, **self.overrides)
        except TypeError:
            return cfg

    def _transformers(self, draft: Draft, opts: dict[str, Any]) -> None:
        import torch  # noqa: F401  (imported before the baseline: the estimate's convention)
        import transformers  # noqa: F401

        self.stage = "load"
        draft.configuration = configuration_dict(self._intended())
        draft.details["memory"] = "resident bytes above the process before the model was loaded"
        if self.given is None:
            self.emit("load", 0, 1, f"loading {self.name()}")
            _free_memory()
            base = self.base = _rss()
            with PhasePeak() as peak:
                self.handle = load(self.model, self.config, settings=self.settings, **self.overrides)  # fmt: skip
            self.owned.append(self.handle)
            draft.put("load_s", float(self.handle.load_seconds))
            draft.samples["load_s"] = [float(self.handle.load_seconds)]
            draft.put("peak_load_bytes", peak.peak - base)
            draft.details["memory"] += f" ({peak.method})"
            self.emit("load", 1, 1, f"loaded in {self.handle.load_seconds:.2f} s")
        else:
            why = "an already loaded model was given (handle=): its load was not watched"
            draft.miss("load_s", why)
            draft.miss("peak_load_bytes", why)
            base = self.base = _rss() - int(getattr(self.handle, "footprint_bytes", 0) or 0)
            draft.details["memory"] += " (the given handle's footprint when it was loaded stands in for the load)"  # fmt: skip
        handle = self.handle
        cfg = handle.config
        draft.configuration = configuration_dict(cfg)
        draft.machine["device"] = str(getattr(handle.model, "device", "cpu"))
        draft.details["loader"] = getattr(handle, "loader", "")
        tok = handle.tokenizer
        ids = _tokens(tok)
        prefix = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        limit = context_limit(handle.model, cfg.max_context_length) or 1 << 30
        notes: list[str] = []
        n_prompt = min(opts["prompt_tokens"], limit, len(ids) + (prefix is not None))
        if n_prompt < opts["prompt_tokens"]:
            notes.append(f"prompt cut to {n_prompt} tokens: the model's context is {limit}")
        draft.prompt_tokens = n_prompt
        prompt = ([prefix] if prefix is not None else []) + ids[: n_prompt - (prefix is not None)]
        n_dec_prompt = min(opts["decode_prompt_tokens"], max(1, limit - 2))
        dec_prompt = ([prefix] if prefix is not None else []) + ids[: n_dec_prompt - (prefix is not None)]  # fmt: skip
        n_new = min(opts["generate_tokens"], limit - len(dec_prompt))
        if n_new < opts["generate_tokens"]:
            notes.append(f"generation cut to {n_new} tokens: the model's context is {limit}")
        draft.generate_tokens = n_new
        if notes:
            draft.details["notes"] = notes
        self._estimate(draft, cfg, max(len(prompt), len(dec_prompt) + n_new))
        self._speed(draft, handle, prompt, dec_prompt, n_new, opts["repeats"], base)
        self._quality(draft, handle, ids, prefix, limit, opts)

    def _files(self) -> Path | None:
        """The model's folder or .gguf file on disk, never fetched: load() found it already,
        and a given handle's model says where it was read from."""
        from ..engine.resolve import _resolve

        source = Path(str(getattr(self.handle.model, "name_or_path", "") or "")).expanduser()
        given = Path(
            str(getattr(self.model, "local_path", None) or getattr(self.model, "id", self.model))
        ).expanduser()
        if given.exists():
            return given
        if source.is_dir() and (source / "config.json").exists():
            return source
        if self.given is not None:
            return None  # resolving a Hub id here could start a download
        _, folder, gguf = _resolve(self.model, self.settings)
        return folder if gguf is None else folder / gguf

    def _estimate(self, draft: Draft, cfg: ModelConfiguration, context: int) -> None:
        from ..config.memory import estimate_memory

        try:
            path = self._files()
            if path is None:
                draft.miss("estimate_bytes", "the given handle's files are not known here")
                return
            est = estimate_memory(path, cfg, context=context)
        except (NBModelsError, OSError) as exc:
            draft.miss("estimate_bytes", f"no memory estimate for this model: {exc}")
            return
        draft.put("estimate_bytes", est.peak_bytes)
        draft.details["estimate"] = {"load_peak_bytes": est.load_peak_bytes, "generate_peak_bytes": est.generate_peak_bytes,
                                     "spread_bytes": est.spread_bytes, "context": context}  # fmt: skip

    def _speed(self, draft: Draft, handle: Any, prompt: list[int], dec_prompt: list[int], n_new: int, repeats: int, base: int) -> None:  # fmt: skip
        model, tok = handle.model, handle.tokenizer
        rates: list[float] = []
        seconds: list[float] = []
        ttft: list[float] = []
        dec: list[float] = []
        counts: list[float] = []
        with PhasePeak() as peak:
            self.stage = "prefill"
            self.check()
            self.emit("prefill", 0, repeats, f"prefill of {len(prompt)} tokens")
            try:
                self._on_thread(measure_prefill, model, prompt, repeats=repeats, samples=rates, seconds=seconds,
                                on_repeat=lambda i: self.emit("prefill", i, repeats, f"prefill {i} of {repeats}: {rates[-1]:,.1f} tok/s"))  # fmt: skip
            finally:
                draft.series("prefill_tokens_per_s", rates, wanted=repeats)
                draft.samples["prefill_seconds"] = seconds
            if handle.kind == "causal":
                self.stage = "decode"
                self.check()
                self.emit("decode", 0, repeats, f"decode of {n_new} tokens")
                if n_new < 2:
                    draft.miss("decode_tokens_per_s", "fewer than 2 new tokens fit the model's context: no decode rate")  # fmt: skip
                try:
                    self._on_thread(measure_decode, model, tok, dec_prompt, n_new, repeats=repeats, ttft=ttft, rates=dec, counts=counts,
                                    on_repeat=lambda i: self.emit("decode", i, repeats, f"decode {i} of {repeats}: {dec[-1]:,.1f} tok/s"))  # fmt: skip
                finally:
                    draft.series("ttft_s", ttft, wanted=repeats)
                    if n_new >= 2:
                        draft.series("decode_tokens_per_s", dec, wanted=repeats)
                    draft.samples["decode_tokens"] = counts
                draft.details["ttft"] = f"greedy generate from a {len(dec_prompt)}-token prompt to its first new token"  # fmt: skip
            else:
                why = f"a {handle.kind} model does not generate text"
                for figure in ("decode_tokens_per_s", "ttft_s"):
                    draft.miss(figure, why)
        draft.put("peak_generate_bytes", peak.peak - base)
        measured = [v for v in (draft.values.get("peak_load_bytes"), draft.values.get("peak_generate_bytes")) if v is not None]  # fmt: skip
        draft.put("peak_bytes", max(measured))
        if draft.values.get("peak_load_bytes") is None:
            draft.details["peak_bytes"] = "generating only: the load was not watched"

    def _on_thread(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, stop=<the stop event>, **kwargs)`` on the model thread; a Ctrl-C while
        waiting sets the stop event, waits for ``fn`` to end and is raised here."""
        return _on_torch_thread(functools.partial(fn, *args, stop=self.stop, **kwargs), stop=self.stop)  # fmt: skip

    def _quality(self, draft: Draft, handle: Any, ids: list[int], prefix: int | None, limit: int, opts: dict[str, Any]) -> None:  # fmt: skip
        import torch

        causal = handle.kind == "causal"
        want_ppl = opts["perplexity_tokens"] > 0 and causal
        ref_cfg, ref_text = self._reference(handle.config, opts["reference"])
        if not causal:
            for figure in ("perplexity", "kl_divergence", "top_token_agreement"):
                draft.miss(figure, f"a {handle.kind} model predicts no next token")
            return
        if opts["perplexity_tokens"] <= 0:
            draft.miss("perplexity", "skipped: perplexity_tokens=0")
        if ref_cfg is None:
            for figure in ("kl_divergence", "top_token_agreement"):
                draft.miss(figure, ref_text)
        elif opts["kl_tokens"] <= 0:
            ref_cfg = None
            for figure in ("kl_divergence", "top_token_agreement"):
                draft.miss(figure, "skipped: kl_tokens=0")
        size = min(opts["window"], limit)
        prefix_text = None if prefix is None else handle.tokenizer.convert_ids_to_tokens(prefix)
        kl_plan = windows(len(ids), limit=opts["kl_tokens"], window=size, prefix=prefix) if ref_cfg is not None else []  # fmt: skip
        vocab = int(getattr(handle.model.config, "vocab_size", 0) or len(handle.tokenizer))
        keep_dtype = torch.float32
        if ref_cfg is not None:
            import psutil

            need = scored(kl_plan, prefix) * vocab * 4
            if need > psutil.virtual_memory().available // 4:
                keep_dtype = torch.float16
            draft.details["kl_storage"] = f"the model's log-probabilities kept in {str(keep_dtype).removeprefix('torch.')} ({need // (2 if keep_dtype == torch.float16 else 1):,} bytes)"  # fmt: skip
        result = PerplexityResult()
        if want_ppl:
            plan = windows(len(ids), limit=opts["perplexity_tokens"], window=size, prefix=prefix)
            self.stage = "perplexity"
            self.check()
            self.emit("perplexity", 0, len(plan), f"perplexity over {scored(plan, prefix):,} tokens")  # fmt: skip
            try:
                with PhasePeak() as peak:
                    self._on_thread(perplexity, handle.model, ids, plan, prefix=prefix, keep=frozenset(kl_plan) & frozenset(plan),
                                    keep_dtype=keep_dtype, result=result,
                                    on_window=lambda i: self.emit("perplexity", i, len(plan), f"window {i} of {len(plan)}"))  # fmt: skip
            finally:
                draft.details["perplexity_windows_done"] = len(result.window_nll)
            draft.put("perplexity", result.perplexity)
            draft.put("perplexity_tokens", result.tokens)
            draft.put("perplexity_text", describe(SLICE_NAME, plan, size, prefix_text))
            draft.details["perplexity_window_nll"] = result.window_nll
            draft.details["perplexity_peak_bytes"] = peak.peak - self.base
            if opts["perplexity_tokens"] > result.tokens + len(plan):
                draft.details["perplexity_note"] = f"the text holds {len(ids):,} tokens for this tokenizer: {result.tokens:,} were scored"  # fmt: skip
        if ref_cfg is not None:
            self._kl(draft, handle, ids, prefix, kl_plan, result, keep_dtype, ref_cfg, ref_text)

    def _reference(self, cfg: ModelConfiguration, reference: Any) -> tuple[ModelConfiguration | None, str]:  # fmt: skip
        """(the reference's configuration, what it is) or (None, why there is none)."""
        if reference is None:
            return None, "skipped: reference=None"
        if isinstance(reference, ModelConfiguration):
            return reference, (f"{reference.model_id or self.name()} with quantization {effective_quantization(reference)}, "
                               f"dtype {reference.dtype}")  # fmt: skip
        if effective_quantization(cfg) == "none":
            return None, "not quantized: nothing to compare against"
        ref = dataclasses.replace(cfg, quantization="none", use_quantization=False, quantization_type=None,
                                  double_quant=False, dtype="float32")  # fmt: skip
        return ref, "the same model unquantized (float32)"

    def _kl(self, draft: Draft, handle: Any, ids: list[int], prefix: int | None, kl_plan: list[Any],
            result: PerplexityResult, keep_dtype: Any, ref_cfg: ModelConfiguration, ref_text: str) -> None:  # fmt: skip
        kept: dict[Any, Any] = dict(result.kept)
        result.kept.clear()
        todo = [w for w in kl_plan if w not in kept]
        self.stage = "kl"
        if todo:  # windows the perplexity pass did not read (it was shorter, or skipped)
            self.emit("kl", 0, len(kl_plan), f"the model's log-probabilities of {len(todo)} more window(s)")  # fmt: skip

            def more() -> None:
                for w in todo:
                    if self.stop.is_set():
                        raise Stopped
                    kept[w] = window_logprobs(handle.model, window_input(ids, w, prefix))[0].to(keep_dtype)  # fmt: skip

            self._on_thread(lambda stop: more())
        if handle in self.owned:  # never both models at once: this one goes first
            handle.unload()
            self.owned.remove(handle)
            self.handle = None
        self.check()
        self.stage = "reference"
        self.emit("reference", 0, 1, f"loading the reference: {ref_text}")
        ref = load(self.model, ref_cfg, settings=self.settings)
        self.owned.append(ref)
        self.emit("reference", 1, 1, "reference loaded")
        self.stage = "kl"
        acc = KLAccumulator()

        def compare(stop: threading.Event) -> None:
            for i, w in enumerate(kl_plan):
                if stop.is_set():
                    raise Stopped
                lp, targets = window_logprobs(ref.model, window_input(ids, w, prefix))
                acc.add(lp, kept.pop(w).float(), targets)
                self.emit("kl", i + 1, len(kl_plan), f"window {i + 1} of {len(kl_plan)}")

        self._on_thread(compare)
        ref.unload()
        self.owned.remove(ref)
        res = acc.result()
        draft.put("kl_divergence", res.kl_divergence)
        draft.put("top_token_agreement", res.top_token_agreement)
        draft.put("kl_tokens", res.tokens)
        draft.put("reference", ref_text)
        draft.details["kl"] = res.details()


def _check_overrides(model: Any, config: Any, handle: Any, overrides: dict[str, Any]) -> None:
    """Unknown configuration fields, or settings for a model Ollama runs, are refused before
    anything is loaded (a value a field cannot take is the load's to say, on the card)."""
    import difflib

    ollama = (isinstance(model, str) and model.startswith("ollama:")) or type(handle).__name__ == "OllamaHandle"  # fmt: skip
    if ollama and (config is not None or overrides):
        raise ConfigurationError(
            f"{model} runs with Ollama's own settings: a configuration or overrides "
            f"({', '.join(overrides) or 'config'}) do not apply; leave them out."
        )
    names = [f.name for f in dataclasses.fields(ModelConfiguration)]
    unknown = [k for k in overrides if k not in names]
    if unknown:
        hints = [
            f"{k!r}" + (f" (did you mean {c[0]!r}?)" if (c := difflib.get_close_matches(k, names, n=1)) else "")
            for k in unknown
        ]  # fmt: skip
        raise ConfigurationError(f"Unknown configuration field(s) {', '.join(hints)}: benchmark() takes ModelConfiguration's fields as overrides.")  # fmt: skip


def _tokens(tokenizer: Any) -> list[int]:
    """The bundled text as token ids (no special tokens), tokenized once."""
    enc = tokenizer(wikitext_slice(), add_special_tokens=False, verbose=False)
    return list(enc["input_ids"])


def _machine() -> dict[str, Any]:
    """What the figures were measured on (no names of people or hosts)."""
    from importlib.metadata import PackageNotFoundError, version

    from .. import __version__
    from ..machine import hardware

    hw = hardware()
    out: dict[str, Any] = {
        "cpu": platform.processor() or platform.machine(),
        "cores": hw.cpu_count,
        "physical_cores": hw.cpu_physical,
        "ram_bytes": hw.ram_total_bytes,
        "usable_ram_bytes": hw.usable_ram_bytes,
        "gpus": [f"{g.device} {g.name}" for g in hw.gpus],
        "platform": platform.platform(terse=True),
        "python": platform.python_version(),
        "nbmodels": __version__,
    }
    for package in ("torch", "transformers", "bitsandbytes", "ollama"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = None
    try:
        import torch

        out["threads"] = torch.get_num_threads()
        out["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    except Exception:  # torch absent or too old: the rest of the machine still says enough
        pass
    return out
