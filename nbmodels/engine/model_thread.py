"""The one thread every model call runs on (loads, generation, forward passes), and the
hushing of bitsandbytes' per-layer cast note there."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

# Measured here (2 cores, a 100M Llama): generate in a second thread while the main thread
# had run torch runs at 0.68x, because a second OpenMP team competes for the cores; with
# every load and generation in one thread, streaming (which needs generate in a thread) runs
# at full speed, as plain generate does. So all model work goes through this one thread.
_TORCH_LOCK = threading.Lock()
_TORCH: Any = None


def _torch_thread() -> Any:
    global _TORCH
    with _TORCH_LOCK:
        if _TORCH is None:
            from concurrent.futures import ThreadPoolExecutor

            _TORCH = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbmodels-torch")
        return _TORCH


_BNB_CAST_NOTE = "MatMul8bitLt: inputs will be cast"


class _OnceFilter:
    """A logging filter that lets bitsandbytes' cast note through once per process and drops
    its repeats: bitsandbytes 0.50 logs it (``logger.warning``) for every 8-bit layer on every
    forward pass, hundreds of identical lines per reply in a notebook cell."""

    def __init__(self) -> None:
        self.seen = False

    def filter(self, record: Any) -> bool:
        if not str(record.msg).startswith(_BNB_CAST_NOTE):
            return True
        first, self.seen = not self.seen, True
        return first


_BNB_FILTER = _OnceFilter()


def _hush_bnb_cast_note() -> None:
    """Install :class:`_OnceFilter` on bitsandbytes' logger (once; logging's filters hold
    across cells, unlike the warnings filters a kernel resets)."""
    import logging

    log = logging.getLogger("bitsandbytes.autograd._functions")
    if _BNB_FILTER not in log.filters:
        log.addFilter(_BNB_FILTER)


def _quietly(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn`` without the same note from bitsandbytes versions that give it as a warning
    (``warnings.warn``) rather than a log record; a warnings filter set once at load does not
    hold in a kernel, which resets the filters per cell, so it is added before each call.

    Added, never restored: ``warnings.catch_warnings`` swaps the process-wide filter list, so
    from this thread it would undo the filters a notebook cell (or a ``pytest.warns``) set on
    the main thread while a model call ran. Adding the same filter again replaces it in place."""
    import warnings

    warnings.filterwarnings("ignore", message=".*" + _BNB_CAST_NOTE)
    return fn(*args, **kwargs)


def _on_torch_thread(
    fn: Any, *args: Any, stop: threading.Event | None = None, **kwargs: Any
) -> Any:
    """Run ``fn`` on the model thread and wait for it; Ctrl-C while waiting sets ``stop``
    (generation ends within a token) and re-raises once it has."""
    if threading.current_thread().name.startswith("nbmodels-torch"):
        return fn(*args, **kwargs)
    future = _torch_thread().submit(_quietly, fn, *args, **kwargs)
    try:
        return future.result()
    except KeyboardInterrupt:
        if stop is not None:
            stop.set()
        with contextlib.suppress(BaseException):
            future.result()
        raise
