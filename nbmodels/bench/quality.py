"""How far a quantized model's next-token distributions are from the same model unquantized,
llama.cpp's ``--kl-divergence`` convention:

- the reference (same weights, no quantization, float32) and the model read the same windows
  of the same tokens (:mod:`.perplexity`'s windows);
- per token, KL(P_reference || P_model) = sum over the vocabulary of
  p_ref * (log p_ref - log p_model), in nats, computed in float64; the card reports the mean
  over tokens (llama.cpp's "Mean KLD"), with its standard error, median, 99th percentile and
  maximum in the details;
- "same top token" (llama.cpp's "Same top p"): the fraction of tokens where both put the
  highest probability on the same next token.

The two models are never loaded at once by the benchmark: the model's log-probabilities of
those windows are kept (float32; float16 when they would take more than a quarter of the
free memory, said in the details), the model unloaded, then the reference loaded and
compared window by window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["KLAccumulator", "KLResult"]

_ROWS = 256  # rows compared at a time in float64 (a window of a 150k vocabulary stays small)


@dataclass(frozen=True)
class KLResult:
    """The comparison over ``tokens`` tokens (see the module's docstring)."""

    kl_divergence: float
    kl_stderr: float
    kl_median: float
    kl_p99: float
    kl_max: float
    top_token_agreement: float
    agreement_stderr: float
    tokens: int
    reference_perplexity: float  # of the reference over the same tokens
    model_perplexity: float  # of the model over the same tokens

    def details(self) -> dict[str, float]:
        return {
            "kl_stderr": self.kl_stderr,
            "kl_median": self.kl_median,
            "kl_p99": self.kl_p99,
            "kl_max": self.kl_max,
            "top_token_agreement_stderr": self.agreement_stderr,
            "reference_perplexity": self.reference_perplexity,
            "model_perplexity": self.model_perplexity,
        }


@dataclass
class KLAccumulator:
    """Per-token KL divergences and top-token agreements, window by window."""

    kl: list[Any] = field(default_factory=list)  # float64 tensors, one per window
    agree: list[Any] = field(default_factory=list)
    ref_nll: float = 0.0
    model_nll: float = 0.0

    def add(self, reference: Any, model: Any, targets: Any) -> None:
        """Compare one window: ``reference`` and ``model`` are log-probabilities [n, vocab]
        of the same positions, ``targets`` the tokens that followed."""
        if reference.shape != model.shape:
            raise ValueError(
                "the reference and the model disagree on the window's shape "
                f"({tuple(reference.shape)} vs {tuple(model.shape)}): their tokenizers or "
                "vocabularies differ"
            )
        for i in range(0, reference.shape[0], _ROWS):
            r = reference[i : i + _ROWS].double()
            m = model[i : i + _ROWS].double()
            kl = (r.exp() * (r - m)).sum(dim=-1).clamp_min(0.0)  # >= 0; rounding can dip below
            self.kl.append(kl.cpu())
            self.agree.append((r.argmax(dim=-1) == m.argmax(dim=-1)).cpu())
            t = targets[i : i + _ROWS, None].to(r.device)
            self.ref_nll += float(-r.gather(1, t).sum())
            self.model_nll += float(-m.gather(1, t).sum())

    def result(self) -> KLResult:
        import torch

        kl = torch.cat(self.kl) if self.kl else torch.zeros(0, dtype=torch.float64)
        agree = torch.cat(self.agree).double() if self.agree else torch.zeros(0, dtype=torch.float64)  # fmt: skip
        n = int(kl.shape[0])
        if n == 0:
            raise ValueError("no tokens were compared")
        stderr = float(kl.std() / math.sqrt(n)) if n > 1 else 0.0
        p = float(agree.mean())
        return KLResult(
            kl_divergence=float(kl.mean()),
            kl_stderr=stderr,
            kl_median=float(kl.median()),
            kl_p99=float(torch.quantile(kl, 0.99)) if n > 1 else float(kl[0]),
            kl_max=float(kl.max()),
            top_token_agreement=p,
            agreement_stderr=math.sqrt(p * (1 - p) / n),
            tokens=n,
            reference_perplexity=math.exp(self.ref_nll / n),
            model_perplexity=math.exp(self.model_nll / n),
        )
