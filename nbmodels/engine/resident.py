"""The process's resident memory: read now, sampled for its peak while a model loads, and
given back to the system after an unload."""

from __future__ import annotations

import gc
import threading


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


class _PeakSampler:
    """The process's peak resident memory while a block runs (sampled every 5 ms: VmHWM
    cannot be reset per block without resetting it for the whole process)."""

    def __init__(self) -> None:
        self.base = _rss()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="nbmodels-peak")

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __enter__(self) -> _PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())


def _free_memory() -> None:
    """Return freed memory to the system: glibc keeps freed arenas otherwise, and an unload
    would show no drop."""
    from .loader import trim_heap

    gc.collect()
    trim_heap()
