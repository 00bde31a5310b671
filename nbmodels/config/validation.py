"""Is a configuration usable? :func:`validate` reports every error with a suggestion and
the risky settings; ``configure`` refuses a value of the wrong type at once.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..errors import ConfigurationError
from ..types import ModelConfiguration
from .stored import QUANTIZATIONS, effective_quantization

__all__ = ["DTYPES", "Issue", "Validation", "validate"]

DTYPES = ("auto", "float32", "float16", "bfloat16")
_ATTENTION = ("eager", "sdpa", "flash_attention_2", "flex_attention")
#: the True/False fields (``do_sample`` may be None too)
_SWITCHES = (
    "enable_streaming",
    "enable_caching",
    "use_half_precision",
    "use_quantization",
    "do_sample",
    "double_quant",
    "trust_remote_code",
    "safetensors_only",
)


@dataclass(frozen=True)
class Issue:
    """One problem with a configuration: which field, what is wrong, what to do."""

    field: str
    message: str
    suggestion: str
    #: a value of the wrong type or not one of the choices (``configure`` refuses these at
    #: once; a number out of range waits for ``validate``)
    wrong_type: bool = dataclasses.field(default=False, compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.field}: {self.message} ({self.suggestion})"


@dataclass(frozen=True)
class Validation:
    """What :func:`validate` found: ``errors`` stop a load, ``warnings`` are risks to know."""

    errors: tuple[Issue, ...] = ()
    warnings: tuple[Issue, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_errors(self) -> None:
        """ConfigurationError listing every error with its suggestion (nothing when ok)."""
        if self.errors:
            raise ConfigurationError(
                "The configuration is not valid: " + "; ".join(str(e) for e in self.errors) + "."
            )

    def __repr__(self) -> str:
        state = "ok" if self.ok else f"{len(self.errors)} errors"
        return f"<Validation {state}, {len(self.warnings)} warnings>"


def validate(cfg: ModelConfiguration) -> Validation:
    """Every error (with a suggestion) and risky setting in ``cfg``; never raises for bad
    values, only reports them."""
    errors: list[Issue] = []
    warnings: list[Issue] = []

    def number(
        name: str, low: float | None, high: float | None, hint: str, *, integer: bool = False
    ) -> None:
        value = getattr(cfg, name)
        kinds = (int,) if integer else (int, float)
        if (
            isinstance(value, bool)
            or not isinstance(value, kinds)
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            errors.append(Issue(name, f"{value!r} is not a number", hint, wrong_type=True))
        elif (low is not None and value < low) or (high is not None and value > high):
            errors.append(Issue(name, f"{value!r} is out of range", hint))

    number("temperature", 0.0, 5.0, "use 0 for greedy decoding, 0.7 for chat, at most about 2")
    number("top_p", 0.0, 1.0, "use a value in (0, 1], e.g. 0.9; 1.0 turns it off")
    if isinstance(cfg.top_p, int | float) and not isinstance(cfg.top_p, bool) and cfg.top_p == 0:
        errors.append(Issue("top_p", "0 keeps no token at all", "use a value in (0, 1], e.g. 0.9"))
    number("top_k", 0, None, "use 0 to turn it off, or e.g. 50", integer=True)
    number("repetition_penalty", 0.0, None, "use 1.0 for none, 1.1 to discourage repeats")
    if isinstance(cfg.repetition_penalty, int | float) and cfg.repetition_penalty == 0:
        errors.append(Issue("repetition_penalty", "0 divides by zero", "use 1.0 for none"))
    number("num_beams", 1, None, "use 1 (no beam search) or a small number such as 4", integer=True)
    number(
        "max_tokens", 1, None, "use the number of new tokens to generate, e.g. 256", integer=True
    )
    if cfg.max_context_length is not None:
        number(
            "max_context_length", 1, None, "use the model's context length, or None", integer=True
        )
        if (
            isinstance(cfg.max_tokens, int)
            and isinstance(cfg.max_context_length, int)
            and cfg.max_tokens > cfg.max_context_length
        ):
            errors.append(
                Issue(
                    "max_tokens",
                    f"{cfg.max_tokens} new tokens do not fit a context of {cfg.max_context_length}",
                    f"use at most {cfg.max_context_length} minus the prompt's length",
                )
            )
    if cfg.seed is not None and (
        isinstance(cfg.seed, bool) or not isinstance(cfg.seed, int) or cfg.seed < 0
    ):
        wrong = isinstance(cfg.seed, bool) or not isinstance(cfg.seed, int)
        errors.append(
            Issue("seed", f"{cfg.seed!r} is not a non-negative integer", "use e.g. 0, or None",
                  wrong_type=wrong)
        )  # fmt: skip
    for name in _SWITCHES:
        value = getattr(cfg, name)
        if not isinstance(value, bool) and not (name == "do_sample" and value is None):
            hint = "use True, False or None" if name == "do_sample" else "use True or False"
            errors.append(Issue(name, f"{value!r} is not True or False", hint, wrong_type=True))
    if cfg.enable_streaming and isinstance(cfg.num_beams, int) and cfg.num_beams > 1:
        errors.append(
            Issue(
                "num_beams",
                "streaming cannot follow beam search (the best beam is known only at the end)",
                "set num_beams=1, or enable_streaming=False",
            )
        )
    if (
        cfg.do_sample is False
        and isinstance(cfg.temperature, int | float)
        and cfg.temperature not in (0, 1.0)
    ):
        warnings.append(
            Issue(
                "temperature",
                "is ignored without sampling",
                "set do_sample=True or leave temperature",
            )
        )
    for name, allowed in (("dtype", DTYPES), ("compute_dtype", (None, *DTYPES[1:]))):
        value = getattr(cfg, name)
        if value not in allowed:
            close = difflib.get_close_matches(str(value), [str(a) for a in allowed if a], n=1)
            hint = (
                f"did you mean {close[0]!r}?"
                if close
                else f"use one of {', '.join(map(str, allowed))}"
            )
            errors.append(Issue(name, f"{value!r} is not a dtype", hint, wrong_type=True))
    quant = effective_quantization(cfg)
    if quant not in QUANTIZATIONS:
        errors.append(
            Issue(
                "quantization",
                f"{quant!r} is not known",
                f"use one of {', '.join(QUANTIZATIONS)}",
                wrong_type=True,
            )
        )
    elif quant != "none" and importlib.util.find_spec("bitsandbytes") is None:
        errors.append(
            Issue(
                "quantization",
                f"{quant} needs bitsandbytes, which is not installed",
                "pip install bitsandbytes, or quantization='none'",
            )
        )
    if cfg.double_quant and quant not in ("nf4", "fp4"):
        errors.append(
            Issue(
                "double_quant",
                "applies to 4-bit only",
                "set quantization='nf4', or double_quant=False",
            )
        )
    if cfg.attn_implementation is not None and cfg.attn_implementation not in _ATTENTION:
        errors.append(
            Issue(
                "attn_implementation",
                f"{cfg.attn_implementation!r} is not known",
                f"use one of {', '.join(_ATTENTION)}, or None",
                wrong_type=True,
            )
        )
    if cfg.trust_remote_code:
        warnings.append(
            Issue(
                "trust_remote_code",
                "runs Python code from the model's repository on this machine",
                "keep it False unless you have read that code",
            )
        )
    if not cfg.safetensors_only:
        warnings.append(
            Issue(
                "safetensors_only",
                "allows pickle (.bin) weights, which can run code when loaded",
                "keep it True; most models ship safetensors",
            )
        )
    if not isinstance(cfg.stop_sequences, tuple | list) or not all(
        isinstance(s, str) and s for s in cfg.stop_sequences
    ):
        errors.append(
            Issue(
                "stop_sequences",
                "must be a list of non-empty strings",
                'use e.g. ["</s>"]',
                wrong_type=True,
            )
        )
    return Validation(tuple(errors), tuple(warnings))


def _refuse_wrong_types(cfg: ModelConfiguration, fields: Iterable[str] | None = None) -> None:
    """ConfigurationError for each value of ``cfg`` (of ``fields``, when given) that has the
    wrong type or is not one of the choices, with :func:`validate`'s suggestion. Numbers out
    of range are left to ``validate``."""
    names = None if fields is None else set(fields)
    if names is not None and names & {"use_quantization", "quantization_type"}:
        names.add("quantization")  # the seed's fields make the effective quantization too
    wrong = [
        issue
        for issue in validate(cfg).errors
        if issue.wrong_type and (names is None or issue.field in names)
    ]
    if wrong:
        raise ConfigurationError("Not a usable value: " + "; ".join(str(i) for i in wrong) + ".")
