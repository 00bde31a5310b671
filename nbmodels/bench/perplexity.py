"""Token perplexity of a causal model over a text: exp(mean negative log-likelihood of every
token it predicts).

The token stream (the text tokenized once, no special tokens) is cut into non-overlapping
windows; each window is one forward pass. Where the tokenizer has a start token (BOS, else
its end-of-text token, as lm-evaluation-harness's rolling log-likelihood does), each window
is that token followed by ``window - 1`` tokens of the text, and every token of the text is
scored, the first of each window conditioned on the start token alone. Without one, a window
is ``window`` tokens of the text and its first token is not scored. Log-probabilities are
``log_softmax`` of the float32 logits; the sum of negative log-likelihoods is kept in float64.

    >>> plan = windows(len(ids), limit=32768, window=1024, prefix=tok.bos_token_id)
    >>> result = perplexity(model, ids, plan, prefix=tok.bos_token_id, stop=event)
    >>> result.perplexity, result.tokens
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .speed import Stopped, _accepts

__all__ = ["PerplexityResult", "describe", "perplexity", "window_input", "window_logprobs", "windows"]  # fmt: skip

Window = tuple[int, int]  # [start, end) in the token stream


def windows(available: int, *, limit: int, window: int, prefix: int | None) -> list[Window]:
    """The windows over the first ``limit`` tokens of a stream of ``available``: ``window``
    tokens per forward pass, the start token included when there is one."""
    chunk = window - 1 if prefix is not None else window
    if chunk < 1 or (prefix is None and chunk < 2):
        raise ValueError(f"a window of {window} tokens scores nothing")
    end = min(limit, available)
    plan = [(s, min(s + chunk, end)) for s in range(0, end, chunk)]
    if prefix is None:  # a window of one token scores nothing
        plan = [(s, e) for s, e in plan if e - s >= 2]
    return plan


def scored(plan: Sequence[Window], prefix: int | None) -> int:
    """How many tokens ``plan`` scores."""
    return sum(e - s - (0 if prefix is not None else 1) for s, e in plan)


def window_input(ids: Sequence[int], w: Window, prefix: int | None) -> list[int]:
    """The tokens of one forward pass: the start token (if any), then the window's tokens."""
    return ([prefix] if prefix is not None else []) + list(ids[w[0] : w[1]])


def window_logprobs(model: Any, tokens: Sequence[int]) -> tuple[Any, Any]:
    """(log-probabilities [n-1, vocab] in float32, the tokens they predict [n-1]) of one
    forward pass over ``tokens``."""
    import torch

    x = torch.tensor([list(tokens)], device=model.device)
    kwargs: dict[str, Any] = {}  # one sequence, nothing padded: no attention mask
    if _accepts(model, "use_cache"):
        kwargs["use_cache"] = False
    with torch.inference_mode():
        logits = model(input_ids=x, **kwargs).logits[0, :-1].float()
        return torch.log_softmax(logits, dim=-1), x[0, 1:]


@dataclass
class PerplexityResult:
    """The perplexity of a pass, with the sums it came from (and per window)."""

    nll: float = 0.0  # sum of negative log-likelihoods, nats
    tokens: int = 0  # tokens scored
    window_nll: list[float] = field(default_factory=list)  # mean per window
    kept: dict[Window, Any] = field(default_factory=dict)  # log-probabilities asked to keep

    @property
    def perplexity(self) -> float:
        return math.exp(self.nll / self.tokens) if self.tokens else math.nan


def perplexity(model: Any, ids: Sequence[int], plan: Sequence[Window], *, prefix: int | None,
               stop: threading.Event, keep: set[Window] | frozenset[Window] = frozenset(),
               keep_dtype: Any = None, result: PerplexityResult | None = None,
               on_window: Callable[[int], None] = lambda i: None) -> PerplexityResult:  # fmt: skip
    """Perplexity of ``model`` over the windows ``plan`` of ``ids``; the log-probabilities of
    the windows in ``keep`` are kept (in ``keep_dtype``, default float32) for the KL
    divergence. ``result``: where the sums go (what was scored before a stop stays there)."""
    out = result if result is not None else PerplexityResult()
    for i, w in enumerate(plan):
        if stop.is_set():
            raise Stopped
        lp, targets = window_logprobs(model, window_input(ids, w, prefix))
        nll = float(-lp.gather(1, targets[:, None]).double().sum())
        out.nll += nll
        out.tokens += int(targets.shape[0])
        out.window_nll.append(nll / max(1, int(targets.shape[0])))
        if w in keep:
            out.kept[w] = lp if keep_dtype is None else lp.to(keep_dtype)
        del lp
        on_window(i + 1)
    return out


def describe(text_name: str, plan: Sequence[Window], window: int, prefix_token: str | None) -> str:
    """One line for the card: which text, how many tokens, which windows, the start token."""
    n = scored(plan, None if prefix_token is None else 0)
    how = (
        f"each after {prefix_token!r}, every token scored"
        if prefix_token is not None
        else "no start token: the first token of each window is not scored"
    )
    return f"{text_name}: {n:,} tokens scored in {len(plan)} non-overlapping windows of {window} tokens ({how})"  # fmt: skip
