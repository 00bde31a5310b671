"""What a generation hands back: a :class:`Response` (text, token counts, timings), and the
streamer that passes text on as soon as it decodes."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

__all__ = ["Response"]


@dataclass(frozen=True)
class Response:
    """One answer: the text and what it cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    time_to_first_token: float | None
    finish_reason: str = "length"  # "stop" (end of text or a stop sequence), "length", "stopped"

    @property
    def tokens_per_second(self) -> float | None:
        return self.completion_tokens / self.seconds if self.seconds > 0 else None

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        tps = self.tokens_per_second
        return (
            f"<Response {self.completion_tokens} tokens, {tps:.1f} tokens/s, {self.finish_reason}: "
            f"{self.text[:60]!r}{'…' if len(self.text) > 60 else ''}>"
            if tps is not None
            else f"<Response {self.text[:60]!r}>"
        )


@functools.cache
def _streamer_class() -> Any:
    from transformers import TextIteratorStreamer

    class Streamer(TextIteratorStreamer):  # type: ignore[misc]
        """transformers' TextIteratorStreamer, except that text is handed on as soon as it
        decodes. Its own heuristic holds symbols back until the next space, so output with
        no spaces (code, some scripts, a model of random weights) shows nothing until the
        end. Only an incomplete UTF-8 character (a trailing U+FFFD) waits here."""

        def put(self, value: Any) -> None:
            if len(value.shape) > 1:
                value = value[0]
            if self.skip_prompt and self.next_tokens_are_prompt:
                self.next_tokens_are_prompt = False
                return
            self.token_cache.extend(value.tolist())
            text = str(self.tokenizer.decode(self.token_cache, **self.decode_kwargs))
            stable = len(text)
            if text.endswith("\ufffd"):  # a character still coming: at most 4 bytes' tokens
                head = str(self.tokenizer.decode(self.token_cache[:-3], **self.decode_kwargs))
                stable = max(len(text.rstrip("\ufffd")), len(head) if text.startswith(head) else 0)
            if stable > self.print_len:
                printable = text[self.print_len : stable]
                self.print_len = stable
                self.on_finalized_text(printable)

    return Streamer


def _Streamer(*args: Any, **kwargs: Any) -> Any:
    return _streamer_class()(*args, **kwargs)
