"""A benchmark card for a model Ollama runs (``ollama:<name>``), from the timings Ollama
returns with every answer (its ``/api/generate`` fields, what ``ollama run --verbose`` prints):

- load: ``load_duration`` of the first call after the model was unloaded (``keep_alive=0``);
- prefill tokens/s: ``prompt_eval_count / prompt_eval_duration``;
- decode tokens/s: ``eval_count / eval_duration``;
- time to first token: measured here, from sending a streamed request to its first piece of
  text (network and server included, as a user of the server sees it).

Each repeat is one streamed ``generate`` with ``num_predict = generate_tokens`` and
``temperature = 0``, on its own stretch of the bundled text: Ollama keeps the last prompt's
KV cache and would count only the new tokens of a prompt sent again. The prompt is cut to
about ``prompt_tokens`` tokens by length (Ollama has no tokenize endpoint); the counts Ollama
reports are what the card says. Ollama can end an answer at an end token before
``num_predict`` (it has no ``min_tokens``): ``samples["eval_count"]`` says how many came.

Not measured, and said so: perplexity and KL divergence (Ollama returns log-probabilities of
the tokens it generates at most, never of a given text's tokens, nor whole distributions),
and memory peaks (the model lives in the server's process; ``/api/ps``'s size is kept in the
details).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .card import Draft
from .speed import Stopped
from .text import SLICE_NAME, wikitext_slice

__all__ = ["measure_ollama", "prompts"]

_BYTES_PER_TOKEN = 4.5  # wikitext with GPT-2-like tokenizers: 156,291 bytes -> 34,822 tokens
NO_LOGPROBS = (
    "Ollama returns no log-probabilities of a given text's tokens (only, at most, of the "
    "tokens it generates), so a text's perplexity cannot be computed through it"
)
NO_DISTRIBUTIONS = "Ollama returns no next-token distributions to compare with a reference"


def prompts(tokens: int, count: int) -> list[str]:
    """``count`` different stretches of the bundled text of about ``tokens`` tokens each, each
    starting at a line (cycling through the text when it runs out)."""
    text = wikitext_slice()
    size = max(1, int(tokens * _BYTES_PER_TOKEN))
    out, start = [], 0
    for _ in range(count):
        if start + size > len(text):
            start = 0
        piece = text[start : start + size]
        out.append(piece.rsplit(" ", 1)[0] if " " in piece else piece)  # end at a word
        nl = text.find("\n", start + size)
        start = nl + 1 if nl != -1 else 0
    return out


def measure_ollama(name: str, draft: Draft, *, handle: Any, repeats: int, prompt_tokens: int,
                   generate_tokens: int, stop: threading.Event,
                   emit: Callable[[str, int, int, str], None]) -> None:  # fmt: skip
    """Measure the Ollama model ``name`` through ``handle`` (an
    :class:`~nbmodels.engine.ollama_handle.OllamaHandle`) into ``draft``."""
    client, call = handle.client, handle._call
    options = {"num_predict": generate_tokens, "temperature": 0}
    draft.configuration = {"model_id": f"ollama:{name}", "backend": "ollama", "options": dict(options)}  # fmt: skip
    for figure, why in (("perplexity", NO_LOGPROBS), ("kl_divergence", NO_DISTRIBUTIONS),
                        ("top_token_agreement", NO_DISTRIBUTIONS)):  # fmt: skip
        draft.miss(figure, why)
    for figure in ("peak_load_bytes", "peak_generate_bytes", "peak_bytes"):
        draft.miss(figure, "Ollama runs the model in its own process: its memory is not this kernel's (the size /api/ps reports goes in the details)")  # fmt: skip
    draft.miss("estimate_bytes", "not estimated for a model Ollama runs")
    shown = call(client.show, model=name)
    details = getattr(shown, "details", None)
    for key in ("format", "family", "parameter_size", "quantization_level"):
        value = getattr(details, key, None)
        if value:
            draft.configuration["quantization" if key == "quantization_level" else key] = value
    if shown.parameters:
        draft.configuration["parameters"] = shown.parameters

    emit("load", 0, 1, f"loading {name} in Ollama (unloaded first, so the load is timed)")
    call(client.generate, model=name, prompt="", keep_alive=0)  # unload: the next call loads
    texts = prompts(prompt_tokens, repeats + 1)
    if stop.is_set():
        raise Stopped
    warm = call(client.generate, model=name, prompt=texts[0], options={**options, "num_predict": min(4, generate_tokens)})  # fmt: skip
    load_ns = getattr(warm, "load_duration", None)
    if load_ns:
        draft.put("load_s", load_ns / 1e9)
        draft.samples["load_s"] = [load_ns / 1e9]
    else:
        draft.miss("load_s", "Ollama reported no load_duration")
    emit("load", 1, 1, f"loaded {name}")

    pre: list[float] = []
    dec: list[float] = []
    ttft: list[float] = []
    counts: dict[str, list[float]] = {"prompt_eval_count": [], "eval_count": []}
    try:
        for i in range(repeats):
            if stop.is_set():
                raise Stopped
            emit("decode", i, repeats, f"generate {i + 1} of {repeats}")
            start, first, final = time.perf_counter(), None, None
            for part in call(client.generate, model=name, prompt=texts[i + 1], options=options, stream=True):  # fmt: skip
                if stop.is_set():
                    raise Stopped
                if first is None and part.response:
                    first = time.perf_counter()
                if part.done:
                    final = part
            if final is None:
                raise RuntimeError("Ollama's stream ended without its final answer (no timings)")
            n_prompt, t_prompt = final.prompt_eval_count or 0, final.prompt_eval_duration or 0
            n_eval, t_eval = final.eval_count or 0, final.eval_duration or 0
            counts["prompt_eval_count"].append(float(n_prompt))
            counts["eval_count"].append(float(n_eval))
            if n_prompt and t_prompt:
                pre.append(n_prompt / (t_prompt / 1e9))
            if n_eval and t_eval:
                dec.append(n_eval / (t_eval / 1e9))
            if first is not None:
                ttft.append(first - start)
    finally:  # what ran before a stop or an error stays on the card
        draft.samples.update(counts)
        ran = len(counts["eval_count"])
        reported = {"prefill_tokens_per_s": "prompt_eval_count and prompt_eval_duration",
                    "decode_tokens_per_s": "eval_count and eval_duration", "ttft_s": "any text"}  # fmt: skip
        for figure, values in (("prefill_tokens_per_s", pre), ("decode_tokens_per_s", dec), ("ttft_s", ttft)):  # fmt: skip
            if len(values) < ran:  # answers came, without the figure's fields
                draft.samples[figure] = values
                draft.miss(figure, f"Ollama's answers lacked {reported[figure]} ({len(values)} of {ran})")  # fmt: skip
            else:
                draft.series(figure, values, wanted=repeats)
    if counts["prompt_eval_count"]:
        draft.prompt_tokens = round(sum(counts["prompt_eval_count"]) / len(counts["prompt_eval_count"]))  # fmt: skip
    draft.details["ttft"] = "a streamed request's first text, timed by the client"
    draft.details["prompt"] = f"{SLICE_NAME}: a different stretch for each repeat, about {prompt_tokens} tokens long"  # fmt: skip
    if any(c < generate_tokens for c in counts["eval_count"]):
        draft.details["note"] = f"Ollama ended some answers before {generate_tokens} tokens (samples['eval_count'])"  # fmt: skip
    try:
        loaded = call(client.ps)
        for m in loaded.models:
            if m.name in (name, f"{name}:latest") or m.model in (name, f"{name}:latest"):
                draft.details["ollama_size_bytes"] = int(m.size or 0)
                draft.details["ollama_size_vram_bytes"] = int(m.size_vram or 0)
    except Exception:  # only a detail: a server without /api/ps still gives its card
        draft.details["ollama_size_bytes"] = None
