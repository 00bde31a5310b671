"""Benchmark cards: what a model measures on this machine, kept in the registry.

    >>> card = nbmodels.benchmark("org/name", quantization="8bit")
    >>> card.decode_tokens_per_s, card.decode_spread, card.repeats
    >>> card.perplexity, card.kl_divergence, card.top_token_agreement
    >>> card.to_json()

The room's modules, each one concept:

- :mod:`.card`: :class:`~.card.BenchmarkCard` (the record: every figure as mean and spread
  over repeats, the raw samples, what was not measured and why) and
  :class:`~.card.BenchEvent` (progress);
- :mod:`.run`: :func:`~.run.benchmark`: load, measure, unload, store the card whole;
- :mod:`.speed`: prefill and decode tokens/s and time to first token (llama-bench's pp/tg),
  and the peak resident memory of a phase;
- :mod:`.perplexity`: token perplexity over the bundled text in non-overlapping windows;
- :mod:`.quality`: KL divergence and top-token agreement against the unquantized model
  (llama.cpp's ``--kl-divergence`` convention);
- :mod:`.ollama_card`: the same card for an ``ollama:<name>`` model, from Ollama's timings;
- :mod:`.text`: the bundled slice of wikitext-2 (``data/README.md``: source and licence).

Nothing here imports torch or transformers at import time.
"""

from __future__ import annotations
