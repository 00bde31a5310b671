"""The benchmark card: one record of what a model measured on this machine, with the
configuration it ran with, every repeat's raw figure, and what was not measured and why.

    >>> card.decode_tokens_per_s, card.decode_spread, card.samples["decode_tokens_per_s"]
    >>> card.not_measured          # {"kl_divergence": "not quantized: nothing to compare against"}
    >>> BenchmarkCard.from_dict(json.loads(card.to_json())) == card

Speeds are a mean and a sample standard deviation over ``repeats`` runs, never one figure;
the load is timed once (its ``samples`` say n=1). Memory figures are bytes above the process
before the model was loaded (as :mod:`nbmodels.config.memory` predicts them), so
``peak_bytes`` and ``estimate_bytes`` compare directly. A card is ``complete`` when the run
ended without an error or a stop; figures that do not apply (KL of an unquantized model,
perplexity through Ollama) or were skipped on request are in ``not_measured`` with the reason
and leave it complete.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..units import format_size

__all__ = ["FIGURES", "BenchEvent", "BenchmarkCard"]

#: the figures a card measures (a None one is named in ``not_measured`` with the reason)
FIGURES = (
    "prefill_tokens_per_s",
    "decode_tokens_per_s",
    "ttft_s",
    "load_s",
    "peak_load_bytes",
    "peak_generate_bytes",
    "peak_bytes",
    "estimate_bytes",
    "perplexity",
    "kl_divergence",
    "top_token_agreement",
)
#: figure -> the field holding its spread (the repeated ones)
SPREADS = {
    "prefill_tokens_per_s": "prefill_spread",
    "decode_tokens_per_s": "decode_spread",
    "ttft_s": "ttft_spread",
}


@dataclass(frozen=True)
class BenchEvent:
    """Progress of a benchmark: the stage ("load", "prefill", "decode", "perplexity",
    "reference", "kl", "save", "done"), how far it is (``done`` of ``total`` steps) and a line
    to show. Steps inside a stage (a repeat, a window) are reported from the engine's model
    thread: a callback that draws should go through widget state, as the house's views do."""

    stage: str
    done: int
    total: int
    message: str


@dataclass(frozen=True)
class BenchmarkCard:
    """What a model measured on this machine (see the module's docstring)."""

    model: str
    backend: str  # "transformers" | "ollama"
    configuration: dict[str, Any]  # the configuration it ran with (configuration_dict form)
    version: int | None  # the model's registry version when measured (None: not registered)
    machine: dict[str, Any]  # cores, RAM, torch/transformers versions, device
    repeats: int
    prompt_tokens: int
    generate_tokens: int
    prefill_tokens_per_s: float | None
    prefill_spread: float | None  # sample standard deviation over the repeats
    decode_tokens_per_s: float | None
    decode_spread: float | None
    ttft_s: float | None
    ttft_spread: float | None
    load_s: float | None
    peak_load_bytes: int | None  # resident bytes above the process before loading
    peak_generate_bytes: int | None
    peak_bytes: int | None
    estimate_bytes: int | None  # the memory estimate's peak for the same run
    perplexity: float | None
    perplexity_tokens: int | None  # tokens scored
    perplexity_text: str | None  # which text, which windows, the BOS handling
    kl_divergence: float | None  # mean KL(P_reference || P_model) per token, nats
    top_token_agreement: float | None  # fraction of tokens whose most likely next token agrees
    kl_tokens: int | None
    reference: str | None  # what the KL was measured against
    samples: dict[str, list[float]]  # every repeat's raw figure
    complete: bool
    not_measured: dict[str, str]  # figure -> why not
    error: str | None
    created_at: str  # UTC, ISO 8601
    number: int | None = None  # the registry's card number once stored
    details: dict[str, Any] = field(default_factory=dict)  # how each figure was measured

    # -- data ------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The card as plain JSON data (what the registry stores)."""
        return json.loads(json.dumps(dataclasses.asdict(self), allow_nan=False))  # type: ignore[no-any-return]

    def to_json(self, **kwargs: Any) -> str:
        """The card as JSON text (``indent=2`` unless told otherwise)."""
        kwargs.setdefault("indent", 2)
        kwargs.setdefault("allow_nan", False)
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BenchmarkCard:
        """A card from :meth:`to_dict`'s data (a stored card); keys it does not know are left
        out, missing ones take their empty value (cards written by other versions read)."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name in data:
                values[f.name] = data[f.name]
            elif f.default is not dataclasses.MISSING:
                values[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                values[f.name] = f.default_factory()
            else:
                values[f.name] = _EMPTY.get(f.name)
        for name in ("configuration", "machine", "samples", "not_measured", "details"):
            values[name] = dict(values[name] or {})
        values["samples"] = {k: list(v) for k, v in values["samples"].items()}
        return cls(**values)

    # -- showing it ------------------------------------------------------------------------------
    def __repr__(self) -> str:
        parts = []
        if self.prefill_tokens_per_s is not None:
            parts.append(f"prefill {self.prefill_tokens_per_s:.1f} tok/s")
        if self.decode_tokens_per_s is not None:
            parts.append(f"decode {self.decode_tokens_per_s:.1f} tok/s")
        if self.perplexity is not None:
            parts.append(f"ppl {self.perplexity:.4g}")
        if self.kl_divergence is not None:
            parts.append(f"KL {self.kl_divergence:.3g}")
        state = "complete" if self.complete else f"incomplete: {self.error or 'not finished'}"
        quant = (self.configuration or {}).get("quantization")
        name = self.model + (f" [{quant}]" if quant and quant != "none" else "")
        return (
            f"<BenchmarkCard {name} ({self.backend}): {', '.join(parts) or 'no figures'}; {state}>"
        )

    def rows(self) -> list[tuple[str, str, str]]:
        """(figure, value, how) for each figure measured: what the notebook table shows."""
        n = self.repeats
        out: list[tuple[str, str, str]] = []

        def speed(name: str, label: str, how: str, scale: float = 1.0, unit: str = "tok/s") -> None:
            value, spread = getattr(self, name), getattr(self, SPREADS[name])
            if value is None:
                return
            k = len(self.samples.get(name) or []) or n
            text = f"{scale * value:,.1f} {unit} (n={k}, no spread)" if spread is None else \
                f"{scale * value:,.1f} ± {scale * spread:,.1f} {unit} (n={k})"  # fmt: skip
            out.append((label, text, how))

        ollama = self.backend == "ollama"
        speed("prefill_tokens_per_s", f"prefill (pp{self.prompt_tokens})",
              "Ollama's prompt_eval_count / prompt_eval_duration" if ollama else "one forward pass over the prompt")  # fmt: skip
        speed("decode_tokens_per_s", f"decode (tg{self.generate_tokens})",
              "Ollama's eval_count / eval_duration" if ollama else "greedy, after the first token")  # fmt: skip
        speed("ttft_s", "time to first token", str(self.details.get("ttft", "")), 1000.0, "ms")
        if self.load_s is not None:
            out.append(("load", f"{self.load_s:,.2f} s (n=1)", "Ollama's load_duration" if ollama else "tokenizer and weights"))  # fmt: skip
        memory = str(self.details.get("memory", "resident bytes above the process before loading"))  # fmt: skip
        for name, label in (("peak_load_bytes", "peak memory, loading"),
                            ("peak_generate_bytes", "peak memory, generating"),
                            ("peak_bytes", "peak memory"),
                            ("estimate_bytes", "estimated peak")):  # fmt: skip
            if getattr(self, name) is not None:
                how = (
                    "nbmodels.estimate_memory for this run" if name == "estimate_bytes" else memory
                )
                out.append((label, format_size(getattr(self, name)), how))
        if self.perplexity is not None:
            out.append(("perplexity", f"{self.perplexity:,.4f} ({self.perplexity_tokens:,} tokens)", self.perplexity_text or ""))  # fmt: skip
        if self.kl_divergence is not None:
            out.append(("KL divergence", f"{self.kl_divergence:.6f} nats/token ({self.kl_tokens:,} tokens)", f"against {self.reference}"))  # fmt: skip
        if self.top_token_agreement is not None:
            out.append(("same top token", f"{100 * self.top_token_agreement:.2f} %", f"against {self.reference}"))  # fmt: skip
        return out

    def _repr_html_(self) -> str:
        import html

        e = html.escape
        quant = (self.configuration or {}).get("quantization") or "none"
        head = (
            f"<b>{e(self.model)}</b> ({e(self.backend)}, quantization {e(str(quant))}"
            + (f", version {self.version}" if self.version is not None else "")
            + (f", card #{self.number}" if self.number is not None else "")
            + f") measured {e(self.created_at[:19].replace('T', ' '))} UTC, "
            + (
                "<b>complete</b>"
                if self.complete
                else f"<b style='color:#b00'>incomplete</b>: {e(self.error or '')}"
            )
        )
        body = "".join(
            f"<tr><td>{e(a)}</td><td style='text-align:right'>{e(b)}</td>"
            f"<td style='color:#666'>{e(c)}</td></tr>"
            for a, b, c in self.rows()
        )
        missing = "".join(f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in self.not_measured.items())
        m = self.machine or {}
        machine = ", ".join(f"{k} {v}" for k, v in m.items() if k in ("cpu", "cores", "device", "torch", "transformers") and v)  # fmt: skip
        return (
            f"<div>{head}<table><tr><th>figure</th><th>mean ± spread</th><th>how</th></tr>{body}</table>"
            + (f"<div>not measured:<ul>{missing}</ul></div>" if missing else "")
            + f"<div style='color:#666'>{e(machine)}</div></div>"
        )


_EMPTY: dict[str, Any] = {"configuration": {}, "machine": {}, "samples": {}, "not_measured": {},
                          "repeats": 0, "prompt_tokens": 0, "generate_tokens": 0,
                          "complete": False, "model": "", "backend": "", "created_at": ""}  # fmt: skip


def _finite(value: Any) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


class Draft:
    """A card being measured: figures put in as they come, the card made at the end (with a
    reason for every figure left out). Used by :func:`~nbmodels.bench.run.benchmark`."""

    def __init__(self, model: str, backend: str, *, repeats: int, prompt_tokens: int, generate_tokens: int) -> None:  # fmt: skip
        self.model, self.backend = model, backend
        self.repeats, self.prompt_tokens, self.generate_tokens = repeats, prompt_tokens, generate_tokens  # fmt: skip
        self.values: dict[str, Any] = {}
        self.samples: dict[str, list[float]] = {}
        self.not_measured: dict[str, str] = {}
        self.details: dict[str, Any] = {}
        self.configuration: dict[str, Any] = {}
        self.machine: dict[str, Any] = {}
        self.version: int | None = None
        self.error: str | None = None

    def put(self, name: str, value: Any) -> None:
        self.values[name] = value
        self.not_measured.pop(name, None)

    def series(self, name: str, values: Sequence[float], *, wanted: int) -> None:
        """``values`` of one figure's repeats: the mean and the sample standard deviation when
        all ``wanted`` repeats ran; fewer are kept in ``samples`` and the figure left out."""
        self.samples[name] = [float(v) for v in values]
        if len(values) < wanted or not values:
            self.miss(name, f"{len(values)} of {wanted} repeats ran (kept in samples)")
            return
        self.put(name, statistics.fmean(values))
        if name in SPREADS:
            self.values[SPREADS[name]] = statistics.stdev(values) if len(values) > 1 else None

    def miss(self, name: str, why: str) -> None:
        """``name`` was not measured, because ``why`` (the first reason given is kept)."""
        if self.values.get(name) is None:
            self.not_measured.setdefault(name, why)

    def missing(self) -> list[str]:
        return [f for f in FIGURES if self.values.get(f) is None and f not in self.not_measured]

    def card(self) -> BenchmarkCard:
        values = dict(self.values)
        for name, value in list(values.items()):  # a NaN is no figure (and not JSON)
            if not _finite(value):
                values[name] = None
                self.not_measured[name] = f"not a finite number ({value}): the model's outputs overflowed"  # fmt: skip
        for name in self.missing():
            self.not_measured[name] = f"not reached: {self.error}" if self.error else "not measured"
        ordered = {f: self.not_measured[f] for f in (*FIGURES, *sorted(self.not_measured)) if f in self.not_measured}  # fmt: skip
        return BenchmarkCard(
            model=self.model,
            backend=self.backend,
            configuration=dict(self.configuration),
            version=self.version,
            machine=dict(self.machine),
            repeats=self.repeats,
            prompt_tokens=int(self.prompt_tokens),
            generate_tokens=int(self.generate_tokens),
            prefill_tokens_per_s=values.get("prefill_tokens_per_s"),
            prefill_spread=values.get("prefill_spread"),
            decode_tokens_per_s=values.get("decode_tokens_per_s"),
            decode_spread=values.get("decode_spread"),
            ttft_s=values.get("ttft_s"),
            ttft_spread=values.get("ttft_spread"),
            load_s=values.get("load_s"),
            peak_load_bytes=_int(values.get("peak_load_bytes")),
            peak_generate_bytes=_int(values.get("peak_generate_bytes")),
            peak_bytes=_int(values.get("peak_bytes")),
            estimate_bytes=_int(values.get("estimate_bytes")),
            perplexity=values.get("perplexity"),
            perplexity_tokens=_int(values.get("perplexity_tokens")),
            perplexity_text=values.get("perplexity_text"),
            kl_divergence=values.get("kl_divergence"),
            top_token_agreement=values.get("top_token_agreement"),
            kl_tokens=_int(values.get("kl_tokens")),
            reference=values.get("reference"),
            samples={
                k: [float(x) for x in v if _finite(float(x))] for k, v in self.samples.items()
            },
            complete=self.error is None,
            not_measured=ordered,
            error=self.error,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            details=_plain(self.details),
        )


def _plain(value: Any) -> Any:
    """``value`` as JSON data: non-finite floats become None, other objects their text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
