"""The stand-in "inference" of the local Ollama server: deterministic toy text and vectors.

Nothing here is a language model. :func:`toy_completion` strings words from a fixed
vocabulary and from the prompt with a seeded random generator, so the same request gives
the same answer; it respects ``num_predict`` and ``stop`` the way Ollama does, which is
what a client-side test needs. :func:`toy_embedding` sums a pseudo-random vector per word
and normalises the sum, so texts that share words have close vectors.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "TOY_HEADER",
    "TOY_NOTE",
    "Completion",
    "count_tokens",
    "toy_completion",
    "toy_embedding",
]

#: What the server writes in the answers of models the toy answers for, in fields the real
#: ``ollama`` client keeps (its pydantic types drop unknown ones): ``thinking`` of generate
#: and chat, ``done_reason`` of embed (Ollama leaves it unset there), ``details.parent_model``
#: of tags, ps and show, and ``model_info["nbmodels.toy"]`` of show.
TOY_NOTE = "nbmodels toy stand-in: answers come from a seeded toy generator, not from a model"
#: The header of every answer about such models: their names.
TOY_HEADER = "X-Nbmodels-Toy"

_SENTENCE = (
    "the model answers with a short and friendly sentence about local language models "
    "running in a notebook kernel while the data stays on this machine every word here "
    "comes from a seeded toy generator so tests can rely on it and nothing is learned"
)
_VOCAB = tuple(_SENTENCE.split())
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


def _seed(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def count_tokens(text: str) -> int:
    """A rough token count (words and punctuation), at least 1 for any non-empty text."""
    return len(re.findall(r"\w+|[^\w\s]", text or ""))


@dataclass(frozen=True)
class Completion:
    tokens: list[str]  # pieces to stream, joined they are the text
    done_reason: str  # "stop" (natural end or a stop sequence) or "length" (num_predict)

    @property
    def text(self) -> str:
        return "".join(self.tokens)


def toy_completion(
    model: str,
    prompt: str,
    *,
    seed: int | None = None,
    temperature: float | None = None,
    top_k: int | None = None,
    num_predict: int | None = None,
    stop: Sequence[str] = (),
) -> Completion:
    """Deterministic text for ``prompt``: the same inputs always give the same tokens.

    Without ``seed`` (or with ``temperature`` 0) the seed comes from the model and prompt.
    ``top_k`` limits the words drawn from; ``num_predict`` caps the number of tokens
    (negative: no cap); the text ends before the first ``stop`` sequence.
    """
    greedy = temperature is not None and temperature <= 0
    rng = random.Random(_seed(model, prompt) if seed is None or greedy else _seed(seed, prompt))
    words = list(dict.fromkeys([w.lower() for w in _WORD.findall(prompt)][:24] + list(_VOCAB)))
    rng.shuffle(words)
    if top_k and top_k > 0:
        words = words[: max(1, top_k)]
    natural = rng.randint(12, 40)
    tokens: list[str] = []
    for i in range(natural):
        word = rng.choice(words)
        if i == 0:
            word = word.capitalize()
        tokens.append(word if i == 0 else " " + word)
        if i and i % 9 == 8 and i + 1 < natural:
            tokens.append(",")
    tokens.append(".")
    reason = "stop"
    if num_predict is not None and 0 <= num_predict < len(tokens):
        tokens, reason = tokens[:num_predict], "length"
    text = "".join(tokens)
    cuts = [text.find(s) for s in stop if s and s in text]
    if cuts:
        end = min(cuts)
        kept: list[str] = []
        used = 0
        for token in tokens:
            if used + len(token) <= end:
                kept.append(token)
                used += len(token)
            else:
                if end > used:
                    kept.append(token[: end - used])
                break
        tokens, reason = kept, "stop"
    return Completion(tokens=tokens, done_reason=reason)


def toy_embedding(text: str, dim: int) -> list[float]:
    """A unit vector of ``dim`` floats: the normalised sum of one random vector per word."""
    words = [w.lower() for w in re.findall(r"\w+", text or "")] or [""]
    total = [0.0] * dim
    for word in words:
        rng = random.Random(_seed("embed", word))
        for i in range(dim):
            total[i] += rng.gauss(0.0, 1.0)
    norm = math.sqrt(sum(x * x for x in total)) or 1.0
    return [x / norm for x in total]
