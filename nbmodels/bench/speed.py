"""Speed and memory of a loaded transformers model, measured as llama-bench does.

- **prefill** (llama-bench's ``pp512``): one forward pass over ``prompt_tokens`` tokens of the
  bundled text (the KV cache written, logits kept for the last position only, as
  ``generate`` does), timed ``repeats`` times after one warm-up; tokens/s = tokens / seconds.
- **decode** (``tg128``): ``generate_tokens`` new tokens, greedy, ``min_new_tokens =
  max_new_tokens`` so no end token stops it early, from a short prompt; a streamer records the
  time of each new token: decode tokens/s = (n - 1) / (t_last - t_first), time to first token
  = t_first - the call. After one short warm-up generate.
- **peak memory** of a phase: the kernel's own high-water mark (``VmHWM``, reset by writing
  ``5`` to ``/proc/self/clear_refs``: what ``benchmarks/memory_probe.py`` measures the
  estimate against), else the engine's 5 ms sampler where the reset is refused.

Everything here runs on the engine's model thread (the caller hands it over); a set ``stop``
event ends the run at the next repeat (a generate within one token) with :class:`Stopped`,
what was measured so far kept in the lists passed in.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from ..engine.resident import _PeakSampler, _rss

__all__ = ["PhasePeak", "Stopped", "context_limit", "measure_decode", "measure_prefill"]


class Stopped(Exception):  # a signal inside the benchmark, not an error
    """The stop event was set: the stage ended early."""


def context_limit(model: Any, configured: int | None) -> int | None:
    """The longest sequence the model may see: its positions or the configuration's
    ``max_context_length``, whichever is less (None: no limit known). Not the tokenizer's
    ``model_max_length``: often a placeholder, and a tokenizer shared between models of
    different contexts says nothing of this one."""
    config = getattr(model, "config", None)
    limits = [configured]
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        limits.append(getattr(config, key, None))
    known = [int(v) for v in limits if isinstance(v, int) and 0 < v < 10_000_000]
    return min(known) if known else None


def _sync(model: Any) -> None:
    import torch

    device = getattr(model, "device", None)
    if device is not None and getattr(device, "type", "cpu") == "cuda":
        torch.cuda.synchronize(device)


def _accepts(model: Any, name: str) -> bool:
    import inspect

    try:
        return name in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """The timed repeats without Python's cyclic garbage collector, as ``timeit`` times them:
    a collection of the heap inside a timed forward pass of a small model counts against it.
    No collection before, either: walking the heap evicts the CPU's caches, and the demo
    model's first prefill repeat then ran at half speed (measured)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def measure_prefill(model: Any, ids: list[int], *, repeats: int, stop: threading.Event,
                    samples: list[float], seconds: list[float],
                    on_repeat: Callable[[int], None] = lambda i: None) -> None:  # fmt: skip
    """Prefill tokens/s of ``ids`` (one sequence), ``repeats`` times after a warm-up, into
    ``samples`` (and the raw seconds into ``seconds``)."""
    import torch

    x = torch.tensor([ids], device=model.device)
    kwargs: dict[str, Any] = {}  # no attention mask: one sequence, nothing padded
    if _accepts(model, "use_cache"):
        kwargs["use_cache"] = True
    if _accepts(model, "logits_to_keep"):
        kwargs["logits_to_keep"] = 1  # generate's prefill computes the last position's logits
    with torch.inference_mode():
        model(input_ids=x, **kwargs)  # warm-up: kernels chosen, buffers allocated
        _sync(model)
        with _no_gc():
            _prefill_repeats(model, x, kwargs, repeats=repeats, stop=stop, samples=samples, seconds=seconds, on_repeat=on_repeat)  # fmt: skip


def _prefill_repeats(model: Any, x: Any, kwargs: dict[str, Any], *, repeats: int, stop: threading.Event,
                     samples: list[float], seconds: list[float], on_repeat: Callable[[int], None]) -> None:  # fmt: skip
    n = int(x.shape[1])
    for i in range(repeats):
        if stop.is_set():
            raise Stopped
        start = time.perf_counter()
        model(input_ids=x, **kwargs)
        _sync(model)
        took = time.perf_counter() - start
        seconds.append(took)
        samples.append(n / took)
        on_repeat(i + 1)


class _TokenTimes:
    """A generate streamer that keeps nothing but the time each new token arrived (the first
    ``put`` is the prompt)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        if self._prompt_seen:
            self.times.append(time.perf_counter())
        self._prompt_seen = True

    def end(self) -> None:
        pass


def greedy_config(model: Any, tokenizer: Any, new_tokens: int) -> Any:
    """A GenerationConfig for exactly ``new_tokens`` greedy tokens (the model's own end and
    padding tokens; nothing sampled)."""
    from transformers import GenerationConfig

    base = getattr(model, "generation_config", None)
    eos = getattr(base, "eos_token_id", None)
    if eos is None:
        eos = tokenizer.eos_token_id
    pad = getattr(base, "pad_token_id", None)
    if pad is None:
        pad = tokenizer.pad_token_id
    if pad is None:
        pad = eos[0] if isinstance(eos, list) else eos
    return GenerationConfig(
        max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, num_beams=1,
        eos_token_id=eos, pad_token_id=pad, bos_token_id=getattr(base, "bos_token_id", None),
    )  # fmt: skip


def measure_decode(model: Any, tokenizer: Any, ids: list[int], new_tokens: int, *,
                   repeats: int, stop: threading.Event, ttft: list[float], rates: list[float],
                   counts: list[float], on_repeat: Callable[[int], None] = lambda i: None) -> None:  # fmt: skip
    """Decode tokens/s and time to first token of ``new_tokens`` greedy tokens after the
    prompt ``ids``, ``repeats`` times after a short warm-up."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    go = torch.zeros(1, dtype=torch.bool, device=model.device)
    halt = torch.ones(1, dtype=torch.bool, device=model.device)

    class _Stop(StoppingCriteria):  # the stop event ends a generate within one token
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return halt if stop.is_set() else go  # made once: nothing allocated per token

    x = torch.tensor([ids], device=model.device)
    mask = torch.ones_like(x)
    criteria = StoppingCriteriaList([_Stop()])
    with torch.inference_mode():
        warm = greedy_config(model, tokenizer, min(new_tokens, 4))
        model.generate(input_ids=x, attention_mask=mask, generation_config=warm, stopping_criteria=criteria)  # fmt: skip
        gen = greedy_config(model, tokenizer, new_tokens)
        with _no_gc():
            _decode_repeats(model, x, mask, gen, criteria, repeats=repeats, stop=stop, ttft=ttft, rates=rates, counts=counts, on_repeat=on_repeat)  # fmt: skip


def _decode_repeats(model: Any, x: Any, mask: Any, gen: Any, criteria: Any, *, repeats: int, stop: threading.Event,
                    ttft: list[float], rates: list[float], counts: list[float], on_repeat: Callable[[int], None]) -> None:  # fmt: skip
    for i in range(repeats):
        if stop.is_set():
            raise Stopped
        times = _TokenTimes()
        start = time.perf_counter()
        out = model.generate(input_ids=x, attention_mask=mask, generation_config=gen,
                             streamer=times, stopping_criteria=criteria)  # fmt: skip
        if stop.is_set():
            raise Stopped  # a generate cut short measures nothing
        n = int(out.shape[1] - x.shape[1])
        ttft.append(times.times[0] - start)
        counts.append(n)
        rates.append((n - 1) / (times.times[-1] - times.times[0]))
        on_repeat(i + 1)


def _reset_high_water() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _high_water() -> int | None:
    # psutil has no VmHWM: read by hand (Linux only; elsewhere the sampler measures)
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class PhasePeak:
    """The process's peak resident memory while a block runs: ``VmHWM`` reset at the start
    where Linux allows it (exact, and nothing runs beside the model), else sampled every
    5 ms by the engine's sampler thread; ``method`` says which."""

    def __init__(self) -> None:
        self.peak = 0
        self.method = ""
        self._sampler: _PeakSampler | None = None

    def __enter__(self) -> PhasePeak:
        # a sampler thread would compete with the model for the GIL and the cores (measured:
        # a tiny model's prefill at a third of its speed): only where VmHWM cannot be reset
        if not (_reset_high_water() and _high_water() is not None):
            self._sampler = _PeakSampler().__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._sampler is not None:
            self._sampler.__exit__(*exc)
            self.peak = max(self._sampler.peak, _rss())
            self.method = "RSS sampled every 5 ms"
        else:
            self.peak = max(_high_water() or 0, _rss())
            self.method = "VmHWM, reset per phase"
