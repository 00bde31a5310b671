"""The machine's real hardware: CPU cores, RAM (and a container's memory limit), GPUs and
their free memory, whether bitsandbytes works here.

(The module is ``machine``, not ``hardware``: a submodule named like the function
``nbmodels.hardware`` would replace that function on the package once imported.)

    >>> hw = nbmodels.hardware()
    >>> hw.ram_available_bytes, [g.name for g in hw.gpus], hw.best_device
    >>> nbmodels.hardware(probe_bitsandbytes=True).bitsandbytes   # runs one tiny quantization

Read with psutil and torch (never hand-parsed ``/proc``); the one file read by hand is the
cgroup's ``memory.max``, because psutil reports the host's memory, and inside a container the
limit is what decides whether a model fits. torch and bitsandbytes load only here, and only
when installed. Feeds the configuration (optimise for speed / memory / quality) and the
memory estimate (issue "Configuration").
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["GPU", "Hardware", "hardware"]

_CGROUP_LIMITS = (
    Path("/sys/fs/cgroup/memory.max"),  # cgroup v2
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),  # cgroup v1
)


@dataclass(frozen=True)
class GPU:
    """One accelerator torch can use."""

    index: int
    name: str
    kind: str  # "cuda" (NVIDIA and ROCm builds) or "mps" (Apple)
    total_bytes: int | None
    free_bytes: int | None
    compute_capability: tuple[int, int] | None = None

    @property
    def device(self) -> str:
        return f"{self.kind}:{self.index}" if self.kind == "cuda" else self.kind


@dataclass(frozen=True)
class Hardware:
    """What this machine offers a model, at the moment it was read."""

    cpu_count: int  # logical cores
    cpu_physical: int | None
    ram_total_bytes: int
    ram_available_bytes: int
    ram_limit_bytes: int | None  # a container's (cgroup) limit, when lower than the RAM
    gpus: tuple[GPU, ...] = ()
    torch_version: str | None = None
    bitsandbytes_installed: bool = False
    bitsandbytes: bool | None = None  # works here (None: not probed)
    bitsandbytes_note: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def usable_ram_bytes(self) -> int:
        """Memory a new model can take now: available RAM, capped by the container's limit."""
        if self.ram_limit_bytes is None:
            return self.ram_available_bytes
        return min(self.ram_available_bytes, self.ram_limit_bytes)

    @property
    def best_device(self) -> str:
        """``cuda:N`` of the GPU with the most free memory, else ``mps``, else ``cpu``."""
        cuda = [g for g in self.gpus if g.kind == "cuda"]
        if cuda:
            return max(cuda, key=lambda g: g.free_bytes or 0).device
        return "mps" if any(g.kind == "mps" for g in self.gpus) else "cpu"

    def __repr__(self) -> str:
        gpus = ", ".join(
            f"{g.device} {g.name} {_gib(g.free_bytes)}/{_gib(g.total_bytes)} free"
            for g in self.gpus
        )
        bnb = {
            True: "works",
            False: "does not work",
            None: "installed" if self.bitsandbytes_installed else "absent",
        }[self.bitsandbytes]
        return (
            f"<Hardware {self.cpu_count} cores, RAM {_gib(self.usable_ram_bytes)} usable of "
            f"{_gib(self.ram_total_bytes)}, GPUs: {gpus or 'none'}, bitsandbytes {bnb}>"
        )

    def _repr_html_(self) -> str:
        import html

        rows = [
            (
                "CPU",
                f"{self.cpu_count} logical cores"
                + (f" ({self.cpu_physical} physical)" if self.cpu_physical else ""),
            ),
            ("RAM", f"{_gib(self.ram_available_bytes)} available of {_gib(self.ram_total_bytes)}"),
        ]
        if self.ram_limit_bytes is not None:
            rows.append(("container limit", _gib(self.ram_limit_bytes)))
        for g in self.gpus or ():
            rows.append((g.device, f"{g.name}: {_gib(g.free_bytes)} free of {_gib(g.total_bytes)}"))
        if not self.gpus:
            rows.append(
                (
                    "GPU",
                    "none (torch sees no CUDA or MPS device)"
                    if self.torch_version
                    else "torch not installed",
                )
            )
        rows.append(("torch", self.torch_version or "not installed"))
        bnb = (
            "not probed"
            if self.bitsandbytes is None
            else ("works" if self.bitsandbytes else "does not work")
        )
        rows.append(
            (
                "bitsandbytes",
                f"{bnb} {self.bitsandbytes_note}".strip()
                if self.bitsandbytes_installed
                else "not installed",
            )
        )
        body = "".join(
            f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in rows
        )
        return (
            f"<b>hardware</b> (best device: {html.escape(self.best_device)})<table>{body}</table>"
        )


def _gib(n: int | None) -> str:
    return "?" if n is None else f"{n / 2**30:.1f} GiB"


def _cgroup_limit(total: int) -> int | None:
    for path in _CGROUP_LIMITS:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < total:
            return int(text)
    return None


def _gpus(notes: list[str]) -> tuple[tuple[GPU, ...], str | None]:
    if importlib.util.find_spec("torch") is None:
        return (), None
    import torch

    found: list[GPU] = []
    try:
        if torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                props = torch.cuda.get_device_properties(i)
                try:
                    free, total = torch.cuda.mem_get_info(i)
                except Exception as exc:  # a busy or broken device still shows, unmeasured
                    notes.append(f"cuda:{i}: free memory unknown ({type(exc).__name__})")
                    free, total = None, int(props.total_memory)
                found.append(
                    GPU(
                        i,
                        str(props.name),
                        "cuda",
                        int(total),
                        None if free is None else int(free),
                        (int(props.major), int(props.minor)),
                    )
                )
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            found.append(GPU(0, "Apple GPU", "mps", None, None))
    except Exception as exc:  # a driver problem: say it, report no GPU
        notes.append(f"GPUs could not be read: {type(exc).__name__}: {exc}")
    return tuple(found), str(torch.__version__)


def _probe_bitsandbytes() -> tuple[bool, str]:
    """Run one tiny 4-bit quantization on CPU (or the first GPU): whether bitsandbytes works."""
    try:
        import bitsandbytes.functional as bnbf
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        weights = torch.randn(64, 64, device=device)
        packed, state = bnbf.quantize_4bit(weights, quant_type="nf4")
        restored = bnbf.dequantize_4bit(packed, state, quant_type="nf4")
        error = float((restored - weights).abs().mean())
        if not error < 0.5:
            return False, f"(4-bit round trip error {error:.3f} on {device})"
        import bitsandbytes

        return True, f"({bitsandbytes.__version__}, 4-bit on {device})"
    except Exception as exc:
        return False, f"({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"


def hardware(*, probe_bitsandbytes: bool = False) -> Hardware:
    """The machine as it is now. ``probe_bitsandbytes=True`` also runs one tiny 4-bit
    quantization to say whether bitsandbytes works here (it loads torch and bitsandbytes)."""
    import psutil

    memory = psutil.virtual_memory()
    notes: list[str] = []
    gpus, torch_version = _gpus(notes)
    installed = importlib.util.find_spec("bitsandbytes") is not None
    works: bool | None = None
    note = ""
    if probe_bitsandbytes and installed and torch_version:
        works, note = _probe_bitsandbytes()
    elif probe_bitsandbytes:
        works, note = False, "(not installed)" if not installed else "(torch not installed)"
    return Hardware(
        cpu_count=os.cpu_count() or 1,
        cpu_physical=psutil.cpu_count(logical=False),
        ram_total_bytes=int(memory.total),
        ram_available_bytes=int(memory.available),
        ram_limit_bytes=_cgroup_limit(int(memory.total)),
        gpus=gpus,
        torch_version=torch_version,
        bitsandbytes_installed=installed,
        bitsandbytes=works,
        bitsandbytes_note=note,
        notes=tuple(notes),
    )
